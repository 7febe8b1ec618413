//! Map-backed VIP tables (see the module docs in `mod.rs`).

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use aya::{
    Ebpf,
    maps::{LpmTrie, Map, MapData, MapError, PerCpuArray, PerCpuValues, lpm_trie::Key},
    sys::SyscallError,
    util::nr_cpus,
};
use rsdr_common::{
    PoolEntry4, PoolEntry6, Slot4, Slot6, VipCounters,
    counters::VIP_COUNTER_SLOTS,
    maps::{CONFIG_F_MONITOR, names},
    pool_cache::{CachedPool4, CachedPool6, mask_bytes},
};

use super::{
    Change, Entry, VipError, check, check_flags,
    index::{Index, Live, NoSlot, Slot},
    settings::Settings,
};
use crate::{
    addr::{VipSpec, from_raw, to_raw},
    pins::PinDir,
};

fn map_err(map: &'static str) -> impl Fn(MapError) -> VipError {
    move |source| VipError::Map { map, source }
}

fn is_full(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(SyscallError { io_error, .. })
        if matches!(io_error.raw_os_error(), Some(libc::E2BIG) | Some(libc::ENOSPC)))
}

fn ncpus() -> Result<usize, VipError> {
    nr_cpus().map_err(|(what, e)| VipError::Cpus(format!("{what}: {e}")))
}

/// What the two pool values share, as the CLI sees it.
trait Stored {
    fn real_ip(&self) -> IpAddr;
    fn flags(&self) -> u32;
}

impl Stored for PoolEntry4 {
    fn real_ip(&self) -> IpAddr {
        IpAddr::V4(from_raw(self.real))
    }
    fn flags(&self) -> u32 {
        self.flags
    }
}

impl Stored for PoolEntry6 {
    fn real_ip(&self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self.real))
    }
    fn flags(&self) -> u32 {
        self.flags
    }
}

fn sum(into: &mut VipCounters, from: &VipCounters) {
    for (s, c) in into.iter_mut().zip(from) {
        *s = s.wrapping_add(*c);
    }
}

pub struct VipTables {
    index4: Index<Slot4>,
    index6: Index<Slot6>,
    vip_ctrs: PerCpuArray<MapData, VipCounters>,
    pools4: LpmTrie<MapData, [u8; 4], PoolEntry4>,
    pools6: LpmTrie<MapData, [u8; 16], PoolEntry6>,
    pool_ctrs: PerCpuArray<MapData, VipCounters>,
    settings: Settings,
    /// The maps behind the mappings, kept open: a program of the same
    /// object loaded later refers to its maps by these descriptors.
    _mapped: [MapData; 3],
    cap_vips: u32,
    cap_pools: u32,
}

/// Map an index array into our memory.
fn map_index<S: Slot>(d: &MapData, name: &'static str) -> Result<Index<S>, VipError> {
    let slots = d.info().map_err(map_err(name))?.max_entries() * rsdr_common::index::PAGE_SLOTS;
    Index::map(std::os::fd::AsFd::as_fd(d.fd()), slots).map_err(|e| VipError::Index {
        map: name,
        source: e,
    })
}

impl VipTables {
    /// Open the pinned tables of a pin directory (after checking that they
    /// were made by a compatible rsdr).
    pub fn open(pins: &PinDir) -> Result<Self, VipError> {
        crate::loader::check_pinned_layout(pins).map_err(|e| VipError::Layout(e.to_string()))?;
        Self::build(|name| MapData::from_pin(pins.map(name)).map_err(map_err(name)))
    }

    /// Take the tables out of a loaded object (its programs keep using them).
    pub fn from_ebpf(ebpf: &mut Ebpf) -> Result<Self, VipError> {
        Self::build(|name| {
            let map = ebpf.take_map(name).ok_or(VipError::Map {
                map: name,
                source: MapError::InvalidName { name: name.into() },
            })?;
            Ok(match map {
                Map::LpmTrie(d) | Map::PerCpuArray(d) | Map::Array(d) => d,
                _ => {
                    return Err(VipError::Map {
                        map: name,
                        source: MapError::InvalidName { name: name.into() },
                    });
                }
            })
        })
    }

    fn build(
        mut get: impl FnMut(&'static str) -> Result<MapData, VipError>,
    ) -> Result<Self, VipError> {
        let cap = |d: &MapData, name| d.info().map(|i| i.max_entries()).map_err(map_err(name));
        let (d4, d6, dcfg) = (
            get(names::INDEX4)?,
            get(names::INDEX6)?,
            get(names::CONFIG)?,
        );
        let index4 = map_index(&d4, names::INDEX4)?;
        let index6 = map_index(&d6, names::INDEX6)?;
        let settings =
            Settings::map(std::os::fd::AsFd::as_fd(dcfg.fd())).map_err(|e| VipError::Index {
                map: names::CONFIG,
                source: e,
            })?;
        let dv = get(names::VIP_COUNTERS)?;
        let cap_vips = cap(&dv, names::VIP_COUNTERS)?;
        let dc = get(names::POOL_COUNTERS)?;
        let cap_pools = cap(&dc, names::POOL_COUNTERS)?;
        Ok(Self {
            index4,
            index6,
            vip_ctrs: PerCpuArray::try_from(Map::PerCpuArray(dv))
                .map_err(map_err(names::VIP_COUNTERS))?,
            pools4: LpmTrie::try_from(Map::LpmTrie(get(names::POOLS4)?))
                .map_err(map_err(names::POOLS4))?,
            pools6: LpmTrie::try_from(Map::LpmTrie(get(names::POOLS6)?))
                .map_err(map_err(names::POOLS6))?,
            pool_ctrs: PerCpuArray::try_from(Map::PerCpuArray(dc))
                .map_err(map_err(names::POOL_COUNTERS))?,
            settings,
            _mapped: [d4, d6, dcfg],
            cap_vips,
            cap_pools,
        })
    }

    /// Capacities: (exact VIPs of both families, pool slots).
    pub fn capacities(&self) -> (u32, u32) {
        (self.cap_vips, self.cap_pools)
    }

    /// How many exact VIPs and pools the tables hold, without reading any
    /// counters (cheap beside [`Self::entries`]).
    pub fn counts(&self) -> Result<(usize, usize), VipError> {
        let exact = self.index4.len() + self.index6.len();
        let mut pools = 0;
        for k in self.pools4.keys() {
            k.map_err(map_err(names::POOLS4))?;
            pools += 1;
        }
        for k in self.pools6.keys() {
            k.map_err(map_err(names::POOLS6))?;
            pools += 1;
        }
        Ok((exact, pools))
    }

    /// An exact VIP's entry, with its counters summed over CPUs.
    fn exact_entry<A>(&self, l: &Live<A>, ip: impl Fn(A) -> IpAddr) -> Result<Entry, VipError>
    where
        A: Copy,
    {
        Ok(Entry {
            vip: VipSpec::Addr(ip(l.addr)),
            real: ip(l.real),
            flags: l.flags,
            counters: summed(&self.vip_ctrs, l.ctr, names::VIP_COUNTERS)?,
        })
    }

    /// A pool's entry: its value, and the counters in its slot.
    fn pool_entry(&self, vip: VipSpec, v: &impl Stored, slot: u32) -> Result<Entry, VipError> {
        Ok(Entry {
            vip,
            real: v.real_ip(),
            flags: v.flags(),
            counters: self.pool_counters(slot)?,
        })
    }

    fn pool_counters(&self, slot: u32) -> Result<VipCounters, VipError> {
        summed(&self.pool_ctrs, slot, names::POOL_COUNTERS)
    }

    /// Every VIP and pool, sorted (IPv4 first, addresses before pools).
    pub fn entries(&self) -> Result<Vec<Entry>, VipError> {
        let mut out = Vec::new();
        for l in self.index4.live() {
            out.push(self.exact_entry(&l, Slot4::ip)?);
        }
        for l in self.index6.live() {
            out.push(self.exact_entry(&l, Slot6::ip)?);
        }
        for item in self.pools4.iter() {
            let (key, v) = item.map_err(map_err(names::POOLS4))?;
            let vip = VipSpec::Pool(
                IpAddr::V4(Ipv4Addr::from(key.data())),
                key.prefix_len() as u8,
            );
            out.push(self.pool_entry(vip, &v, v.slot)?);
        }
        for item in self.pools6.iter() {
            let (key, v) = item.map_err(map_err(names::POOLS6))?;
            let vip = VipSpec::Pool(
                IpAddr::V6(Ipv6Addr::from(key.data())),
                key.prefix_len() as u8,
            );
            out.push(self.pool_entry(vip, &v, v.slot)?);
        }
        out.sort_by_key(|e| (!e.vip.is_ipv4(), matches!(e.vip, VipSpec::Pool(..)), e.vip));
        Ok(out)
    }

    /// Add `vip` -> `real` with `flags`, or bring an existing entry to that
    /// state. Everything is checked before anything is written.
    pub fn add(&mut self, vip: VipSpec, real: IpAddr, flags: u32) -> Result<Change, VipError> {
        Ok(self.add_many(&[(vip, real, flags)])?[0])
    }

    /// [`Self::add`] for many entries at once: one validation of the whole
    /// batch against the tables (linear time), capacity checked before the
    /// first write, then one map update per entry.
    pub fn add_many(&mut self, items: &[(VipSpec, IpAddr, u32)]) -> Result<Vec<Change>, VipError> {
        for (_, _, flags) in items {
            check_flags(*flags)?;
        }
        self.heal_pool_cache()?;
        let all = self.entries()?;
        let pairs: Vec<(VipSpec, IpAddr)> = items.iter().map(|(v, r, _)| (*v, *r)).collect();
        check(&all, &pairs)?;
        let existing: HashMap<VipSpec, &Entry> = all.iter().map(|e| (e.vip, e)).collect();
        let changes: Vec<Change> = items
            .iter()
            .map(|(vip, real, flags)| match existing.get(vip) {
                Some(e) if e.real == *real && e.flags == *flags => Change::Unchanged,
                Some(e) => Change::Updated { old_real: e.real },
                None => Change::Added,
            })
            .collect();
        let added = |f: fn(&VipSpec) -> bool| {
            items
                .iter()
                .zip(&changes)
                .filter(|((v, _, _), c)| **c == Change::Added && f(v))
                .count()
        };
        let is_exact = |v: &VipSpec| matches!(v, VipSpec::Addr(_));
        let is_pool = |v: &VipSpec| matches!(v, VipSpec::Pool(..));
        // Entries after the batch: those there now plus the new.
        let now = |f: fn(&VipSpec) -> bool| all.iter().filter(|e| f(&e.vip)).count();
        if now(is_exact) + added(is_exact) > self.cap_vips as usize {
            return Err(VipError::Full {
                what: "VIP",
                capacity: self.cap_vips,
                flag: "--max-vips",
            });
        }
        if now(is_pool) + added(is_pool) > self.cap_pools as usize {
            return Err(VipError::Full {
                what: "pool",
                capacity: self.cap_pools,
                flag: "--max-pools",
            });
        }
        self.plan_slots(items, &changes)?;
        let mut ctrs = self.free_counter_slots(added(is_exact))?.into_iter();
        let mut pools_changed = false;
        let written = self.write_batch(items, &changes, &mut ctrs, &mut pools_changed);
        // Even when a map update failed midway: the pools written so far
        // must be served (the datapath skips the tries while the count is 0).
        if pools_changed {
            self.sync_pools()?;
        }
        written.map(|()| changes)
    }

    /// The writes of [`Self::add_many`], in order. A map error stops them,
    /// leaving the entries written so far (`rsdr apply` undoes its own).
    fn write_batch(
        &mut self,
        items: &[(VipSpec, IpAddr, u32)],
        changes: &[Change],
        ctrs: &mut impl Iterator<Item = u32>,
        pools_changed: &mut bool,
    ) -> Result<(), VipError> {
        for ((vip, real, flags), change) in items.iter().zip(changes) {
            if *change == Change::Unchanged {
                continue;
            }
            match (*vip, *real) {
                (VipSpec::Addr(v), r) if v.is_ipv4() == r.is_ipv4() => {
                    let ctr = match change {
                        Change::Added => {
                            let ctr = ctrs.next().ok_or(VipError::Full {
                                what: "VIP",
                                capacity: self.cap_vips,
                                flag: "--max-vips",
                            })?;
                            zero(&mut self.vip_ctrs, ctr, names::VIP_COUNTERS)?;
                            Some(ctr)
                        }
                        _ => None,
                    };
                    self.put_exact(v, r, *flags, ctr)?;
                }
                (VipSpec::Pool(net, len), r) => {
                    *pools_changed = true;
                    self.put_pool(net, len, r, *flags)?;
                }
                (vip, real) => return Err(VipError::FamilyMismatch { vip, real }),
            }
        }
        Ok(())
    }

    /// Benchmarks only: VIPs `a` and `b`, each the other's real IP, which
    /// [`Self::add`] refuses (ARP for a real IP must keep working). An ARP
    /// request from `a` leaves rewritten to come from `b`, and vice versa,
    /// so every repetition of one BPF_PROG_TEST_RUN takes the rewrite path.
    #[cfg(feature = "bench")]
    pub fn add_swapped_pair(
        &mut self,
        a: std::net::Ipv4Addr,
        b: std::net::Ipv4Addr,
    ) -> Result<(), VipError> {
        let all = self.entries()?;
        let exact = all
            .iter()
            .filter(|e| matches!(e.vip, VipSpec::Addr(_)))
            .count();
        if exact + 2 > self.cap_vips as usize {
            return Err(VipError::Full {
                what: "VIP",
                capacity: self.cap_vips,
                flag: "--max-vips",
            });
        }
        for v in [a, b] {
            let spec = VipSpec::Addr(IpAddr::V4(v));
            if all.iter().any(|e| e.vip == spec) {
                return Err(VipError::Duplicate(spec));
            }
        }
        let ctrs = self.free_counter_slots(2)?;
        for (ctr, (vip, real)) in ctrs.into_iter().zip([(a, b), (b, a)]) {
            zero(&mut self.vip_ctrs, ctr, names::VIP_COUNTERS)?;
            self.put_exact(IpAddr::V4(vip), IpAddr::V4(real), 0, Some(ctr))?;
        }
        Ok(())
    }

    /// Tests only: see [`Settings::interrupt_publish`].
    #[cfg(feature = "bench")]
    pub fn interrupt_pool_publish(&mut self, counts: (u32, u32)) {
        self.settings.interrupt_publish(counts);
    }

    /// Check that every new VIP finds an index slot, before anything is
    /// written.
    fn plan_slots(
        &self,
        items: &[(VipSpec, IpAddr, u32)],
        changes: &[Change],
    ) -> Result<(), VipError> {
        let mut kinds4 = self.index4.kinds();
        let mut kinds6 = self.index6.kinds();
        for ((vip, _, _), change) in items.iter().zip(changes) {
            let planned = match vip {
                VipSpec::Addr(IpAddr::V4(a)) if *change == Change::Added => {
                    self.index4.plan_insert(&mut kinds4, &to_raw(*a))
                }
                VipSpec::Addr(IpAddr::V6(a)) if *change == Change::Added => {
                    self.index6.plan_insert(&mut kinds6, &a.octets())
                }
                _ => Ok(0),
            };
            planned.map_err(|NoSlot| VipError::NoSlot { vip: *vip })?;
        }
        Ok(())
    }

    /// The `n` lowest counter slots no exact VIP uses.
    fn free_counter_slots(&self, n: usize) -> Result<Vec<u32>, VipError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let used: HashSet<u32> = self
            .index4
            .live()
            .map(|l| l.ctr)
            .chain(self.index6.live().map(|l| l.ctr))
            .collect();
        Ok((0..self.cap_vips)
            .filter(|c| !used.contains(c))
            .take(n)
            .collect())
    }

    /// Write an exact VIP: a new one (with its zeroed counter slot `ctr`),
    /// or a change of an existing one's real IP or flags.
    fn put_exact(
        &mut self,
        vip: IpAddr,
        real: IpAddr,
        flags: u32,
        ctr: Option<u32>,
    ) -> Result<(), VipError> {
        let spec = VipSpec::Addr(vip);
        // An insert fails for want of a slot; a change, if the VIP is gone.
        let no_slot = |NoSlot| match ctr {
            Some(_) => VipError::NoSlot { vip: spec },
            None => VipError::Absent(spec),
        };
        match (vip, real) {
            (IpAddr::V4(v), IpAddr::V4(r)) => {
                put_in(&mut self.index4, to_raw(v), to_raw(r), flags, ctr).map_err(no_slot)
            }
            (IpAddr::V6(v), IpAddr::V6(r)) => {
                put_in(&mut self.index6, v.octets(), r.octets(), flags, ctr).map_err(no_slot)
            }
            (_, real) => Err(VipError::FamilyMismatch { vip: spec, real }),
        }
    }

    /// Insert or update a pool. A new pool gets the lowest free counter slot,
    /// zeroed before the pool becomes visible to the datapath.
    fn put_pool(&mut self, net: IpAddr, len: u8, real: IpAddr, flags: u32) -> Result<(), VipError> {
        let slot = match self.pool_slot(net, len)? {
            Some(slot) => slot,
            None => {
                let used = self.used_slots()?;
                let slot =
                    (0..self.cap_pools)
                        .find(|s| !used.contains(s))
                        .ok_or(VipError::Full {
                            what: "pool",
                            capacity: self.cap_pools,
                            flag: "--max-pools",
                        })?;
                zero(&mut self.pool_ctrs, slot, names::POOL_COUNTERS)?;
                slot
            }
        };
        match (net, real) {
            (IpAddr::V4(n), IpAddr::V4(r)) => {
                let v = PoolEntry4 {
                    real: to_raw(r),
                    flags,
                    slot,
                    _pad: 0,
                };
                self.pools4
                    .insert(&Key::new(u32::from(len), n.octets()), v, 0)
                    .map_err(|e| {
                        full_or(e, "pool", self.cap_pools, "--max-pools", names::POOLS4)
                    })?;
            }
            (IpAddr::V6(n), IpAddr::V6(r)) => {
                let v = PoolEntry6 {
                    real: r.octets(),
                    flags,
                    slot,
                };
                self.pools6
                    .insert(&Key::new(u32::from(len), n.octets()), v, 0)
                    .map_err(|e| {
                        full_or(e, "pool", self.cap_pools, "--max-pools", names::POOLS6)
                    })?;
            }
            (net, real) => {
                return Err(VipError::FamilyMismatch {
                    vip: VipSpec::Pool(net, len),
                    real,
                });
            }
        }
        Ok(())
    }

    fn pool_slot(&self, net: IpAddr, len: u8) -> Result<Option<u32>, VipError> {
        let (r, map) = match net {
            IpAddr::V4(n) => (
                self.pools4
                    .get(&Key::new(u32::from(len), n.octets()), 0)
                    .map(|v| v.slot),
                names::POOLS4,
            ),
            IpAddr::V6(n) => (
                self.pools6
                    .get(&Key::new(u32::from(len), n.octets()), 0)
                    .map(|v| v.slot),
                names::POOLS6,
            ),
        };
        match r {
            Ok(s) => Ok(Some(s)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(map)(e)),
        }
    }

    fn used_slots(&self) -> Result<Vec<u32>, VipError> {
        let mut used = Vec::new();
        for item in self.pools4.iter() {
            used.push(item.map_err(map_err(names::POOLS4))?.1.slot);
        }
        for item in self.pools6.iter() {
            used.push(item.map_err(map_err(names::POOLS6))?.1.slot);
        }
        Ok(used)
    }

    /// Before a change: publish the pools afresh, in case an earlier writer
    /// died between changing a trie and publishing it (the cache would
    /// then hide or keep a pool until the next pool change). Writers hold
    /// the pin directory's lock, so nothing else publishes meanwhile.
    fn heal_pool_cache(&mut self) -> Result<(), VipError> {
        self.sync_pools()
    }

    /// Tell the datapath which pools exist, as the tries hold them: their
    /// counts (it skips pools at zero) and, for families with few, the
    /// pool cache it matches them in.
    fn sync_pools(&mut self) -> Result<(), VipError> {
        let mut v4 = Vec::new();
        for item in self.pools4.iter() {
            let (k, e) = item.map_err(map_err(names::POOLS4))?;
            let mask = u32::from_ne_bytes(mask_bytes(k.prefix_len() as u8));
            v4.push(CachedPool4 {
                // Masked like the trie matches, whatever the key holds.
                net: u32::from_ne_bytes(k.data()) & mask,
                mask,
                real: e.real,
                flags: e.flags,
                slot: e.slot,
                _pad: 0,
            });
        }
        let mut v6 = Vec::new();
        for item in self.pools6.iter() {
            let (k, e) = item.map_err(map_err(names::POOLS6))?;
            let mask: [u8; 16] = mask_bytes(k.prefix_len() as u8);
            let mut net = k.data();
            net.iter_mut().zip(&mask).for_each(|(n, m)| *n &= m);
            v6.push(CachedPool6 {
                net,
                mask,
                real: e.real,
                flags: e.flags,
                slot: e.slot,
            });
        }
        self.settings.publish_pools(&v4, &v6);
        Ok(())
    }

    /// One entry, with counters summed, if configured.
    pub fn get(&self, vip: &VipSpec) -> Result<Option<Entry>, VipError> {
        let absent_or = |source: MapError, map| match source {
            MapError::KeyNotFound => Ok(None),
            source => Err(VipError::Map { map, source }),
        };
        match *vip {
            VipSpec::Addr(IpAddr::V4(a)) => find_live(&self.index4, &to_raw(a))
                .map(|l| self.exact_entry(&l, Slot4::ip))
                .transpose(),
            VipSpec::Addr(IpAddr::V6(a)) => find_live(&self.index6, &a.octets())
                .map(|l| self.exact_entry(&l, Slot6::ip))
                .transpose(),
            VipSpec::Pool(IpAddr::V4(n), l) => {
                match self.pools4.get(&Key::new(u32::from(l), n.octets()), 0) {
                    Ok(v) => Ok(Some(self.pool_entry(*vip, &v, v.slot)?)),
                    Err(e) => absent_or(e, names::POOLS4),
                }
            }
            VipSpec::Pool(IpAddr::V6(n), l) => {
                match self.pools6.get(&Key::new(u32::from(l), n.octets()), 0) {
                    Ok(v) => Ok(Some(self.pool_entry(*vip, &v, v.slot)?)),
                    Err(e) => absent_or(e, names::POOLS6),
                }
            }
        }
    }

    /// Remove `vip` (address or pool); fails if it is not configured.
    pub fn remove(&mut self, vip: VipSpec) -> Result<Entry, VipError> {
        Ok(self.remove_many(&[vip])?.remove(0))
    }

    /// Remove several entries; fails, removing nothing, if one is not
    /// configured or given twice.
    pub fn remove_many(&mut self, vips: &[VipSpec]) -> Result<Vec<Entry>, VipError> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::with_capacity(vips.len());
        for vip in vips {
            if !seen.insert(*vip) {
                return Err(VipError::Duplicate(*vip));
            }
            found.push(self.get(vip)?.ok_or(VipError::Absent(*vip))?);
        }
        self.heal_pool_cache()?;
        let mut pools = false;
        let removed = vips.iter().try_for_each(|vip| match *vip {
            VipSpec::Addr(IpAddr::V4(a)) => {
                remove_from(&mut self.index4, &to_raw(a));
                Ok(())
            }
            VipSpec::Addr(IpAddr::V6(a)) => {
                remove_from(&mut self.index6, &a.octets());
                Ok(())
            }
            VipSpec::Pool(IpAddr::V4(n), l) => {
                pools = true;
                self.pools4
                    .remove(&Key::new(u32::from(l), n.octets()))
                    .map_err(map_err(names::POOLS4))
            }
            VipSpec::Pool(IpAddr::V6(n), l) => {
                pools = true;
                self.pools6
                    .remove(&Key::new(u32::from(l), n.octets()))
                    .map_err(map_err(names::POOLS6))
            }
        });
        // Even when a removal failed midway: the pools removed so far must
        // leave the cache too, or the datapath would go on matching them.
        if pools {
            self.sync_pools()?;
        }
        removed.map(|()| found)
    }

    /// The global monitor switch.
    pub fn monitor(&self) -> Result<bool, VipError> {
        Ok(self.settings.flags() & CONFIG_F_MONITOR != 0)
    }

    pub fn set_monitor(&mut self, on: bool) -> Result<(), VipError> {
        let flags = self.settings.flags();
        self.settings.set_flags(if on {
            flags | CONFIG_F_MONITOR
        } else {
            flags & !CONFIG_F_MONITOR
        });
        Ok(())
    }
}

/// The live entry for `addr`, if any.
fn find_live<S: Slot>(ix: &Index<S>, addr: &S::Addr) -> Option<Live<S::Addr>> {
    let i = ix.find(addr)?;
    ix.live_at(i)
}

fn remove_from<S: Slot>(ix: &mut Index<S>, addr: &S::Addr) {
    if let Some(i) = ix.find(addr) {
        ix.remove(i);
    }
}

/// Insert (`ctr` given) or change an exact VIP in one index; `NoSlot` if
/// an insert finds no free slot or a change finds no entry.
fn put_in<S: Slot>(
    ix: &mut Index<S>,
    addr: S::Addr,
    real: S::Addr,
    flags: u32,
    ctr: Option<u32>,
) -> Result<(), NoSlot> {
    match (ctr, ix.find(&addr)) {
        (Some(ctr), _) => ix.insert(addr, real, flags, ctr).map(drop),
        (None, Some(i)) => {
            match ix.live_at(i) {
                Some(l) if l.real == real => ix.set_flags(i, flags),
                _ => ix.change(i, real, flags),
            }
            Ok(())
        }
        (None, None) => Err(NoSlot),
    }
}

/// Zero a per-CPU counter slot on every CPU.
fn zero(
    map: &mut PerCpuArray<MapData, VipCounters>,
    slot: u32,
    name: &'static str,
) -> Result<(), VipError> {
    let zero = PerCpuValues::try_from(vec![[0u64; VIP_COUNTER_SLOTS]; ncpus()?])
        .map_err(|e| VipError::Cpus(e.to_string()))?;
    map.set(slot, zero, 0).map_err(map_err(name))
}

/// A per-CPU counter slot summed over CPUs.
fn summed(
    map: &PerCpuArray<MapData, VipCounters>,
    slot: u32,
    name: &'static str,
) -> Result<VipCounters, VipError> {
    let mut total = [0u64; VIP_COUNTER_SLOTS];
    for c in map.get(&slot, 0).map_err(map_err(name))?.iter() {
        sum(&mut total, c);
    }
    Ok(total)
}

fn full_or(
    e: MapError,
    what: &'static str,
    capacity: u32,
    flag: &'static str,
    map: &'static str,
) -> VipError {
    if is_full(&e) {
        VipError::Full {
            what,
            capacity,
            flag,
        }
    } else {
        VipError::Map { map, source: e }
    }
}
