use std::path::PathBuf;

use anyhow::Context as _;
use rsdr_user::{
    apply,
    config::{self, Config},
    netlink,
    pins::PinDir,
    privilege::{self, Need},
};

/// Bring rsdr to the state a configuration file describes
///
/// Checks the whole file first (addresses, duplicates, overlapping pools,
/// VIPs equal to real IPs, unknown interfaces and devices) and changes
/// nothing if anything is wrong. Then prints what it will change, as a
/// diff, and changes it in an order that never leaves a VIP unfiltered:
/// interfaces and VIP entries first, managed addresses after them; on the
/// way out, addresses before VIP entries, interfaces last. If a step fails,
/// the steps already done are undone. Running it again changes nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr apply                         # /etc/rsdr/rsdr.toml
  rsdr apply -c ./rsdr.toml --dry-run")]
pub struct Args {
    /// Configuration file
    #[arg(short, long, value_name = "FILE", default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,

    /// Print the changes, make none
    #[arg(long)]
    dry_run: bool,
}

pub fn run(pins: &PinDir, cfg: Config, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let n = rt.block_on(async {
        let netlink = netlink::connect()?;
        let mut say = |l: String| println!("{l}");
        anyhow::Ok(apply::apply(pins, &cfg, &netlink, args.dry_run, &mut say).await?)
    })?;
    if args.dry_run {
        println!("dry run: nothing changed");
    } else if n == 0 {
        println!("nothing to change");
    } else {
        println!("applied {n} step(s) from {}", cfg.path.display());
    }
    Ok(())
}
