//! `rsdr apply`: bring the pinned state to what a configuration says.
//!
//! Everything is checked before anything changes ([`crate::config`] checks
//! the file; the plan is computed against the running state). The plan is
//! printed as a diff and then carried out step by step, in an order that
//! never leaves a VIP unfiltered:
//!
//! 1. attach new interfaces and change ingress hooks (filter first);
//! 2. add and update VIPs, then the monitor switch;
//! 3. add managed VIP addresses (only now are they covered);
//! 4. remove managed addresses that go (before their filter entries);
//! 5. remove VIPs that go;
//! 6. detach interfaces that go.
//!
//! Each step records its inverse; if one fails, the steps done so far are
//! undone in reverse order. A second run of the same file finds nothing to
//! do.

mod plan;

use std::{collections::HashMap, net::IpAddr};

pub use plan::{Current, Step, plan};
use thiserror::Error;

use crate::{
    addrs::{self, AddrsError},
    attach::{self, AttachError, AttachOptions},
    config::Config,
    pins::{Ingress, PinDir, PinError},
    vips::{Entry, VipError, VipTables},
};

/// Set to a step number (1-based) to make that step fail, to exercise
/// rollback in tests. Never set it otherwise.
pub const FAIL_AT_STEP_ENV: &str = "RSDR_TEST_FAIL_AT_STEP";

#[derive(Debug, Error)]
pub enum ApplyError {
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Vips(#[from] VipError),
    #[error(transparent)]
    Addrs(#[from] AddrsError),
    #[error("injected failure at step {0} ({FAIL_AT_STEP_ENV})")]
    Injected(usize),
    #[error(
        "step {step} ({what}) failed: {cause}; the {undone} step(s) done before it were rolled back"
    )]
    RolledBack {
        step: usize,
        what: String,
        undone: usize,
        cause: Box<ApplyError>,
    },
    #[error("step {step} ({what}) failed: {cause}; rolling back also failed: {rollback}")]
    RollbackFailed {
        step: usize,
        what: String,
        cause: Box<ApplyError>,
        rollback: Box<ApplyError>,
    },
}

/// Read what is running now.
pub async fn current(pins: &PinDir, handle: &rtnetlink::Handle) -> Result<Current, ApplyError> {
    let addresses = addrs::list(handle).await?;
    if !pins.is_loaded() {
        return Ok(Current {
            loaded: false,
            interfaces: Vec::new(),
            vips: Vec::new(),
            monitor: false,
            addresses,
        });
    }
    let tables = VipTables::open(pins)?;
    let interfaces = pins
        .interfaces()?
        .into_iter()
        .map(|name| {
            let hook = pins.find_ingress_link(&name).map(|(_, h)| h);
            (name, hook)
        })
        .collect();
    Ok(Current {
        loaded: true,
        interfaces,
        vips: tables.entries()?,
        monitor: tables.monitor()?,
        addresses,
    })
}

/// Carry out `steps` (holding the pin-directory lock), undoing the done
/// ones if one fails. `say` receives one line per step done.
pub async fn execute(
    pins: &PinDir,
    cfg: &Config,
    handle: &rtnetlink::Handle,
    steps: Vec<Step>,
    was_loaded: bool,
    mut say: impl FnMut(String),
) -> Result<usize, ApplyError> {
    let fail_at: Option<usize> = std::env::var(FAIL_AT_STEP_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let mut undo: Vec<Step> = Vec::new();
    let n = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let what = step.to_string();
        let result = if fail_at == Some(i + 1) {
            Err(ApplyError::Injected(i + 1))
        } else {
            run(pins, cfg, handle, &step).await
        };
        match result {
            Ok(inverse) => {
                say(what);
                undo.extend(inverse);
            }
            Err(source) => {
                let summary = step.summary();
                let undone = i;
                let mut rollback = Ok(());
                for inv in undo.into_iter().rev() {
                    if let Err(e) = run(pins, cfg, handle, &inv).await {
                        rollback = Err(e);
                        break;
                    }
                }
                // A first apply that failed leaves no pins behind.
                if !was_loaded && pins.is_loaded() && rollback.is_ok() {
                    let _ = attach::detach_unlocked(pins, &[]).map_err(ApplyError::from);
                    let _ = pins.remove_all();
                }
                return Err(match rollback {
                    Ok(()) => ApplyError::RolledBack {
                        step: i + 1,
                        what: summary,
                        undone,
                        cause: Box::new(source),
                    },
                    Err(e) => ApplyError::RollbackFailed {
                        step: i + 1,
                        what: summary,
                        cause: Box::new(source),
                        rollback: Box::new(e),
                    },
                });
            }
        }
    }
    Ok(n)
}

fn opts_for(cfg: &Config, ingress: Option<Ingress>) -> AttachOptions {
    use crate::attach::{IngressChoice, XdpModeChoice};
    let (i, m) = match ingress {
        Some(Ingress::Tc) => (IngressChoice::Tc, XdpModeChoice::Auto),
        Some(Ingress::XdpSkb) => (IngressChoice::Xdp, XdpModeChoice::Skb),
        Some(Ingress::XdpNative) => (IngressChoice::Xdp, XdpModeChoice::Native),
        None => (IngressChoice::Xdp, XdpModeChoice::Auto),
    };
    AttachOptions {
        ingress: i,
        mode: m,
        load: cfg.load,
    }
}

/// Carry out one step; its inverse steps on success.
async fn run(
    pins: &PinDir,
    cfg: &Config,
    handle: &rtnetlink::Handle,
    step: &Step,
) -> Result<Vec<Step>, ApplyError> {
    Ok(match step {
        Step::Attach { spec } => {
            let ifindex = crate::iface::index(&spec.name).map_err(AttachError::from)?;
            let opts = AttachOptions {
                ingress: spec.ingress,
                mode: spec.mode,
                load: cfg.load,
            };
            let out = attach::attach_unlocked(pins, &[(spec.name.clone(), ifindex)], opts)?;
            let hook = match out.first().map(|o| &o.outcome) {
                Some(attach::Outcome::Attached { ingress, .. }) => Some(*ingress),
                _ => None,
            };
            vec![Step::Detach {
                name: spec.name.clone(),
                hook,
            }]
        }
        Step::ChangeIngress { spec, from } => {
            let opts = AttachOptions {
                ingress: spec.ingress,
                mode: spec.mode,
                load: cfg.load,
            };
            attach::change_ingress_unlocked(pins, &spec.name, opts)?;
            let mut back = spec.clone();
            let o = opts_for(cfg, Some(*from));
            back.ingress = o.ingress;
            back.mode = o.mode;
            vec![Step::ChangeIngress {
                spec: back,
                from: *from,
            }]
        }
        Step::Detach { name, hook } => {
            attach::detach_unlocked(pins, std::slice::from_ref(name))?;
            let o = opts_for(cfg, *hook);
            vec![Step::Attach {
                spec: crate::config::IfaceSpec {
                    name: name.clone(),
                    ingress: o.ingress,
                    mode: o.mode,
                },
            }]
        }
        Step::PutVips { items, previous } => {
            let mut tables = VipTables::open(pins)?;
            tables.add_many(items)?;
            let prev: HashMap<_, &Entry> = previous.iter().map(|e| (e.vip, e)).collect();
            let added: Vec<Entry> = items
                .iter()
                .filter(|(v, _, _)| !prev.contains_key(v))
                .map(|(v, r, f)| Entry {
                    vip: *v,
                    real: *r,
                    flags: *f,
                    counters: [0; rsdr_common::counters::VIP_COUNTER_SLOTS],
                })
                .collect();
            let mut inv = Vec::new();
            if !added.is_empty() {
                inv.push(Step::RemoveVips { entries: added });
            }
            if !previous.is_empty() {
                inv.push(Step::PutVips {
                    items: previous.iter().map(|e| (e.vip, e.real, e.flags)).collect(),
                    previous: Vec::new(),
                });
            }
            inv
        }
        Step::RemoveVips { entries } => {
            let mut tables = VipTables::open(pins)?;
            tables.remove_many(&entries.iter().map(|e| e.vip).collect::<Vec<_>>())?;
            vec![Step::PutVips {
                items: entries.iter().map(|e| (e.vip, e.real, e.flags)).collect(),
                previous: Vec::new(),
            }]
        }
        Step::Monitor { on, was } => {
            VipTables::open(pins)?.set_monitor(*on)?;
            vec![Step::Monitor { on: *was, was: *on }]
        }
        Step::AddAddr { addr, dev } => {
            addrs::add(handle, *addr, dev).await?;
            vec![Step::DelAddr {
                addr: *addr,
                dev: dev.clone(),
            }]
        }
        Step::DelAddr { addr, dev } => {
            let ifindex = crate::iface::index(dev).map_err(AttachError::from)?;
            addrs::del(handle, *addr, ifindex).await?;
            vec![Step::AddAddr {
                addr: *addr,
                dev: dev.clone(),
            }]
        }
    })
}

/// The addresses of `cfg` that rsdr is to manage: (address, device).
pub fn managed_wanted(cfg: &Config) -> Vec<(IpAddr, String)> {
    cfg.vips
        .iter()
        .filter_map(|v| match (v.vip, &v.manage_address) {
            (crate::addr::VipSpec::Addr(a), Some(dev)) => Some((a, dev.clone())),
            _ => None,
        })
        .collect()
}
