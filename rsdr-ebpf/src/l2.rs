//! Ethernet framing: where the L3 header starts and whether rsdr cares.

use crate::frame::Frame;

pub const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;

/// EtherTypes as they appear in a native load of the wire bytes.
const ETH_P_IP: u16 = 0x0800u16.to_be();
const ETH_P_ARP: u16 = 0x0806u16.to_be();
const ETH_P_IPV6: u16 = 0x86ddu16.to_be();
const ETH_P_8021Q: u16 = 0x8100u16.to_be();
const ETH_P_8021AD: u16 = 0x88a8u16.to_be();

/// The L3 headers rsdr inspects, with their offset in the frame.
#[derive(Clone, Copy)]
pub enum L3 {
    Arp(usize),
    Ipv6(usize),
}

#[inline(always)]
fn classify(ethertype: u16, off: usize) -> Option<L3> {
    if ethertype == ETH_P_ARP {
        Some(L3::Arp(off))
    } else if ethertype == ETH_P_IPV6 {
        Some(L3::Ipv6(off))
    } else {
        None
    }
}

/// `v`, as a value the compiler cannot reason about (no instructions).
#[inline(always)]
fn opaque(mut v: u16) -> u16 {
    // SAFETY: an empty template: no instructions, no memory, no effects.
    unsafe {
        core::arch::asm!("/* {v} */", v = inout(reg) v, options(pure, nomem, nostack, preserves_flags))
    };
    v
}

#[inline(always)]
fn is_vlan(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD
}

/// ARP or IPv6, untagged or behind up to two VLAN tags (802.1Q or 802.1ad,
/// in any combination). `None` for everything else, including frames too
/// short to hold an EtherType.
///
/// An untagged IPv4 frame, the common case, costs one bounds check, one
/// 16-bit load and one compare.
#[inline(always)]
pub fn locate(frame: &Frame) -> Option<L3> {
    let outer = frame.raw_u16(ETH_HLEN - 2)?;
    if outer == ETH_P_IP {
        return None;
    }
    // Left to itself, LLVM merges the compares below with the one above
    // into a search tree, which takes IPv4 through three compares.
    let outer = opaque(outer);
    if !is_vlan(outer) {
        return classify(outer, ETH_HLEN);
    }
    let inner = frame.raw_u16(ETH_HLEN + VLAN_HLEN - 2)?;
    if !is_vlan(inner) {
        return classify(inner, ETH_HLEN + VLAN_HLEN);
    }
    let innermost = frame.raw_u16(ETH_HLEN + 2 * VLAN_HLEN - 2)?;
    classify(innermost, ETH_HLEN + 2 * VLAN_HLEN)
}
