//! Counting: one global counter per decision, one per-VIP counter for
//! decisions about a VIP, each in its enforced or its monitored copy.

use rsdr_common::{
    Settings, Stat, VipCounter,
    counters::{MONITOR_OFFSET, VIP_MONITOR_OFFSET},
    maps::CONFIG_F_MONITOR,
};

use crate::{
    maps::RSDR_STATS,
    vip::{self, Hit},
};

#[inline(always)]
fn bump_stat(index: u32) {
    if let Some(slot) = RSDR_STATS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it while we run.
        unsafe { *slot += 1 };
    }
}

/// Count a decision that concerns no VIP (passes, malformed frames).
#[inline(always)]
pub fn count(stat: Stat) {
    bump_stat(stat as u32);
}

/// Count a decision that no VIP can be named for (a frame that might hide
/// one); true if it is to be enforced (not global monitor mode).
#[inline(always)]
pub fn decide_unattributed(stat: Stat) -> bool {
    let monitored = vip::settings().is_some_and(|cfg| cfg.flags & CONFIG_F_MONITOR != 0);
    bump_stat(stat as u32 + monitored as u32 * MONITOR_OFFSET);
    !monitored
}

/// Count a decision about `hit` in the enforced or monitored copies.
#[inline(always)]
pub fn count_vip<R>(hit: &Hit<R>, stat: Stat, counter: VipCounter, monitored: bool) {
    // The copy chosen by arithmetic, not by branches.
    let m = monitored as u32;
    let s = stat as u32 + m * MONITOR_OFFSET;
    let c = counter as usize + m as usize * VIP_MONITOR_OFFSET;
    bump_stat(s);
    // SAFETY: `counters` points at this CPU's counters of a live map value;
    // `c` is below VIP_COUNTER_SLOTS by construction.
    unsafe { (*hit.counters)[c] += 1 };
}

/// Count a decision about `hit`; true if it is to be enforced (not monitor mode).
#[inline(always)]
pub fn decide<R>(hit: &Hit<R>, cfg: &Settings, stat: Stat, counter: VipCounter) -> bool {
    let monitored = hit.monitored(cfg);
    count_vip(hit, stat, counter, monitored);
    !monitored
}
