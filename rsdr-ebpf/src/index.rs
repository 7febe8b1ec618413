//! Reading the open-addressing indexes that userspace writes while we read
//! (`rsdr_common::index` has the layout and the write protocol). Every read
//! of a slot is volatile, and a match is trusted only if the slot's state
//! was the same before and after its fields were read.

use core::ptr::{addr_of, read_volatile};

use aya_ebpf::maps::{Array, PerCpuArray};
use rsdr_common::{
    Ipv4Raw, Ipv6Raw, Slot4, Slot6, VipCounters,
    index::{self, FLAGS_MASK, LIVE, PoolSlot4, PoolSlot6, TOMB},
};

use crate::vip::Hit;

/// How the datapath reads one kind of index slot.
pub trait IndexSlot {
    type Key;
    type Real;
    fn state(p: *const Self) -> u32;
    fn holds(p: *const Self, key: &Self::Key) -> bool;
    /// The real IP that `state` selects.
    fn real(p: *const Self, state: u32) -> Self::Real;
    fn ctr(p: *const Self) -> u32;
}

/// Two aligned 8-byte loads of a 16-byte address field (at offsets that
/// are multiples of 8 in an 8-aligned array element).
#[inline(always)]
fn load16(p: *const [u8; 16]) -> [u64; 2] {
    let q = p as *const u64;
    // SAFETY: `p` points at 16 bytes of a slot, 8-aligned.
    unsafe { [read_volatile(q), read_volatile(q.add(1))] }
}

#[inline(always)]
fn bytes16(w: [u64; 2]) -> Ipv6Raw {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&w[0].to_ne_bytes());
    out[8..].copy_from_slice(&w[1].to_ne_bytes());
    out
}

// SAFETY (every unsafe block below): `p` is a slot pointer from a successful
// array lookup, and the fields read lie inside that slot.

impl IndexSlot for Slot4 {
    type Key = Ipv4Raw;
    type Real = Ipv4Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
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

impl IndexSlot for Slot6 {
    /// The address as two native 8-byte loads of its wire bytes.
    type Key = [u64; 2];
    type Real = Ipv6Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).state)) }
    }
    #[inline(always)]
    fn holds(p: *const Self, addr: &[u64; 2]) -> bool {
        load16(unsafe { addr_of!((*p).addr) }) == *addr
    }
    #[inline(always)]
    fn real(p: *const Self, state: u32) -> Ipv6Raw {
        bytes16(load16(unsafe {
            addr_of!((*p).real[index::selected(state)])
        }))
    }
    #[inline(always)]
    fn ctr(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).ctr)) }
    }
}

impl IndexSlot for PoolSlot4 {
    /// Network bits and prefix length.
    type Key = (Ipv4Raw, u32);
    type Real = Ipv4Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).state)) }
    }
    #[inline(always)]
    fn holds(p: *const Self, key: &(Ipv4Raw, u32)) -> bool {
        unsafe {
            read_volatile(addr_of!((*p).net)) == key.0 && read_volatile(addr_of!((*p).len)) == key.1
        }
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

impl IndexSlot for PoolSlot6 {
    type Key = ([u64; 2], u32);
    type Real = Ipv6Raw;
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).state)) }
    }
    #[inline(always)]
    fn holds(p: *const Self, key: &([u64; 2], u32)) -> bool {
        load16(unsafe { addr_of!((*p).net) }) == key.0
            && unsafe { read_volatile(addr_of!((*p).len)) } == key.1
    }
    #[inline(always)]
    fn real(p: *const Self, state: u32) -> Ipv6Raw {
        bytes16(load16(unsafe {
            addr_of!((*p).real[index::selected(state)])
        }))
    }
    #[inline(always)]
    fn ctr(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).ctr)) }
    }
}

/// Probe `map` (of `mask + 1` slots) for `key` from `home`, at most
/// `probes` slots: stop at an empty slot, pass tombstones and other
/// entries, and read a slot again if it changed while we read it.
#[inline(always)]
pub fn find<S: IndexSlot>(
    map: &Array<S>,
    counters: &PerCpuArray<VipCounters>,
    key: &S::Key,
    home: u32,
    mask: u32,
    probes: u32,
) -> Option<Hit<S::Real>> {
    let mut i = home;
    for _ in 0..probes {
        let p = map.get_ptr(i)?;
        let s1 = S::state(p);
        if s1 & (LIVE | TOMB) == 0 {
            return None;
        }
        if s1 & LIVE != 0 && S::holds(p, key) {
            let real = S::real(p, s1);
            let ctr = S::ctr(p);
            if S::state(p) == s1 {
                return Some(Hit {
                    real,
                    flags: s1 & FLAGS_MASK,
                    counters: counters.get_ptr_mut(ctr)?,
                });
            }
            continue;
        }
        i = (i + 1) & mask;
    }
    None
}
