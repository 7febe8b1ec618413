//! Behaviour of the tables behind the datapath: live changes, counters,
//! capacities, pools and monitor mode, through BPF_PROG_TEST_RUN.

use std::net::IpAddr;

use rsdr_common::{Stat, VipCounter, maps::VIP_F_MONITOR};
use rsdr_tests::datapath::entry;
use rsdr_tests::{
    datapath::{Datapath, TC_PASS, TC_SHOT, XDP_DROP, XDP_PASS},
    fixture::std_vips::*,
    frames::*,
};
use rsdr_user::{entry::Change, loader::LoadOptions, vip::parse_vip};

fn req_in(target: std::net::Ipv4Addr) -> Vec<u8> {
    Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, target)).bytes()
}

fn req_out(sender: std::net::Ipv4Addr) -> Vec<u8> {
    Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, sender, PEER)).bytes()
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
        .remove(&[parse_vip(&VIP.to_string()).unwrap()])
        .expect("remove VIP");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_PASS, "after remove");
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    assert_eq!(dp.xdp(&req_in(POOLED)).verdict, XDP_DROP, "after pool add");
    dp.tables
        .remove(&[parse_vip("203.0.113.0/24").unwrap()])
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
        .put(&[entry(&VIP.to_string(), "10.0.0.99", 0)])
        .expect("update");
    assert!(matches!(change[..], [Change::Updated { old }] if old.real == IpAddr::V4(REAL)));
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
    let (vip, real) = (VIP.to_string(), REAL.to_string());
    dp.tables
        .put(&[entry(&vip, &real, VIP_F_MONITOR)])
        .expect("to monitor");
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_PASS, "monitored: passed");
    assert_eq!(
        dp.vip_counter(&VIP.to_string(), VipCounter::RequestsDropped, true),
        1,
        "counted as monitored"
    );
    dp.tables
        .put(&[entry(&vip, &real, 0)])
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
    dp.settings.set_monitor(true);
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
    dp.settings.set_monitor(false);
    assert_eq!(dp.tc(&garp).verdict, TC_SHOT, "enforced again");
}

#[test]
fn full_tables_are_refused_and_unchanged() {
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 2,
        max_pools: 1,
        ..Default::default()
    });
    dp.add(&VIP.to_string(), &REAL.to_string(), 0);
    dp.add(&VIP2.to_string(), &REAL2.to_string(), 0);
    let err = dp
        .tables
        .put(&[entry("192.0.2.99", &REAL.to_string(), 0)])
        .expect_err("third VIP");
    assert!(
        err.to_string().contains("VIP table is full (2 entries)"),
        "got: {err}"
    );
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    let err = dp
        .tables
        .put(&[entry("198.51.100.0/24", &REAL.to_string(), 0)])
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
        ..Default::default()
    });
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    dp.xdp(&req_in(POOLED));
    assert_eq!(
        dp.vip_counter("203.0.113.0/24", VipCounter::RequestsDropped, false),
        1
    );
    dp.tables
        .remove(&[parse_vip("203.0.113.0/24").unwrap()])
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
        ..Default::default()
    });
    let vips: Vec<std::net::Ipv4Addr> = (0..6000u32)
        .map(|i| std::net::Ipv4Addr::from(0x6440_0000 + i * 7))
        .collect();
    let items: Vec<_> = vips
        .iter()
        .map(|v| entry(&v.to_string(), &REAL.to_string(), 0))
        .collect();
    dp.tables.put(&items).expect("add 6000 VIPs");
    let half: Vec<_> = vips
        .iter()
        .step_by(2)
        .map(|v| parse_vip(&v.to_string()).unwrap())
        .collect();
    dp.tables.remove(&half[..1000]).expect("remove a batch");
    for v in &half[1000..1100] {
        dp.tables
            .remove(&[*v])
            .unwrap_or_else(|e| panic!("remove {v}: {e}"));
    }
    dp.tables.remove(&half[1100..]).expect("remove the rest");
    let changed: Vec<_> = vips
        .iter()
        .skip(1)
        .step_by(6)
        .map(|v| entry(&v.to_string(), &REAL2.to_string(), 0))
        .collect();
    dp.tables.put(&changed).expect("change reals");
    let back: Vec<_> = items.iter().step_by(10).copied().collect();
    dp.tables.put(&back).expect("re-add some removed VIPs");
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
    for e in &changed {
        let got = dp.tables.get(&e.vip).expect("get").expect("present");
        assert_eq!(got.entry.real, e.real, "{} keeps its new real IP", e.vip);
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

/// Addresses whose home slot in an index of `slots` slots is `home`.
fn homed_at(home: u32, slots: u32, n: usize) -> Vec<std::net::Ipv4Addr> {
    let shift = rsdr_common::index::shift_for(slots);
    (0x0a40_0000u32..)
        .map(std::net::Ipv4Addr::from)
        .filter(|a| rsdr_common::index::hash4(u32::from_ne_bytes(a.octets()), shift) == home)
        .take(n)
        .collect()
}

#[test]
fn probe_chains_cross_pages_and_wrap_around_the_index() {
    use rsdr_common::index::{PAGE_SLOTS, slots_for};
    // 128 slots: two pages. One chain starts on the last slot of the first
    // page and runs into the second; another on the last slot of the index
    // and wraps to the first. Members of each and strangers homed there
    // are judged right, and so are the chains once their heads are gone.
    let max_vips = 64;
    let slots = slots_for(max_vips);
    assert_eq!(slots, 2 * PAGE_SLOTS, "the test needs a two-page index");
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips,
        max_pools: 4,
        ..Default::default()
    });
    for home in [PAGE_SLOTS - 1, slots - 1] {
        let addrs = homed_at(home, slots, 6);
        let (members, strangers) = addrs.split_at(4);
        for m in members {
            dp.add(&m.to_string(), &REAL.to_string(), 0);
        }
        for m in members {
            assert_eq!(dp.xdp(&req_in(*m)).verdict, XDP_DROP, "{m} homed at {home}");
            let out = dp.tc(&req_out(*m));
            assert_eq!(out.verdict, TC_PASS);
            assert_eq!(&out.output[28..32], &REAL.octets(), "{m} rewritten");
        }
        for s in strangers {
            assert_eq!(dp.xdp(&req_in(*s)).verdict, XDP_PASS, "{s} homed at {home}");
        }
        // The head of the chain leaves: the rest, across the boundary, stay.
        dp.tables
            .remove(&[parse_vip(&members[0].to_string()).unwrap()])
            .expect("remove the chain's head");
        assert_eq!(dp.xdp(&req_in(members[0])).verdict, XDP_PASS);
        for m in &members[1..] {
            assert_eq!(
                dp.xdp(&req_in(*m)).verdict,
                XDP_DROP,
                "{m} after its chain's head left"
            );
        }
    }
}

#[test]
fn pools_match_alike_in_the_cache_and_in_the_tries() {
    use rsdr_common::pool_cache::CACHED_POOLS;
    // Grow to more pools than the cache holds (the datapath then asks the
    // tries), then shrink back into it: every pool's members are filtered
    // and rewritten to that pool's own real IP, and nothing else is.
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 16,
        max_pools: 32,
        ..Default::default()
    });
    let n = CACHED_POOLS + 3;
    let pool4 = |i: usize| format!("198.18.{i}.0/24");
    let member4 = |i: usize| std::net::Ipv4Addr::new(198, 18, i as u8, 77);
    let real4 = |i: usize| std::net::Ipv4Addr::new(10, 0, 1, i as u8 + 1);
    let pool6 = |i: usize| format!("2001:db8:{:x}::/48", 0x200 + i);
    let member6 = |i: usize| -> std::net::Ipv6Addr {
        format!("2001:db8:{:x}::9", 0x200 + i).parse().unwrap()
    };
    let real6 = |i: usize| format!("2001:db8:ffff::{:x}", i + 1);
    let check = |dp: &mut Datapath, live: usize, when: &str| {
        for i in 0..n {
            let want = if i < live { XDP_DROP } else { XDP_PASS };
            assert_eq!(
                dp.xdp(&req_in(member4(i))).verdict,
                want,
                "{} {when}",
                member4(i)
            );
            let ns = Nd::ns(PEER6, member6(i), PEER_MAC)
                .frame(PEER_MAC, SERVER_MAC)
                .bytes();
            assert_eq!(dp.xdp(&ns).verdict, want, "{} {when}", member6(i));
            if i < live {
                let out = dp.tc(&req_out(member4(i)));
                assert_eq!(
                    &out.output[28..32],
                    &real4(i).octets(),
                    "{} {when}",
                    member4(i)
                );
            }
        }
        let stranger = std::net::Ipv4Addr::new(198, 19, 0, 1);
        assert_eq!(
            dp.xdp(&req_in(stranger)).verdict,
            XDP_PASS,
            "{stranger} {when}"
        );
    };
    for i in 0..n {
        dp.add(&pool4(i), &real4(i).to_string(), 0);
        dp.add(&pool6(i), &real6(i), 0);
        check(&mut dp, i + 1, &format!("with {} pools", i + 1));
    }
    for i in (0..n).rev() {
        dp.tables
            .remove(&[parse_vip(&pool4(i)).unwrap()])
            .expect("remove pool");
        dp.tables
            .remove(&[parse_vip(&pool6(i)).unwrap()])
            .expect("remove pool");
        check(&mut dp, i, &format!("down to {i} pools"));
    }
}

#[test]
fn an_interrupted_pool_publish_sends_frames_to_the_tries_until_the_next_change() {
    // A writer killed right after it began publishing the first pool of a
    // family leaves the cache's count odd and the pool count at 0, while
    // the trie holds the pool: the datapath must ask the trie, not take
    // the count for "no pools". The next change republishes.
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: 16,
        max_pools: 4,
        ..Default::default()
    });
    dp.add("203.0.113.0/24", &REAL.to_string(), 0);
    dp.tables.interrupt_pool_publish((0, 0));
    assert_eq!(
        dp.xdp(&req_in(POOLED)).verdict,
        XDP_DROP,
        "pool member while the cache is marked mid-write"
    );
    assert_eq!(dp.stat(Stat::InArpRequestDropped, false), 1);
    dp.add(&VIP.to_string(), &REAL.to_string(), 0);
    assert_eq!(
        dp.xdp(&req_in(POOLED)).verdict,
        XDP_DROP,
        "after the next change"
    );
    assert_eq!(dp.xdp(&req_in(VIP)).verdict, XDP_DROP);
    let other = std::net::Ipv4Addr::new(203, 0, 114, 1);
    assert_eq!(dp.xdp(&req_in(other)).verdict, XDP_PASS, "{other}");
}
