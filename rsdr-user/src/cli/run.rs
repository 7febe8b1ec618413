use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use futures::StreamExt as _;
use rsdr_user::{
    addrs,
    config::{self, Config},
    metrics::{self, DaemonCounters},
    pins::PinDir,
    privilege::{self, Need},
    sd_notify, stats, status,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    signal::unix::{SignalKind, signal},
};
use tracing::{error, info, warn};

/// Run as a service: apply the configuration and keep it applied
///
/// Applies the file at start (failing if it cannot), then re-applies it on
/// SIGHUP and whenever the file changes (an invalid file is logged and the
/// running state kept), re-adds managed VIP addresses that something else
/// removed (watching netlink), forwards the datapath's log events to the
/// log (stderr; RSDR_LOG sets the level, e.g. RSDR_LOG=debug), and serves
/// Prometheus metrics if asked. On exit the filter stays in place. Tells
/// systemd it is ready (Type=notify) once the first apply is done.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr run
  rsdr run -c /etc/rsdr/rsdr.toml --metrics              # metrics on 127.0.0.1:9809
  rsdr run --metrics 127.0.0.1:9100")]
pub struct Args {
    /// Configuration file
    #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
    config: PathBuf,

    /// Serve Prometheus metrics on ADDR (127.0.0.1:9809 if given without a value)
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9809")]
    metrics: Option<SocketAddr>,

    /// How often to look at the file for changes, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RSDR_LOG").unwrap_or_else(|_| "info".into());
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

pub fn run(pin_flag: Option<&Path>, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let cfg = Config::load(&args.config)?;
    let pins = super::apply::pins_for(pin_flag, &cfg);
    pins.check_bpffs()?;
    init_logging();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(daemon(pins, cfg, args))
}

type Counters = Arc<Mutex<DaemonCounters>>;

async fn apply(
    pins: &PinDir,
    cfg: &Config,
    handle: &rtnetlink::Handle,
    counters: &Counters,
    why: &str,
) -> anyhow::Result<()> {
    let guard = pins.lock()?;
    let result = super::apply::apply_locked(pins, cfg, handle, false, &mut |l| {
        for line in l.lines() {
            info!("{why}: {line}");
        }
    })
    .await;
    drop(guard);
    let mut c = counters.lock().expect("counters");
    match result {
        Ok(0) => Ok(()),
        Ok(n) => {
            c.applies_total += 1;
            info!("{why}: applied {n} step(s) from {}", cfg.path.display());
            Ok(())
        }
        Err(e) => {
            c.apply_errors_total += 1;
            Err(e)
        }
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

async fn daemon(pins: PinDir, mut cfg: Config, args: Args) -> anyhow::Result<()> {
    let handle = addrs::connect()?;
    let counters: Counters = Arc::default();
    apply(&pins, &cfg, &handle, &counters, "start")
        .await
        .context("initial apply")?;
    if let Some(addr) = args.metrics {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding metrics to {addr}"))?;
        info!("serving metrics on http://{addr}/metrics");
        tokio::spawn(serve_metrics(listener, pins.clone(), counters.clone()));
    }
    tokio::spawn(forward_datapath_logs(pins.clone()));

    // Address removals, to put back managed VIPs someone else took away.
    let (mut conn, _, mut events) = rtnetlink::new_connection().context("netlink")?;
    let groups =
        rtnetlink::constants::RTMGRP_IPV4_IFADDR | rtnetlink::constants::RTMGRP_IPV6_IFADDR;
    rtnetlink::sys::AsyncSocket::socket_mut(conn.socket_mut())
        .bind(&rtnetlink::sys::SocketAddr::new(0, groups))
        .context("subscribing to address events")?;
    tokio::spawn(conn);

    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut tick = tokio::time::interval(Duration::from_millis(args.poll_ms.max(50)));
    let mut seen = mtime(&args.config);
    sd_notify::notify("READY=1");
    info!(
        "running with {}; pin dir {}",
        args.config.display(),
        pins.root().display()
    );
    loop {
        let why = tokio::select! {
            _ = hup.recv() => "SIGHUP",
            _ = tick.tick() => {
                let now = mtime(&args.config);
                if now == seen { continue; }
                seen = now;
                "file changed"
            }
            Some((msg, _)) = events.next() => {
                use rtnetlink::{packet_core::NetlinkPayload, packet_route::RouteNetlinkMessage};
                if !matches!(msg.payload, NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(_))) { continue; }
                counters.lock().expect("counters").address_events_total += 1;
                // The plan re-adds what the configuration wants managed.
                if let Err(e) = apply(&pins, &cfg, &handle, &counters, "address removed").await {
                    error!("address removed: {e:#}");
                }
                continue;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        match Config::load(&args.config) {
            Ok(new) => {
                if new.pin_dir != cfg.pin_dir {
                    warn!(
                        "{why}: pin_dir changes need a restart; keeping {}",
                        pins.root().display()
                    );
                }
                cfg = new;
                if let Err(e) = apply(&pins, &cfg, &handle, &counters, why).await {
                    error!("{why}: {e:#}");
                }
            }
            Err(e) => {
                counters.lock().expect("counters").config_errors_total += 1;
                error!("{why}: not applied, keeping the running state: {e}");
            }
        }
    }
    sd_notify::notify("STOPPING=1");
    info!("stopping; the filter stays in place (rsdr detach removes it)");
    Ok(())
}

async fn serve_metrics(listener: tokio::net::TcpListener, pins: PinDir, counters: Counters) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let pins = pins.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
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
            let (code, body) = if req.starts_with("GET ")
                && (path == "/metrics" || path.starts_with("/metrics?"))
            {
                match (stats::snapshot(&pins), status::status(&pins)) {
                    (Ok(snap), Ok(st)) => {
                        let c = counters.lock().expect("counters").clone();
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
        });
    }
}

/// Read the datapath's aya-log ring buffer (pinned, shared by the programs)
/// and hand its records to the log.
async fn forward_datapath_logs(pins: PinDir) {
    use rsdr_common::maps::programs;
    let id = match aya::programs::ProgramInfo::from_pin(pins.prog(programs::TC_EGRESS)) {
        Ok(info) => info.id(),
        Err(e) => {
            warn!("datapath logs unavailable: {e}");
            return;
        }
    };
    let logger = match aya_log::EbpfLogger::init_from_id(id) {
        Ok(l) => l,
        Err(e) => {
            warn!("datapath logs unavailable: {e}");
            return;
        }
    };
    // SAFETY: the logger owns the ring buffer's fd for as long as the
    // AsyncFd owns the logger; as_raw_fd always returns that fd.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE)
    };
    let Ok(mut afd) = registered else {
        warn!("datapath logs unavailable: cannot poll the ring buffer");
        return;
    };
    loop {
        let Ok(mut guard) = afd.readable_mut().await else {
            return;
        };
        guard.get_inner_mut().flush();
        guard.clear_ready();
    }
}
