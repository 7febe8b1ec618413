//! Egress decisions (TC). One function per frame kind.
//!
//! Packet bytes are only read directly; the one write goes through
//! `bpf_skb_store_bytes`. A direct packet write would make the kernel
//! un-clone every skb this program sees (TCP's included) before it runs.

use aya_ebpf::{bindings::TC_ACT_UNSPEC, programs::TcContext};
use aya_log_ebpf::warn;
use rsdr_common::{Stat, VipCounter};

use crate::{
    arp::{self, ARP_LEN, OP_REQUEST, SPA_OFFSET},
    counters::{count, count_vip},
    frame::Frame,
    l2,
    maps::RSDR_VIPS4,
};

/// "No opinion": the frame continues to the next program / the device. Used
/// instead of TC_ACT_OK so rsdr composes with other TC programs.
const PASS: i32 = TC_ACT_UNSPEC;

#[inline(always)]
pub fn tc(ctx: &TcContext) -> i32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    match l2::arp_offset(&frame) {
        Some(off) => arp_frame(ctx, off),
        None => PASS,
    }
}

/// ARP leaving the real server.
///
/// | frame                               | action                  | counter                   |
/// |-------------------------------------|-------------------------|---------------------------|
/// | malformed / truncated / not IPv4    | pass                    | out_arp_malformed_passed  |
/// | request, sender IP is a VIP         | sender IP := real IP    | out_arp_sender_rewritten  |
/// | anything else                       | pass                    | out_arp_passed            |
#[inline(always)]
fn arp_frame(ctx: &TcContext, off: usize) -> i32 {
    let mut frame = Frame::new(ctx.data(), ctx.data_end());
    if frame.at::<[u8; ARP_LEN]>(off).is_none() && ctx.len() as usize >= off + ARP_LEN {
        // Header not in the linear part: make it so (ARP path only). The
        // helper invalidates packet pointers whatever it returns.
        let _ = ctx.pull_data((off + ARP_LEN) as u32);
        frame = Frame::new(ctx.data(), ctx.data_end());
    }
    let Some(arp) = arp::parse(&frame, off) else {
        count(Stat::OutArpMalformedPassed);
        return PASS;
    };
    if arp.oper == OP_REQUEST {
        if let Some(vip) = RSDR_VIPS4.get_ptr_mut(arp.sender_ip) {
            // SAFETY: pointer from a successful lookup of this CPU's copy.
            let real = unsafe { (*vip).real };
            if ctx.store(off + SPA_OFFSET, &real, 0).is_err() {
                count(Stat::OutArpRewriteFailed);
                warn!(ctx, "rsdr: could not rewrite ARP sender {:i}", u32::from_be(arp.sender_ip));
                return PASS;
            }
            count_vip(vip, VipCounter::SendersRewritten);
            count(Stat::OutArpSenderRewritten);
            return PASS;
        }
    }
    count(Stat::OutArpPassed);
    PASS
}
