//! `cargo xtask lab`: a peer and a real server holding a VIP, in network
//! namespaces, and what the wire carries before and after rsdr.

use anyhow::bail;
use rsdr_tests::{
    cli::set_rsdr_bin,
    lab::{Lab, NOBODY, PEER_IP, REAL_IP, VIP},
    pcap::{Capture, arp_fields},
};

use crate::{signals, util::is_root};

#[derive(clap::Args)]
pub struct Args {}

/// What one pass over the wire showed.
struct Observation {
    vip_replies: u32,
    real_replies: u32,
    senders: Vec<String>,
}

fn step(text: &str) {
    println!("\n== {text}");
}

fn observe(lab: &Lab) -> anyhow::Result<Observation> {
    signals::check()?;
    println!("peer$ arping -c 2 {VIP}");
    let vip_replies = lab.arping_from_peer(VIP, 2);
    println!("     {vip_replies} of 2 requests answered");
    signals::check()?;
    println!("peer$ arping -c 1 {REAL_IP}");
    let real_replies = lab.arping_from_peer(REAL_IP, 1);
    println!("     {real_replies} of 1 answered");
    signals::check()?;
    println!(
        "server$ ping -I {VIP} {NOBODY}   (kernel must ARP for {NOBODY}; peer captures with tcpdump)"
    );
    let cap = Capture::start(&lab.peer, "eth0", "arp");
    lab.server_arps_from_vip();
    let mut senders: Vec<String> = cap
        .stop()
        .iter()
        .filter_map(|f| arp_fields(f))
        .filter(|(op, _, _, tpa)| *op == 1 && *tpa == NOBODY.octets())
        .map(|(_, _, spa, _)| std::net::Ipv4Addr::from(spa).to_string())
        .collect();
    for s in &senders {
        println!("     peer saw: ARP who-has {NOBODY} tell {s}");
    }
    senders.dedup();
    Ok(Observation {
        vip_replies,
        real_replies,
        senders,
    })
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask lab must run as root (it builds network namespaces and loads BPF programs)"
        );
    }
    let bin = crate::build::run_build(false)?;
    set_rsdr_bin(bin);
    signals::install();

    step("lab: two network namespaces joined by a veth pair");
    let lab = Lab::new();
    println!("peer   {}: eth0 {PEER_IP}/24", lab.peer.name());
    println!(
        "server {}: eth0 {REAL_IP}/24 (real IP) + {VIP}/32 (VIP)",
        lab.server.name()
    );

    step("before rsdr: the real server's kernel owns the VIP in ARP");
    let before = observe(&lab)?;

    step(&format!(
        "server$ rsdr attach eth0 && rsdr vip add {VIP} --real {REAL_IP}"
    ));
    signals::check()?;
    print!("{}", lab.rsdr(&["attach", "eth0"]).ok());
    print!(
        "{}",
        lab.rsdr(&[
            "vip",
            "add",
            &VIP.to_string(),
            "--real",
            &REAL_IP.to_string()
        ])
        .ok()
    );

    step("after rsdr");
    let after = observe(&lab)?;

    step("server$ rsdr stats");
    print!("{}", lab.rsdr(&["stats"]).ok());

    step("side by side");
    let row = |what: &str, b: String, a: String| println!("{what:<34} {b:<18} {a}");
    row("", "BEFORE".into(), "AFTER rsdr".into());
    row(
        &format!("ARP replies for VIP {VIP}"),
        format!("{} of 2", before.vip_replies),
        format!("{} of 2", after.vip_replies),
    );
    row(
        &format!("ARP replies for real IP {REAL_IP}"),
        format!("{} of 1", before.real_replies),
        format!("{} of 1", after.real_replies),
    );
    row(
        "sender IP of the server's ARP",
        before.senders.join(","),
        after.senders.join(","),
    );

    let ok = before.vip_replies > 0
        && after.vip_replies == 0
        && after.real_replies == 1
        && after.senders.iter().all(|s| *s == REAL_IP.to_string())
        && !after.senders.is_empty();
    step("cleanup: namespaces and the lab's bpffs are removed");
    drop(lab);
    if !ok {
        bail!("the lab did not show the expected before/after");
    }
    println!("lab: rsdr kept the VIP out of ARP");
    Ok(())
}
