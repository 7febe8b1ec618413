//! Reading the exact-VIP indexes while userspace writes them
//! (`rsdr_common::index` has the layout and the write protocol).

use core::ptr::{addr_of, read_volatile};

use aya_ebpf::maps::Array;
use rsdr_common::{
    Ipv4Raw, Ipv6Raw, Slot4, Slot6,
    index::{self, FLAGS_MASK, LIVE, MAX_PROBES, TOMB},
};

use crate::{maps::RSDR_VIP_CTRS, vip::Hit};

/// How the datapath reads one family's index slots. Every read is
/// volatile: userspace writes the slots while we read them (see
/// `rsdr_common::index` for the protocol that makes that safe).
pub trait IndexSlot: Sized {
    type Addr;
    /// `state` is the first field of every slot type (asserted in
    /// `rsdr_common::index`).
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        // SAFETY: `p` is a slot pointer from a successful array lookup.
        unsafe { read_volatile(p.cast::<u32>()) }
    }
    fn holds(p: *const Self, addr: &Self::Addr) -> bool;
    /// The real IP that `state` selects.
    fn real(p: *const Self, state: u32) -> Self::Addr;
    fn ctr(p: *const Self) -> u32;
}

impl IndexSlot for Slot4 {
    type Addr = Ipv4Raw;
    // SAFETY (all three): `p` is a slot pointer from a successful array lookup.
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
    // SAFETY (all three): as for Slot4.
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

/// What one read of a slot found.
enum Read<R> {
    /// An empty slot: the probe ends.
    Empty,
    /// The VIP, read consistently.
    Hit(Hit<R>),
    /// The VIP's slot changed while its fields were read.
    Changed,
    /// A tombstone or another VIP: the probe goes on.
    Other,
}

/// Read the slot at `p`: a match is trusted only if the slot's state was
/// the same before and after its fields were read.
#[inline(always)]
fn read<S: IndexSlot>(p: *const S, addr: &S::Addr) -> Option<Read<S::Addr>> {
    let s1 = S::state(p);
    if s1 & (LIVE | TOMB) == 0 {
        return Some(Read::Empty);
    }
    if s1 & LIVE == 0 || !S::holds(p, addr) {
        return Some(Read::Other);
    }
    let real = S::real(p, s1);
    let ctr = S::ctr(p);
    if S::state(p) != s1 {
        return Some(Read::Changed);
    }
    Some(Read::Hit(Hit {
        real,
        flags: s1 & FLAGS_MASK,
        counters: RSDR_VIP_CTRS.get_ptr_mut(ctr)?,
    }))
}

/// Probe `map` from `home` for `addr`, at most [`MAX_PROBES`] slots: stop
/// at an empty slot, pass tombstones and other VIPs. A slot that changed
/// while it was read is read once more; every iteration moves one slot on,
/// which keeps the verifier's work linear. (A slot changes once per writer
/// operation, a syscall-paced userspace store: a probe meets two changes
/// of one slot only if the CPU is taken from it for that long.)
#[inline(always)]
pub fn find<S: IndexSlot>(
    map: &Array<S>,
    addr: &S::Addr,
    home: u32,
    mask: u32,
) -> Option<Hit<S::Addr>> {
    let mut i = home;
    for _ in 0..MAX_PROBES {
        let p = map.get_ptr(i)?;
        let mut r = read(p, addr)?;
        if let Read::Changed = r {
            r = read(p, addr)?;
        }
        match r {
            Read::Empty => return None,
            Read::Hit(h) => return Some(h),
            Read::Changed | Read::Other => {}
        }
        i = (i + 1) & mask;
    }
    None
}
