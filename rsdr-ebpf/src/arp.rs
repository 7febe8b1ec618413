//! The IPv4-over-Ethernet ARP header (RFC 826), validated.

use rsdr_common::Ipv4Raw;

use core::mem::offset_of;

use crate::frame::{Frame, load_u32};

/// Length of an Ethernet/IPv4 ARP header.
pub const ARP_LEN: usize = 28;
/// Offset of the sender protocol address inside the ARP header.
pub const SPA_OFFSET: usize = 14;

pub const OP_REQUEST: u16 = 1u16.to_be();
pub const OP_REPLY: u16 = 2u16.to_be();

const HTYPE_ETHER: u16 = 1u16.to_be();
// Linux accepts IEEE 802 (6) on Ethernet devices as well as Ethernet (1), and
// answers such requests (net/ipv4/arp.c: arp_process), so both must be judged.
const HTYPE_IEEE802: u16 = 6u16.to_be();
/// Protocol type IPv4, 6-byte hardware and 4-byte protocol addresses: the
/// header's bytes 2..6 in one native load.
const IPV4_OVER_ETHER: u32 = u32::from_ne_bytes([0x08, 0x00, 6, 4]);

#[repr(C)]
struct ArpHdr {
    htype: u16,
    ptype: u16,
    hlen: u8,
    plen: u8,
    oper: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<ArpHdr>() == ARP_LEN);

/// The fields rsdr decides on, copied out of a validated header.
#[derive(Clone, Copy)]
pub struct Arp {
    /// Operation, wire byte order (compare with `OP_*`).
    pub oper: u16,
    pub sender_ip: Ipv4Raw,
    pub target_ip: Ipv4Raw,
}

/// Parse the ARP header at `off`. `None` if it is truncated or is not
/// Ethernet (or IEEE 802) / IPv4 with 6-byte hardware and 4-byte protocol
/// addresses: such frames are not the kernel's IPv4 ARP and are passed on.
#[inline(always)]
pub fn parse(frame: &Frame, off: usize) -> Option<Arp> {
    let h = frame.at::<ArpHdr>(off)?;
    // SAFETY: `at` checked that the whole header is inside the packet, so
    // are the fields loaded below.
    let base = h.cast::<u8>();
    let (h, types, spa, tpa) = unsafe {
        (
            &*h,
            load_u32::<{ offset_of!(ArpHdr, ptype) as i16 }>(base),
            load_u32::<{ offset_of!(ArpHdr, spa) as i16 }>(base),
            load_u32::<{ offset_of!(ArpHdr, tpa) as i16 }>(base),
        )
    };
    if (h.htype != HTYPE_ETHER && h.htype != HTYPE_IEEE802) || types != IPV4_OVER_ETHER {
        return None;
    }
    Some(Arp {
        oper: h.oper,
        sender_ip: spa,
        target_ip: tpa,
    })
}
