use rsdr_common::VipCounter;
use rsdr_user::{
    pins::PinDir,
    privilege::{self, Need},
    stats,
};

use super::output;

/// Show counters: per VIP and per datapath decision, summed over CPUs
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr stats\n  rsdr stats --json | jq '.vips[]'")]
pub struct Args {
    /// Print JSON instead of tables
    #[arg(long)]
    json: bool,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::Bpf)?;
    pins.require_loaded()?;
    let snap = stats::snapshot(pins)?;
    if args.json {
        return output::json(&snap);
    }
    let mut header = vec!["VIP", "REAL IP"];
    header.extend(VipCounter::ALL.iter().map(|c| c.name()));
    let rows: Vec<Vec<String>> = snap
        .vips
        .iter()
        .map(|v| {
            let mut r = vec![v.vip.to_string(), v.real.to_string()];
            r.extend(VipCounter::ALL.iter().map(|c| v.counters[c.name()].to_string()));
            r
        })
        .collect();
    output::table(&header, &rows);
    println!();
    let rows: Vec<Vec<String>> = snap.global.iter().map(|c| vec![c.name.to_string(), c.value.to_string()]).collect();
    output::table(&["DECISION", "COUNT"], &rows);
    Ok(())
}
