//! Userspace side of the exact-VIP index (`rsdr_common::index`): the index
//! array mapped into our memory, and the writes that keep every configured
//! VIP findable by the datapath at every instant.
//!
//! Writers are serialised by the pin directory's lock; readers (the
//! datapath, and `rsdr status` beside a writer) may run at any time.

use std::{
    net::IpAddr,
    os::fd::BorrowedFd,
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering, fence},
};

use rsdr_common::{
    Ipv4Raw, Ipv6Raw, Slot4, Slot6,
    index::{self, FLAGS_MASK, LIVE, MAX_PROBES, TOMB},
};

use super::shared::Mapping;
use crate::addr::from_raw;

/// What the index code needs to know about one family's slots.
pub trait Slot: Copy + Default + 'static {
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
    fn ip(a: Self::Addr) -> IpAddr;
}

impl Slot for Slot4 {
    type Addr = Ipv4Raw;
    fn home(addr: &Ipv4Raw, shift: u32) -> u32 {
        index::hash4(*addr, shift)
    }
    fn filled(addr: Ipv4Raw, real: Ipv4Raw, ctr: u32, state: u32, reach: u32) -> Self {
        Slot4 {
            state,
            addr,
            real: [real, real],
            ctr,
            reach,
        }
    }
    fn reach_ptr(p: *mut Self) -> *mut u32 {
        // SAFETY: a field of the slot `p` points at.
        unsafe { std::ptr::addr_of_mut!((*p).reach) }
    }
    fn addr(&self) -> Ipv4Raw {
        self.addr
    }
    fn real(&self, sel: usize) -> Ipv4Raw {
        self.real[sel]
    }
    fn real_ptr(p: *mut Self, sel: usize) -> *mut Ipv4Raw {
        // SAFETY: a field of the slot `p` points at (sel < 2).
        unsafe { std::ptr::addr_of_mut!((*p).real[sel]) }
    }
    fn ctr(&self) -> u32 {
        self.ctr
    }
    fn ip(a: Ipv4Raw) -> IpAddr {
        IpAddr::V4(from_raw(a))
    }
}

impl Slot for Slot6 {
    type Addr = Ipv6Raw;
    fn home(addr: &Ipv6Raw, shift: u32) -> u32 {
        index::hash6(addr, shift)
    }
    fn filled(addr: Ipv6Raw, real: Ipv6Raw, ctr: u32, state: u32, reach: u32) -> Self {
        Slot6 {
            state,
            ctr,
            addr,
            real: [real, real],
            reach,
            _pad: 0,
        }
    }
    fn reach_ptr(p: *mut Self) -> *mut u32 {
        // SAFETY: a field of the slot `p` points at.
        unsafe { std::ptr::addr_of_mut!((*p).reach) }
    }
    fn addr(&self) -> Ipv6Raw {
        self.addr
    }
    fn real(&self, sel: usize) -> Ipv6Raw {
        self.real[sel]
    }
    fn real_ptr(p: *mut Self, sel: usize) -> *mut Ipv6Raw {
        // SAFETY: a field of the slot `p` points at (sel < 2).
        unsafe { std::ptr::addr_of_mut!((*p).real[sel]) }
    }
    fn ctr(&self) -> u32 {
        self.ctr
    }
    fn ip(a: Ipv6Raw) -> IpAddr {
        IpAddr::V6(a.into())
    }
}

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
mod tests {
    use super::*;

    fn idx() -> Index<Slot4> {
        Index::heap(64)
    }

    /// Addresses that all share one home slot in a 64-slot index.
    fn colliding(n: usize) -> Vec<u32> {
        let shift = index::shift_for(64);
        let home = index::hash4(1, shift);
        (1u32..)
            .filter(|a| index::hash4(*a, shift) == home)
            .take(n)
            .collect()
    }

    #[test]
    fn a_removed_vip_leaves_the_rest_of_its_chain_findable() {
        let mut ix = idx();
        let a = colliding(3);
        for (n, addr) in a.iter().enumerate() {
            ix.insert(*addr, 100 + n as u32, 0, n as u32).expect("room");
        }
        let first = ix.find(&a[0]).expect("first inserted");
        ix.remove(first);
        assert_eq!(ix.find(&a[0]), None, "removed VIP still found");
        for addr in &a[1..] {
            assert!(ix.find(addr).is_some(), "VIP {addr} lost behind a removal");
        }
        // The tombstone is reused, and the chain still works.
        let b = colliding(4)[3];
        let at = ix.insert(b, 7, 0, 9).expect("room");
        assert_eq!(
            at, first,
            "a new VIP reuses the tombstone first in its chain"
        );
        assert!(ix.find(&a[2]).is_some());
    }

    #[test]
    fn removing_the_tail_of_a_chain_empties_its_tombstones() {
        let mut ix = idx();
        let a = colliding(3);
        for addr in &a {
            ix.insert(*addr, 1, 0, 0).expect("room");
        }
        for addr in &a {
            let i = ix.find(addr).expect("present");
            ix.remove(i);
        }
        assert!(
            ix.kinds().iter().all(|k| *k == 0),
            "tombstones left behind an emptied chain: {:?}",
            ix.kinds()
        );
    }

    #[test]
    fn a_change_of_real_stays_in_place_and_keeps_the_counter_slot() {
        let mut ix = idx();
        let a = colliding(2);
        ix.insert(a[0], 1, 0, 5).expect("room");
        ix.insert(a[1], 2, 0, 6).expect("room");
        let i = ix.find(&a[0]).expect("present");
        let before = ix.kinds();
        for real in [11, 12, 13] {
            ix.change(i, real, 1);
            let live: Vec<_> = ix.live().filter(|l| l.addr == a[0]).collect();
            assert_eq!(
                live.len(),
                1,
                "exactly one live entry after a change: {live:?}"
            );
            assert_eq!(
                (live[0].slot, live[0].real, live[0].flags, live[0].ctr),
                (i, real, 1, 5)
            );
        }
        assert_eq!(
            ix.kinds(),
            before,
            "a change of real IP must not move or add entries"
        );
        assert!(
            ix.find(&a[1]).is_some(),
            "the other VIP of the chain was lost"
        );
    }

    #[test]
    fn inserts_fail_cleanly_past_the_probe_bound() {
        let mut ix = idx();
        let a = colliding(MAX_PROBES as usize + 1);
        for addr in &a[..MAX_PROBES as usize] {
            ix.insert(*addr, 1, 0, 0).expect("room within the bound");
        }
        let mut kinds = ix.kinds();
        assert_eq!(
            ix.plan_insert(&mut kinds, &a[MAX_PROBES as usize]),
            Err(NoSlot)
        );
        assert_eq!(ix.insert(a[MAX_PROBES as usize], 1, 0, 0), Err(NoSlot));
        assert_eq!(ix.len(), MAX_PROBES as usize);
    }

    /// Every live VIP lies within its home's reach, and every reach is the
    /// least that covers its home's VIPs.
    fn assert_reach_exact(ix: &Index<Slot4>) {
        let mut need = vec![0u32; ix.slots as usize];
        for l in ix.live() {
            let h = Slot4::home(&l.addr, ix.shift);
            let d = ix.distance(h, l.slot);
            need[h as usize] = need[h as usize].max(d + 1);
        }
        for (h, n) in need.iter().enumerate() {
            assert_eq!(ix.reach(h as u32), *n, "reach of home {h}");
        }
    }

    #[test]
    fn reach_follows_inserts_and_removals() {
        let mut ix = idx();
        let a = colliding(6);
        // Neighbours homed one slot on, so chains of two homes interleave.
        let shift = index::shift_for(64);
        let next = (index::hash4(a[0], shift) + 1) & 63;
        let b: Vec<u32> = (1u32..)
            .filter(|x| index::hash4(*x, shift) == next)
            .take(3)
            .collect();
        for (n, addr) in a.iter().chain(&b).enumerate() {
            ix.insert(*addr, 1, 0, n as u32).expect("room");
            assert_reach_exact(&ix);
        }
        // Out of insertion order: the last of a chain, a middle one, the first.
        for addr in [a[5], a[2], b[0], a[0], b[2], a[4], a[1], a[3], b[1]] {
            let i = ix.find(&addr).expect("present");
            ix.remove(i);
            assert_reach_exact(&ix);
            assert_eq!(ix.find(&addr), None);
        }
        assert!(
            (0..64).all(|h| ix.reach(h) == 0),
            "reach left on an empty index"
        );
        // A reused tombstone inside a chain keeps the reach exact too.
        for addr in &a[..3] {
            ix.insert(*addr, 1, 0, 0).expect("room");
        }
        ix.remove(ix.find(&a[1]).expect("present"));
        ix.insert(b[0], 1, 0, 0).expect("room");
        assert_reach_exact(&ix);
    }

    #[test]
    fn every_state_store_moves_the_version() {
        let mut ix = idx();
        let i = ix.insert(42, 1, 0, 0).expect("room");
        let mut seen = vec![ix.state(i)];
        ix.set_flags(i, 1);
        seen.push(ix.state(i));
        ix.remove(i);
        seen.push(ix.state(i));
        let j = ix.insert(42, 1, 0, 0).expect("room");
        assert_eq!(i, j);
        seen.push(ix.state(j));
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), seen.len(), "a state repeated: {seen:x?}");
    }
}
