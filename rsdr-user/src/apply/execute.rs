//! Carrying out a plan: each step, and the inverse steps that undo it if a
//! later one fails.

use std::collections::HashSet;

use super::{ApplyError, Step};
use crate::{
    attach::{self, AttachError, AttachOptions, Outcome, Target},
    features,
    hook::{HookChoice, WantedHooks},
    iface,
    loader::LoadOptions,
    netlink::addresses,
    pins::LockedPins,
    settings::SettingsHandle,
    tables::VipTables,
    vip::Vip,
};

/// Set to a step number (1-based) to make that step fail, to exercise
/// rollback in tests. Read only by builds with the `testing` feature (the
/// tests'), never by the shipped binary.
#[cfg(feature = "testing")]
pub const FAIL_AT_STEP_ENV: &str = "RSDR_TEST_FAIL_AT_STEP";

/// Carry out `steps`, undoing the done ones if one fails. `load` sizes the
/// maps if an attach creates them; `was_loaded` says whether rsdr's maps
/// existed before (a first apply that fails leaves no pins behind). `say`
/// receives each step done.
pub async fn execute(
    pins: &LockedPins<'_>,
    load: LoadOptions,
    netlink: &rtnetlink::Handle,
    steps: Vec<Step>,
    was_loaded: bool,
    say: &mut dyn FnMut(String),
) -> Result<usize, ApplyError> {
    #[cfg(feature = "testing")]
    let fail_at: Option<usize> = std::env::var(FAIL_AT_STEP_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    #[cfg(not(feature = "testing"))]
    let fail_at: Option<usize> = None;
    let mut undo: Vec<Step> = Vec::new();
    let n = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let result = if fail_at == Some(i + 1) {
            Err(ApplyError::Injected(i + 1))
        } else {
            run(pins, load, netlink, &step).await
        };
        let source = match result {
            Ok(inverse) => {
                say(step.to_string());
                undo.extend(inverse);
                continue;
            }
            Err(source) => source,
        };
        let mut rollback = Ok(());
        for inv in undo.into_iter().rev() {
            if let Err(e) = run(pins, load, netlink, &inv).await {
                rollback = Err(e);
                break;
            }
        }
        if !was_loaded && pins.is_loaded() && rollback.is_ok() {
            let _ = attach::detach(pins, &[]);
            let _ = pins.remove_all();
        }
        let (step, what, cause) = (i + 1, step.summary(), Box::new(source));
        return Err(match rollback {
            Ok(()) => ApplyError::RolledBack {
                step,
                what,
                undone: i,
                cause,
            },
            Err(e) => ApplyError::RollbackFailed {
                step,
                what,
                cause,
                rollback: Box::new(e),
            },
        });
    }
    Ok(n)
}

/// Carry out one step; its inverse steps on success.
async fn run(
    pins: &LockedPins<'_>,
    load: LoadOptions,
    netlink: &rtnetlink::Handle,
    step: &Step,
) -> Result<Vec<Step>, ApplyError> {
    // Exactly the hooks an interface had, to put them back.
    let exactly = |(ingress, egress): (crate::hook::IngressAttachment, _)| WantedHooks {
        ingress: ingress.wanted(),
        egress,
    };
    Ok(match step {
        Step::Attach { name, hooks } => {
            let target = Target::named(name).map_err(AttachError::from)?;
            let opts = AttachOptions {
                hooks: *hooks,
                load,
            };
            // An interface with pins already was only repaired: undoing
            // that would leave it less filtered than before.
            let fresh = !pins.iface_dir(name).exists();
            let out = attach::attach(pins, &[target], opts)?;
            match out.first().map(|o| &o.outcome) {
                Some(Outcome::Attached {
                    ingress, egress, ..
                }) if fresh => vec![Step::Detach {
                    name: name.clone(),
                    hooks: Some((*ingress, *egress)),
                }],
                _ => Vec::new(),
            }
        }
        Step::ChangeHooks { name, hooks, from } => {
            let now = match attach::change_hooks(pins, name, *hooks, load)? {
                Outcome::Attached {
                    ingress, egress, ..
                }
                | Outcome::AlreadyAttached { ingress, egress } => (ingress, egress),
                Outcome::AlreadyAttachedAs { ingress, .. } => (ingress, hooks.egress),
            };
            vec![Step::ChangeHooks {
                name: name.clone(),
                hooks: exactly(*from),
                from: now,
            }]
        }
        Step::Detach { name, hooks } => {
            attach::detach(pins, std::slice::from_ref(name))?;
            let tcx = features::probe().tcx;
            vec![Step::Attach {
                name: name.clone(),
                hooks: hooks.map_or(HookChoice::default().resolve(tcx), exactly),
            }]
        }
        Step::PutVips { entries, previous } => {
            VipTables::open(pins)?.put(entries)?;
            let updated: HashSet<Vip> = previous.iter().map(|e| e.vip).collect();
            let added: Vec<_> = entries
                .iter()
                .filter(|e| !updated.contains(&e.vip))
                .copied()
                .collect();
            let mut inverse = Vec::new();
            if !added.is_empty() {
                inverse.push(Step::RemoveVips { entries: added });
            }
            if !previous.is_empty() {
                inverse.push(Step::PutVips {
                    entries: previous.clone(),
                    previous: Vec::new(),
                });
            }
            inverse
        }
        Step::RemoveVips { entries } => {
            let vips: Vec<_> = entries.iter().map(|e| e.vip).collect();
            VipTables::open(pins)?.remove(&vips)?;
            vec![Step::PutVips {
                entries: entries.clone(),
                previous: Vec::new(),
            }]
        }
        Step::Monitor { on } => {
            SettingsHandle::open(pins)?.set_monitor(*on);
            vec![Step::Monitor { on: !*on }]
        }
        Step::AddAddr { addr, dev } => {
            addresses::add(netlink, *addr, dev).await?;
            vec![Step::DelAddr {
                addr: *addr,
                dev: dev.clone(),
            }]
        }
        Step::DelAddr { addr, dev } => {
            let ifindex = iface::index(dev).map_err(AttachError::from)?;
            addresses::del(netlink, *addr, ifindex).await?;
            vec![Step::AddAddr {
                addr: *addr,
                dev: dev.clone(),
            }]
        }
    })
}
