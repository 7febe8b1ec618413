//! IPv6 addresses as the datapath holds them: two native 64-bit words of
//! the wire bytes (bytes 0..8, 8..16): two loads from the packet, one
//! compare per word.

use core::ptr::read_volatile;

use crate::frame::load_u64;

pub type Ip6 = [u64; 2];

/// `::`
pub const UNSPECIFIED: Ip6 = [0; 2];

/// The address `LO` bytes past `base` in a packet, whatever its
/// alignment; `HI` is `LO + 8` (spelt out by the caller: a const operand
/// cannot be computed from a const parameter).
///
/// # Safety
/// The 16 bytes at `base + LO` lie inside the packet.
#[inline(always)]
pub unsafe fn read_packet<const LO: i16, const HI: i16>(base: *const u8) -> Ip6 {
    const { assert!(HI == LO + 8) };
    // SAFETY: the caller's promise.
    unsafe { [load_u64::<LO>(base), load_u64::<HI>(base)] }
}

/// The address in `a`, a map value's bytes.
#[inline(always)]
pub fn from_bytes(a: &[u8; 16]) -> Ip6 {
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&a[i..i + 8]);
        u64::from_ne_bytes(b)
    };
    [w(0), w(8)]
}

/// The address at `p` (8-aligned, in a map value userspace may be
/// writing): two volatile loads.
#[inline(always)]
pub fn read_shared(p: *const [u8; 16]) -> Ip6 {
    let q = p.cast::<u64>();
    // SAFETY: 16 bytes of a live map value, 8-aligned.
    unsafe { [read_volatile(q), read_volatile(q.add(1))] }
}

/// The address as four native 32-bit words of its wire bytes (for LPM
/// trie keys and checksum arithmetic).
#[inline(always)]
pub fn words32(a: &Ip6) -> [u32; 4] {
    let half = |x: u64, hi: bool| {
        let b = x.to_ne_bytes();
        let i = if hi { 4 } else { 0 };
        u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    };
    [
        half(a[0], false),
        half(a[0], true),
        half(a[1], false),
        half(a[1], true),
    ]
}
