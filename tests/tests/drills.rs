//! Fault drills: the peer asks for the VIP without a pause (every 2 ms, far
//! above 50/s) while something happens to rsdr or to the interface, and
//! counts the server's replies. Every drill must see none; the control
//! drill, without rsdr, sees some, so the drills can fail.

use std::time::{Duration, Instant};

use rsdr_tests::{
    conf::{ConfFile, lab_config, vip},
    daemon::Daemon,
    inject::RawSocket,
    lab::{Lab, PEER_IP, REAL_IP, VIP},
    netns::veth,
    prober::Prober,
};

/// Probe the VIP from the peer while `act` runs, then at least `after`
/// more; the replies seen, after checking that the prober kept its pace.
fn probe_while(lab: &Lab, after: Duration, act: impl FnOnce()) -> usize {
    let p = Prober::start(&lab.peer, "eth0", PEER_IP, VIP);
    let start = Instant::now();
    act();
    std::thread::sleep(after);
    let elapsed = start.elapsed();
    let marker = RawSocket::open(&lab.server, "eth0");
    let (sent, replies) = p.finish(&marker);
    let rate = sent as f64 / elapsed.as_secs_f64();
    assert!(
        rate >= 50.0,
        "the prober sent {sent} requests in {elapsed:?} ({rate:.0}/s): too few to prove anything"
    );
    replies
}

/// A configuration filtering eth0, the VIP with `vip_extra`.
fn config(vip_extra: &str) -> ConfFile {
    ConfFile::new(&lab_config(vip_extra))
}

fn on_lo(lab: &Lab) -> bool {
    lab.server_addrs("lo").contains(&VIP.to_string())
}

/// eth0 is attached and both its hooks are live.
fn filtering(lab: &Lab) -> bool {
    let r = lab.rsdr(&["status", "--json"]);
    r.code == Some(0)
        && serde_json::from_str::<serde_json::Value>(&r.stdout).is_ok_and(|st| {
            st["interfaces"].as_array().is_some_and(|is| {
                is.iter()
                    .any(|i| i["name"] == "eth0" && i["healthy"] == true)
            })
        })
}

#[test]
fn control_without_rsdr_the_vip_is_answered() {
    let lab = Lab::new();
    let replies = probe_while(&lab, Duration::from_millis(300), || {});
    assert!(
        replies > 0,
        "the drills could not fail: no reply without rsdr"
    );
}

#[test]
fn the_cli_exits_and_the_filter_stays() {
    let lab = Lab::new();
    // `attach` and `vip add` have exited: nothing of rsdr runs but the
    // pinned programs.
    lab.protect();
    let replies = probe_while(&lab, Duration::from_secs(1), || {});
    assert_eq!(replies, 0, "a reply after rsdr's CLI exited");
}

#[test]
fn the_daemon_killed_and_started_again() {
    let lab = Lab::new();
    let conf = config("");
    let d = Daemon::start(&lab, &conf, &[]);
    d.eventually("filtering", || filtering(&lab));
    let replies = probe_while(&lab, Duration::from_millis(500), || {
        d.kill();
        std::thread::sleep(Duration::from_millis(300));
        let again = Daemon::start(&lab, &conf, &[]);
        again.eventually("filtering again", || filtering(&lab));
    });
    assert_eq!(replies, 0, "a reply while the daemon was dead or starting");
}

#[test]
fn the_interface_set_down_and_up() {
    let lab = Lab::new();
    lab.protect();
    let replies = probe_while(&lab, Duration::from_millis(500), || {
        for _ in 0..3 {
            lab.server.ip(&["link", "set", "eth0", "down"]);
            std::thread::sleep(Duration::from_millis(100));
            lab.server.ip(&["link", "set", "eth0", "up"]);
            lab.server.wait_ready("eth0");
        }
    });
    assert_eq!(replies, 0);
    assert!(filtering(&lab), "still attached after down and up");
}

#[test]
fn another_interface_attached_and_detached() {
    let lab = Lab::new();
    lab.protect();
    veth(&lab.peer, &lab.server, "eth1");
    let replies = probe_while(&lab, Duration::from_millis(300), || {
        for _ in 0..3 {
            lab.rsdr(&["attach", "eth1"]).ok();
            lab.rsdr(&["detach", "eth1"]).ok();
        }
    });
    assert_eq!(replies, 0, "eth0 answered while eth1 came and went");
}

#[test]
fn apply_adds_and_removes_a_thousand_vips() {
    let lab = Lab::new();
    let base = config("");
    lab.rsdr(&["apply", "-c", &base.arg()]).ok();
    let mut text = lab_config("");
    for n in 0..1000u32 {
        let [_, _, a, b] = n.to_be_bytes();
        text += &vip(&format!("10.9.{a}.{b}"), &REAL_IP.to_string(), "");
    }
    let many = ConfFile::new(&text);
    let replies = probe_while(&lab, Duration::from_millis(300), || {
        for _ in 0..2 {
            let out = lab.rsdr(&["apply", "-c", &many.arg()]);
            assert!(out.ok().contains("+ vip 10.9.3.231"), "{}", out.stdout);
            lab.rsdr(&["apply", "-c", &base.arg()]).ok();
        }
    });
    assert_eq!(replies, 0, "a reply while 1,000 VIPs came and went");
}

/// At boot the service starts before the network device exists: it loads
/// its tables, waits, and attaches the interface the moment it appears,
/// adding the managed VIP address only then.
#[test]
fn the_daemon_started_before_its_interface_exists() {
    let lab = Lab::bare();
    let conf = config("manage_address = \"lo\"");
    let d = Daemon::start(&lab, &conf, &[]);
    d.eventually("the VIP table ready before the interface", || {
        let r = lab.rsdr(&["vip", "list"]);
        r.code == Some(0) && r.stdout.contains(&VIP.to_string())
    });
    assert!(
        !on_lo(&lab),
        "the VIP held before its interface is filtered"
    );
    lab.link();
    let replies = probe_while(&lab, Duration::from_millis(500), || {
        d.eventually("eth0 attached and the VIP added", || {
            filtering(&lab) && on_lo(&lab)
        });
    });
    assert_eq!(replies, 0, "a reply while the interface was coming up");
}

/// A bond or VLAN rebuilt: the interface is deleted and created again
/// under the same name (a new ifindex). The daemon withdraws the managed
/// VIP address while it is missing and attaches the new one before adding
/// it back.
#[test]
fn the_interface_deleted_and_created_again_under_the_daemon() {
    let lab = Lab::bare();
    lab.link();
    let conf = config("manage_address = \"lo\"");
    let d = Daemon::start(&lab, &conf, &[]);
    d.eventually("filtering with the VIP added", || {
        filtering(&lab) && on_lo(&lab)
    });
    for round in 0..2 {
        let before = probe_while(&lab, Duration::from_millis(200), || {});
        assert_eq!(before, 0, "round {round}: a reply before the rebuild");
        lab.server.ip(&["link", "del", "eth0"]);
        d.eventually("the VIP withdrawn while eth0 is missing", || !on_lo(&lab));
        lab.link();
        let replies = probe_while(&lab, Duration::from_millis(500), || {
            d.eventually("the new eth0 attached and the VIP back", || {
                filtering(&lab) && on_lo(&lab)
            });
        });
        assert_eq!(replies, 0, "round {round}: a reply after the rebuild");
    }
}

/// Each hook of eth0 as (direction, link id, program id), from `status`.
fn hooks(lab: &Lab) -> Vec<(String, Option<u64>, u64)> {
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("status JSON");
    let eth0 = st["interfaces"]
        .as_array()
        .and_then(|is| is.iter().find(|i| i["name"] == "eth0"))
        .unwrap_or_else(|| panic!("eth0 in {st}"))
        .clone();
    eth0["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .map(|h| {
            (
                h["direction"].as_str().expect("direction").to_string(),
                h["link_id"].as_u64(),
                h["program_id"].as_u64().expect("program id"),
            )
        })
        .collect()
}

/// `rsdr attach eth0` by a binary of another build (`build`, as
/// `VERSION+HASH`; this build's if `None`).
fn attach_as(lab: &Lab, build: Option<&str>, attach_args: &[&str]) -> String {
    let args: Vec<&str> = ["attach", "eth0"]
        .iter()
        .chain(attach_args)
        .copied()
        .collect();
    let env: Vec<(&str, &str)> = build.map(|b| ("RSDR_TEST_BUILD", b)).into_iter().collect();
    let out = lab.rsdr_env(&env, &args);
    out.ok().to_string()
}

/// An upgrade to a binary of another build and back, attached by
/// `attach_args`: each swaps the programs of every hook in place (new
/// program ids, the same links), keeps the tables, and leaves no moment
/// unfiltered.
fn upgrade_drill(attach_args: &[&str]) {
    let lab = Lab::new();
    let args: Vec<&str> = ["attach", "eth0"]
        .iter()
        .chain(attach_args)
        .copied()
        .collect();
    lab.rsdr(&args).ok();
    lab.add_vip(&[]);
    let version = env!("CARGO_PKG_VERSION");
    let other = format!("{version}+feedfacefeedface");
    let first = hooks(&lab);
    let mut seen = Vec::new();
    let replies = probe_while(&lab, Duration::from_millis(300), || {
        let out = attach_as(&lab, Some(&other), attach_args);
        assert!(
            out.contains(&format!("-> {other} (2 hook(s) swapped in place")),
            "{out}"
        );
        seen.push(hooks(&lab));
        let back = attach_as(&lab, None, attach_args);
        assert!(
            back.contains(&format!("^ datapath {other} -> {version}+")),
            "{back}"
        );
        seen.push(hooks(&lab));
    });
    assert_eq!(replies, 0, "a reply during the upgrade or the way back");
    for (n, now) in seen.iter().enumerate() {
        for ((dir, link0, prog0), (_, link, prog)) in first.iter().zip(now) {
            assert_eq!(
                link0, link,
                "swap {n}: the {dir} link was replaced, not updated"
            );
            assert_ne!(
                prog0, prog,
                "swap {n}: the {dir} hook still runs the first program"
            );
        }
    }
    assert!(
        lab.rsdr(&["vip", "list"]).ok().contains(&VIP.to_string()),
        "the VIP table survived the swaps"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(st["datapath_build"], st["binary_build"], "{st}");
    // An older binary leaves the newer datapath alone, in one line.
    let before = lab.state();
    lab.rsdr_env(&[("RSDR_TEST_BUILD", "0.0.1+aaaa")], &args)
        .fails_with("newer than this rsdr 0.0.1+aaaa");
    assert_eq!(lab.state(), before, "an older binary changed the state");
}

#[test]
fn an_upgrade_to_another_build_and_back() {
    upgrade_drill(&[]);
}

#[test]
fn an_upgrade_of_netlink_attachments() {
    upgrade_drill(&["--xdp-attach", "netlink", "--tc-attach", "netlink"]);
}
