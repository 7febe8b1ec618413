use rsdr_user::{
    pins::PinDir,
    privilege::{self, Need},
    status,
};

use super::output;

/// Show where rsdr is attached, with which hooks and modes
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr status\n  rsdr status --json")]
pub struct Args {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::Bpf)?;
    let st = status::read(pins)?;
    if args.json {
        return output::json(&st);
    }
    println!("pin dir: {}", st.pin_dir);
    println!(
        "VIPs:    {} (capacity {} per family), pools: {} of {}",
        st.vips, st.max_vips, st.pools, st.max_pools
    );
    if st.monitor {
        println!("monitor: ON (decisions counted, nothing enforced)");
    }
    let running = st
        .datapath_build
        .as_ref()
        .map_or("unstamped (an earlier build)".to_string(), |b| {
            b.to_string()
        });
    if st.datapath_build.as_ref() == Some(&st.binary_build) {
        println!("build:   {running}");
    } else {
        println!(
            "build:   datapath {running}, this rsdr {} (attach or apply swaps it in place)",
            st.binary_build
        );
    }
    for v in &st.vrrp {
        let what = if v.state == "master" {
            "director here: its VIPs are answered and announced"
        } else {
            "its VIPs are filtered"
        };
        println!(
            "vrrp:    {} {} ({what}: {})",
            v.instance,
            v.state,
            if v.vips.is_empty() {
                "none".to_string()
            } else {
                v.vips.join(", ")
            }
        );
    }
    println!();
    let rows: Vec<Vec<String>> = st
        .interfaces
        .iter()
        .map(|i| {
            let hook = |dir: &str| {
                i.hooks
                    .iter()
                    .find(|h| h.direction == dir)
                    .map(|h| h.describe())
                    .unwrap_or_else(|| "-".to_string())
            };
            let state = if i.ifindex.is_none() {
                "interface gone".to_string()
            } else if let Some(now) = &i.renamed_to {
                format!("ok, renamed to {now}")
            } else if i.healthy {
                "ok".to_string()
            } else {
                "degraded (run rsdr attach again)".to_string()
            };
            vec![i.name.clone(), hook("ingress"), hook("egress"), state]
        })
        .collect();
    output::table(&["INTERFACE", "INGRESS", "EGRESS", "STATE"], &rows);
    Ok(())
}
