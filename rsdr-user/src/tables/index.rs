//! Userspace side of the exact-VIP index (`rsdr_common::index`): the index
//! array mapped into our memory, and the writes that keep every configured
//! VIP findable by the datapath at every instant.
//!
//! Writers are serialised by the pin directory's lock; readers (the
//! datapath, and `rsdr status` beside a writer) may run at any time.

use std::{
    os::fd::BorrowedFd,
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering, fence},
};

use rsdr_common::{
    Ipv4Raw, Ipv6Raw, Slot4, Slot6,
    index::{self, FLAGS_MASK, LIVE, MAX_PROBES, TOMB},
};

use crate::mmap::Mapping;

/// What the index code needs to know about one family's slots.
pub trait Slot: Copy + Default + 'static {
    /// The address as the slot holds it (wire bytes).
    type Addr: Copy + Eq;
    fn home(addr: &Self::Addr, shift: u32) -> u32;
    /// A slot holding `addr` with real IP `real` in `real[0]`, keeping
    /// `reach`, which belongs to the slot's position.
    fn filled(addr: Self::Addr, real: Self::Addr, ctr: u32, state: u32, reach: u32) -> Self;
    /// Where the reach of the slot at `p` lives.
    fn reach_ptr(p: *mut Self) -> *mut u32;
    fn addr(&self) -> Self::Addr;
    fn real(&self, sel: usize) -> Self::Addr;
    /// Where `real[sel]` of the slot at `p` lives.
    fn real_ptr(p: *mut Self, sel: usize) -> *mut Self::Addr;
    fn ctr(&self) -> u32;
}

/// [`Slot`] for a slot type of `rsdr_common::index`: the two differ only
/// in their address type, hash and field order.
macro_rules! impl_slot {
    ($slot:ty, $addr:ty, $hash:path, { $($pad:ident: $padv:expr),* }) => {
        impl Slot for $slot {
            type Addr = $addr;
            fn home(addr: &$addr, shift: u32) -> u32 {
                $hash(addr, shift)
            }
            fn filled(addr: $addr, real: $addr, ctr: u32, state: u32, reach: u32) -> Self {
                Self { state, addr, real: [real, real], ctr, reach $(, $pad: $padv)* }
            }
            fn reach_ptr(p: *mut Self) -> *mut u32 {
                // SAFETY: a field of the slot `p` points at.
                unsafe { std::ptr::addr_of_mut!((*p).reach) }
            }
            fn addr(&self) -> $addr {
                self.addr
            }
            fn real(&self, sel: usize) -> $addr {
                self.real[sel]
            }
            fn real_ptr(p: *mut Self, sel: usize) -> *mut $addr {
                // SAFETY: a field of the slot `p` points at (sel < 2).
                unsafe { std::ptr::addr_of_mut!((*p).real[sel]) }
            }
            fn ctr(&self) -> u32 {
                self.ctr
            }
        }
    };
}

fn hash4(addr: &Ipv4Raw, shift: u32) -> u32 {
    index::hash4(*addr, shift)
}

impl_slot!(Slot4, Ipv4Raw, hash4, {});
impl_slot!(Slot6, Ipv6Raw, index::hash6, { _pad: 0 });

/// One live entry, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live<A> {
    pub slot: u32,
    pub addr: A,
    pub real: A,
    pub flags: u32,
    pub ctr: u32,
}

/// No free slot within [`MAX_PROBES`] of the address's home slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSlot;

fn kind(state: u32) -> u32 {
    state & (LIVE | TOMB)
}

pub struct Index<S: Slot> {
    ptr: NonNull<S>,
    slots: u32,
    shift: u32,
    /// None for the heap-backed indexes of the unit tests.
    _mapping: Option<Mapping>,
    #[cfg(test)]
    _heap: Vec<S>,
}

// SAFETY: the mapping is owned by the Index; access goes through &self/&mut self.
unsafe impl<S: Slot> Send for Index<S> {}

impl<S: Slot> Index<S> {
    /// Map the array behind `fd` (an mmapable array map of `slots` slots of
    /// `S`, `slots` a power of two) into our memory.
    pub fn map(fd: BorrowedFd<'_>, slots: u32) -> std::io::Result<Self> {
        if !slots.is_power_of_two() || slots < index::MIN_SLOTS {
            return Err(std::io::Error::other(format!(
                "index has {slots} slots, not a power of two >= {}",
                index::MIN_SLOTS
            )));
        }
        let mapping = Mapping::new(fd, slots as usize * size_of::<S>())?;
        Ok(Self {
            ptr: mapping.ptr(),
            slots,
            shift: index::shift_for(slots),
            _mapping: Some(mapping),
            #[cfg(test)]
            _heap: Vec::new(),
        })
    }

    #[cfg(test)]
    pub fn heap(slots: u32) -> Self {
        let mut heap = vec![S::default(); slots as usize];
        Self {
            ptr: NonNull::new(heap.as_mut_ptr()).expect("vec pointer"),
            slots,
            shift: index::shift_for(slots),
            _mapping: None,
            _heap: heap,
        }
    }

    fn mask(&self) -> u32 {
        self.slots - 1
    }

    fn slot_ptr(&self, i: u32) -> *mut S {
        debug_assert!(i < self.slots);
        // SAFETY: i < slots, inside the mapping.
        unsafe { self.ptr.as_ptr().add(i as usize) }
    }

    fn state_cell(&self, i: u32) -> &AtomicU32 {
        // SAFETY: `state` is the first field (offset 0, 4-aligned) of both
        // slot types, and the mapping outlives &self.
        unsafe { AtomicU32::from_ptr(self.slot_ptr(i).cast::<u32>()) }
    }

    fn state(&self, i: u32) -> u32 {
        self.state_cell(i).load(Ordering::Acquire)
    }

    fn reach_cell(&self, i: u32) -> &AtomicU32 {
        // SAFETY: a 4-aligned u32 field of slot i, inside the mapping,
        // which outlives &self.
        unsafe { AtomicU32::from_ptr(S::reach_ptr(self.slot_ptr(i))) }
    }

    /// The reach of slot `i` as a home (see `rsdr_common::index`).
    pub fn reach(&self, i: u32) -> u32 {
        self.reach_cell(i).load(Ordering::Acquire)
    }

    /// Distance from the home `h` to slot `i` along the probe sequence.
    fn distance(&self, h: u32, i: u32) -> u32 {
        i.wrapping_sub(h) & self.mask()
    }

    fn read(&self, i: u32) -> S {
        // SAFETY: inside the mapping; every bit pattern is a valid slot.
        unsafe { std::ptr::read_volatile(self.slot_ptr(i)) }
    }

    /// Publish `state` with one store, after every earlier field write.
    fn publish(&mut self, i: u32, state: u32) {
        self.state_cell(i).store(state, Ordering::Release);
    }

    /// The probe sequence of `addr`: (slot index) for at most MAX_PROBES.
    fn probe(&self, addr: &S::Addr) -> impl Iterator<Item = u32> + use<S> {
        let home = S::home(addr, self.shift);
        let mask = self.mask();
        (0..MAX_PROBES).map(move |k| (home + k) & mask)
    }

    /// The slot holding `addr`, probing as the datapath does.
    pub fn find(&self, addr: &S::Addr) -> Option<u32> {
        for i in self.probe(addr) {
            let st = self.state(i);
            if kind(st) == 0 {
                return None;
            }
            if kind(st) == LIVE && self.read(i).addr() == *addr {
                return Some(i);
            }
        }
        None
    }

    /// The live entry at slot `i`, if it is live.
    pub fn live_at(&self, i: u32) -> Option<Live<S::Addr>> {
        let st = self.state(i);
        (kind(st) == LIVE).then(|| {
            let s = self.read(i);
            Live {
                slot: i,
                addr: s.addr(),
                real: s.real(index::selected(st)),
                flags: st & FLAGS_MASK,
                ctr: s.ctr(),
            }
        })
    }

    /// Every live entry, in slot order.
    pub fn live(&self) -> impl Iterator<Item = Live<S::Addr>> + '_ {
        (0..self.slots).filter_map(|i| self.live_at(i))
    }

    pub fn len(&self) -> usize {
        (0..self.slots)
            .filter(|i| kind(self.state(*i)) == LIVE)
            .count()
    }

    /// Kinds of every slot, for planning a batch of inserts without writing.
    pub fn kinds(&self) -> Vec<u32> {
        (0..self.slots).map(|i| kind(self.state(i))).collect()
    }

    /// Where an insert of `addr` would go, given slot kinds `kinds` (the
    /// first free slot of its probe sequence), marking it taken.
    pub fn plan_insert(&self, kinds: &mut [u32], addr: &S::Addr) -> Result<u32, NoSlot> {
        let i = self
            .probe(addr)
            .find(|i| kinds[*i as usize] != LIVE)
            .ok_or(NoSlot)?;
        kinds[i as usize] = LIVE;
        Ok(i)
    }

    /// Write a new VIP (not present) into its first free slot: fields
    /// first, while the slot is empty or a tombstone, then the state.
    pub fn insert(
        &mut self,
        addr: S::Addr,
        real: S::Addr,
        flags: u32,
        ctr: u32,
    ) -> Result<u32, NoSlot> {
        let i = self
            .probe(&addr)
            .find(|i| kind(self.state(*i)) != LIVE)
            .ok_or(NoSlot)?;
        // The home's reach covers the new VIP before it is published (the
        // fence in `fill` orders the two).
        let h = S::home(&addr, self.shift);
        let need = self.distance(h, i) + 1;
        if self.reach(h) < need {
            self.reach_cell(h).store(need, Ordering::Relaxed);
        }
        self.fill(i, addr, real, flags, ctr);
        Ok(i)
    }

    fn fill(&mut self, i: u32, addr: S::Addr, real: S::Addr, flags: u32, ctr: u32) {
        // No field write may overtake an earlier publish (weakly ordered CPUs).
        fence(Ordering::SeqCst);
        let prev = self.state(i);
        let reach = self.reach(i);
        // SAFETY: inside the mapping. The state word and the reach are
        // rewritten with the values they hold (the slot is not live), so
        // readers see no change until publish.
        unsafe {
            std::ptr::write_volatile(self.slot_ptr(i), S::filled(addr, real, ctr, prev, reach))
        };
        self.publish(i, index::live(prev, flags, 0));
    }

    /// Change the flags of the live entry at `i`: one store.
    pub fn set_flags(&mut self, i: u32, flags: u32) {
        let prev = self.state(i);
        self.publish(i, index::live(prev, flags, index::selected(prev)));
    }

    /// Change the real IP (and flags) of the live entry at `i` in place:
    /// write the real field its state does not select, then select it.
    pub fn change(&mut self, i: u32, real: S::Addr, flags: u32) {
        // The unselected field may still be read by a reader that saw the
        // previous state: it must not be overwritten before that publish.
        fence(Ordering::SeqCst);
        let prev = self.state(i);
        let other = 1 - index::selected(prev);
        // SAFETY: inside the mapping; readers ignore the unselected field.
        unsafe { std::ptr::write_volatile(S::real_ptr(self.slot_ptr(i), other), real) };
        self.publish(i, index::live(prev, flags, other));
    }

    /// Remove the live entry at `i`: it becomes a tombstone, and trailing
    /// tombstones (those followed by an empty slot) become empty again.
    /// Then its home's reach shrinks to what the VIPs left there need.
    pub fn remove(&mut self, i: u32) {
        let h = S::home(&self.read(i).addr(), self.shift);
        self.bury(i);
        let reach = (0..self.reach(h))
            .filter(|d| {
                let j = (h + d) & self.mask();
                kind(self.state(j)) == LIVE && S::home(&self.read(j).addr(), self.shift) == h
            })
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        self.reach_cell(h).store(reach, Ordering::Release);
    }

    fn bury(&mut self, i: u32) {
        let prev = self.state(i);
        self.publish(i, index::tomb(prev));
        let mask = self.mask();
        let mut t = i;
        while kind(self.state((t + 1) & mask)) == 0 && kind(self.state(t)) == TOMB {
            let prev = self.state(t);
            // Empty keeps the version bits, so a later reuse never repeats a state.
            self.publish(t, prev & !(LIVE | TOMB | FLAGS_MASK));
            t = t.wrapping_sub(1) & mask;
            if t == i {
                break;
            }
        }
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
