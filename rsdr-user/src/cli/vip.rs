use rsdr_user::{
    entry::{Change, VipEntry, VipFlag, VipFlags},
    local_addr,
    pins::PinDir,
    privilege::{self, Need},
    tables::{self, VipTables},
    vip,
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
/// flags not given are cleared. The real IP must be an address of this host.
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
    /// Accept a real IP that is not an address of this host (it is
    /// announced anyway: only for an address added later, with care)
    #[arg(long)]
    allow_foreign_real: bool,
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

pub fn run(pins: &PinDir, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let flags = VipFlags::NONE
                .with(VipFlag::Monitor, a.monitor)
                .with(VipFlag::ShowConflicts, a.show_conflicts);
            let entry = VipEntry::parse(&a.vip, &a.real, flags)?;
            // The entry's own conflicts first (the VIP is its real IP, say):
            // they say more than where the real IP is.
            tables::rules::check(&[], &[entry])?;
            for w in
                local_addr::check_reals([(&entry, a.allow_foreign_real)], "--allow-foreign-real")?
            {
                eprintln!("{w}");
            }
            privilege::require(Need::Bpf)?;
            let change = tables::edit(pins, |t| t.put(&[entry]))?[0];
            let (vip, real) = (entry.vip, entry.real);
            let note = if a.monitor {
                " [monitor: counted, not enforced]"
            } else {
                ""
            };
            match change {
                Change::Added => println!("added VIP {vip} (real IP {real}){note}"),
                Change::Unchanged => println!("VIP {vip} already present (real IP {real}){note}"),
                Change::Updated { old } if old.real != real => {
                    println!("updated VIP {vip}: real IP {} -> {real}{note}", old.real)
                }
                Change::Updated { .. } => println!("updated VIP {vip}: flags changed{note}"),
            }
        }
        Command::Del(a) => {
            let vip = vip::parse_vip(&a.vip)?;
            privilege::require(Need::Bpf)?;
            let removed = tables::edit(pins, |t| t.remove(&[vip]))?;
            println!("removed VIP {vip} (real IP {})", removed[0].real);
        }
        Command::List(a) => {
            privilege::require(Need::Bpf)?;
            let entries = VipTables::open(pins)?.entries()?;
            if a.json {
                output::json(&entries)?;
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        let kind = e.vip.kind().to_string();
                        vec![
                            e.vip.to_string(),
                            e.real.to_string(),
                            kind,
                            e.flags.to_string(),
                        ]
                    })
                    .collect();
                output::table(&["VIP", "REAL IP", "KIND", "FLAGS"], &rows);
            }
        }
    }
    Ok(())
}
