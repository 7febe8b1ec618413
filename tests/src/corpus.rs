//! Seeded random and mutated frames for the model check: valid ARP and ND
//! about VIPs, pool members and strangers, other traffic, VLAN tags, and
//! mutations (truncation, flipped bytes, broken fields).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::frames::{
    Arp, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, Ext, Frame, Nd, ipv4_tcp,
    ipv6_echo, ipv6_tcp,
};

/// SplitMix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn mac(&mut self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.iter_mut().for_each(|b| *b = self.byte());
        m
    }
}

/// Addresses the generator draws from; the caller configures the tables so
/// that some are VIPs, some pool members, some neither.
pub struct Addresses {
    pub v4: Vec<Ipv4Addr>,
    /// IPv4 prefixes to draw random members from: (network, prefix length).
    pub v4_pools: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<Ipv6Addr>,
    pub v6_pools: Vec<(Ipv6Addr, u8)>,
}

impl Addresses {
    fn v4(&self, rng: &mut Rng) -> Ipv4Addr {
        match rng.below(10) {
            0 => Ipv4Addr::from(rng.next_u64() as u32),
            1 => Ipv4Addr::UNSPECIFIED,
            2 | 3 => {
                let (net, len) = rng.pick(&self.v4_pools);
                let host = (rng.next_u64() as u32) & (u32::MAX >> len);
                Ipv4Addr::from(u32::from(net) | host)
            }
            _ => rng.pick(&self.v4),
        }
    }

    fn v6(&self, rng: &mut Rng) -> Ipv6Addr {
        match rng.below(10) {
            0 => Ipv6Addr::from(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())),
            1 => Ipv6Addr::UNSPECIFIED,
            2 | 3 => {
                let (net, len) = rng.pick(&self.v6_pools);
                let host = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()))
                    & (u128::MAX >> len);
                Ipv6Addr::from(u128::from(net) | host)
            }
            _ => rng.pick(&self.v6),
        }
    }
}

fn arp_frame(rng: &mut Rng, a: &Addresses) -> Frame {
    let sha = rng.mac();
    let mut arp = Arp::request(sha, a.v4(rng), a.v4(rng));
    arp.oper = match rng.below(10) {
        0..=4 => 1,
        5..=7 => 2,
        8 => rng.pick(&[0, 3, 4, 8, 9]),
        _ => rng.next_u64() as u16,
    };
    if rng.chance(15) {
        arp.tpa = arp.spa; // announcements
    }
    if rng.chance(10) {
        match rng.below(4) {
            0 => arp.htype = rng.pick(&[0, 2, 6, 6, 6, 0x100]),
            1 => arp.ptype = rng.pick(&[0x86dd, 0x0801, 0]),
            2 => arp.hlen = rng.pick(&[0, 4, 8]),
            _ => arp.plen = rng.pick(&[0, 6, 16]),
        }
    }
    arp.tha = if rng.chance(50) { [0; 6] } else { rng.mac() };
    Frame::new(
        if rng.chance(70) { [0xff; 6] } else { rng.mac() },
        sha,
        ETH_P_ARP,
        arp.bytes(),
    )
}

fn nd_frame(rng: &mut Rng, a: &Addresses) -> Frame {
    let mac = rng.mac();
    let target = a.v6(rng);
    let mut nd = match rng.below(4) {
        0 => Nd::dad(target),
        1 => Nd::ns(a.v6(rng), target, mac),
        _ => Nd::na(a.v6(rng), a.v6(rng), target, mac),
    };
    if rng.chance(10) {
        nd.ty = if nd.ty == 135 { 136 } else { 135 };
    }
    if rng.chance(10) {
        match rng.below(5) {
            0 => nd.hop_limit = rng.pick(&[0, 1, 64, 254]),
            1 => nd.code = rng.pick(&[1, 2, 255]),
            2 => nd.version = rng.pick(&[0, 4, 7]),
            3 => nd.checksum = Some(rng.next_u64() as u16),
            _ => nd.lladdr = None,
        }
    }
    if rng.chance(20) {
        nd.ext = ext_chain(rng);
    }
    nd.frame(mac, rng.mac())
}

/// Extension headers for an NS/NA: mostly what the kernel walks to deliver
/// ND, sometimes a header it does not (Fragment, Routing with segments
/// left, Hop-by-Hop out of place), sometimes a chain longer than rsdr
/// walks.
fn ext_chain(rng: &mut Rng) -> Vec<Ext> {
    let len = if rng.chance(25) {
        9 + rng.below(2) as usize
    } else {
        1 + rng.below(4) as usize
    };
    (0..len)
        .map(|i| {
            let units = rng.pick(&[0, 0, 1, 3]);
            match rng.below(10) {
                0 if i == 0 => Ext::hop_by_hop(units),
                0 | 1 => Ext::routing(units, rng.pick(&[0, 0, 0, 1])),
                2 if rng.chance(30) => Ext::fragment(rng.pick(&[0, 1])),
                3 if rng.chance(30) => Ext::hop_by_hop(units),
                _ => Ext::dest_opts(units),
            }
        })
        .collect()
}

fn other_frame(rng: &mut Rng, a: &Addresses) -> Frame {
    let (dst, src) = (rng.mac(), rng.mac());
    match rng.below(5) {
        0 => Frame::new(dst, src, ETH_P_IP, ipv4_tcp(a.v4(rng), a.v4(rng))),
        1 => Frame::new(dst, src, ETH_P_IPV6, ipv6_tcp(a.v6(rng), a.v6(rng))),
        2 => Frame::new(dst, src, ETH_P_IPV6, ipv6_echo(a.v6(rng), a.v6(rng))),
        3 => {
            let len = rng.below(80) as usize;
            Frame::new(
                dst,
                src,
                rng.next_u64() as u16,
                (0..len).map(|_| rng.byte()).collect(),
            )
        }
        _ => {
            let mut p = ipv6_tcp(a.v6(rng), a.v6(rng));
            p[6] = rng.byte(); // any next header
            Frame::new(dst, src, ETH_P_IPV6, p)
        }
    }
}

/// One frame: mostly well-formed ARP/ND, some other traffic, with tags and
/// mutations. Always at least 14 bytes (BPF_PROG_TEST_RUN's minimum).
pub fn frame(rng: &mut Rng, a: &Addresses) -> Vec<u8> {
    let mut f = match rng.below(10) {
        0..=4 => arp_frame(rng, a),
        5..=7 => nd_frame(rng, a),
        _ => other_frame(rng, a),
    };
    let tags = match rng.below(20) {
        0..=11 => 0,
        12..=15 => 1,
        16..=18 => 2,
        _ => 3,
    };
    for _ in 0..tags {
        f = f.tagged(
            rng.pick(&[ETH_P_8021Q, ETH_P_8021AD]),
            rng.next_u64() as u16 & 0x0fff,
        );
    }
    if rng.chance(20) {
        f = f.padded();
    }
    let mut b = f.bytes();
    if rng.chance(15) {
        let flips = 1 + rng.below(3);
        for _ in 0..flips {
            let i = rng.below(b.len() as u64) as usize;
            b[i] ^= 1 << rng.below(8);
        }
    }
    if rng.chance(10) && b.len() > 14 {
        let keep = 14 + rng.below((b.len() - 14) as u64) as usize;
        b.truncate(keep);
    }
    b
}
