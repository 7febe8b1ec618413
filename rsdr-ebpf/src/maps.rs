//! Map definitions. Names and layouts come from `rsdr-common`; capacities
//! here are defaults that `rsdr attach --max-vips/--max-pools` override at
//! load. The hash tables are not preallocated, so memory follows the VIPs
//! actually configured (each VIP costs one entry per CPU).

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{Array, LpmTrie, PerCpuArray, PerCpuHashMap},
};
use rsdr_common::{
    Config, Ipv4Raw, Ipv6Raw, PoolEntry4, PoolEntry6, VipCounters, VipEntry4, VipEntry6,
    counters::STAT_SLOTS,
    maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS},
};

#[map]
pub static RSDR_VIPS4: PerCpuHashMap<Ipv4Raw, VipEntry4> =
    PerCpuHashMap::with_max_entries(DEFAULT_MAX_VIPS, BPF_F_NO_PREALLOC);

#[map]
pub static RSDR_VIPS6: PerCpuHashMap<Ipv6Raw, VipEntry6> =
    PerCpuHashMap::with_max_entries(DEFAULT_MAX_VIPS, BPF_F_NO_PREALLOC);

#[map]
pub static RSDR_POOLS4: LpmTrie<[u8; 4], PoolEntry4> =
    LpmTrie::with_max_entries(DEFAULT_MAX_POOLS, 0);

#[map]
pub static RSDR_POOLS6: LpmTrie<[u8; 16], PoolEntry6> =
    LpmTrie::with_max_entries(DEFAULT_MAX_POOLS, 0);

#[map]
pub static RSDR_POOL_CTRS: PerCpuArray<VipCounters> =
    PerCpuArray::with_max_entries(DEFAULT_MAX_POOLS, 0);

#[map]
pub static RSDR_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_SLOTS, 0);

#[map]
pub static RSDR_CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// Sized at load from the VIP capacity (`rsdr_common::sketch::words_for`).
#[map]
pub static RSDR_SKETCH: Array<u64> = Array::with_max_entries(64, 0);
