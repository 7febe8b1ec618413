//! 802.1Q on a real wire: VLAN 100 over the veth, with the VIP on the
//! server's VLAN device. rsdr on the trunk judges tagged frames; rsdr on
//! the VLAN device judges them untagged; both filter and rewrite alike.
//! Needs the 8021q module: this host's kernel has none, so `cargo test`
//! leaves the test out and `cargo xtask vm-test` (part of `cargo xtask
//! test`) runs it on Debian's kernel, which has it.

use std::net::Ipv4Addr;

use rsdr_tests::{
    inject::RawSocket,
    lab::{Lab, arping},
    netns::run_ok,
    pcap::{Capture, arp_fields},
};

const VLAN: &str = "eth0.100";
const PEER: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const REAL: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 100);
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 77);

/// The standard lab with VLAN 100 on both ends and the VIP on the server's
/// VLAN device.
fn vlan_lab() -> Lab {
    let loaded = std::process::Command::new("modprobe")
        .args(["-q", "8021q"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        loaded,
        "this kernel has no 8021q module: run the VLAN test with `cargo xtask vm-test`"
    );
    let lab = Lab::without_vip();
    for (ns, ip) in [(&lab.peer, PEER), (&lab.server, REAL)] {
        ns.ip(&[
            "link", "add", "link", "eth0", "name", VLAN, "type", "vlan", "id", "100",
        ]);
        ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", VLAN]);
        ns.ip(&["link", "set", VLAN, "up"]);
        ns.wait_ready(VLAN);
    }
    lab.server
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", VLAN]);
    lab
}

/// The 802.1Q tags of the ARP frames the peer's trunk saw, and the sender
/// IPs of the server's requests for NOBODY among them, while the server
/// pinged NOBODY from the VIP.
fn server_requests(lab: &Lab) -> (bool, Vec<[u8; 4]>) {
    let cap = Capture::start(&lab.peer, "eth0", "");
    lab.server_arps_via(VLAN, VIP, NOBODY);
    let frames = cap.stop_synced(&RawSocket::open(&lab.server, "eth0"));
    let requests: Vec<&Vec<u8>> = frames
        .iter()
        .filter(|f| matches!(arp_fields(f), Some((1, _, _, tpa)) if tpa == NOBODY.octets()))
        .collect();
    let tagged = !requests.is_empty()
        && requests
            .iter()
            .all(|f| f.len() > 16 && f[12..14] == [0x81, 0x00] && f[14..16] == [0x00, 100]);
    let senders = requests
        .iter()
        .filter_map(|f| arp_fields(f).map(|(_, _, spa, _)| spa))
        .collect();
    (tagged, senders)
}

fn check_filters_on(lab: &Lab, dev: &str) {
    lab.rsdr(&["attach", dev]).ok();
    let (vip, real) = (VIP.to_string(), REAL.to_string());
    lab.rsdr(&["vip", "add", &vip, "--real", &real]).ok();
    assert_eq!(
        arping(&lab.peer, VLAN, VIP, 2),
        0,
        "rsdr on {dev}: no reply for the VIP over the VLAN"
    );
    assert_eq!(
        arping(&lab.peer, VLAN, REAL, 1),
        1,
        "the real IP is answered"
    );
    let (tagged, senders) = server_requests(lab);
    assert!(tagged, "the server's ARP crossed the trunk tagged");
    assert!(
        !senders.is_empty() && senders.iter().all(|s| *s == REAL.octets()),
        "rsdr on {dev}: the server's ARP leaves with the real IP: {senders:?}"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
    assert!(
        st["global"]["decisions"]["in_arp_request_for_vip_dropped"].as_u64() >= Some(2),
        "{st}"
    );
    lab.rsdr(&["detach"]).ok();
}

#[test]
#[ignore = "needs 802.1Q (8021q): runs in the VM tests (cargo xtask vm-test)"]
fn tagged_arp_is_filtered_on_the_trunk_and_on_the_vlan_device() {
    let lab = vlan_lab();
    assert_eq!(
        arping(&lab.peer, VLAN, VIP, 1),
        1,
        "control: without rsdr the server answers for the VIP over the VLAN"
    );
    let (tagged, senders) = server_requests(&lab);
    assert!(tagged, "control: the trunk carries tagged ARP");
    assert!(
        senders.iter().all(|s| *s == VIP.octets()),
        "control: {senders:?}"
    );
    check_filters_on(&lab, "eth0");
    check_filters_on(&lab, VLAN);
    run_ok(lab.server.cmd("ip").args(["link", "show", VLAN]));
}
