//! IPv4 ARP on a real wire: veth between two namespaces, the real `rsdr`
//! binary, real arping / ping / tcpdump.

use std::path::Path;

use rsdr_tests::{
    inject::RawSocket,
    lab::{Lab, NOBODY, REAL_IP, VIP},
    pcap::{Capture, arp_fields},
};

/// Sender IPs of the ARP requests for NOBODY the peer saw while the server
/// pinged NOBODY from the VIP, and the sender MACs they carried.
fn server_arp_senders(lab: &Lab) -> Vec<([u8; 4], [u8; 6])> {
    let cap = Capture::start(&lab.peer, "eth0", "arp");
    lab.server_arps_from_vip();
    let frames = cap.stop_synced(&RawSocket::open(&lab.server, "eth0"));
    frames
        .iter()
        .filter_map(|f| arp_fields(f))
        .filter(|(op, _, _, tpa)| *op == 1 && *tpa == NOBODY.octets())
        .map(|(_, sha, spa, _)| (spa, sha))
        .collect()
}

#[test]
fn kernel_answers_for_the_vip_until_rsdr_filters_it() {
    let lab = Lab::new();
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "without rsdr the kernel answers ARP for the VIP (the ARP problem)"
    );
    lab.protect();
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "with rsdr nobody on the real server answers for the VIP"
    );
    assert_eq!(
        lab.arping_from_peer(REAL_IP, 1),
        1,
        "the real IP is still answered"
    );
}

#[test]
fn server_arp_leaves_with_the_real_ip_as_sender() {
    let lab = Lab::new();
    let before = server_arp_senders(&lab);
    assert!(
        !before.is_empty(),
        "the kernel should have sent ARP requests for {NOBODY}"
    );
    assert!(
        before.iter().all(|(spa, _)| *spa == VIP.octets()),
        "without rsdr the kernel announces the VIP as sender: {before:?}"
    );

    lab.protect();
    let after = server_arp_senders(&lab);
    let mac = lab.server.mac("eth0");
    assert!(
        !after.is_empty(),
        "the kernel should still send ARP requests for {NOBODY}"
    );
    for (spa, sha) in &after {
        assert_eq!(*spa, REAL_IP.octets(), "sender IP must be the real IP");
        assert_eq!(*sha, mac, "sender MAC must be left alone");
    }
}

#[test]
fn vip_add_and_del_take_effect_live() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "attached but no VIP configured: kernel answers"
    );
    lab.add_vip(&[]);
    assert_eq!(lab.arping_from_peer(VIP, 2), 0, "after vip add: filtered");
    let stats = lab.rsdr(&["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_str(stats.ok()).expect("stats JSON");
    let dropped = v["vips"][0]["counters"]["requests_dropped"]
        .as_u64()
        .expect("per-VIP counter");
    assert!(
        dropped >= 2,
        "per-VIP drop counter should count arping's requests, got {dropped}"
    );
    lab.rsdr(&["vip", "del", &VIP.to_string()]).ok();
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "after vip del: kernel answers again"
    );
}

#[test]
fn filter_keeps_working_after_the_cli_exits() {
    let lab = Lab::new();
    lab.protect(); // both commands have exited when this returns
    let status = lab.rsdr(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(status.ok()).expect("status JSON");
    assert_eq!(v["interfaces"][0]["healthy"], true, "status: {v}");
    assert_eq!(
        lab.arping_from_peer(VIP, 3),
        0,
        "pinned links keep filtering with no rsdr process"
    );
}

#[test]
fn attaching_twice_is_a_no_op() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    let first: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    let again = lab.rsdr(&["attach", "eth0"]);
    assert!(
        again.ok().contains("already attached"),
        "got: {}",
        again.stdout
    );
    let second: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(first, second, "links must be the same ones");
}

#[test]
fn detach_restores_the_kernel_and_leaves_no_pins() {
    let lab = Lab::new();
    lab.protect();
    assert_eq!(lab.arping_from_peer(VIP, 1), 0);
    let out = lab.rsdr(&["detach"]);
    assert!(out.ok().contains("eth0: detached"), "got: {}", out.stdout);
    assert!(
        !Path::new(&lab.pin_dir()).exists(),
        "pin dir {} must be gone",
        lab.pin_dir()
    );
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "ingress: kernel answers for the VIP again"
    );
    let senders = server_arp_senders(&lab);
    assert!(
        !senders.is_empty() && senders.iter().all(|(spa, _)| *spa == VIP.octets()),
        "egress: kernel's own ARP (VIP as sender) again: {senders:?}"
    );
    let ip = lab.server.ip(&["link", "show", "eth0"]);
    let text = String::from_utf8_lossy(&ip.stdout);
    assert!(
        !text.contains("xdp"),
        "no XDP program may remain on eth0: {text}"
    );
}

#[test]
fn detach_one_interface_keeps_the_vip_table() {
    let lab = Lab::new();
    lab.protect();
    lab.rsdr(&["detach", "eth0"]).ok();
    assert_eq!(lab.arping_from_peer(VIP, 1), 1, "eth0 no longer filtered");
    let list = lab.rsdr(&["vip", "list", "--json"]);
    assert!(
        list.ok().contains(&VIP.to_string()),
        "VIP table kept: {}",
        list.stdout
    );
    lab.rsdr(&["attach", "eth0"]).ok();
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "re-attached with the kept table"
    );
}

#[test]
fn skb_mode_filters_too() {
    let lab = Lab::new();
    let out = lab.rsdr(&["attach", "eth0", "--xdp-mode", "skb"]);
    assert!(out.ok().contains("xdp skb"), "got: {}", out.stdout);
    lab.add_vip(&[]);
    assert_eq!(lab.arping_from_peer(VIP, 2), 0);
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(st["interfaces"][0]["hooks"][0]["mode"], "skb");
}

#[test]
fn tc_ingress_hook_filters_too() {
    let lab = Lab::new();
    let out = lab.rsdr(&["attach", "eth0", "--ingress", "tc"]);
    let kind = rsdr_tests::kernel::tc_kind();
    assert!(
        out.ok()
            .contains(&format!("({kind} ingress, {kind} egress)")),
        "got: {}",
        out.stdout
    );
    lab.add_vip(&[]);
    assert_eq!(lab.arping_from_peer(VIP, 2), 0, "filtered on TC ingress");
    assert_eq!(lab.arping_from_peer(REAL_IP, 1), 1);
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(st["interfaces"][0]["hooks"][0]["kind"], kind, "{st}");
    assert_eq!(
        st["interfaces"][0]["hooks"][0]["direction"], "ingress",
        "{st}"
    );
    let link = lab.server.ip(&["link", "show", "eth0"]);
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "no XDP program used"
    );
    lab.rsdr(&["detach"]).ok();
    assert_eq!(lab.arping_from_peer(VIP, 1), 1, "detached");
}
