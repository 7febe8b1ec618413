//! `cargo xtask lab`: an LVS direct-routing topology in network namespaces
//! (client, director, two real servers on one bridge) and a short story of
//! what happens on the wire and in the neighbour caches, with rsdr on the
//! real servers, or without it (`--without-rsdr`) to show the ARP flux.

use std::{collections::BTreeMap, net::IpAddr, net::Ipv4Addr};

use anyhow::{Context as _, bail, ensure};
use rsdr_tests::{
    cli::set_rsdr_bin,
    dr::{CLIENT_IP, DIRECTOR_IP, DrLab, RS_IPS, VIP, mac_str},
    http,
    pcap::{Capture, arp_fields},
};

use crate::{signals, util::is_root};

#[derive(clap::Args)]
pub struct Args {
    /// Run the same lab with no filter on the real servers: the ARP flux
    #[arg(long)]
    without_rsdr: bool,

    /// Use this rsdr binary instead of building one (the VM tests, whose
    /// root file system is read-only)
    #[arg(long, value_name = "FILE")]
    rsdr_bin: Option<std::path::PathBuf>,
}

fn step(n: &mut u32, text: &str) -> anyhow::Result<()> {
    signals::check()?;
    *n += 1;
    println!("\n== {n}. {text}");
    Ok(())
}

fn who_answers(lab: &DrLab) -> anyhow::Result<Vec<String>> {
    println!("client$ arping -c 3 {VIP}");
    let out = lab
        .client
        .cmd("arping")
        .args(["-c", "3", "-w", "2", "-I", "eth0", &VIP.to_string()])
        .output()?;
    let mut macs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_lowercase()))
        .collect();
    macs.sort();
    macs.dedup();
    let names: Vec<String> = macs.iter().map(|m| name_of(lab, m)).collect();
    println!("        answered by: {}", names.join(", "));
    Ok(names)
}

fn name_of(lab: &DrLab, mac: &str) -> String {
    let parsed: Vec<u8> = mac
        .split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    match <[u8; 6]>::try_from(parsed) {
        Ok(m) => format!("{} ({mac})", lab.who(&m)),
        Err(_) => mac.to_string(),
    }
}

fn cache(lab: &DrLab) -> String {
    lab.client_vip_mac()
        .map(|m| lab.who(&m))
        .unwrap_or_else(|| "nothing".into())
}

/// rs1 pings the client from the VIP; what the client saw as ARP sender.
fn rs1_arps(lab: &DrLab) -> anyhow::Result<String> {
    println!("rs1$ ping -I {VIP} {CLIENT_IP}     (rs1's kernel must ARP for the client first)");
    let cap = Capture::start(&lab.client, "eth0", "arp");
    lab.rs_arps_from_vip(0);
    let senders: Vec<String> = cap
        .stop()
        .iter()
        .filter_map(|f| arp_fields(f))
        .filter(|(op, sha, _, tpa)| {
            *op == 1 && *tpa == CLIENT_IP.octets() && *sha == lab.rs_macs[0]
        })
        .map(|(_, _, spa, _)| Ipv4Addr::from(spa).to_string())
        .collect();
    let sender = senders
        .first()
        .cloned()
        .unwrap_or_else(|| "none seen".into());
    println!("        client saw: ARP who-has {CLIENT_IP} tell {sender}");
    println!("        client's cache for the VIP: {}", cache(lab));
    Ok(sender)
}

/// HTTP requests to the VIP: `min` of them, and more (up to `max`) until
/// both real servers have answered. The director hashes client address and
/// port, so a few requests can all land on one server by chance (1 in 128
/// for eight); going on until both answered keeps the lab's story, and its
/// verdict, independent of that luck.
fn requests(
    lab: &DrLab,
    min: usize,
    max: usize,
    check_cache: bool,
) -> anyhow::Result<BTreeMap<String, usize>> {
    println!(
        "client$ curl http://{VIP}/   x{min}{}",
        if max > min { " or more" } else { "" }
    );
    let mut served = BTreeMap::new();
    for k in 0..max {
        if k >= min && served.len() >= 2 {
            break;
        }
        signals::check()?;
        let body = http::get(&lab.client, IpAddr::V4(VIP), 80)
            .map_err(anyhow::Error::msg)
            .context("HTTP to the VIP")?;
        *served.entry(body.trim().to_string()).or_insert(0) += 1;
        if check_cache {
            let c = cache(lab);
            ensure!(c == "director", "the client's cache for the VIP holds {c}");
        }
    }
    let list: Vec<String> = served.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("        {}", list.join(", "));
    Ok(served)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask lab must run as root (it builds network namespaces and loads BPF programs)"
        );
    }
    let bin = match args.rsdr_bin.clone() {
        Some(bin) => bin,
        None => crate::build::run_build(crate::build::Flavour::Shipped)?,
    };
    set_rsdr_bin(bin);
    signals::install();
    let mut n = 0;
    println!("rsdr lab: LVS direct routing in network namespaces\n");
    println!("            switch (a bridge)");
    println!("   +------------+-------------+-------------+");
    println!(" client      director        rs1           rs2");
    println!(
        " {CLIENT_IP}   {DIRECTOR_IP}       {}     {}",
        RS_IPS[0], RS_IPS[1]
    );
    println!("             + VIP {VIP}  + VIP on eth0 + VIP on lo");
    let lab = DrLab::new();
    println!("\nThe director forwards TCP for {VIP}:80 to a real server by MAC only:");
    println!("{}.", lab.director_kind.describe());
    println!("The real servers run an HTTP server on the VIP and answer the client directly.");
    lab.director_resolves_real_servers();

    step(
        &mut n,
        "no filter on the real servers: who answers ARP for the VIP?",
    )?;
    let before = who_answers(&lab)?;
    if before.len() > 1 {
        println!("        more than one MAC claims the VIP: the client keeps whichever came last");
    }
    if args.without_rsdr {
        return flux(lab, n);
    }
    step(&mut n, "without a filter, rs1's own ARP announces the VIP")?;
    let sender_before = rs1_arps(&lab)?;
    lab.client.ip(&["neigh", "flush", "dev", "eth0"]);
    println!("        (client's neighbour cache flushed to start clean)");

    step(&mut n, "rsdr on both real servers")?;
    for (i, real) in RS_IPS.iter().enumerate() {
        println!(
            "rs{}$ rsdr attach eth0 && rsdr vip add {VIP} --real {real}",
            i + 1
        );
        for l in lab.protect(i).lines() {
            println!("        {l}");
        }
    }

    step(&mut n, "who answers ARP for the VIP now?")?;
    let after = who_answers(&lab)?;

    step(
        &mut n,
        "HTTP to the VIP, checking the client's cache after every request",
    )?;
    let fwd0 = lab.director_forwarded();
    let cap = Capture::start(&lab.client, "eth0", "tcp port 80");
    let served = requests(&lab, 8, 64, true)?;
    let frames = cap.stop();
    let from: Vec<String> = {
        let mut v: Vec<String> = frames
            .iter()
            .filter(|f| f[26..30] == VIP.octets())
            .map(|f| lab.who(&f[6..12].try_into().unwrap()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    println!("        client's cache for the VIP after each request: director");
    println!(
        "        packets the director forwarded: {}",
        lab.director_forwarded() - fwd0
    );
    println!(
        "        answers reached the client straight from: {}",
        from.join(", ")
    );

    step(
        &mut n,
        "the real servers send ARP of their own from the VIP",
    )?;
    let sender_after = rs1_arps(&lab)?;
    println!("rs2$ ping -I {VIP} {CLIENT_IP}");
    lab.rs_arps_from_vip(1);
    for i in 0..2 {
        println!("rs{}$ arping -U -s {VIP} {VIP}", i + 1);
        lab.rs_announces_vip(i);
    }
    std::thread::sleep(std::time::Duration::from_millis(1200));
    println!("        client's cache for the VIP: {}", cache(&lab));
    for (i, ip) in RS_IPS.iter().enumerate() {
        let m = DrLab::neigh(&lab.client, *ip)
            .map(|m| lab.who(&m))
            .unwrap_or_else(|| "nothing".into());
        println!("        client's cache for rs{} ({ip}): {m}", i + 1);
    }
    let dir: Vec<String> = DrLab::neighbours(&lab.director)
        .iter()
        .map(|(ip, m)| format!("{ip} -> {}", lab.who(m)))
        .collect();
    println!("director$ ip neigh: {}", dir.join(", "));

    step(&mut n, "rs1$ rsdr stats")?;
    for l in lab
        .rsdr(0, &["stats"])
        .ok()
        .lines()
        .filter(|l| !l.ends_with(" 0      0"))
    {
        println!("        {l}");
    }

    step(&mut n, "side by side")?;
    let row = |what: &str, b: &str, a: &str| println!("{what:<36} {b:<44} {a}");
    row("", "NO FILTER", "RSDR ON BOTH REAL SERVERS");
    row(
        "who answers ARP for the VIP",
        &before
            .iter()
            .map(|s| s.split(' ').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", "),
        &after
            .iter()
            .map(|s| s.split(' ').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row("sender IP of rs1's own ARP", &sender_before, &sender_after);
    row(
        "client's cache for the VIP",
        "whoever answered last",
        &cache(&lab),
    );
    let served_s: Vec<String> = served.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    row("HTTP to the VIP", "", &served_s.join(", "));

    let ok = after.len() == 1
        && after[0].starts_with("director")
        && served.len() == 2
        && sender_after == RS_IPS[0].to_string()
        && cache(&lab) == "director";
    println!("\n== cleanup: namespaces and the lab's bpffs are removed");
    drop(lab);
    ensure!(ok, "the lab did not show what rsdr promises");
    println!("lab: with rsdr the client only ever learned the director's MAC for the VIP");
    Ok(())
}

fn flux(lab: DrLab, mut n: u32) -> anyhow::Result<()> {
    step(
        &mut n,
        "HTTP to the VIP: the client sends to whichever MAC it cached",
    )?;
    let _ = http::get(&lab.client, IpAddr::V4(VIP), 80);
    println!("        client's cache for the VIP: {}", cache(&lab));
    step(
        &mut n,
        "rs1's kernel needs the client's MAC and asks with the VIP as sender",
    )?;
    rs1_arps(&lab)?;
    step(&mut n, "the next request")?;
    let fwd = lab.director_forwarded();
    let served = requests(&lab, 1, 1, false)?;
    let bypassed = lab.director_forwarded() == fwd;
    println!(
        "        packets the director forwarded for it: {}",
        lab.director_forwarded() - fwd
    );
    if bypassed {
        println!(
            "        ARP flux: the client sent straight to rs1, bypassing the director's scheduling"
        );
    }
    println!("\n== cleanup: namespaces are removed");
    let poisoned = lab.client_vip_mac() == Some(lab.rs_macs[0]);
    let mac = mac_str(&lab.rs_macs[0]);
    drop(lab);
    ensure!(
        poisoned && bypassed && served.contains_key("served by rs1"),
        "the lab did not reproduce the ARP flux"
    );
    println!("lab: without rsdr the client learned rs1's MAC ({mac}) for the VIP");
    Ok(())
}
