//! IPv6 Neighbor Discovery (RFC 4861): Neighbor Solicitation and
//! Advertisement, validated as the kernel's ndisc code would see them.

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
    reserved: [u8; 4],
    target: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<Ipv6Hdr>() == IPV6_HLEN);
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
}

/// Bytes from the IPv6 header to the end of the NS/NA head.
pub const ND_END: usize = IPV6_HLEN + ND_MSG_LEN;

pub enum Parsed {
    /// Not ICMPv6 NS/NA directly after the IPv6 header: not rsdr's business.
    NotNd,
    /// The frame ends before it can tell (short header, or NS/NA head cut):
    /// passed like `NotNd` (header) or `Malformed` (head). On TC the bytes
    /// may only be outside the linear part; the caller pulls them and
    /// parses again.
    Short {
        nd_typed: bool,
    },
    /// ICMPv6 type NS/NA, but not valid ND (hop limit != 255, code != 0,
    /// truncated, wrong IP version): the kernel ignores it, so does rsdr.
    Malformed,
    Nd(Nd),
}

/// Parse the IPv6 packet at `off`. All other IPv6 traffic leaves after the
/// header bounds check and one byte compare.
#[inline(always)]
pub fn parse(frame: &Frame, off: usize) -> Parsed {
    let Some(ip) = frame.at::<Ipv6Hdr>(off) else {
        return Parsed::Short { nd_typed: false };
    };
    // SAFETY: `at` checked that the header is inside the packet.
    let ip = unsafe { &*ip };
    if ip.nexthdr != NEXTHDR_ICMPV6 {
        return Parsed::NotNd;
    }
    let Some(ty) = frame.at::<u8>(off + IPV6_HLEN) else {
        return Parsed::Short { nd_typed: false };
    };
    // SAFETY: as above, for the type byte.
    let ty = unsafe { *ty };
    let kind = match ty {
        TYPE_NS => Kind::Solicitation,
        TYPE_NA => Kind::Advertisement,
        _ => return Parsed::NotNd,
    };
    let Some(msg) = frame.at::<NdMsg>(off + IPV6_HLEN) else {
        return Parsed::Short { nd_typed: true };
    };
    // SAFETY: as above, for the whole message head.
    let msg = unsafe { &*msg };
    if ip.vtc_flow[0] >> 4 != 6
        || ip.hop_limit != 255
        || msg.code != 0
        || (u16::from_be(ip.payload_len) as usize) < ND_MSG_LEN
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
    Parsed::Nd(Nd { kind, src, target })
}
