use std::path::PathBuf;

use anyhow::Context as _;
use rsdr_user::{
    check::{self, Level},
    config::Config,
    features,
    pins::PinDir,
    privilege::{self, Need},
};

use super::output;

/// Check this host for what could let ARP or ND for a VIP through
///
/// Kernel and bpffs support, the hooks in use, sysctls and other ARP
/// filters that interact, VIPs configured but on no device, and VIPs held
/// but not filtered. With --config, also VIPs of the file that rsdr does not
/// filter yet (and the file's pin_dir, unless --pin-dir is given). Exits 0
/// when all is well, 1 otherwise.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr check\n  rsdr check -c /etc/rsdr/rsdr.toml --json")]
pub struct Args {
    /// Also check against this configuration file
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(pins: &PinDir, cfg: Option<&Config>, args: Args) -> anyhow::Result<()> {
    // The kernel probes attach nothing, but querying TC hooks and loading
    // an XDP program need CAP_NET_ADMIN.
    privilege::require(Need::BpfAndNetAdmin)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let findings = rt.block_on(check::diagnose(pins, cfg));
    let well = check::all_well(&findings);
    if args.json {
        output::json(&serde_json::json!({
            "all_well": well,
            "features": features::probe(),
            "findings": findings,
        }))?;
    } else {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|x| {
                vec![
                    x.level.as_str().to_string(),
                    x.check.clone(),
                    x.detail.clone(),
                ]
            })
            .collect();
        output::table(&["", "CHECK", "DETAIL"], &rows);
        let bad = findings
            .iter()
            .filter(|x| matches!(x.level, Level::Warn | Level::Fail))
            .count();
        println!();
        if well {
            println!("all well");
        } else {
            println!("{bad} finding(s) need attention");
        }
    }
    if !well {
        std::process::exit(1);
    }
    Ok(())
}
