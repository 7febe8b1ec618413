//! The plan: what must change to get from the running state to the
//! configuration, as ordered steps that print as a diff.

use std::{collections::HashMap, fmt, net::IpAddr};

use crate::{
    addr::VipSpec,
    addrs::DevAddr,
    attach::{AttachOptions, IngressChoice, XdpModeChoice},
    config::{Config, IfaceSpec},
    pins::Ingress,
    vips::Entry,
};

/// The running state, as far as a configuration describes it.
#[derive(Clone, Debug)]
pub struct Current {
    pub loaded: bool,
    /// Attached interfaces and their ingress hook (if its link is pinned).
    pub interfaces: Vec<(String, Option<Ingress>)>,
    pub vips: Vec<Entry>,
    pub monitor: bool,
    /// Every address of the namespace; those marked as rsdr's are `managed`.
    pub addresses: Vec<DevAddr>,
}

#[derive(Clone, Debug)]
pub enum Step {
    Attach {
        spec: IfaceSpec,
    },
    ChangeIngress {
        spec: IfaceSpec,
        from: Ingress,
    },
    /// Add or update these VIPs; `previous` holds the old state of those updated.
    PutVips {
        items: Vec<(VipSpec, IpAddr, u32)>,
        previous: Vec<Entry>,
    },
    Monitor {
        on: bool,
        was: bool,
    },
    AddAddr {
        addr: IpAddr,
        dev: String,
    },
    DelAddr {
        addr: IpAddr,
        dev: String,
    },
    RemoveVips {
        entries: Vec<Entry>,
    },
    Detach {
        name: String,
        hook: Option<Ingress>,
    },
}

fn flags_str(flags: u32) -> String {
    use rsdr_common::maps::{VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS};
    let mut f = Vec::new();
    if flags & VIP_F_MONITOR != 0 {
        f.push("monitor");
    }
    if flags & VIP_F_SHOW_CONFLICTS != 0 {
        f.push("show-conflicts");
    }
    if f.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.join(","))
    }
}

fn hook_str(spec: &IfaceSpec) -> String {
    match (spec.ingress, spec.mode) {
        (IngressChoice::Tc, _) => "tc ingress".into(),
        (IngressChoice::Xdp, XdpModeChoice::Auto) => "xdp".into(),
        (IngressChoice::Xdp, XdpModeChoice::Native) => "xdp native".into(),
        (IngressChoice::Xdp, XdpModeChoice::Skb) => "xdp skb".into(),
    }
}

impl Step {
    /// One line for an error message: the diff itself for a single change,
    /// a count for a batch (a 10,000-VIP step must not become the error).
    pub fn summary(&self) -> String {
        match self {
            Step::PutVips { items, previous } if items.len() > 3 => format!(
                "put {} VIP(s): {} new, {} changed",
                items.len(),
                items.len().saturating_sub(previous.len()),
                previous.len()
            ),
            Step::RemoveVips { entries } if entries.len() > 3 => {
                format!("remove {} VIP(s)", entries.len())
            }
            _ => self.to_string().replace('\n', "; "),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Attach { spec } => {
                write!(f, "+ attach {} ({}, tcx egress)", spec.name, hook_str(spec))
            }
            Step::ChangeIngress { spec, from } => write!(
                f,
                "~ {}: ingress {} -> {}",
                spec.name,
                from.as_str(),
                hook_str(spec)
            ),
            Step::PutVips { items, previous } => {
                let prev: HashMap<_, &Entry> = previous.iter().map(|e| (e.vip, e)).collect();
                let lines: Vec<String> = items
                    .iter()
                    .map(|(v, r, fl)| match prev.get(v) {
                        Some(e) if e.real != *r => {
                            format!("~ vip {v}: real {} -> {r}{}", e.real, flags_str(*fl))
                        }
                        Some(e) => format!(
                            "~ vip {v}: flags{} -> {}",
                            flags_str(e.flags).trim_end(),
                            flags_str(*fl).trim()
                        ),
                        None => format!("+ vip {v} -> {r}{}", flags_str(*fl)),
                    })
                    .collect();
                write!(f, "{}", lines.join("\n"))
            }
            Step::Monitor { on, .. } => write!(
                f,
                "~ monitor {}",
                if *on { "off -> on" } else { "on -> off" }
            ),
            Step::AddAddr { addr, dev } => write!(f, "+ address {addr} on {dev}"),
            Step::DelAddr { addr, dev } => write!(f, "- address {addr} on {dev}"),
            Step::RemoveVips { entries } => {
                let lines: Vec<String> = entries
                    .iter()
                    .map(|e| format!("- vip {} -> {}", e.vip, e.real))
                    .collect();
                write!(f, "{}", lines.join("\n"))
            }
            Step::Detach { name, .. } => write!(f, "- detach {name}"),
        }
    }
}

fn wants(spec: &IfaceSpec, cfg: &Config, hook: Ingress) -> bool {
    AttachOptions {
        ingress: spec.ingress,
        mode: spec.mode,
        load: cfg.load,
    }
    .wants(hook)
}

/// The steps from `cur` to `cfg`, in the safe order (see the module docs of
/// `apply`). Addresses already there but not rsdr's are left alone.
pub fn plan(cfg: &Config, cur: &Current) -> Vec<Step> {
    let mut steps = Vec::new();
    let attached: HashMap<&str, Option<Ingress>> = cur
        .interfaces
        .iter()
        .map(|(n, h)| (n.as_str(), *h))
        .collect();
    for spec in &cfg.interfaces {
        match attached.get(spec.name.as_str()) {
            None => steps.push(Step::Attach { spec: spec.clone() }),
            Some(Some(hook)) if !wants(spec, cfg, *hook) => steps.push(Step::ChangeIngress {
                spec: spec.clone(),
                from: *hook,
            }),
            Some(None) => steps.push(Step::Attach { spec: spec.clone() }),
            Some(Some(_)) => {}
        }
    }
    let now: HashMap<VipSpec, &Entry> = cur.vips.iter().map(|e| (e.vip, e)).collect();
    let mut put = Vec::new();
    let mut previous = Vec::new();
    for v in &cfg.vips {
        match now.get(&v.vip) {
            Some(e) if e.real == v.real && e.flags == v.flags => {}
            Some(e) => {
                put.push((v.vip, v.real, v.flags));
                previous.push((*e).clone());
            }
            None => put.push((v.vip, v.real, v.flags)),
        }
    }
    if !put.is_empty() {
        steps.push(Step::PutVips {
            items: put,
            previous,
        });
    }
    if cfg.monitor != cur.monitor {
        steps.push(Step::Monitor {
            on: cfg.monitor,
            was: cur.monitor,
        });
    }
    let wanted = super::managed_wanted(cfg);
    for (addr, dev) in &wanted {
        let idx = crate::iface::index(dev).ok();
        if !cur
            .addresses
            .iter()
            .any(|a| a.addr == *addr && Some(a.ifindex) == idx)
        {
            steps.push(Step::AddAddr {
                addr: *addr,
                dev: dev.clone(),
            });
        }
    }
    for m in cur.addresses.iter().filter(|a| a.managed) {
        let dev = m.dev();
        if !wanted.iter().any(|(a, d)| *a == m.addr && *d == dev) {
            steps.push(Step::DelAddr { addr: m.addr, dev });
        }
    }
    let keep: std::collections::HashSet<VipSpec> = cfg.vips.iter().map(|v| v.vip).collect();
    let gone: Vec<Entry> = cur
        .vips
        .iter()
        .filter(|e| !keep.contains(&e.vip))
        .cloned()
        .collect();
    if !gone.is_empty() {
        steps.push(Step::RemoveVips { entries: gone });
    }
    let names: std::collections::HashSet<&str> =
        cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
    for (name, hook) in &cur.interfaces {
        if !names.contains(name.as_str()) {
            steps.push(Step::Detach {
                name: name.clone(),
                hook: *hook,
            });
        }
    }
    steps
}
