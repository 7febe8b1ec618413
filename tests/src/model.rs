//! A reference model of docs/semantics.md, written from that page and not
//! from the eBPF code: plain slice indexing, linear scans, checksums
//! computed the RFC 1624 way. The model check feeds the same frames to this
//! model and to the loaded programs and demands identical results.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use rsdr_common::{Stat, VipCounter};

pub const F_MONITOR: u32 = 1;
pub const F_SHOW_CONFLICTS: u32 = 2;
/// This host is the VIP's VRRP master: everything passes, counted monitored.
pub const F_VRRP_MASTER: u32 = 4;
/// The VIP follows a VRRP instance: its announcements leave (rows E8, F7).
pub const F_VRRP: u32 = 8;

/// One configured VIP (prefix 32/128) or pool.
#[derive(Clone, Debug)]
pub struct Rule {
    pub net: IpAddr,
    pub len: u8,
    pub real: IpAddr,
    pub flags: u32,
}

impl Rule {
    fn full(&self) -> bool {
        self.len == if self.net.is_ipv4() { 32 } else { 128 }
    }

    fn covers(&self, a: IpAddr) -> bool {
        let bits = |x: IpAddr| match x {
            IpAddr::V4(v) => (u128::from(u32::from(v))) << 96,
            IpAddr::V6(v) => u128::from(v),
        };
        if a.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.len))
        };
        (bits(a) ^ bits(self.net)) & mask == 0
    }

    /// The key used in `rsdr` output ("192.0.2.10", "203.0.113.0/24").
    pub fn key(&self) -> String {
        if self.full() {
            self.net.to_string()
        } else {
            format!("{}/{}", self.net, self.len)
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub rules: Vec<Rule>,
    pub monitor: bool,
    /// Expected global counters: (stat, monitored) -> count.
    pub stats: BTreeMap<(u32, bool), u64>,
    /// Expected per-VIP counters: (rule key, counter, monitored) -> count.
    pub vip_counts: BTreeMap<(String, u32, bool), u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
}

/// What the model expects a program to do with a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub verdict: Verdict,
    pub output: Vec<u8>,
}

impl Expect {
    /// `verdict`, with the frame leaving as it came.
    fn unchanged(frame: &[u8], verdict: Verdict) -> Self {
        Self {
            verdict,
            output: frame.to_vec(),
        }
    }
}

impl Model {
    /// Exact rules first, then the longest covering pool.
    fn find(&self, a: IpAddr) -> Option<&Rule> {
        if a.is_unspecified() {
            return None;
        }
        self.rules
            .iter()
            .find(|r| r.full() && r.net == a)
            .or_else(|| {
                self.rules
                    .iter()
                    .filter(|r| !r.full() && r.covers(a))
                    .max_by_key(|r| r.len)
            })
    }

    fn monitored(&self, r: &Rule) -> bool {
        self.monitor || r.flags & (F_MONITOR | F_VRRP_MASTER) != 0
    }

    fn plain(&mut self, s: Stat) {
        *self.stats.entry((s as u32, false)).or_default() += 1;
    }

    /// Record a decision about `r`; true if enforced.
    fn about(&mut self, r: &Rule, s: Stat, c: VipCounter) -> bool {
        let m = self.monitored(r);
        self.count(r, s, c, m);
        !m
    }

    /// Count a decision about `r` in the enforced or (`m`) monitored copies.
    fn count(&mut self, r: &Rule, s: Stat, c: VipCounter, m: bool) {
        *self.stats.entry((s as u32, m)).or_default() += 1;
        *self.vip_counts.entry((r.key(), c as u32, m)).or_default() += 1;
    }

    /// Ingress (XDP) expectation for `frame`.
    pub fn ingress(&mut self, frame: &[u8]) -> Expect {
        let pass = Expect::unchanged(frame, Verdict::Pass);
        let v = |enforce: bool| {
            Expect::unchanged(
                frame,
                if enforce {
                    Verdict::Drop
                } else {
                    Verdict::Pass
                },
            )
        };
        match l3(frame) {
            Some((0x0806, off)) => {
                let Some(a) = arp(frame, off) else {
                    self.plain(Stat::InArpMalformedPassed);
                    return pass;
                };
                if let Some(r) = self.find(IpAddr::V4(a.spa)).cloned() {
                    if r.flags & F_SHOW_CONFLICTS != 0 {
                        self.plain(Stat::InArpPassed);
                        return pass;
                    }
                    return v(self.about(
                        &r,
                        Stat::InArpConflictHidden,
                        VipCounter::ConflictsHidden,
                    ));
                }
                if a.op == 1
                    && let Some(r) = self.find(IpAddr::V4(a.tpa)).cloned()
                {
                    return if a.spa.is_unspecified() {
                        v(self.about(&r, Stat::InArpProbeDropped, VipCounter::ProbesDropped))
                    } else {
                        v(self.about(&r, Stat::InArpRequestDropped, VipCounter::RequestsDropped))
                    };
                }
                self.plain(Stat::InArpPassed);
                pass
            }
            Some((0x86dd, off)) => match nd(frame, off, true) {
                NdParse::NotNd => pass,
                NdParse::Malformed => {
                    self.plain(Stat::InNdMalformedPassed);
                    pass
                }
                NdParse::ExtChainTooLong => {
                    *self
                        .stats
                        .entry((Stat::InIp6ExtChainDropped as u32, self.monitor))
                        .or_default() += 1;
                    v(!self.monitor)
                }
                NdParse::Nd(n) => {
                    if let Some(r) = self.find(IpAddr::V6(n.target)).cloned() {
                        if n.ty == 135 && n.src.is_unspecified() {
                            return v(self.about(
                                &r,
                                Stat::InDadNsDropped,
                                VipCounter::ProbesDropped,
                            ));
                        }
                        if n.ty == 135 {
                            return v(self.about(
                                &r,
                                Stat::InNsDropped,
                                VipCounter::RequestsDropped,
                            ));
                        }
                        if r.flags & F_SHOW_CONFLICTS == 0 {
                            return v(self.about(
                                &r,
                                Stat::InNaConflictHidden,
                                VipCounter::ConflictsHidden,
                            ));
                        }
                    }
                    self.plain(Stat::InNdPassed);
                    pass
                }
            },
            _ => pass,
        }
    }

    /// Egress (TC) expectation for `frame`.
    pub fn egress(&mut self, frame: &[u8]) -> Expect {
        let pass = Expect::unchanged(frame, Verdict::Pass);
        let v = |enforce: bool| {
            Expect::unchanged(
                frame,
                if enforce {
                    Verdict::Drop
                } else {
                    Verdict::Pass
                },
            )
        };
        match l3(frame) {
            Some((0x0806, off)) => {
                let Some(a) = arp(frame, off) else {
                    self.plain(Stat::OutArpMalformedPassed);
                    return pass;
                };
                if !a.spa.is_unspecified() {
                    if let Some(r) = self.find(IpAddr::V4(a.spa)).cloned() {
                        if a.spa == a.tpa && r.flags & F_VRRP != 0 {
                            let (s, c) = (
                                Stat::OutArpVrrpAnnouncementPassed,
                                VipCounter::AnnouncementsPassed,
                            );
                            self.count(&r, s, c, false);
                            return pass;
                        }
                        if a.spa == a.tpa {
                            return v(self.about(
                                &r,
                                Stat::OutArpAnnouncementDropped,
                                VipCounter::AnnouncementsDropped,
                            ));
                        }
                        if a.op == 2 {
                            return v(self.about(
                                &r,
                                Stat::OutArpReplyDropped,
                                VipCounter::RepliesDropped,
                            ));
                        }
                        if a.op == 1 {
                            if !self.about(
                                &r,
                                Stat::OutArpSenderRewritten,
                                VipCounter::SendersRewritten,
                            ) {
                                return pass;
                            }
                            let IpAddr::V4(real) = r.real else {
                                panic!("IPv4 rule with IPv6 real")
                            };
                            let mut out = frame.to_vec();
                            out[off + 14..off + 18].copy_from_slice(&real.octets());
                            return Expect {
                                verdict: Verdict::Pass,
                                output: out,
                            };
                        }
                    }
                } else if a.op == 1
                    && let Some(r) = self.find(IpAddr::V4(a.tpa)).cloned()
                {
                    return v(self.about(
                        &r,
                        Stat::OutArpProbeDropped,
                        VipCounter::OwnProbesDropped,
                    ));
                }
                self.plain(Stat::OutArpPassed);
                pass
            }
            Some((0x86dd, off)) => match nd(frame, off, false) {
                NdParse::NotNd | NdParse::ExtChainTooLong => pass,
                NdParse::Malformed => {
                    self.plain(Stat::OutNdMalformedPassed);
                    pass
                }
                NdParse::Nd(n) => {
                    if let Some(r) = self.find(IpAddr::V6(n.target)).cloned() {
                        if n.ty == 136 && !n.solicited && r.flags & F_VRRP != 0 {
                            let c = VipCounter::AnnouncementsPassed;
                            self.count(&r, Stat::OutNaVrrpPassed, c, false);
                            return pass;
                        }
                        return if n.ty == 136 {
                            v(
                                self.about(
                                    &r,
                                    Stat::OutNaDropped,
                                    VipCounter::AnnouncementsDropped,
                                ),
                            )
                        } else {
                            v(self.about(
                                &r,
                                Stat::OutNsForVipDropped,
                                VipCounter::OwnProbesDropped,
                            ))
                        };
                    }
                    if n.ty == 135
                        && let Some(r) = self.find(IpAddr::V6(n.src)).cloned()
                    {
                        if !self.about(&r, Stat::OutNsSourceRewritten, VipCounter::SendersRewritten)
                        {
                            return pass;
                        }
                        let IpAddr::V6(real) = r.real else {
                            panic!("IPv6 rule with IPv4 real")
                        };
                        return Expect {
                            verdict: Verdict::Pass,
                            output: rewrite_source(frame, off, real),
                        };
                    }
                    self.plain(Stat::OutNdPassed);
                    pass
                }
            },
            _ => pass,
        }
    }
}

/// (EtherType, offset) for frames with at most two VLAN tags.
fn l3(f: &[u8]) -> Option<(u16, usize)> {
    let mut off = 12;
    for _ in 0..3 {
        let et = u16::from_be_bytes([*f.get(off)?, *f.get(off + 1)?]);
        if et != 0x8100 && et != 0x88a8 {
            return Some((et, off + 2));
        }
        off += 4;
    }
    None
}

struct ArpView {
    op: u16,
    spa: Ipv4Addr,
    tpa: Ipv4Addr,
}

fn arp(f: &[u8], off: usize) -> Option<ArpView> {
    let h = f.get(off..off + 28)?;
    let htype = u16::from_be_bytes([h[0], h[1]]);
    if !(htype == 1 || htype == 6) || h[2..4] != [8, 0] || h[4] != 6 || h[5] != 4 {
        return None;
    }
    Some(ArpView {
        op: u16::from_be_bytes([h[6], h[7]]),
        spa: Ipv4Addr::new(h[14], h[15], h[16], h[17]),
        tpa: Ipv4Addr::new(h[24], h[25], h[26], h[27]),
    })
}

struct NdView {
    ty: u8,
    /// The NA's S flag.
    solicited: bool,
    src: Ipv6Addr,
    target: Ipv6Addr,
}

enum NdParse {
    NotNd,
    Malformed,
    /// A ninth Destination Options or Routing header, or bytes that end
    /// behind extension headers before the NS/NA head (row N6).
    ExtChainTooLong,
    Nd(NdView),
}

/// Where the ICMPv6 header starts behind the extension headers the kernel
/// walks to deliver ND (semantics: Hop-by-Hop first only, Destination
/// Options, Routing with no segments left; at most 8), or what else.
fn icmp_offset(f: &[u8], off: usize) -> Result<usize, NdParse> {
    let mut next = f[off + 6];
    let mut at = off + 40;
    for walked in 0..=8 {
        let walkable = next == 60 || next == 43 || (next == 0 && walked == 0);
        if next == 58 {
            return Ok(at);
        }
        if !walkable {
            return Err(NdParse::NotNd);
        }
        if walked == 8 {
            return Err(NdParse::ExtChainTooLong);
        }
        let Some(h) = f.get(at..at + 4) else {
            return Err(NdParse::ExtChainTooLong);
        };
        if next == 43 && h[3] != 0 {
            return Err(NdParse::NotNd);
        }
        next = h[0];
        at += (usize::from(h[1]) + 1) * 8;
    }
    unreachable!("the loop returns by its ninth header")
}

/// NS/NA at `off`: inbound (`ext`) behind extension headers too.
fn nd(f: &[u8], off: usize, ext: bool) -> NdParse {
    let Some(ip) = f.get(off..off + 40) else {
        return NdParse::NotNd;
    };
    let icmp = if ip[6] == 58 {
        off + 40
    } else if !ext {
        return NdParse::NotNd;
    } else {
        match icmp_offset(f, off) {
            Ok(icmp) => icmp,
            Err(other) => return other,
        }
    };
    let behind_ext = icmp != off + 40;
    let Some(&ty) = f.get(icmp) else {
        return if behind_ext {
            NdParse::ExtChainTooLong
        } else {
            NdParse::NotNd
        };
    };
    if ty != 135 && ty != 136 {
        return NdParse::NotNd;
    }
    let Some(msg) = f.get(icmp..icmp + 24) else {
        return if behind_ext {
            NdParse::ExtChainTooLong
        } else {
            NdParse::Malformed
        };
    };
    // Payload length 0 behind Hop-by-Hop: a jumbogram's, not checked.
    let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let length_ok = plen >= icmp - off - 40 + 24 || (plen == 0 && ip[6] == 0);
    if ip[0] >> 4 != 6 || ip[7] != 255 || msg[1] != 0 || !length_ok {
        return NdParse::Malformed;
    }
    let addr = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).expect("16 bytes"));
    NdParse::Nd(NdView {
        ty,
        solicited: ty == 136 && msg[4] & 0x40 != 0,
        src: addr(&ip[8..24]),
        target: addr(&msg[8..24]),
    })
}

/// One's-complement 16-bit addition with end-around carry.
fn oc_add(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xffff) + (s >> 16)) as u16
}

/// Replace the IPv6 source and update the ICMPv6 checksum incrementally
/// (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), so that even a frame with a
/// wrong checksum keeps exactly its error.
fn rewrite_source(f: &[u8], off: usize, new: Ipv6Addr) -> Vec<u8> {
    let mut out = f.to_vec();
    let c = off + 42;
    let old_csum = u16::from_be_bytes([f[c], f[c + 1]]);
    let mut sum = !old_csum;
    for (o, n) in f[off + 8..off + 24].chunks(2).zip(new.octets().chunks(2)) {
        sum = oc_add(sum, !u16::from_be_bytes([o[0], o[1]]));
        sum = oc_add(sum, u16::from_be_bytes([n[0], n[1]]));
    }
    out[off + 8..off + 24].copy_from_slice(&new.octets());
    out[c..c + 2].copy_from_slice(&(!sum).to_be_bytes());
    out
}
