//! The plan: what must change to get from the running state to the
//! configuration, as ordered steps. A pure function of the two, so it is
//! tested without a kernel.

use std::collections::{HashMap, HashSet};

use super::{Current, Step};
use crate::{config::Config, entry::VipEntry, vip::Vip};

/// The steps from `cur` to `cfg`, in the safe order (see the module docs of
/// `apply`). Addresses already there but not rsdr's are left alone.
///
/// An interface of `cfg` that does not exist (yet, or any more: only `rsdr
/// run` reads such a configuration) is waited for: nothing is attached to
/// it, and while any (or a `manage_address` device) is missing, rsdr holds
/// no managed address (they are withdrawn), so that when the interface
/// appears it is filtered before any VIP is held again.
pub fn plan(cfg: &Config, cur: &Current) -> Vec<Step> {
    let mut steps = Vec::new();
    let wanted_managed = cfg.managed_addresses(&cur.vrrp_masters);
    let waiting = cfg
        .interfaces
        .iter()
        .map(|i| &i.name)
        .chain(wanted_managed.iter().map(|(_, dev)| dev))
        .any(|name| !cur.present.contains(name));
    let attached: HashMap<&str, _> = cur
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.ingress.zip(i.egress)))
        .collect();
    for want in cfg
        .interfaces
        .iter()
        .filter(|i| cur.present.contains(&i.name))
    {
        let (name, hooks) = (want.name.clone(), want.hooks.resolve(cur.tcx));
        match attached.get(want.name.as_str()) {
            None | Some(None) => steps.push(Step::Attach { name, hooks }),
            Some(Some((ingress, egress)))
                if !hooks.accepts_ingress(*ingress) || *egress != hooks.egress =>
            {
                steps.push(Step::ChangeHooks {
                    name,
                    hooks,
                    from: (*ingress, *egress),
                })
            }
            Some(Some(_)) => {}
        }
    }
    let now: HashMap<Vip, &VipEntry> = cur.vips.iter().map(|e| (e.vip, e)).collect();
    let mut put = Vec::new();
    let mut previous = Vec::new();
    for e in cfg.entries(&cur.vrrp_masters) {
        match now.get(&e.vip) {
            Some(old) if **old == e => {}
            Some(old) => {
                put.push(e);
                previous.push(**old);
            }
            None => put.push(e),
        }
    }
    if !put.is_empty() {
        steps.push(Step::PutVips {
            entries: put,
            previous,
        });
    }
    if cfg.monitor != cur.monitor {
        steps.push(Step::Monitor { on: cfg.monitor });
    }
    let wanted = if waiting { Vec::new() } else { wanted_managed };
    for (addr, dev) in &wanted {
        if !cur
            .addresses
            .iter()
            .any(|a| a.addr == *addr && a.dev == *dev)
        {
            steps.push(Step::AddAddr {
                addr: *addr,
                dev: dev.clone(),
            });
        }
    }
    for m in cur.addresses.iter().filter(|a| a.managed) {
        if !wanted.iter().any(|(a, d)| *a == m.addr && *d == m.dev) {
            steps.push(Step::DelAddr {
                addr: m.addr,
                dev: m.dev.clone(),
            });
        }
    }
    let keep: HashSet<Vip> = cfg.vips.iter().map(|v| v.entry.vip).collect();
    let gone: Vec<VipEntry> = cur
        .vips
        .iter()
        .filter(|e| !keep.contains(&e.vip))
        .copied()
        .collect();
    if !gone.is_empty() {
        steps.push(Step::RemoveVips { entries: gone });
    }
    let names: HashSet<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
    for i in &cur.interfaces {
        if !names.contains(i.name.as_str()) {
            steps.push(Step::Detach {
                name: i.name.clone(),
                hooks: i.ingress.zip(i.egress),
            });
        }
    }
    steps
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
