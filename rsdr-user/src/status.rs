//! What is attached where, read back from the pins and the kernel.

use serde::Serialize;

use crate::{
    attach::{self, HookState, Position},
    hook::{Via, XdpMode, tc_kind},
    iface,
    pins::{PinDir, PinError},
    settings::{SettingsError, SettingsHandle},
    sys,
    tables::{VipError, VipTables},
    upgrade::{self, Build},
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
    /// "xdp", "tcx" (a TCX link) or "tc" (a cls_bpf filter).
    pub kind: &'static str,
    /// "ingress" or "egress".
    pub direction: &'static str,
    /// XDP mode ("native" or "skb"); none for TCX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<XdpMode>,
    /// "link" (a pinned BPF link) or "netlink" (a cls_bpf filter or
    /// `IFLA_XDP`, its program pinned beside the links).
    pub attach: Via,
    /// The link's id; none for a netlink attachment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u32>,
    pub program_id: u32,
    /// True while the hook is attached to this interface, running the
    /// pinned program.
    pub live: bool,
}

impl HookStatus {
    /// "xdp (native)", "xdp (skb, netlink)", "tcx" or "tc".
    pub fn describe(&self) -> String {
        match (self.mode, self.attach) {
            (Some(m), Via::Netlink) => format!("{} ({m}, netlink)", self.kind),
            (Some(m), Via::Link) => format!("{} ({m})", self.kind),
            (None, _) => self.kind.to_string(),
        }
    }
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
    /// The build of the datapath running here (`None`: from before builds
    /// were stamped), and this binary's.
    pub datapath_build: Option<Build>,
    pub binary_build: Build,
    /// The VRRP instances rsdr knows of (docs/two-node.md).
    pub vrrp: Vec<VrrpStatus>,
}

/// One VRRP instance: the state rsdr was last told and its VIPs.
#[derive(Clone, Debug, Serialize)]
pub struct VrrpStatus {
    pub instance: String,
    /// "master", "backup", "fault", "stop", or "unknown" (never told: filtered).
    pub state: String,
    pub vips: Vec<String>,
}

/// The VRRP instances recorded under `pins`, by name.
pub fn vrrp(pins: &PinDir) -> Vec<VrrpStatus> {
    use crate::vrrp::record;
    let states = record::states(pins).unwrap_or_default();
    let members = record::members(pins).unwrap_or_default();
    let mut names: Vec<&String> = states.keys().chain(members.values()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| VrrpStatus {
            instance: n.clone(),
            state: states.get(n).map_or("unknown", |s| s.name()).to_string(),
            vips: members
                .iter()
                .filter(|(_, i)| *i == n)
                .map(|(v, _)| v.to_string())
                .collect(),
        })
        .collect()
}

/// Read what rsdr has in place under `pins`.
pub fn read(pins: &PinDir) -> Result<Status, StatusError> {
    pins.require_loaded()?;
    let tables = VipTables::open(pins)?;
    let (vips, pools) = tables.counts()?;
    let (max_vips, max_pools) = tables.capacities();
    let mut interfaces = Vec::new();
    for name in pins.interfaces()? {
        interfaces.push(interface(pins, name));
    }
    Ok(Status {
        pin_dir: pins.root().display().to_string(),
        monitor: SettingsHandle::open(pins)?.monitor(),
        vips,
        pools,
        max_vips,
        max_pools,
        interfaces,
        datapath_build: upgrade::running(pins),
        binary_build: Build::this(),
        vrrp: vrrp(pins),
    })
}

/// One interface's hooks, as its pins and the kernel say.
fn interface(pins: &PinDir, name: String) -> IfaceStatus {
    let by_name = iface::index(&name).ok();
    let ingress = pins.find_ingress(&name);
    // Where an ingress link really is: the device it is attached to, even
    // if its name changed since (netlink attachments are found by name).
    let linked = ingress
        .as_ref()
        .filter(|(_, a)| a.via == Via::Link)
        .and_then(|(p, _)| sys::pinned_link_info(p).ok()?.ifindex.filter(|x| *x != 0));
    let renamed_to = match (linked, by_name) {
        (Some(l), b) if Some(l) != b => iface::name(l),
        _ => None,
    };
    let ifindex = if renamed_to.is_some() {
        linked
    } else {
        by_name
    };
    let hook = |kind, direction, mode, attach, st: HookState| HookStatus {
        kind,
        direction,
        mode,
        attach,
        link_id: st.link_id,
        program_id: st.prog_id,
        live: st.live,
    };
    let mut hooks = Vec::new();
    if let Some((path, a)) = ingress
        && let Some(st) = attach::hook_state(&path, Position::Ingress(a.hook), a.via, ifindex)
    {
        hooks.push(hook(a.kind(), "ingress", a.hook.xdp_mode(), a.via, st));
    }
    if let Some((path, via)) = pins.find_egress(&name)
        && let Some(st) = attach::hook_state(&path, Position::Egress, via, ifindex)
    {
        hooks.push(hook(tc_kind(via), "egress", None, via, st));
    }
    let healthy = hooks.len() == 2 && hooks.iter().all(|h| h.live);
    IfaceStatus {
        name,
        ifindex,
        renamed_to,
        hooks,
        healthy,
    }
}
