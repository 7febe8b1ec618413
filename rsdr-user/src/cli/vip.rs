use anyhow::Context as _;
use rsdr_user::{
    entry::{Change, VipEntry, VipFlag, VipFlags},
    local_addr,
    pins::PinDir,
    privilege::{self, Need},
    tables::{self, VipTables},
    vip,
    vrrp::{self, record},
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
  rsdr vip add 192.0.2.11 --real 10.0.0.5 --monitor     # count only, change nothing
  rsdr vip add 192.0.2.12 --real 10.0.0.5 --vrrp-instance VI_1   # two-node cluster")]
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
    /// Follow this keepalived VRRP instance: answered and announced while
    /// it is MASTER here, filtered otherwise (see `rsdr vrrp`)
    #[arg(long, value_name = "NAME")]
    vrrp_instance: Option<String>,
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
            if let Some(name) = &a.vrrp_instance {
                vrrp::validate_name(name)?;
            }
            // The entry's own conflicts first (the VIP is its real IP, say):
            // they say more than where the real IP is.
            tables::rules::check(&[], &[entry])?;
            for w in
                local_addr::check_reals([(&entry, a.allow_foreign_real)], "--allow-foreign-real")?
            {
                eprintln!("{w}");
            }
            privilege::require(Need::Bpf)?;
            pins.check_bpffs()?;
            let locked = pins.lock()?;
            if a.vrrp_instance.is_some() {
                vrrp::require_current_datapath(&locked)?;
            }
            // The instance's state decides the master flag; all under the
            // lock, so no `rsdr vrrp` runs between reading it and writing.
            let masters = record::masters(&locked).context("reading the VRRP record")?;
            let entry = vrrp::with_vrrp(
                entry,
                a.vrrp_instance.is_some(),
                a.vrrp_instance
                    .as_ref()
                    .is_some_and(|i| masters.contains(i)),
            );
            let change = VipTables::open(&locked)?.put(&[entry])?[0];
            record::set_member(&locked, entry.vip, a.vrrp_instance.as_deref())
                .context("recording the VRRP instance")?;
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
            pins.check_bpffs()?;
            let locked = pins.lock()?;
            let removed = VipTables::open(&locked)?.remove(&[vip])?;
            record::set_member(&locked, vip, None).context("updating the VRRP record")?;
            println!("removed VIP {vip} (real IP {})", removed[0].real);
        }
        Command::List(a) => {
            privilege::require(Need::Bpf)?;
            let entries = VipTables::open(pins)?.entries()?;
            let members = record::members(pins).unwrap_or_default();
            let states = record::states(pins).unwrap_or_default();
            // (instance, its state) of each entry that follows one.
            let follow = |e: &VipEntry| {
                members.get(&e.vip).map(|i| {
                    let st = states.get(i).map_or("unknown", |s| s.name());
                    (i.clone(), st)
                })
            };
            if a.json {
                let rows: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(e).expect("an entry serialises");
                        if let (Some((i, st)), Some(o)) = (follow(e), v.as_object_mut()) {
                            o.insert("vrrp_instance".into(), i.into());
                            o.insert("vrrp_state".into(), st.into());
                        }
                        v
                    })
                    .collect();
                output::json(&rows)?;
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        let kind = e.vip.kind().to_string();
                        vec![
                            e.vip.to_string(),
                            e.real.to_string(),
                            kind,
                            match follow(e) {
                                Some((i, st)) => format!("{} ({i}: {st})", e.flags),
                                None => e.flags.to_string(),
                            },
                        ]
                    })
                    .collect();
                output::table(&["VIP", "REAL IP", "KIND", "FLAGS"], &rows);
            }
        }
    }
    Ok(())
}
