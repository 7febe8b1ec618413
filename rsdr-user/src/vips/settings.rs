//! The config map (`rsdr_common::Config`) mapped into our memory: the
//! global flags, and the pool counts with the pool cache, which the
//! datapath reads while we write them (`rsdr_common::pool_cache` has the
//! protocol). Writers are serialised by the pin directory's lock.

use std::{
    io,
    os::fd::BorrowedFd,
    ptr::{NonNull, addr_of_mut},
    sync::atomic::{AtomicU32, Ordering, fence},
};

use rsdr_common::{
    Config,
    pool_cache::{CACHED_POOLS, CachedPool4, CachedPool6},
};

use super::shared::Mapping;

pub struct Settings {
    ptr: NonNull<Config>,
    _mapping: Mapping,
}

// SAFETY: the mapping is owned by Settings; access goes through &self/&mut self.
unsafe impl Send for Settings {}

impl Settings {
    /// Map the config map behind `fd` (one mmapable element).
    pub fn map(fd: BorrowedFd<'_>) -> io::Result<Self> {
        let mapping = Mapping::new(fd, size_of::<Config>())?;
        Ok(Self {
            ptr: mapping.ptr(),
            _mapping: mapping,
        })
    }

    /// A 32-bit field of the mapped config, which the datapath reads
    /// concurrently.
    fn word(&self, field: impl FnOnce(*mut Config) -> *mut u32) -> &AtomicU32 {
        // SAFETY: `field` returns a 4-aligned u32 field of the mapped
        // value, which outlives &self.
        unsafe { AtomicU32::from_ptr(field(self.ptr.as_ptr())) }
    }

    pub fn flags(&self) -> u32 {
        // SAFETY (closures): a field of the config the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).flags) })
            .load(Ordering::Acquire)
    }

    /// One store: the datapath sees the old flags or the new.
    pub fn set_flags(&mut self, flags: u32) {
        self.word(|c| unsafe { addr_of_mut!((*c).flags) })
            .store(flags, Ordering::Release);
    }

    /// The pool cache's sequence count.
    fn seq(&self) -> &AtomicU32 {
        // SAFETY: a field of the config the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).pools.seq) })
    }

    /// Store the pool counts of both families.
    fn store_counts(&self, (v4, v6): (u32, u32), order: Ordering) {
        // SAFETY (closures): fields of the config the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).pools4) })
            .store(v4, order);
        self.word(|c| unsafe { addr_of_mut!((*c).pools6) })
            .store(v6, order);
    }

    /// Publish the pools of both families (all of them, as the tries hold
    /// them) and their counts: the entries are written only while the
    /// sequence count is odd, so the datapath asks the tries meanwhile.
    /// Families with more than [`CACHED_POOLS`] pools get only their count.
    pub fn publish_pools(&mut self, v4: &[CachedPool4], v6: &[CachedPool6]) {
        // Odd already if an earlier writer died midway: stay odd.
        let odd = self.seq().load(Ordering::Relaxed) | 1;
        self.seq().store(odd, Ordering::Relaxed);
        // No entry write may become visible before the odd count.
        fence(Ordering::SeqCst);
        let c = self.ptr.as_ptr();
        // SAFETY (all writes): fields of the mapped config value; the
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
    #[cfg(feature = "bench")]
    pub fn interrupt_publish(&mut self, counts: (u32, u32)) {
        let odd = self.seq().load(Ordering::Relaxed) | 1;
        self.seq().store(odd, Ordering::Release);
        self.store_counts(counts, Ordering::Release);
    }
}

/// Fill the cache entries of one family: `pools` if they fit, zeros after.
///
/// # Safety
/// `dst` points at the family's entries inside the mapped config.
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
