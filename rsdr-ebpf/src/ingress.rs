//! Ingress decisions (XDP). One function per frame kind.

use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use rsdr_common::{Stat, VipCounter};

use crate::{
    arp::{self, OP_REQUEST},
    counters::{count, count_vip},
    frame::Frame,
    l2,
    maps::RSDR_VIPS4,
};

#[inline(always)]
pub fn xdp(ctx: &XdpContext) -> u32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    match l2::arp_offset(&frame) {
        Some(off) => arp_frame(&frame, off),
        // Not ARP: the cheapest path, nothing looked up, nothing counted.
        None => xdp_action::XDP_PASS,
    }
}

/// ARP arriving at the real server.
///
/// | frame                               | verdict | counter                         |
/// |-------------------------------------|---------|---------------------------------|
/// | malformed / truncated / not IPv4    | pass    | in_arp_malformed_passed         |
/// | request, target IP is a VIP         | drop    | in_arp_request_for_vip_dropped  |
/// | anything else                       | pass    | in_arp_passed                   |
#[inline(always)]
fn arp_frame(frame: &Frame, off: usize) -> u32 {
    let Some(arp) = arp::parse(frame, off) else {
        count(Stat::InArpMalformedPassed);
        return xdp_action::XDP_PASS;
    };
    if arp.oper == OP_REQUEST {
        if let Some(vip) = RSDR_VIPS4.get_ptr_mut(arp.target_ip) {
            count_vip(vip, VipCounter::RequestsDropped);
            count(Stat::InArpRequestForVipDropped);
            return xdp_action::XDP_DROP;
        }
    }
    count(Stat::InArpPassed);
    xdp_action::XDP_PASS
}
