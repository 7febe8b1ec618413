//! Moving an attached interface to another ingress hook without a moment
//! unfiltered: the new hook is attached before the old one is removed, and
//! an XDP mode change is bridged by the TC ingress hook (two XDP modes
//! cannot be active at once).

use aya::programs::{TcAttachType, links::FdLink};

use super::{AttachError, AttachOptions, detach::remove_link, hooks};
use crate::{
    hook::{AttachedIngress, IngressHook},
    iface, loader,
    pins::LockedPins,
};

/// Move attached interface `name` to the ingress hook `opts` asks for.
/// Returns the hook now in place.
pub fn change_ingress(
    pins: &LockedPins<'_>,
    name: &str,
    opts: AttachOptions,
) -> Result<AttachedIngress, AttachError> {
    let ifindex = iface::index(name)?;
    let (old_path, old) = pins
        .find_ingress_link(name)
        .ok_or_else(|| AttachError::NotAttached(name.to_string()))?;
    if opts.hooks.accepts(old) {
        return Ok(old);
    }
    let mut progs = loader::pinned_programs(pins, opts.load)?;
    let pin = |link: FdLink, hook: AttachedIngress| -> Result<(), AttachError> {
        let path = pins.ingress_link(name, hook);
        link.pin(&path)
            .map(|_| ())
            .map_err(|e| AttachError::PinLink {
                iface: name.to_string(),
                path,
                reason: crate::error_chain(&e),
            })
    };
    let tc_path = pins.ingress_link(name, AttachedIngress::Tc);
    if old != AttachedIngress::Tc {
        // TC ingress first: the target, or the bridge to another XDP mode.
        let link = hooks::attach_tc(&mut progs.tc_ingress, name, ifindex, TcAttachType::Ingress)?;
        pin(link, AttachedIngress::Tc)?;
        remove_link(&old_path)?;
        if opts.hooks.ingress == IngressHook::Tc {
            return Ok(AttachedIngress::Tc);
        }
    }
    let (link, hook, _) = hooks::attach_xdp(&mut progs.xdp, name, ifindex, opts.hooks.xdp_mode)?;
    pin(link, hook)?;
    remove_link(&tc_path)?;
    Ok(hook)
}
