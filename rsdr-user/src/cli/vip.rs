use anyhow::Context as _;
use rsdr_common::maps::{VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS};
use rsdr_user::{
    addr,
    lock::PinLock,
    pins::PinDir,
    privilege::{self, Need},
    vips::{Change, EntryView, VipTables},
};

use super::output;

/// Manage VIPs and VIP pools: ARP and ND for them are filtered on every attached interface
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Add(AddArgs),
    Del(DelArgs),
    List(ListArgs),
}

/// Add a VIP or a pool, or change an existing one (takes effect at once)
///
/// Inbound ARP requests / Neighbor Solicitations for the VIP are dropped, as
/// are frames announcing it from elsewhere (the director's gratuitous ARP,
/// NAs); outbound ARP requests / NSs sent from it leave with the real IP as
/// sender, and the host's own announcements and probes of it are dropped.
/// A prefix (e.g. 203.0.113.0/24) adds a pool: every address in it is a VIP.
/// Exact VIPs win over pools. Running `vip add` again sets the whole entry:
/// flags not given are cleared.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr vip add 192.0.2.10 --real 10.0.0.5
  rsdr vip add 2001:db8::10 --real 2001:db8::5
  rsdr vip add 203.0.113.0/24 --real 10.0.0.5
  rsdr vip add 192.0.2.11 --real 10.0.0.5 --monitor     # count only, change nothing")]
pub struct AddArgs {
    /// The virtual IP (IPv4 or IPv6) or pool prefix held by this real server
    #[arg(value_name = "VIP[/LEN]")]
    vip: String,
    /// This server's own address, same family, announced in place of the VIP
    #[arg(long, value_name = "IP")]
    real: String,
    /// Count what would be done for this VIP, change nothing
    #[arg(long)]
    monitor: bool,
    /// Let frames that announce the VIP from elsewhere reach this host (by
    /// default they are hidden, so address conflict detection and IPv6 DAD
    /// accept the VIP)
    #[arg(long)]
    show_conflicts: bool,
}

/// Remove a VIP or pool: the kernel answers for it again at once
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr vip del 192.0.2.10\n  rsdr vip del 203.0.113.0/24")]
pub struct DelArgs {
    #[arg(value_name = "VIP[/LEN]")]
    vip: String,
}

/// List configured VIPs and pools
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr vip list\n  rsdr vip list --json")]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

fn open(pins: &PinDir) -> anyhow::Result<VipTables> {
    privilege::require(Need::Bpf)?;
    pins.require_loaded()?;
    VipTables::open(pins).context("opening the VIP tables")
}

/// Open the tables for a change, holding the pin-directory lock: checks and
/// writes of two concurrent `vip add`s must not interleave.
fn open_for_change(pins: &PinDir) -> anyhow::Result<(PinLock, VipTables)> {
    privilege::require(Need::Bpf)?;
    pins.check_bpffs()?;
    let guard = pins.lock()?;
    Ok((guard, open(pins)?))
}

pub fn run(pins: &PinDir, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let vip = addr::parse_vip(&a.vip)?;
            let real = addr::parse_real(&a.real, &vip)?;
            let mut flags = 0;
            if a.monitor {
                flags |= VIP_F_MONITOR;
            }
            if a.show_conflicts {
                flags |= VIP_F_SHOW_CONFLICTS;
            }
            let (_guard, mut tables) = open_for_change(pins)?;
            let note = if a.monitor {
                " [monitor: counted, not enforced]"
            } else {
                ""
            };
            match tables.add(vip, real, flags)? {
                Change::Added => println!("added VIP {vip} (real IP {real}){note}"),
                Change::Unchanged => println!("VIP {vip} already present (real IP {real}){note}"),
                Change::Updated { old_real, .. } if old_real != real => {
                    println!("updated VIP {vip}: real IP {old_real} -> {real}{note}")
                }
                Change::Updated { .. } => println!("updated VIP {vip}: flags changed{note}"),
            }
        }
        Command::Del(a) => {
            let vip = addr::parse_vip(&a.vip)?;
            let (_guard, mut tables) = open_for_change(pins)?;
            let removed = tables.remove(vip)?;
            println!("removed VIP {vip} (real IP {})", removed.real);
        }
        Command::List(a) => {
            let entries = open(pins)?.entries()?;
            let views: Vec<EntryView> = entries.iter().map(EntryView::from).collect();
            if a.json {
                output::json(&views)?;
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        let mut flags = Vec::new();
                        if v.monitor {
                            flags.push("monitor");
                        }
                        if v.show_conflicts {
                            flags.push("show-conflicts");
                        }
                        vec![
                            v.vip.clone(),
                            v.real.to_string(),
                            v.kind.to_string(),
                            flags.join(","),
                        ]
                    })
                    .collect();
                output::table(&["VIP", "REAL IP", "KIND", "FLAGS"], &rows);
            }
        }
    }
    Ok(())
}
