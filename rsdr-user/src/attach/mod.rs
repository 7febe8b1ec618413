//! Attaching the pinned programs to interfaces and detaching them.
//!
//! [`attach`] is transactional: every interface is checked first, new
//! attachments are made unpinned (so they vanish if anything fails) and
//! pinned only once all of them exist. An interface whose hooks are
//! already pinned and live is left alone. `hooks.rs` attaches one hook by
//! either mechanism (a BPF link, or netlink) and finds, describes and
//! removes it by its pin; `detach.rs` removes interfaces; `change.rs`
//! moves an interface to other hooks without a moment unfiltered.

mod change;
mod detach;
mod hooks;
mod swap;

use std::{collections::HashSet, fs, io, path::PathBuf};

pub use change::change_hooks;
pub use detach::{detach, detach_interfaces};
use hooks::{Attached, attach_tc, attach_xdp};
pub use hooks::{HookState, Position, is_live, state as hook_state};
pub use swap::{NewPrograms, repin, swap_programs};
use thiserror::Error;

use crate::{
    hook::{IngressAttachment, Via, WantedHooks, WantedIngress},
    iface::{self, IfaceError},
    loader::{self, LoadError, LoadOptions, Programs},
    netlink::tc_filter::Direction,
    pins::{LockedPins, PinDir, PinError},
};

/// What an attach asks for: the hooks, and the table sizes if the maps are
/// created now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachOptions {
    pub hooks: WantedHooks,
    pub load: LoadOptions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Hooks attached now. `fallback` explains why skb mode was used in `auto`.
    Attached {
        ingress: IngressAttachment,
        egress: Via,
        fallback: Option<String>,
    },
    /// Both hooks were already pinned and live; nothing was done.
    AlreadyAttached {
        ingress: IngressAttachment,
        egress: Via,
    },
    /// rsdr already filters this interface, pinned under its former name.
    AlreadyAttachedAs {
        ingress: IngressAttachment,
        pinned_as: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceOutcome {
    pub iface: String,
    pub outcome: Outcome,
}

/// An interface to attach to: its name and the index it had when checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub ifindex: u32,
}

impl Target {
    /// The interface called `name` now; it must be an Ethernet device.
    pub fn named(name: &str) -> Result<Self, IfaceError> {
        let ifindex = iface::index(name)?;
        iface::require_ethernet(name)?;
        Ok(Self {
            name: name.to_string(),
            ifindex,
        })
    }
}

#[derive(Debug, Error)]
pub enum AttachError {
    #[error("no interface given")]
    NoInterface,
    #[error("interface {0} is given more than once")]
    Duplicate(String),
    #[error(transparent)]
    Iface(#[from] IfaceError),
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{iface}: cannot attach XDP in {mode} mode: {reason}")]
    Xdp {
        iface: String,
        mode: &'static str,
        reason: String,
    },
    #[error("{iface}: cannot attach TC {direction}: {reason}")]
    Tc {
        iface: String,
        direction: &'static str,
        reason: String,
    },
    #[error("{iface}: cannot pin link at {path}: {reason}")]
    PinLink {
        iface: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{0} is not attached")]
    NotAttached(String),
    #[error("swapping in the new programs: {what}: {reason}")]
    Swap { what: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Attach rsdr to the interfaces `names`, loading and pinning the programs
/// first if needed: checks the names, takes the lock, and [`attach`]es.
pub fn attach_interfaces(
    pins: &PinDir,
    names: &[String],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    if names.is_empty() {
        return Err(AttachError::NoInterface);
    }
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(AttachError::Duplicate(name.clone()));
        }
        targets.push(Target::named(name)?);
    }
    opts.load.validate()?;
    pins.check_bpffs()?;
    attach(&pins.lock()?, &targets, opts)
}

/// Attach rsdr to checked `targets`. If this run creates the pin
/// directory and fails, it removes it again (only this run may: nothing
/// else used it yet).
pub fn attach(
    pins: &LockedPins<'_>,
    targets: &[Target],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    let fresh = !pins.is_loaded();
    pins.create_dirs()?;
    let result = attach_all(pins, targets, opts);
    if result.is_err() && fresh {
        let _ = pins.remove_all();
    }
    result
}

/// A hook attached but not pinned yet: dropping it detaches it again.
struct Pending {
    iface: String,
    attached: Attached,
    path: PathBuf,
}

/// Attach the ingress hook `wanted` asks for to `target`.
pub(super) fn attach_ingress(
    progs: &mut Programs,
    target: &Target,
    wanted: WantedIngress,
) -> Result<(Attached, IngressAttachment, Option<String>), AttachError> {
    match wanted {
        WantedIngress::Tc(via) => {
            let a = attach_tc(
                &mut progs.tc_ingress,
                TC_INGRESS,
                target,
                Direction::Ingress,
                via,
            )?;
            let hook = crate::hook::AttachedIngress::Tc;
            Ok((a, IngressAttachment { hook, via }, None))
        }
        WantedIngress::Xdp { mode, attach } => {
            let (a, hook, fallback) = attach_xdp(&mut progs.xdp, target, mode, attach)?;
            let via = a.via();
            Ok((a, IngressAttachment { hook, via }, fallback))
        }
    }
}

/// Attach TC egress to `target` by `via`.
pub(super) fn attach_egress(
    progs: &mut Programs,
    target: &Target,
    via: Via,
) -> Result<Attached, AttachError> {
    attach_tc(
        &mut progs.tc_egress,
        TC_EGRESS,
        target,
        Direction::Egress,
        via,
    )
}

const TC_INGRESS: &str = rsdr_common::maps::programs::TC_INGRESS;
const TC_EGRESS: &str = rsdr_common::maps::programs::TC_EGRESS;

fn attach_all(
    pins: &LockedPins<'_>,
    targets: &[Target],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    let mut progs = loader::pinned_programs(pins, opts.load)?;
    let mut pending = Vec::new();
    let mut stale = Vec::new();
    let mut outcomes = Vec::new();
    for target in targets {
        let name = &target.name;
        if let Some(owner) = renamed_owner(pins, name, target.ifindex)? {
            let ingress = pins
                .find_ingress(&owner)
                .map(|(_, a)| a)
                .unwrap_or(IngressAttachment {
                    hook: crate::hook::AttachedIngress::XdpNative,
                    via: Via::Link,
                });
            outcomes.push(IfaceOutcome {
                iface: name.clone(),
                outcome: Outcome::AlreadyAttachedAs {
                    ingress,
                    pinned_as: owner,
                },
            });
            continue;
        }
        let live = |path: &PathBuf, position, via| is_live(path, position, via, target.ifindex);
        let egress_live = match pins.find_egress(name) {
            Some((path, via)) if live(&path, Position::Egress, via) => Some(via),
            Some((path, _)) => {
                stale.push(path);
                None
            }
            None => None,
        };
        let egress = match egress_live {
            Some(via) => via,
            None => {
                let attached = attach_egress(&mut progs, target, opts.hooks.egress)?;
                let via = attached.via();
                pending.push(Pending {
                    iface: name.clone(),
                    attached,
                    path: pins.egress_pin(name, via),
                });
                via
            }
        };
        let existing = pins.find_ingress(name);
        let ingress_live = existing
            .as_ref()
            .filter(|(p, a)| live(p, Position::Ingress(a.hook), a.via))
            .map(|(_, a)| *a);
        let outcome = match ingress_live {
            Some(ingress) if egress_live.is_some() => Outcome::AlreadyAttached { ingress, egress },
            Some(ingress) => Outcome::Attached {
                ingress,
                egress,
                fallback: None,
            },
            None => {
                if let Some((p, _)) = existing {
                    stale.push(p);
                }
                let (attached, ingress, fallback) =
                    attach_ingress(&mut progs, target, opts.hooks.ingress)?;
                pending.push(Pending {
                    iface: name.clone(),
                    attached,
                    path: pins.ingress_pin(name, ingress),
                });
                Outcome::Attached {
                    ingress,
                    egress,
                    fallback,
                }
            }
        };
        outcomes.push(IfaceOutcome {
            iface: name.clone(),
            outcome,
        });
    }
    for path in stale {
        let _ = fs::remove_file(path);
    }
    pin_all(pins, pending)?;
    Ok(outcomes)
}

/// Commit: pin every new hook, then keep them all; if one fails, those
/// pinned so far are unpinned and every one detaches again.
fn pin_all(pins: &PinDir, pending: Vec<Pending>) -> Result<(), AttachError> {
    let mut pinned = Vec::new();
    let mut created: Vec<PathBuf> = Vec::new();
    for Pending {
        iface,
        attached,
        path,
    } in pending
    {
        let dir = pins.iface_dir(&iface);
        if !dir.exists() {
            created.push(dir.clone());
        }
        let res =
            std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o755)
                .create(&dir)
                .map_err(|e| e.to_string())
                .and_then(|()| attached.pin(&path));
        match res {
            Ok(p) => pinned.push(p),
            Err(reason) => {
                drop(pinned);
                for d in &created {
                    let _ = fs::remove_dir(d);
                }
                return Err(AttachError::PinLink {
                    iface,
                    path,
                    reason,
                });
            }
        }
    }
    pinned.into_iter().for_each(hooks::Pinned::commit);
    Ok(())
}

/// The pinned name under which rsdr already filters interface `ifindex`, if
/// that is not `name` (the interface was renamed since it was attached:
/// its links follow the device).
fn renamed_owner(pins: &PinDir, name: &str, ifindex: u32) -> Result<Option<String>, AttachError> {
    for other in pins.interfaces()? {
        if other == name {
            continue;
        }
        if let Some((path, a)) = pins.find_ingress(&other)
            && a.via == Via::Link
            && is_live(&path, Position::Ingress(a.hook), a.via, ifindex)
        {
            return Ok(Some(other));
        }
    }
    Ok(None)
}
