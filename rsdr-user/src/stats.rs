//! Global decision counters and per-VIP counters, summed over CPUs, each in
//! an enforced and a monitored (counted, not enforced) copy.

use std::{borrow::Borrow, collections::BTreeMap, net::IpAddr};

use aya::maps::{Map, MapData, MapError, PerCpuArray};
use rsdr_common::{
    Stat, VipCounter,
    counters::{MONITOR_OFFSET, VIP_MONITOR_OFFSET},
    maps::names,
};
use serde::Serialize;
use thiserror::Error;

use crate::{
    entry::VipRecord,
    pins::PinDir,
    settings::{SettingsError, SettingsHandle},
    tables::{VipError, VipTables},
};

#[derive(Debug, Error)]
pub enum StatsError {
    #[error("stats map: {0}")]
    Map(#[from] MapError),
    #[error(transparent)]
    Vips(#[from] VipError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Pins(#[from] crate::pins::PinError),
}

/// One VIP's (or pool's) counters by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipStats {
    pub vip: String,
    pub real: IpAddr,
    pub counters: BTreeMap<&'static str, u64>,
    /// What monitor mode counted for this VIP without enforcing it.
    pub monitored: BTreeMap<&'static str, u64>,
}

impl From<&VipRecord> for VipStats {
    fn from(e: &VipRecord) -> Self {
        let pick = |off: usize| {
            VipCounter::ALL
                .iter()
                .map(|c| (c.name(), e.counters[*c as usize + off]))
                .collect()
        };
        Self {
            vip: e.entry.vip.to_string(),
            real: e.entry.real,
            counters: pick(0),
            monitored: pick(VIP_MONITOR_OFFSET),
        }
    }
}

/// Global counters, enforced and monitored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Global {
    pub decisions: BTreeMap<&'static str, u64>,
    pub monitored: BTreeMap<&'static str, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The global monitor switch.
    pub monitor: bool,
    pub global: Global,
    pub vips: Vec<VipStats>,
}

/// Read one global counter (summed over CPUs).
pub fn read<T: Borrow<MapData>>(
    map: &PerCpuArray<T, u64>,
    stat: Stat,
    monitored: bool,
) -> Result<u64, MapError> {
    let idx = stat as u32 + if monitored { MONITOR_OFFSET } else { 0 };
    Ok(map
        .get(&idx, 0)?
        .iter()
        .fold(0u64, |a, v| a.wrapping_add(*v)))
}

/// All global counters from a stats map.
pub fn global<T: Borrow<MapData>>(map: &PerCpuArray<T, u64>) -> Result<Global, MapError> {
    let mut g = Global::default();
    for s in Stat::ALL {
        g.decisions.insert(s.name(), read(map, *s, false)?);
        g.monitored.insert(s.name(), read(map, *s, true)?);
    }
    Ok(g)
}

/// Everything, from a pin directory.
pub fn snapshot(pins: &PinDir) -> Result<Snapshot, StatsError> {
    pins.require_loaded()?;
    let data = MapData::from_pin(pins.map(names::STATS))?;
    let stats: PerCpuArray<_, u64> = PerCpuArray::try_from(Map::PerCpuArray(data))?;
    let records = VipTables::open(pins)?.records()?;
    Ok(Snapshot {
        monitor: SettingsHandle::open(pins)?.monitor(),
        global: global(&stats)?,
        vips: records.iter().map(VipStats::from).collect(),
    })
}
