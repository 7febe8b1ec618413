//! `rsdr apply` in a namespace lab: the diff, idempotence, dry runs, bad
//! configurations changing nothing, rollback of a failure midway, address
//! ordering under continuous ARP probing, and window-free hook changes.

use rsdr_tests::{
    conf::{ConfFile, iface, lab_config, vip},
    inject::RawSocket,
    lab::{Lab, PEER_IP, REAL_IP, VIP},
    prober::Prober,
};

fn base() -> String {
    lab_config("")
}

/// Everything observable: VIP table, status, addresses.
fn state(lab: &Lab) -> (String, String, Vec<String>) {
    let vips = lab.rsdr(&["vip", "list", "--json"]);
    let status = lab.rsdr(&["status", "--json"]);
    (vips.stdout, status.stdout, lab.server_addrs("lo"))
}

#[test]
fn apply_prints_a_diff_and_a_second_run_changes_nothing() {
    let lab = Lab::new();
    let conf =
        ConfFile::new(&(base() + &vip("203.0.113.0/24", &REAL_IP.to_string(), "monitor = true")));
    let dry = lab.rsdr(&["apply", "-c", &conf.arg(), "--dry-run"]);
    let text = dry.ok();
    assert!(
        text.contains("+ attach eth0") && text.contains(&format!("+ vip {VIP} -> {REAL_IP}")),
        "{text}"
    );
    assert!(
        text.contains("+ vip 203.0.113.0/24 -> 10.0.0.2 [monitor]"),
        "{text}"
    );
    assert!(text.contains("dry run: nothing changed"), "{text}");
    lab.rsdr(&["status"]).fails_with("nothing attached");

    let first = lab.rsdr(&["apply", "-c", &conf.arg()]);
    assert!(first.ok().contains("applied"), "{}", first.stdout);
    assert_eq!(lab.arping_from_peer(VIP, 2), 0, "applied: filtered");
    let second = lab.rsdr(&["apply", "-c", &conf.arg()]);
    assert_eq!(second.ok().trim(), "nothing to change", "idempotent");

    // A second address of this host's, to move the VIP's real IP to.
    lab.server
        .ip(&["addr", "add", "10.0.0.3/24", "dev", "eth0"]);
    conf.write(&(iface("eth0", "") + &vip(&VIP.to_string(), "10.0.0.3", "show_conflicts = true")));
    let third = lab.rsdr(&["apply", "-c", &conf.arg()]);
    let t = third.ok();
    assert!(
        t.contains(&format!(
            "~ vip {VIP}: real 10.0.0.2 -> 10.0.0.3 [show-conflicts]"
        )),
        "{t}"
    );
    assert!(t.contains("- vip 203.0.113.0/24 -> 10.0.0.2"), "{t}");
}

#[test]
fn bad_configurations_change_nothing() {
    let lab = Lab::new();
    let conf = ConfFile::new(&base());
    lab.rsdr(&["apply", "-c", &conf.arg()]).ok();
    let before = state(&lab);
    let cases: Vec<(String, &str)> = vec![
        ("[[interface]\nname = \"eth0\"\n".into(), ":1:"),
        (
            base() + "[settings]\nmonitr = true\n",
            "unknown field `monitr`",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.300", "10.0.0.2", ""),
            "vip \"10.0.0.300\": invalid VIP",
        ),
        (
            base() + &vip(&VIP.to_string(), "10.0.0.9", ""),
            "is given more than once",
        ),
        (
            iface("eth0", "")
                + &vip("203.0.113.0/24", "10.0.0.2", "")
                + &vip("203.0.113.128/25", "10.0.0.2", ""),
            "overlaps pool",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.50", "10.0.0.50", ""),
            "same address as its real IP",
        ),
        (
            iface("nosuch0", "") + &vip(&VIP.to_string(), "10.0.0.2", ""),
            "interface nosuch0: no such interface",
        ),
        (
            iface("eth0", "ingress = \"xpd\""),
            "ingress must be \"xdp\" or \"tc\"",
        ),
        (
            iface("eth0", "") + &vip("203.0.113.0/24", "10.0.0.2", "manage_address = \"lo\""),
            "manage_address applies to single VIPs",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.60", "10.0.0.2", "manage_address = \"dummy9\""),
            "no such device dummy9",
        ),
        (vip("10.0.0.60", "10.0.0.2", ""), "no [[interface]]"),
    ];
    for (text, needle) in cases {
        let bad = ConfFile::new(&text);
        lab.rsdr(&["apply", "-c", &bad.arg()]).fails_with(needle);
        assert_eq!(
            state(&lab),
            before,
            "state changed after a bad config ({needle})"
        );
    }
    lab.rsdr(&["apply", "-c", "/nonexistent/rsdr.toml"])
        .fails_with("cannot read /nonexistent/rsdr.toml");
}

#[test]
fn a_failure_midway_is_rolled_back() {
    let lab = Lab::without_vip();
    let first = ConfFile::new(
        &(iface("eth0", "") + &vip("10.0.0.150", "10.0.0.2", "manage_address = \"lo\"")),
    );
    lab.rsdr(&["apply", "-c", &first.arg()]).ok();
    let before = state(&lab);
    // The next config changes all kinds of things; step 3 of 4 fails.
    let next = ConfFile::new(
        &(iface("eth0", "")
            + &vip(&VIP.to_string(), "10.0.0.2", "manage_address = \"lo\"")
            + &vip("203.0.113.0/24", "10.0.0.2", "")
            + "[settings]\nmonitor = true\n"),
    );
    let dry = lab.rsdr(&["apply", "-c", &next.arg(), "--dry-run"]);
    assert!(dry.ok().lines().count() >= 5, "{}", dry.stdout);
    lab.rsdr_env(
        &[("RSDR_TEST_FAIL_AT_STEP", "3")],
        &["apply", "-c", &next.arg()],
    )
    .fails_with("were rolled back");
    assert_eq!(state(&lab), before, "everything as before the failed apply");
    // A first apply that fails leaves no pins at all.
    let fresh = Lab::new();
    fresh
        .rsdr_env(
            &[("RSDR_TEST_FAIL_AT_STEP", "2")],
            &["apply", "-c", &next.arg()],
        )
        .fails_with("rolled back");
    fresh.rsdr(&["status"]).fails_with("nothing attached");
    assert_eq!(fresh.arping_from_peer(VIP, 1), 1, "nothing filters");
}

#[test]
fn managed_addresses_never_answer_arp_while_added_and_removed() {
    let lab = Lab::without_vip();
    let sock = RawSocket::open(&lab.server, "eth0");
    // Control: the prober does see replies when the VIP is up unfiltered.
    let p = Prober::start(&lab.peer, "eth0", PEER_IP, VIP);
    lab.server
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (_, replies) = p.finish(&sock);
    assert!(replies > 0, "control: an unfiltered VIP is answered");
    lab.server
        .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]);

    let with = ConfFile::new(
        &(iface("eth0", "") + &vip(&VIP.to_string(), "10.0.0.2", "manage_address = \"eth0\"")),
    );
    let without = ConfFile::new(&iface("eth0", ""));
    lab.rsdr(&["apply", "-c", &without.arg()]).ok();
    let p = Prober::start(&lab.peer, "eth0", PEER_IP, VIP);
    for _ in 0..3 {
        lab.rsdr(&["apply", "-c", &with.arg()]).ok();
        assert!(
            lab.server_addrs("eth0").contains(&VIP.to_string()),
            "VIP added"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        lab.rsdr(&["apply", "-c", &without.arg()]).ok();
        assert!(
            !lab.server_addrs("eth0").contains(&VIP.to_string()),
            "VIP removed"
        );
    }
    let (sent, replies) = p.finish(&sock);
    assert!(sent > 50, "the prober ran ({sent} requests)");
    assert_eq!(replies, 0, "no ARP reply for the VIP at any moment");
}

#[test]
fn changing_the_ingress_hook_leaves_no_window() {
    let lab = Lab::new();
    let sock = RawSocket::open(&lab.server, "eth0");
    let conf = ConfFile::new(&base());
    lab.rsdr(&["apply", "-c", &conf.arg()]).ok();
    let p = Prober::start(&lab.peer, "eth0", PEER_IP, VIP);
    let hooks = [
        "ingress = \"tc\"",
        "xdp_mode = \"skb\"",
        "xdp_mode = \"native\"",
        "ingress = \"tc\"",
    ];
    let mut seen = Vec::new();
    for h in hooks {
        conf.write(&(iface("eth0", h) + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")));
        let out = lab.rsdr(&["apply", "-c", &conf.arg()]);
        assert!(out.ok().contains("~ eth0: ingress"), "{}", out.stdout);
        let st: serde_json::Value =
            serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
        seen.push(format!(
            "{} {}",
            st["interfaces"][0]["hooks"][0]["kind"], st["interfaces"][0]["hooks"][0]["mode"]
        ));
        assert_eq!(st["interfaces"][0]["healthy"], true, "{st}");
    }
    let (_, replies) = p.finish(&sock);
    assert_eq!(replies, 0, "no reply for the VIP during any hook change");
    let tc = format!("\"{}\" null", rsdr_tests::kernel::tc_kind());
    assert_eq!(
        seen,
        vec![
            tc.as_str(),
            "\"xdp\" \"skb\"",
            "\"xdp\" \"native\"",
            tc.as_str()
        ]
    );
}

#[test]
fn a_full_table_fails_in_one_short_line_and_changes_nothing() {
    let lab = Lab::without_vip();
    let small = "[settings]\nmax_vips = 16\n";
    let first = ConfFile::new(&(small.to_owned() + &base()));
    lab.rsdr(&["apply", "-c", &first.arg()]).ok();
    let before = state(&lab);
    // 24 VIPs pass the file check of a file that asks for more room, but
    // the running tables keep the size they were created with.
    let mut text = "[settings]\nmax_vips = 64\n".to_owned() + &base();
    for i in 0..23 {
        text += &vip(&format!("198.51.100.{}", i + 1), &REAL_IP.to_string(), "");
    }
    let next = ConfFile::new(&text);
    let run = lab.rsdr(&["apply", "-c", &next.arg()]);
    run.fails_with("put 23 VIP(s): 23 new, 0 changed) failed: VIP table is full (16 entries)");
    assert!(run.stderr.len() < 400, "short error: {}", run.stderr);
    assert_eq!(state(&lab), before, "rolled back to the first file");
}

/// Programs loaded later against pinned maps (by another rsdr build, or
/// after their own pins were lost) hash with the pinned indexes' size, not
/// with the `max_vips` of the run that happens to load them: the hash shift
/// is fixed from the maps when the object is loaded.
#[test]
fn programs_loaded_against_pinned_maps_hash_with_their_size() {
    let lab = Lab::new();
    let conf = ConfFile::new(&("[settings]\nmax_vips = 16\n".to_owned() + &base()));
    lab.rsdr(&["apply", "-c", &conf.arg()]).ok();
    assert_eq!(lab.arping_from_peer(VIP, 1), 0, "filtered at first");
    lab.unpin("progs");
    // The hook change needs the TC ingress program: the object is loaded
    // again, against the pinned maps, by a run asking for far more room.
    conf.write(
        &("[settings]\nmax_vips = 100000\n".to_owned()
            + &iface("eth0", "ingress = \"tc\"")
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")),
    );
    let out = lab.rsdr(&["apply", "-c", &conf.arg()]);
    assert!(out.ok().contains("~ eth0: ingress"), "{}", out.stdout);
    // The egress program, loaded first, would drop the kernel's reply
    // anyway: the ingress program's own count tells whether it found the VIP.
    let requests_dropped = || {
        let st: serde_json::Value =
            serde_json::from_str(lab.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
        st["vips"][0]["counters"]["requests_dropped"]
            .as_u64()
            .unwrap_or_else(|| panic!("no requests_dropped counter: {st}"))
    };
    let before = requests_dropped();
    assert_eq!(lab.arping_from_peer(VIP, 2), 0, "no reply for the VIP");
    assert!(
        requests_dropped() >= before + 2,
        "the programs loaded later find the VIP and drop the requests themselves"
    );
}
