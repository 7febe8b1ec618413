//! Per-CPU counter arrays: the counters of exact VIPs and of pools, each
//! at the slot its entry names.

use aya::{
    maps::{MapData, PerCpuArray, PerCpuValues},
    util::nr_cpus,
};
use rsdr_common::{VipCounters, counters::VIP_COUNTER_SLOTS};

use super::VipError;

pub struct CounterArray {
    map: PerCpuArray<MapData, VipCounters>,
    name: &'static str,
    capacity: u32,
}

impl CounterArray {
    pub fn new(data: MapData, name: &'static str) -> Result<Self, VipError> {
        let err = |source| VipError::Map { map: name, source };
        let capacity = data.info().map_err(err)?.max_entries();
        let map = PerCpuArray::try_from(aya::maps::Map::PerCpuArray(data)).map_err(err)?;
        Ok(Self {
            map,
            name,
            capacity,
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The `n` lowest slots not in `used`.
    pub fn free(&self, used: &std::collections::HashSet<u32>, n: usize) -> Vec<u32> {
        (0..self.capacity)
            .filter(|c| !used.contains(c))
            .take(n)
            .collect()
    }

    /// Zero a slot on every CPU.
    pub fn zero(&mut self, slot: u32) -> Result<(), VipError> {
        let cpus = nr_cpus().map_err(|(what, e)| VipError::Cpus(format!("{what}: {e}")))?;
        let zero = PerCpuValues::try_from(vec![[0u64; VIP_COUNTER_SLOTS]; cpus])
            .map_err(|e| VipError::Cpus(e.to_string()))?;
        self.map.set(slot, zero, 0).map_err(|source| VipError::Map {
            map: self.name,
            source,
        })
    }

    /// A slot summed over CPUs.
    pub fn summed(&self, slot: u32) -> Result<VipCounters, VipError> {
        let mut total = [0u64; VIP_COUNTER_SLOTS];
        let per_cpu = self.map.get(&slot, 0).map_err(|source| VipError::Map {
            map: self.name,
            source,
        })?;
        for c in per_cpu.iter() {
            for (s, v) in total.iter_mut().zip(c) {
                *s = s.wrapping_add(*v);
            }
        }
        Ok(total)
    }
}
