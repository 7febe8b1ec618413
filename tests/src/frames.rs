//! A small builder for the frames the fixtures feed to the programs.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

pub const BROADCAST: [u8; 6] = [0xff; 6];
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// An IPv4 ARP header; fields are public so fixtures can break any of them.
#[derive(Clone, Debug)]
pub struct Arp {
    pub htype: u16,
    pub ptype: u16,
    pub hlen: u8,
    pub plen: u8,
    pub oper: u16,
    pub sha: [u8; 6],
    pub spa: Ipv4Addr,
    pub tha: [u8; 6],
    pub tpa: Ipv4Addr,
}

impl Arp {
    /// "who-has `target` tell `sender`" from `sha`.
    pub fn request(sha: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr) -> Self {
        Self {
            htype: 1,
            ptype: ETH_P_IP,
            hlen: 6,
            plen: 4,
            oper: OP_REQUEST,
            sha,
            spa: sender,
            tha: [0; 6],
            tpa: target,
        }
    }

    /// "`sender` is-at `sha`", to `tha`/`target`.
    pub fn reply(sha: [u8; 6], sender: Ipv4Addr, tha: [u8; 6], target: Ipv4Addr) -> Self {
        Self {
            htype: 1,
            ptype: ETH_P_IP,
            hlen: 6,
            plen: 4,
            oper: OP_REPLY,
            sha,
            spa: sender,
            tha,
            tpa: target,
        }
    }

    pub fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&self.htype.to_be_bytes());
        b.extend_from_slice(&self.ptype.to_be_bytes());
        b.push(self.hlen);
        b.push(self.plen);
        b.extend_from_slice(&self.oper.to_be_bytes());
        b.extend_from_slice(&self.sha);
        b.extend_from_slice(&self.spa.octets());
        b.extend_from_slice(&self.tha);
        b.extend_from_slice(&self.tpa.octets());
        b
    }
}

/// An Ethernet frame: addresses, up to any number of VLAN tags, a payload.
#[derive(Clone, Debug)]
pub struct Frame {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// (TPID, TCI) pairs, outermost first.
    pub tags: Vec<(u16, u16)>,
    pub ethertype: u16,
    pub payload: Vec<u8>,
    /// Pad to the 60-byte Ethernet minimum, as a NIC delivers short frames.
    pub pad: bool,
}

impl Frame {
    pub fn new(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: Vec<u8>) -> Self {
        Self {
            dst,
            src,
            tags: Vec::new(),
            ethertype,
            payload,
            pad: false,
        }
    }

    /// A broadcast ARP frame from `src`.
    pub fn arp(src: [u8; 6], arp: &Arp) -> Self {
        let dst = if arp.oper == OP_REQUEST {
            BROADCAST
        } else {
            arp.tha
        };
        Self::new(dst, src, ETH_P_ARP, arp.bytes())
    }

    pub fn tagged(mut self, tpid: u16, vid: u16) -> Self {
        self.tags.push((tpid, vid));
        self
    }

    pub fn padded(mut self) -> Self {
        self.pad = true;
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&self.dst);
        b.extend_from_slice(&self.src);
        for (tpid, tci) in &self.tags {
            b.extend_from_slice(&tpid.to_be_bytes());
            b.extend_from_slice(&tci.to_be_bytes());
        }
        b.extend_from_slice(&self.ethertype.to_be_bytes());
        b.extend_from_slice(&self.payload);
        if self.pad && b.len() < 60 {
            b.resize(60, 0);
        }
        b
    }
}

/// Internet checksum over `data` (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 TCP SYN payload (IP header + TCP header).
pub fn ipv4_tcp(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp_syn());
    ip
}

/// An IPv6 TCP SYN payload (IPv6 header + TCP header).
pub fn ipv6_tcp(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    ip.extend_from_slice(&tcp_syn());
    ip
}

fn tcp_syn() -> Vec<u8> {
    vec![
        0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]
}

pub const NEXTHDR_ICMPV6: u8 = 58;
pub const ND_NS: u8 = 135;
pub const ND_NA: u8 = 136;
pub const NEXTHDR_HOP: u8 = 0;
pub const NEXTHDR_ROUTING: u8 = 43;
pub const NEXTHDR_FRAGMENT: u8 = 44;
pub const NEXTHDR_DEST: u8 = 60;

/// An IPv6 extension header in front of an upper-layer message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ext {
    /// Its Next Header value: Hop-by-Hop, Routing, Fragment or Destination
    /// Options.
    pub kind: u8,
    /// Length in 8-byte units beyond the first 8 (at most 31 here).
    pub units: u8,
    /// A Routing header's segments left; a Fragment header's offset.
    pub field: u16,
}

impl Ext {
    pub fn hop_by_hop(units: u8) -> Self {
        Self {
            kind: NEXTHDR_HOP,
            units,
            field: 0,
        }
    }

    pub fn dest_opts(units: u8) -> Self {
        Self {
            kind: NEXTHDR_DEST,
            units,
            field: 0,
        }
    }

    /// A type 0 Routing header with `segments_left` (its addresses zero).
    pub fn routing(units: u8, segments_left: u8) -> Self {
        Self {
            kind: NEXTHDR_ROUTING,
            units,
            field: u16::from(segments_left),
        }
    }

    /// A Fragment header: `offset` in 8-byte units, more fragments set.
    pub fn fragment(offset: u16) -> Self {
        Self {
            kind: NEXTHDR_FRAGMENT,
            units: 0,
            field: offset,
        }
    }

    /// The header's bytes, with `next` as its Next Header. Option headers
    /// carry one experimental option (RFC 4727, type 0x1e: skipped by
    /// whoever does not know it) filling the header: the kernel refuses
    /// padding longer than 7 bytes.
    pub fn bytes(&self, next: u8) -> Vec<u8> {
        assert!(self.units <= 31, "an option fills at most 31 units here");
        let len = (usize::from(self.units) + 1) * 8;
        let mut b = vec![next, self.units];
        match self.kind {
            NEXTHDR_ROUTING => b.extend_from_slice(&[0, self.field as u8]),
            NEXTHDR_FRAGMENT => {
                b[1] = 0;
                b.extend_from_slice(&((self.field << 3) | 1).to_be_bytes());
                b.extend_from_slice(&0x5253_4452u32.to_be_bytes());
            }
            _ => b.extend_from_slice(&[0x1e, (len - 4) as u8]),
        }
        b.resize(len, 0);
        b
    }
}

/// The solicited-node multicast address of `target` (RFC 4291).
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let t = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    )
}

/// The Ethernet multicast address for an IPv6 multicast destination.
pub fn ipv6_multicast_mac(dst: Ipv6Addr) -> [u8; 6] {
    let o = dst.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// ICMPv6 checksum of `msg` between `src` and `dst` (RFC 4443).
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + msg.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, NEXTHDR_ICMPV6]);
    pseudo.extend_from_slice(msg);
    checksum(&pseudo)
}

/// The IPv6 `packet` (header and upper layer) with `ext` inserted between
/// them: next headers chained, payload length grown.
pub fn ipv6_behind(mut packet: Vec<u8>, ext: &[Ext]) -> Vec<u8> {
    let mut next = packet[6];
    let mut headers = Vec::new();
    for e in ext.iter().rev() {
        let mut h = e.bytes(next);
        h.extend_from_slice(&headers);
        headers = h;
        next = e.kind;
    }
    packet[6] = next;
    let plen = u16::from_be_bytes([packet[4], packet[5]]) + headers.len() as u16;
    packet[4..6].copy_from_slice(&plen.to_be_bytes());
    packet.splice(40..40, headers);
    packet
}

/// An IPv6 Neighbor Solicitation or Advertisement; fields are public so
/// fixtures can break any of them. `bytes` computes a correct checksum
/// unless `checksum` is set.
#[derive(Clone, Debug)]
pub struct Nd {
    pub ty: u8,
    pub code: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub version: u8,
    /// NA flags word (R, S, O bits) or zero for NS.
    pub flags: u32,
    pub target: Ipv6Addr,
    /// Link-layer address option: (type 1 = source, 2 = target, MAC).
    pub lladdr: Option<(u8, [u8; 6])>,
    pub checksum: Option<u16>,
    /// Extension headers between the IPv6 header and the message.
    pub ext: Vec<Ext>,
}

impl Nd {
    /// Address resolution: "who has `target`", from `src` with MAC `mac`.
    pub fn ns(src: Ipv6Addr, target: Ipv6Addr, mac: [u8; 6]) -> Self {
        Self {
            ty: ND_NS,
            code: 0,
            src,
            dst: solicited_node(target),
            hop_limit: 255,
            version: 6,
            flags: 0,
            target,
            lladdr: Some((1, mac)),
            checksum: None,
            ext: Vec::new(),
        }
    }

    /// Duplicate address detection for `target` (source ::, no option).
    pub fn dad(target: Ipv6Addr) -> Self {
        Self {
            ty: ND_NS,
            code: 0,
            src: Ipv6Addr::UNSPECIFIED,
            dst: solicited_node(target),
            hop_limit: 255,
            version: 6,
            flags: 0,
            target,
            lladdr: None,
            checksum: None,
            ext: Vec::new(),
        }
    }

    /// A solicited advertisement of `target` at `mac`, from `src` to `dst`.
    pub fn na(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, mac: [u8; 6]) -> Self {
        Self {
            ty: ND_NA,
            code: 0,
            src,
            dst,
            hop_limit: 255,
            version: 6,
            flags: 0x6000_0000,
            target,
            lladdr: Some((2, mac)),
            checksum: None,
            ext: Vec::new(),
        }
    }

    pub fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }

    /// The ICMPv6 message (checksum filled in).
    fn message(&self) -> Vec<u8> {
        let mut m = vec![self.ty, self.code, 0, 0];
        m.extend_from_slice(&self.flags.to_be_bytes());
        m.extend_from_slice(&self.target.octets());
        if let Some((kind, mac)) = self.lladdr {
            m.extend_from_slice(&[kind, 1]);
            m.extend_from_slice(&mac);
        }
        let c = self
            .checksum
            .unwrap_or_else(|| icmpv6_checksum(self.src, self.dst, &m));
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    /// Behind these extension headers.
    pub fn behind(mut self, ext: &[Ext]) -> Self {
        self.ext = ext.to_vec();
        self
    }

    /// IPv6 header + extension headers + ICMPv6 message.
    pub fn bytes(&self) -> Vec<u8> {
        let msg = self.message();
        let mut b = vec![self.version << 4, 0, 0, 0];
        b.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        b.extend_from_slice(&[NEXTHDR_ICMPV6, self.hop_limit]);
        b.extend_from_slice(&self.src.octets());
        b.extend_from_slice(&self.dst.octets());
        b.extend_from_slice(&msg);
        ipv6_behind(b, &self.ext)
    }

    /// The whole Ethernet frame, from `src_mac`, to the multicast MAC of a
    /// multicast destination or to `unicast_mac`.
    pub fn frame(&self, src_mac: [u8; 6], unicast_mac: [u8; 6]) -> Frame {
        let dst = if self.dst.is_multicast() {
            ipv6_multicast_mac(self.dst)
        } else {
            unicast_mac
        };
        Frame::new(dst, src_mac, ETH_P_IPV6, self.bytes())
    }
}

/// An ICMPv6 echo request (not ND), IPv6 header included.
pub fn ipv6_echo(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut m = vec![128, 0, 0, 0, 0, 1, 0, 1];
    let c = icmpv6_checksum(src, dst, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let mut b = vec![0x60, 0, 0, 0];
    b.extend_from_slice(&(m.len() as u16).to_be_bytes());
    b.extend_from_slice(&[NEXTHDR_ICMPV6, 64]);
    b.extend_from_slice(&src.octets());
    b.extend_from_slice(&dst.octets());
    b.extend_from_slice(&m);
    b
}
