//! Egress decisions (TC): one function per frame kind, each following its
//! table in docs/semantics.md. Decisions about a VIP in monitor mode are
//! counted and the frame leaves unchanged.
//!
//! Packet bytes are only read directly; writes go through helpers
//! (`bpf_skb_store_bytes`, `bpf_l4_csum_replace`). A direct packet write
//! would make the verifier start this program with a `bpf_skb_pull_data`
//! call on every cloned skb (every TCP segment), copying shared headers.

use aya_ebpf::{
    bindings::{BPF_F_PSEUDO_HDR, TC_ACT_SHOT, TC_ACT_UNSPEC},
    helpers::bpf_csum_diff,
    programs::TcContext,
};
use aya_log_ebpf::warn;
use rsdr_common::{Settings, Stat, VipCounter};

use crate::{
    arp::{self, ARP_LEN, OP_REPLY, OP_REQUEST, SPA_OFFSET},
    counters::{count, count_vip, decide},
    frame::Frame,
    ip6::{self, Ip6},
    l2::{self, L3},
    nd::{CSUM_OFFSET, Kind, Parsed, SRC_OFFSET},
    skb::{linear, parse_nd},
    vip::{self, Hit, NO_REAL, WITH_REAL},
};

/// "No opinion": the frame continues to the next program / the device. Used
/// instead of TC_ACT_OK so rsdr composes with other TC programs.
const PASS: i32 = TC_ACT_UNSPEC;
/// Dropped. TCX honours only pass, drop and redirect, so a packet-socket
/// sender (arping, NetworkManager's n-acd) sees ENOBUFS from sendto, which
/// n-acd treats as a dropped packet; the kernel ignores it for its own ARP/ND.
const DROP: i32 = TC_ACT_SHOT as i32;

#[inline(always)]
fn verdict(enforce: bool) -> i32 {
    if enforce { DROP } else { PASS }
}

/// `BENCH_TAIL_CALL` builds the benchmark's variant, which hands ARP
/// rewrites to a tail-called direct writer (bench_writes.rs says why rsdr
/// does not).
#[inline(always)]
pub fn tc<const BENCH_TAIL_CALL: bool>(ctx: &TcContext) -> i32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    match l2::locate(&frame) {
        Some(L3::Arp(off)) => arp_frame::<BENCH_TAIL_CALL>(ctx, off),
        Some(L3::Ipv6(off)) => nd_frame(ctx, &frame, off),
        None => PASS,
    }
}

/// ARP leaving the real server (docs/semantics.md, rows E1-E7).
///
/// | frame                                     | action                | counter                        |
/// |-------------------------------------------|-----------------------|--------------------------------|
/// | truncated / not Ethernet-IPv4 ARP         | pass                  | out_arp_malformed_passed       |
/// | sender = target = VIP, VIP follows VRRP   | pass                  | out_arp_vrrp_announcement_passed |
/// | sender = target = VIP (gratuitous ARP)    | drop                  | out_arp_announcement_dropped   |
/// | reply, sender = VIP                       | drop                  | out_arp_reply_from_vip_dropped |
/// | request, sender = VIP                     | sender IP := real IP  | out_arp_sender_rewritten       |
/// |   (store refused: drop, never leak)       | drop                  | out_arp_rewrite_failed         |
/// | request, sender 0.0.0.0, target = VIP     | drop                  | out_arp_probe_for_vip_dropped  |
/// | anything else                             | pass                  | out_arp_passed                 |
#[inline(always)]
fn arp_frame<const BENCH_TAIL_CALL: bool>(ctx: &TcContext, off: usize) -> i32 {
    let frame = linear(ctx, off + ARP_LEN);
    let Some(arp) = arp::parse(&frame, off) else {
        count(Stat::OutArpMalformedPassed);
        return PASS;
    };
    let Some(cfg) = vip::settings() else {
        count(Stat::OutArpPassed);
        return PASS;
    };
    if arp.sender_ip != 0 {
        if let Some(hit) = vip::lookup4::<WITH_REAL>(cfg, arp.sender_ip) {
            if arp.target_ip == arp.sender_ip {
                if hit.follows_vrrp() {
                    let (stat, counter) = (
                        Stat::OutArpVrrpAnnouncementPassed,
                        VipCounter::AnnouncementsPassed,
                    );
                    count_vip(&hit, stat, counter, false);
                    return PASS;
                }
                return verdict(decide(
                    &hit,
                    cfg,
                    Stat::OutArpAnnouncementDropped,
                    VipCounter::AnnouncementsDropped,
                ));
            }
            if arp.oper == OP_REPLY {
                return verdict(decide(
                    &hit,
                    cfg,
                    Stat::OutArpReplyDropped,
                    VipCounter::RepliesDropped,
                ));
            }
            if arp.oper == OP_REQUEST {
                return rewrite_arp_sender::<BENCH_TAIL_CALL>(ctx, off, &hit, cfg);
            }
        }
    } else if arp.oper == OP_REQUEST {
        if let Some(hit) = vip::lookup4::<NO_REAL>(cfg, arp.target_ip) {
            return verdict(decide(
                &hit,
                cfg,
                Stat::OutArpProbeDropped,
                VipCounter::OwnProbesDropped,
            ));
        }
    }
    count(Stat::OutArpPassed);
    PASS
}

#[inline(always)]
fn rewrite_arp_sender<const BENCH_TAIL_CALL: bool>(
    ctx: &TcContext,
    off: usize,
    hit: &Hit<u32>,
    cfg: &Settings,
) -> i32 {
    let (stat, counter) = (Stat::OutArpSenderRewritten, VipCounter::SendersRewritten);
    if hit.monitored(cfg) {
        count_vip(hit, stat, counter, true);
        return PASS;
    }
    #[cfg(feature = "bench")]
    if BENCH_TAIL_CALL {
        count_vip(hit, stat, counter, false);
        crate::bench_writes::hand_over(ctx, off + SPA_OFFSET, hit.real);
        return DROP;
    }
    if ctx.store(off + SPA_OFFSET, &hit.real, 0).is_err() {
        count(Stat::OutArpRewriteFailed);
        warn!(ctx, "rsdr: could not rewrite an ARP sender; frame dropped");
        return DROP;
    }
    count_vip(hit, stat, counter, false);
    PASS
}

/// Neighbor Discovery leaving the real server (rows F1-F6).
///
/// | frame                                | action                      | counter                  |
/// |--------------------------------------|-----------------------------|--------------------------|
/// | other IPv6                           | pass                        | -                        |
/// | NS/NA type, not valid ND             | pass                        | out_nd_malformed_passed  |
/// | unsolicited NA, VIP6 follows VRRP    | pass                        | out_na_vrrp_announcement_passed |
/// | NA, target = VIP6                    | drop                        | out_na_for_vip_dropped   |
/// | NS, target = VIP6 (our DAD)          | drop                        | out_ns_for_vip_dropped   |
/// | NS, IPv6 source = VIP6               | source := real6, checksum   | out_ns_source_rewritten  |
/// |   (rewrite refused: drop)            | drop                        | out_ns_rewrite_failed    |
/// | any other NS/NA                      | pass                        | out_nd_passed            |
#[inline(always)]
fn nd_frame(ctx: &TcContext, frame: &Frame, off: usize) -> i32 {
    let nd = match parse_nd::<false>(ctx, frame, off) {
        // Plain ND only: never behind extension headers.
        Parsed::NotNd
        | Parsed::Short {
            nd_typed: false, ..
        }
        | Parsed::ExtChainTooLong => {
            return PASS;
        }
        Parsed::Malformed | Parsed::Short { nd_typed: true, .. } => {
            count(Stat::OutNdMalformedPassed);
            return PASS;
        }
        Parsed::Nd(nd) => nd,
    };
    let Some(cfg) = vip::settings() else {
        count(Stat::OutNdPassed);
        return PASS;
    };
    if let Some(hit) = vip::lookup6::<NO_REAL>(cfg, &nd.target) {
        return match nd.kind {
            Kind::Advertisement if hit.follows_vrrp() && !nd.solicited => {
                count_vip(
                    &hit,
                    Stat::OutNaVrrpPassed,
                    VipCounter::AnnouncementsPassed,
                    false,
                );
                PASS
            }
            Kind::Advertisement => verdict(decide(
                &hit,
                cfg,
                Stat::OutNaDropped,
                VipCounter::AnnouncementsDropped,
            )),
            Kind::Solicitation => verdict(decide(
                &hit,
                cfg,
                Stat::OutNsForVipDropped,
                VipCounter::OwnProbesDropped,
            )),
        };
    }
    if nd.kind == Kind::Solicitation {
        if let Some(hit) = vip::lookup6::<WITH_REAL>(cfg, &nd.src) {
            return rewrite_ns_source(ctx, off, &nd.src, &hit, cfg);
        }
    }
    count(Stat::OutNdPassed);
    PASS
}

#[inline(always)]
fn rewrite_ns_source(
    ctx: &TcContext,
    off: usize,
    old: &Ip6,
    hit: &Hit<Ip6>,
    cfg: &Settings,
) -> i32 {
    let (stat, counter) = (Stat::OutNsSourceRewritten, VipCounter::SendersRewritten);
    if hit.monitored(cfg) {
        count_vip(hit, stat, counter, true);
        return PASS;
    }
    let mut from = ip6::words32(old);
    let mut to = ip6::words32(&hit.real);
    // SAFETY: both buffers are 16-byte stack arrays, as the sizes say.
    let diff = unsafe { bpf_csum_diff(from.as_mut_ptr(), 16, to.as_mut_ptr(), 16, 0) };
    if diff < 0
        || ctx.store(off + SRC_OFFSET, &hit.real, 0).is_err()
        || ctx
            .l4_csum_replace(off + CSUM_OFFSET, 0, diff as u64, BPF_F_PSEUDO_HDR as u64)
            .is_err()
    {
        count(Stat::OutNsRewriteFailed);
        warn!(ctx, "rsdr: could not rewrite an NS source; frame dropped");
        return DROP;
    }
    count_vip(hit, stat, counter, false);
    PASS
}
