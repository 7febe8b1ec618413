//! Behaviour of the tables behind the datapath: live changes, counters,
//! capacities, pools and monitor mode, through BPF_PROG_TEST_RUN.

use std::net::IpAddr;

use rsdr_common::{Stat, VipCounter, maps::VIP_F_MONITOR};
use rsdr_tests::{
    datapath::{Datapath, TC_PASS, TC_SHOT, XDP_DROP, XDP_PASS},
    fixture::std_vips::*,
    frames::*,
};
use rsdr_user::{addr::parse_vip, loader::LoadOptions, vips::Change};

fn req_in(target: std::net::Ipv4Addr) -> Vec<u8> {
    Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, target)).bytes()
}

fn req_out(sender: std::net::Ipv4Addr) -> Vec<u8> {
    Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, sender, PEER)).bytes()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn vip_table_changes_take_effect_immediately() {
    let mut dp = Datapath::load();
    assert_eq!(
        dp.xdp(&req_in(VIP)).verdict,
        XDP_PASS,
        "no VIP configured yet"
    );
    dp.add(&VIP.to_string(), &REAL.to_string(), 0);
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_DROP, "after add");
    dp.tables
        .remove(parse_vip(&VIP.to_string()).unwrap())
        .expect("remove VIP");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_PASS, "after remove");
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    assert_eq!(dp.xdp(&req_in(POOLED)).verdict, XDP_DROP, "after pool add");
    dp.tables
        .remove(parse_vip("203.0.113.0/24").unwrap())
        .expect("remove pool");
    assert_eq!(
        dp.xdp(&req_in(POOLED)).verdict,
        XDP_PASS,
        "after pool remove"
    );
}

#[test]
fn per_vip_counters_follow_decisions() {
    let mut dp = datapath();
    for _ in 0..3 {
        assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_DROP);
    }
    dp.tc(&req_out(VIP2));
    dp.xdp(&req_in(POOLED));
    dp.xdp(&req_in(EXACT_IN_POOL));
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::RequestsDropped, false),
        3,
        "VIP drops"
    );
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::SendersRewritten, false),
        0,
        "VIP rewrites"
    );
    assert_eq!(
        dp.vip_counter(&VIP2.to_string(), VipCounter::SendersRewritten, false),
        1,
        "VIP2 rewrites"
    );
    assert_eq!(
        dp.vip_counter("203.0.113.0/24", VipCounter::RequestsDropped, false),
        1,
        "pool counts its members"
    );
    assert_eq!(
        dp.vip_counter(
            &EXACT_IN_POOL.to_string(),
            VipCounter::RequestsDropped,
            false
        ),
        1,
        "exact entry counts its own"
    );
}

#[test]
fn changing_the_real_ip_keeps_counters_and_rewrites_to_the_new_one() {
    let mut dp = datapath();
    dp.xdp(&req_in(VIP));
    let change = dp
        .tables
        .add(parse_vip(&VIP.to_string()).unwrap(), ip("10.0.0.99"), 0)
        .expect("update");
    assert!(matches!(change, Change::Updated { old_real, .. } if old_real == IpAddr::V4(REAL)));
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::RequestsDropped, false),
        1,
        "counter survives"
    );
    let out = dp.tc(&req_out(VIP));
    assert_eq!(
        out.output,
        Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, OTHER, PEER)).bytes()
    );
}

#[test]
fn flags_change_in_place() {
    let mut dp = datapath();
    let vip = parse_vip(&VIP.to_string()).unwrap();
    dp.tables
        .add(vip, IpAddr::V4(REAL), VIP_F_MONITOR)
        .expect("to monitor");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_PASS, "monitored: passed");
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::RequestsDropped, true),
        1,
        "counted as monitored"
    );
    dp.tables
        .add(vip, IpAddr::V4(REAL), 0)
        .expect("back to enforcing");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_DROP, "enforced again");
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::RequestsDropped, false),
        1
    );
}

#[test]
fn global_monitor_switch_counts_everything_and_enforces_nothing() {
    let mut dp = datapath();
    dp.tables.set_monitor(true).expect("monitor on");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_PASS);
    let r = dp.tc(&req_out(VIP));
    assert_eq!(
        (r.verdict, r.output),
        (TC_PASS, req_out(VIP)),
        "no rewrite in monitor mode"
    );
    let garp = Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, VIP, VIP)).bytes();
    assert_eq!(dp.tc(&garp).verdict, TC_PASS);
    assert_eq!(dp.stat(Stat::InArpRequestDropped, true), 1);
    assert_eq!(dp.stat(Stat::OutArpSenderRewritten, true), 1);
    assert_eq!(dp.stat(Stat::OutArpAnnouncementDropped, true), 1);
    assert_eq!(
        dp.stat(Stat::InArpRequestDropped, false),
        0,
        "nothing enforced"
    );
    dp.tables.set_monitor(false).expect("monitor off");
    assert_eq!(dp.tc(&garp).verdict, TC_SHOT, "enforced again");
}

#[test]
fn full_tables_are_refused_and_unchanged() {
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 2,
        max_pools: 1,
    });
    dp.add(&VIP.to_string(), &REAL.to_string(), 0);
    dp.add(&VIP2.to_string(), &REAL2.to_string(), 0);
    let err = dp
        .tables
        .add(parse_vip("192.0.2.99").unwrap(), IpAddr::V4(REAL), 0)
        .expect_err("third VIP");
    assert!(
        err.to_string().contains("VIP table is full (2 entries)"),
        "got: {err}"
    );
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    let err = dp
        .tables
        .add(parse_vip("198.51.100.0/24").unwrap(), IpAddr::V4(REAL), 0)
        .expect_err("second pool");
    assert!(
        err.to_string().contains("pool table is full (1 entries)"),
        "got: {err}"
    );
    assert_eq!(dp.tables.entries().expect("list").len(), 3);
}

#[test]
fn pool_slots_are_reused_with_zeroed_counters() {
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 16,
        max_pools: 1,
    });
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    dp.xdp(&req_in(POOLED));
    assert_eq!(
        dp.vip_counter("203.0.113.0/24", VipCounter::RequestsDropped, false),
        1
    );
    dp.tables
        .remove(parse_vip("203.0.113.0/24").unwrap())
        .expect("remove");
    dp.add("198.51.100.0/24", &REAL.to_string(), 0);
    assert_eq!(
        dp.vip_counter("198.51.100.0/24", VipCounter::RequestsDropped, false),
        0,
        "fresh counters"
    );
    assert_eq!(
        dp.xdp(&req_in("198.51.100.9".parse().unwrap())).verdict,
        XDP_DROP
    );
}

#[test]
fn ipv6_pool_and_exact_coexist() {
    let mut dp = datapath();
    let ns = Nd::ns(PEER6, "2001:db8:100::1".parse().unwrap(), PEER_MAC)
        .frame(PEER_MAC, SERVER_MAC)
        .bytes();
    assert_eq!(dp.xdp(&ns).verdict, XDP_DROP, "pool member");
    let ns = Nd::ns(PEER6, "2001:db8:101::1".parse().unwrap(), PEER_MAC)
        .frame(PEER_MAC, SERVER_MAC)
        .bytes();
    assert_eq!(dp.xdp(&ns).verdict, XDP_PASS, "outside the pool");
}

#[test]
fn the_index_finds_every_vip_through_removals_and_changes() {
    // Many VIPs, so probe chains are long and share slots; then remove every
    // other one (leaving tombstones inside chains), change the real IP of
    // some of the rest (a second copy, then the first buried) and re-add a
    // few removed ones (reusing tombstones).
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 8192,
        max_pools: 4,
    });
    let vips: Vec<std::net::Ipv4Addr> = (0..6000u32)
        .map(|i| std::net::Ipv4Addr::from(0x6440_0000 + i * 7))
        .collect();
    let items: Vec<_> = vips
        .iter()
        .map(|v| {
            (
                rsdr_user::addr::VipSpec::Addr(IpAddr::V4(*v)),
                IpAddr::V4(REAL),
                0,
            )
        })
        .collect();
    dp.tables.add_many(&items).expect("add 6000 VIPs");
    let half: Vec<_> = vips
        .iter()
        .step_by(2)
        .map(|v| parse_vip(&v.to_string()).unwrap())
        .collect();
    dp.tables
        .remove_many(&half[..1000])
        .expect("remove a batch");
    for v in &half[1000..1100] {
        dp.tables
            .remove(*v)
            .unwrap_or_else(|e| panic!("remove {v}: {e}"));
    }
    dp.tables
        .remove_many(&half[1100..])
        .expect("remove the rest");
    let changed: Vec<_> = vips
        .iter()
        .skip(1)
        .step_by(6)
        .map(|v| {
            (
                rsdr_user::addr::VipSpec::Addr(IpAddr::V4(*v)),
                IpAddr::V4(REAL2),
                0,
            )
        })
        .collect();
    dp.tables.add_many(&changed).expect("change reals");
    let back: Vec<_> = items.iter().step_by(10).copied().collect();
    dp.tables.add_many(&back).expect("re-add some removed VIPs");
    let mut wrong = Vec::new();
    for (i, v) in vips.iter().enumerate() {
        let want = if i % 2 == 0 && i % 10 != 0 {
            XDP_PASS
        } else {
            XDP_DROP
        };
        if dp.xdp(&req_in(*v)).verdict != want {
            wrong.push(*v);
        }
    }
    let entries = dp.tables.entries().expect("list");
    assert_eq!(
        entries.len(),
        3000 + 600,
        "one entry per VIP, no copies left"
    );
    for (vip, real, _) in &changed {
        let e = dp.tables.get(vip).expect("get").expect("present");
        assert_eq!(e.real, *real, "{vip} keeps its new real IP");
    }
    assert!(
        wrong.is_empty(),
        "{} VIPs judged wrongly, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    // Addresses never configured pass.
    for i in 0..2000u32 {
        let other = std::net::Ipv4Addr::from(0x0a63_0000 + i);
        assert_eq!(dp.xdp(&req_in(other)).verdict, XDP_PASS, "{other}");
    }
}
