use rsdr_user::{
    pins::PinDir,
    privilege::{self, Need},
    stats,
};

use super::output;

/// Show counters: per VIP and per datapath decision, summed over CPUs
///
/// `monitored` counts decisions taken in monitor mode: counted, not enforced.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr stats\n  rsdr stats --json | jq '.vips[]'")]
pub struct Args {
    /// Print JSON instead of tables
    #[arg(long)]
    json: bool,
}

fn nonzero(counters: &std::collections::BTreeMap<&str, u64>) -> String {
    let parts: Vec<String> = counters
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::Bpf)?;
    let snap = stats::snapshot(pins)?;
    if args.json {
        return output::json(&snap);
    }
    if snap.monitor {
        println!("global monitor mode is ON: nothing is enforced\n");
    }
    let rows: Vec<Vec<String>> = snap
        .vips
        .iter()
        .map(|v| {
            let monitored = nonzero(&v.monitored);
            let m = if monitored == "-" {
                String::new()
            } else {
                format!("  monitored: {monitored}")
            };
            vec![
                v.vip.clone(),
                v.real.to_string(),
                format!("{}{m}", nonzero(&v.counters)),
            ]
        })
        .collect();
    output::table(&["VIP", "REAL IP", "COUNTERS"], &rows);
    println!();
    let rows: Vec<Vec<String>> = snap
        .global
        .decisions
        .iter()
        .map(|(k, v)| {
            vec![
                k.to_string(),
                v.to_string(),
                snap.global.monitored[k].to_string(),
            ]
        })
        .collect();
    output::table(&["DECISION", "COUNT", "MONITORED"], &rows);
    Ok(())
}
