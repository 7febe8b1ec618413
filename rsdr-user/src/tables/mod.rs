//! The VIP tables: exact IPv4 and IPv6 VIPs, IPv4 and IPv6 pools, with
//! their real IPs, flags and counters. [`VipTables::put`] is where every
//! VIP entry, from the command line or from the configuration file, is
//! written.
//!
//! Exact VIPs live in two open-addressing indexes (one per family) that
//! userspace maps into its memory and writes so that the datapath never
//! misses a configured VIP (`index.rs`); each VIP's counters live in a
//! per-CPU array at the VIP's counter slot, which a change of real IP or
//! flags keeps. Pools live in LPM tries, with their counters in a per-CPU
//! array at the pool's slot, and a copy in the pool cache
//! (`pool_cache.rs`) while few. `family.rs` holds everything that is
//! written once for both families.

#[cfg(feature = "testing")]
mod bench;
mod counters;
mod family;
mod index;
mod pool_cache;
pub mod rules;
mod vip_tables;

use std::net::IpAddr;

use thiserror::Error;
pub use vip_tables::VipTables;

use crate::{
    pins::{PinDir, PinError},
    settings::SettingsError,
    vip::Vip,
};

/// Change the tables under `pins` with `change`, holding the pin
/// directory's lock: the checks and writes of two concurrent changes must
/// not interleave.
pub fn edit<R>(
    pins: &PinDir,
    change: impl FnOnce(&mut VipTables) -> Result<R, VipError>,
) -> Result<R, VipError> {
    pins.check_bpffs()?;
    let pins = pins.lock()?;
    change(&mut VipTables::open(&pins)?)
}

#[derive(Debug, Error)]
pub enum VipError {
    #[error("VIP {0} is the same address as its real IP")]
    SameAsReal(Vip),
    #[error("real IP {real} lies inside pool {pool}; ARP for it would be dropped")]
    RealInPool { real: IpAddr, pool: Vip },
    #[error("real IP {real} is itself a configured VIP; ARP for it would be dropped")]
    RealIsVip { real: IpAddr },
    #[error("VIP {vip} would cover the real IP of VIP {other}; ARP for it must keep working")]
    CoversReal { vip: Vip, other: Vip },
    #[error("pool {new} overlaps pool {existing}; delete one first")]
    PoolOverlap { new: Vip, existing: Vip },
    #[error(
        "{what} table is full ({capacity} entries); delete unused entries, or detach everything and attach again with a larger {flag}"
    )]
    Full {
        what: &'static str,
        capacity: u32,
        flag: &'static str,
    },
    #[error("VIP {vip} and real IP {real} are not of the same family")]
    FamilyMismatch { vip: Vip, real: IpAddr },
    #[error("{0}")]
    Layout(String),
    #[error("VIP {0} is given more than once")]
    Duplicate(Vip),
    #[error("VIP {0} is not configured")]
    Absent(Vip),
    #[error("cannot count CPUs: {0}")]
    Cpus(String),
    #[error(
        "VIP {vip} finds no free index slot within {max} slots of its hash; detach everything and attach again with a larger --max-vips",
        max = rsdr_common::index::MAX_PROBES
    )]
    NoSlot { vip: Vip },
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
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Pins(#[from] PinError),
}
