//! Map-backed VIP tables (see the module docs in `mod.rs`).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use aya::{
    Ebpf, Pod,
    maps::{
        Array, LpmTrie, Map, MapData, MapError, PerCpuArray, PerCpuHashMap, PerCpuValues,
        lpm_trie::Key,
    },
    sys::SyscallError,
    util::nr_cpus,
};
use rsdr_common::{
    Config, Ipv4Raw, Ipv6Raw, PoolEntry4, PoolEntry6, VipCounters, VipEntry4, VipEntry6,
    counters::VIP_COUNTER_SLOTS,
    maps::{CONFIG_F_MONITOR, names},
    sketch,
};

use super::{Change, Entry, VipError, check, check_flags};
use crate::{
    addr::{VipSpec, from_raw, to_raw},
    pins::PinDir,
};

const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;

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

/// What the four table values share, as the CLI sees it.
trait Stored {
    fn real_ip(&self) -> IpAddr;
    fn flags(&self) -> u32;
}

impl Stored for VipEntry4 {
    fn real_ip(&self) -> IpAddr {
        IpAddr::V4(from_raw(self.real))
    }
    fn flags(&self) -> u32 {
        self.flags
    }
}

impl Stored for VipEntry6 {
    fn real_ip(&self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self.real))
    }
    fn flags(&self) -> u32 {
        self.flags
    }
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

/// An exact VIP's entry from every CPU's copy of its value: real IP and
/// flags are the same in all; the counters are summed.
fn exact_entry<V: Stored>(
    vip: VipSpec,
    values: &[V],
    counters_of: impl Fn(&V) -> &VipCounters,
) -> Option<Entry> {
    let first = values.first()?;
    let mut counters = [0; VIP_COUNTER_SLOTS];
    values
        .iter()
        .for_each(|v| sum(&mut counters, counters_of(v)));
    Some(Entry {
        vip,
        real: first.real_ip(),
        flags: first.flags(),
        counters,
    })
}

fn sum(into: &mut VipCounters, from: &VipCounters) {
    for (s, c) in into.iter_mut().zip(from) {
        *s = s.wrapping_add(*c);
    }
}

pub struct VipTables {
    exact4: PerCpuHashMap<MapData, Ipv4Raw, VipEntry4>,
    exact6: PerCpuHashMap<MapData, Ipv6Raw, VipEntry6>,
    pools4: LpmTrie<MapData, [u8; 4], PoolEntry4>,
    pools6: LpmTrie<MapData, [u8; 16], PoolEntry6>,
    pool_ctrs: PerCpuArray<MapData, VipCounters>,
    config: Array<MapData, Config>,
    sketch: Array<MapData, u64>,
    cap_exact4: u32,
    cap_exact6: u32,
    cap_pools: u32,
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
                Map::PerCpuHashMap(d) | Map::LpmTrie(d) | Map::PerCpuArray(d) | Map::Array(d) => d,
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
        let d4 = get(names::VIPS4)?;
        let cap_exact4 = cap(&d4, names::VIPS4)?;
        let d6 = get(names::VIPS6)?;
        let cap_exact6 = cap(&d6, names::VIPS6)?;
        let dc = get(names::POOL_COUNTERS)?;
        let cap_pools = cap(&dc, names::POOL_COUNTERS)?;
        Ok(Self {
            exact4: PerCpuHashMap::try_from(Map::PerCpuHashMap(d4))
                .map_err(map_err(names::VIPS4))?,
            exact6: PerCpuHashMap::try_from(Map::PerCpuHashMap(d6))
                .map_err(map_err(names::VIPS6))?,
            pools4: LpmTrie::try_from(Map::LpmTrie(get(names::POOLS4)?))
                .map_err(map_err(names::POOLS4))?,
            pools6: LpmTrie::try_from(Map::LpmTrie(get(names::POOLS6)?))
                .map_err(map_err(names::POOLS6))?,
            pool_ctrs: PerCpuArray::try_from(Map::PerCpuArray(dc))
                .map_err(map_err(names::POOL_COUNTERS))?,
            config: Array::try_from(Map::Array(get(names::CONFIG)?))
                .map_err(map_err(names::CONFIG))?,
            sketch: Array::try_from(Map::Array(get(names::SKETCH)?))
                .map_err(map_err(names::SKETCH))?,
            cap_exact4,
            cap_exact6,
            cap_pools,
        })
    }

    /// Capacities: (exact IPv4, exact IPv6, pool slots).
    pub fn capacities(&self) -> (u32, u32, u32) {
        (self.cap_exact4, self.cap_exact6, self.cap_pools)
    }

    /// How many exact VIPs and pools the tables hold: keys only, no values
    /// (cheap beside [`Self::entries`], which reads every CPU's counters).
    pub fn counts(&self) -> Result<(usize, usize), VipError> {
        let mut exact = 0;
        for k in self.exact4.keys() {
            k.map_err(map_err(names::VIPS4))?;
            exact += 1;
        }
        for k in self.exact6.keys() {
            k.map_err(map_err(names::VIPS6))?;
            exact += 1;
        }
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
        let mut total = [0u64; VIP_COUNTER_SLOTS];
        for c in self
            .pool_ctrs
            .get(&slot, 0)
            .map_err(map_err(names::POOL_COUNTERS))?
            .iter()
        {
            sum(&mut total, c);
        }
        Ok(total)
    }

    /// Every VIP and pool, sorted (IPv4 first, addresses before pools).
    pub fn entries(&self) -> Result<Vec<Entry>, VipError> {
        let mut out = Vec::new();
        for item in self.exact4.iter() {
            let (key, values) = item.map_err(map_err(names::VIPS4))?;
            let vip = VipSpec::Addr(IpAddr::V4(from_raw(key)));
            out.extend(exact_entry(vip, &values, |v| &v.counters));
        }
        for item in self.exact6.iter() {
            let (key, values) = item.map_err(map_err(names::VIPS6))?;
            let vip = VipSpec::Addr(IpAddr::V6(Ipv6Addr::from(key)));
            out.extend(exact_entry(vip, &values, |v| &v.counters));
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
        // Entries after the batch, per table: those there now plus the new.
        let after = |f: fn(&VipSpec) -> bool| -> u32 {
            let now = all.iter().filter(|e| f(&e.vip)).count();
            let new = items
                .iter()
                .zip(&changes)
                .filter(|((v, _, _), c)| **c == Change::Added && f(v))
                .count();
            (now + new) as u32
        };
        if after(|v| matches!(v, VipSpec::Addr(IpAddr::V4(_)))) > self.cap_exact4 {
            return Err(VipError::Full {
                what: "IPv4 VIP",
                capacity: self.cap_exact4,
                flag: "--max-vips",
            });
        }
        if after(|v| matches!(v, VipSpec::Addr(IpAddr::V6(_)))) > self.cap_exact6 {
            return Err(VipError::Full {
                what: "IPv6 VIP",
                capacity: self.cap_exact6,
                flag: "--max-vips",
            });
        }
        if after(|v| matches!(v, VipSpec::Pool(..))) > self.cap_pools {
            return Err(VipError::Full {
                what: "pool",
                capacity: self.cap_pools,
                flag: "--max-pools",
            });
        }
        // Sketch bits first: the datapath must never skip a VIP it holds.
        let added: Vec<IpAddr> = items
            .iter()
            .zip(&changes)
            .filter(|(_, c)| **c == Change::Added)
            .filter_map(|((v, _, _), _)| match v {
                VipSpec::Addr(a) => Some(*a),
                VipSpec::Pool(..) => None,
            })
            .collect();
        self.sketch_set(&added)?;
        let mut pools_changed = false;
        for ((vip, real, flags), change) in items.iter().zip(&changes) {
            let update = match change {
                Change::Unchanged => continue,
                Change::Updated { .. } => true,
                Change::Added => false,
            };
            match (*vip, *real) {
                (VipSpec::Addr(IpAddr::V4(v)), IpAddr::V4(r)) => {
                    self.put_exact4(v, r, *flags, update)?
                }
                (VipSpec::Addr(IpAddr::V6(v)), IpAddr::V6(r)) => {
                    self.put_exact6(v, r, *flags, update)?
                }
                (VipSpec::Pool(net, len), r) => {
                    self.put_pool(net, len, r, *flags)?;
                    pools_changed = true;
                }
                (vip, real) => return Err(VipError::FamilyMismatch { vip, real }),
            }
        }
        if pools_changed {
            self.sync_pool_counts()?;
        }
        Ok(changes)
    }

    fn put_exact4(
        &mut self,
        vip: Ipv4Addr,
        real: Ipv4Addr,
        flags: u32,
        update: bool,
    ) -> Result<(), VipError> {
        let fresh = VipEntry4 {
            real: to_raw(real),
            flags,
            counters: [0; VIP_COUNTER_SLOTS],
        };
        let set = |e: &mut VipEntry4| {
            e.real = fresh.real;
            e.flags = flags;
        };
        let table = ExactTable {
            what: "IPv4 VIP",
            capacity: self.cap_exact4,
            map: names::VIPS4,
        };
        put_exact(&mut self.exact4, to_raw(vip), fresh, set, update, table)
    }

    fn put_exact6(
        &mut self,
        vip: Ipv6Addr,
        real: Ipv6Addr,
        flags: u32,
        update: bool,
    ) -> Result<(), VipError> {
        let fresh = VipEntry6 {
            real: real.octets(),
            flags,
            _pad: 0,
            counters: [0; VIP_COUNTER_SLOTS],
        };
        let set = |e: &mut VipEntry6| {
            e.real = fresh.real;
            e.flags = flags;
        };
        let table = ExactTable {
            what: "IPv6 VIP",
            capacity: self.cap_exact6,
            map: names::VIPS6,
        };
        put_exact(&mut self.exact6, vip.octets(), fresh, set, update, table)
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
                let zero = PerCpuValues::try_from(vec![[0u64; VIP_COUNTER_SLOTS]; ncpus()?])
                    .map_err(|e| VipError::Cpus(e.to_string()))?;
                self.pool_ctrs
                    .set(slot, zero, 0)
                    .map_err(map_err(names::POOL_COUNTERS))?;
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

    /// Tell the datapath how many pools exist (it skips the tries at zero).
    fn sync_pool_counts(&mut self) -> Result<(), VipError> {
        let n4 = self.pools4.iter().count() as u32;
        let n6 = self.pools6.iter().count() as u32;
        let mut cfg = self.config.get(&0, 0).map_err(map_err(names::CONFIG))?;
        if (cfg.pools4, cfg.pools6) != (n4, n6) {
            cfg.pools4 = n4;
            cfg.pools6 = n6;
            self.config.set(0, cfg, 0).map_err(map_err(names::CONFIG))?;
        }
        Ok(())
    }

    /// One entry, with counters summed, if configured.
    pub fn get(&self, vip: &VipSpec) -> Result<Option<Entry>, VipError> {
        let absent_or = |source: MapError, map| match source {
            MapError::KeyNotFound => Ok(None),
            source => Err(VipError::Map { map, source }),
        };
        match *vip {
            VipSpec::Addr(IpAddr::V4(a)) => match self.exact4.get(&to_raw(a), 0) {
                Ok(values) => Ok(exact_entry(*vip, &values, |v| &v.counters)),
                Err(e) => absent_or(e, names::VIPS4),
            },
            VipSpec::Addr(IpAddr::V6(a)) => match self.exact6.get(&a.octets(), 0) {
                Ok(values) => Ok(exact_entry(*vip, &values, |v| &v.counters)),
                Err(e) => absent_or(e, names::VIPS6),
            },
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
    /// configured or given twice. Sketch bits are cleared after the
    /// entries are gone, where no remaining VIP needs them (one scan of the
    /// keys for the whole batch).
    pub fn remove_many(&mut self, vips: &[VipSpec]) -> Result<Vec<Entry>, VipError> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::with_capacity(vips.len());
        for vip in vips {
            if !seen.insert(*vip) {
                return Err(VipError::Duplicate(*vip));
            }
            found.push(self.get(vip)?.ok_or(VipError::Absent(*vip))?);
        }
        let mut pools = false;
        for vip in vips {
            let res = match *vip {
                VipSpec::Addr(IpAddr::V4(a)) => self
                    .exact4
                    .remove(&to_raw(a))
                    .map_err(map_err(names::VIPS4)),
                VipSpec::Addr(IpAddr::V6(a)) => self
                    .exact6
                    .remove(&a.octets())
                    .map_err(map_err(names::VIPS6)),
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
            };
            res?;
        }
        if pools {
            self.sync_pool_counts()?;
        }
        let shift = self.sketch_shift()?;
        let mut gone: std::collections::HashSet<u32> = vips
            .iter()
            .filter_map(|v| match v {
                VipSpec::Addr(a) if shift != 0 => Some(sketch_hash(*a, shift)),
                _ => None,
            })
            .collect();
        if !gone.is_empty() {
            for key in self.exact4.keys() {
                gone.remove(&sketch::hash4(key.map_err(map_err(names::VIPS4))?, shift));
            }
            for key in self.exact6.keys() {
                gone.remove(&sketch::hash6(&key.map_err(map_err(names::VIPS6))?, shift));
            }
            self.sketch_update(gone, false)?;
        }
        Ok(found)
    }

    fn sketch_shift(&self) -> Result<u32, VipError> {
        Ok(self
            .config
            .get(&0, 0)
            .map_err(map_err(names::CONFIG))?
            .sketch_shift)
    }

    /// Set the sketch bits of `addrs` (one read-modify-write per word).
    fn sketch_set(&mut self, addrs: &[IpAddr]) -> Result<(), VipError> {
        let shift = self.sketch_shift()?;
        if shift == 0 || addrs.is_empty() {
            return Ok(());
        }
        self.sketch_update(addrs.iter().map(|a| sketch_hash(*a, shift)), true)
    }

    /// Set (or clear) the sketch bits of hashes `hashes`, one
    /// read-modify-write per word, writing only words that change.
    fn sketch_update(
        &mut self,
        hashes: impl IntoIterator<Item = u32>,
        set: bool,
    ) -> Result<(), VipError> {
        let mut words: HashMap<u32, u64> = HashMap::new();
        for h in hashes {
            let (word, bit) = sketch::locate(h);
            *words.entry(word).or_insert(0) |= bit;
        }
        for (word, bits) in words {
            let w = self.sketch.get(&word, 0).map_err(map_err(names::SKETCH))?;
            let new = if set { w | bits } else { w & !bits };
            if new != w {
                self.sketch
                    .set(word, new, 0)
                    .map_err(map_err(names::SKETCH))?;
            }
        }
        Ok(())
    }

    /// The global monitor switch.
    pub fn monitor(&self) -> Result<bool, VipError> {
        Ok(self
            .config
            .get(&0, 0)
            .map_err(map_err(names::CONFIG))?
            .flags
            & CONFIG_F_MONITOR
            != 0)
    }

    pub fn set_monitor(&mut self, on: bool) -> Result<(), VipError> {
        let mut cfg = self.config.get(&0, 0).map_err(map_err(names::CONFIG))?;
        if on {
            cfg.flags |= CONFIG_F_MONITOR;
        } else {
            cfg.flags &= !CONFIG_F_MONITOR;
        }
        self.config.set(0, cfg, 0).map_err(map_err(names::CONFIG))
    }
}

/// Run a map update, retrying while the kernel reports ENOMEM. Hash tables
/// that are not preallocated take elements from per-CPU caches refilled
/// asynchronously; a burst of updates (a large `apply`) can drain them for
/// a moment. Gives up after about a second.
fn retry_enomem(mut f: impl FnMut() -> Result<(), VipError>) -> Result<(), VipError> {
    let mut wait = std::time::Duration::from_micros(200);
    for _ in 0..12 {
        match f() {
            Err(VipError::Map {
                source: MapError::SyscallError(SyscallError { io_error, .. }),
                ..
            }) if io_error.raw_os_error() == Some(libc::ENOMEM) => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            other => return other,
        }
    }
    f()
}

/// Which exact table a write goes to, for its error messages.
struct ExactTable {
    what: &'static str,
    capacity: u32,
    map: &'static str,
}

/// Write one exact-table entry on every CPU: a new one (`fresh`, counters
/// zero; fails if it exists) or an update of an existing one (`set` applied
/// to each CPU's copy, so the counters survive; fails if it is gone).
fn put_exact<K: Pod, V: Pod>(
    map: &mut PerCpuHashMap<MapData, K, V>,
    key: K,
    fresh: V,
    set: impl Fn(&mut V),
    update: bool,
    table: ExactTable,
) -> Result<(), VipError> {
    let values: Vec<V> = if update {
        let mut v: Vec<V> = map
            .get(&key, 0)
            .map_err(map_err(table.map))?
            .iter()
            .copied()
            .collect();
        v.iter_mut().for_each(set);
        v
    } else {
        vec![fresh; ncpus()?]
    };
    let flag = if update { BPF_EXIST } else { BPF_NOEXIST };
    retry_enomem(|| {
        let values =
            PerCpuValues::try_from(values.clone()).map_err(|e| VipError::Cpus(e.to_string()))?;
        map.insert(key, values, flag)
            .map_err(|e| full_or(e, table.what, table.capacity, "--max-vips", table.map))
    })
}

/// The sketch hash of an exact VIP (the datapath computes the same).
fn sketch_hash(a: IpAddr, shift: u32) -> u32 {
    match a {
        IpAddr::V4(v) => sketch::hash4(to_raw(v), shift),
        IpAddr::V6(v) => sketch::hash6(&v.octets(), shift),
    }
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
