//! Is this address a VIP? Exact entries first (the index), then pools
//! (`pools.rs`), which are looked at only when some exist.

use rsdr_common::{
    Ipv4Raw, Settings, VipCounters, index,
    maps::{CONFIG_F_MONITOR, VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS, VIP_F_VRRP, VIP_F_VRRP_MASTER},
};

use crate::{
    index::find,
    ip6::{self, Ip6},
    maps::{RSDR_CONFIG, RSDR_INDEX_SHIFT, RSDR_INDEX4, RSDR_INDEX6},
    pools,
};

/// For `lookup4`/`lookup6`: read the real IP of an exact VIP (egress
/// rewrites need it) ...
pub const WITH_REAL: bool = true;
/// ... or leave it unread (every other decision).
pub const NO_REAL: bool = false;

/// A matched VIP (or pool): its real address, flags and this CPU's counters.
#[derive(Clone, Copy)]
pub struct Hit<R> {
    pub real: R,
    pub flags: u32,
    pub counters: *mut VipCounters,
}

impl<R> Hit<R> {
    /// Decisions about this VIP are counted but not enforced: monitor
    /// mode, or this host is the VIP's VRRP master.
    #[inline(always)]
    pub fn monitored(&self, cfg: &Settings) -> bool {
        // `|`, not `||`: two loads and no branch.
        ((self.flags & (VIP_F_MONITOR | VIP_F_VRRP_MASTER)) | (cfg.flags & CONFIG_F_MONITOR)) != 0
    }

    /// The VIP follows a VRRP instance: its announcements are keepalived's.
    #[inline(always)]
    pub fn follows_vrrp(&self) -> bool {
        (self.flags & VIP_F_VRRP) != 0
    }

    /// Frames announcing this VIP from elsewhere may reach the host.
    #[inline(always)]
    pub fn shows_conflicts(&self) -> bool {
        (self.flags & VIP_F_SHOW_CONFLICTS) != 0
    }
}

/// The global settings: `None` only if the config map cannot be read,
/// and then no address is a VIP.
#[inline(always)]
pub fn settings() -> Option<&'static Settings> {
    RSDR_CONFIG.get(0)
}

/// 0.0.0.0 is never a VIP (docs/semantics.md), whatever the tables hold.
/// The hit's real IP is read only if `REAL` (for exact VIPs; a pool's is
/// always at hand).
#[inline(always)]
pub fn lookup4<const REAL: bool>(cfg: &Settings, addr: Ipv4Raw) -> Option<Hit<Ipv4Raw>> {
    if addr == 0 {
        return None;
    }
    let shift = RSDR_INDEX_SHIFT.load();
    if shift != 0 {
        let hit = find::<_, REAL>(
            &RSDR_INDEX4,
            &addr,
            index::hash4(addr, shift),
            u32::MAX >> shift,
        );
        if hit.is_some() {
            return hit;
        }
    }
    pools::lookup4(cfg, addr)
}

/// :: is never a VIP (docs/semantics.md), whatever the tables hold.
/// The real IP is read as for [`lookup4`].
#[inline(always)]
pub fn lookup6<const REAL: bool>(cfg: &Settings, addr: &Ip6) -> Option<Hit<Ip6>> {
    if *addr == ip6::UNSPECIFIED {
        return None;
    }
    let shift = RSDR_INDEX_SHIFT.load();
    if shift != 0 {
        let hit = find::<_, REAL>(
            &RSDR_INDEX6,
            addr,
            index::hash6_words(addr, shift),
            u32::MAX >> shift,
        );
        if hit.is_some() {
            return hit;
        }
    }
    pools::lookup6(cfg, addr)
}
