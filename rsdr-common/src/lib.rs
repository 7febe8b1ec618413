//! Types shared by the rsdr eBPF programs and the `rsdr` userspace tool.
//!
//! Everything that crosses the kernel/user boundary (map keys, map values,
//! counter indices, flag bits) is defined once, here. All types are
//! `#[repr(C)]`, free of padding and size-asserted, so both sides agree on the
//! layout byte for byte. Userspace-only trait impls (`aya::Pod`,
//! `bytemuck::Pod`) live behind the `user` feature.
#![cfg_attr(not(test), no_std)]

pub mod counters;
pub mod index;
pub mod maps;
pub mod pool_cache;

pub use counters::{Stat, VipCounter};
pub use index::{Page4, Page6, Slot4, Slot6};
pub use maps::{Ipv4Raw, Ipv6Raw, PoolEntry4, PoolEntry6, Settings, VipCounters};

/// Bumped whenever the layout of a pinned map changes incompatibly. Stored in
/// the pinned config map so a newer `rsdr` never misreads an older pin set.
pub const LAYOUT_VERSION: u32 = 3;
