//! Is this address a VIP? Exact entries first (the index), then pools
//! (longest prefix), and the pool trie only when pools exist.

use aya_ebpf::maps::lpm_trie::Key;
use rsdr_common::{
    Config, Ipv4Raw, Ipv6Raw, VipCounters, index,
    maps::{CONFIG_F_MONITOR, VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS},
};

use crate::{
    index::find,
    maps::{RSDR_CONFIG, RSDR_INDEX4, RSDR_INDEX6, RSDR_POOL_CTRS, RSDR_POOLS4, RSDR_POOLS6},
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
