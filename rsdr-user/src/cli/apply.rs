use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rsdr_user::{
    DEFAULT_PIN_DIR, addrs, apply,
    config::{self, Config},
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
    config: PathBuf,

    /// Print the changes, make none
    #[arg(long)]
    dry_run: bool,
}

/// The pin directory: the flag (or RSDR_PIN_DIR), else the file's, else the default.
pub fn pins_for(flag: Option<&Path>, cfg: &Config) -> PinDir {
    PinDir::new(
        flag.map(Path::to_path_buf)
            .or_else(|| cfg.pin_dir.clone())
            .unwrap_or_else(|| DEFAULT_PIN_DIR.into()),
    )
}

pub fn run(pin_flag: Option<&Path>, args: Args) -> anyhow::Result<()> {
    let cfg = Config::load(&args.config)?;
    privilege::require(Need::BpfAndNetAdmin)?;
    let pins = pins_for(pin_flag, &cfg);
    pins.check_bpffs()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let handle = addrs::connect()?;
        let guard = pins.lock()?;
        let n = apply_locked(&pins, &cfg, &handle, args.dry_run, &mut |l| println!("{l}")).await?;
        drop(guard);
        if args.dry_run {
            println!("dry run: nothing changed");
        } else if n == 0 {
            println!("nothing to change");
        } else {
            println!("applied {n} step(s) from {}", cfg.path.display());
        }
        Ok::<(), anyhow::Error>(())
    })
}

/// Plan and (unless `dry_run`) carry out; the caller holds the lock.
/// Returns the number of steps done.
pub async fn apply_locked(
    pins: &PinDir,
    cfg: &Config,
    handle: &rtnetlink::Handle,
    dry_run: bool,
    say: &mut dyn FnMut(String),
) -> anyhow::Result<usize> {
    let cur = apply::current(pins, handle).await?;
    let steps = apply::plan(cfg, &cur);
    if dry_run {
        for s in &steps {
            say(s.to_string());
        }
        return Ok(0);
    }
    Ok(apply::execute(pins, cfg, handle, steps, cur.loaded, say).await?)
}
