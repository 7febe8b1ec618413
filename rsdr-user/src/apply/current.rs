//! The running state, as far as a configuration describes it.

use crate::{
    entry::VipEntry,
    hook::AttachedIngress,
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
    /// Its ingress hook, if its link is pinned.
    pub ingress: Option<AttachedIngress>,
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
}

/// Read what is running now.
pub async fn current(pins: &PinDir, netlink: &rtnetlink::Handle) -> Result<Current, ApplyError> {
    let addresses = addresses::list(netlink).await?;
    if !pins.is_loaded() {
        return Ok(Current {
            addresses,
            ..Current::default()
        });
    }
    let interfaces = pins
        .interfaces()?
        .into_iter()
        .map(|name| AttachedInterface {
            ingress: pins.find_ingress_link(&name).map(|(_, h)| h),
            name,
        })
        .collect();
    Ok(Current {
        loaded: true,
        interfaces,
        vips: VipTables::open(pins)?.entries()?,
        monitor: SettingsHandle::open(pins)?.monitor(),
        addresses,
    })
}
