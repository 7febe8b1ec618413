//! Fixture tables for the IPv4 ARP datapath, run through BPF_PROG_TEST_RUN
//! on the real loaded programs. Each row: what the frame is, the frame, the
//! verdict expected, the frame expected out (None = unchanged) and the one
//! global counter the decision must bump (None = no ARP decision taken).

use std::net::Ipv4Addr;

use rsdr_common::{Stat, VipCounter};
use rsdr_tests::{
    datapath::{Datapath, Run, TC_PASS, XDP_DROP, XDP_PASS},
    frames::*,
    hex,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const REAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const REAL2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);

struct Fixture {
    desc: &'static str,
    input: Vec<u8>,
    verdict: u32,
    output: Option<Vec<u8>>,
    counter: Option<Stat>,
}

fn row(desc: &'static str, input: Frame, verdict: u32, output: Option<Frame>, counter: Option<Stat>) -> Fixture {
    Fixture { desc, input: input.bytes(), verdict, output: output.map(|f| f.bytes()), counter }
}

fn raw(desc: &'static str, input: Vec<u8>, verdict: u32, counter: Option<Stat>) -> Fixture {
    Fixture { desc, input, verdict, output: None, counter }
}

fn datapath() -> Datapath {
    let mut dp = Datapath::load();
    dp.add_vip(VIP, REAL);
    dp.add_vip(VIP2, REAL2);
    dp
}

/// Run every row; report all failures at once, with both frames in hex.
fn check(dp: &mut Datapath, run: fn(&mut Datapath, &[u8]) -> Run, rows: Vec<Fixture>) {
    let mut failures = Vec::new();
    for f in &rows {
        let before = dp.all_stats();
        let got = run(dp, &f.input);
        let after = dp.all_stats();
        let expected_out = f.output.clone().unwrap_or_else(|| f.input.clone());
        let mut problems = Vec::new();
        if got.verdict != f.verdict {
            problems.push(format!("verdict {} (0x{:x}), expected {} (0x{:x})", got.verdict as i32, got.verdict, f.verdict as i32, f.verdict));
        }
        if got.output != expected_out {
            problems.push(format!("output frame differs\n input:\n{}  got:\n{}  expected:\n{}", hex::dump(&f.input), hex::dump(&got.output), hex::dump(&expected_out)));
        }
        let bumped: Vec<&str> = rsdr_common::Stat::ALL
            .iter()
            .zip(before.iter().zip(after.iter()))
            .filter(|(_, (b, a))| a != b)
            .map(|(s, _)| s.name())
            .collect();
        let want: Vec<&str> = f.counter.iter().map(|s| s.name()).collect();
        if bumped != want || f.counter.is_some_and(|s| after[s as usize] != before[s as usize] + 1) {
            problems.push(format!("counters bumped {bumped:?}, expected exactly {want:?} by one"));
        }
        if !problems.is_empty() {
            failures.push(format!("- {}: {}", f.desc, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

fn req(sender: Ipv4Addr, target: Ipv4Addr) -> Arp {
    Arp::request(PEER_MAC, sender, target)
}

fn arp_in(a: &Arp) -> Frame {
    Frame::arp(PEER_MAC, a)
}

fn arp_out(a: &Arp) -> Frame {
    Frame::arp(SERVER_MAC, a)
}

#[test]
fn xdp_ingress_fixtures() {
    let mut dp = datapath();
    let truncated = {
        let mut b = arp_in(&req(PEER, VIP)).bytes();
        b.truncate(14 + 27);
        b
    };
    let header_only = {
        let mut b = arp_in(&req(PEER, VIP)).bytes();
        b.truncate(14);
        b
    };
    let tagged_truncated = {
        let mut b = arp_in(&req(PEER, VIP)).tagged(ETH_P_8021Q, 5).bytes();
        b.truncate(16);
        b
    };
    let rows = vec![
        row("request for a VIP", arp_in(&req(PEER, VIP)), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("request for a VIP, padded to 60 bytes", arp_in(&req(PEER, VIP)).padded(), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("request for the second VIP", arp_in(&req(PEER, VIP2)), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("unicast request for a VIP (reachability probe)", Frame::new(SERVER_MAC, PEER_MAC, ETH_P_ARP, req(PEER, VIP).bytes()), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("request for a VIP with htype 6 (IEEE 802), which Linux answers", arp_in(&req(PEER, VIP).with(|a| a.htype = 6)), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("request for the real IP", arp_in(&req(PEER, REAL)), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("request for an unrelated address", arp_in(&req(PEER, OTHER)), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("reply to the real server", arp_in(&Arp::reply(PEER_MAC, PEER, SERVER_MAC, REAL)), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("request whose sender is a VIP, target the real IP", arp_in(&req(VIP, REAL)), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("ARP opcode 3 (RARP request) for a VIP", arp_in(&req(PEER, VIP).with(|a| a.oper = 3)), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("htype 2 for a VIP", arp_in(&req(PEER, VIP).with(|a| a.htype = 2)), XDP_PASS, None, Some(Stat::InArpMalformedPassed)),
        row("ptype IPv6 for a VIP", arp_in(&req(PEER, VIP).with(|a| a.ptype = ETH_P_IPV6)), XDP_PASS, None, Some(Stat::InArpMalformedPassed)),
        row("hlen 8 for a VIP", arp_in(&req(PEER, VIP).with(|a| a.hlen = 8)), XDP_PASS, None, Some(Stat::InArpMalformedPassed)),
        row("plen 16 for a VIP", arp_in(&req(PEER, VIP).with(|a| a.plen = 16)), XDP_PASS, None, Some(Stat::InArpMalformedPassed)),
        raw("ARP header truncated at 27 bytes", truncated, XDP_PASS, Some(Stat::InArpMalformedPassed)),
        raw("ARP EtherType, no ARP header", header_only, XDP_PASS, Some(Stat::InArpMalformedPassed)),
        row("802.1Q-tagged request for a VIP", arp_in(&req(PEER, VIP)).tagged(ETH_P_8021Q, 10), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("802.1ad + 802.1Q (QinQ) request for a VIP", arp_in(&req(PEER, VIP)).tagged(ETH_P_8021AD, 100).tagged(ETH_P_8021Q, 10), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("802.1Q + 802.1Q request for a VIP", arp_in(&req(PEER, VIP)).tagged(ETH_P_8021Q, 100).tagged(ETH_P_8021Q, 10), XDP_DROP, None, Some(Stat::InArpRequestForVipDropped)),
        row("802.1Q-tagged request for the real IP", arp_in(&req(PEER, REAL)).tagged(ETH_P_8021Q, 10), XDP_PASS, None, Some(Stat::InArpPassed)),
        row("802.1Q-tagged malformed ARP", arp_in(&req(PEER, VIP).with(|a| a.hlen = 0)).tagged(ETH_P_8021Q, 10), XDP_PASS, None, Some(Stat::InArpMalformedPassed)),
        row("three tags: beyond what rsdr parses", arp_in(&req(PEER, VIP)).tagged(ETH_P_8021AD, 1).tagged(ETH_P_8021Q, 2).tagged(ETH_P_8021Q, 3), XDP_PASS, None, None),
        raw("tagged frame cut inside the tag", tagged_truncated, XDP_PASS, None),
        row("IPv4 TCP to a VIP", Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, ipv4_tcp(PEER, VIP)), XDP_PASS, None, None),
        row("IPv6 TCP", Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IPV6, ipv6_tcp("2001:db8::1".parse().unwrap(), "2001:db8::10".parse().unwrap())), XDP_PASS, None, None),
        row("802.1Q-tagged IPv4 TCP to a VIP", Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, ipv4_tcp(PEER, VIP)).tagged(ETH_P_8021Q, 10), XDP_PASS, None, None),
        raw("bare Ethernet header, IPv4 EtherType", Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, vec![]).bytes(), XDP_PASS, None),
    ];
    check(&mut dp, Datapath::xdp, rows);
}

#[test]
fn tc_egress_fixtures() {
    let mut dp = datapath();
    let from_vip = Arp::request(SERVER_MAC, VIP, PEER);
    let rewritten = Arp::request(SERVER_MAC, REAL, PEER);
    let truncated = {
        let mut b = arp_out(&from_vip).bytes();
        b.truncate(14 + 20);
        b
    };
    let rows = vec![
        row("request sourced from a VIP (as the kernel builds it, 42 bytes)", arp_out(&from_vip), TC_PASS, Some(arp_out(&rewritten)), Some(Stat::OutArpSenderRewritten)),
        row("request sourced from a VIP, padded", arp_out(&from_vip).padded(), TC_PASS, Some(arp_out(&rewritten).padded()), Some(Stat::OutArpSenderRewritten)),
        row("request sourced from the second VIP", arp_out(&Arp::request(SERVER_MAC, VIP2, PEER)), TC_PASS, Some(arp_out(&Arp::request(SERVER_MAC, REAL2, PEER))), Some(Stat::OutArpSenderRewritten)),
        row("request sourced from a VIP with htype 6", arp_out(&from_vip.clone().with(|a| a.htype = 6)), TC_PASS, Some(arp_out(&rewritten.clone().with(|a| a.htype = 6))), Some(Stat::OutArpSenderRewritten)),
        row("802.1Q-tagged request sourced from a VIP", arp_out(&from_vip).tagged(ETH_P_8021Q, 10), TC_PASS, Some(arp_out(&rewritten).tagged(ETH_P_8021Q, 10)), Some(Stat::OutArpSenderRewritten)),
        row("QinQ request sourced from a VIP", arp_out(&from_vip).tagged(ETH_P_8021AD, 100).tagged(ETH_P_8021Q, 10), TC_PASS, Some(arp_out(&rewritten).tagged(ETH_P_8021AD, 100).tagged(ETH_P_8021Q, 10)), Some(Stat::OutArpSenderRewritten)),
        row("request sourced from the real IP", arp_out(&Arp::request(SERVER_MAC, REAL, PEER)), TC_PASS, None, Some(Stat::OutArpPassed)),
        row("request for a VIP sourced from the real IP", arp_out(&Arp::request(SERVER_MAC, REAL, VIP)), TC_PASS, None, Some(Stat::OutArpPassed)),
        row("reply from the real IP", arp_out(&Arp::reply(SERVER_MAC, REAL, PEER_MAC, PEER)), TC_PASS, None, Some(Stat::OutArpPassed)),
        row("request from a VIP, ptype IPv6", arp_out(&from_vip.clone().with(|a| a.ptype = ETH_P_IPV6)), TC_PASS, None, Some(Stat::OutArpMalformedPassed)),
        row("request from a VIP, plen 6", arp_out(&from_vip.clone().with(|a| a.plen = 6)), TC_PASS, None, Some(Stat::OutArpMalformedPassed)),
        raw("request from a VIP truncated at 20 bytes", truncated, TC_PASS, Some(Stat::OutArpMalformedPassed)),
        row("three tags: beyond what rsdr parses", arp_out(&from_vip).tagged(ETH_P_8021AD, 1).tagged(ETH_P_8021Q, 2).tagged(ETH_P_8021Q, 3), TC_PASS, None, None),
        row("IPv4 TCP from a VIP", Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IP, ipv4_tcp(VIP, PEER)), TC_PASS, None, None),
        row("IPv6 TCP", Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IPV6, ipv6_tcp("2001:db8::10".parse().unwrap(), "2001:db8::1".parse().unwrap())), TC_PASS, None, None),
    ];
    check(&mut dp, Datapath::tc, rows);
}

#[test]
fn per_vip_counters_follow_decisions() {
    let mut dp = datapath();
    for _ in 0..3 {
        assert_eq!(dp.xdp(&arp_in(&req(PEER, VIP)).bytes()).verdict, XDP_DROP);
    }
    dp.tc(&arp_out(&Arp::request(SERVER_MAC, VIP2, PEER)).bytes());
    assert_eq!(dp.vip_counter(VIP, VipCounter::RequestsDropped), 3, "VIP drops");
    assert_eq!(dp.vip_counter(VIP, VipCounter::SendersRewritten), 0, "VIP rewrites");
    assert_eq!(dp.vip_counter(VIP2, VipCounter::RequestsDropped), 0, "VIP2 drops");
    assert_eq!(dp.vip_counter(VIP2, VipCounter::SendersRewritten), 1, "VIP2 rewrites");
}

#[test]
fn vip_table_changes_take_effect_immediately() {
    let mut dp = Datapath::load();
    let frame = arp_in(&req(PEER, VIP)).bytes();
    assert_eq!(dp.xdp(&frame).verdict, XDP_PASS, "no VIP configured yet");
    dp.add_vip(VIP, REAL);
    assert_eq!(dp.xdp(&frame).verdict, XDP_DROP, "after add");
    dp.vips().remove(VIP).expect("remove VIP");
    assert_eq!(dp.xdp(&frame).verdict, XDP_PASS, "after remove");
}

#[test]
fn changing_the_real_ip_keeps_counters_and_rewrites_to_the_new_one() {
    let mut dp = datapath();
    dp.xdp(&arp_in(&req(PEER, VIP)).bytes());
    let change = dp.vips().add(VIP, OTHER).expect("update real IP");
    assert_eq!(change, rsdr_user::vips::Change::Updated { old_real: REAL });
    assert_eq!(dp.vip_counter(VIP, VipCounter::RequestsDropped), 1, "counter survives the update");
    let out = dp.tc(&arp_out(&Arp::request(SERVER_MAC, VIP, PEER)).bytes());
    assert_eq!(out.output, arp_out(&Arp::request(SERVER_MAC, OTHER, PEER)).bytes(), "rewritten to the new real IP");
}

#[test]
fn full_table_is_refused_and_unchanged() {
    let mut dp = Datapath::load_with(rsdr_user::loader::LoadOptions { max_vips: 2 });
    dp.add_vip(VIP, REAL);
    dp.add_vip(VIP2, REAL2);
    let err = dp.vips().add(Ipv4Addr::new(192, 0, 2, 12), REAL).expect_err("third VIP must not fit");
    assert!(err.to_string().contains("VIP table is full (2 entries)"), "got: {err}");
    assert_eq!(dp.vips().list().expect("list").len(), 2);
}
