//! Map key and value layouts, and the names under which the maps are pinned.

use crate::{counters::VIP_COUNTER_SLOTS, pool_cache::PoolCache};

/// An IPv4 address as the four bytes appear on the wire, loaded into a `u32`
/// in native byte order (`u32::from_ne_bytes(octets)`). Using the wire bytes
/// as-is spares the datapath a byte swap.
pub type Ipv4Raw = u32;

/// An IPv6 address as its sixteen wire bytes.
pub type Ipv6Raw = [u8; 16];

/// An IPv6 address as two native 64-bit words of its wire bytes (bytes
/// 0..8 and 8..16), as the datapath holds it: two loads, two compares.
pub type Ipv6Words = [u64; 2];

/// [`Ipv6Raw`] as [`Ipv6Words`].
#[inline(always)]
pub fn ipv6_words(a: &Ipv6Raw) -> Ipv6Words {
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&a[i..i + 8]);
        u64::from_ne_bytes(b)
    };
    [w(0), w(8)]
}

/// [`Ipv6Words`] as four native 32-bit words of the wire bytes (bytes
/// 0..4, 4..8, 8..12, 12..16).
#[inline(always)]
pub fn ipv6_words32(a: &Ipv6Words) -> [u32; 4] {
    let half = |x: u64, i: usize| {
        let b = x.to_ne_bytes();
        u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    };
    [half(a[0], 0), half(a[0], 4), half(a[1], 0), half(a[1], 4)]
}

/// Per-VIP (or per-pool) counters, see [`crate::VipCounter`].
pub type VipCounters = [u64; VIP_COUNTER_SLOTS];

/// Map names, as declared in the eBPF object and used as pin file names.
pub mod names {
    /// Exact IPv4 VIPs: page -> [`crate::Page4`] (mmapable array, see [`crate::index`]).
    pub const INDEX4: &str = "RSDR_INDEX4";
    /// Exact IPv6 VIPs: page -> [`crate::Page6`] (mmapable array).
    pub const INDEX6: &str = "RSDR_INDEX6";
    /// Counters of exact VIPs, by counter slot: `u32` -> [`super::VipCounters`] (per-CPU array).
    pub const VIP_COUNTERS: &str = "RSDR_VIP_CTRS";
    /// IPv4 VIP pools: LPM key of 4 bytes -> [`super::PoolEntry4`] (LPM trie).
    pub const POOLS4: &str = "RSDR_POOLS4";
    /// IPv6 VIP pools: LPM key of 16 bytes -> [`super::PoolEntry6`] (LPM trie).
    pub const POOLS6: &str = "RSDR_POOLS6";
    /// Counters of pools, by pool slot: `u32` -> [`super::VipCounters`] (per-CPU array).
    pub const POOL_COUNTERS: &str = "RSDR_POOL_CTRS";
    /// Global decision counters: `u32` index -> `u64` (per-CPU array).
    pub const STATS: &str = "RSDR_STATS";
    /// Global settings: index 0 -> [`super::Settings`] (mmapable array).
    pub const CONFIG: &str = "RSDR_CONFIG";
    /// Benchmark only: program array of the tail-call egress variant.
    pub const BENCH_EGRESS_WRITER: &str = "RSDR_BENCH_EGRESS_WRITER";
    /// aya-log ring buffer, pinned so a later `rsdr run` can read the datapath's logs.
    pub const LOGS: &str = "AYA_LOGS";
    /// Global (read-only data, set by the loader): the hash shift of both
    /// VIP indexes, from their size ([`crate::index::shift_for`]).
    pub const INDEX_SHIFT_GLOBAL: &str = "RSDR_INDEX_SHIFT";
    /// Whether the index reader orders its slot reads with atomics
    /// ([`crate::index`], "Memory order").
    pub const ORDERED_READS_GLOBAL: &str = "RSDR_ORDERED_READS";
}

/// Program names, as declared in the eBPF object.
pub mod programs {
    /// XDP ingress filter (multi-buffer aware: loaded with the frags flag).
    pub const XDP_INGRESS: &str = "rsdr_xdp_ingress";
    /// [`XDP_INGRESS`] without the frags flag, for kernels before 5.18.
    pub const XDP_INGRESS_NO_FRAGS: &str = "rsdr_xdp_ingress_nofrags";
    /// TC egress filter and rewriter.
    pub const TC_EGRESS: &str = "rsdr_tc_egress";
    /// TC ingress filter: the XDP ingress decisions on the TC hook.
    pub const TC_INGRESS: &str = "rsdr_tc_ingress";
    /// Benchmark only: empty XDP program (the floor).
    pub const BENCH_XDP_FLOOR: &str = "rsdr_bench_xdp_floor";
    /// Benchmark only: empty TC program (the floor).
    pub const BENCH_TC_FLOOR: &str = "rsdr_bench_tc_floor";
    /// Benchmark only: XDP_TX, the live-frame traffic generator.
    pub const BENCH_XDP_TX: &str = "rsdr_bench_xdp_tx";
    /// Benchmark only: XDP_DROP, the flood sink (cheapest disposal).
    pub const BENCH_XDP_DROP: &str = "rsdr_bench_xdp_drop";
    /// Benchmark only: writes 4 bytes at [`super::BENCH_WRITE_OFFSET`] with
    /// `bpf_skb_store_bytes`, as the egress rewrite does.
    pub const BENCH_TC_STORE_BYTES: &str = "rsdr_bench_tc_store_bytes";
    /// Benchmark only: the same 4 bytes, written directly.
    pub const BENCH_TC_DIRECT_WRITE: &str = "rsdr_bench_tc_direct_write";
    /// Benchmark only: the TC egress program built to hand ARP rewrites to
    /// [`BENCH_TC_EGRESS_WRITER`] through a tail call.
    pub const BENCH_TC_EGRESS_TAIL_CALL: &str = "rsdr_bench_tc_egress_tail_call";
    /// Benchmark only: the direct writer it tail-calls.
    pub const BENCH_TC_EGRESS_WRITER: &str = "rsdr_bench_tc_egress_writer";
}

/// Where the write benchmark programs write: an ARP sender address.
pub const BENCH_WRITE_OFFSET: usize = 28;
/// What they write there.
pub const BENCH_WRITE_VALUE: [u8; 4] = [10, 0, 0, 2];

/// Default number of exact VIPs (IPv4 and IPv6 together) when the maps are
/// first created. Their counters are preallocated per CPU (128 bytes each).
pub const DEFAULT_MAX_VIPS: u32 = 4_096;
/// Default number of pool slots (IPv4 and IPv6 pools together).
pub const DEFAULT_MAX_POOLS: u32 = 256;

/// VIP flag: count decisions but do not enforce them (monitor mode).
pub const VIP_F_MONITOR: u32 = 1 << 0;
/// VIP flag: let frames that announce the VIP from elsewhere reach the host
/// (by default they are hidden, so the host sees no address conflict).
pub const VIP_F_SHOW_CONFLICTS: u32 = 1 << 1;
/// VIP flag: this host is the VRRP master of the VIP (keepalived holds it
/// on a NIC): every decision about it passes, counted as monitored. Set
/// and cleared by rsdr from the instance's state (docs/two-node.md).
pub const VIP_F_VRRP_MASTER: u32 = 1 << 2;
/// VIP flag: the VIP follows a VRRP instance; its announcements (gratuitous
/// ARP, NA) leave in every state: only the VRRP master sends them, and it
/// sends the first ones before it can tell rsdr it took over.
pub const VIP_F_VRRP: u32 = 1 << 3;
/// All VIP flags this build knows.
pub const VIP_F_ALL: u32 = VIP_F_MONITOR | VIP_F_SHOW_CONFLICTS | VIP_F_VRRP_MASTER | VIP_F_VRRP;

/// Settings flag: monitor mode for every VIP.
pub const CONFIG_F_MONITOR: u32 = 1 << 0;

/// Value of the IPv4 pool trie. Counters live in the pool-counter array at
/// `slot`, because trie values cannot be per-CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct PoolEntry4 {
    pub real: Ipv4Raw,
    pub flags: u32,
    pub slot: u32,
    pub _pad: u32,
}

/// Value of the IPv6 pool trie; see [`PoolEntry4`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct PoolEntry6 {
    pub real: Ipv6Raw,
    pub flags: u32,
    pub slot: u32,
}

/// Global settings, single entry at index 0 of the config map
/// ([`names::CONFIG`], a name kept for pins made by earlier builds).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct Settings {
    /// [`crate::LAYOUT_VERSION`] of the rsdr that created the pinned maps.
    pub layout_version: u32,
    /// `CONFIG_F_*` bits.
    pub flags: u32,
    /// Number of IPv4 pools; the datapath skips pools while zero, and
    /// matches them in `pools` while at most
    /// [`crate::pool_cache::CACHED_POOLS`]. Written under `pools.seq`.
    pub pools4: u32,
    /// Number of IPv6 pools; likewise.
    pub pools6: u32,
    /// Hash shift of both VIP indexes ([`crate::index::shift_for`]), set
    /// when the maps are made. The datapath reads its own load-time copy
    /// ([`names::INDEX_SHIFT_GLOBAL`]); this one tells programs of earlier
    /// builds, which read it here, during an upgrade.
    pub index_shift: u32,
    pub _pad: u32,
    /// The pools, while few (see [`crate::pool_cache`]).
    pub pools: PoolCache,
}

#[cfg(feature = "user")]
mod user {
    // SAFETY (all): repr(C), no padding (sizes asserted below), every bit
    // pattern valid.
    unsafe impl aya::Pod for crate::Slot4 {}
    unsafe impl aya::Pod for crate::Slot6 {}
    unsafe impl aya::Pod for super::PoolEntry4 {}
    unsafe impl aya::Pod for super::PoolEntry6 {}
    unsafe impl aya::Pod for super::Settings {}
}

const _: () = assert!(core::mem::size_of::<PoolEntry4>() == 16);
const _: () = assert!(core::mem::size_of::<PoolEntry6>() == 24);
const _: () = assert!(core::mem::size_of::<Settings>() == 24 + core::mem::size_of::<PoolCache>());
