//! Publishing the pools to the datapath's pool cache, inside the mapped
//! settings map (`rsdr_common::pool_cache` has the protocol): the pool
//! counts, and the pools themselves while few. The datapath reads them
//! while we write; writers are serialised by the pin directory's lock.

use std::{
    os::fd::BorrowedFd,
    ptr::addr_of_mut,
    sync::atomic::{AtomicU32, Ordering, fence},
};

use rsdr_common::pool_cache::{CACHED_POOLS, CachedPool4, CachedPool6};

use crate::settings::{MappedSettings, SettingsError};

pub struct PoolCacheWriter {
    settings: MappedSettings,
}

impl PoolCacheWriter {
    /// Map the settings map behind `fd` (one mmapable element).
    pub fn map(fd: BorrowedFd<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            settings: MappedSettings::map(fd)?,
        })
    }

    fn word(&self, field: impl FnOnce(*mut rsdr_common::Settings) -> *mut u32) -> &AtomicU32 {
        self.settings.word(field)
    }

    /// The pool cache's sequence count.
    fn seq(&self) -> &AtomicU32 {
        // SAFETY: a field of the settings the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).pools.seq) })
    }

    /// Store the pool counts of both families.
    fn store_counts(&self, (v4, v6): (u32, u32), order: Ordering) {
        // SAFETY (closures): fields of the settings the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).pools4) })
            .store(v4, order);
        self.word(|c| unsafe { addr_of_mut!((*c).pools6) })
            .store(v6, order);
    }

    /// Publish the pools of both families (all of them, as the tries hold
    /// them) and their counts: the entries are written only while the
    /// sequence count is odd, so the datapath asks the tries meanwhile.
    /// Families with more than [`CACHED_POOLS`] pools get only their count.
    pub fn publish(&mut self, v4: &[CachedPool4], v6: &[CachedPool6]) {
        // Odd already if an earlier writer died midway: stay odd.
        let odd = self.seq().load(Ordering::Relaxed) | 1;
        self.seq().store(odd, Ordering::Relaxed);
        // No entry write may become visible before the odd count.
        fence(Ordering::SeqCst);
        let c = self.settings.as_ptr();
        // SAFETY (all writes): fields of the mapped settings value; the
        // datapath ignores what it reads while the count is odd.
        unsafe {
            write_entries(addr_of_mut!((*c).pools.v4), v4);
            write_entries(addr_of_mut!((*c).pools.v6), v6);
        }
        self.store_counts((v4.len() as u32, v6.len() as u32), Ordering::Relaxed);
        self.seq().store(odd.wrapping_add(1), Ordering::Release);
    }

    /// Tests only: leave the pool cache as a writer killed right after it
    /// began a publish leaves it: the sequence count odd, the counts of
    /// `counts` (the ones from before the change it was publishing).
    #[cfg(feature = "testing")]
    pub fn interrupt_publish(&mut self, counts: (u32, u32)) {
        let odd = self.seq().load(Ordering::Relaxed) | 1;
        self.seq().store(odd, Ordering::Release);
        self.store_counts(counts, Ordering::Release);
    }
}

/// Fill the cache entries of one family: `pools` if they fit, zeros after.
///
/// # Safety
/// `dst` points at the family's entries inside the mapped settings.
unsafe fn write_entries<P: Copy + Default>(dst: *mut [P; CACHED_POOLS], pools: &[P]) {
    let cached = if pools.len() <= CACHED_POOLS {
        pools
    } else {
        &[]
    };
    for i in 0..CACHED_POOLS {
        let p = cached.get(i).copied().unwrap_or_default();
        // SAFETY: i < CACHED_POOLS, inside `dst` (the caller's promise).
        unsafe { std::ptr::write_volatile(dst.cast::<P>().add(i), p) };
    }
}
