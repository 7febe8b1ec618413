//! End to end on an LVS direct-routing topology (see `tests/src/dr.rs`):
//! with rsdr on both real servers, the client only ever learns the
//! director's MAC for the VIP, HTTP to the VIP is served by both real
//! servers through the director, and they answer the client directly.
//! Without rsdr, the same lab shows the ARP flux.

use std::{collections::BTreeSet, net::IpAddr, thread::sleep, time::Duration};

use rsdr_tests::{
    dr::{DrLab, RS_IPS, VIP, mac_str},
    http,
    pcap::Capture,
};

fn get(lab: &DrLab) -> String {
    http::get(&lab.client, IpAddr::V4(VIP), 80)
        .unwrap_or_else(|e| panic!("HTTP to the VIP failed: {e}"))
}

/// MACs that answered the client's `arping` for the VIP.
fn arp_answerers(lab: &DrLab) -> BTreeSet<String> {
    let out = lab
        .client
        .cmd("arping")
        .args(["-c", "3", "-w", "2", "-I", "eth0", &VIP.to_string()])
        .output()
        .expect("arping");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_lowercase()))
        .collect()
}

#[test]
fn with_rsdr_the_client_only_ever_sees_the_director() {
    let lab = DrLab::new();
    lab.protect(0);
    lab.protect(1);
    lab.director_resolves_real_servers();
    assert_eq!(
        arp_answerers(&lab),
        BTreeSet::from([mac_str(&lab.director_mac)]),
        "only the director answers ARP for the VIP"
    );

    let cap = Capture::start(&lab.client, "eth0", "tcp port 80");
    let mut served = BTreeSet::new();
    // The director hashes client address and port: sixteen requests, and
    // more until both servers answered, so luck cannot fail the test.
    for round in 0..64 {
        if round >= 16 && served.len() == 2 {
            break;
        }
        served.insert(get(&lab));
        assert_eq!(
            lab.client_vip_mac(),
            Some(lab.director_mac),
            "round {round}: client's cache for the VIP"
        );
    }
    let frames = cap.stop();
    assert_eq!(
        served,
        BTreeSet::from(["served by rs1\n".to_string(), "served by rs2\n".to_string()]),
        "both real servers serve"
    );
    assert!(
        lab.director_forwarded() > 0,
        "requests went through the director"
    );
    let vip = VIP.octets();
    for f in &frames {
        let (src_ip, dst_ip) = (&f[26..30], &f[30..34]);
        if src_ip == vip {
            assert!(
                lab.rs_macs.iter().any(|m| f[6..12] == *m),
                "answers come straight from a real server, not {}",
                lab.who(&f[6..12].try_into().unwrap())
            );
        }
        if dst_ip == vip {
            assert_eq!(
                f[0..6],
                lab.director_mac,
                "client sends to the director's MAC"
            );
        }
    }
    assert!(
        frames.iter().any(|f| f[26..30] == vip),
        "captured the real servers' answers"
    );

    // The real servers now send ARP of their own, from the VIP. Wait past
    // the neighbour locktime first, so a leak could not be ignored by it.
    sleep(Duration::from_millis(1200));
    for i in 0..2 {
        lab.rs_arps_from_vip(i);
        lab.rs_announces_vip(i);
    }
    assert_eq!(
        lab.client_vip_mac(),
        Some(lab.director_mac),
        "after the real servers' own ARP"
    );
    for (i, ip) in RS_IPS.iter().enumerate() {
        assert_eq!(
            DrLab::neigh(&lab.client, *ip),
            Some(lab.rs_macs[i]),
            "client learned rs{}'s real IP instead",
            i + 1
        );
    }
    let before = lab.director_forwarded();
    get(&lab);
    assert!(
        lab.director_forwarded() > before,
        "still through the director"
    );

    let director_view = DrLab::neighbours(&lab.director);
    for (i, mac) in lab.rs_macs.iter().enumerate() {
        let ips: Vec<_> = director_view
            .iter()
            .filter(|(_, m)| m == mac)
            .map(|(ip, _)| *ip)
            .collect();
        assert_eq!(
            ips,
            vec![RS_IPS[i]],
            "director's entries for rs{}'s MAC carry its real IP only",
            i + 1
        );
    }
}

#[test]
fn without_rsdr_the_lab_shows_arp_flux() {
    let lab = DrLab::new();
    let answerers = arp_answerers(&lab);
    assert!(
        answerers.len() >= 2,
        "several hosts answer ARP for the VIP: {answerers:?}"
    );
    get(&lab);
    lab.rs_arps_from_vip(0);
    assert_eq!(
        lab.client_vip_mac(),
        Some(lab.rs_macs[0]),
        "the client learned rs1's MAC for the VIP"
    );
    let before = lab.director_forwarded();
    assert_eq!(get(&lab), "served by rs1\n", "the request went to rs1");
    assert_eq!(lab.director_forwarded(), before, "bypassing the director");
}
