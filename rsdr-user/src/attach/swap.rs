//! Swapping the running programs for those of another build, in place:
//! every hook of every attached interface keeps running and switches from
//! one program to the other in one kernel operation (BPF_LINK_UPDATE for
//! XDP and TCX links; for netlink attachments, a cls_bpf filter changed in
//! place, or IFLA_XDP with XDP_FLAGS_REPLACE), so frames meet the old
//! program or the new one, never none. The maps are the pinned ones, shared
//! by both. Then the program pins are replaced.

use std::{os::fd::AsFd as _, path::Path};

use aya::programs::ProgramFd;
use rsdr_common::maps::programs;

use super::{
    AttachError,
    hooks::{self, NetlinkHook, Position},
};
use crate::{
    hook::{AttachedIngress, Via},
    iface,
    netlink::{tc_filter, xdp},
    pins::LockedPins,
    sys,
};

/// The programs of the build being swapped in, loaded against the pinned
/// maps.
pub struct NewPrograms<'a> {
    pub xdp: &'a ProgramFd,
    pub tc_ingress: &'a ProgramFd,
    pub tc_egress: &'a ProgramFd,
}

/// The new program for a hook at `position`.
fn program_for<'a>(new: &NewPrograms<'a>, position: Position) -> &'a ProgramFd {
    match position {
        Position::Ingress(AttachedIngress::XdpNative | AttachedIngress::XdpSkb) => new.xdp,
        Position::Ingress(AttachedIngress::Tc) => new.tc_ingress,
        Position::Egress => new.tc_egress,
    }
}

/// Swap one hook, pinned at `path`, to `new`.
fn swap_hook(
    path: &Path,
    position: Position,
    via: Via,
    ifindex: u32,
    new: &ProgramFd,
) -> Result<(), String> {
    let pinned = sys::obj_get(path).map_err(|e| format!("opening the pin: {e}"))?;
    match via {
        Via::Link => sys::link_update(pinned.as_fd(), new.as_fd())
            .map_err(|e| format!("BPF_LINK_UPDATE: {e}")),
        Via::Netlink => {
            match position.netlink() {
                NetlinkHook::Tc(dir) => {
                    let name = match dir {
                        tc_filter::Direction::Ingress => programs::TC_INGRESS,
                        tc_filter::Direction::Egress => programs::TC_EGRESS,
                    };
                    tc_filter::attach(ifindex, dir, new.as_fd(), name)
                        .map(drop)
                        .map_err(|e| e.to_string())?;
                }
                NetlinkHook::Xdp(mode) => {
                    xdp::replace(ifindex, mode, new.as_fd(), pinned.as_fd())
                        .map_err(|e| e.to_string())?;
                }
            }
            // The pin names the program the hook runs: the new one now.
            repin(new, path).map_err(|e| format!("pinning the new program: {e}"))
        }
    }
}

/// Pin `prog` at `path` in place of what is pinned there: pinned beside it
/// first, then renamed over it, so a failure leaves the old pin.
pub fn repin(prog: &ProgramFd, path: &Path) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push("_new");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    sys::obj_pin(prog.as_fd(), &tmp)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Swap every live hook under `pins` to the programs of `new`. A link is
/// swapped while it is attached anywhere (it follows a renamed device); a
/// netlink attachment while the interface of its name runs it. Others are
/// left for the next attach. Returns the number of hooks swapped.
pub fn swap_programs(pins: &LockedPins<'_>, new: &NewPrograms<'_>) -> Result<usize, AttachError> {
    let mut swapped = 0;
    for name in pins.interfaces()? {
        let ifindex = iface::index(&name).ok();
        let dir = pins.iface_dir(&name);
        let hooks = hooks::pins_in(&dir).map_err(|source| AttachError::Io {
            path: dir.clone(),
            source,
        })?;
        for (path, position, via) in hooks {
            let live = match via {
                Via::Link => sys::pinned_link_info(&path).is_ok_and(|l| l.is_live()),
                Via::Netlink => ifindex.is_some_and(|i| hooks::is_live(&path, position, via, i)),
            };
            if !live {
                continue;
            }
            let ifindex = ifindex.unwrap_or(0);
            let prog = program_for(new, position);
            swap_hook(&path, position, via, ifindex, prog).map_err(|reason| AttachError::Swap {
                what: format!("{name} {}", path.display()),
                reason,
            })?;
            swapped += 1;
        }
    }
    Ok(swapped)
}
