//! Neighbor Discovery fixture tables (docs/semantics.md rows N*, F*)
//! through BPF_PROG_TEST_RUN on the real programs, untagged and tagged.

use std::net::Ipv6Addr;

use rsdr_common::Stat::*;
use rsdr_tests::{
    datapath::{Datapath, TC_PASS, TC_SHOT, XDP_DROP, XDP_PASS},
    fixture::{Fixture as F, assert_covers, check, std_vips::*},
    frames::*,
};

const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xd1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Inbound: from the peer / director.
fn inb(nd: &Nd) -> Frame {
    nd.frame(PEER_MAC, SERVER_MAC)
}

/// Outbound: from the server.
fn out(nd: &Nd) -> Frame {
    nd.frame(SERVER_MAC, PEER_MAC)
}

/// The frame with its IPv6 payload length 0 (untagged).
fn zero_payload_len(f: Frame) -> Vec<u8> {
    let mut b = f.bytes();
    b[14 + 4..14 + 6].fill(0);
    b
}

fn cut(f: Frame, len: usize) -> Vec<u8> {
    let mut b = f.bytes();
    b.truncate(len);
    b
}

#[test]
fn xdp_ingress_nd() {
    let mut dp = datapath();
    let ns_vip = Nd::ns(PEER6, VIP6, PEER_MAC);
    let na_vip = Nd::na(VIP6, ALL_NODES, VIP6, DIRECTOR_MAC).with(|n| n.flags = 0x2000_0000);
    let rows = vec![
        F::new(
            "N1",
            "NS for a VIP6 with hop limit 64",
            inb(&ns_vip.clone().with(|n| n.hop_limit = 64)),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::new(
            "N1",
            "NS for a VIP6 with code 1",
            inb(&ns_vip.clone().with(|n| n.code = 1)),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::new(
            "N1",
            "NS for a VIP6 with IP version 4 in the header",
            inb(&ns_vip.clone().with(|n| n.version = 4)),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::raw(
            "N1",
            "NS cut after 10 ICMPv6 bytes",
            cut(inb(&ns_vip), 14 + 40 + 10),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::new(
            "N2",
            "DAD for a VIP6 (the director's)",
            inb(&Nd::dad(VIP6)),
            XDP_DROP,
            Some(InDadNsDropped),
        ),
        F::new(
            "N2",
            "DAD for a pool member",
            inb(&Nd::dad(POOLED6)),
            XDP_DROP,
            Some(InDadNsDropped),
        ),
        F::new(
            "N2",
            "monitored VIP6: counted, passed",
            inb(&Nd::dad(MON6)),
            XDP_PASS,
            Some(InDadNsDropped),
        )
        .monitored(),
        F::new(
            "N3",
            "NS for a VIP6",
            inb(&ns_vip),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a VIP6 following VRRP, not master here",
            inb(&Nd::ns(PEER6, VRRP6, PEER_MAC)),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a VIP6 whose VRRP master is this host: counted, passed",
            inb(&Nd::ns(PEER6, VRRP_MASTER6, PEER_MAC)),
            XDP_PASS,
            Some(InNsDropped),
        )
        .monitored(),
        F::new(
            "N3",
            "NS for a VIP6 from a link-local source",
            inb(&Nd::ns(PEER6_LL, VIP6, PEER_MAC)),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "unicast NS for a VIP6 (reachability)",
            Nd::ns(PEER6, VIP6, PEER_MAC)
                .with(|n| n.dst = VIP6)
                .frame(PEER_MAC, SERVER_MAC),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a pool member",
            inb(&Nd::ns(PEER6, POOLED6, PEER_MAC)),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a show-conflicts VIP6",
            inb(&Nd::ns(PEER6, SHOWN6, PEER_MAC)),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "monitored VIP6: counted, passed",
            inb(&Nd::ns(PEER6, MON6, PEER_MAC)),
            XDP_PASS,
            Some(InNsDropped),
        )
        .monitored(),
        F::new(
            "N4",
            "director's unsolicited NA for a VIP6",
            na_vip.frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_DROP,
            Some(InNaConflictHidden),
        ),
        F::new(
            "N4",
            "director's NA answering our DAD",
            Nd::na(VIP6, ALL_NODES, VIP6, DIRECTOR_MAC).frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_DROP,
            Some(InNaConflictHidden),
        ),
        F::new(
            "N4",
            "NA for a pool member",
            Nd::na(POOLED6, ALL_NODES, POOLED6, DIRECTOR_MAC).frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_DROP,
            Some(InNaConflictHidden),
        ),
        F::new(
            "N4",
            "monitored VIP6: counted, passed",
            Nd::na(MON6, ALL_NODES, MON6, DIRECTOR_MAC).frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_PASS,
            Some(InNaConflictHidden),
        )
        .monitored(),
        F::new(
            "N5",
            "NS for the real IPv6",
            inb(&Nd::ns(PEER6, REAL6, PEER_MAC)),
            XDP_PASS,
            Some(InNdPassed),
        ),
        F::new(
            "N5",
            "NA for the peer",
            Nd::na(PEER6, REAL6, PEER6, PEER_MAC).frame(PEER_MAC, SERVER_MAC),
            XDP_PASS,
            Some(InNdPassed),
        ),
        F::new(
            "N5",
            "NS sourced from a VIP6 for the real IPv6",
            inb(&Nd::ns(VIP6, REAL6, DIRECTOR_MAC)),
            XDP_PASS,
            Some(InNdPassed),
        ),
        F::new(
            "N5",
            "NA for a show-conflicts VIP6 reaches the host",
            Nd::na(SHOWN6, ALL_NODES, SHOWN6, DIRECTOR_MAC).frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_PASS,
            Some(InNdPassed),
        ),
        // Behind the extension headers Linux walks to deliver ND.
        F::new(
            "N1",
            "NS for a VIP6 behind a Destination Options header, hop limit 64",
            inb(&ns_vip
                .clone()
                .behind(&[Ext::dest_opts(0)])
                .with(|n| n.hop_limit = 64)),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::raw(
            "N1",
            "NS for a VIP6 with payload length 0 and no Hop-by-Hop header",
            zero_payload_len(inb(&ns_vip)),
            XDP_PASS,
            Some(InNdMalformedPassed),
        ),
        F::raw(
            "N3",
            "NS for a VIP6 behind Hop-by-Hop with payload length 0 (a jumbogram's: Linux takes every byte)",
            zero_payload_len(inb(&ns_vip.clone().behind(&[Ext::hop_by_hop(0)]))),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::raw(
            "N6",
            "NS behind a Destination Options header, cut inside its head (XDP: a first buffer)",
            cut(
                inb(&ns_vip.clone().behind(&[Ext::dest_opts(1)])),
                14 + 40 + 16 + 10,
            ),
            XDP_DROP,
            Some(InIp6ExtChainDropped),
        ),
        F::new(
            "N2",
            "DAD for a VIP6 behind a Hop-by-Hop header",
            inb(&Nd::dad(VIP6).behind(&[Ext::hop_by_hop(0)])),
            XDP_DROP,
            Some(InDadNsDropped),
        ),
        F::new(
            "N3",
            "NS for a VIP6 behind a Destination Options header",
            inb(&ns_vip.clone().behind(&[Ext::dest_opts(0)])),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "unicast NS for a VIP6 behind Hop-by-Hop, Routing (no segments left) and Destination Options",
            inb(&ns_vip.clone().with(|n| n.dst = VIP6).behind(&[
                Ext::hop_by_hop(1),
                Ext::routing(2, 0),
                Ext::dest_opts(0),
            ])),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a VIP6 behind 8 Destination Options headers (the most rsdr walks)",
            inb(&ns_vip.clone().behind(&[Ext::dest_opts(0); 8])),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a VIP6 behind a 256-byte Destination Options header",
            inb(&ns_vip.clone().behind(&[Ext::dest_opts(31)])),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "NS for a pool member behind a Hop-by-Hop header",
            inb(&Nd::ns(PEER6, POOLED6, PEER_MAC).behind(&[Ext::hop_by_hop(0)])),
            XDP_DROP,
            Some(InNsDropped),
        ),
        F::new(
            "N3",
            "monitored VIP6 behind a Destination Options header: counted, passed",
            inb(&Nd::ns(PEER6, MON6, PEER_MAC).behind(&[Ext::dest_opts(0)])),
            XDP_PASS,
            Some(InNsDropped),
        )
        .monitored(),
        F::new(
            "N4",
            "NA for a VIP6 behind a Destination Options header",
            Nd::na(VIP6, ALL_NODES, VIP6, DIRECTOR_MAC)
                .behind(&[Ext::dest_opts(0)])
                .frame(DIRECTOR_MAC, SERVER_MAC),
            XDP_DROP,
            Some(InNaConflictHidden),
        ),
        F::new(
            "N5",
            "NS for the real IPv6 behind a Destination Options header",
            inb(&Nd::ns(PEER6, REAL6, PEER_MAC).behind(&[Ext::dest_opts(0)])),
            XDP_PASS,
            Some(InNdPassed),
        ),
        F::new(
            "N6",
            "NS for a VIP6 behind 9 Destination Options headers",
            inb(&ns_vip.clone().behind(&[Ext::dest_opts(0); 9])),
            XDP_DROP,
            Some(InIp6ExtChainDropped),
        ),
        F::new(
            "N6",
            "IPv6 TCP behind a Hop-by-Hop and 8 Routing headers (no segments left)",
            Frame::new(
                SERVER_MAC,
                PEER_MAC,
                ETH_P_IPV6,
                ipv6_behind(
                    ipv6_tcp(PEER6, VIP6),
                    &[[Ext::hop_by_hop(0)].as_slice(), &[Ext::routing(0, 0); 8]].concat(),
                ),
            ),
            XDP_DROP,
            Some(InIp6ExtChainDropped),
        ),
        F::new(
            "-",
            "NS for a VIP6 behind a Routing header with a segment left",
            inb(&ns_vip
                .clone()
                .with(|n| n.dst = VIP6)
                .behind(&[Ext::routing(2, 1)])),
            XDP_PASS,
            None,
        ),
        F::new(
            "-",
            "NS for a VIP6 in a first fragment (Linux drops fragmented ND)",
            inb(&ns_vip.clone().behind(&[Ext::fragment(0)])),
            XDP_PASS,
            None,
        ),
        F::new(
            "-",
            "NS for a VIP6 behind a Hop-by-Hop header out of place",
            inb(&ns_vip
                .clone()
                .behind(&[Ext::dest_opts(0), Ext::hop_by_hop(0)])),
            XDP_PASS,
            None,
        ),
        F::raw(
            "N6",
            "IPv6 cut inside its second Destination Options header",
            cut(
                inb(&ns_vip.clone().behind(&[Ext::dest_opts(0); 2])),
                14 + 40 + 8 + 2,
            ),
            XDP_DROP,
            Some(InIp6ExtChainDropped),
        ),
        F::new(
            "-",
            "IPv6 TCP behind a Destination Options header",
            Frame::new(
                SERVER_MAC,
                PEER_MAC,
                ETH_P_IPV6,
                ipv6_behind(ipv6_tcp(PEER6, VIP6), &[Ext::dest_opts(0)]),
            ),
            XDP_PASS,
            None,
        ),
        F::new(
            "-",
            "ICMPv6 echo to a VIP6",
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IPV6, ipv6_echo(PEER6, VIP6)),
            XDP_PASS,
            None,
        ),
        F::new(
            "-",
            "IPv6 TCP to a VIP6",
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IPV6, ipv6_tcp(PEER6, VIP6)),
            XDP_PASS,
            None,
        ),
        F::raw(
            "-",
            "IPv6 header cut short",
            cut(inb(&ns_vip), 14 + 30),
            XDP_PASS,
            None,
        ),
    ];
    let covered = check(&mut dp, Datapath::xdp, &rows);
    // The TC ingress hook takes the same decisions.
    let mut tc = datapath();
    check(&mut tc, Datapath::tc_ingress_as_xdp, &rows);
    assert_covers(&covered, &['N']);
}

#[test]
fn tc_egress_nd() {
    let mut dp = datapath();
    let ns_from = |src: Ipv6Addr| Nd::ns(src, PEER6, SERVER_MAC);
    let rows = vec![
        F::new(
            "F1",
            "NA for a VIP6 with hop limit 64",
            out(&Nd::na(VIP6, PEER6, VIP6, SERVER_MAC).with(|n| n.hop_limit = 64)),
            TC_PASS,
            Some(OutNdMalformedPassed),
        ),
        F::new(
            "F1",
            "NS from a VIP6 with code 2",
            out(&ns_from(VIP6).with(|n| n.code = 2)),
            TC_PASS,
            Some(OutNdMalformedPassed),
        ),
        F::new(
            "F7",
            "keepalived's unsolicited NA for a VIP6 following VRRP, not (yet) master here",
            out(&Nd::na(VRRP6, ALL_NODES, VRRP6, SERVER_MAC).with(|n| n.flags = 0x2000_0000)),
            TC_PASS,
            Some(OutNaVrrpPassed),
        ),
        F::new(
            "F7",
            "unsolicited NA for a VIP6 whose VRRP master is this host",
            out(&Nd::na(VRRP_MASTER6, ALL_NODES, VRRP_MASTER6, SERVER_MAC)
                .with(|n| n.flags = 0x2000_0000)),
            TC_PASS,
            Some(OutNaVrrpPassed),
        ),
        F::new(
            "F2",
            "solicited NA for a VIP6 following VRRP, not master here",
            out(&Nd::na(VRRP6, PEER6, VRRP6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNaDropped),
        ),
        F::new(
            "F2",
            "solicited NA for a VIP6 whose VRRP master is this host: counted, sent",
            out(&Nd::na(VRRP_MASTER6, PEER6, VRRP_MASTER6, SERVER_MAC)),
            TC_PASS,
            Some(OutNaDropped),
        )
        .monitored(),
        F::new(
            "F3",
            "DAD NS for a VIP6 following VRRP, not master here",
            out(&Nd::ns(Ipv6Addr::UNSPECIFIED, VRRP6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNsForVipDropped),
        ),
        F::new(
            "F2",
            "solicited NA for a VIP6",
            out(&Nd::na(VIP6, PEER6, VIP6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNaDropped),
        ),
        F::new(
            "F2",
            "unsolicited NA for a VIP6 (address added, arp_notify-like)",
            out(&Nd::na(VIP6, ALL_NODES, VIP6, SERVER_MAC).with(|n| n.flags = 0x2000_0000)),
            TC_SHOT,
            Some(OutNaDropped),
        ),
        F::new(
            "F2",
            "NA for a VIP6 from the real source",
            out(&Nd::na(REAL6, PEER6, VIP6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNaDropped),
        ),
        F::new(
            "F2",
            "NA for a pool member",
            out(&Nd::na(POOLED6, PEER6, POOLED6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNaDropped),
        ),
        F::new(
            "F2",
            "monitored VIP6: counted, sent",
            out(&Nd::na(MON6, PEER6, MON6, SERVER_MAC)),
            TC_PASS,
            Some(OutNaDropped),
        )
        .monitored(),
        F::new(
            "F3",
            "our DAD for a VIP6",
            out(&Nd::dad(VIP6)),
            TC_SHOT,
            Some(OutNsForVipDropped),
        ),
        F::new(
            "F3",
            "our NS for a VIP6 from the real source",
            out(&Nd::ns(REAL6, VIP6, SERVER_MAC)),
            TC_SHOT,
            Some(OutNsForVipDropped),
        ),
        F::new(
            "F3",
            "our DAD for a pool member",
            out(&Nd::dad(POOLED6)),
            TC_SHOT,
            Some(OutNsForVipDropped),
        ),
        F::new(
            "F3",
            "monitored VIP6: counted, sent",
            out(&Nd::dad(MON6)),
            TC_PASS,
            Some(OutNsForVipDropped),
        )
        .monitored(),
        F::new(
            "-",
            "NS from a VIP6 behind a Destination Options header: not the host's ND, unchanged",
            out(&ns_from(VIP6).behind(&[Ext::dest_opts(0)])),
            TC_PASS,
            None,
        ),
        F::new(
            "-",
            "NA for a VIP6 behind 9 Destination Options headers: egress walks none",
            out(&Nd::na(VIP6, PEER6, VIP6, SERVER_MAC).behind(&[Ext::dest_opts(0); 9])),
            TC_PASS,
            None,
        ),
        F::new(
            "F4",
            "NS from a VIP6: source rewritten, checksum fixed",
            out(&ns_from(VIP6)),
            TC_PASS,
            Some(OutNsSourceRewritten),
        )
        .out(out(&ns_from(REAL6))),
        F::new(
            "F4",
            "NS from a pool member: the pool's real IPv6",
            out(&ns_from(POOLED6)),
            TC_PASS,
            Some(OutNsSourceRewritten),
        )
        .out(out(&ns_from(REAL6_POOL))),
        F::new(
            "F4",
            "unicast NS from a VIP6 (reachability)",
            out(&ns_from(VIP6).with(|n| n.dst = PEER6)),
            TC_PASS,
            Some(OutNsSourceRewritten),
        )
        .out(out(&ns_from(REAL6).with(|n| n.dst = PEER6))),
        F::new(
            "F4",
            "monitored VIP6: counted, unchanged",
            out(&ns_from(MON6)),
            TC_PASS,
            Some(OutNsSourceRewritten),
        )
        .monitored(),
        F::new(
            "F6",
            "NS from the real IPv6",
            out(&ns_from(REAL6)),
            TC_PASS,
            Some(OutNdPassed),
        ),
        F::new(
            "F6",
            "NA for the real IPv6",
            out(&Nd::na(REAL6, PEER6, REAL6, SERVER_MAC)),
            TC_PASS,
            Some(OutNdPassed),
        ),
        F::new(
            "F6",
            "DAD for a non-VIP",
            out(&Nd::dad(REAL6)),
            TC_PASS,
            Some(OutNdPassed),
        ),
        F::new(
            "-",
            "IPv6 TCP from a VIP6",
            Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IPV6, ipv6_tcp(VIP6, PEER6)),
            TC_PASS,
            None,
        ),
        F::new(
            "-",
            "ICMPv6 echo from a VIP6",
            Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IPV6, ipv6_echo(VIP6, PEER6)),
            TC_PASS,
            None,
        ),
    ];
    let covered = check(&mut dp, Datapath::tc, &rows);
    assert_covers(&covered, &['F']);
}
