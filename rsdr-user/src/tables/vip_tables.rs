//! [`VipTables`]: reading and writing the VIP entries of both families
//! (see the module docs in `mod.rs`).

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use aya::{
    Ebpf,
    maps::{Map, MapData, MapError},
    sys::SyscallError,
};
use rsdr_common::maps::names;

use super::{
    VipError,
    counters::CounterArray,
    family::{Families, Family, FamilyTables, Stored, V4, V6},
    index::NoSlot,
    pool_cache::PoolCacheWriter,
    rules,
};
use crate::{
    entry::{Change, VipEntry, VipRecord},
    pins::PinDir,
    vip::Vip,
};

pub struct VipTables {
    pub(super) families: Families,
    pub(super) vip_counters: CounterArray,
    pool_counters: CounterArray,
    pub(super) pool_cache: PoolCacheWriter,
    /// The settings map behind the pool cache's mapping, kept open: a
    /// program of the same object loaded later refers to its maps by
    /// these descriptors (the other maps are held by their tables).
    _settings_map: MapData,
}

pub(super) fn full(what: &'static str, capacity: u32) -> VipError {
    let flag = if what == "VIP" {
        "--max-vips"
    } else {
        "--max-pools"
    };
    VipError::Full {
        what,
        capacity,
        flag,
    }
}

fn is_full(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(SyscallError { io_error, .. })
        if matches!(io_error.raw_os_error(), Some(libc::E2BIG) | Some(libc::ENOSPC)))
}

fn is_exact(v: &Vip) -> bool {
    matches!(v, Vip::Addr(_))
}

/// Sorted as listed: IPv4 first, addresses before pools.
fn sort_key(v: &Vip) -> (bool, bool, Vip) {
    (!v.is_ipv4(), !is_exact(v), *v)
}

impl VipTables {
    /// Open the pinned tables of a pin directory (after checking that rsdr
    /// is loaded there, by a compatible build).
    pub fn open(pins: &PinDir) -> Result<Self, VipError> {
        pins.require_loaded()?;
        crate::loader::check_pinned_layout(pins).map_err(|e| VipError::Layout(e.to_string()))?;
        Self::build(|name| {
            MapData::from_pin(pins.map(name)).map_err(|source| VipError::Map { map: name, source })
        })
    }

    /// Take the tables out of a loaded object (its programs keep using them).
    pub fn from_ebpf(ebpf: &mut Ebpf) -> Result<Self, VipError> {
        Self::build(|name| {
            let missing = || VipError::Map {
                map: name,
                source: MapError::InvalidName { name: name.into() },
            };
            match ebpf.take_map(name).ok_or_else(missing)? {
                Map::LpmTrie(d) | Map::PerCpuArray(d) | Map::Array(d) => Ok(d),
                _ => Err(missing()),
            }
        })
    }

    fn build(
        mut get: impl FnMut(&'static str) -> Result<MapData, VipError>,
    ) -> Result<Self, VipError> {
        let settings = get(names::CONFIG)?;
        Ok(Self {
            families: Families {
                v4: FamilyTables::new(get(names::INDEX4)?, get(names::POOLS4)?)?,
                v6: FamilyTables::new(get(names::INDEX6)?, get(names::POOLS6)?)?,
            },
            vip_counters: CounterArray::new(get(names::VIP_COUNTERS)?, names::VIP_COUNTERS)?,
            pool_counters: CounterArray::new(get(names::POOL_COUNTERS)?, names::POOL_COUNTERS)?,
            pool_cache: PoolCacheWriter::map(std::os::fd::AsFd::as_fd(settings.fd()))?,
            _settings_map: settings,
        })
    }

    /// Capacities: (exact VIPs of both families, pool slots).
    pub fn capacities(&self) -> (u32, u32) {
        (self.vip_counters.capacity(), self.pool_counters.capacity())
    }

    /// How many exact VIPs and pools the tables hold, without reading any
    /// counters.
    pub fn counts(&self) -> Result<(usize, usize), VipError> {
        let (e4, p4) = self.families.v4.counts()?;
        let (e6, p6) = self.families.v6.counts()?;
        Ok((e4 + e6, p4 + p6))
    }

    /// Every entry with its counter slot, unsorted.
    fn stored(&self) -> Result<Vec<Stored>, VipError> {
        let f = &self.families;
        let mut out: Vec<Stored> = f.v4.exact().chain(f.v6.exact()).collect();
        out.extend(f.v4.pools()?);
        out.extend(f.v6.pools()?);
        Ok(out)
    }

    /// Every VIP and pool, sorted (IPv4 first, addresses before pools).
    pub fn entries(&self) -> Result<Vec<VipEntry>, VipError> {
        let mut out: Vec<VipEntry> = self.stored()?.into_iter().map(|s| s.entry).collect();
        out.sort_by_key(|e| sort_key(&e.vip));
        Ok(out)
    }

    /// [`Self::entries`] with their counters.
    pub fn records(&self) -> Result<Vec<VipRecord>, VipError> {
        let mut out = self
            .stored()?
            .into_iter()
            .map(|s| self.record(s))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| sort_key(&r.entry.vip));
        Ok(out)
    }

    fn record(&self, s: Stored) -> Result<VipRecord, VipError> {
        let counters = if is_exact(&s.entry.vip) {
            &self.vip_counters
        } else {
            &self.pool_counters
        };
        Ok(VipRecord {
            entry: s.entry,
            counters: counters.summed(s.slot)?,
        })
    }

    /// One entry, with its counters, if configured.
    pub fn get(&self, vip: &Vip) -> Result<Option<VipRecord>, VipError> {
        let stored = match vip.addr() {
            IpAddr::V4(_) => self.find::<V4>(vip)?,
            IpAddr::V6(_) => self.find::<V6>(vip)?,
        };
        stored.map(|s| self.record(s)).transpose()
    }

    fn find<F: Family>(&self, vip: &Vip) -> Result<Option<Stored>, VipError> {
        let tables = F::pick(&self.families);
        match (*vip, F::of(vip.addr())) {
            (Vip::Addr(_), Some(a)) => Ok(tables.find_exact(a)),
            (Vip::Pool(_, len), Some(net)) => tables.find_pool(net, len),
            (_, None) => Ok(None),
        }
    }

    /// Write `entries`: add those not configured, bring those configured
    /// to the state given. The whole batch is checked against the tables
    /// first (rules, capacity, index slots: linear time), and nothing is
    /// written if anything is wrong; then one write per changed entry.
    pub fn put(&mut self, entries: &[VipEntry]) -> Result<Vec<Change>, VipError> {
        self.publish_pools()?;
        let all = self.entries()?;
        rules::check(&all, entries)?;
        let existing: HashMap<Vip, &VipEntry> = all.iter().map(|e| (e.vip, e)).collect();
        let changes: Vec<Change> = entries
            .iter()
            .map(|e| match existing.get(&e.vip) {
                Some(old) if **old == *e => Change::Unchanged,
                Some(old) => Change::Updated { old: **old },
                None => Change::Added,
            })
            .collect();
        let added: Vec<Vip> = entries
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c == Change::Added)
            .map(|(e, _)| e.vip)
            .collect();
        let new_exact: Vec<Vip> = added.iter().copied().filter(is_exact).collect();
        let count = |exact: bool| all.iter().filter(|e| is_exact(&e.vip) == exact).count();
        let (max_vips, max_pools) = self.capacities();
        if count(true) + new_exact.len() > max_vips as usize {
            return Err(full("VIP", max_vips));
        }
        if count(false) + added.len() - new_exact.len() > max_pools as usize {
            return Err(full("pool", max_pools));
        }
        self.plan_inserts::<V4>(&new_exact)?;
        self.plan_inserts::<V6>(&new_exact)?;
        let used: HashSet<u32> = self.vip_counter_slots();
        let mut ctrs = self.vip_counters.free(&used, new_exact.len()).into_iter();
        let mut pools_changed = false;
        let written = entries
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c != Change::Unchanged)
            .try_for_each(|(e, c)| {
                pools_changed |= !is_exact(&e.vip);
                self.write(e, *c == Change::Added, &mut ctrs)
            });
        // Even when a map update failed midway: the pools written so far
        // must be served (the datapath skips the tries while the count is 0).
        if pools_changed {
            self.publish_pools()?;
        }
        written.map(|()| changes)
    }

    /// Fails unless every new exact VIP of family `F` finds an index slot.
    fn plan_inserts<F: Family>(&self, new: &[Vip]) -> Result<(), VipError> {
        F::pick(&self.families)
            .plan_inserts(new.iter().filter_map(|v| F::of(v.addr())))
            .map_err(|a| VipError::NoSlot {
                vip: Vip::Addr(a.into()),
            })
    }

    pub(super) fn vip_counter_slots(&self) -> HashSet<u32> {
        let f = &self.families;
        f.v4.counter_slots().chain(f.v6.counter_slots()).collect()
    }

    /// Write one checked entry; `added` takes a counter slot from `ctrs`.
    fn write(
        &mut self,
        e: &VipEntry,
        added: bool,
        ctrs: &mut impl Iterator<Item = u32>,
    ) -> Result<(), VipError> {
        match e.vip.addr() {
            IpAddr::V4(_) => self.write_in::<V4>(e, added, ctrs),
            IpAddr::V6(_) => self.write_in::<V6>(e, added, ctrs),
        }
    }

    fn write_in<F: Family>(
        &mut self,
        e: &VipEntry,
        added: bool,
        ctrs: &mut impl Iterator<Item = u32>,
    ) -> Result<(), VipError> {
        let mismatch = || VipError::FamilyMismatch {
            vip: e.vip,
            real: e.real,
        };
        let addr = F::of(e.vip.addr()).ok_or_else(mismatch)?;
        let real = F::of(e.real).ok_or_else(mismatch)?;
        let flags = e.flags.bits();
        match e.vip {
            Vip::Addr(_) => {
                let ctr = if added {
                    let ctr = ctrs
                        .next()
                        .ok_or_else(|| full("VIP", self.vip_counters.capacity()))?;
                    self.vip_counters.zero(ctr)?;
                    Some(ctr)
                } else {
                    None
                };
                // An insert fails for want of a slot; a change, if the VIP is gone.
                F::pick_mut(&mut self.families)
                    .put_exact(addr, real, flags, ctr)
                    .map_err(|NoSlot| match ctr {
                        Some(_) => VipError::NoSlot { vip: e.vip },
                        None => VipError::Absent(e.vip),
                    })
            }
            Vip::Pool(_, len) => {
                let slot = match F::pick(&self.families).find_pool(addr, len)? {
                    Some(s) => s.slot,
                    None => self.new_pool_slot()?,
                };
                F::pick_mut(&mut self.families)
                    .put_pool(addr, len, real, flags, slot)
                    .map_err(|source| {
                        if is_full(&source) {
                            full("pool", self.pool_counters.capacity())
                        } else {
                            VipError::Map {
                                map: F::POOLS,
                                source,
                            }
                        }
                    })
            }
        }
    }

    /// The lowest pool counter slot no pool uses, zeroed before the pool
    /// becomes visible to the datapath.
    fn new_pool_slot(&mut self) -> Result<u32, VipError> {
        let f = &self.families;
        let used: HashSet<u32> =
            f.v4.pools()?
                .into_iter()
                .chain(f.v6.pools()?)
                .map(|s| s.slot)
                .collect();
        let slot = *self
            .pool_counters
            .free(&used, 1)
            .first()
            .ok_or_else(|| full("pool", self.pool_counters.capacity()))?;
        self.pool_counters.zero(slot)?;
        Ok(slot)
    }

    /// Remove entries; fails, removing nothing, if one is not configured
    /// or given twice. Returns what they were.
    pub fn remove(&mut self, vips: &[Vip]) -> Result<Vec<VipEntry>, VipError> {
        let mut seen = HashSet::new();
        let mut found = Vec::with_capacity(vips.len());
        for vip in vips {
            if !seen.insert(*vip) {
                return Err(VipError::Duplicate(*vip));
            }
            let stored = match vip.addr() {
                IpAddr::V4(_) => self.find::<V4>(vip)?,
                IpAddr::V6(_) => self.find::<V6>(vip)?,
            };
            found.push(stored.ok_or(VipError::Absent(*vip))?.entry);
        }
        self.publish_pools()?;
        let removed = vips.iter().try_for_each(|vip| match vip.addr() {
            IpAddr::V4(_) => self.remove_in::<V4>(vip),
            IpAddr::V6(_) => self.remove_in::<V6>(vip),
        });
        // Even when a removal failed midway: the pools removed so far must
        // leave the cache too, or the datapath would go on matching them.
        if vips.iter().any(|v| !is_exact(v)) {
            self.publish_pools()?;
        }
        removed.map(|()| found)
    }

    fn remove_in<F: Family>(&mut self, vip: &Vip) -> Result<(), VipError> {
        let tables = F::pick_mut(&mut self.families);
        match (*vip, F::of(vip.addr())) {
            (Vip::Addr(_), Some(a)) => {
                tables.remove_exact(a);
                Ok(())
            }
            (Vip::Pool(_, len), Some(net)) => tables.remove_pool(net, len),
            (_, None) => Err(VipError::Absent(*vip)),
        }
    }

    /// Tell the datapath which pools exist, as the tries hold them: their
    /// counts (it skips pools at zero) and, for families with few, the
    /// pool cache it matches them in. Also done before every change, in
    /// case an earlier writer died between changing a trie and publishing
    /// it; writers hold the pin directory's lock, so nothing else
    /// publishes meanwhile.
    fn publish_pools(&mut self) -> Result<(), VipError> {
        let v4 = self.families.v4.cached_pools()?;
        let v6 = self.families.v6.cached_pools()?;
        self.pool_cache.publish(&v4, &v6);
        Ok(())
    }
}
