//! Ingress decisions: one function per frame kind, each following its table
//! in docs/semantics.md, shared by the two ingress hooks (XDP, and TC for
//! hosts where XDP is taken or unwanted). Decisions about a VIP in monitor
//! mode are counted and the frame passes.

use aya_ebpf::{
    bindings::{TC_ACT_SHOT, TC_ACT_UNSPEC, xdp_action},
    programs::{TcContext, XdpContext},
};
use rsdr_common::{Stat, VipCounter};

use crate::{
    arp::{self, OP_REQUEST},
    counters::{count, decide, decide_unattributed},
    frame::Frame,
    ip6,
    l2::{self, L3},
    nd::{self, Kind, Parsed},
    skb::{linear, parse_nd},
    vip::{self, NO_REAL},
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
}

const PASS: Verdict = Verdict::Pass;
const DROP: Verdict = Verdict::Drop;

#[inline(always)]
fn verdict(enforce: bool) -> Verdict {
    if enforce { DROP } else { PASS }
}

#[inline(always)]
pub fn xdp(ctx: &XdpContext) -> u32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    let v = match l2::locate(&frame) {
        Some(L3::Arp(off)) => arp_frame(&frame, off),
        Some(L3::Ipv6(off)) => nd_frame(nd::parse::<true>(&frame, off)),
        // Neither ARP nor IPv6: the cheapest path, nothing looked up or counted.
        None => return xdp_action::XDP_PASS,
    };
    match v {
        Verdict::Pass => xdp_action::XDP_PASS,
        Verdict::Drop => xdp_action::XDP_DROP,
    }
}

/// The same decisions on the TC ingress hook (TCX). The skb's ARP or ND
/// head may lie outside the linear part; it is pulled in for those only.
#[inline(always)]
pub fn tc(ctx: &TcContext) -> i32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    let v = match l2::locate(&frame) {
        Some(L3::Arp(off)) => arp_frame(&linear(ctx, off + arp::ARP_LEN), off),
        Some(L3::Ipv6(off)) => nd_frame(parse_nd::<true>(ctx, &frame, off)),
        None => return TC_ACT_UNSPEC,
    };
    match v {
        Verdict::Pass => TC_ACT_UNSPEC,
        Verdict::Drop => TC_ACT_SHOT as i32,
    }
}

/// ARP arriving at the real server (docs/semantics.md, rows I1-I5).
///
/// | frame                                   | verdict | counter                        |
/// |-----------------------------------------|---------|--------------------------------|
/// | truncated / not Ethernet-IPv4 ARP       | pass    | in_arp_malformed_passed        |
/// | any ARP with sender IP = VIP            | drop    | in_arp_from_vip_hidden         |
/// |   (VIP shows conflicts: pass)           | pass    | in_arp_passed                  |
/// | request, sender 0.0.0.0, target = VIP   | drop    | in_arp_probe_for_vip_dropped   |
/// | request, target = VIP                   | drop    | in_arp_request_for_vip_dropped |
/// | anything else                           | pass    | in_arp_passed                  |
#[inline(always)]
fn arp_frame(frame: &Frame, off: usize) -> Verdict {
    let Some(arp) = arp::parse(frame, off) else {
        count(Stat::InArpMalformedPassed);
        return PASS;
    };
    let Some(cfg) = vip::settings() else {
        count(Stat::InArpPassed);
        return PASS;
    };
    if arp.sender_ip != 0 {
        if let Some(hit) = vip::lookup4::<NO_REAL>(cfg, arp.sender_ip) {
            if hit.shows_conflicts() {
                // Linux never answers ARP sent from one of its own addresses.
                count(Stat::InArpPassed);
                return PASS;
            }
            return verdict(decide(
                &hit,
                cfg,
                Stat::InArpConflictHidden,
                VipCounter::ConflictsHidden,
            ));
        }
    }
    if arp.oper == OP_REQUEST {
        if let Some(hit) = vip::lookup4::<NO_REAL>(cfg, arp.target_ip) {
            let enforce = if arp.sender_ip == 0 {
                decide(
                    &hit,
                    cfg,
                    Stat::InArpProbeDropped,
                    VipCounter::ProbesDropped,
                )
            } else {
                decide(
                    &hit,
                    cfg,
                    Stat::InArpRequestDropped,
                    VipCounter::RequestsDropped,
                )
            };
            return verdict(enforce);
        }
    }
    count(Stat::InArpPassed);
    PASS
}

/// Neighbor Discovery arriving at the real server (rows N1-N6), plain or
/// behind the extension headers the kernel walks to deliver it.
///
/// | frame                                   | verdict | counter                   |
/// |-----------------------------------------|---------|---------------------------|
/// | other IPv6                              | pass    | -                         |
/// | over 8 walkable extension headers, or   | drop    | in_ip6_ext_chain_dropped  |
/// |   ND behind them past the readable end  |         |                           |
/// |   (global monitor mode: pass)           |         |                           |
/// | NS/NA type, not valid ND                | pass    | in_nd_malformed_passed    |
/// | NS from ::, target = VIP6 (DAD)         | drop    | in_dad_ns_for_vip_dropped |
/// | NS, target = VIP6                       | drop    | in_ns_for_vip_dropped     |
/// | NA, target = VIP6                       | drop    | in_na_for_vip_hidden      |
/// |   (unless the VIP shows conflicts)      |         |                           |
/// | any other NS/NA                         | pass    | in_nd_passed              |
#[inline(always)]
fn nd_frame(parsed: Parsed) -> Verdict {
    let nd = match parsed {
        Parsed::ExtChainTooLong
        | Parsed::Short {
            behind_ext: true, ..
        } => {
            return verdict(decide_unattributed(Stat::InIp6ExtChainDropped));
        }
        Parsed::NotNd
        | Parsed::Short {
            nd_typed: false, ..
        } => return PASS,
        Parsed::Malformed | Parsed::Short { nd_typed: true, .. } => {
            count(Stat::InNdMalformedPassed);
            return PASS;
        }
        Parsed::Nd(nd) => nd,
    };
    let Some(cfg) = vip::settings() else {
        count(Stat::InNdPassed);
        return PASS;
    };
    // Known before the lookup, so the source need not be kept across it.
    let from_unspecified = nd.src == ip6::UNSPECIFIED;
    if let Some(hit) = vip::lookup6::<NO_REAL>(cfg, &nd.target) {
        match nd.kind {
            Kind::Solicitation if from_unspecified => {
                return verdict(decide(
                    &hit,
                    cfg,
                    Stat::InDadNsDropped,
                    VipCounter::ProbesDropped,
                ));
            }
            Kind::Solicitation => {
                return verdict(decide(
                    &hit,
                    cfg,
                    Stat::InNsDropped,
                    VipCounter::RequestsDropped,
                ));
            }
            Kind::Advertisement if !hit.shows_conflicts() => {
                return verdict(decide(
                    &hit,
                    cfg,
                    Stat::InNaConflictHidden,
                    VipCounter::ConflictsHidden,
                ));
            }
            Kind::Advertisement => {}
        }
    }
    count(Stat::InNdPassed);
    PASS
}
