//! TC hooks attached both ways: TCX links and cls_bpf filters on a clsact
//! qdisc (the mechanism of kernels without TCX, forced here with
//! `--tc-attach netlink` / `tc_attach`), and XDP over netlink. Filters of
//! other tools on the same qdisc stay untouched; switching between the
//! mechanisms leaves no moment unfiltered, in either direction.

use rsdr_tests::{
    conf::{ConfFile, iface, vip},
    inject::RawSocket,
    lab::{Lab, PEER_IP, REAL_IP, VIP},
    netns::run_ok,
    prober::Prober,
};
use rsdr_user::features;

/// A classic-BPF filter of "another tool" on the server's clsact qdisc:
/// matches nothing, so every frame goes on to the next filter.
fn add_foreign_filter(lab: &Lab, dir: &str, prio: &str) {
    run_ok(lab.server.cmd("tc").args([
        "filter",
        "add",
        "dev",
        "eth0",
        dir,
        "prio",
        prio,
        "handle",
        "7",
        "bpf",
        "bytecode",
        "1,6 0 0 0,",
        "classid",
        "1:1",
    ]));
}

fn filters(lab: &Lab, dir: &str) -> String {
    let out = run_ok(
        lab.server
            .cmd("tc")
            .args(["filter", "show", "dev", "eth0", dir]),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status(lab: &Lab) -> serde_json::Value {
    serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("status JSON")
}

fn counter(lab: &Lab, name: &str) -> u64 {
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
    st["global"]["decisions"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}: {st}"))
}

#[test]
fn netlink_filters_share_the_qdisc_and_leave_others_in_place() {
    let lab = Lab::new();
    run_ok(
        lab.server
            .cmd("tc")
            .args(["qdisc", "add", "dev", "eth0", "clsact"]),
    );
    for dir in ["ingress", "egress"] {
        add_foreign_filter(&lab, dir, "1");
        add_foreign_filter(&lab, dir, "10");
    }
    let out = lab.rsdr(&[
        "attach",
        "eth0",
        "--ingress",
        "tc",
        "--tc-attach",
        "netlink",
    ]);
    assert!(
        out.ok().contains("(tc ingress, tc egress)"),
        "{}",
        out.stdout
    );
    lab.add_vip(&[]);
    for dir in ["ingress", "egress"] {
        let f = filters(&lab, dir);
        assert!(
            f.contains("handle 0x52534452 rsdr_tc_") && f.matches("handle 0x7").count() == 2,
            "rsdr's filter beside the others on {dir}:\n{f}"
        );
    }
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "filtered by the cls_bpf filters"
    );
    lab.server_arps_from_vip();
    assert!(
        counter(&lab, "out_arp_sender_rewritten") >= 1,
        "egress rewrites"
    );

    lab.rsdr(&["detach"]).ok();
    for dir in ["ingress", "egress"] {
        let f = filters(&lab, dir);
        assert!(
            !f.contains("rsdr_tc_"),
            "rsdr's filter gone from {dir}:\n{f}"
        );
        assert_eq!(
            f.matches("handle 0x7").count(),
            2,
            "the others stay on {dir}:\n{f}"
        );
    }
    let qdisc = run_ok(lab.server.cmd("tc").args(["qdisc", "show", "dev", "eth0"]));
    assert!(
        String::from_utf8_lossy(&qdisc.stdout).contains("clsact"),
        "the clsact qdisc the other filters use stays"
    );
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "detached: the kernel answers"
    );
}

/// A legacy `ingress` qdisc sits where clsact would: an egress filter
/// added to it would run on inbound frames. rsdr refuses, in one line,
/// and changes nothing.
#[test]
fn a_legacy_ingress_qdisc_is_refused() {
    let lab = Lab::new();
    run_ok(
        lab.server
            .cmd("tc")
            .args(["qdisc", "add", "dev", "eth0", "ingress"]),
    );
    lab.rsdr(&["attach", "eth0", "--tc-attach", "netlink"])
        .fails_with("a qdisc of kind \"ingress\" holds the clsact qdisc's place");
    lab.rsdr(&["status"]).fails_with("nothing attached");
    assert!(
        !filters(&lab, "ingress").contains("rsdr_tc_"),
        "no filter left behind"
    );
}

#[test]
fn netlink_hooks_survive_the_cli_and_are_found_again() {
    let lab = Lab::new();
    let attach = [
        "attach",
        "eth0",
        "--tc-attach",
        "netlink",
        "--xdp-attach",
        "netlink",
        "--xdp-mode",
        "skb",
    ];
    let out = lab.rsdr(&attach);
    assert!(
        out.ok().contains("(xdp skb (netlink) ingress, tc egress)"),
        "{}",
        out.stdout
    );
    lab.add_vip(&[]);
    // The process is gone; the filter and the XDP program stay.
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "filtered after the CLI exited"
    );
    let st = status(&lab);
    let hooks = &st["interfaces"][0]["hooks"];
    assert_eq!(
        (&hooks[0]["kind"], &hooks[0]["attach"], &hooks[0]["live"]),
        (&"xdp".into(), &"netlink".into(), &true.into()),
        "{st}"
    );
    assert_eq!(
        (&hooks[1]["kind"], &hooks[1]["attach"], &hooks[1]["live"]),
        (&"tc".into(), &"netlink".into(), &true.into()),
        "{st}"
    );
    let link = run_ok(lab.server.cmd("ip").args(["link", "show", "eth0"]));
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("xdpgeneric"),
        "XDP over netlink"
    );
    let again = lab.rsdr(&attach);
    assert!(again.ok().contains("already attached"), "{}", again.stdout);
    // A netlink attachment that another tool removed is seen as such.
    run_ok(
        lab.server
            .cmd("ip")
            .args(["link", "set", "eth0", "xdpgeneric", "off"]),
    );
    assert_eq!(status(&lab)["interfaces"][0]["healthy"], false);
    let repaired = lab.rsdr(&attach);
    assert!(
        repaired.ok().contains("eth0: attached"),
        "{}",
        repaired.stdout
    );
    assert_eq!(status(&lab)["interfaces"][0]["healthy"], true);

    lab.rsdr(&["detach"]).ok();
    let link = run_ok(lab.server.cmd("ip").args(["link", "show", "eth0"]));
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "XDP removed"
    );
    assert!(
        !filters(&lab, "egress").contains("rsdr_tc_"),
        "filter removed"
    );
    assert_eq!(lab.arping_from_peer(VIP, 1), 1, "detached");
}

/// Every apply below changes how both TC hooks are attached while the peer
/// asks for the VIP and the server sends ARP requests from it: no reply
/// may leave (not even one the egress hook must drop: that would mean a
/// moment without ingress filtering), and no request may leave unrewritten.
#[test]
fn switching_between_tcx_and_netlink_leaves_no_window() {
    assert!(
        features::probe().tcx,
        "this test switches to TCX links and back: it needs a kernel with TCX"
    );
    let lab = Lab::new();
    let sock = RawSocket::open(&lab.server, "eth0");
    let conf_with = |ingress: &str, attach: &str| {
        iface("eth0", &format!("{ingress}\ntc_attach = \"{attach}\""))
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")
    };
    let conf = ConfFile::new(&conf_with("ingress = \"tc\"", "tcx"));
    lab.rsdr(&["apply", "-c", &conf.arg()]).ok();
    let dropped_before = counter(&lab, "out_arp_reply_from_vip_dropped");
    let p = Prober::start(&lab.peer, "eth0", PEER_IP, VIP).with_server_requests(
        &lab.server,
        "eth0",
        PEER_IP,
    );
    let mut seen = Vec::new();
    for (ingress, attach) in [
        ("ingress = \"tc\"", "netlink"),
        ("ingress = \"tc\"", "tcx"),
        ("", "netlink"),
        ("", "tcx"),
    ] {
        conf.write(&conf_with(ingress, attach));
        let out = lab.rsdr(&["apply", "-c", &conf.arg()]);
        assert!(out.ok().contains("~ eth0: egress"), "{}", out.stdout);
        let st = status(&lab);
        let hooks = &st["interfaces"][0]["hooks"];
        seen.push(format!("{} {}", hooks[0]["kind"], hooks[1]["kind"]));
        assert_eq!(st["interfaces"][0]["healthy"], true, "{st}");
    }
    let probed = p.finish_all(&sock);
    assert!(
        probed.sent > 50,
        "the prober ran ({} requests)",
        probed.sent
    );
    assert_eq!(probed.replies, 0, "no reply for the VIP reached the peer");
    assert_eq!(
        probed.announced, 0,
        "no frame left the server with the VIP as sender"
    );
    assert_eq!(
        counter(&lab, "out_arp_reply_from_vip_dropped"),
        dropped_before,
        "the kernel never answered for the VIP: ingress was filtered throughout"
    );
    assert!(
        counter(&lab, "out_arp_sender_rewritten") > 50,
        "the server's requests were rewritten"
    );
    assert_eq!(
        seen,
        [
            "\"tc\" \"tc\"",
            "\"tcx\" \"tcx\"",
            "\"xdp\" \"tc\"",
            "\"xdp\" \"tcx\""
        ]
    );
}
