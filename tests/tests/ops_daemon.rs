//! `rsdr run`: reload on SIGHUP and on file change, managed addresses put
//! back when removed behind its back, metrics that match the frames sent,
//! and the filter left in place on exit.

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, TcpStream},
    time::{Duration, Instant},
};

use rsdr_tests::{
    conf::{ConfFile, iface, lab_config, vip},
    daemon::Daemon,
    frames::{Arp, Frame},
    http,
    inject::RawSocket,
    lab::{Lab, PEER_IP, REAL_IP, VIP},
};

fn vips(lab: &Lab) -> String {
    let r = lab.rsdr(&["vip", "list", "--json"]);
    if r.code == Some(0) {
        r.stdout
    } else {
        String::new()
    }
}

#[test]
fn reloads_on_sighup() {
    let lab = Lab::new();
    let conf = ConfFile::new(&lab_config(""));
    let d = Daemon::start(&lab, &conf, &["--poll-ms", "3600000"]);
    d.eventually("first apply", || vips(&lab).contains(&VIP.to_string()));
    assert_eq!(lab.arping_from_peer(VIP, 2), 0);
    conf.write(
        &(iface("eth0", "")
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")
            + &vip("10.0.0.101", "10.0.0.2", "")),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !vips(&lab).contains("10.0.0.101"),
        "not before SIGHUP (file polling is off)"
    );
    d.signal("-HUP");
    d.eventually("reload on SIGHUP", || vips(&lab).contains("10.0.0.101"));
    // An invalid file is refused; the running state stays.
    conf.write("[[vip]\n");
    d.signal("-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        vips(&lab).contains("10.0.0.101"),
        "running state kept after a bad reload"
    );
    assert_eq!(d.stop(), Some(0), "clean exit");
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "the filter stays in place after rsdr run exits"
    );
}

#[test]
fn reloads_when_the_file_changes() {
    let lab = Lab::new();
    let conf = ConfFile::new(&lab_config(""));
    let d = Daemon::start(&lab, &conf, &["--poll-ms", "100"]);
    d.eventually("first apply", || vips(&lab).contains(&VIP.to_string()));
    conf.write(&iface("eth0", ""));
    d.eventually("reload on file change", || {
        !vips(&lab).contains(&VIP.to_string())
    });
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "VIP removed from the filter"
    );
}

#[test]
fn puts_back_a_managed_address_removed_behind_its_back() {
    let lab = Lab::without_vip();
    let conf = ConfFile::new(&lab_config("manage_address = \"lo\""));
    let d = Daemon::start(&lab, &conf, &[]);
    let on_lo = || lab.server_addrs("lo").contains(&VIP.to_string());
    d.eventually("managed address added", on_lo);
    lab.server
        .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "lo"]);
    d.eventually("managed address put back", on_lo);
    assert_eq!(lab.arping_from_peer(VIP, 2), 0, "and filtered");
}

#[test]
fn metrics_count_the_frames_sent() {
    let lab = Lab::new();
    let conf = ConfFile::new(&lab_config(""));
    let d = Daemon::start(&lab, &conf, &["--metrics", "127.0.0.1:19809"]);
    let scrape = || http::get_path(&lab.server, IpAddr::from([127, 0, 0, 1]), 19809, "/metrics");
    d.eventually("metrics served", || {
        scrape().is_ok_and(|m| m.contains("rsdr_vips 1"))
    });
    let sock = RawSocket::open(&lab.peer, "eth0");
    let mac = lab.peer.mac("eth0");
    let frame = Frame::arp(mac, &Arp::request(mac, PEER_IP, VIP)).bytes();
    for _ in 0..25 {
        sock.send(&frame);
    }
    let want_global =
        "rsdr_decisions_total{decision=\"in_arp_request_for_vip_dropped\",mode=\"enforced\"} 25";
    let want_vip = format!(
        "rsdr_vip_decisions_total{{vip=\"{VIP}\",real=\"{REAL_IP}\",decision=\"requests_dropped\",mode=\"enforced\"}} 25"
    );
    d.eventually("counters match the 25 requests sent", || {
        scrape().is_ok_and(|m| m.contains(want_global) && m.contains(&want_vip))
    });
    let m = scrape().expect("scrape");
    assert!(
        m.contains("rsdr_interface_filtering{interface=\"eth0\",ingress=\"xdp native\"} 1"),
        "{m}"
    );
    let other =
        http::get_path(&lab.server, IpAddr::from([127, 0, 0, 1]), 19809, "/").expect("GET /");
    assert!(other.contains("try /metrics"));
}

/// Hundreds of clients that connect and say nothing, and slow ones that
/// trickle a request out byte by byte, while a managed address is removed:
/// the daemon puts it back at once (its event loop is never held up), the
/// server closes the idle and slow connections within its header timeout
/// (5 s), and a scrape gets its answer.
#[test]
fn metrics_survive_slow_and_many_clients() {
    let lab = Lab::without_vip();
    let conf = ConfFile::new(&lab_config("manage_address = \"lo\""));
    let port = 19811;
    let d = Daemon::start(&lab, &conf, &["--metrics", &format!("127.0.0.1:{port}")]);
    let scrape = || http::get_path(&lab.server, IpAddr::from([127, 0, 0, 1]), port, "/metrics");
    d.eventually("metrics served", || {
        scrape().is_ok_and(|m| m.contains("rsdr_vips 1"))
    });
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let opened = Instant::now();
    let idle: Vec<TcpStream> = http::in_netns(&lab.server, move || {
        (0..300)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect()
    });
    assert!(idle.len() >= 100, "only {} connections opened", idle.len());
    // Slow clients: a byte of a request every 200 ms, for as long as the
    // server lets them; each reports how long that was.
    let slow: Vec<std::thread::JoinHandle<Duration>> = (0..8)
        .map(|_| {
            let mut s: TcpStream = http::in_netns(&lab.server, move || {
                TcpStream::connect(addr).expect("slow client connects")
            });
            std::thread::spawn(move || {
                let start = Instant::now();
                for b in b"GET /metrics HTTP/1.1\r\nX-Slow: "
                    .iter()
                    .chain(std::iter::repeat(&b'x'))
                {
                    if s.write_all(&[*b]).is_err() || start.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                start.elapsed()
            })
        })
        .collect();

    let on_lo = || lab.server_addrs("lo").contains(&VIP.to_string());
    let removed = Instant::now();
    lab.server
        .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "lo"]);
    d.eventually("managed address put back during the flood", on_lo);
    assert!(
        removed.elapsed() < Duration::from_secs(10),
        "the address took {:?} to come back: the event loop was held up",
        removed.elapsed()
    );
    d.eventually("a scrape answered during the flood", || {
        scrape().is_ok_and(|m| m.contains("rsdr_vips 1"))
    });
    for (i, mut s) in idle.into_iter().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let mut buf = [0u8; 512];
        // EOF or a reset: closed by the server, not by our timeout.
        match s.read(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("idle connection {i} was not closed by the server: {e}"),
        }
    }
    assert!(
        opened.elapsed() < Duration::from_secs(20),
        "idle connections held for {:?}",
        opened.elapsed()
    );
    for t in slow {
        let held = t.join().expect("slow client");
        assert!(
            held < Duration::from_secs(20),
            "a slow client held its connection for {held:?}"
        );
    }
}
