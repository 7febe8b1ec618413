//! Attaching the pinned programs to interfaces and detaching them.
//!
//! [`attach`] is transactional: every interface is checked first, new
//! links are created unpinned (so they vanish if anything fails) and pinned
//! only once all of them exist. An interface whose links are already pinned
//! and live is left alone. `hooks.rs` creates the links, `detach.rs`
//! removes them, `change.rs` moves an interface to another ingress hook
//! without a moment unfiltered.

mod change;
mod detach;
mod hooks;

use std::{collections::HashSet, fs, io, path::PathBuf};

use aya::programs::{TcAttachType, links::FdLink};
pub use change::change_ingress;
pub use detach::{detach, detach_interfaces};
use thiserror::Error;

use crate::{
    hook::{AttachedIngress, HookChoice, IngressHook},
    iface::{self, IfaceError},
    loader::{self, LoadError, LoadOptions},
    pins::{LockedPins, PinDir, PinError},
};

/// What an attach asks for: the hooks, and the table sizes if the maps are
/// created now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttachOptions {
    pub hooks: HookChoice,
    pub load: LoadOptions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Links created now. `fallback` explains why skb mode was used in `auto`.
    Attached {
        ingress: AttachedIngress,
        fallback: Option<String>,
    },
    /// Both links were already pinned and live; nothing was done.
    AlreadyAttached { ingress: AttachedIngress },
    /// rsdr already filters this interface, pinned under its former name.
    AlreadyAttachedAs {
        ingress: AttachedIngress,
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
    /// The interface called `name` now.
    pub fn named(name: &str) -> Result<Self, IfaceError> {
        Ok(Self {
            name: name.to_string(),
            ifindex: iface::index(name)?,
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

/// A link created but not pinned yet: dropping it detaches it again.
struct Pending {
    iface: String,
    link: FdLink,
    path: PathBuf,
}

fn attach_all(
    pins: &LockedPins<'_>,
    targets: &[Target],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    let mut progs = loader::pinned_programs(pins, opts.load)?;
    let mut pending = Vec::new();
    let mut stale = Vec::new();
    let mut outcomes = Vec::new();
    for Target { name, ifindex } in targets {
        let ifindex = *ifindex;
        if let Some(owner) = renamed_owner(pins, name, ifindex)? {
            let ingress = pins
                .find_ingress_link(&owner)
                .map(|(_, m)| m)
                .unwrap_or(AttachedIngress::XdpNative);
            outcomes.push(IfaceOutcome {
                iface: name.clone(),
                outcome: Outcome::AlreadyAttachedAs {
                    ingress,
                    pinned_as: owner,
                },
            });
            continue;
        }
        let tc_path = pins.tc_egress_link(name);
        let tc_live = hooks::live_link(&tc_path, ifindex);
        let existing = pins.find_ingress_link(name);
        let ingress_live = existing
            .as_ref()
            .filter(|(p, _)| hooks::live_link(p, ifindex))
            .map(|(_, m)| *m);

        if !tc_live {
            stale.push(tc_path.clone());
            let link = hooks::attach_tc(&mut progs.tc_egress, name, ifindex, TcAttachType::Egress)?;
            pending.push(Pending {
                iface: name.clone(),
                link,
                path: tc_path,
            });
        }
        let outcome = match ingress_live {
            Some(ingress) if tc_live => Outcome::AlreadyAttached { ingress },
            Some(ingress) => Outcome::Attached {
                ingress,
                fallback: None,
            },
            None => {
                if let Some((p, _)) = existing {
                    stale.push(p);
                }
                let (link, ingress, fallback) = match opts.hooks.ingress {
                    IngressHook::Tc => (
                        hooks::attach_tc(
                            &mut progs.tc_ingress,
                            name,
                            ifindex,
                            TcAttachType::Ingress,
                        )?,
                        AttachedIngress::Tc,
                        None,
                    ),
                    IngressHook::Xdp => {
                        hooks::attach_xdp(&mut progs.xdp, name, ifindex, opts.hooks.xdp_mode)?
                    }
                };
                pending.push(Pending {
                    iface: name.clone(),
                    link,
                    path: pins.ingress_link(name, ingress),
                });
                Outcome::Attached { ingress, fallback }
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

/// Commit: pin every new link; if one fails, unpin those pinned so far
/// (dropping the rest detaches them).
fn pin_all(pins: &PinDir, pending: Vec<Pending>) -> Result<(), AttachError> {
    let mut pinned: Vec<PathBuf> = Vec::new();
    let mut created: Vec<PathBuf> = Vec::new();
    for Pending { iface, link, path } in pending {
        let dir = pins.iface_dir(&iface);
        if !dir.exists() {
            created.push(dir.clone());
        }
        let res = fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                link.pin(&path)
                    .map(|_| ())
                    .map_err(|e| crate::error_chain(&e))
            });
        if let Err(reason) = res {
            for p in &pinned {
                let _ = fs::remove_file(p);
            }
            for d in &created {
                let _ = fs::remove_dir(d);
            }
            return Err(AttachError::PinLink {
                iface,
                path,
                reason,
            });
        }
        pinned.push(path);
    }
    Ok(())
}

/// The pinned name under which rsdr already filters interface `ifindex`, if
/// that is not `name` (the interface was renamed since it was attached).
fn renamed_owner(pins: &PinDir, name: &str, ifindex: u32) -> Result<Option<String>, AttachError> {
    for other in pins.interfaces()? {
        if other == name {
            continue;
        }
        if let Some((path, _)) = pins.find_ingress_link(&other)
            && hooks::live_link(&path, ifindex)
        {
            return Ok(Some(other));
        }
    }
    Ok(None)
}
