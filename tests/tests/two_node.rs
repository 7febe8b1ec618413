//! Two nodes, each director and real server, switched by real keepalived
//! (VRRP) with rsdr following it through keepalived's notify FIFO
//! (docs/two-node.md). The director is real IPVS where the kernel has it
//! (the VM tests on Debian's kernel), else an nftables emulation.
//!
//! The master fails (keepalived stopped) and comes back (it preempts); a
//! client keeps fetching over HTTP through the VIP, flushing its neighbour
//! entry every second so that every node that would answer ARP for the
//! VIP gets the chance, while the switch and the client capture every ARP
//! frame. The control runs the same cluster without rsdr.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use rsdr_tests::{
    dr::{DrLab, Mac},
    http,
    pcap::{Capture, arp_fields},
    two_node::{TwoNode, VIP},
};

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// What the client saw at one moment.
#[derive(Debug)]
struct Sample {
    at: f64,
    http: Result<String, String>,
    neigh: Option<Mac>,
}

/// Poll `cond` every 50 ms for up to `secs`; the time it first held.
fn when(secs: u64, mut cond: impl FnMut() -> bool) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return Some(now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// ARP frames announcing or answering for the VIP: (time, sender MAC,
/// gratuitous).
fn vip_senders(frames: &[(f64, Vec<u8>)]) -> Vec<(f64, Mac, bool)> {
    frames
        .iter()
        .filter_map(|(t, f)| {
            let (_, sha, spa, tpa) = arp_fields(f)?;
            (spa == VIP.octets()).then_some((*t, sha, tpa == spa))
        })
        .collect()
}

#[test]
fn keepalived_failover_moves_the_vip_without_arp_flux() {
    let mut lab = TwoNode::new();
    println!("director: {}", lab.director_kind.describe());
    let confs = [lab.rsdr_conf(0), lab.rsdr_conf(1)];
    let rsdr = [lab.start_rsdr(0, &confs[0]), lab.start_rsdr(1, &confs[1])];
    lab.serve();
    let switch_cap = Capture::start(&lab.switch, "br0", "arp");
    let client_cap = Capture::start(&lab.client, "eth0", "arp");
    // node1 first, so that it is master from the start (under an emulated
    // CPU node2 could otherwise win the first election for a moment).
    let mut k1 = lab.keepalived(0, true);
    lab.wait_master(0, &k1);
    let k2 = lab.keepalived(1, true);
    rsdr[0].eventually("node1's rsdr told master", || lab.rsdr_state(0) == "master");
    rsdr[1].eventually("node2's rsdr told backup", || lab.rsdr_state(1) == "backup");
    rsdr[0].eventually("node1's managed lo copy withdrawn", || {
        !lab.has_vip(0, "lo")
    });

    // While node1 directs, only node1 answers the client's ARP.
    let answered = lab.client_arping(3);
    assert!(
        !answered.is_empty() && answered.iter().all(|m| *m == lab.node_macs[0]),
        "the client's ARP for the VIP was answered by {:?}, not only by node1",
        answered.iter().map(|m| lab.who(m)).collect::<Vec<_>>()
    );

    let stop = AtomicBool::new(false);
    let (samples, t) = std::thread::scope(|s| {
        // Stops the client when this closure ends, also by a panic: the
        // scope waits for it.
        let _stop = StopOnDrop(&stop);
        let worker = s.spawn(|| {
            let mut out = Vec::new();
            let mut flushed = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if flushed.elapsed() >= Duration::from_secs(1) {
                    lab.client
                        .ip(&["neigh", "flush", &VIP.to_string(), "dev", "eth0"]);
                    flushed = Instant::now();
                }
                let at = now();
                let http = http::get(&lab.client, IpAddr::V4(VIP), 80);
                out.push(Sample {
                    at,
                    http,
                    neigh: DrLab::neigh(&lab.client, VIP),
                });
                std::thread::sleep(Duration::from_millis(150));
            }
            out
        });
        std::thread::sleep(Duration::from_secs(3));
        // node1 fails: its keepalived stops.
        let t_stop1 = now();
        k1.stop();
        let t_gone1 = now();
        let t_m2 = when(60, || lab.rsdr_state(1) == "master").unwrap_or_else(|| {
            panic!(
                "node2's rsdr never heard master; keepalived logged:\n{}",
                k2.log()
            )
        });
        assert!(
            when(60, || lab.rsdr_state(0) == "stop").is_some(),
            "node1's rsdr never heard keepalived stop"
        );
        std::thread::sleep(Duration::from_secs(4));
        // node1 comes back and preempts.
        let t_start1 = now();
        let k1b = lab.keepalived(0, true);
        let t_m1 = when(60, || {
            lab.rsdr_state(0) == "master" && lab.rsdr_state(1) == "backup"
        })
        .unwrap_or_else(|| {
            panic!(
                "node1 never took over again; keepalived logged:\n{}",
                k1b.log()
            )
        });
        std::thread::sleep(Duration::from_secs(4));
        stop.store(true, Ordering::Relaxed);
        let samples = worker.join().expect("client worker");
        // The end of the last window: stopping keepalived hands over again.
        let t_end = now();
        drop(k1b);
        (samples, [t_stop1, t_gone1, t_m2, t_start1, t_m1, t_end])
    });
    let [t_stop1, t_gone1, t_m2, t_start1, t_m1, t_end] = t;
    let switch_frames = switch_cap.stop_timed();
    let client_frames = client_cap.stop_timed();
    let t0 = samples.first().map_or(t_stop1, |s| s.at);

    // Who may speak for the VIP when: node1 until it stops, node2 from its
    // takeover until node1 is master again, node1 after. A transition is
    // settled 1 s after rsdr heard of it (keepalived's second burst of
    // gratuitous ARP follows 5 s later).
    let settle = 1.0;
    let windows = [
        (t0, t_stop1, 0usize),
        (t_m2 + settle, t_start1, 1),
        (t_m1 + settle, t_end, 0),
    ];
    let expected = |at: f64| {
        windows
            .iter()
            .find(|(a, b, _)| at >= *a && at <= *b)
            .map(|(_, _, i)| *i)
    };

    // 1. On the switch: every ARP frame from the VIP in a settled window
    // comes from that window's master; node2 never speaks before node1
    // fails, node1 never while it is down.
    let senders = vip_senders(&switch_frames);
    println!(
        "timeline: node1 stopped +{:.2}, node2 master +{:.2}, node1 started +{:.2}, node1 master +{:.2}, end +{:.2}",
        t_stop1 - t0,
        t_m2 - t0,
        t_start1 - t0,
        t_m1 - t0,
        t_end - t0
    );
    for (at, mac, garp) in &senders {
        let who = lab.who(mac);
        if let Some(i) = expected(*at) {
            assert_eq!(
                *mac,
                lab.node_macs[i],
                "{who} sent ARP from the VIP (gratuitous: {garp}) at +{:.2} s, while node{} is master",
                at - t0,
                i + 1
            );
        }
        assert!(
            !(*mac == lab.node_macs[1] && *at < t_stop1),
            "node2 (backup) sent ARP from the VIP at +{:.2} s",
            at - t0
        );
        assert!(
            !(*mac == lab.node_macs[0] && *at > t_gone1 && *at < t_start1),
            "node1 (keepalived stopped) sent ARP from the VIP at +{:.2} s",
            at - t0
        );
    }
    for (i, (a, b, _)) in windows.iter().enumerate() {
        assert!(
            senders
                .iter()
                .any(|(at, _, garp)| !garp && at >= a && at <= b),
            "no ARP reply for the VIP in settled window {i}: the client's flushes went unanswered"
        );
    }

    // 2. The new master's gratuitous ARP reaches the client with keepalived's
    // first burst, which it sends before it tells rsdr (so before rsdr
    // reports the new state), not only with the second, 5 s later.
    let garps = vip_senders(&client_frames);
    let first_garp = |who: usize, from: f64| {
        garps
            .iter()
            .find(|(at, mac, garp)| *garp && *mac == lab.node_macs[who] && *at >= from)
            .map(|(at, ..)| *at)
    };
    for (who, from, told) in [(1usize, t_stop1, t_m2), (0, t_start1, t_m1)] {
        let first = first_garp(who, from);
        assert!(
            first.is_some_and(|g| g <= told),
            "node{}'s first gratuitous ARP after +{:.2} s reached the client at {}, not before rsdr reported master at +{:.2} s: its first burst was lost",
            who + 1,
            from - t0,
            first.map_or("no time".into(), |g| format!("+{:.2} s", g - t0)),
            told - t0
        );
    }

    // 3. The client's neighbour entry: the master's MAC, never the other's.
    for s in &samples {
        if let (Some(i), Some(mac)) = (expected(s.at), s.neigh) {
            assert_eq!(
                mac,
                lab.node_macs[i],
                "at +{:.2} s the client's neighbour entry for the VIP was {}'s, while node{} is master",
                s.at - t0,
                lab.who(&mac),
                i + 1
            );
        }
        if let Some(mac) = s.neigh {
            assert!(
                !(mac == lab.node_macs[1] && s.at < t_stop1),
                "the client learned node2's MAC for the VIP before node1 failed"
            );
        }
    }

    // 4. HTTP through the VIP works in every settled window; failures only
    // during the failover itself, bounded by its length.
    let settled_failures: Vec<&Sample> = samples
        .iter()
        .filter(|s| expected(s.at).is_some() && s.http.is_err())
        .collect();
    assert!(
        settled_failures.is_empty(),
        "HTTP through the VIP failed while settled: {:?}",
        settled_failures
            .iter()
            .map(|s| (format!("+{:.2}", s.at - t0), &s.http))
            .collect::<Vec<_>>()
    );
    let failed = samples.iter().filter(|s| s.http.is_err()).count();
    let served: Vec<&str> = samples
        .iter()
        .filter_map(|s| s.http.as_deref().ok())
        .collect();
    for node in ["node1", "node2"] {
        assert!(
            served.iter().any(|b| b.contains(node)),
            "no request was served by {node}: the director does not spread"
        );
    }
    let failover = t_m2 - t_stop1;
    let unsettled = failover + (t_m1 - t_start1) + 2.0 * settle;
    let bound = (unsettled / 0.15).ceil() as usize + 3;
    assert!(
        failed <= bound,
        "{failed} requests failed; the transitions took {unsettled:.2} s, so at most {bound} may"
    );
    let first_garp2 = first_garp(1, t_stop1);
    println!(
        "requests: {} ({failed} failed); failover: node1 stopped -> node2's rsdr told master: {failover:.2} s; \
         node2's first gratuitous ARP at the client {:.2} s after node1 stopped; preemption: node1 started -> both rsdr told: {:.2} s",
        samples.len(),
        first_garp2.map_or(f64::NAN, |g| g - t_stop1),
        t_m1 - t_start1
    );
    drop(k2);
}

/// The same cluster without rsdr (the VIP on lo by hand, as the seed's real
/// servers hold it, no FIFO): the backup answers the client's ARP for the
/// VIP, which is what rsdr prevents above.
#[test]
fn control_without_rsdr_the_backup_answers_for_the_vip() {
    let lab = TwoNode::new();
    for ns in &lab.nodes {
        ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
    }
    let k1 = lab.keepalived(0, false);
    let _k2 = lab.keepalived(1, false);
    lab.wait_master(0, &k1);
    let answered = lab.client_arping(3);
    assert!(
        answered.contains(&lab.node_macs[1]),
        "without rsdr, the backup (node2) was expected to answer ARP for the VIP; answers came from {:?}",
        answered.iter().map(|m| lab.who(m)).collect::<Vec<_>>()
    );
    println!(
        "without rsdr, the client's ARP for the VIP was answered by {:?}",
        answered.iter().map(|m| lab.who(m)).collect::<Vec<_>>()
    );
}
