//! Every ARP message kind on a real wire: gratuitous ARP, announcements,
//! probes and address conflict detection, with arping, tcpdump and the real
//! `rsdr` binary.

use std::{net::Ipv4Addr, process::Output};

use rsdr_tests::{
    frames::{Arp, BROADCAST, Frame},
    inject::RawSocket,
    lab::{Lab, REAL_IP, VIP, arping_replies as replies},
    pcap::{Capture, arp_fields},
};

const ZERO: [u8; 4] = [0, 0, 0, 0];

fn arping(lab_ns: &rsdr_tests::netns::Netns, args: &[&str]) -> Output {
    lab_ns
        .cmd("arping")
        .args(["-I", "eth0", "-c", "2", "-w", "3"])
        .args(args)
        .output()
        .expect("run arping")
}

/// ARP frames (op, spa, tpa) the peer sees while `action` runs.
fn seen_on_peer(lab: &Lab, action: impl FnOnce()) -> Vec<(u16, [u8; 4], [u8; 4])> {
    let cap = Capture::start(&lab.peer, "eth0", "arp");
    action();
    cap.stop_synced(&RawSocket::open(&lab.server, "eth0"))
        .iter()
        .filter_map(|f| arp_fields(f))
        .map(|(op, _, spa, tpa)| (op, spa, tpa))
        .collect()
}

fn mentions_vip_as_sender(frames: &[(u16, [u8; 4], [u8; 4])]) -> bool {
    frames.iter().any(|(_, spa, _)| *spa == VIP.octets())
}

#[test]
fn server_gratuitous_arp_never_reaches_the_peer() {
    for mode in ["-U", "-A"] {
        let lab = Lab::new();
        let send = || {
            arping(
                &lab.server,
                &[mode, "-s", &VIP.to_string(), &VIP.to_string()],
            );
        };
        let before = seen_on_peer(&lab, send);
        assert!(
            mentions_vip_as_sender(&before),
            "arping {mode}: without rsdr the VIP is announced: {before:?}"
        );
        lab.protect();
        let after = seen_on_peer(&lab, send);
        assert!(
            !mentions_vip_as_sender(&after),
            "arping {mode}: with rsdr the VIP is never announced: {after:?}"
        );
        let st: serde_json::Value =
            serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("JSON");
        assert!(
            st["vips"][0]["counters"]["announcements_dropped"]
                .as_u64()
                .unwrap_or(0)
                >= 2,
            "{st}"
        );
    }
}

#[test]
fn kernel_gratuitous_arp_on_a_mac_change_is_dropped_for_the_vip_only() {
    let lab = Lab::new();
    lab.server.sysctl("net.ipv4.conf.eth0.arp_notify", "1");
    let mut n = 0;
    let mut change_mac = || {
        n += 1;
        lab.server.ip(&[
            "link",
            "set",
            "eth0",
            "address",
            &format!("02:00:00:00:aa:{n:02x}"),
        ]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let before = seen_on_peer(&lab, &mut change_mac);
    assert!(
        before
            .iter()
            .any(|(_, s, t)| *s == VIP.octets() && *t == VIP.octets()),
        "control: kernel announces the VIP: {before:?}"
    );
    lab.protect();
    let after = seen_on_peer(&lab, &mut change_mac);
    assert!(
        !mentions_vip_as_sender(&after),
        "the VIP is not announced: {after:?}"
    );
    assert!(
        !after.iter().any(|(_, _, t)| *t == VIP.octets()),
        "and not turned into a request for it: {after:?}"
    );
    assert!(
        after
            .iter()
            .any(|(_, s, t)| *s == REAL_IP.octets() && *t == REAL_IP.octets()),
        "the real IP is still announced: {after:?}"
    );
}

#[test]
fn server_probe_for_the_vip_never_reaches_the_peer() {
    let lab = Lab::new();
    let probe = || {
        arping(&lab.server, &["-D", &VIP.to_string()]);
    };
    let is_probe = |f: &(u16, [u8; 4], [u8; 4])| f.1 == ZERO && f.2 == VIP.octets();
    assert!(
        seen_on_peer(&lab, probe).iter().any(is_probe),
        "control: the probe leaves without rsdr"
    );
    lab.protect();
    assert!(
        !seen_on_peer(&lab, probe).iter().any(is_probe),
        "with rsdr the probe is dropped"
    );
}

#[test]
fn a_probe_from_the_peer_gets_no_answer() {
    let lab = Lab::new();
    // arping -D exits 0 when nobody answered ("address free"), 1 on a reply.
    assert_eq!(
        arping(&lab.peer, &["-D", &VIP.to_string()]).status.code(),
        Some(1),
        "control: the kernel answers"
    );
    lab.protect();
    assert_eq!(
        arping(&lab.peer, &["-D", &VIP.to_string()]).status.code(),
        Some(0),
        "with rsdr: no answer"
    );
}

#[test]
fn conflict_detection_accepts_the_vip_while_the_director_holds_it() {
    let lab = Lab::new();
    lab.peer
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
    assert!(
        replies(&arping(&lab.server, &["-D", &VIP.to_string()])) > 0,
        "control: the director answers the probe"
    );
    lab.protect();
    // The probe is dropped on egress (E6; sendto gets ENOBUFS, which
    // conflict detectors such as NetworkManager's n-acd treat as a dropped
    // packet), so the director never answers. Hiding the director's answers
    // on ingress (I2) is proven separately, below.
    assert_eq!(
        replies(&arping(&lab.server, &["-D", &VIP.to_string()])),
        0,
        "with rsdr: the VIP looks free"
    );
}

#[test]
fn directors_announcements_are_hidden_from_the_host_unless_asked() {
    let lab = Lab::new();
    lab.protect();
    let director_mac = [0x02, 0, 0, 0, 0, 0xd1];
    let garp = Frame::arp(director_mac, &Arp::request(director_mac, VIP, VIP)).bytes();
    let reply = Frame::arp(
        director_mac,
        &Arp::reply(director_mac, VIP, BROADCAST, Ipv4Addr::UNSPECIFIED),
    )
    .bytes();
    let sock = RawSocket::open(&lab.peer, "eth0");
    let host_sees = || {
        let cap = Capture::start(&lab.server, "eth0", "arp");
        sock.send(&garp);
        sock.send(&reply);
        cap.stop_synced(&sock)
            .iter()
            .filter_map(|f| arp_fields(f))
            .filter(|(_, _, spa, _)| *spa == VIP.octets())
            .count()
    };
    assert_eq!(host_sees(), 0, "hidden by default");
    lab.add_vip(&["--show-conflicts"]);
    assert_eq!(
        host_sees(),
        2,
        "visible with --show-conflicts (announcement and reply)"
    );
}

#[test]
fn monitor_mode_counts_but_changes_nothing() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    lab.add_vip(&["--monitor"]);
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        2,
        "monitored VIP still answered"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("JSON");
    assert_eq!(st["vips"][0]["monitored"]["requests_dropped"], 2, "{st}");
    assert_eq!(st["vips"][0]["counters"]["requests_dropped"], 0, "{st}");
    lab.add_vip(&[]);
    lab.rsdr(&["monitor", "on"]).ok();
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "global monitor: still answered"
    );
    lab.rsdr(&["monitor", "off"]).ok();
    assert_eq!(lab.arping_from_peer(VIP, 1), 0, "enforced again");
}

#[test]
fn pool_members_are_filtered() {
    let lab = Lab::new();
    let member = Ipv4Addr::new(203, 0, 113, 5);
    lab.server
        .ip(&["addr", "add", &format!("{member}/32"), "dev", "eth0"]);
    assert_eq!(lab.arping_from_peer(member, 1), 1, "control");
    lab.rsdr(&["attach", "eth0"]).ok();
    lab.rsdr(&[
        "vip",
        "add",
        "203.0.113.0/24",
        "--real",
        &REAL_IP.to_string(),
    ])
    .ok();
    assert_eq!(lab.arping_from_peer(member, 2), 0, "pool member filtered");
    assert_eq!(lab.arping_from_peer(REAL_IP, 1), 1, "real IP answered");
}
