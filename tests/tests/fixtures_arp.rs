//! ARP fixture tables (docs/semantics.md rows I*, E*) through
//! BPF_PROG_TEST_RUN on the real programs, untagged and tagged.

use std::net::Ipv4Addr;

use rsdr_common::Stat::*;
use rsdr_tests::{
    datapath::{Datapath, TC_PASS, TC_SHOT, XDP_DROP, XDP_PASS},
    fixture::{Fixture as F, assert_covers, check, std_vips::*},
    frames::*,
};

const ZERO: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xd1];

fn req(sender: Ipv4Addr, target: Ipv4Addr) -> Arp {
    Arp::request(PEER_MAC, sender, target)
}

/// Inbound ARP frame from the peer.
fn inb(a: &Arp) -> Frame {
    Frame::arp(PEER_MAC, a)
}

/// Outbound ARP frame from the server.
fn out(a: &Arp) -> Frame {
    Frame::arp(SERVER_MAC, a)
}

fn sreq(sender: Ipv4Addr, target: Ipv4Addr) -> Arp {
    Arp::request(SERVER_MAC, sender, target)
}

fn truncated(f: Frame, len: usize) -> Vec<u8> {
    let mut b = f.bytes();
    b.truncate(len);
    b
}

#[test]
fn xdp_ingress_arp() {
    let mut dp = datapath();
    let garp = Arp::request(DIRECTOR_MAC, VIP, VIP);
    let probe_reply = Arp::reply(DIRECTOR_MAC, VIP, SERVER_MAC, ZERO);
    let rows = vec![
        F::new(
            "I1",
            "htype 2",
            inb(&req(PEER, VIP).with(|a| a.htype = 2)),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::new(
            "I1",
            "ptype IPv6",
            inb(&req(PEER, VIP).with(|a| a.ptype = ETH_P_IPV6)),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::new(
            "I1",
            "hlen 8",
            inb(&req(PEER, VIP).with(|a| a.hlen = 8)),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::new(
            "I1",
            "plen 16",
            inb(&req(PEER, VIP).with(|a| a.plen = 16)),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::raw(
            "I1",
            "header cut at 27 bytes",
            truncated(inb(&req(PEER, VIP)), 14 + 27),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::raw(
            "I1",
            "ARP EtherType, no header",
            truncated(inb(&req(PEER, VIP)), 14),
            XDP_PASS,
            Some(InArpMalformedPassed),
        ),
        F::new(
            "I2",
            "director's gratuitous ARP request",
            Frame::arp(DIRECTOR_MAC, &garp),
            XDP_DROP,
            Some(InArpConflictHidden),
        ),
        F::new(
            "I2",
            "director's gratuitous ARP reply",
            Frame::arp(DIRECTOR_MAC, &Arp::reply(DIRECTOR_MAC, VIP, BROADCAST, VIP)),
            XDP_DROP,
            Some(InArpConflictHidden),
        ),
        F::new(
            "I2",
            "director's reply to our probe (T = 0.0.0.0)",
            Frame::arp(DIRECTOR_MAC, &probe_reply),
            XDP_DROP,
            Some(InArpConflictHidden),
        ),
        F::new(
            "I2",
            "request from a VIP for the real IP",
            inb(&req(VIP, REAL)),
            XDP_DROP,
            Some(InArpConflictHidden),
        ),
        F::new(
            "I2",
            "announcement of a pool member",
            inb(&req(POOLED, POOLED)),
            XDP_DROP,
            Some(InArpConflictHidden),
        ),
        F::new(
            "I2",
            "monitored VIP: counted, passed",
            inb(&req(MON, MON)),
            XDP_PASS,
            Some(InArpConflictHidden),
        )
        .monitored(),
        F::new(
            "I3",
            "probe for a VIP",
            inb(&req(ZERO, VIP)),
            XDP_DROP,
            Some(InArpProbeDropped),
        ),
        F::new(
            "I3",
            "probe for a pool member",
            inb(&req(ZERO, POOLED)),
            XDP_DROP,
            Some(InArpProbeDropped),
        ),
        F::new(
            "I3",
            "probe for a show-conflicts VIP",
            inb(&req(ZERO, SHOWN)),
            XDP_DROP,
            Some(InArpProbeDropped),
        ),
        F::new(
            "I3",
            "monitored VIP: counted, passed",
            inb(&req(ZERO, MON)),
            XDP_PASS,
            Some(InArpProbeDropped),
        )
        .monitored(),
        F::new(
            "I4",
            "request for a VIP",
            inb(&req(PEER, VIP)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "request for a VIP following VRRP, not master here",
            inb(&req(PEER, VRRP)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "request for a VIP whose VRRP master is this host: counted, passed",
            inb(&req(PEER, VRRP_MASTER)),
            XDP_PASS,
            Some(InArpRequestDropped),
        )
        .monitored(),
        F::new(
            "I4",
            "request for a VIP, padded to 60 bytes",
            inb(&req(PEER, VIP)).padded(),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "request for the second VIP",
            inb(&req(PEER, VIP2)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "request for a pool member",
            inb(&req(PEER, POOLED)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "request for an exact VIP inside a pool",
            inb(&req(PEER, EXACT_IN_POOL)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "unicast request for a VIP",
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_ARP, req(PEER, VIP).bytes()),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "htype 6 (IEEE 802), which Linux answers",
            inb(&req(PEER, VIP).with(|a| a.htype = 6)),
            XDP_DROP,
            Some(InArpRequestDropped),
        ),
        F::new(
            "I4",
            "monitored VIP: counted, passed",
            inb(&req(PEER, MON)),
            XDP_PASS,
            Some(InArpRequestDropped),
        )
        .monitored(),
        F::new(
            "I5",
            "request for the real IP",
            inb(&req(PEER, REAL)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "request for an unrelated address",
            inb(&req(PEER, OTHER)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "request just outside a pool",
            inb(&req(PEER, OUTSIDE_POOL)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "reply to the real server",
            inb(&Arp::reply(PEER_MAC, PEER, SERVER_MAC, REAL)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "opcode 3 (RARP) for a VIP",
            inb(&req(PEER, VIP).with(|a| a.oper = 3)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "show-conflicts VIP: director's announcement reaches the host",
            Frame::arp(DIRECTOR_MAC, &Arp::request(DIRECTOR_MAC, SHOWN, SHOWN)),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "I5",
            "show-conflicts VIP: reply to our probe reaches the host",
            Frame::arp(
                DIRECTOR_MAC,
                &Arp::reply(DIRECTOR_MAC, SHOWN, SERVER_MAC, ZERO),
            ),
            XDP_PASS,
            Some(InArpPassed),
        ),
        F::new(
            "-",
            "IPv4 TCP to a VIP",
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, ipv4_tcp(PEER, VIP)),
            XDP_PASS,
            None,
        ),
        F::raw(
            "-",
            "three VLAN tags: not inspected",
            inb(&req(PEER, VIP))
                .tagged(ETH_P_8021AD, 1)
                .tagged(ETH_P_8021Q, 2)
                .tagged(ETH_P_8021Q, 3)
                .bytes(),
            XDP_PASS,
            None,
        ),
        F::raw(
            "-",
            "frame cut inside a VLAN tag",
            truncated(inb(&req(PEER, VIP)).tagged(ETH_P_8021Q, 5), 16),
            XDP_PASS,
            None,
        ),
        F::raw(
            "-",
            "bare Ethernet header",
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, vec![]).bytes(),
            XDP_PASS,
            None,
        ),
    ];
    let covered = check(&mut dp, Datapath::xdp, &rows);
    // The TC ingress hook takes the same decisions.
    let mut tc = datapath();
    check(&mut tc, Datapath::tc_ingress_as_xdp, &rows);
    assert_covers(&covered, &['I']);
}

#[test]
fn tc_egress_arp() {
    let mut dp = datapath();
    let rw = |sender: Ipv4Addr, real: Ipv4Addr| {
        F::new(
            "E4",
            "",
            out(&sreq(sender, PEER)),
            TC_PASS,
            Some(OutArpSenderRewritten),
        )
        .out(out(&sreq(real, PEER)))
    };
    let named = |mut f: F, desc: &'static str| {
        f.desc = desc;
        f
    };
    let rows = vec![
        F::new(
            "E1",
            "ptype IPv6",
            out(&sreq(VIP, PEER).with(|a| a.ptype = ETH_P_IPV6)),
            TC_PASS,
            Some(OutArpMalformedPassed),
        ),
        F::new(
            "E1",
            "plen 6",
            out(&sreq(VIP, PEER).with(|a| a.plen = 6)),
            TC_PASS,
            Some(OutArpMalformedPassed),
        ),
        F::raw(
            "E1",
            "header cut at 20 bytes",
            truncated(out(&sreq(VIP, PEER)), 14 + 20),
            TC_PASS,
            Some(OutArpMalformedPassed),
        ),
        F::new(
            "E2",
            "gratuitous ARP request for a VIP",
            out(&sreq(VIP, VIP)),
            TC_SHOT,
            Some(OutArpAnnouncementDropped),
        ),
        F::new(
            "E2",
            "gratuitous ARP reply (arping -A)",
            out(&Arp::reply(SERVER_MAC, VIP, BROADCAST, VIP)),
            TC_SHOT,
            Some(OutArpAnnouncementDropped),
        ),
        F::new(
            "E2",
            "announcement of a pool member",
            out(&sreq(POOLED, POOLED)),
            TC_SHOT,
            Some(OutArpAnnouncementDropped),
        ),
        F::new(
            "E2",
            "monitored VIP: counted, sent",
            out(&sreq(MON, MON)),
            TC_PASS,
            Some(OutArpAnnouncementDropped),
        )
        .monitored(),
        F::new(
            "E8",
            "keepalived's gratuitous ARP for a VIP following VRRP, not (yet) master here",
            out(&sreq(VRRP, VRRP)),
            TC_PASS,
            Some(OutArpVrrpAnnouncementPassed),
        ),
        F::new(
            "E8",
            "gratuitous ARP for a VIP whose VRRP master is this host",
            out(&sreq(VRRP_MASTER, VRRP_MASTER)),
            TC_PASS,
            Some(OutArpVrrpAnnouncementPassed),
        ),
        F::new(
            "E3",
            "reply from a VIP following VRRP, not master here",
            out(&Arp::reply(SERVER_MAC, VRRP, PEER_MAC, PEER)),
            TC_SHOT,
            Some(OutArpReplyDropped),
        ),
        F::new(
            "E3",
            "reply from a VIP whose VRRP master is this host: counted, sent",
            out(&Arp::reply(SERVER_MAC, VRRP_MASTER, PEER_MAC, PEER)),
            TC_PASS,
            Some(OutArpReplyDropped),
        )
        .monitored(),
        F::new(
            "E3",
            "reply from a VIP",
            out(&Arp::reply(SERVER_MAC, VIP, PEER_MAC, PEER)),
            TC_SHOT,
            Some(OutArpReplyDropped),
        ),
        F::new(
            "E3",
            "reply from a pool member",
            out(&Arp::reply(SERVER_MAC, POOLED, PEER_MAC, PEER)),
            TC_SHOT,
            Some(OutArpReplyDropped),
        ),
        F::new(
            "E3",
            "monitored VIP: counted, sent",
            out(&Arp::reply(SERVER_MAC, MON, PEER_MAC, PEER)),
            TC_PASS,
            Some(OutArpReplyDropped),
        )
        .monitored(),
        named(
            rw(VIP, REAL),
            "request from a VIP (42 bytes, as the kernel builds it)",
        ),
        named(rw(VIP2, REAL2), "request from the second VIP"),
        named(rw(POOLED, REAL), "request from a pool member"),
        named(
            rw(EXACT_IN_POOL, REAL_EXACT_IN_POOL),
            "request from an exact VIP inside a pool: its own real IP",
        ),
        F::new(
            "E4",
            "request from a VIP, padded",
            out(&sreq(VIP, PEER)).padded(),
            TC_PASS,
            Some(OutArpSenderRewritten),
        )
        .out(out(&sreq(REAL, PEER)).padded()),
        F::new(
            "E4",
            "request from a VIP, htype 6",
            out(&sreq(VIP, PEER).with(|a| a.htype = 6)),
            TC_PASS,
            Some(OutArpSenderRewritten),
        )
        .out(out(&sreq(REAL, PEER).with(|a| a.htype = 6))),
        F::new(
            "E4",
            "monitored VIP: counted, unchanged",
            out(&sreq(MON, PEER)),
            TC_PASS,
            Some(OutArpSenderRewritten),
        )
        .monitored(),
        F::new(
            "E6",
            "our probe for a VIP (arping -D)",
            out(&sreq(ZERO, VIP)),
            TC_SHOT,
            Some(OutArpProbeDropped),
        ),
        F::new(
            "E6",
            "our probe for a pool member",
            out(&sreq(ZERO, POOLED)),
            TC_SHOT,
            Some(OutArpProbeDropped),
        ),
        F::new(
            "E6",
            "monitored VIP: counted, sent",
            out(&sreq(ZERO, MON)),
            TC_PASS,
            Some(OutArpProbeDropped),
        )
        .monitored(),
        F::new(
            "E7",
            "request from the real IP",
            out(&sreq(REAL, PEER)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "E7",
            "reply from the real IP",
            out(&Arp::reply(SERVER_MAC, REAL, PEER_MAC, PEER)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "E7",
            "request for a VIP from the real IP",
            out(&sreq(REAL, VIP)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "E7",
            "probe for a non-VIP",
            out(&sreq(ZERO, OTHER)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "E7",
            "opcode 3 from a VIP",
            out(&sreq(VIP, PEER).with(|a| a.oper = 3)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "E7",
            "request from just outside a pool",
            out(&sreq(OUTSIDE_POOL, PEER)),
            TC_PASS,
            Some(OutArpPassed),
        ),
        F::new(
            "-",
            "IPv4 TCP from a VIP",
            Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IP, ipv4_tcp(VIP, PEER)),
            TC_PASS,
            None,
        ),
        F::raw(
            "-",
            "three VLAN tags: not inspected",
            out(&sreq(VIP, PEER))
                .tagged(ETH_P_8021AD, 1)
                .tagged(ETH_P_8021Q, 2)
                .tagged(ETH_P_8021Q, 3)
                .bytes(),
            TC_PASS,
            None,
        ),
    ];
    let covered = check(&mut dp, Datapath::tc, &rows);
    assert_covers(&covered, &['E']);
}
