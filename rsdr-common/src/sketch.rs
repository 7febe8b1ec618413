//! The VIP sketch: a bitmap with one bit set for every exact VIP's hash.
//! An address whose bit is clear is certainly not an exact VIP, so the
//! datapath skips the hash-table lookup for it: the common ARP/ND frame,
//! about a neighbour and not a VIP, costs two inlined array reads instead
//! of two hash lookups. A set bit may be a false positive; the hash table
//! decides.
//!
//! Userspace sets a VIP's bit before inserting the VIP and clears it only
//! after removing the last VIP hashing there, so the datapath never skips a
//! configured VIP. Both sides use these functions.

/// Multiplicative hash of an IPv4 address (wire bytes in a native `u32`),
/// giving `bits` bits (`shift` = 32 - bits).
#[inline(always)]
pub const fn hash4(raw: u32, shift: u32) -> u32 {
    raw.wrapping_mul(0x9e37_79b1) >> shift
}

/// Hash of an IPv6 address, same range as [`hash4`].
#[inline(always)]
pub fn hash6(a: &[u8; 16], shift: u32) -> u32 {
    let w = |i: usize| u32::from_ne_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]]);
    let x = w(0)
        ^ w(4).wrapping_mul(0x85eb_ca6b)
        ^ w(8).wrapping_mul(0xc2b2_ae35)
        ^ w(12).wrapping_mul(0x27d4_eb2f);
    x.wrapping_mul(0x9e37_79b1) >> shift
}

/// Word index and bit mask of hash `h` in the sketch's `u64` words.
#[inline(always)]
pub const fn locate(h: u32) -> (u32, u64) {
    (h >> 6, 1u64 << (h & 63))
}

/// Number of `u64` words for a table of `max_vips` (per family): about 16
/// bits per VIP, a power of two between 64 words and 2^18 words (2 MiB).
pub const fn words_for(max_vips: u32) -> u32 {
    let bits = (max_vips as u64) * 16 * 2;
    let mut words = 64u64;
    while words * 64 < bits && words < (1 << 18) {
        words *= 2;
    }
    words as u32
}

/// The shift that makes [`hash4`]/[`hash6`] cover `words` words.
pub const fn shift_for(words: u32) -> u32 {
    32 - (words * 64).trailing_zeros()
}
