//! Map definitions. Names and layouts come from `rsdr-common`; capacities
//! here are defaults that `rsdr attach --max-vips/--max-pools` override at
//! load. Exact VIPs live in two open-addressing indexes (`rsdr_common::index`)
//! that userspace maps into its memory; their counters live in a per-CPU
//! array by counter slot, as pools' do.

use aya_ebpf::{
    Global,
    bindings::BPF_F_MMAPABLE,
    macros::map,
    maps::{Array, LpmTrie, PerCpuArray},
};
use rsdr_common::{
    Page4, Page6, PoolEntry4, PoolEntry6, Settings, VipCounters,
    counters::STAT_SLOTS,
    index::{pages_for, slots_for},
    maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS},
};

/// Sized at load to the pages of `rsdr_common::index::slots_for(max_vips)`.
#[map]
pub static RSDR_INDEX4: Array<Page4> =
    Array::with_max_entries(pages_for(slots_for(DEFAULT_MAX_VIPS)), BPF_F_MMAPABLE);

#[map]
pub static RSDR_INDEX6: Array<Page6> =
    Array::with_max_entries(pages_for(slots_for(DEFAULT_MAX_VIPS)), BPF_F_MMAPABLE);

#[map]
pub static RSDR_VIP_CTRS: PerCpuArray<VipCounters> =
    PerCpuArray::with_max_entries(DEFAULT_MAX_VIPS, 0);

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

/// Benchmark only: slot 0 is filled with `rsdr_bench_tc_egress_writer` by
/// the benchmark, for `rsdr_bench_tc_egress_tail_call`.
#[cfg(feature = "bench")]
#[map]
pub static RSDR_BENCH_EGRESS_WRITER: aya_ebpf::maps::ProgramArray =
    aya_ebpf::maps::ProgramArray::with_max_entries(1, 0);

/// Mmapable: userspace writes single fields (and the pool cache under its
/// sequence count) while the datapath reads them.
#[map]
pub static RSDR_CONFIG: Array<Settings> = Array::with_max_entries(1, BPF_F_MMAPABLE);

/// The indexes' hash shift (`rsdr_common::maps::names::INDEX_SHIFT_GLOBAL`):
/// fixed with their size when the object is loaded, so a lookup reads it
/// from read-only data, not from the settings map. 0 only if a loader did
/// not set it, and then no address is an exact VIP.
#[unsafe(no_mangle)]
pub static RSDR_INDEX_SHIFT: Global<u32> = Global::new(0);

/// 1 where loads may pass loads (weakly ordered CPUs: anything but x86),
/// set by the loader (`rsdr_common::maps::names::ORDERED_READS_GLOBAL`):
/// the index reader then takes a matching slot's state with atomic
/// read-modify-writes, which order the field reads between them (BPF has
/// no load-acquire before Linux 6.15). 0 on x86, where the verifier sees
/// the constant and removes that path.
#[unsafe(no_mangle)]
pub static RSDR_ORDERED_READS: Global<u32> = Global::new(0);
