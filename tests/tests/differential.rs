//! Differential run against the seed's own tool: the same ARP corpus in a
//! veth lab, once behind arptables_jf-equivalent rules
//! (`-A INPUT -d VIP -j DROP`, `-A OUTPUT -s VIP -j mangle --mangle-ip-s REAL`)
//! and once behind rsdr, comparing what is answered, what the host sees and
//! what leaves. They must agree everywhere except the rows of the "Compared
//! with arptables_jf" table in docs/semantics.md, where rsdr must do what
//! that table says.

use std::{net::Ipv4Addr, thread::sleep, time::Duration};

use rsdr_tests::{
    fixture::semantics_rows,
    frames::{Arp, BROADCAST, Frame},
    inject::RawSocket,
    lab::{Lab, NOBODY, PEER_IP, REAL_IP, VIP},
    pcap::{Capture, arp_fields},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    Arptables,
    Rsdr,
}

fn lab(filter: Filter) -> Lab {
    let lab = Lab::new();
    match filter {
        Filter::Arptables => {
            lab.add_seed_arptables_rules();
        }
        Filter::Rsdr => lab.protect(),
    }
    lab
}

/// Inbound corpus item: (name, frame built for a per-item source MAC, rsdr drops it).
type InItem = (&'static str, fn([u8; 6]) -> Vec<u8>, bool);
/// Outbound corpus item: (name, semantics row where rsdr differs, action on the lab).
type OutItem = (&'static str, Option<&'static str>, fn(&Lab));

fn inbound() -> Vec<InItem> {
    fn req(sender: Ipv4Addr, target: Ipv4Addr) -> impl Fn([u8; 6]) -> Vec<u8> {
        move |mac| Frame::arp(mac, &Arp::request(mac, sender, target)).bytes()
    }
    vec![
        ("request for the VIP", |m| req(PEER_IP, VIP)(m), true),
        (
            "probe for the VIP",
            |m| req(Ipv4Addr::UNSPECIFIED, VIP)(m),
            true,
        ),
        (
            "unicast request for the VIP",
            |m| {
                let mut f = Frame::arp(m, &Arp::request(m, PEER_IP, VIP));
                f.dst = [0xff; 6];
                f.bytes()
            },
            true,
        ),
        (
            "request for the VIP, hardware type 6",
            |m| Frame::arp(m, &Arp::request(m, PEER_IP, VIP).with(|a| a.htype = 6)).bytes(),
            true,
        ),
        (
            "director's gratuitous ARP request",
            |m| req(VIP, VIP)(m),
            true,
        ),
        (
            "director's gratuitous ARP reply",
            |m| Frame::arp(m, &Arp::reply(m, VIP, BROADCAST, VIP)).bytes(),
            true,
        ),
        (
            "director's reply to a probe",
            |m| Frame::arp(m, &Arp::reply(m, VIP, BROADCAST, Ipv4Addr::UNSPECIFIED)).bytes(),
            true,
        ),
        (
            "request from the VIP for the real IP",
            |m| req(VIP, REAL_IP)(m),
            true,
        ),
        (
            "request for the real IP",
            |m| req(PEER_IP, REAL_IP)(m),
            false,
        ),
        (
            "request for an unrelated address",
            |m| req(PEER_IP, NOBODY)(m),
            false,
        ),
    ]
}

/// For each inbound item: (answered by the server, seen by a packet socket on the server).
fn observe_inbound(filter: Filter) -> Vec<(bool, bool)> {
    let lab = lab(filter);
    let server_mac = lab.server.mac("eth0");
    let sock = RawSocket::open(&lab.peer, "eth0");
    let on_peer = Capture::start(&lab.peer, "eth0", "arp");
    let on_server = Capture::start(&lab.server, "eth0", "arp");
    let items = inbound();
    let mac = |i: usize| [0x02, 0, 0, 0, 0xee, i as u8];
    for (i, (_, build, _)) in items.iter().enumerate() {
        sock.send(&build(mac(i)));
        sleep(Duration::from_millis(20));
    }
    sleep(Duration::from_millis(100));
    // The server's answers must reach the peer before we look: sync the
    // peer's capture with a marker from the server, the server's with one
    // from the peer.
    let server_sock = RawSocket::open(&lab.server, "eth0");
    let peer_frames = on_peer.stop_synced(&server_sock);
    let server_frames = on_server.stop_synced(&sock);
    (0..items.len())
        .map(|i| {
            let answered = peer_frames.iter().any(|f| {
                f[6..12] == server_mac
                    && f[0..6] == mac(i)
                    && arp_fields(f).is_some_and(|a| a.0 == 2)
            });
            let seen = server_frames.iter().any(|f| f[6..12] == mac(i));
            (answered, seen)
        })
        .collect()
}

type Seen = Vec<(u16, [u8; 4], [u8; 4])>;

fn outbound() -> Vec<OutItem> {
    fn arping(lab: &Lab, args: &[&str]) {
        let _ = lab
            .server
            .cmd("arping")
            .args(["-I", "eth0", "-c", "2", "-w", "3"])
            .args(args)
            .output();
    }
    vec![
        ("kernel ARP request from the VIP", None, |lab| {
            lab.server_arps_from_vip()
        }),
        ("kernel ARP request from the real IP", None, |lab| {
            lab.server_arps_from(REAL_IP)
        }),
        ("kernel reply to a request for the real IP", None, |lab| {
            let _ = lab
                .peer
                .cmd("arping")
                .args(["-I", "eth0", "-c", "1", "-w", "2", &REAL_IP.to_string()])
                .output();
        }),
        (
            "kernel gratuitous ARP (arp_notify, MAC change)",
            Some("D1"),
            |lab| {
                lab.server.sysctl("net.ipv4.conf.eth0.arp_notify", "1");
                lab.server
                    .ip(&["link", "set", "eth0", "address", "02:00:00:00:aa:01"]);
                sleep(Duration::from_millis(300));
            },
        ),
        ("arping -U from the VIP", Some("D2"), |lab| {
            arping(lab, &["-U", "-s", &VIP.to_string(), &VIP.to_string()])
        }),
        ("arping -A from the VIP", Some("D2"), |lab| {
            arping(lab, &["-A", "-s", &VIP.to_string(), &VIP.to_string()])
        }),
        ("arping -D for the VIP", Some("D3"), |lab| {
            arping(lab, &["-D", &VIP.to_string()])
        }),
    ]
}

fn observe_outbound(filter: Filter, action: fn(&Lab)) -> Seen {
    let lab = lab(filter);
    let peer_mac = lab.peer.mac("eth0");
    let cap = Capture::start(&lab.peer, "eth0", "arp");
    action(&lab);
    let server_sock = RawSocket::open(&lab.server, "eth0");
    let mut seen: Seen = cap
        .stop_synced(&server_sock)
        .iter()
        .filter(|f| f[6..12] != peer_mac)
        .filter_map(|f| arp_fields(f))
        .map(|(op, _, spa, tpa)| (op, spa, tpa))
        .collect();
    seen.sort();
    seen.dedup();
    seen
}

fn show(seen: &Seen) -> String {
    let s: Vec<String> = seen
        .iter()
        .map(|(op, s, t)| {
            format!(
                "{} {}>{}",
                if *op == 1 { "req" } else { "rep" },
                Ipv4Addr::from(*s),
                Ipv4Addr::from(*t)
            )
        })
        .collect();
    if s.is_empty() {
        "nothing".into()
    } else {
        s.join(", ")
    }
}

#[test]
fn rsdr_agrees_with_arptables_except_where_documented() {
    let rows = semantics_rows(&['D']);
    for r in ["D1", "D2", "D3", "D4", "D5"] {
        assert!(
            rows.contains(r),
            "docs/semantics.md lacks difference row {r}"
        );
    }
    let mut report = vec![format!(
        "{:<48} {:<28} {}",
        "inbound frame", "arptables (answered, host)", "rsdr"
    )];
    let a = observe_inbound(Filter::Arptables);
    let r = observe_inbound(Filter::Rsdr);
    for (i, (name, _, rsdr_drops)) in inbound().iter().enumerate() {
        report.push(format!(
            "{name:<48} {:<28} {:?}",
            format!("{:?}", a[i]),
            r[i]
        ));
        assert_eq!(
            a[i].0, r[i].0,
            "{name}: answered under arptables {} but under rsdr {}",
            a[i].0, r[i].0
        );
        // D4/D5: arptables drops after packet taps, so the host always sees
        // the frame; XDP drops first, so the host sees exactly what rsdr passes.
        assert!(a[i].1, "{name}: a host listener sees it under arptables");
        assert_eq!(
            r[i].1, !rsdr_drops,
            "{name}: host sees it under rsdr iff rsdr passes it (D4, D5)"
        );
    }
    let vip = VIP.octets();
    report.push(format!(
        "\n{:<48} {:<40} {}",
        "outbound action", "arptables: what leaves", "rsdr: what leaves"
    ));
    for (name, diff, action) in outbound() {
        let a = observe_outbound(Filter::Arptables, action);
        let r = observe_outbound(Filter::Rsdr, action);
        report.push(format!("{name:<48} {:<40} {}", show(&a), show(&r)));
        assert!(
            !a.is_empty() || diff == Some("D3") || !r.is_empty(),
            "{name}: nothing left in either run; the action did not work"
        );
        match diff {
            None => assert_eq!(
                a,
                r,
                "{name}: arptables sent {} but rsdr sent {}",
                show(&a),
                show(&r)
            ),
            Some(row) => {
                assert_ne!(
                    a,
                    r,
                    "{name}: documented as difference {row} but both sent {}",
                    show(&a)
                );
                assert!(
                    r.iter().all(|(_, s, t)| *s != vip && *t != vip),
                    "{name} ({row}): with rsdr nothing leaves with the VIP as sender or target: {}",
                    show(&r)
                );
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}
