//! The metrics endpoint, on hyper: `GET /metrics` answers the exposition
//! text (`crate::metrics`), anything else 404. Bounded so that clients can
//! never hold up the daemon: at most [`MAX_CONNECTIONS`] at once (more are
//! closed on accept), request headers within [`HEADER_TIMEOUT`], a whole
//! connection within [`CONNECTION_TIMEOUT`], one request per connection.
//! The counters are read on the blocking pool, off the event loop that
//! watches addresses and signals.

use std::{convert::Infallible, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Bytes, header, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tracing::warn;

use super::Counters;
use crate::{
    metrics::{self, Scrape},
    pins::PinDir,
    stats, status,
};

/// Connections served at once; more are closed as they arrive.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a client has to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a connection may take, request and answer.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest request head read.
const MAX_REQUEST_BYTES: usize = 16 << 10;
/// Counter reads running at once on the blocking pool (each may outlive
/// its connection's timeout; this bounds how many can pile up).
const MAX_READS: usize = 2;

/// Serve `listener` until the process ends.
pub async fn serve(listener: TcpListener, pins: PinDir, counters: Counters) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let reads = Arc::new(Semaphore::new(MAX_READS));
    loop {
        let sock = match listener.accept().await {
            Ok((sock, _)) => sock,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                warn!("metrics: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (pins, counters, reads) = (pins.clone(), counters.clone(), reads.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let service =
                service_fn(move |req| answer(req, pins.clone(), counters.clone(), reads.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BYTES)
                .keep_alive(false)
                .serve_connection(TokioIo::new(sock), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
        });
    }
}

fn text(code: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    pins: PinDir,
    counters: Counters,
    reads: Arc<Semaphore>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET || req.uri().path() != "/metrics" {
        return Ok(text(StatusCode::NOT_FOUND, PLAIN, "try /metrics\n".into()));
    }
    let Ok(permit) = reads.acquire_owned().await else {
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            PLAIN,
            "shutting down\n".into(),
        ));
    };
    let read = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let _permit = permit;
        let snap = stats::snapshot(&pins).map_err(|e| e.to_string())?;
        let status = status::read(&pins).map_err(|e| e.to_string())?;
        let daemon = counters.lock().expect("daemon counters").clone();
        metrics::encode(Scrape {
            snap,
            status,
            daemon,
        })
        .map_err(|e| format!("encoding the metrics: {e}"))
    })
    .await;
    Ok(match read {
        Ok(Ok(body)) => text(StatusCode::OK, metrics::CONTENT_TYPE, body),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, format!("{e}\n")),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            PLAIN,
            format!("reading the counters: {e}\n"),
        ),
    })
}
