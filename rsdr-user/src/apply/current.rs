//! The running state, as far as a configuration describes it. A hook
//! counts as attached only while it is live on the interface that has its
//! name now: one whose interface is gone, or was deleted and created again
//! under the same name (a new ifindex), is not.

use std::collections::{HashMap, HashSet};

use crate::{
    attach::{Position, is_live},
    entry::VipEntry,
    features,
    hook::{IngressAttachment, Via},
    netlink::{
        addresses::{self, DevAddr},
        links,
    },
    pins::PinDir,
    settings::SettingsHandle,
    tables::VipTables,
};

use super::ApplyError;

/// An interface rsdr has pins for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedInterface {
    pub name: String,
    /// Its ingress hook, if pinned and live.
    pub ingress: Option<IngressAttachment>,
    /// How its TC egress hook is attached, if pinned and live.
    pub egress: Option<Via>,
}

#[derive(Clone, Debug, Default)]
pub struct Current {
    /// rsdr's maps exist under the pin directory.
    pub loaded: bool,
    pub interfaces: Vec<AttachedInterface>,
    pub vips: Vec<VipEntry>,
    pub monitor: bool,
    /// Every address of the namespace; those marked as rsdr's are `managed`.
    pub addresses: Vec<DevAddr>,
    /// The kernel has TCX (`tc_attach = "auto"` means TCX links).
    pub tcx: bool,
    /// The names of the network interfaces that exist now.
    pub present: HashSet<String>,
    /// The VRRP instances recorded MASTER on this host.
    pub vrrp_masters: HashSet<String>,
}

/// Read what is running now.
pub async fn current(pins: &PinDir, netlink: &rtnetlink::Handle) -> Result<Current, ApplyError> {
    let addresses = addresses::list(netlink).await?;
    // One listing gives both what exists and each name's index now.
    let ifindexes: HashMap<String, u32> = links::list(netlink)
        .await?
        .into_iter()
        .map(|l| (l.name, l.ifindex))
        .collect();
    let present: HashSet<String> = ifindexes.keys().cloned().collect();
    let tcx = features::probe().tcx;
    if !pins.is_loaded() {
        return Ok(Current {
            addresses,
            tcx,
            present,
            ..Current::default()
        });
    }
    let interfaces = pins
        .interfaces()?
        .into_iter()
        .map(|name| {
            let ifindex = ifindexes.get(&name).copied();
            let live = |path: &std::path::Path, position, via| {
                ifindex.is_some_and(|i| is_live(path, position, via, i))
            };
            AttachedInterface {
                ingress: pins
                    .find_ingress(&name)
                    .filter(|(p, a)| live(p, Position::Ingress(a.hook), a.via))
                    .map(|(_, a)| a),
                egress: pins
                    .find_egress(&name)
                    .filter(|(p, via)| live(p, Position::Egress, *via))
                    .map(|(_, via)| via),
                name,
            }
        })
        .collect();
    Ok(Current {
        loaded: true,
        interfaces,
        vips: VipTables::open(pins)?.entries()?,
        monitor: SettingsHandle::open(pins)?.monitor(),
        addresses,
        tcx,
        present,
        vrrp_masters: crate::vrrp::record::masters(pins).map_err(|source| ApplyError::Vrrp {
            path: crate::vrrp::record::dir(pins),
            source,
        })?,
    })
}
