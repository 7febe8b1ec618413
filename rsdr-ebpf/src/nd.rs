//! IPv6 Neighbor Discovery (RFC 4861): Neighbor Solicitation and
//! Advertisement, validated as the kernel's ndisc code would see them.
//!
//! Inbound, the kernel hands ND to ndisc behind any Hop-by-Hop (first
//! only), Destination Options and Routing headers with no segments left,
//! so the ingress parse walks them ([`parse`] with `EXT`); a chain longer
//! than [`MAX_EXT_HEADERS`], or one that runs past the readable bytes, is
//! reported as such, to be dropped. The kernel's own ND never carries
//! extension headers: egress parses plain ND only.

use core::{mem::offset_of, ptr::addr_of};

use crate::{
    frame::Frame,
    ip6::{self, Ip6},
};

const IPV6_HLEN: usize = 40;
/// Offset of the source address inside the IPv6 header.
pub const SRC_OFFSET: usize = 8;
/// Offset of the ICMPv6 checksum from the start of the IPv6 header.
pub const CSUM_OFFSET: usize = IPV6_HLEN + 2;

const NEXTHDR_ICMPV6: u8 = 58;
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_DEST: u8 = 60;
/// Extension headers walked in front of an inbound NS/NA.
pub const MAX_EXT_HEADERS: usize = 8;
const TYPE_NS: u8 = 135;
const TYPE_NA: u8 = 136;

#[repr(C)]
struct Ipv6Hdr {
    vtc_flow: [u8; 4],
    payload_len: u16,
    nexthdr: u8,
    hop_limit: u8,
    src: [u8; 16],
    dst: [u8; 16],
}

/// ICMPv6 NS/NA message up to and including the target address.
#[repr(C)]
struct NdMsg {
    ty: u8,
    code: u8,
    csum: u16,
    /// NA: the R, S and O flags in the first byte; NS: reserved.
    flags: [u8; 4],
    target: [u8; 16],
}

/// The Solicited flag of an NA (RFC 4861, 4.4).
const NA_SOLICITED: u8 = 0x40;

/// The first bytes of an extension header (every one is at least 8 long).
/// Only a Routing header's third and fourth bytes are its type and
/// segments left; in the others they begin the options.
#[repr(C)]
struct ExtHdr {
    nexthdr: u8,
    /// Length in 8-byte units, not counting the first 8.
    hdrlen: u8,
    routing_type: u8,
    segments_left: u8,
}

const _: () = assert!(core::mem::size_of::<Ipv6Hdr>() == IPV6_HLEN);
const _: () = assert!(core::mem::size_of::<ExtHdr>() == 4);
const ND_MSG_LEN: usize = core::mem::size_of::<NdMsg>();
const SRC: i16 = offset_of!(Ipv6Hdr, src) as i16;
const TARGET: i16 = offset_of!(NdMsg, target) as i16;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Solicitation,
    Advertisement,
}

#[derive(Clone, Copy)]
pub struct Nd {
    pub kind: Kind,
    pub src: Ip6,
    pub target: Ip6,
    /// An NA answering an NS (its S flag); false for an NS.
    pub solicited: bool,
}

/// Bytes from the IPv6 header to the end of the NS/NA head.
pub const ND_END: usize = IPV6_HLEN + ND_MSG_LEN;

pub enum Parsed {
    /// Not ICMPv6 NS/NA directly after the IPv6 header: not rsdr's business.
    NotNd,
    /// The frame ends before it can tell (short header, or NS/NA head cut):
    /// passed like `NotNd` (header) or `Malformed` (head), but dropped like
    /// `ExtChainTooLong` when it ends behind extension headers (where XDP
    /// sees only a multi-buffer frame's first buffer, and Linux would see
    /// the rest). On TC the bytes may only be outside the linear part; the
    /// caller pulls them and parses again.
    Short {
        nd_typed: bool,
        behind_ext: bool,
    },
    /// ICMPv6 type NS/NA, but not valid ND (hop limit != 255, code != 0,
    /// truncated, wrong IP version): the kernel ignores it, so does rsdr.
    Malformed,
    /// More than [`MAX_EXT_HEADERS`] extension headers the kernel would
    /// walk to reach ND: rsdr cannot tell whether an NS/NA lies behind.
    ExtChainTooLong,
    Nd(Nd),
}

/// Where the walk over extension headers ended.
enum Upper {
    /// The ICMPv6 header: the frame from there on, and the length of the
    /// extension headers walked.
    Icmp(Frame, usize),
    /// Another upper layer, or a header the kernel does not deliver ND
    /// behind (Fragment: it drops fragmented ND; a Routing header with
    /// segments left: it forwards or refuses the packet).
    Other,
    Short,
    TooLong,
}

const SHORT: Parsed = Parsed::Short {
    nd_typed: false,
    behind_ext: false,
};

/// Walk the extension headers from `nexthdr`, the first at the start of
/// `rest`, to the ICMPv6 header, as the kernel does before it hands a
/// packet to ndisc.
#[inline(always)]
fn skip_ext_headers(mut rest: Frame, mut nexthdr: u8) -> Upper {
    let mut len = 0;
    for i in 0..MAX_EXT_HEADERS {
        if nexthdr == NEXTHDR_ICMPV6 {
            return Upper::Icmp(rest, len);
        }
        let walked = nexthdr == NEXTHDR_DEST
            || nexthdr == NEXTHDR_ROUTING
            || (nexthdr == NEXTHDR_HOP && i == 0);
        if !walked {
            return Upper::Other;
        }
        let Some(ext) = rest.at::<ExtHdr>(0) else {
            return Upper::Short;
        };
        // SAFETY: `at` checked that the header's first bytes are inside.
        let ext = unsafe { &*ext };
        if nexthdr == NEXTHDR_ROUTING && ext.segments_left != 0 {
            return Upper::Other;
        }
        nexthdr = ext.nexthdr;
        let ext_len = (ext.hdrlen as usize + 1) * 8;
        len += ext_len;
        rest = rest.from(ext_len);
    }
    match nexthdr {
        NEXTHDR_ICMPV6 => Upper::Icmp(rest, len),
        NEXTHDR_DEST | NEXTHDR_ROUTING => Upper::TooLong,
        _ => Upper::Other,
    }
}

/// Parse the IPv6 packet at `off`: with `EXT` (ingress), NS/NA behind
/// extension headers too. All other IPv6 traffic leaves after the header
/// bounds check and one byte compare (with `EXT`, up to three more).
#[inline(always)]
pub fn parse<const EXT: bool>(frame: &Frame, off: usize) -> Parsed {
    let Some(ip) = frame.at::<Ipv6Hdr>(off) else {
        return SHORT;
    };
    // SAFETY: `at` checked that the header is inside the packet.
    let ip = unsafe { &*ip };
    if ip.nexthdr == NEXTHDR_ICMPV6 {
        return message(ip, frame, off + IPV6_HLEN, 0);
    }
    if !EXT {
        return Parsed::NotNd;
    }
    match skip_ext_headers(frame.from(off + IPV6_HLEN), ip.nexthdr) {
        Upper::Icmp(rest, ext_len) => message(ip, &rest, 0, ext_len),
        Upper::Other => Parsed::NotNd,
        Upper::Short => Parsed::Short {
            nd_typed: false,
            behind_ext: true,
        },
        Upper::TooLong => Parsed::ExtChainTooLong,
    }
}

/// The ICMPv6 message at `icmp` in `frame`, behind `ext_len` bytes of
/// extension headers, of the IPv6 packet `ip`.
#[inline(always)]
fn message(ip: &Ipv6Hdr, frame: &Frame, icmp: usize, ext_len: usize) -> Parsed {
    let behind_ext = ext_len != 0;
    let Some(ty) = frame.at::<u8>(icmp) else {
        return Parsed::Short {
            nd_typed: false,
            behind_ext,
        };
    };
    // SAFETY: as above, for the type byte.
    let ty = unsafe { *ty };
    let kind = match ty {
        TYPE_NS => Kind::Solicitation,
        TYPE_NA => Kind::Advertisement,
        _ => return Parsed::NotNd,
    };
    let Some(msg) = frame.at::<NdMsg>(icmp) else {
        return Parsed::Short {
            nd_typed: true,
            behind_ext,
        };
    };
    // SAFETY: as above, for the whole message head.
    let msg = unsafe { &*msg };
    // Payload length 0 behind a Hop-by-Hop header is a jumbogram's: Linux
    // checks no length then and hands ndisc all the bytes there are, which
    // `at` has just found to cover the head.
    let payload_len = u16::from_be(ip.payload_len) as usize;
    let jumbo = payload_len == 0 && ip.nexthdr == NEXTHDR_HOP;
    if ip.vtc_flow[0] >> 4 != 6
        || ip.hop_limit != 255
        || msg.code != 0
        || (payload_len < ext_len + ND_MSG_LEN && !jumbo)
    {
        return Parsed::Malformed;
    }
    // SAFETY: both addresses lie inside the headers checked above.
    let (src, target) = unsafe {
        (
            ip6::read_packet::<SRC, { SRC + 8 }>(addr_of!(*ip).cast()),
            ip6::read_packet::<TARGET, { TARGET + 8 }>(addr_of!(*msg).cast()),
        )
    };
    let solicited = kind == Kind::Advertisement && msg.flags[0] & NA_SOLICITED != 0;
    Parsed::Nd(Nd {
        kind,
        src,
        target,
        solicited,
    })
}
