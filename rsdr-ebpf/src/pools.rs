//! Is this address inside a pool? The config map's pool cache while a
//! family has few pools, the LPM trie otherwise or while the cache is being
//! rewritten (`rsdr_common::pool_cache` has the protocol).

use core::ptr::{addr_of, read_volatile};

use aya_ebpf::maps::lpm_trie::Key;
use rsdr_common::{
    Ipv4Raw, Settings,
    pool_cache::{CACHED_POOLS, CachedPool4, CachedPool6},
};

use crate::{
    ip6::{self, Ip6},
    maps::{RSDR_POOL_CTRS, RSDR_POOLS4, RSDR_POOLS6},
    vip::Hit,
};

/// Volatile read of a field userspace may be rewriting.
macro_rules! vread {
    ($place:expr) => {
        // SAFETY: a field of the live config map value.
        unsafe { read_volatile(addr_of!($place)) }
    };
}

/// What the cache said.
enum Cached<R> {
    Hit(Hit<R>),
    Miss,
    /// Not usable now (too many pools, or being rewritten): ask the trie.
    AskTrie,
}

/// An IPv4 pool holding `addr`, or `None`. `count` is `cfg.pools4`.
#[inline(always)]
pub fn lookup4(cfg: &Settings, addr: Ipv4Raw) -> Option<Hit<Ipv4Raw>> {
    match cached(cfg, &cfg.pools4, &cfg.pools.v4, |p: &CachedPool4| {
        let (net, mask) = (vread!(p.net), vread!(p.mask));
        (addr & mask == net).then(|| (vread!(p.real), vread!(p.flags), vread!(p.slot)))
    }) {
        Cached::Hit(h) => Some(h),
        Cached::Miss => None,
        Cached::AskTrie => {
            let key = KeyWords::new(&[32, addr]);
            let pool = RSDR_POOLS4.get(key.as_key::<[u8; 4]>())?;
            hit(pool.real, pool.flags, pool.slot)
        }
    }
}

/// An IPv6 pool holding `addr`, or `None`.
#[inline(always)]
pub fn lookup6(cfg: &Settings, addr: &Ip6) -> Option<Hit<Ip6>> {
    let a = addr;
    match cached(cfg, &cfg.pools6, &cfg.pools.v6, |p: &CachedPool6| {
        let (net, mask) = (
            ip6::read_shared(addr_of!(p.net)),
            ip6::read_shared(addr_of!(p.mask)),
        );
        (a[0] & mask[0] == net[0] && a[1] & mask[1] == net[1]).then(|| {
            (
                ip6::read_shared(addr_of!(p.real)),
                vread!(p.flags),
                vread!(p.slot),
            )
        })
    }) {
        Cached::Hit(h) => Some(h),
        Cached::Miss => None,
        Cached::AskTrie => {
            let [w0, w1, w2, w3] = ip6::words32(addr);
            let key = KeyWords::new(&[128, w0, w1, w2, w3]);
            let pool = RSDR_POOLS6.get(key.as_key::<[u8; 16]>())?;
            hit(ip6::from_bytes(&pool.real), pool.flags, pool.slot)
        }
    }
}

/// Match in the cache of one family: `count` pools in `entries`, `test`
/// giving a matching entry's real IP, flags and counter slot. Trusted only
/// if the sequence count was even before and unchanged after.
#[inline(always)]
fn cached<P, R>(
    cfg: &Settings,
    count: &u32,
    entries: &[P; CACHED_POOLS],
    test: impl Fn(&P) -> Option<(R, u32, u32)>,
) -> Cached<R> {
    let seq = vread!(cfg.pools.seq);
    // Odd first: a writer that died midway leaves the count unreliable.
    if seq & 1 != 0 {
        return Cached::AskTrie;
    }
    // SAFETY: a field of the live config map value.
    let n = unsafe { read_volatile(count) } as usize;
    if n == 0 {
        return Cached::Miss;
    }
    if n > CACHED_POOLS {
        return Cached::AskTrie;
    }
    // Unrolled by hand: per entry one count check and the test, no loop
    // bookkeeping (this runs for both addresses of every ARP frame).
    let found = 'scan: {
        macro_rules! entry {
            ($($i:literal)*) => {$(
                if n <= $i {
                    break 'scan None;
                }
                if let Some(f) = test(&entries[$i]) {
                    break 'scan Some(f);
                }
            )*};
        }
        const { assert!(CACHED_POOLS == 8, "one entry! per cached pool") };
        entry!(0 1 2 3 4 5 6 7);
        None
    };
    if vread!(cfg.pools.seq) != seq {
        return Cached::AskTrie;
    }
    match found {
        Some((real, flags, slot)) => match hit(real, flags, slot) {
            Some(h) => Cached::Hit(h),
            None => Cached::Miss,
        },
        None => Cached::Miss,
    }
}

#[inline(always)]
fn hit<R>(real: R, flags: u32, slot: u32) -> Option<Hit<R>> {
    Some(Hit {
        real,
        flags,
        counters: RSDR_POOL_CTRS.get_ptr_mut(slot)?,
    })
}

/// An LPM trie key (prefix length, then the address) as 32-bit words,
/// each written with one aligned store: the key type is packed, and the
/// verifier refuses stack accesses not aligned to their size, which wider
/// stores of a packed value may be. The trie is given a reference to
/// these words ([`as_key`]), never a copied key.
/// 8-aligned, so that moving the whole value takes aligned stores too.
#[repr(C, align(8))]
struct KeyWords<const N: usize>([u32; N]);

impl<const N: usize> KeyWords<N> {
    #[inline(always)]
    fn new(words: &[u32; N]) -> Self {
        let mut key = Self([0; N]);
        for (i, w) in words.iter().enumerate() {
            // SAFETY: i < N, inside the buffer; volatile keeps each store a
            // separate aligned 32-bit store (never merged into a wider one
            // across an 8-byte boundary).
            unsafe { core::ptr::write_volatile(key.0.as_mut_ptr().add(i), *w) };
        }
        key
    }

    /// The words as the trie's key type.
    #[inline(always)]
    fn as_key<K>(&self) -> &Key<K> {
        const { assert!(core::mem::size_of::<Key<K>>() == 4 * N) };
        // SAFETY: Key<K> is packed (align 1) and 4 * N bytes; any bit
        // pattern is a valid key.
        unsafe { &*self.0.as_ptr().cast::<Key<K>>() }
    }
}
