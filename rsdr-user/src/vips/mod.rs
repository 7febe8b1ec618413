//! The VIP tables: exact IPv4 and IPv6 VIPs, IPv4 and IPv6 pools, with
//! their real IPs, flags and counters, and the global monitor switch.
//!
//! Exact VIPs live in two open-addressing indexes (one per family) that
//! userspace maps into its memory and writes so that the datapath never
//! misses a configured VIP (see `index.rs`); each VIP's counters live in a
//! per-CPU array at the VIP's counter slot, which a change of real IP or
//! flags keeps. Pools live in LPM tries, with their counters in a per-CPU
//! array at the pool's slot.

mod check;
mod index;
mod settings;
mod shared;
mod tables;

use std::net::IpAddr;

pub use check::check;
use rsdr_common::{VipCounters, maps::VIP_F_ALL};
use serde::Serialize;
pub use tables::VipTables;
use thiserror::Error;

use crate::addr::VipSpec;

#[derive(Debug, Error)]
pub enum VipError {
    #[error("VIP {0} is the same address as its real IP")]
    SameAsReal(VipSpec),
    #[error("real IP {real} lies inside pool {pool}; ARP for it would be dropped")]
    RealInPool { real: IpAddr, pool: VipSpec },
    #[error("real IP {real} is itself a configured VIP; ARP for it would be dropped")]
    RealIsVip { real: IpAddr },
    #[error("VIP {vip} would cover the real IP of VIP {other}; ARP for it must keep working")]
    CoversReal { vip: VipSpec, other: VipSpec },
    #[error("pool {new} overlaps pool {existing}; delete one first")]
    PoolOverlap { new: VipSpec, existing: VipSpec },
    #[error(
        "{what} table is full ({capacity} entries); delete unused entries, or detach everything and attach again with a larger {flag}"
    )]
    Full {
        what: &'static str,
        capacity: u32,
        flag: &'static str,
    },
    #[error("VIP {vip} and real IP {real} are not of the same family")]
    FamilyMismatch { vip: VipSpec, real: IpAddr },
    #[error("{0}")]
    Layout(String),
    #[error("VIP {0} is given more than once")]
    Duplicate(VipSpec),
    #[error("VIP {0} is not configured")]
    Absent(VipSpec),
    #[error("unknown VIP flags {0:#x}")]
    BadFlags(u32),
    #[error("cannot count CPUs: {0}")]
    Cpus(String),
    #[error(
        "VIP {vip} finds no free index slot within {max} slots of its hash; detach everything and attach again with a larger --max-vips",
        max = rsdr_common::index::MAX_PROBES
    )]
    NoSlot { vip: VipSpec },
    #[error("map {map}: cannot map it into memory: {source}")]
    Index {
        map: &'static str,
        source: std::io::Error,
    },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        source: aya::maps::MapError,
    },
}

/// One configured VIP or pool, with counters summed over CPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub vip: VipSpec,
    pub real: IpAddr,
    /// `VIP_F_*` bits.
    pub flags: u32,
    pub counters: VipCounters,
}

/// How an entry is shown in `vip list --json`.
#[derive(Serialize)]
pub struct EntryView {
    pub vip: String,
    pub real: IpAddr,
    pub kind: &'static str,
    pub monitor: bool,
    pub show_conflicts: bool,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        use rsdr_common::maps::{VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS};
        Self {
            vip: e.vip.to_string(),
            real: e.real,
            kind: match e.vip {
                VipSpec::Addr(_) => "address",
                VipSpec::Pool(..) => "pool",
            },
            monitor: e.flags & VIP_F_MONITOR != 0,
            show_conflicts: e.flags & VIP_F_SHOW_CONFLICTS != 0,
        }
    }
}

/// What `add` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Unchanged,
    Updated { old_real: IpAddr },
}

/// Fails unless `flags` only holds known bits.
pub fn check_flags(flags: u32) -> Result<(), VipError> {
    if flags & !VIP_F_ALL != 0 {
        Err(VipError::BadFlags(flags))
    } else {
        Ok(())
    }
}
