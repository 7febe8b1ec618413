use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use rsdr_user::{
    config::{self, Config},
    daemon::{self, DaemonOptions},
    pins::PinDir,
    privilege::{self, Need},
};

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
    pub config: PathBuf,

    /// Serve Prometheus metrics on ADDR (127.0.0.1:9809 if given without a value)
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9809")]
    metrics: Option<SocketAddr>,

    /// How often to look at the file for changes, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
}

pub fn run(pins: &PinDir, cfg: Config, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    pins.check_bpffs()?;
    daemon::init_logging();
    let opts = DaemonOptions {
        config_path: args.config,
        metrics: args.metrics,
        poll: Duration::from_millis(args.poll_ms),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    Ok(rt.block_on(daemon::run(pins.clone(), cfg, opts))?)
}
