//! `rsdr run`: the service. Applies the configuration at start, then keeps
//! it applied: on SIGHUP and whenever the file changes (an invalid file is
//! logged and the running state kept), whenever an interface appears,
//! changes or goes (to attach one that appeared, at boot or created again,
//! and to withdraw managed addresses while one is missing), and whenever an
//! address is removed (to put back managed VIP addresses that something
//! else took away).
//! Forwards the datapath's log events (`datapath_logs.rs`) and serves
//! Prometheus metrics if asked (`metrics_server.rs`). On exit the filter
//! stays in place.

mod datapath_logs;
mod metrics_server;
mod net_watch;
mod vrrp_fifo;

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::{
    apply::{self, ApplyError},
    config::{Config, Devices},
    iface,
    metrics::DaemonCounters,
    netlink::{self, NetlinkError},
    pins::PinDir,
    sd_notify,
};

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("initial apply: {0}")]
    InitialApply(ApplyError),
    #[error("binding metrics to {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Setup {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("keepalived notify FIFO {path}: {source}")]
    Fifo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the keepalived notify FIFO cannot be read any more; exiting so that the service starts again"
    )]
    FifoGone,
}

/// The next state change from keepalived's FIFO (`None`: it closed).
async fn recv_fifo(
    fifo: &mut Option<tokio::sync::mpsc::UnboundedReceiver<(String, crate::vrrp::State)>>,
) -> Option<(String, crate::vrrp::State)> {
    fifo.as_mut()?.recv().await
}

fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> DaemonError {
    move |source| DaemonError::Setup { what, source }
}

/// How the service runs.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// The configuration file, read again on SIGHUP and when it changes.
    pub config_path: PathBuf,
    /// Serve Prometheus metrics here.
    pub metrics: Option<SocketAddr>,
    /// How often to look at the file for changes.
    pub poll: Duration,
}

type Counters = Arc<Mutex<DaemonCounters>>;

/// Log to stderr (the journal under systemd); `RSDR_LOG` sets the level.
pub fn init_logging() {
    use std::io::IsTerminal as _;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RSDR_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Apply `cfg`, logging each step as `why: step`, and count the outcome.
async fn apply_logged(
    pins: &PinDir,
    cfg: &Config,
    netlink: &rtnetlink::Handle,
    counters: &Counters,
    why: &str,
) -> Result<(), ApplyError> {
    let result = apply::apply(pins, cfg, netlink, false, &mut |l| {
        for line in l.lines() {
            info!("{why}: {line}");
        }
    })
    .await;
    let mut c = counters.lock().expect("daemon counters");
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

/// Applying again after a failed apply: first after 1 s, doubling up to
/// 30 s while it keeps failing.
#[derive(Default)]
struct Retry {
    at: Option<tokio::time::Instant>,
    delay: Duration,
}

impl Retry {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30);

    fn pending(&self) -> bool {
        self.at.is_some()
    }

    /// Record an apply's outcome: a success clears the retry, a failure
    /// schedules one.
    fn after(&mut self, ok: bool) {
        if ok {
            *self = Self::default();
        } else {
            self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MAX);
            self.at = Some(tokio::time::Instant::now() + self.delay);
        }
    }

    /// Until the retry is due; forever if none is.
    async fn wait(&self) {
        match self.at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

/// Log each interface of `cfg` that went missing or came back since
/// `before` (the missing ones then), count the missing ones, and return
/// them.
fn report_missing(cfg: &Config, before: BTreeSet<String>, counters: &Counters) -> BTreeSet<String> {
    let now: BTreeSet<String> = cfg
        .interfaces
        .iter()
        .filter(|i| iface::index(&i.name).is_err())
        .map(|i| i.name.clone())
        .collect();
    for gone in now.difference(&before) {
        warn!(
            "interface {gone} does not exist: waiting for it; managed addresses are withheld until it is filtered"
        );
    }
    for back in before.difference(&now) {
        info!("interface {back} is there: filtered");
    }
    counters.lock().expect("daemon counters").interfaces_missing = now.len() as u64;
    now
}

/// Apply `cfg` again after a change (`why`): log a failure, schedule or
/// clear the retry, and report interfaces that went or came (`missing`:
/// those missing before; returns those missing now).
async fn reapply(
    pins: &PinDir,
    cfg: &Config,
    netlink: &rtnetlink::Handle,
    counters: &Counters,
    why: &str,
    retry: &mut Retry,
    missing: BTreeSet<String>,
) -> BTreeSet<String> {
    let ok = apply_logged(pins, cfg, netlink, counters, why)
        .await
        .inspect_err(|e| error!("{why}: {e}"))
        .is_ok();
    retry.after(ok);
    report_missing(cfg, missing, counters)
}

/// keepalived said `instance` is now `state`: switch its VIPs' filtering
/// at once (one table write per VIP), then apply the file, which moves the
/// managed addresses: withdrawn after a VIP is unfiltered (MASTER, the VIP
/// is keepalived's to hold), put back after it is filtered again.
async fn vrrp_switch(
    pins: &PinDir,
    instance: &str,
    state: crate::vrrp::State,
    counters: &Counters,
) {
    let switched = match pins.lock_async().await {
        Ok(locked) => crate::vrrp::switch(&locked, instance, state).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let mut c = counters.lock().expect("daemon counters");
    match switched {
        Ok(s) if s.before == Some(state) => info!("keepalived: {s} (no change)"),
        Ok(s) => {
            *c.vrrp_transitions
                .entry((instance.to_string(), state.name()))
                .or_default() += 1;
            info!("keepalived: {s}");
        }
        Err(e) => {
            c.apply_errors_total += 1;
            error!("keepalived: instance {instance} is {state}, but rsdr could not follow: {e}");
        }
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Run the service until SIGTERM or SIGINT.
pub async fn run(pins: PinDir, mut cfg: Config, opts: DaemonOptions) -> Result<(), DaemonError> {
    let netlink = netlink::connect()?;
    let counters: Counters = Arc::default();
    // Subscribe before the first apply: an address removed between the two
    // would otherwise go unseen until the next event.
    let mut net = net_watch::NetWatch::subscribe()?;
    // Loaded before anything is attached: interfaces may not exist yet.
    apply::ensure_loaded(&pins, cfg.load).map_err(DaemonError::InitialApply)?;
    apply_logged(&pins, &cfg, &netlink, &counters, "start")
        .await
        .map_err(DaemonError::InitialApply)?;
    let mut missing = report_missing(&cfg, BTreeSet::new(), &counters);
    if let Some(addr) = opts.metrics {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Metrics { addr, source })?;
        info!("serving metrics on http://{addr}/metrics");
        tokio::spawn(metrics_server::serve(
            listener,
            pins.clone(),
            counters.clone(),
        ));
    }
    tokio::spawn(datapath_logs::forward(pins.clone()));
    let mut hup = signal(SignalKind::hangup()).map_err(setup("SIGHUP handler"))?;
    let mut term = signal(SignalKind::terminate()).map_err(setup("SIGTERM handler"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(setup("SIGINT handler"))?;
    let mut tick = tokio::time::interval(opts.poll.max(Duration::from_millis(50)));
    let mut seen = mtime(&opts.config_path);
    // Before READY: keepalived, ordered after rsdr, finds the FIFO there.
    let mut fifo = match &cfg.vrrp_notify_fifo {
        Some(path) => {
            let rx = vrrp_fifo::spawn(path.clone())?;
            info!("following keepalived's notify FIFO {}", path.display());
            Some(rx)
        }
        None => None,
    };
    sd_notify::notify("READY=1");
    info!(
        "running with {}; pin dir {}",
        opts.config_path.display(),
        pins.root().display()
    );
    let mut retry = Retry::default();
    // The VRRP states `rsdr vrrp` (a notify script) may change under us.
    let mut vrrp_seen = crate::vrrp::record::states(&pins).ok();
    loop {
        let why = tokio::select! {
            _ = hup.recv() => "SIGHUP",
            msg = recv_fifo(&mut fifo), if fifo.is_some() => {
                let Some((instance, state)) = msg else {
                    return Err(DaemonError::FifoGone);
                };
                vrrp_switch(&pins, &instance, state, &counters).await;
                // Every line already waiting is switched before the one
                // apply that moves the managed addresses.
                while let Some(Ok((instance, state))) = fifo.as_mut().map(|f| f.try_recv()) {
                    vrrp_switch(&pins, &instance, state, &counters).await;
                }
                vrrp_seen = crate::vrrp::record::states(&pins).ok();
                missing = reapply(&pins, &cfg, &netlink, &counters, "VRRP", &mut retry, missing).await;
                continue;
            }
            _ = retry.wait() => {
                missing = reapply(&pins, &cfg, &netlink, &counters, "retry", &mut retry, missing).await;
                continue;
            }
            _ = tick.tick() => {
                let states = crate::vrrp::record::states(&pins).ok();
                if states != vrrp_seen {
                    vrrp_seen = states;
                    missing = reapply(&pins, &cfg, &netlink, &counters, "VRRP state changed", &mut retry, missing).await;
                }
                let now = mtime(&opts.config_path);
                if now == seen { continue; }
                seen = now;
                "file changed"
            }
            Some(changes) = net.next() => {
                {
                    let mut c = counters.lock().expect("daemon counters");
                    c.address_events_total += changes.address_removals;
                    c.link_events_total += changes.links;
                }
                // After a failure, events wait for the retry: a failing
                // apply's rollback must not trigger the next one at once.
                if retry.pending() {
                    continue;
                }
                let why = if changes.links > 0 { "interfaces changed" } else { "address removed" };
                // The plan attaches what appeared and re-adds what the
                // configuration wants managed.
                missing = reapply(&pins, &cfg, &netlink, &counters, why, &mut retry, missing).await;
                continue;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        match Config::load_with(&opts.config_path, Devices::MayBeAbsent) {
            Ok(new) => {
                for w in &new.warnings {
                    warn!("{why}: {w}");
                }
                if new.vrrp_notify_fifo != cfg.vrrp_notify_fifo {
                    warn!(
                        "{why}: vrrp_notify_fifo changes need a restart; keeping the FIFO opened at start"
                    );
                }
                if new.pin_dir != cfg.pin_dir {
                    warn!(
                        "{why}: pin_dir changes need a restart; keeping {}",
                        pins.root().display()
                    );
                }
                cfg = new;
                missing = reapply(&pins, &cfg, &netlink, &counters, why, &mut retry, missing).await;
            }
            Err(e) => {
                counters
                    .lock()
                    .expect("daemon counters")
                    .config_errors_total += 1;
                error!("{why}: not applied, keeping the running state: {e}");
            }
        }
    }
    sd_notify::notify("STOPPING=1");
    info!("stopping; the filter stays in place (rsdr detach removes it)");
    Ok(())
}
