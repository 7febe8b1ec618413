//! Ethernet framing: where the L3 header starts and what it is.

use crate::frame::Frame;

pub const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;

/// EtherTypes as they appear in a native load of the wire bytes.
pub const ETH_P_ARP: u16 = 0x0806u16.to_be();
const ETH_P_8021Q: u16 = 0x8100u16.to_be();
const ETH_P_8021AD: u16 = 0x88a8u16.to_be();

#[inline(always)]
fn is_vlan(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD
}

/// Offset of the ARP header if this frame carries ARP, untagged or behind up
/// to two VLAN tags (802.1Q or 802.1ad, in any combination). `None` for
/// everything else, including frames too short to hold an EtherType.
///
/// The common case, an untagged non-ARP frame, costs one bounds check, one
/// 16-bit load and three compares.
#[inline(always)]
pub fn arp_offset(frame: &Frame) -> Option<usize> {
    let outer = frame.raw_u16(ETH_HLEN - 2)?;
    if outer == ETH_P_ARP {
        return Some(ETH_HLEN);
    }
    if !is_vlan(outer) {
        return None;
    }
    let inner = frame.raw_u16(ETH_HLEN + VLAN_HLEN - 2)?;
    if inner == ETH_P_ARP {
        return Some(ETH_HLEN + VLAN_HLEN);
    }
    if !is_vlan(inner) {
        return None;
    }
    let innermost = frame.raw_u16(ETH_HLEN + 2 * VLAN_HLEN - 2)?;
    if innermost == ETH_P_ARP {
        return Some(ETH_HLEN + 2 * VLAN_HLEN);
    }
    None
}
