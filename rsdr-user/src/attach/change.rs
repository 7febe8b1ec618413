//! Moving an attached interface to other hooks without a moment
//! unfiltered: each new hook is attached before the old one is removed.
//! Two XDP programs cannot be attached at once in one mode, nor can a
//! link and a netlink attachment share it, so a change from XDP to XDP is
//! bridged by the TC ingress hook. TC hooks attached by both mechanisms
//! may run side by side for that moment (a TCX link runs before the
//! clsact filters; both decide alike).

use super::{
    AttachError, Outcome, Target, attach_egress, attach_ingress,
    hooks::{self, Attached, Position},
};
use crate::{
    hook::{AttachedIngress, IngressAttachment, WantedHooks, WantedIngress},
    loader::{self, LoadOptions},
    pins::LockedPins,
};

/// Bring attached interface `name` to the hooks `wanted` asks for.
/// Returns what is attached now.
pub fn change_hooks(
    pins: &LockedPins<'_>,
    name: &str,
    wanted: WantedHooks,
    load: LoadOptions,
) -> Result<Outcome, AttachError> {
    let target = Target::named(name)?;
    let (old_path, old) = pins
        .find_ingress(name)
        .ok_or_else(|| AttachError::NotAttached(name.to_string()))?;
    let (egress_path, egress) = pins
        .find_egress(name)
        .ok_or_else(|| AttachError::NotAttached(name.to_string()))?;
    let ingress_ok = wanted.accepts_ingress(old);
    if ingress_ok && egress == wanted.egress {
        return Ok(Outcome::AlreadyAttached {
            ingress: old,
            egress,
        });
    }
    let mut progs = loader::pinned_programs(pins, load)?;
    let pin = |attached: Attached, path: std::path::PathBuf| {
        attached
            .pin(&path)
            .map(hooks::Pinned::commit)
            .map_err(|reason| AttachError::PinLink {
                iface: name.to_string(),
                path,
                reason,
            })
    };
    if egress != wanted.egress {
        let attached = attach_egress(&mut progs, &target, wanted.egress)?;
        pin(attached, pins.egress_pin(name, wanted.egress))?;
        hooks::remove(&egress_path, Position::Egress, egress, name)?;
    }
    if ingress_ok {
        return Ok(Outcome::AlreadyAttached {
            ingress: old,
            egress: wanted.egress,
        });
    }
    let remove_old = |a: IngressAttachment, path: &std::path::Path| {
        hooks::remove(path, Position::Ingress(a.hook), a.via, name)
    };
    let xdp_to_xdp =
        old.hook != AttachedIngress::Tc && matches!(wanted.ingress, WantedIngress::Xdp { .. });
    // XDP to XDP: TC ingress bridges the change (two XDP programs cannot
    // share the hook).
    let (from, from_path) = if xdp_to_xdp {
        let bridge = WantedIngress::Tc(wanted.tc_via());
        let (attached, a, _) = attach_ingress(&mut progs, &target, bridge)?;
        let path = pins.ingress_pin(name, a);
        pin(attached, path.clone())?;
        remove_old(old, &old_path)?;
        (a, path)
    } else {
        (old, old_path)
    };
    let (attached, now, fallback) = attach_ingress(&mut progs, &target, wanted.ingress)?;
    // Never the pin of `from`: the wanted hook does not accept `from`.
    pin(attached, pins.ingress_pin(name, now))?;
    remove_old(from, &from_path)?;
    Ok(Outcome::Attached {
        ingress: now,
        egress: wanted.egress,
        fallback,
    })
}
