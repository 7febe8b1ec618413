//! A copy of the pools inside the config map, for the datapath to match
//! without an LPM-trie lookup while a family has at most [`CACHED_POOLS`]
//! pools (pools never overlap, so the one that matches is the one the trie
//! would find).
//!
//! The tries stay authoritative: userspace changes a trie first and then
//! rewrites the cache and the pool counts under a sequence count
//! ([`PoolCache::seq`]): odd while it writes, even otherwise, advanced by
//! each store. A reader takes the count, the entries and the count again,
//! and trusts the entries only if the count was even and unchanged;
//! otherwise it asks the trie. A pool being added may therefore be missed
//! until the change returns, and one being removed still matched until
//! then; a configured pool is never missed. A writer that dies between a
//! trie change and the cache's rewrite leaves the cache stale (or the count
//! odd, and the tries asked) until the next writer, which republishes the
//! cache before it changes anything.

use crate::{Ipv4Raw, Ipv6Raw};

/// Pools of one family that the cache holds; a family with more is looked
/// up in its trie.
pub const CACHED_POOLS: usize = 8;

/// An IPv4 pool: `addr & mask == net`, both in wire order like
/// [`Ipv4Raw`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct CachedPool4 {
    pub net: Ipv4Raw,
    pub mask: Ipv4Raw,
    pub real: Ipv4Raw,
    /// `VIP_F_*` flags.
    pub flags: u32,
    /// The pool's counter slot (as in its trie entry).
    pub slot: u32,
    pub _pad: u32,
}

/// An IPv6 pool: `addr & mask == net`, bytewise.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct CachedPool6 {
    pub net: Ipv6Raw,
    pub mask: Ipv6Raw,
    pub real: Ipv6Raw,
    pub flags: u32,
    pub slot: u32,
}

/// The cache: entries `0..Settings::pools4` of `v4` (and likewise `v6`) are
/// the pools, when that count is at most [`CACHED_POOLS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct PoolCache {
    /// Odd while userspace rewrites the cache or the pool counts.
    pub seq: u32,
    pub _pad: u32,
    pub v4: [CachedPool4; CACHED_POOLS],
    pub v6: [CachedPool6; CACHED_POOLS],
}

/// The mask of a prefix of `len` bits, as wire bytes.
pub fn mask_bytes<const N: usize>(len: u8) -> [u8; N] {
    let mut m = [0u8; N];
    for (i, b) in m.iter_mut().enumerate() {
        let bits = (len as usize).saturating_sub(8 * i).min(8);
        *b = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
    }
    m
}

const _: () = assert!(core::mem::size_of::<CachedPool4>() == 24);
const _: () = assert!(core::mem::size_of::<CachedPool6>() == 56);
const _: () = assert!(core::mem::size_of::<PoolCache>() == 8 + 8 * 24 + 8 * 56);

#[cfg(test)]
mod tests {
    use super::mask_bytes;

    #[test]
    fn masks_cover_the_prefix_bits_only() {
        assert_eq!(mask_bytes::<4>(0), [0, 0, 0, 0]);
        assert_eq!(mask_bytes::<4>(12), [0xff, 0xf0, 0, 0]);
        assert_eq!(mask_bytes::<4>(32), [0xff; 4]);
        let m = mask_bytes::<16>(65);
        assert_eq!(
            &m[..9],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80]
        );
        assert_eq!(&m[9..], &[0; 7]);
    }
}
