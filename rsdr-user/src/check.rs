//! `rsdr check`: a doctor. Looks at the kernel, bpffs, what rsdr has
//! attached, sysctls and other ARP filters that interact, whether the VIPs
//! are where they should be and filtered where they are, and whether their
//! real IPs are this host's.

use std::{collections::HashSet, process::Command};

use serde::Serialize;

use crate::{
    config::Config,
    entry::VipEntry,
    features,
    netlink::{
        self,
        addresses::{self, DevAddr},
        links::{self, Link},
    },
    pins::PinDir,
    status,
    tables::VipTables,
    vip::Vip,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub check: String,
    pub level: Level,
    pub detail: String,
}

fn f(check: impl Into<String>, level: Level, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        level,
        detail: detail.into(),
    }
}

/// The kernel's release, for the reader (rsdr decides by probing).
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The kernel features rsdr found, and what it does with them.
fn kernel(out: &mut Vec<Finding>) {
    let k = features::probe();
    let linux = format!("Linux {}", release());
    if let Err(e) = k.require() {
        out.push(f("kernel", Level::Fail, format!("{linux}: {e}")));
        return;
    }
    let tc = if k.tcx {
        "TC hooks as TCX links"
    } else {
        "TC hooks as cls_bpf filters (no TCX)"
    };
    let xdp = if k.xdp_frags {
        "XDP multi-buffer aware"
    } else {
        "XDP without multi-buffer (no native XDP on jumbo frames)"
    };
    out.push(f(
        "kernel",
        Level::Ok,
        format!("{linux}: BPF ISA {} object; {tc}; {xdp}", k.isa()),
    ));
}

/// The network sysctl at `path` under /proc/sys/net (e.g. "ipv4/conf/all/arp_ignore").
fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/net/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Linux accepts fragmented ND on `iface` (rsdr inspects no fragments).
fn accepts_fragmented_nd(iface: &str) -> bool {
    sysctl(&format!("ipv6/conf/{iface}/suppress_frag_ndisc")).as_deref() == Some("0")
}

fn command_lines(cmd: &str, args: &[&str]) -> Option<Vec<String>> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
}

/// Run every check. `config` adds the checks against a configuration file.
pub async fn diagnose(pins: &PinDir, config: Option<&Config>) -> Vec<Finding> {
    let mut out = Vec::new();
    kernel(&mut out);
    if std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        out.push(f("btf", Level::Ok, "/sys/kernel/btf/vmlinux present"));
    } else {
        out.push(f(
            "btf",
            Level::Info,
            "no kernel BTF (rsdr does not need it)",
        ));
    }
    match pins.check_bpffs() {
        Ok(()) => out.push(f(
            "bpffs",
            Level::Ok,
            format!("{} is on bpffs", pins.root().display()),
        )),
        Err(e) => out.push(f("bpffs", Level::Fail, e.to_string())),
    }

    let mut attached: Vec<String> = Vec::new();
    let mut entries: Vec<VipEntry> = Vec::new();
    if pins.is_loaded() {
        match status::read(pins) {
            Ok(st) => {
                if st.interfaces.is_empty() {
                    out.push(f(
                        "attached",
                        Level::Warn,
                        "rsdr is loaded but attached to no interface",
                    ));
                }
                for i in &st.interfaces {
                    let hooks: Vec<String> = i
                        .hooks
                        .iter()
                        .map(|h| format!("{} {}", h.describe(), h.direction))
                        .collect();
                    let (level, state) = if i.healthy {
                        (Level::Ok, "filtering".to_string())
                    } else if i.ifindex.is_none() {
                        (Level::Fail, "interface gone".to_string())
                    } else {
                        (Level::Fail, "degraded: run `rsdr attach` again".to_string())
                    };
                    out.push(f(
                        format!("interface {}", i.name),
                        level,
                        format!("{state}: {}", hooks.join(", ")),
                    ));
                    attached.push(i.renamed_to.clone().unwrap_or_else(|| i.name.clone()));
                }
                if st.monitor {
                    out.push(f(
                        "monitor",
                        Level::Warn,
                        "global monitor mode is on: nothing is enforced",
                    ));
                }
            }
            Err(e) => out.push(f("attached", Level::Fail, e.to_string())),
        }
        match VipTables::open(pins).and_then(|t| t.entries()) {
            Ok(e) => {
                out.push(f(
                    "vips",
                    Level::Ok,
                    format!("{} VIP(s) and pool(s) configured", e.len()),
                ));
                entries = e;
            }
            Err(e) => out.push(f("vips", Level::Fail, e.to_string())),
        }
    } else {
        out.push(f(
            "attached",
            Level::Warn,
            format!("nothing attached under {}", pins.root().display()),
        ));
    }

    for iface in attached.iter().filter(|i| accepts_fragmented_nd(i)) {
        out.push(f(
            format!("sysctl {iface}"),
            Level::Warn,
            format!(
                "suppress_frag_ndisc=0: the kernel accepts Neighbor Discovery in fragments, which rsdr does not inspect; set net.ipv6.conf.{iface}.suppress_frag_ndisc=1 (the default)"
            ),
        ));
    }
    for conf in ["all", "default"]
        .into_iter()
        .map(String::from)
        .chain(attached.iter().cloned())
    {
        let vals: Vec<String> = ["arp_ignore", "arp_announce", "arp_notify"]
            .iter()
            .filter_map(|k| sysctl(&format!("ipv4/conf/{conf}/{k}")).map(|v| format!("{k}={v}")))
            .collect();
        if !vals.is_empty() {
            out.push(f(
                format!("sysctl {conf}"),
                Level::Info,
                format!("{} (rsdr does not rely on them)", vals.join(" ")),
            ));
        }
    }
    if let Some(lines) = command_lines("arptables-save", &[]) {
        let rules = lines.iter().filter(|l| l.starts_with("-A")).count();
        if rules > 0 {
            out.push(f("arptables", Level::Warn, format!("{rules} arptables rule(s) also act on ARP; `rsdr import arptables` converts them, then remove them")));
        } else {
            out.push(f("arptables", Level::Ok, "no arptables rules"));
        }
    }
    if let Some(lines) = command_lines("nft", &["list", "tables", "arp"]) {
        let tables: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("table arp"))
            .collect();
        if tables.is_empty() {
            out.push(f("nft arp", Level::Ok, "no nftables arp tables"));
        } else {
            out.push(f(
                "nft arp",
                Level::Warn,
                format!(
                    "nftables arp table(s) also act on ARP: {}",
                    tables
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }

    let handle = match netlink::connect() {
        Ok(h) => h,
        Err(e) => {
            out.push(f("addresses", Level::Fail, e.to_string()));
            return out;
        }
    };
    let (Ok(all), Ok(links)) = (addresses::list(&handle).await, links::list(&handle).await) else {
        out.push(f(
            "addresses",
            Level::Fail,
            "cannot list addresses and links over netlink",
        ));
        return out;
    };
    let vips: Vec<Vip> = entries.iter().map(|e| e.vip).collect();
    vip_placement(&mut out, &vips, &all, &links, &attached, config);
    foreign_reals(&mut out, &entries, &all);
    if let Some(cfg) = config {
        vrrp_unknown(&mut out, cfg, pins, &all);
    }
    out
}

/// VIPs that follow a VRRP instance rsdr does not know as MASTER while
/// another tool holds them on a filtered interface (keepalived does as
/// master): after a detach, or with keepalived started before rsdr, the
/// master filters its own VIP until keepalived writes a state again.
fn vrrp_unknown(out: &mut Vec<Finding>, cfg: &Config, pins: &PinDir, all: &[DevAddr]) {
    let masters = crate::vrrp::record::masters(pins).unwrap_or_default();
    for v in &cfg.vips {
        let Some(i) = v.vrrp_instance.as_ref().filter(|i| !masters.contains(*i)) else {
            continue;
        };
        let held: Vec<String> = all
            .iter()
            .filter(|d| {
                !d.managed
                    && v.entry.vip.covers(d.addr)
                    && cfg.interfaces.iter().any(|x| x.name == d.dev)
            })
            .map(|d| d.dev.clone())
            .collect();
        if !held.is_empty() {
            out.push(f(
                format!("vip {}", v.entry.vip),
                Level::Warn,
                format!(
                    "held on {} (by keepalived as master?) but VRRP instance {i} is not master to rsdr: it stays filtered; `rsdr vrrp {i} master`, or restart keepalived",
                    held.join(", ")
                ),
            ));
        }
    }
}

/// Real IPs in the tables that no interface of this host holds: rsdr
/// announces them in place of their VIPs.
fn foreign_reals(out: &mut Vec<Finding>, entries: &[VipEntry], all: &[DevAddr]) {
    for e in entries
        .iter()
        .filter(|e| !all.iter().any(|d| d.addr == e.real))
    {
        out.push(f(
            format!("vip {}", e.vip),
            Level::Fail,
            format!(
                "real IP {} is not an address of this host: its ARP/ND goes out announcing an address another host may hold",
                e.real
            ),
        ));
    }
}

fn vip_placement(
    out: &mut Vec<Finding>,
    vips: &[Vip],
    all: &[DevAddr],
    links: &[Link],
    attached: &[String],
    config: Option<&Config>,
) {
    let held: Vec<&DevAddr> = all
        .iter()
        .filter(|a| vips.iter().any(|v| v.covers(a.addr)))
        .collect();
    for v in vips {
        if let Vip::Addr(a) = v {
            match all.iter().find(|d| d.addr == *a) {
                Some(d) => out.push(f(
                    format!("vip {a}"),
                    Level::Ok,
                    format!("on {}, filtered", d.dev),
                )),
                None => out.push(f(
                    format!("vip {a}"),
                    Level::Warn,
                    "configured, but on no device: this server will not accept its traffic",
                )),
            }
        }
    }
    if let Some(cfg) = config {
        for v in &cfg.vips {
            if let (Some(i), None) = (&v.vrrp_instance, &v.manage_address) {
                out.push(f(
                    format!("vip {}", v.entry.vip),
                    Level::Warn,
                    format!(
                        "follows VRRP instance {i} without manage_address: a copy held on lo by other means stays answered between keepalived removing the VIP and rsdr filtering it (docs/two-node.md)"
                    ),
                ));
            }
        }
        let table: HashSet<Vip> = vips.iter().copied().collect();
        for v in cfg.vips.iter().map(|v| v.entry) {
            if table.contains(&v.vip) {
                continue;
            }
            let present: Vec<String> = all
                .iter()
                .filter(|d| v.vip.covers(d.addr))
                .map(|d| format!("{} on {}", d.addr, d.dev))
                .collect();
            if present.is_empty() {
                out.push(f(
                    format!("vip {}", v.vip),
                    Level::Warn,
                    format!(
                        "in {} but not in rsdr's tables (run rsdr apply)",
                        cfg.path.display()
                    ),
                ));
            } else {
                out.push(f(
                    format!("vip {}", v.vip),
                    Level::Fail,
                    format!(
                        "UNFILTERED: {} held but not in rsdr's tables (run rsdr apply)",
                        present.join(", ")
                    ),
                ));
            }
        }
    }
    if !held.is_empty() {
        let open: Vec<&str> = links
            .iter()
            .filter(|l| l.up && !l.loopback && !attached.contains(&l.name))
            .map(|l| l.name.as_str())
            .collect();
        if attached.is_empty() {
            out.push(f(
                "coverage",
                Level::Fail,
                "VIPs are held on this host but rsdr is attached to no interface",
            ));
        } else if !open.is_empty() {
            out.push(f(
                "coverage",
                Level::Warn,
                format!(
                    "VIPs are held here; up interfaces without rsdr may answer ARP for them: {}",
                    open.join(", ")
                ),
            ));
        } else {
            out.push(f("coverage", Level::Ok, "every up interface is attached"));
        }
    }
}

/// True when nothing calls for action (only ok and info).
pub fn all_well(findings: &[Finding]) -> bool {
    findings
        .iter()
        .all(|x| matches!(x.level, Level::Ok | Level::Info))
}
