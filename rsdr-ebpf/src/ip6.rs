//! IPv6 addresses as the datapath holds them: two native 64-bit words of
//! the wire bytes (bytes 0..8, 8..16): two loads from the packet, one
//! compare per word.

use core::ptr::read_volatile;

pub use rsdr_common::maps::{ipv6_words as from_bytes, ipv6_words32 as words32};

use crate::frame::load_u64;

pub type Ip6 = rsdr_common::maps::Ipv6Words;

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

/// The address at `p` (8-aligned, in a map value userspace may be
/// writing): two volatile loads.
#[inline(always)]
pub fn read_shared(p: *const [u8; 16]) -> Ip6 {
    let q = p.cast::<u64>();
    // SAFETY: 16 bytes of a live map value, 8-aligned.
    unsafe { [read_volatile(q), read_volatile(q.add(1))] }
}
