//! IPv6 Neighbor Discovery on a real wire: ndisc6, ping -6, kernel DAD and
//! tcpdump against the real `rsdr` binary.

use std::{thread::sleep, time::Duration};

use rsdr_tests::{
    frames::{Ext, Nd},
    inject::RawSocket,
    lab::{Lab, NOBODY6, PEER6, REAL6, VIP6},
    pcap::{Capture, nd_fields},
};

/// Does `ndisc6` from the peer get a Neighbor Advertisement for `target`?
fn ndisc6_answered(lab: &Lab, target: std::net::Ipv6Addr) -> bool {
    let out = lab
        .peer
        .cmd("ndisc6")
        .args(["-1", "-r", "3", "-w", "1000", &target.to_string(), "eth0"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run ndisc6: {e}"));
    String::from_utf8_lossy(&out.stdout).contains("Target link-layer address")
}

fn protect6(lab: &Lab) {
    lab.rsdr(&["attach", "eth0"]).ok();
    lab.rsdr(&[
        "vip",
        "add",
        &VIP6.to_string(),
        "--real",
        &REAL6.to_string(),
    ])
    .ok();
}

/// NSs for NOBODY6 that the peer saw while the server pinged it from VIP6:
/// (IPv6 source, checksum valid).
fn server_ns_sources(lab: &Lab) -> Vec<(std::net::Ipv6Addr, bool)> {
    lab.server.ip(&["-6", "neigh", "flush", "dev", "eth0"]);
    let cap = Capture::start(&lab.peer, "eth0", "icmp6");
    let _ = lab
        .server
        .cmd("ping")
        .args([
            "-6",
            "-c",
            "1",
            "-W",
            "2",
            "-I",
            &VIP6.to_string(),
            &NOBODY6.to_string(),
        ])
        .output();
    cap.stop_synced(&RawSocket::open(&lab.server, "eth0"))
        .iter()
        .filter_map(|f| nd_fields(f))
        .filter(|(ty, _, _, target, _)| *ty == 135 && *target == NOBODY6)
        .map(|(_, src, _, _, ok)| (src, ok))
        .collect()
}

#[test]
fn no_neighbor_advertisement_for_the_vip6() {
    let lab = Lab::new().with_ipv6(true);
    assert!(
        ndisc6_answered(&lab, VIP6),
        "without rsdr the kernel advertises the VIP6"
    );
    protect6(&lab);
    assert!(
        !ndisc6_answered(&lab, VIP6),
        "with rsdr nobody on the real server advertises the VIP6"
    );
    assert!(
        ndisc6_answered(&lab, REAL6),
        "the real IPv6 is still advertised"
    );
    let ping = lab
        .peer
        .cmd("ping")
        .args(["-6", "-c", "1", "-W", "1", &VIP6.to_string()])
        .output()
        .expect("ping");
    assert!(
        !ping.status.success(),
        "ping -6 to the VIP6 cannot resolve it"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
    assert!(
        st["global"]["decisions"]["in_ns_for_vip_dropped"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{st}"
    );
}

/// Send the peer's NS for the VIP6 behind each of `chains`; the NAs for
/// the VIP6 the peer then sees, per chain.
fn nas_for_ns_behind(lab: &Lab, chains: &[Vec<Ext>]) -> Vec<usize> {
    let mac = lab.peer.mac("eth0");
    let sock = RawSocket::open(&lab.peer, "eth0");
    chains
        .iter()
        .map(|chain| {
            lab.server.ip(&["-6", "neigh", "flush", "dev", "eth0"]);
            let cap = Capture::start(&lab.peer, "eth0", "icmp6");
            let ns = Nd::ns(PEER6, VIP6, mac).behind(chain);
            sock.send(&ns.frame(mac, lab.server.mac("eth0")).bytes());
            cap.stop_synced(&RawSocket::open(&lab.server, "eth0"))
                .iter()
                .filter_map(|f| nd_fields(f))
                .filter(|(ty, _, _, target, _)| *ty == 136 && *target == VIP6)
                .count()
        })
        .collect()
}

#[test]
fn ns_for_the_vip6_behind_extension_headers_gets_no_answer() {
    let lab = Lab::new().with_ipv6(true);
    let chains = vec![
        vec![Ext::dest_opts(0)],
        vec![Ext::hop_by_hop(0)],
        vec![Ext::hop_by_hop(1), Ext::dest_opts(0), Ext::dest_opts(2)],
    ];
    let before = nas_for_ns_behind(&lab, &chains);
    assert!(
        before.iter().all(|&n| n >= 1),
        "without rsdr the kernel answers an NS behind each chain: {before:?} NAs for {chains:?}"
    );
    protect6(&lab);
    let with = nas_for_ns_behind(&lab, &chains);
    assert_eq!(
        with,
        vec![0; chains.len()],
        "with rsdr (XDP) no NS for the VIP6 is answered, whatever headers come first"
    );
    lab.rsdr(&["attach", "eth0", "--ingress", "tc"]).ok();
    let with_tc = nas_for_ns_behind(&lab, &chains);
    assert_eq!(
        with_tc,
        vec![0; chains.len()],
        "with rsdr on TC ingress neither"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
    assert_eq!(
        st["global"]["decisions"]["in_ns_for_vip_dropped"].as_u64(),
        Some(2 * chains.len() as u64),
        "each NS was dropped as an NS for the VIP6, on either hook: {st}"
    );
    // The egress program would drop the kernel's answer as well; the NS
    // must not reach the kernel at all.
    assert_eq!(
        st["global"]["decisions"]["out_na_for_vip_dropped"].as_u64(),
        Some(0),
        "the kernel never answered: {st}"
    );
}

#[test]
fn server_ns_from_the_vip6_leaves_with_the_real_source_and_a_valid_checksum() {
    let lab = Lab::new().with_ipv6(true);
    let before = server_ns_sources(&lab);
    assert!(!before.is_empty(), "the kernel should solicit {NOBODY6}");
    assert!(
        before.iter().all(|(src, ok)| *src == VIP6 && *ok),
        "without rsdr the NS is sourced from the VIP6: {before:?}"
    );
    protect6(&lab);
    let after = server_ns_sources(&lab);
    assert!(
        !after.is_empty(),
        "the kernel should still solicit {NOBODY6}"
    );
    for (src, ok) in &after {
        assert_eq!(*src, REAL6, "NS source must be the real IPv6");
        assert!(ok, "ICMPv6 checksum must be valid after the rewrite");
    }
}

/// Flags of `addr` on the server's eth0 (e.g. "tentative", "dadfailed").
fn addr_flags(lab: &Lab, addr: std::net::Ipv6Addr) -> Vec<String> {
    let out = lab.server.ip(&["-j", "-6", "addr", "show", "dev", "eth0"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j JSON");
    let info = v[0]["addr_info"].as_array().cloned().unwrap_or_default();
    let a = info
        .iter()
        .find(|i| i["local"] == addr.to_string())
        .unwrap_or_else(|| panic!("{addr} not on eth0: {v}"));
    ["tentative", "dadfailed"]
        .iter()
        .filter(|f| a[**f] == true)
        .map(|f| f.to_string())
        .collect()
}

fn add_vip6_with_dad(lab: &Lab) -> Vec<String> {
    // The lab's veths skip DAD (netns::veth); this test is about it.
    lab.server.sysctl("net/ipv6/conf/eth0/accept_dad", "1");
    lab.server
        .ip(&["-6", "addr", "add", &format!("{VIP6}/128"), "dev", "eth0"]);
    sleep(Duration::from_millis(2500));
    addr_flags(lab, VIP6)
}

#[test]
fn dad_accepts_the_vip6_while_the_director_holds_it() {
    // Without rsdr: the director (the peer) defends the VIP6, DAD fails.
    let lab = Lab::new().with_ipv6(false);
    lab.peer.add_ip6_nodad(&format!("{VIP6}/128"), "eth0");
    let flags = add_vip6_with_dad(&lab);
    assert!(
        flags.contains(&"dadfailed".to_string()),
        "control: DAD fails without rsdr: {flags:?}"
    );

    let lab = Lab::new().with_ipv6(false);
    lab.peer.add_ip6_nodad(&format!("{VIP6}/128"), "eth0");
    protect6(&lab);
    assert!(
        add_vip6_with_dad(&lab).is_empty(),
        "with rsdr the VIP6 comes up (no tentative, no dadfailed)"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
    assert!(
        st["vips"][0]["counters"]["own_probes_dropped"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "our DAD NS was dropped: {st}"
    );
}
