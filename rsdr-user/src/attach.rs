//! Attaching the pinned programs to interfaces and detaching them.
//!
//! `attach` is transactional: every interface is checked first, new links
//! are created unpinned (so they vanish if anything fails) and pinned only
//! once all of them exist. An interface whose links are already pinned and
//! live is left alone.

use std::{collections::HashSet, fs, io, path::PathBuf};

use aya::{
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttachType, Xdp, links::FdLink,
        tc::TcAttachOptions, xdp::XdpMode,
    },
    sys::SyscallError,
};
use thiserror::Error;

use crate::{
    iface::{self, IfaceError},
    loader::{self, LoadError, LoadOptions},
    pins::{Ingress, PinDir, PinError},
    sys,
};

/// The `--xdp-mode` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XdpModeChoice {
    /// Native (driver) mode, falling back to skb (generic) mode.
    #[default]
    Auto,
    Native,
    Skb,
}

/// The `--ingress` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IngressChoice {
    /// XDP, in the mode `--xdp-mode` says.
    #[default]
    Xdp,
    /// TC ingress (TCX): for hosts where another program owns XDP, or where
    /// XDP's per-packet cost (e.g. on veth) is unwanted.
    Tc,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct AttachOptions {
    pub ingress: IngressChoice,
    pub mode: XdpModeChoice,
    pub load: LoadOptions,
}

impl AttachOptions {
    /// Would an interface attached with `hook` satisfy these options?
    pub fn wants(&self, hook: Ingress) -> bool {
        matches!(
            (self.ingress, self.mode, hook),
            (IngressChoice::Tc, _, Ingress::Tc)
                | (
                    IngressChoice::Xdp,
                    XdpModeChoice::Auto,
                    Ingress::XdpNative | Ingress::XdpSkb
                )
                | (
                    IngressChoice::Xdp,
                    XdpModeChoice::Native,
                    Ingress::XdpNative
                )
                | (IngressChoice::Xdp, XdpModeChoice::Skb, Ingress::XdpSkb)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Links created now. `fallback` explains why skb mode was used in `auto`.
    Attached {
        ingress: Ingress,
        fallback: Option<String>,
    },
    /// Both links were already pinned and live; nothing was done.
    AlreadyAttached { ingress: Ingress },
    /// rsdr already filters this interface, pinned under its former name.
    AlreadyAttachedAs { ingress: Ingress, pinned_as: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceOutcome {
    pub iface: String,
    pub outcome: Outcome,
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

fn errno(e: &ProgramError) -> Option<i32> {
    match e {
        ProgramError::SyscallError(SyscallError { io_error, .. }) => io_error.raw_os_error(),
        _ => None,
    }
}

fn explain(e: &ProgramError) -> String {
    match errno(e) {
        Some(libc::EBUSY) | Some(libc::EEXIST) => {
            "another XDP program is already attached to this interface (rsdr attach --ingress tc avoids XDP)".to_string()
        }
        Some(libc::EOPNOTSUPP) => "the driver does not support this XDP mode".to_string(),
        _ => crate::error_chain(e),
    }
}

/// Link pinned at `path`, if it exists and is attached to interface `ifindex`.
fn live_link(path: &std::path::Path, ifindex: u32) -> bool {
    path.exists()
        && matches!(sys::pinned_link_info(path), Ok(info) if info.ifindex == Some(ifindex))
}

struct Pending {
    iface: String,
    link: FdLink,
    path: PathBuf,
}

/// Attach rsdr to `ifaces`, loading and pinning the programs first if needed.
pub fn attach(
    pins: &PinDir,
    ifaces: &[String],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    if ifaces.is_empty() {
        return Err(AttachError::NoInterface);
    }
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for name in ifaces {
        if !seen.insert(name.as_str()) {
            return Err(AttachError::Duplicate(name.clone()));
        }
        targets.push((name.clone(), iface::index(name)?));
    }
    opts.load.validate()?;
    pins.check_bpffs()?;
    let _guard = pins.lock()?;
    attach_unlocked(pins, &targets, opts)
}

/// [`attach`] for a caller that already holds the pin-directory lock and
/// has checked the targets ((name, ifindex) pairs).
pub fn attach_unlocked(
    pins: &PinDir,
    targets: &[(String, u32)],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    // Decided under the lock: only the run that creates the pin directory
    // may remove it again, and only before anything else used it.
    let fresh = !pins.is_loaded();
    pins.create_dirs()?;
    let result = attach_locked(pins, targets, opts);
    if result.is_err() && fresh {
        let _ = pins.remove_all();
    }
    result
}

fn attach_locked(
    pins: &PinDir,
    targets: &[(String, u32)],
    opts: AttachOptions,
) -> Result<Vec<IfaceOutcome>, AttachError> {
    let mut progs = loader::pinned_programs(pins, opts.load)?;
    let mut pending = Vec::new();
    let mut stale = Vec::new();
    let mut outcomes = Vec::new();
    for (name, ifindex) in targets {
        if let Some(owner) = renamed_owner(pins, name, *ifindex)? {
            let ingress = pins
                .find_ingress_link(&owner)
                .map(|(_, m)| m)
                .unwrap_or(Ingress::XdpNative);
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
        let tc_live = live_link(&tc_path, *ifindex);
        let existing = pins.find_ingress_link(name);
        let ingress_live = existing
            .as_ref()
            .filter(|(p, _)| live_link(p, *ifindex))
            .map(|(_, m)| *m);

        if !tc_live {
            stale.push(tc_path.clone());
            let link = attach_tc(&mut progs.tc_egress, name, *ifindex, TcAttachType::Egress)?;
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
                let (link, ingress, fallback) = match opts.ingress {
                    IngressChoice::Tc => (
                        attach_tc(&mut progs.tc_ingress, name, *ifindex, TcAttachType::Ingress)?,
                        Ingress::Tc,
                        None,
                    ),
                    IngressChoice::Xdp => attach_xdp(&mut progs.xdp, name, *ifindex, opts.mode)?,
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

    // Commit: drop dead pins, then pin every new link. Until a link is
    // pinned, dropping it (on error) detaches it again.
    for path in stale {
        let _ = fs::remove_file(path);
    }
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
    Ok(outcomes)
}

/// The pinned name under which rsdr already filters interface `ifindex`, if
/// that is not `name` (the interface was renamed since it was attached).
fn renamed_owner(pins: &PinDir, name: &str, ifindex: u32) -> Result<Option<String>, AttachError> {
    for other in pins.interfaces()? {
        if other == name {
            continue;
        }
        if let Some((path, _)) = pins.find_ingress_link(&other)
            && live_link(&path, ifindex)
        {
            return Ok(Some(other));
        }
    }
    Ok(None)
}

fn attach_tc(
    tc: &mut SchedClassifier,
    iface: &str,
    ifindex: u32,
    kind: TcAttachType,
) -> Result<FdLink, AttachError> {
    let direction = if matches!(kind, TcAttachType::Ingress) {
        "ingress"
    } else {
        "egress"
    };
    let fail = |reason: String| AttachError::Tc {
        iface: iface.to_string(),
        direction,
        reason,
    };
    // aya 0.14 attaches TC by name only: make sure the name still means the
    // interface whose index was checked, before and after.
    let id = tc
        .attach_with_options(iface, kind, TcAttachOptions::TcxOrder(LinkOrder::default()))
        .map_err(|e| {
            let hint = match errno(&e) {
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => {
                    " (rsdr needs TCX, Linux 6.6 or newer)"
                }
                _ => "",
            };
            fail(format!("{}{hint}", crate::error_chain(&e)))
        })?;
    let link = tc.take_link(id).map_err(|e| fail(e.to_string()))?;
    let link = FdLink::try_from(link).map_err(|e| fail(format!("not a bpf_link: {e}")))?;
    if iface::index(iface).ok() != Some(ifindex) {
        return Err(fail(
            "the interface was renamed or replaced while attaching; try again".into(),
        ));
    }
    Ok(link)
}

fn attach_xdp(
    xdp: &mut Xdp,
    iface: &str,
    ifindex: u32,
    choice: XdpModeChoice,
) -> Result<(FdLink, Ingress, Option<String>), AttachError> {
    let mut try_mode = |mode: Ingress| -> Result<FdLink, ProgramError> {
        let flags = if mode == Ingress::XdpNative {
            XdpMode::Driver
        } else {
            XdpMode::Skb
        };
        let id = xdp.attach_to_if_index(ifindex, flags)?;
        let link = xdp.take_link(id)?;
        FdLink::try_from(link)
            .map_err(|e| ProgramError::IOError(io::Error::other(format!("not a bpf_link: {e}"))))
    };
    let fail = |mode: Ingress, e: &ProgramError| AttachError::Xdp {
        iface: iface.to_string(),
        mode: mode.xdp_mode().unwrap_or("?"),
        reason: explain(e),
    };
    match choice {
        XdpModeChoice::Native => try_mode(Ingress::XdpNative)
            .map(|l| (l, Ingress::XdpNative, None))
            .map_err(|e| fail(Ingress::XdpNative, &e)),
        XdpModeChoice::Skb => try_mode(Ingress::XdpSkb)
            .map(|l| (l, Ingress::XdpSkb, None))
            .map_err(|e| fail(Ingress::XdpSkb, &e)),
        XdpModeChoice::Auto => match try_mode(Ingress::XdpNative) {
            Ok(l) => Ok((l, Ingress::XdpNative, None)),
            Err(e) if matches!(errno(&e), Some(libc::EBUSY) | Some(libc::EEXIST)) => {
                Err(fail(Ingress::XdpNative, &e))
            }
            Err(native) => {
                let why = explain(&native);
                try_mode(Ingress::XdpSkb)
                    .map(|l| {
                        (
                            l,
                            Ingress::XdpSkb,
                            Some(format!("native XDP unavailable ({why}), using skb mode")),
                        )
                    })
                    .map_err(|e| fail(Ingress::XdpSkb, &e))
            }
        },
    }
}

pub fn detach(pins: &PinDir, ifaces: &[String]) -> Result<Vec<String>, AttachError> {
    pins.require_loaded()?;
    let _guard = pins.lock()?;
    detach_unlocked(pins, ifaces)
}

/// [`detach`] for a caller that already holds the pin-directory lock.
pub fn detach_unlocked(pins: &PinDir, ifaces: &[String]) -> Result<Vec<String>, AttachError> {
    let attached = pins.interfaces()?;
    if ifaces.is_empty() {
        for name in &attached {
            detach_iface(pins, name)?;
        }
        pins.remove_all()?;
        return Ok(attached);
    }
    let mut seen = HashSet::new();
    for name in ifaces {
        iface::validate_name(name)?;
        if !seen.insert(name.as_str()) {
            return Err(AttachError::Duplicate(name.clone()));
        }
        if !attached.contains(name) {
            return Err(AttachError::NotAttached(name.clone()));
        }
    }
    for name in ifaces {
        detach_iface(pins, name)?;
    }
    Ok(ifaces.to_vec())
}

/// Force-detach every link pinned for `iface` and remove its pins.
fn detach_iface(pins: &PinDir, iface: &str) -> Result<(), AttachError> {
    let dir = pins.iface_dir(iface);
    let io_err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| AttachError::Io { path, source }
    };
    for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
        remove_link(&entry.map_err(io_err(&dir))?.path())?;
    }
    fs::remove_dir(&dir).map_err(io_err(&dir))
}

/// Force-detach the link pinned at `path` and remove the pin.
fn remove_link(path: &std::path::Path) -> Result<(), AttachError> {
    if let Ok(fd) = sys::obj_get(path) {
        // A defunct link (interface gone) refuses detach; it is harmless.
        let _ = sys::link_detach(std::os::fd::AsFd::as_fd(&fd));
    }
    fs::remove_file(path).map_err(|source| AttachError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Move attached interface `name` to the ingress hook `opts` asks for,
/// without a moment unfiltered: the new hook is attached before the old one
/// is removed, and an XDP mode change is bridged by the TC ingress hook
/// (two XDP modes cannot be active at once). The caller holds the lock.
/// Returns the hook now in place.
pub fn change_ingress_unlocked(
    pins: &PinDir,
    name: &str,
    opts: AttachOptions,
) -> Result<Ingress, AttachError> {
    let ifindex = iface::index(name)?;
    let (old_path, old) = pins
        .find_ingress_link(name)
        .ok_or_else(|| AttachError::NotAttached(name.to_string()))?;
    if opts.wants(old) {
        return Ok(old);
    }
    let mut progs = loader::pinned_programs(pins, opts.load)?;
    let pin = |link: FdLink, hook: Ingress| -> Result<(), AttachError> {
        let path = pins.ingress_link(name, hook);
        link.pin(&path)
            .map(|_| ())
            .map_err(|e| AttachError::PinLink {
                iface: name.to_string(),
                path,
                reason: crate::error_chain(&e),
            })
    };
    let tc_path = pins.ingress_link(name, Ingress::Tc);
    if old != Ingress::Tc {
        // TC ingress first: the target, or the bridge to another XDP mode.
        pin(
            attach_tc(&mut progs.tc_ingress, name, ifindex, TcAttachType::Ingress)?,
            Ingress::Tc,
        )?;
        remove_link(&old_path)?;
        if opts.ingress == IngressChoice::Tc {
            return Ok(Ingress::Tc);
        }
    }
    let (link, hook, _) = attach_xdp(&mut progs.xdp, name, ifindex, opts.mode)?;
    pin(link, hook)?;
    remove_link(&tc_path)?;
    Ok(hook)
}
