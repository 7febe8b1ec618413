//! One address family's tables: its exact-VIP index and its pool trie.
//! Everything here is written once for both families; [`V4`] and [`V6`]
//! say only how their addresses look in each map.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aya::maps::{LpmTrie, MapData, MapError, lpm_trie::Key};
use rsdr_common::{
    Ipv4Raw, PoolEntry4, PoolEntry6, Slot4, Slot6,
    maps::names,
    pool_cache::{CachedPool4, CachedPool6, mask_bytes},
};

use super::{
    VipError,
    index::{Index, NoSlot, Slot},
};
use crate::{
    entry::{VipEntry, VipFlags},
    vip::Vip,
};

/// What differs between IPv4 and IPv6 in rsdr's maps.
pub trait Family: Sized + 'static {
    type Addr: Copy + Eq + Into<IpAddr>;
    /// The exact-VIP index's slot.
    type Slot: Slot;
    /// The address as octets: the pool trie's key data.
    type Octets: aya::Pod;
    /// The pool trie's value.
    type Pool: aya::Pod;
    /// A pool as the pool cache holds it.
    type Cached: Copy + Default;
    const INDEX: &'static str;
    const POOLS: &'static str;

    /// `ip`, if it is of this family.
    fn of(ip: IpAddr) -> Option<Self::Addr>;
    fn to_slot(a: Self::Addr) -> <Self::Slot as Slot>::Addr;
    fn from_slot(a: <Self::Slot as Slot>::Addr) -> Self::Addr;
    fn octets(a: Self::Addr) -> Self::Octets;
    fn from_octets(o: Self::Octets) -> Self::Addr;
    fn pool(real: Self::Addr, flags: u32, slot: u32) -> Self::Pool;
    /// The real IP, flags and counter slot of a pool value.
    fn pool_parts(p: &Self::Pool) -> (Self::Addr, u32, u32);
    /// Pool `net/len` with value `p`, as the cache holds it.
    fn cached(net: Self::Octets, len: u8, p: &Self::Pool) -> Self::Cached;
    /// This family's tables among both.
    fn pick(f: &Families) -> &FamilyTables<Self>;
    fn pick_mut(f: &mut Families) -> &mut FamilyTables<Self>;
}

/// The network and mask of a prefix, as wire bytes.
fn masked<const N: usize>(net: [u8; N], len: u8) -> ([u8; N], [u8; N]) {
    let mask: [u8; N] = mask_bytes(len);
    (std::array::from_fn(|i| net[i] & mask[i]), mask)
}

/// The address as the index slots and pool values hold it: its wire
/// bytes, as they are for IPv6, or loaded into a native `u32` for IPv4
/// (`rsdr_common::Ipv4Raw`).
trait Wire<const N: usize>: Copy {
    fn wire(octets: [u8; N]) -> Self;
    fn octets(self) -> [u8; N];
}

impl Wire<4> for Ipv4Raw {
    fn wire(octets: [u8; 4]) -> Self {
        u32::from_ne_bytes(octets)
    }
    fn octets(self) -> [u8; 4] {
        self.to_ne_bytes()
    }
}

impl Wire<16> for [u8; 16] {
    fn wire(octets: [u8; 16]) -> Self {
        octets
    }
    fn octets(self) -> [u8; 16] {
        self
    }
}

/// [`Family`] for one family, from the names of its types, maps and
/// fields: both are written here once.
macro_rules! family {
    ($fam:ident: $variant:ident, $addr:ty, [u8; $n:literal], $slot:ty, $wire:ty,
     $pool:ident, $cached:ident, $index:expr, $pools:expr, $field:ident, { $($pad:ident)? }) => {
        pub enum $fam {}

        impl Family for $fam {
            type Addr = $addr;
            type Slot = $slot;
            type Octets = [u8; $n];
            type Pool = $pool;
            type Cached = $cached;
            const INDEX: &'static str = $index;
            const POOLS: &'static str = $pools;

            fn of(ip: IpAddr) -> Option<$addr> {
                match ip {
                    IpAddr::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn to_slot(a: $addr) -> $wire {
                <$wire>::wire(a.octets())
            }
            fn from_slot(a: $wire) -> $addr {
                a.octets().into()
            }
            fn octets(a: $addr) -> [u8; $n] {
                a.octets()
            }
            fn from_octets(o: [u8; $n]) -> $addr {
                o.into()
            }
            fn pool(real: $addr, flags: u32, slot: u32) -> $pool {
                $pool {
                    real: Self::to_slot(real),
                    flags,
                    slot,
                    $($pad: 0,)?
                }
            }
            fn pool_parts(p: &$pool) -> ($addr, u32, u32) {
                (Self::from_slot(p.real), p.flags, p.slot)
            }
            fn cached(net: [u8; $n], len: u8, p: &$pool) -> $cached {
                let (net, mask) = masked(net, len);
                $cached {
                    net: <$wire>::wire(net),
                    mask: <$wire>::wire(mask),
                    real: p.real,
                    flags: p.flags,
                    slot: p.slot,
                    $($pad: 0,)?
                }
            }
            fn pick(f: &Families) -> &FamilyTables<Self> {
                &f.$field
            }
            fn pick_mut(f: &mut Families) -> &mut FamilyTables<Self> {
                &mut f.$field
            }
        }
    };
}

family!(V4: V4, Ipv4Addr, [u8; 4], Slot4, Ipv4Raw, PoolEntry4, CachedPool4,
    names::INDEX4, names::POOLS4, v4, { _pad });
family!(V6: V6, Ipv6Addr, [u8; 16], Slot6, [u8; 16], PoolEntry6, CachedPool6,
    names::INDEX6, names::POOLS6, v6, {});

/// The tables of both families.
pub struct Families {
    pub v4: FamilyTables<V4>,
    pub v6: FamilyTables<V6>,
}

/// An entry of one family's tables, with its counter slot.
pub struct Stored {
    pub entry: VipEntry,
    /// Where its counters live: the VIP counter array for exact VIPs, the
    /// pool counter array for pools.
    pub slot: u32,
}

/// One family's exact-VIP index (mapped into our memory) and pool trie.
pub struct FamilyTables<F: Family> {
    index: Index<F::Slot>,
    pools: LpmTrie<MapData, F::Octets, F::Pool>,
    /// The index map, kept open: a program of the same object loaded
    /// later refers to its maps by these descriptors.
    _index_map: MapData,
}

fn trie_err<F: Family>(source: MapError) -> VipError {
    VipError::Map {
        map: F::POOLS,
        source,
    }
}

impl<F: Family> FamilyTables<F> {
    pub fn new(index_map: MapData, pools: MapData) -> Result<Self, VipError> {
        let info = index_map.info().map_err(|source| VipError::Map {
            map: F::INDEX,
            source,
        })?;
        let slots = info.max_entries() * rsdr_common::index::PAGE_SLOTS;
        let index =
            Index::map(std::os::fd::AsFd::as_fd(index_map.fd()), slots).map_err(|source| {
                VipError::Index {
                    map: F::INDEX,
                    source,
                }
            })?;
        let pools = LpmTrie::try_from(aya::maps::Map::LpmTrie(pools)).map_err(trie_err::<F>)?;
        Ok(Self {
            index,
            pools,
            _index_map: index_map,
        })
    }

    fn exact_entry(&self, i: u32) -> Option<Stored> {
        let l = self.index.live_at(i)?;
        Some(Stored {
            entry: VipEntry {
                vip: Vip::Addr(F::from_slot(l.addr).into()),
                real: F::from_slot(l.real).into(),
                flags: VipFlags::from_stored(l.flags),
            },
            slot: l.ctr,
        })
    }

    fn pool_entry(key: &Key<F::Octets>, p: &F::Pool) -> Stored {
        let (real, flags, slot) = F::pool_parts(p);
        Stored {
            entry: VipEntry {
                vip: Vip::Pool(F::from_octets(key.data()).into(), key.prefix_len() as u8),
                real: real.into(),
                flags: VipFlags::from_stored(flags),
            },
            slot,
        }
    }

    /// Every exact VIP, in index order.
    pub fn exact(&self) -> impl Iterator<Item = Stored> + '_ {
        self.index.live().filter_map(|l| self.exact_entry(l.slot))
    }

    /// Every pool, in trie order.
    pub fn pools(&self) -> Result<Vec<Stored>, VipError> {
        self.pools
            .iter()
            .map(|item| {
                let (key, p) = item.map_err(trie_err::<F>)?;
                Ok(Self::pool_entry(&key, &p))
            })
            .collect()
    }

    /// How many exact VIPs and pools this family holds.
    pub fn counts(&self) -> Result<(usize, usize), VipError> {
        let mut pools = 0;
        for k in self.pools.keys() {
            k.map_err(trie_err::<F>)?;
            pools += 1;
        }
        Ok((self.index.len(), pools))
    }

    /// The entry of exact VIP `a`, if configured.
    pub fn find_exact(&self, a: F::Addr) -> Option<Stored> {
        self.exact_entry(self.index.find(&F::to_slot(a))?)
    }

    /// The entry of pool `net/len`, if configured.
    pub fn find_pool(&self, net: F::Addr, len: u8) -> Result<Option<Stored>, VipError> {
        let key = Key::new(u32::from(len), F::octets(net));
        match self.pools.get(&key, 0) {
            Ok(p) => Ok(Some(Self::pool_entry(&key, &p))),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(trie_err::<F>(e)),
        }
    }

    /// Fails with the first of `new` (exact VIPs not yet configured) that
    /// would find no free index slot, before anything is written.
    pub fn plan_inserts(&self, new: impl Iterator<Item = F::Addr>) -> Result<(), F::Addr> {
        let mut kinds = self.index.kinds();
        for a in new {
            self.index
                .plan_insert(&mut kinds, &F::to_slot(a))
                .map_err(|NoSlot| a)?;
        }
        Ok(())
    }

    /// Counter slots of the exact VIPs.
    pub fn counter_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.live().map(|l| l.ctr)
    }

    /// Insert exact VIP `a` (`ctr`: its zeroed counter slot), or change an
    /// existing one's real IP or flags (`ctr` none); `NoSlot` if an insert
    /// finds no free slot or a change finds no entry.
    pub fn put_exact(
        &mut self,
        a: F::Addr,
        real: F::Addr,
        flags: u32,
        ctr: Option<u32>,
    ) -> Result<(), NoSlot> {
        let (addr, real) = (F::to_slot(a), F::to_slot(real));
        match (ctr, self.index.find(&addr)) {
            (Some(ctr), _) => self.index.insert(addr, real, flags, ctr).map(drop),
            (None, Some(i)) => {
                match self.index.live_at(i) {
                    Some(l) if l.real == real => self.index.set_flags(i, flags),
                    _ => self.index.change(i, real, flags),
                }
                Ok(())
            }
            (None, None) => Err(NoSlot),
        }
    }

    pub fn remove_exact(&mut self, a: F::Addr) {
        if let Some(i) = self.index.find(&F::to_slot(a)) {
            self.index.remove(i);
        }
    }

    /// Insert or update pool `net/len`, its counters at `slot`.
    pub fn put_pool(
        &mut self,
        net: F::Addr,
        len: u8,
        real: F::Addr,
        flags: u32,
        slot: u32,
    ) -> Result<(), MapError> {
        let key = Key::new(u32::from(len), F::octets(net));
        self.pools.insert(&key, F::pool(real, flags, slot), 0)
    }

    pub fn remove_pool(&mut self, net: F::Addr, len: u8) -> Result<(), VipError> {
        let key = Key::new(u32::from(len), F::octets(net));
        self.pools.remove(&key).map_err(trie_err::<F>)
    }

    /// The pools as the pool cache holds them (masked like the trie
    /// matches, whatever the keys hold).
    pub fn cached_pools(&self) -> Result<Vec<F::Cached>, VipError> {
        self.pools
            .iter()
            .map(|item| {
                let (key, p) = item.map_err(trie_err::<F>)?;
                Ok(F::cached(key.data(), key.prefix_len() as u8, &p))
            })
            .collect()
    }
}
