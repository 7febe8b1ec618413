//! The VIP table: VIP -> real IP, flags and per-VIP counters.
//!
//! The table is a per-CPU hash so the datapath finds a VIP's settings and its
//! counters with one lookup. Userspace therefore writes settings to every
//! CPU's copy and sums counters over CPUs. Changing an existing VIP's
//! settings rewrites all copies with their counters carried over; increments
//! made by the datapath in the microseconds between that read and write are
//! lost, which is accepted for a configuration change.

use std::{
    borrow::{Borrow, BorrowMut},
    net::Ipv4Addr,
};

use aya::{
    maps::{Map, MapData, MapError, PerCpuHashMap, PerCpuValues},
    sys::SyscallError,
    util::nr_cpus,
};
use rsdr_common::{Ipv4Raw, VipEntry4, counters::VIP_COUNTER_SLOTS, maps::names};
use serde::Serialize;
use thiserror::Error;

use crate::{
    addr::{from_raw, to_raw},
    pins::PinDir,
};


const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;

#[derive(Debug, Error)]
pub enum VipError {
    #[error("VIP {0} is the same address as its real IP")]
    SameAsReal(Ipv4Addr),
    #[error("real IP {real} is itself a configured VIP; ARP for it would be dropped")]
    RealIsVip { real: Ipv4Addr },
    #[error("VIP {vip} is already the real IP of VIP {other}; ARP for it must keep working")]
    VipIsReal { vip: Ipv4Addr, other: Ipv4Addr },
    #[error("VIP table is full ({capacity} entries); delete unused VIPs, or detach everything and attach again with a larger --max-vips")]
    Full { capacity: u32 },
    #[error("VIP {0} is not configured")]
    Absent(Ipv4Addr),
    #[error("cannot count CPUs: {0}")]
    Cpus(String),
    #[error("VIP map: {0}")]
    Map(#[from] MapError),
}

/// One VIP, with counters summed over CPUs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Vip {
    pub vip: Ipv4Addr,
    pub real: Ipv4Addr,
    pub flags: u32,
    #[serde(skip)]
    pub counters: [u64; VIP_COUNTER_SLOTS],
}

/// What `add` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Unchanged,
    Updated { old_real: Ipv4Addr },
}

pub struct VipTable<T> {
    map: PerCpuHashMap<T, Ipv4Raw, VipEntry4>,
    capacity: u32,
}

impl VipTable<MapData> {
    /// Open the pinned VIP table of a pin directory.
    pub fn open(pins: &PinDir) -> Result<Self, VipError> {
        let data = MapData::from_pin(pins.map(names::VIPS4))?;
        let capacity = data.info()?.max_entries();
        let map = PerCpuHashMap::try_from(Map::PerCpuHashMap(data))?;
        Ok(Self { map, capacity })
    }
}

impl<T: Borrow<MapData>> VipTable<T> {
    /// Wrap an already opened map (e.g. from a privately loaded object).
    pub fn from_map(map: PerCpuHashMap<T, Ipv4Raw, VipEntry4>, capacity: u32) -> Self {
        Self { map, capacity }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn get(&self, vip: Ipv4Addr) -> Result<Option<Vip>, VipError> {
        match self.map.get(&to_raw(vip), 0) {
            Ok(values) => Ok(Some(summed(to_raw(vip), &values))),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// All VIPs, sorted by address.
    pub fn list(&self) -> Result<Vec<Vip>, VipError> {
        let mut out = Vec::new();
        for item in self.map.iter() {
            let (key, values) = item?;
            out.push(summed(key, &values));
        }
        out.sort_by_key(|v| v.vip);
        Ok(out)
    }
}

impl<T: BorrowMut<MapData>> VipTable<T> {
    /// Add `vip` (or change its real IP). Checks everything before writing.
    pub fn add(&mut self, vip: Ipv4Addr, real: Ipv4Addr) -> Result<Change, VipError> {
        if vip == real {
            return Err(VipError::SameAsReal(vip));
        }
        if self.get(real)?.is_some() {
            return Err(VipError::RealIsVip { real });
        }
        let all = self.list()?;
        if let Some(other) = all.iter().find(|v| v.real == vip && v.vip != vip) {
            return Err(VipError::VipIsReal { vip, other: other.vip });
        }
        let key = to_raw(vip);
        match all.iter().find(|v| v.vip == vip) {
            Some(existing) if existing.real == real => Ok(Change::Unchanged),
            Some(existing) => {
                let old_real = existing.real;
                let mut values: Vec<VipEntry4> = self.map.get(&key, 0)?.iter().copied().collect();
                for v in &mut values {
                    v.real = to_raw(real);
                }
                self.map.insert(key, per_cpu(values)?, BPF_EXIST)?;
                Ok(Change::Updated { old_real })
            }
            None => {
                let n = nr_cpus().map_err(|(what, e)| VipError::Cpus(format!("{what}: {e}")))?;
                let entry = VipEntry4 { real: to_raw(real), flags: 0, counters: [0; VIP_COUNTER_SLOTS] };
                match self.map.insert(key, per_cpu(vec![entry; n])?, BPF_NOEXIST) {
                    Ok(()) => Ok(Change::Added),
                    Err(MapError::SyscallError(SyscallError { io_error, .. }))
                        if io_error.raw_os_error() == Some(libc::E2BIG) =>
                    {
                        Err(VipError::Full { capacity: self.capacity })
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Remove `vip`; fails if it is not configured.
    pub fn remove(&mut self, vip: Ipv4Addr) -> Result<Vip, VipError> {
        let existing = self.get(vip)?.ok_or(VipError::Absent(vip))?;
        match self.map.remove(&to_raw(vip)) {
            Ok(()) => Ok(existing),
            Err(MapError::KeyNotFound) => Err(VipError::Absent(vip)),
            Err(e) => Err(e.into()),
        }
    }
}

fn per_cpu(values: Vec<VipEntry4>) -> Result<PerCpuValues<VipEntry4>, VipError> {
    PerCpuValues::try_from(values).map_err(|e| VipError::Cpus(e.to_string()))
}

fn summed(key: Ipv4Raw, values: &PerCpuValues<VipEntry4>) -> Vip {
    let mut counters = [0u64; VIP_COUNTER_SLOTS];
    let mut real = 0;
    let mut flags = 0;
    for (i, v) in values.iter().enumerate() {
        if i == 0 {
            real = v.real;
            flags = v.flags;
        }
        for (sum, c) in counters.iter_mut().zip(v.counters.iter()) {
            *sum = sum.wrapping_add(*c);
        }
    }
    Vip { vip: from_raw(key), real: from_raw(real), flags, counters }
}
