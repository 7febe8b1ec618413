//! The running state, as far as a configuration describes it.

use crate::{
    entry::VipEntry,
    features,
    hook::{IngressAttachment, Via},
    netlink::addresses::{self, DevAddr},
    pins::PinDir,
    settings::SettingsHandle,
    tables::VipTables,
};

use super::ApplyError;

/// An interface rsdr has pins for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedInterface {
    pub name: String,
    /// Its ingress hook, if pinned.
    pub ingress: Option<IngressAttachment>,
    /// How its TC egress hook is attached, if pinned.
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
}

/// Read what is running now.
pub async fn current(pins: &PinDir, netlink: &rtnetlink::Handle) -> Result<Current, ApplyError> {
    let addresses = addresses::list(netlink).await?;
    let tcx = features::probe().tcx;
    if !pins.is_loaded() {
        return Ok(Current {
            addresses,
            tcx,
            ..Current::default()
        });
    }
    let interfaces = pins
        .interfaces()?
        .into_iter()
        .map(|name| AttachedInterface {
            ingress: pins.find_ingress(&name).map(|(_, a)| a),
            egress: pins.find_egress(&name).map(|(_, via)| via),
            name,
        })
        .collect();
    Ok(Current {
        loaded: true,
        interfaces,
        vips: VipTables::open(pins)?.entries()?,
        monitor: SettingsHandle::open(pins)?.monitor(),
        addresses,
        tcx,
    })
}
