//! What is attached where, read back from the pins and the kernel.

use serde::Serialize;

use crate::{
    hook::XdpMode,
    iface,
    pins::{PinDir, PinError},
    settings::{SettingsError, SettingsHandle},
    sys,
    tables::{VipError, VipTables},
};

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Vips(#[from] VipError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("program map: {0}")]
    Map(#[from] aya::maps::MapError),
}

/// One hook of an interface, as its pinned link says.
#[derive(Clone, Debug, Serialize)]
pub struct HookStatus {
    /// "xdp" or "tcx".
    pub kind: &'static str,
    /// "ingress" or "egress".
    pub direction: &'static str,
    /// XDP mode ("native" or "skb"); none for TCX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<XdpMode>,
    pub link_id: u32,
    pub program_id: u32,
    /// True while the link is attached to this interface.
    pub live: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct IfaceStatus {
    pub name: String,
    /// Current index of the interface; none if it no longer exists.
    pub ifindex: Option<u32>,
    /// The interface's current name, when it was renamed after attach (the
    /// filter follows the device, not the name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_to: Option<String>,
    pub hooks: Vec<HookStatus>,
    /// Both hooks present and live.
    pub healthy: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub pin_dir: String,
    /// Global monitor mode: decisions counted, nothing enforced.
    pub monitor: bool,
    /// Exact VIPs configured (both families).
    pub vips: usize,
    /// Pools configured (both families).
    pub pools: usize,
    /// Capacity for exact VIPs (IPv4 and IPv6 together).
    pub max_vips: u32,
    /// Pool slots (both families together).
    pub max_pools: u32,
    pub interfaces: Vec<IfaceStatus>,
}

/// Read what rsdr has in place under `pins`.
pub fn read(pins: &PinDir) -> Result<Status, StatusError> {
    pins.require_loaded()?;
    let tables = VipTables::open(pins)?;
    let (vips, pools) = tables.counts()?;
    let (max_vips, max_pools) = tables.capacities();
    let mut interfaces = Vec::new();
    for name in pins.interfaces()? {
        let by_name = iface::index(&name).ok();
        let ingress = pins
            .find_ingress_link(&name)
            .and_then(|(p, hook)| Some((hook, sys::pinned_link_info(&p).ok()?)));
        // Where the ingress link really is: the device it is attached to,
        // even if its name changed since.
        let linked = ingress
            .as_ref()
            .and_then(|(_, i)| i.ifindex.filter(|x| *x != 0));
        let renamed_to = match (linked, by_name) {
            (Some(l), b) if Some(l) != b => iface::name(l),
            _ => None,
        };
        let ifindex = if renamed_to.is_some() {
            linked
        } else {
            by_name
        };
        let hook = |kind, direction, mode, info: sys::LinkInfo| HookStatus {
            kind,
            direction,
            mode,
            link_id: info.link_id,
            program_id: info.prog_id,
            live: info.is_live() && info.ifindex == ifindex,
        };
        let mut hooks = Vec::new();
        if let Some((h, info)) = ingress {
            hooks.push(hook(h.kind(), "ingress", h.xdp_mode(), info));
        }
        if let Ok(info) = sys::pinned_link_info(&pins.tc_egress_link(&name)) {
            hooks.push(hook("tcx", "egress", None, info));
        }
        let healthy = hooks.len() == 2 && hooks.iter().all(|h| h.live);
        interfaces.push(IfaceStatus {
            name,
            ifindex,
            renamed_to,
            hooks,
            healthy,
        });
    }
    Ok(Status {
        pin_dir: pins.root().display().to_string(),
        monitor: SettingsHandle::open(pins)?.monitor(),
        vips,
        pools,
        max_vips,
        max_pools,
        interfaces,
    })
}
