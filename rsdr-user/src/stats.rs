//! Global decision counters and per-VIP counters, summed over CPUs.

use std::borrow::Borrow;

use aya::maps::{Map, MapData, MapError, PerCpuArray};
use rsdr_common::{Stat, VipCounter, maps::names};
use serde::Serialize;
use thiserror::Error;

use crate::{
    pins::PinDir,
    vips::{Vip, VipError, VipTable},
};

#[derive(Debug, Error)]
pub enum StatsError {
    #[error("stats map: {0}")]
    Map(#[from] MapError),
    #[error(transparent)]
    Vips(#[from] VipError),
}

/// One global counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counter {
    pub name: &'static str,
    pub value: u64,
}

/// One VIP's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipStats {
    pub vip: std::net::Ipv4Addr,
    pub real: std::net::Ipv4Addr,
    pub counters: std::collections::BTreeMap<&'static str, u64>,
}

impl From<&Vip> for VipStats {
    fn from(v: &Vip) -> Self {
        let counters = VipCounter::ALL
            .iter()
            .map(|c| (c.name(), v.counters[*c as usize]))
            .collect();
        Self { vip: v.vip, real: v.real, counters }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub global: Vec<Counter>,
    pub vips: Vec<VipStats>,
}

/// Global counters from a stats map.
pub fn global<T: Borrow<MapData>>(map: &PerCpuArray<T, u64>) -> Result<Vec<Counter>, MapError> {
    Stat::ALL
        .iter()
        .map(|s| {
            let values = map.get(&(*s as u32), 0)?;
            Ok(Counter { name: s.name(), value: values.iter().fold(0u64, |a, v| a.wrapping_add(*v)) })
        })
        .collect()
}

/// Everything, from a pin directory.
pub fn snapshot(pins: &PinDir) -> Result<Snapshot, StatsError> {
    let data = MapData::from_pin(pins.map(names::STATS))?;
    let stats: PerCpuArray<_, u64> = PerCpuArray::try_from(Map::PerCpuArray(data))?;
    let vips = VipTable::open(pins)?.list()?;
    Ok(Snapshot { global: global(&stats)?, vips: vips.iter().map(VipStats::from).collect() })
}
