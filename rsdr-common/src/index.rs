//! The exact-VIP index: open addressing with linear probing in an array map
//! that userspace writes through a shared mapping (`BPF_F_MMAPABLE`), so the
//! datapath finds a VIP with a few inlined array reads instead of a hash
//! lookup.
//!
//! The map's elements are pages of [`PAGE_SLOTS`] slots ([`Page4`],
//! [`Page6`]): the datapath looks up the home slot's page once and reaches
//! the next slots of the probe by offset, with one more lookup only where a
//! probe crosses into the next page. The elements lie back to back in the
//! mapping, so to userspace the index is one flat array of slots.
//!
//! A slot's `state` word says what the slot holds:
//!
//! - `0`: empty. A probe stops here: the address is not a VIP.
//! - [`TOMB`]: occupied by nothing; a probe goes on. A deleted VIP leaves a
//!   tombstone (it may sit inside another VIP's probe chain); a slot being
//!   (re)written is a tombstone while its fields change.
//! - [`LIVE`] | [`REAL_SEL`]? | version | `VIP_F_*` flags: a VIP, whose real
//!   IP is `real[1]` if `REAL_SEL` is set, else `real[0]`.
//!
//! Every slot also keeps the `reach` of its position as a home: one more
//! than the largest distance from it at which a live VIP whose home it is
//! lies (0: none). A probe reads its home slot's reach and looks at that
//! many slots, so most misses end at the home slot even when another VIP
//! occupies it. Userspace raises a home's reach before it publishes a VIP
//! farther out, and lowers it after a removal to what the remaining VIPs of
//! that home need; a probe that read the reach before an insert may miss
//! that VIP, which is not yet configured, and one that read it before a
//! lowering looks further than it needs.
//!
//! Userspace writes a slot's address and counter slot only while the slot
//! is empty or a tombstone, and publishes it last with one store of
//! `state`. Entries never move: a deletion leaves a tombstone (trimmed back
//! to empty when nothing follows it); a change of real IP writes the real
//! field the state does not select and then flips `REAL_SEL` with the new
//! flags in one store; a change of flags alone is one store. A probe
//! therefore never misses a VIP that is configured throughout it. Every
//! store to `state` bumps the slot's version, and a reader compares the
//! state it read before and after the fields: equal means the fields it
//! read belong to that state (the real field it read was not being
//! rewritten). A reader that sees the state change reads the slot once
//! more (a slot changes once per writer operation, a syscall apart).
//!
//! # Memory order
//!
//! The invariant: a reader that finds a slot's state equal before and
//! after its field reads has read fields written before that state was
//! published. That needs the writer's field stores to be visible before
//! its state store (userspace: a `SeqCst` fence, then a `Release` store of
//! `state`; a home's reach is raised before, and lowered after, the slots
//! it covers change), and the reader's loads to happen in program order:
//! state, fields, state. x86 never lets a load pass a load, so there plain
//! (volatile) loads suffice. Elsewhere the reader takes a matching slot's
//! state twice more, each time with an atomic read-modify-write that adds
//! 0 to the slot's first 8 bytes (BPF has no load-acquire before Linux
//! 6.15; its fetching atomics are fully ordered on every JIT), around its
//! field reads. The loader sets
//! `RSDR_ORDERED_READS` by the CPU it runs on; on x86 the verifier removes
//! the atomic path, so the hot path pays nothing for it.

/// State bit: the slot holds a VIP.
pub const LIVE: u32 = 1 << 31;
/// State bit: tombstone (see the module docs).
pub const TOMB: u32 = 1 << 30;
/// State bit of a live slot: the real IP is `real[1]`, not `real[0]`.
pub const REAL_SEL: u32 = 1 << 29;
/// The low bits of a live state hold the VIP's `VIP_F_*` flags.
pub const FLAGS_MASK: u32 = 0xff;
const VERSION_SHIFT: u32 = 8;
const VERSION_MASK: u32 = !(LIVE | TOMB | REAL_SEL | FLAGS_MASK);

/// Longest probe sequence, for the datapath's bounded loop and for inserts
/// (which fail rather than place a VIP beyond it).
pub const MAX_PROBES: u32 = 64;

/// Slots per map element (page).
pub const PAGE_SLOTS: u32 = 64;
const PAGE_SHIFT: u32 = PAGE_SLOTS.trailing_zeros();

/// Fewest slots per family's index: one page.
pub const MIN_SLOTS: u32 = PAGE_SLOTS;

/// An IPv4 index slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct Slot4 {
    pub state: u32,
    /// The VIP, wire byte order (see [`crate::Ipv4Raw`]).
    pub addr: u32,
    /// The real server's own IPv4 address, wire byte order: the one
    /// [`REAL_SEL`] selects.
    pub real: [u32; 2],
    /// Index of the VIP's counters in the per-CPU VIP counter array.
    pub ctr: u32,
    /// The reach of this slot as a home (see the module docs); belongs to
    /// the slot's position, not to the VIP it holds.
    pub reach: u32,
}

/// An IPv6 index slot; see [`Slot4`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct Slot6 {
    pub state: u32,
    pub ctr: u32,
    pub addr: [u8; 16],
    pub real: [[u8; 16]; 2],
    /// See [`Slot4::reach`].
    pub reach: u32,
    pub _pad: u32,
}

/// One element of the IPv4 index map.
pub type Page4 = [Slot4; PAGE_SLOTS as usize];
/// One element of the IPv6 index map.
pub type Page6 = [Slot6; PAGE_SLOTS as usize];

/// The page holding slot `slot`.
#[inline(always)]
pub const fn page_of(slot: u32) -> u32 {
    slot >> PAGE_SHIFT
}

/// Where slot `slot` lies inside its page.
#[inline(always)]
pub const fn in_page(slot: u32) -> usize {
    (slot & (PAGE_SLOTS - 1)) as usize
}

/// Map elements (pages) of an index of `slots` slots.
pub const fn pages_for(slots: u32) -> u32 {
    slots / PAGE_SLOTS
}

const _: () = assert!(PAGE_SLOTS.is_power_of_two());
// Elements of an array map are 8-aligned and back to back only if their
// size is a multiple of 8: then slot i lies at i * size_of::<Slot>().
const _: () = assert!(core::mem::size_of::<Page4>().is_multiple_of(8));
const _: () = assert!(core::mem::size_of::<Page6>().is_multiple_of(8));
const _: () = assert!(core::mem::size_of::<Slot4>() == 24);
// Both sides read and write `state` through a pointer to the slot itself.
const _: () = assert!(core::mem::offset_of!(Slot4, state) == 0);
// The ordered reader adds 0 to a slot's first 8 bytes as one atomic: every
// slot of an 8-aligned page starts 8-aligned.
const _: () = assert!(core::mem::size_of::<Slot4>().is_multiple_of(8));
const _: () = assert!(core::mem::size_of::<Slot6>().is_multiple_of(8));
const _: () = assert!(core::mem::offset_of!(Slot6, state) == 0);
// A slot per cache line, a page per 4 KiB page.
const _: () = assert!(core::mem::size_of::<Slot6>() == 64);

/// The state that publishes a VIP with `flags` and real IP `real[sel]`,
/// one version after `prev`.
#[inline(always)]
pub const fn live(prev: u32, flags: u32, sel: usize) -> u32 {
    let sel = if sel == 1 { REAL_SEL } else { 0 };
    LIVE | sel | next_version(prev) | (flags & FLAGS_MASK)
}

/// Which real field a live state selects.
#[inline(always)]
pub const fn selected(state: u32) -> usize {
    if state & REAL_SEL != 0 { 1 } else { 0 }
}

/// The tombstone that follows `prev`.
#[inline(always)]
pub const fn tomb(prev: u32) -> u32 {
    TOMB | next_version(prev)
}

#[inline(always)]
const fn next_version(prev: u32) -> u32 {
    (prev & VERSION_MASK).wrapping_add(1 << VERSION_SHIFT) & VERSION_MASK
}

/// Home slot of an IPv4 address (wire bytes in a native `u32`), with
/// `shift` = 32 - log2(slots): Fibonacci hashing, one multiply, the top
/// bits kept. Every input bit reaches the top bit, and runs of neighbouring
/// addresses (the common VIP set) land almost perfectly apart; random sets
/// behave like a uniform hash. A stronger mixer (MurmurHash3's finaliser)
/// was measured: it spread neighbours worse and cost ~3 ns more per probe.
#[inline(always)]
pub const fn hash4(raw: u32, shift: u32) -> u32 {
    raw.wrapping_mul(0x9e37_79b1) >> shift
}

/// Home slot of an IPv6 address; see [`hash4`]. The four words are mixed
/// with independent multiplies, then Fibonacci-hashed.
#[inline(always)]
pub fn hash6(a: &[u8; 16], shift: u32) -> u32 {
    hash6_words(&crate::maps::ipv6_words(a), shift)
}

/// [`hash6`] of an address held as two native words of its wire bytes
/// (bytes 0..8 and 8..16), as the datapath holds it.
#[inline(always)]
pub fn hash6_words(a: &[u64; 2], shift: u32) -> u32 {
    let [w0, w1, w2, w3] = crate::maps::ipv6_words32(a);
    let x = w0
        ^ w1.wrapping_mul(0x85eb_ca6b)
        ^ w2.wrapping_mul(0xc2b2_ae35)
        ^ w3.wrapping_mul(0x27d4_eb2f);
    x.wrapping_mul(0x9e37_79b1) >> shift
}

/// Slots per family for `max_vips`: a power of two at least twice it, so
/// the index is at most half full.
pub const fn slots_for(max_vips: u32) -> u32 {
    let want = (max_vips as u64) * 2;
    let mut slots = MIN_SLOTS as u64;
    while slots < want {
        slots *= 2;
    }
    slots as u32
}

/// The hash shift for an index of `slots` slots (a power of two).
pub const fn shift_for(slots: u32) -> u32 {
    32 - slots.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_advance_and_keep_the_kind_bits_apart() {
        let s = live(0, 3, 1);
        assert_eq!(
            s & (LIVE | TOMB | REAL_SEL | FLAGS_MASK),
            LIVE | REAL_SEL | 3
        );
        assert_eq!(selected(s), 1);
        assert_eq!(selected(live(s, 3, 0)), 0);
        let t = tomb(s);
        assert_eq!(t & (LIVE | TOMB | FLAGS_MASK), TOMB);
        assert_ne!(
            t & VERSION_MASK,
            s & VERSION_MASK,
            "a tombstone must not reuse the version"
        );
        let mut v = VERSION_MASK | LIVE;
        v = live(v, 0, 0);
        assert_eq!(v & VERSION_MASK, 0, "the version must wrap inside its bits");
    }

    /// Distinct home slots of `n` addresses in `slots` slots, against what
    /// a uniform hash gives: slots * (1 - e^(-n/slots)).
    fn spread(homes: impl Iterator<Item = u32>, n: usize, slots: u32) -> f64 {
        let mut seen = std::vec![false; slots as usize];
        homes.for_each(|h| seen[h as usize] = true);
        let distinct = seen.iter().filter(|s| **s).count() as f64;
        let uniform = slots as f64 * (1.0 - (-(n as f64) / slots as f64).exp());
        distinct / uniform
    }

    #[test]
    fn neighbouring_vips_spread_over_the_index() {
        let slots = slots_for(10_000);
        let shift = shift_for(slots);
        let v4 = (0..10_000u32).map(|i| {
            let o = (0x6440_0000u32 + i).to_be_bytes();
            hash4(u32::from_ne_bytes(o), shift)
        });
        let s4 = spread(v4, 10_000, slots);
        assert!(
            s4 > 0.95,
            "IPv4 100.64.0.0 + i: {s4:.2} of a uniform spread"
        );
        let v6 = (0..10_000u16).map(|i| {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[14..].copy_from_slice(&i.to_be_bytes());
            hash6(&a, shift)
        });
        let s6 = spread(v6, 10_000, slots);
        assert!(s6 > 0.95, "IPv6 2001:db8::i: {s6:.2} of a uniform spread");
    }

    #[test]
    fn both_ipv6_hashes_agree() {
        let shift = shift_for(slots_for(10_000));
        for i in 0..1000u32 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[12..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9).to_be_bytes());
            a[5] = i as u8;
            let w = |r: core::ops::Range<usize>| u64::from_ne_bytes(a[r].try_into().unwrap());
            assert_eq!(
                hash6(&a, shift),
                hash6_words(&[w(0..8), w(8..16)], shift),
                "address {a:x?}"
            );
        }
    }

    #[test]
    fn sizes_are_powers_of_two_at_least_twice_the_capacity() {
        assert_eq!(slots_for(1), MIN_SLOTS);
        assert_eq!(pages_for(slots_for(1)), 1, "the smallest index is one page");
        assert_eq!(pages_for(slots_for(4096)) * PAGE_SLOTS, slots_for(4096));
        assert_eq!((page_of(130), in_page(130)), (2, 2));
        assert_eq!(slots_for(4096), 8192);
        assert_eq!(slots_for(4097), 16384);
        assert!(hash4(u32::MAX, shift_for(64)) < 64);
    }
}
