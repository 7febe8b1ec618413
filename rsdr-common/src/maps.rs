//! Map key and value layouts, and the names under which the maps are pinned.

use crate::counters::VIP_COUNTER_SLOTS;

/// An IPv4 address as the four bytes appear on the wire, loaded into a `u32`
/// in native byte order (`u32::from_ne_bytes(octets)`). Using the wire bytes
/// as-is spares the datapath a byte swap.
pub type Ipv4Raw = u32;

/// Map names, as declared in the eBPF object and used as pin file names.
pub mod names {
    /// Exact-match IPv4 VIP table: [`super::Ipv4Raw`] -> [`super::VipEntry4`] (per-CPU hash).
    pub const VIPS4: &str = "RSDR_VIPS4";
    /// Global decision counters: `u32` index -> `u64` (per-CPU array).
    pub const STATS: &str = "RSDR_STATS";
    /// Global settings: index 0 -> [`super::Config`] (array).
    pub const CONFIG: &str = "RSDR_CONFIG";
    /// aya-log ring buffer, pinned so a later `rsdr run` can read the datapath's logs.
    pub const LOGS: &str = "AYA_LOGS";
}

/// Program names, as declared in the eBPF object.
pub mod programs {
    /// XDP ingress filter.
    pub const XDP_INGRESS: &str = "rsdr_xdp_ingress";
    /// TC egress rewriter.
    pub const TC_EGRESS: &str = "rsdr_tc_egress";
}

/// Default capacity of the VIP table when maps are first created.
pub const DEFAULT_MAX_VIPS: u32 = 16_384;

/// Value of the exact-match IPv4 VIP table. The table is a per-CPU hash, so
/// every CPU holds its own copy: `real` and `flags` are written to all copies
/// by userspace; `counters` are bumped by the datapath on the local copy only
/// and summed by userspace.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VipEntry4 {
    /// The real server's own IPv4 address, wire byte order (see [`Ipv4Raw`]).
    pub real: Ipv4Raw,
    /// `VIP_F_*` bits.
    pub flags: u32,
    /// Per-VIP counters, indexed by [`crate::VipCounter`].
    pub counters: [u64; VIP_COUNTER_SLOTS],
}

/// Global settings, single entry at index 0 of the config array.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct Config {
    /// [`crate::LAYOUT_VERSION`] of the rsdr that created the pinned maps.
    pub layout_version: u32,
    /// `CONFIG_F_*` bits (reserved).
    pub flags: u32,
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: repr(C), no padding (asserted below), every bit pattern valid.
    unsafe impl aya::Pod for super::VipEntry4 {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Config {}
}

const _: () = assert!(core::mem::size_of::<VipEntry4>() == 8 + 8 * VIP_COUNTER_SLOTS);
const _: () = assert!(core::mem::size_of::<Config>() == 8);
