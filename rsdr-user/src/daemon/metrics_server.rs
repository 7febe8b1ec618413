//! The metrics endpoint: `GET /metrics` answers the Prometheus text
//! exposition (`crate::metrics`), anything else 404.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Counters;
use crate::{metrics, pins::PinDir, stats, status};

/// Serve `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, pins: PinDir, counters: Counters) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(answer(sock, pins.clone(), counters.clone()));
    }
}

/// Read one request (up to 4 KiB, 5 s) and answer it.
async fn answer(mut sock: tokio::net::TcpStream, pins: PinDir, counters: Counters) {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf[n..])).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(k)) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let req = String::from_utf8_lossy(&buf[..n]);
    let path = req.split_whitespace().nth(1).unwrap_or("");
    let (code, body) =
        if req.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
            match (stats::snapshot(&pins), status::read(&pins)) {
                (Ok(snap), Ok(st)) => {
                    let c = counters.lock().expect("daemon counters").clone();
                    ("200 OK", metrics::render(&snap, &st, &c))
                }
                (Err(e), _) => ("500 Internal Server Error", format!("{e}\n")),
                (_, Err(e)) => ("500 Internal Server Error", format!("{e}\n")),
            }
        } else {
            ("404 Not Found", "try /metrics\n".to_string())
        };
    let resp = format!(
        "HTTP/1.1 {code}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
}
