//! Attaching a program to one hook of an interface, by either mechanism,
//! and finding, describing and removing it again by its pin: a BPF link
//! (TCX for TC), pinned; or a netlink attachment (a cls_bpf filter, or
//! `IFLA_XDP`), with its program pinned under the hook's name.

use std::{
    io,
    os::fd::{AsFd as _, OwnedFd},
    path::{Path, PathBuf},
};

use aya::{
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttachType, Xdp, links::FdLink,
        tc::TcAttachOptions, xdp::XdpMode as AyaXdpMode,
    },
    sys::SyscallError,
};

use super::{AttachError, Target};
use crate::{
    hook::{
        AttachedIngress, EGRESS_PIN_STEM, IngressAttachment, Via, XdpAttach, XdpMode, pin_name,
    },
    iface,
    netlink::{
        tc_filter::{self, Direction},
        xdp,
    },
    sys,
};

/// A hook of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Ingress(AttachedIngress),
    Egress,
}

/// Where a netlink attachment sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NetlinkHook {
    Tc(Direction),
    Xdp(xdp::Mode),
}

impl Position {
    pub(super) fn netlink(self) -> NetlinkHook {
        match self {
            Position::Ingress(AttachedIngress::XdpNative) => NetlinkHook::Xdp(xdp::Mode::Native),
            Position::Ingress(AttachedIngress::XdpSkb) => NetlinkHook::Xdp(xdp::Mode::Skb),
            Position::Ingress(AttachedIngress::Tc) => NetlinkHook::Tc(Direction::Ingress),
            Position::Egress => NetlinkHook::Tc(Direction::Egress),
        }
    }
}

/// A program attached over netlink, not committed yet: dropped before its
/// attach is committed, it detaches again, as an unpinned link does. One
/// that took over rsdr's filter that was there already (a program swapped
/// in place) is not undone: the filter stays, running rsdr.
pub struct NetlinkAttachment {
    ifindex: u32,
    hook: NetlinkHook,
    prog: OwnedFd,
    armed: bool,
}

impl Drop for NetlinkAttachment {
    fn drop(&mut self) {
        if self.armed {
            let _ = detach_netlink(self.ifindex, self.hook, &self.prog);
        }
    }
}

/// A program just attached to a hook, to be pinned.
pub enum Attached {
    Link(FdLink),
    Netlink(NetlinkAttachment),
}

/// A hook pinned at `path` whose attach is not committed yet: dropped, it
/// is unpinned and detached again.
pub struct Pinned {
    path: PathBuf,
    _link: Option<aya::programs::links::PinnedLink>,
    netlink: Option<NetlinkAttachment>,
    committed: bool,
}

impl Pinned {
    /// Keep it: from now on it stays after rsdr exits.
    pub fn commit(mut self) {
        self.committed = true;
        if let Some(n) = &mut self.netlink {
            n.armed = false;
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if !self.committed {
            // Without its pin a link detaches once its last fd (ours)
            // closes; a netlink attachment detaches as it drops.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Attached {
    pub fn via(&self) -> Via {
        match self {
            Attached::Link(_) => Via::Link,
            Attached::Netlink(_) => Via::Netlink,
        }
    }

    /// Pin it at `path` (the link, or the program of a netlink
    /// attachment); once committed, it stays after rsdr exits.
    pub fn pin(self, path: &Path) -> Result<Pinned, String> {
        let pinned = |link, netlink| Pinned {
            path: path.to_path_buf(),
            _link: link,
            netlink,
            committed: false,
        };
        match self {
            Attached::Link(link) => link
                .pin(path)
                .map(|l| pinned(Some(l), None))
                .map_err(|e| crate::error_chain(&e)),
            Attached::Netlink(n) => {
                sys::obj_pin(n.prog.as_fd(), path).map_err(|e| e.to_string())?;
                Ok(pinned(None, Some(n)))
            }
        }
    }
}

fn errno(e: &ProgramError) -> Option<i32> {
    match e {
        ProgramError::SyscallError(SyscallError { io_error, .. }) => io_error.raw_os_error(),
        _ => None,
    }
}

fn xdp_busy(errno: Option<i32>) -> bool {
    matches!(errno, Some(libc::EBUSY) | Some(libc::EEXIST))
}

fn explain_xdp(errno: Option<i32>, fallback: String) -> String {
    match errno {
        e if xdp_busy(e) => "another XDP program is already attached to this interface (rsdr attach --ingress tc avoids XDP)".to_string(),
        Some(libc::EOPNOTSUPP) => "the driver does not support this XDP mode".to_string(),
        _ => fallback,
    }
}

/// The name still means the interface whose index was checked (aya
/// attaches TC by name).
fn still_named(target: &Target) -> bool {
    iface::index(&target.name).ok() == Some(target.ifindex)
}

fn program_fd(fd: Result<&aya::programs::ProgramFd, ProgramError>) -> io::Result<OwnedFd> {
    let fd = fd.map_err(|e| io::Error::other(e.to_string()))?;
    fd.as_fd().try_clone_to_owned()
}

/// Attach a TC program to `dir` of `target`, by `via`.
pub fn attach_tc(
    tc: &mut SchedClassifier,
    name: &str,
    target: &Target,
    dir: Direction,
    via: Via,
) -> Result<Attached, AttachError> {
    let fail = |reason: String| AttachError::Tc {
        iface: target.name.clone(),
        direction: match dir {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        },
        reason,
    };
    if via == Via::Netlink {
        let prog = program_fd(tc.fd()).map_err(|e| fail(e.to_string()))?;
        let did = tc_filter::attach(target.ifindex, dir, prog.as_fd(), name)
            .map_err(|e| fail(format!("cls_bpf filter over netlink: {e}")))?;
        return Ok(Attached::Netlink(NetlinkAttachment {
            ifindex: target.ifindex,
            hook: NetlinkHook::Tc(dir),
            prog,
            armed: did == tc_filter::Attached::Created,
        }));
    }
    let kind = match dir {
        Direction::Ingress => TcAttachType::Ingress,
        Direction::Egress => TcAttachType::Egress,
    };
    let id = tc
        .attach_with_options(
            &target.name,
            kind,
            TcAttachOptions::TcxOrder(LinkOrder::default()),
        )
        .map_err(|e| {
            let hint = match errno(&e) {
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => {
                    " (this kernel has no TCX; --tc-attach netlink or auto uses a cls_bpf filter)"
                }
                _ => "",
            };
            fail(format!("{}{hint}", crate::error_chain(&e)))
        })?;
    let link = tc.take_link(id).map_err(|e| fail(e.to_string()))?;
    let link = FdLink::try_from(link).map_err(|e| fail(format!("not a bpf_link: {e}")))?;
    if !still_named(target) {
        return Err(fail(
            "the interface was renamed or replaced while attaching; try again".into(),
        ));
    }
    Ok(Attached::Link(link))
}

/// An XDP attach that failed, with the kernel's errno when it gave one.
struct XdpFailure {
    errno: Option<i32>,
    reason: String,
}

/// Attach XDP in `mode` by `attach`; `auto` (mode or mechanism) falls back
/// to skb mode or netlink. Returns what was attached, the hook it is, and
/// why `auto` fell back to skb mode.
pub fn attach_xdp(
    prog: &mut Xdp,
    target: &Target,
    mode: XdpMode,
    attach: XdpAttach,
) -> Result<(Attached, AttachedIngress, Option<String>), AttachError> {
    let fail = |hook: AttachedIngress, f: XdpFailure| AttachError::Xdp {
        iface: target.name.clone(),
        mode: if hook == AttachedIngress::XdpNative {
            "native"
        } else {
            "skb"
        },
        reason: explain_xdp(f.errno, f.reason),
    };
    let mut exactly =
        |hook: AttachedIngress| xdp_in_mode(prog, target, hook, attach).map(|a| (a, hook, None));
    match mode {
        XdpMode::Native => {
            exactly(AttachedIngress::XdpNative).map_err(|f| fail(AttachedIngress::XdpNative, f))
        }
        XdpMode::Skb => {
            exactly(AttachedIngress::XdpSkb).map_err(|f| fail(AttachedIngress::XdpSkb, f))
        }
        XdpMode::Auto => match exactly(AttachedIngress::XdpNative) {
            Ok(attached) => Ok(attached),
            Err(f) if xdp_busy(f.errno) => Err(fail(AttachedIngress::XdpNative, f)),
            Err(native) => {
                let why = explain_xdp(native.errno, native.reason);
                let (a, hook, _) = exactly(AttachedIngress::XdpSkb)
                    .map_err(|f| fail(AttachedIngress::XdpSkb, f))?;
                let note = format!("native XDP unavailable ({why}), using skb mode");
                Ok((a, hook, Some(note)))
            }
        },
    }
}

fn xdp_in_mode(
    prog: &mut Xdp,
    target: &Target,
    hook: AttachedIngress,
    attach: XdpAttach,
) -> Result<Attached, XdpFailure> {
    let (aya_mode, nl_mode) = if hook == AttachedIngress::XdpNative {
        (AyaXdpMode::Driver, xdp::Mode::Native)
    } else {
        (AyaXdpMode::Skb, xdp::Mode::Skb)
    };
    let io_failure = |e: io::Error| XdpFailure {
        errno: e.raw_os_error(),
        reason: e.to_string(),
    };
    let netlink = |prog: OwnedFd| NetlinkAttachment {
        ifindex: target.ifindex,
        hook: NetlinkHook::Xdp(nl_mode),
        prog,
        armed: true,
    };
    let fd = program_fd(prog.fd()).map_err(io_failure)?;
    if attach == XdpAttach::Netlink {
        xdp::attach(target.ifindex, nl_mode, fd.as_fd()).map_err(|e| XdpFailure {
            errno: e.errno,
            reason: e.to_string(),
        })?;
        return Ok(Attached::Netlink(netlink(fd)));
    }
    let program_failure = |e: ProgramError| XdpFailure {
        errno: errno(&e),
        reason: crate::error_chain(&e),
    };
    let id = prog
        .attach_to_if_index(target.ifindex, aya_mode)
        .map_err(program_failure)?;
    let link = prog.take_link(id).map_err(program_failure)?;
    match FdLink::try_from(link) {
        Ok(link) => Ok(Attached::Link(link)),
        // aya fell back to netlink: the kernel refused the XDP link, and
        // the program is attached over netlink (aya lets go of it here).
        Err(_) => {
            let attached = netlink(fd);
            if attach == XdpAttach::Link {
                return Err(XdpFailure {
                    errno: None,
                    reason: "the kernel refused an XDP link (--xdp-attach netlink or auto attaches over netlink)".into(),
                });
            }
            Ok(Attached::Netlink(attached))
        }
    }
}

fn detach_netlink(ifindex: u32, hook: NetlinkHook, prog: &OwnedFd) -> io::Result<()> {
    let detached = match hook {
        NetlinkHook::Tc(dir) => tc_filter::detach(ifindex, dir).map(drop),
        NetlinkHook::Xdp(mode) => xdp::detach(ifindex, mode, prog.as_fd()),
    };
    detached.map_err(io::Error::other)
}

/// What the kernel says about a pinned hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookState {
    /// The link's id; none for a netlink attachment.
    pub link_id: Option<u32>,
    pub prog_id: u32,
    /// Attached to `ifindex`, running the pinned program.
    pub live: bool,
}

/// The state of the hook pinned at `path` (attached `via` at `position`)
/// against interface `ifindex`; `None` if nothing usable is pinned there.
pub fn state(path: &Path, position: Position, via: Via, ifindex: Option<u32>) -> Option<HookState> {
    match via {
        Via::Link => {
            let info = sys::pinned_link_info(path).ok()?;
            Some(HookState {
                link_id: Some(info.link_id),
                prog_id: info.prog_id,
                live: info.is_live() && info.ifindex == ifindex,
            })
        }
        Via::Netlink => {
            let prog_id = sys::pinned_prog_id(path).ok()?;
            let attached = ifindex.and_then(|i| match position.netlink() {
                NetlinkHook::Tc(dir) => tc_filter::attached_prog(i, dir).ok().flatten(),
                NetlinkHook::Xdp(mode) => xdp::attached_prog(i, mode).ok().flatten(),
            });
            Some(HookState {
                link_id: None,
                prog_id,
                live: attached == Some(prog_id),
            })
        }
    }
}

/// Is a hook pinned at `path` attached to interface `ifindex`?
pub fn is_live(path: &Path, position: Position, via: Via, ifindex: u32) -> bool {
    path.exists() && state(path, position, via, Some(ifindex)).is_some_and(|s| s.live)
}

/// Detach the hook pinned at `path` (of interface `iface`, attached `via`
/// at `position`) and remove the pin. A netlink attachment is detached
/// only while it runs the pinned program: one that is gone, or that
/// another tool (or another rsdr) replaced, is left alone and only
/// unpinned, as is a hook whose interface is gone.
pub fn remove(path: &Path, position: Position, via: Via, iface: &str) -> Result<(), AttachError> {
    let io_err = |source| AttachError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Ok(fd) = sys::obj_get(path) {
        match via {
            // A defunct link (interface gone) refuses detach; it is harmless.
            Via::Link => {
                let _ = sys::link_detach(fd.as_fd());
            }
            Via::Netlink => {
                if let Ok(ifindex) = iface::index(iface)
                    && state(path, position, via, Some(ifindex)).is_some_and(|s| s.live)
                {
                    detach_netlink(ifindex, position.netlink(), &fd).map_err(io_err)?;
                }
            }
        }
    }
    std::fs::remove_file(path).map_err(io_err)
}

/// What a hook pin is, from its file name.
pub fn parse_pin(name: &str) -> Option<(Position, Via)> {
    for via in [Via::Link, Via::Netlink] {
        if name == pin_name(EGRESS_PIN_STEM, via) {
            return Some((Position::Egress, via));
        }
    }
    IngressAttachment::ALL
        .into_iter()
        .find(|a| a.pin_name() == name)
        .map(|a| (Position::Ingress(a.hook), a.via))
}

/// Every hook pin of an interface directory.
pub fn pins_in(dir: &Path) -> io::Result<Vec<(PathBuf, Position, Via)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some((position, via)) = parse_pin(name) {
            out.push((path, position, via));
        }
    }
    Ok(out)
}
