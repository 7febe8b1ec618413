use anyhow::Context as _;
use rsdr_user::{
    addr,
    pins::PinDir,
    privilege::{self, Need},
    vips::{Change, VipTable},
};

use super::output;

/// Manage VIPs: ARP for them is filtered on every attached interface
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Add(AddArgs),
    Del(DelArgs),
    List(ListArgs),
}

/// Add a VIP, or change the real IP of an existing one
///
/// Inbound ARP requests for VIP are dropped; outbound ARP requests sent from
/// VIP leave with REAL as their sender IP. Takes effect at once.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr vip add 192.0.2.10 --real 10.0.0.5")]
pub struct AddArgs {
    /// The virtual IP held by this real server
    #[arg(value_name = "VIP")]
    vip: String,
    /// This server's own address, announced in place of the VIP
    #[arg(long, value_name = "IP")]
    real: String,
}

/// Remove a VIP: the kernel answers ARP for it again
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr vip del 192.0.2.10")]
pub struct DelArgs {
    #[arg(value_name = "VIP")]
    vip: String,
}

/// List configured VIPs
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr vip list\n  rsdr vip list --json")]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(pins: &PinDir, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let vip = addr::parse_v4("VIP", &a.vip)?;
            let real = addr::parse_v4("real IP", &a.real)?;
            privilege::require(Need::Bpf)?;
            pins.require_loaded()?;
            let mut table = VipTable::open(pins).context("opening the VIP table")?;
            match table.add(vip, real)? {
                Change::Added => println!("added VIP {vip} (real IP {real})"),
                Change::Unchanged => println!("VIP {vip} already present (real IP {real})"),
                Change::Updated { old_real } => println!("updated VIP {vip}: real IP {old_real} -> {real}"),
            }
        }
        Command::Del(a) => {
            let vip = addr::parse_v4("VIP", &a.vip)?;
            privilege::require(Need::Bpf)?;
            pins.require_loaded()?;
            let mut table = VipTable::open(pins).context("opening the VIP table")?;
            let removed = table.remove(vip)?;
            println!("removed VIP {vip} (real IP {})", removed.real);
        }
        Command::List(a) => {
            privilege::require(Need::Bpf)?;
            pins.require_loaded()?;
            let vips = VipTable::open(pins).context("opening the VIP table")?.list()?;
            if a.json {
                output::json(&vips)?;
            } else {
                let rows: Vec<Vec<String>> =
                    vips.iter().map(|v| vec![v.vip.to_string(), v.real.to_string()]).collect();
                output::table(&["VIP", "REAL IP"], &rows);
            }
        }
    }
    Ok(())
}
