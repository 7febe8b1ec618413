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
        Via::Link => {
            let info = sys::link_info(pinned.as_fd()).map_err(|e| e.to_string())?;
            let old = sys::prog_fd_by_id(info.prog_id).map_err(|e| e.to_string())?;
            sys::link_update(pinned.as_fd(), new.as_fd(), old.as_fd())
                .map_err(|e| format!("BPF_LINK_UPDATE: {e}"))
        }
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
            std::fs::remove_file(path).map_err(|e| format!("unpinning the old program: {e}"))?;
            sys::obj_pin(new.as_fd(), path).map_err(|e| format!("pinning the new program: {e}"))
        }
    }
}

/// Swap every live hook under `pins` to the programs of `new`. Hooks whose
/// interface is gone, or that are not live, are left for the next attach.
/// Returns the number of hooks swapped.
pub fn swap_programs(pins: &LockedPins<'_>, new: &NewPrograms<'_>) -> Result<usize, AttachError> {
    let mut swapped = 0;
    for name in pins.interfaces()? {
        let Ok(ifindex) = iface::index(&name) else {
            continue;
        };
        let dir = pins.iface_dir(&name);
        let hooks = hooks::pins_in(&dir).map_err(|source| AttachError::Io {
            path: dir.clone(),
            source,
        })?;
        for (path, position, via) in hooks {
            if !hooks::is_live(&path, position, via, ifindex) {
                continue;
            }
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
