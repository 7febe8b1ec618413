//! Is this address a VIP? Exact entries first (the index), then pools
//! (longest prefix), and the pool trie only when pools exist.

use core::ptr::{addr_of, read_volatile};

use aya_ebpf::maps::{Array, lpm_trie::Key};
use rsdr_common::{
    Config, Ipv4Raw, Ipv6Raw, Slot4, Slot6, VipCounters,
    index::{self, FLAGS_MASK, LIVE, MAX_PROBES, TOMB},
    maps::{CONFIG_F_MONITOR, VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS},
};

use crate::maps::{
    RSDR_CONFIG, RSDR_INDEX4, RSDR_INDEX6, RSDR_POOL_CTRS, RSDR_POOLS4, RSDR_POOLS6, RSDR_VIP_CTRS,
};

/// A matched VIP (or pool): its real address, flags and this CPU's counters.
#[derive(Clone, Copy)]
pub struct Hit<R> {
    pub real: R,
    pub flags: u32,
    pub counters: *mut VipCounters,
}

impl<R> Hit<R> {
    /// Decisions about this VIP are counted but not enforced.
    #[inline(always)]
    pub fn monitored(&self, cfg: &Config) -> bool {
        (self.flags & VIP_F_MONITOR) != 0 || (cfg.flags & CONFIG_F_MONITOR) != 0
    }

    /// Frames announcing this VIP from elsewhere may reach the host.
    #[inline(always)]
    pub fn shows_conflicts(&self) -> bool {
        (self.flags & VIP_F_SHOW_CONFLICTS) != 0
    }
}

/// How the datapath reads one family's index slots. Every read is
/// volatile: userspace writes the slots while we read them (see
/// `rsdr_common::index` for the protocol that makes that safe).
trait IndexSlot {
    type Addr;
    fn state(p: *const Self) -> u32;
    fn holds(p: *const Self, addr: &Self::Addr) -> bool;
    /// The real IP that `state` selects.
    fn real(p: *const Self, state: u32) -> Self::Addr;
    fn ctr(p: *const Self) -> u32;
}

impl IndexSlot for Slot4 {
    type Addr = Ipv4Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        // SAFETY (all four): `p` is a slot pointer from a successful array lookup.
        unsafe { read_volatile(addr_of!((*p).state)) }
    }
    #[inline(always)]
    fn holds(p: *const Self, addr: &Ipv4Raw) -> bool {
        unsafe { read_volatile(addr_of!((*p).addr)) == *addr }
    }
    #[inline(always)]
    fn real(p: *const Self, state: u32) -> Ipv4Raw {
        unsafe { read_volatile(addr_of!((*p).real[index::selected(state)])) }
    }
    #[inline(always)]
    fn ctr(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).ctr)) }
    }
}

/// Two aligned 8-byte loads of an address field (slot fields at offsets 8,
/// 24 and 40 of an 8-aligned array element).
#[inline(always)]
fn load16(p: *const [u8; 16]) -> [u64; 2] {
    let q = p as *const u64;
    // SAFETY: `p` points at 16 bytes of a slot, 8-aligned.
    unsafe { [read_volatile(q), read_volatile(q.add(1))] }
}

#[inline(always)]
fn words(a: &Ipv6Raw) -> [u64; 2] {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&a[..8]);
    hi.copy_from_slice(&a[8..]);
    [u64::from_ne_bytes(lo), u64::from_ne_bytes(hi)]
}

impl IndexSlot for Slot6 {
    type Addr = Ipv6Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        // SAFETY (all four): as for Slot4.
        unsafe { read_volatile(addr_of!((*p).state)) }
    }
    #[inline(always)]
    fn holds(p: *const Self, addr: &Ipv6Raw) -> bool {
        load16(unsafe { addr_of!((*p).addr) }) == words(addr)
    }
    #[inline(always)]
    fn real(p: *const Self, state: u32) -> Ipv6Raw {
        let [lo, hi] = load16(unsafe { addr_of!((*p).real[index::selected(state)]) });
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&lo.to_ne_bytes());
        out[8..].copy_from_slice(&hi.to_ne_bytes());
        out
    }
    #[inline(always)]
    fn ctr(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).ctr)) }
    }
}

/// Probe `map` from `home` for `addr`: stop at an empty slot, pass
/// tombstones and other VIPs, and trust a match only if the slot's state
/// was the same before and after its fields were read (otherwise read the
/// slot again).
#[inline(always)]
fn find<S: IndexSlot>(
    map: &Array<S>,
    addr: &S::Addr,
    home: u32,
    mask: u32,
) -> Option<Hit<S::Addr>> {
    let mut i = home;
    for _ in 0..MAX_PROBES {
        let p = map.get_ptr(i)?;
        let s1 = S::state(p);
        if s1 & (LIVE | TOMB) == 0 {
            return None;
        }
        if s1 & LIVE != 0 && S::holds(p, addr) {
            let real = S::real(p, s1);
            let ctr = S::ctr(p);
            if S::state(p) == s1 {
                return Some(Hit {
                    real,
                    flags: s1 & FLAGS_MASK,
                    counters: RSDR_VIP_CTRS.get_ptr_mut(ctr)?,
                });
            }
            continue;
        }
        i = (i + 1) & mask;
    }
    None
}

/// The global settings (all zero if the config map was never written).
#[inline(always)]
pub fn config() -> Config {
    match RSDR_CONFIG.get(0) {
        Some(c) => *c,
        None => Config {
            layout_version: 0,
            flags: 0,
            pools4: 0,
            pools6: 0,
            index_shift: 0,
            _pad: 0,
        },
    }
}

/// 0.0.0.0 is never a VIP (docs/semantics.md), whatever the tables hold.
#[inline(always)]
pub fn lookup4(cfg: &Config, addr: Ipv4Raw) -> Option<Hit<Ipv4Raw>> {
    if addr == 0 {
        return None;
    }
    let shift = cfg.index_shift;
    if shift != 0 {
        let hit = find(
            &RSDR_INDEX4,
            &addr,
            index::hash4(addr, shift),
            u32::MAX >> shift,
        );
        if hit.is_some() {
            return hit;
        }
    }
    if cfg.pools4 == 0 {
        return None;
    }
    let pool = RSDR_POOLS4.get(Key::new(32, addr.to_ne_bytes()))?;
    let counters = RSDR_POOL_CTRS.get_ptr_mut(pool.slot)?;
    Some(Hit {
        real: pool.real,
        flags: pool.flags,
        counters,
    })
}

/// :: is never a VIP (docs/semantics.md), whatever the tables hold.
#[inline(always)]
pub fn lookup6(cfg: &Config, addr: &Ipv6Raw) -> Option<Hit<Ipv6Raw>> {
    if *addr == [0; 16] {
        return None;
    }
    let shift = cfg.index_shift;
    if shift != 0 {
        let hit = find(
            &RSDR_INDEX6,
            addr,
            index::hash6(addr, shift),
            u32::MAX >> shift,
        );
        if hit.is_some() {
            return hit;
        }
    }
    if cfg.pools6 == 0 {
        return None;
    }
    let pool = RSDR_POOLS6.get(Key::new(128, *addr))?;
    let counters = RSDR_POOL_CTRS.get_ptr_mut(pool.slot)?;
    Some(Hit {
        real: pool.real,
        flags: pool.flags,
        counters,
    })
}
