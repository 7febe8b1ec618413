//! The VIP tables are rewritten while the datapath reads them. These tests run
//! the real programs on one CPU (BPF_PROG_TEST_RUN, many repetitions) while
//! another thread keeps changing the VIP's probe chain: neighbours that
//! share it come and go (leaving tombstones), and the VIP's own real IP and
//! flags change back and forth (the unselected real field written, then
//! selected). Not one frame may miss the VIP, and every rewrite must use one
//! of its two real IPs, never a torn mix. Hiding the VIP for the moment of a
//! change (bury, rewrite, publish) fails these tests within seconds. Pools
//! (LPM tries) get the same treatment: a member of one pool while others
//! come and go and the pool's own real IP changes.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::atomic::{AtomicBool, Ordering},
};

use rsdr_common::{Stat, index};
use rsdr_tests::{
    datapath::{self, Datapath, Run, XDP_DROP},
    fixture::std_vips::{PEER, PEER6, REAL, REAL2, REAL6, VIP, VIP6},
    frames::*,
};
use rsdr_user::{
    entry::{Change, VipEntry, VipFlag, VipFlags},
    loader::LoadOptions,
    tables::VipTables,
    vip::Vip,
};

const MAX_VIPS: u32 = 64;
/// Test runs per check, each repeating the frame in the kernel.
const RUNS: usize = 200;
const REPEAT: u32 = 10_000;
const REAL6_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);

/// Addresses whose home slot is `vip_home` or one of the three slots before
/// it, so that their entries sit in the VIP's probe chain.
fn neighbours<A>(
    candidates: impl Iterator<Item = A>,
    home: impl Fn(&A) -> u32,
    vip_home: u32,
) -> Vec<A> {
    let mask = index::slots_for(MAX_VIPS) - 1;
    let found: Vec<A> = candidates
        .filter(|a| vip_home.wrapping_sub(home(a)) & mask < 4)
        .take(8)
        .collect();
    assert_eq!(found.len(), 8, "not enough colliding neighbours found");
    found
}

fn shift() -> u32 {
    index::shift_for(index::slots_for(MAX_VIPS))
}

/// An entry, with no flags or with `show-conflicts`.
fn entry(vip: Vip, real: IpAddr, show_conflicts: bool) -> VipEntry {
    let flags = VipFlags::NONE.with(VipFlag::ShowConflicts, show_conflicts);
    VipEntry { vip, real, flags }
}

fn raw4(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

/// Keep changing `vip`'s chain until `stop`; returns the rounds done.
fn churn(
    t: &mut VipTables,
    stop: &AtomicBool,
    vip: IpAddr,
    reals: [IpAddr; 2],
    others: &[IpAddr],
    other_real: IpAddr,
) -> usize {
    let spec = Vip::Addr(vip);
    let add: Vec<_> = others
        .iter()
        .map(|o| entry(Vip::Addr(*o), other_real, false))
        .collect();
    let remove: Vec<_> = others.iter().map(|o| Vip::Addr(*o)).collect();
    let mut rounds = 0;
    while !stop.load(Ordering::Relaxed) {
        // Half the neighbours leave after the first change, half after the
        // second, so live entries and tombstones change places around the
        // VIP between its changes.
        t.put(&add).expect("adding neighbours");
        let change = t
            .put(&[entry(spec, reals[1], true)])
            .expect("changing the VIP's real IP and flags");
        assert!(matches!(change[..], [Change::Updated { .. }]));
        t.remove(&remove[..4]).expect("removing neighbours");
        t.put(&[entry(spec, reals[0], false)])
            .expect("changing the VIP back");
        t.remove(&remove[4..]).expect("removing neighbours");
        rounds += 1;
    }
    rounds
}

/// Run `frame` (an ingress request for a VIP) RUNS x REPEAT times while
/// `change` rewrites the tables: every one must be dropped as `dropped`,
/// none passed as `passed`.
fn assert_always_dropped(
    dp: &mut Datapath,
    frame: &[u8],
    passed: Stat,
    dropped: Stat,
    change: impl FnOnce(&mut VipTables, &AtomicBool) -> usize + Send,
) {
    let (runs, rounds) = dp.while_changing(false, frame, RUNS, REPEAT, change);
    assert_churned(rounds);
    assert!(runs.iter().all(|r| r.verdict == XDP_DROP));
    assert_eq!(
        dp.stat(passed, false),
        0,
        "{} frames for the VIP went through while the tables changed ({rounds} rounds)",
        passed.name()
    );
    assert_eq!(dp.stat(dropped, false), u64::from(RUNS as u32 * REPEAT));
}

fn assert_churned(rounds: usize) {
    assert!(
        rounds >= 20,
        "only {rounds} rounds of changes ran beside the frames: the race was not exercised"
    );
}

/// The index's datapath: MAX_VIPS, with ordered reads if `ordered`.
fn index_datapath(ordered: bool) -> Datapath {
    Datapath::load_with(LoadOptions {
        max_vips: MAX_VIPS,
        max_pools: 1,
        ordered_reads: ordered,
    })
}

#[test]
fn an_ipv4_vip_is_never_missed_or_torn_while_its_chain_changes() {
    ipv4_chain_race(false);
}

/// The reader of weakly ordered CPUs (atomics around the field reads),
/// run here: it passes the verifier and misses nothing either.
#[test]
fn with_ordered_reads_an_ipv4_vip_is_never_missed_or_torn() {
    ipv4_chain_race(true);
}

/// The atomic reads exist where asked and only there: on x86 the verifier
/// removes them (the switch is read-only data), so plain loads cost nothing
/// more.
#[test]
fn ordered_reads_are_in_the_program_only_when_asked_for() {
    for name in [datapath::program(false), datapath::program(true)] {
        let plain = index_datapath(false).translated_size(name);
        let ordered = index_datapath(true).translated_size(name);
        assert!(
            ordered > plain,
            "{name}: {ordered} bytes with ordered reads, {plain} without: the switch changes nothing"
        );
    }
}

fn ipv4_chain_race(ordered: bool) {
    let mut dp = index_datapath(ordered);
    dp.add(&VIP.to_string(), &REAL.to_string(), 0);
    let home = |a: &Ipv4Addr| index::hash4(raw4(*a), shift());
    let others: Vec<IpAddr> = neighbours(
        (0..4096u32).map(|i| Ipv4Addr::from(0x6440_0000 + i)),
        home,
        home(&VIP),
    )
    .into_iter()
    .map(IpAddr::V4)
    .collect();
    let reals = [IpAddr::V4(REAL), IpAddr::V4(REAL2)];

    let request = Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, VIP)).bytes();
    assert_always_dropped(
        &mut dp,
        &request,
        Stat::InArpPassed,
        Stat::InArpRequestDropped,
        |t, stop| churn(t, stop, IpAddr::V4(VIP), reals, &others, IpAddr::V4(REAL)),
    );

    // Egress: the skb is rewritten in place, so one repetition per run.
    let own = Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, VIP, PEER)).bytes();
    let rewritten =
        |r: Ipv4Addr| Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, r, PEER)).bytes();
    let good = [rewritten(REAL), rewritten(REAL2)];
    let (runs, rounds) = dp.while_changing(true, &own, 20_000, 1, |t, stop| {
        churn(t, stop, IpAddr::V4(VIP), reals, &others, IpAddr::V4(REAL))
    });
    assert_churned(rounds);
    let bad: Vec<&Run> = runs.iter().filter(|r| !good.contains(&r.output)).collect();
    assert!(
        bad.is_empty(),
        "{} of {} rewrites used neither real IP, e.g. {:02x?}",
        bad.len(),
        runs.len(),
        bad[0].output
    );
    assert_eq!(
        dp.stat(Stat::OutArpPassed, false),
        0,
        "a VIP's ARP left unrewritten"
    );
}

#[test]
fn an_ipv6_vip_is_never_missed_while_its_chain_changes() {
    ipv6_chain_race(false);
}

#[test]
fn with_ordered_reads_an_ipv6_vip_is_never_missed() {
    ipv6_chain_race(true);
}

fn ipv6_chain_race(ordered: bool) {
    let mut dp = index_datapath(ordered);
    dp.add(&VIP6.to_string(), &REAL6.to_string(), 0);
    let home = |a: &Ipv6Addr| index::hash6(&a.octets(), shift());
    let others: Vec<IpAddr> = neighbours(
        (0..4096u16).map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0xaa, 0, 0, 0, 0, i)),
        home,
        home(&VIP6),
    )
    .into_iter()
    .map(IpAddr::V6)
    .collect();
    let reals = [IpAddr::V6(REAL6), IpAddr::V6(REAL6_B)];
    let ns = Nd::ns(PEER6, VIP6, PEER_MAC)
        .frame(PEER_MAC, SERVER_MAC)
        .bytes();
    assert_always_dropped(
        &mut dp,
        &ns,
        Stat::InNdPassed,
        Stat::InNsDropped,
        |t, stop| churn(t, stop, IpAddr::V6(VIP6), reals, &others, IpAddr::V6(REAL6)),
    );
}

#[test]
fn a_pool_member_is_never_missed_while_other_pools_come_and_go() {
    let mut dp = Datapath::load_with(LoadOptions {
        max_vips: MAX_VIPS,
        max_pools: 32,
        ..Default::default()
    });
    let stable = Vip::Pool(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 0)), 24);
    let member = Ipv4Addr::new(203, 0, 113, 50);
    dp.add(&stable.to_string(), &REAL.to_string(), 0);
    // Nine more pools, each of its own prefix length, around it in the trie.
    let others: Vec<_> = [16u8, 17, 18, 19, 20, 21, 22, 23, 25]
        .iter()
        .enumerate()
        .map(|(i, len)| {
            let net = IpAddr::V4(Ipv4Addr::new(100, 64 + i as u8, 0, 0));
            entry(Vip::Pool(net, *len), IpAddr::V4(REAL), false)
        })
        .collect();
    let specs: Vec<Vip> = others.iter().map(|e| e.vip).collect();
    let request = Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, member)).bytes();
    let change = |t: &mut VipTables, stop: &AtomicBool| {
        let mut rounds = 0;
        while !stop.load(Ordering::Relaxed) {
            t.put(&others[..7]).expect("adding pools");
            t.put(&[entry(stable, IpAddr::V4(REAL2), false)])
                .expect("changing the pool");
            t.put(&others[7..]).expect("adding pools");
            t.remove(&specs[7..]).expect("removing pools");
            t.put(&[entry(stable, IpAddr::V4(REAL), true)])
                .expect("changing the pool back");
            t.remove(&specs[..7]).expect("removing pools");
            rounds += 1;
        }
        rounds
    };
    assert_always_dropped(
        &mut dp,
        &request,
        Stat::InArpPassed,
        Stat::InArpRequestDropped,
        change,
    );
}
