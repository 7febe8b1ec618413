//! Creating the links that attach a program to an interface's hooks:
//! TC (TCX) ingress or egress, and XDP in a mode.

use std::{io, path::Path};

use aya::{
    programs::{
        LinkOrder, ProgramError, SchedClassifier, TcAttachType, Xdp, links::FdLink,
        tc::TcAttachOptions, xdp::XdpMode as AyaXdpMode,
    },
    sys::SyscallError,
};

use super::AttachError;
use crate::{
    hook::{AttachedIngress, XdpMode},
    iface, sys,
};

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

/// Is a link pinned at `path`, attached to interface `ifindex`?
pub fn live_link(path: &Path, ifindex: u32) -> bool {
    path.exists()
        && matches!(sys::pinned_link_info(path), Ok(info) if info.ifindex == Some(ifindex))
}

pub fn attach_tc(
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

/// Attach XDP in the mode `choice` asks for (`auto`: native, else skb).
/// Returns the link, the hook it is, and why `auto` fell back to skb mode.
pub fn attach_xdp(
    xdp: &mut Xdp,
    iface: &str,
    ifindex: u32,
    choice: XdpMode,
) -> Result<(FdLink, AttachedIngress, Option<String>), AttachError> {
    let fail = |hook: AttachedIngress, e: &ProgramError| AttachError::Xdp {
        iface: iface.to_string(),
        mode: if hook == AttachedIngress::XdpNative {
            "native"
        } else {
            "skb"
        },
        reason: explain(e),
    };
    let mut exactly = |hook: AttachedIngress| {
        xdp_link(xdp, ifindex, hook)
            .map(|l| (l, hook, None))
            .map_err(|e| (fail(hook, &e), e))
    };
    match choice {
        XdpMode::Native => exactly(AttachedIngress::XdpNative).map_err(|(e, _)| e),
        XdpMode::Skb => exactly(AttachedIngress::XdpSkb).map_err(|(e, _)| e),
        XdpMode::Auto => match exactly(AttachedIngress::XdpNative) {
            Ok(attached) => Ok(attached),
            Err((e, cause)) if matches!(errno(&cause), Some(libc::EBUSY) | Some(libc::EEXIST)) => {
                Err(e)
            }
            Err((_, native)) => {
                let why = explain(&native);
                let (link, hook, _) = exactly(AttachedIngress::XdpSkb).map_err(|(e, _)| e)?;
                let note = format!("native XDP unavailable ({why}), using skb mode");
                Ok((link, hook, Some(note)))
            }
        },
    }
}

/// An XDP link in the mode of `hook`.
fn xdp_link(xdp: &mut Xdp, ifindex: u32, hook: AttachedIngress) -> Result<FdLink, ProgramError> {
    let mode = if hook == AttachedIngress::XdpNative {
        AyaXdpMode::Driver
    } else {
        AyaXdpMode::Skb
    };
    let id = xdp.attach_to_if_index(ifindex, mode)?;
    let link = xdp.take_link(id)?;
    FdLink::try_from(link)
        .map_err(|e| ProgramError::IOError(io::Error::other(format!("not a bpf_link: {e}"))))
}
