//! Counting helpers: one global counter per decision, one per-VIP counter
//! for decisions about a VIP.

use rsdr_common::{Stat, VipCounter, VipEntry4};

use crate::maps::RSDR_STATS;

#[inline(always)]
pub fn count(stat: Stat) {
    if let Some(slot) = RSDR_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot, only this CPU writes it while we run.
        unsafe { *slot += 1 };
    }
}

#[inline(always)]
pub fn count_vip(entry: *mut VipEntry4, counter: VipCounter) {
    // SAFETY: `entry` is this CPU's copy of a per-CPU hash value, returned by
    // a successful lookup; the index is a constant below VIP_COUNTER_SLOTS.
    unsafe { (*entry).counters[counter as usize] += 1 };
}
