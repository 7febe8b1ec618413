//! Reading the exact-VIP indexes while userspace writes them
//! (`rsdr_common::index` has the layout and the write protocol).

use core::ptr::{addr_of, read_volatile};

use aya_ebpf::maps::Array;
use rsdr_common::{
    Ipv4Raw, Slot4, Slot6,
    index::{self, FLAGS_MASK, LIVE, MAX_PROBES, PAGE_SLOTS, TOMB, in_page, page_of},
};

use crate::{
    ip6::{self, Ip6},
    maps::{RSDR_ORDERED_READS, RSDR_VIP_CTRS},
    vip::Hit,
};

/// How the datapath reads one family's index slots. Every read is
/// volatile: userspace writes the slots while we read them (see
/// `rsdr_common::index` for the protocol that makes that safe).
pub trait IndexSlot: Sized {
    type Addr;
    /// Stands in for the real IP of a hit whose caller did not ask for it.
    const UNREAD: Self::Addr;
    /// `state` is the first field of every slot type (asserted in
    /// `rsdr_common::index`).
    #[inline(always)]
    fn state(p: *const Self) -> u32 {
        // SAFETY: `p` is a slot pointer from a successful array lookup.
        unsafe { read_volatile(p.cast::<u32>()) }
    }
    /// The state, as a fully ordered atomic read-modify-write that changes
    /// nothing: no load before it passes it, none after it goes ahead of
    /// it (`rsdr_common::index`, "Memory order"). The atomic is the slot's
    /// first 8 bytes (the BPF target's atomics are 64-bit; the
    /// state is their low half, the target being little-endian): adding 0
    /// is indivisible, so a concurrent store to the other half is never
    /// lost.
    #[inline(always)]
    fn state_ordered(p: *const Self) -> u32 {
        let mut v: u64 = 0;
        // SAFETY: as for `state`; the slot is 8-aligned and at least 8
        // bytes long (asserted in rsdr_common::index). Inline assembly: the
        // BPF target offers no read-modify-write atomics in Rust.
        unsafe {
            core::arch::asm!(
                "{v} = atomic_fetch_add((u64 *)({p} + 0), {v})",
                p = in(reg) p,
                v = inout(reg) v,
                options(nostack, preserves_flags)
            )
        };
        v as u32
    }
    fn holds(p: *const Self, addr: &Self::Addr) -> bool;
    /// The real IP that `state` selects.
    fn real(p: *const Self, state: u32) -> Self::Addr;
    fn ctr(p: *const Self) -> u32;
    /// The slot's reach as a home.
    fn reach(p: *const Self) -> u32;
}

impl IndexSlot for Slot4 {
    type Addr = Ipv4Raw;
    const UNREAD: Ipv4Raw = 0;
    // SAFETY (all four): `p` is a slot pointer from a successful array lookup.
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
    #[inline(always)]
    fn reach(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).reach)) }
    }
}

impl IndexSlot for Slot6 {
    type Addr = Ip6;
    const UNREAD: Ip6 = ip6::UNSPECIFIED;
    // SAFETY (all four): as for Slot4. The address fields lie at offsets 8,
    // 24 and 40 of an 8-aligned slot, as `ip6::read_shared` needs.
    #[inline(always)]
    fn holds(p: *const Self, addr: &Ip6) -> bool {
        ip6::read_shared(unsafe { addr_of!((*p).addr) }) == *addr
    }
    #[inline(always)]
    fn real(p: *const Self, state: u32) -> Ip6 {
        ip6::read_shared(unsafe { addr_of!((*p).real[index::selected(state)]) })
    }
    #[inline(always)]
    fn ctr(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).ctr)) }
    }
    #[inline(always)]
    fn reach(p: *const Self) -> u32 {
        unsafe { read_volatile(addr_of!((*p).reach)) }
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
/// the same before and after its fields were read. The real IP is read only
/// if `REAL` (egress rewrites need it, ingress decisions do not). Where
/// loads may be reordered, a match is read again between two ordered
/// state reads.
#[inline(always)]
fn read<S: IndexSlot, const REAL: bool>(p: *const S, addr: &S::Addr) -> Option<Read<S::Addr>> {
    let mut s1 = S::state(p);
    if s1 & (LIVE | TOMB) == 0 {
        return Some(Read::Empty);
    }
    if s1 & LIVE == 0 || !S::holds(p, addr) {
        return Some(Read::Other);
    }
    let ordered = RSDR_ORDERED_READS.load() != 0;
    if ordered {
        s1 = S::state_ordered(p);
        if s1 & LIVE == 0 || !S::holds(p, addr) {
            return Some(Read::Changed);
        }
    }
    let real = if REAL { S::real(p, s1) } else { S::UNREAD };
    let ctr = S::ctr(p);
    let s2 = if ordered {
        S::state_ordered(p)
    } else {
        S::state(p)
    };
    if s2 != s1 {
        return Some(Read::Changed);
    }
    Some(Read::Hit(Hit {
        real,
        flags: s1 & FLAGS_MASK,
        counters: RSDR_VIP_CTRS.get_ptr_mut(ctr)?,
    }))
}

/// One probe step: the slot `i` of `page` decides the lookup (`Some`), or
/// the probe goes on (`None`). A slot that changed while it was read is
/// read once more.
#[inline(always)]
fn step<S: IndexSlot, const REAL: bool>(
    page: *const [S; PAGE_SLOTS as usize],
    i: u32,
    addr: &S::Addr,
) -> Option<Option<Hit<S::Addr>>> {
    // SAFETY: `page` is a page pointer from a successful array lookup and
    // `in_page` is below PAGE_SLOTS.
    let p = unsafe { page.cast::<S>().add(in_page(i)) };
    let mut r = read::<S, REAL>(p, addr)?;
    if let Read::Changed = r {
        r = read::<S, REAL>(p, addr)?;
    }
    match r {
        Read::Empty => Some(None),
        Read::Hit(h) => Some(Some(h)),
        Read::Changed | Read::Other => None,
    }
}

/// Probe `map` from `home` for `addr`: the home slot's reach many slots
/// (at most [`MAX_PROBES`]), stopping early at an empty slot, passing
/// tombstones and other VIPs. A reach of 0 (no VIP has this home) ends a
/// miss at once. The home slot's page is looked up once; the probe moves
/// through it by offset and looks up the next page only if it gets there.
/// The home slot is read before the loop: most lookups end there. A slot
/// that changed while it was read is read once more; every iteration moves
/// one slot on, which keeps the verifier's work linear. (A slot changes once per writer operation, a
/// syscall-paced userspace store: a probe meets two changes of one slot
/// only if the CPU is taken from it for that long.)
#[inline(always)]
pub fn find<S: IndexSlot, const REAL: bool>(
    map: &Array<[S; PAGE_SLOTS as usize]>,
    addr: &S::Addr,
    home: u32,
    mask: u32,
) -> Option<Hit<S::Addr>> {
    let mut page = map.get_ptr(page_of(home))?;
    // SAFETY: as in `step`.
    let reach = S::reach(unsafe { page.cast::<S>().add(in_page(home)) });
    if reach == 0 {
        return None;
    }
    if let Some(found) = step::<S, REAL>(page, home, addr) {
        return found;
    }
    let mut i = home;
    for k in 1..MAX_PROBES {
        if k >= reach {
            return None;
        }
        i = (i + 1) & mask;
        if in_page(i) == 0 {
            page = map.get_ptr(page_of(i))?;
        }
        if let Some(found) = step::<S, REAL>(page, i, addr) {
            return found;
        }
    }
    None
}
