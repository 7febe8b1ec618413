//! Map definitions. Names and layouts come from `rsdr-common`; capacities
//! here are defaults that `rsdr attach --max-vips` overrides at load.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray, PerCpuHashMap},
};
use rsdr_common::{
    Config, Ipv4Raw, VipEntry4, counters::STAT_SLOTS, maps::DEFAULT_MAX_VIPS,
};

#[map]
pub static RSDR_VIPS4: PerCpuHashMap<Ipv4Raw, VipEntry4> =
    PerCpuHashMap::with_max_entries(DEFAULT_MAX_VIPS, 0);

#[map]
pub static RSDR_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_SLOTS, 0);

#[map]
pub static RSDR_CONFIG: Array<Config> = Array::with_max_entries(1, 0);
