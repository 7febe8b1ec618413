//! Attach and detach under awkward conditions: interface names bpffs
//! cannot hold, renamed interfaces, concurrent invocations, a failing
//! attach next to a working one.

use std::{process::Command, thread};

use rsdr_tests::{
    cli::{RsdrRun, rsdr_cmd},
    lab::{Lab, REAL_IP, VIP, arping},
    netns::veth,
};

#[test]
fn interface_names_with_dots_can_be_attached() {
    let lab = Lab::new();
    // A second link whose name has a dot, as VLAN interfaces do (eth0.100).
    veth(&lab.peer, &lab.server, "lan.1");
    lab.peer.ip(&["addr", "add", "10.1.0.1/24", "dev", "lan.1"]);
    lab.server
        .ip(&["addr", "add", "10.1.0.2/24", "dev", "lan.1"]);
    let out = lab.rsdr(&["attach", "eth0", "lan.1"]);
    assert!(out.ok().contains("lan.1: attached"), "{}", out.stdout);
    lab.add_vip(&[]);
    assert_eq!(arping(&lab.peer, "lan.1", VIP, 2), 0, "filtered on lan.1");
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    let names: Vec<&str> = st["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["eth0", "lan.1"],
        "status shows the real names: {st}"
    );
    lab.rsdr(&["detach", "lan.1"]).ok();
    assert_eq!(
        arping(&lab.peer, "lan.1", VIP, 1),
        1,
        "lan.1 unfiltered again"
    );
}

#[test]
fn a_renamed_interface_stays_filtered_and_is_recognised() {
    let lab = Lab::new();
    lab.protect();
    lab.server.ip(&["link", "set", "eth0", "down"]);
    lab.server.ip(&["link", "set", "eth0", "name", "wan0"]);
    lab.server.ip(&["link", "set", "wan0", "up"]);
    lab.server.wait_ready("wan0");
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "the filter follows the device"
    );
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(st["interfaces"][0]["renamed_to"], "wan0", "{st}");
    let again = lab.rsdr(&["attach", "wan0"]);
    assert!(
        again.ok().contains("pinned under its former name eth0"),
        "{}",
        again.stdout
    );
}

#[test]
fn concurrent_vip_changes_all_land() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    let pin = lab.pin_dir();
    let ns = lab.server.path();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (pin, ns) = (pin.clone(), ns.clone());
            thread::spawn(move || {
                let vip = if i % 2 == 0 {
                    format!("192.0.2.{}", 10 + i)
                } else {
                    format!("198.51.{i}.0/24")
                };
                let mut w = Command::new("nsenter");
                w.arg(format!("--net={}", ns.display())).arg("--");
                let mut cmd = rsdr_cmd(Some(w));
                cmd.args([
                    "--pin-dir",
                    &pin,
                    "vip",
                    "add",
                    &vip,
                    "--real",
                    &REAL_IP.to_string(),
                ]);
                RsdrRun::from_output(cmd.output().expect("run rsdr"))
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread").ok();
    }
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(
        (st["vips"].as_u64(), st["pools"].as_u64()),
        (Some(4), Some(4)),
        "{st}"
    );
    // Every pool member is filtered: the datapath's pool count is right.
    lab.server
        .ip(&["addr", "add", "198.51.7.9/32", "dev", "eth0"]);
    assert_eq!(lab.arping_from_peer("198.51.7.9".parse().unwrap(), 2), 0);
}

#[test]
fn a_failing_attach_does_not_undo_a_concurrent_one() {
    let lab = Lab::new();
    veth(&lab.peer, &lab.server, "eth1");
    // Someone else's XDP program on eth1 (here: another rsdr instance).
    let other = lab.bpffs.path().join("other").display().to_string();
    let mut cmd = rsdr_cmd(Some(lab.server.cmd("env")));
    cmd.args(["--pin-dir", &other, "attach", "eth1"]);
    RsdrRun::from_output(cmd.output().expect("rsdr")).ok();

    let run = |iface: &'static str| {
        let (pin, ns) = (lab.pin_dir(), lab.server.path());
        thread::spawn(move || {
            let mut w = Command::new("nsenter");
            w.arg(format!("--net={}", ns.display())).arg("--");
            let mut cmd = rsdr_cmd(Some(w));
            cmd.args(["--pin-dir", &pin, "attach", iface]);
            RsdrRun::from_output(cmd.output().expect("run rsdr"))
        })
    };
    let (a, b) = (run("eth0"), run("eth1"));
    a.join().expect("thread").ok();
    b.join()
        .expect("thread")
        .fails_with("eth1: cannot attach XDP");
    let st: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["status", "--json"]).ok()).expect("JSON");
    assert_eq!(
        st["interfaces"].as_array().map(|a| a.len()),
        Some(1),
        "{st}"
    );
    assert_eq!(
        st["interfaces"][0]["healthy"], true,
        "eth0 stays attached: {st}"
    );
}

#[test]
fn tc_ingress_coexists_with_someone_elses_xdp_program() {
    let lab = Lab::new();
    let other = lab.bpffs.path().join("other").display().to_string();
    let mut cmd = rsdr_cmd(Some(lab.server.cmd("env")));
    cmd.args(["--pin-dir", &other, "attach", "eth0"]);
    RsdrRun::from_output(cmd.output().expect("rsdr")).ok();
    lab.rsdr(&["attach", "eth0"])
        .fails_with("another XDP program is already attached");
    lab.rsdr(&["attach", "eth0", "--ingress", "tc"]).ok();
    lab.add_vip(&[]);
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "filtered by rsdr's TC ingress hook"
    );
}

/// A pin directory that lost one of the two VIP indexes (and the programs,
/// so the object must be loaded again) is refused with the way out, and
/// the filter that is running stays as it is: a new, empty index of
/// another size would hide that family's VIPs from the new programs.
#[test]
fn a_pin_directory_missing_one_index_is_refused_and_left_running() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    lab.add_vip(&[]);
    lab.unpin("progs");
    lab.unpin("maps/RSDR_INDEX6");
    lab.rsdr(&["attach", "eth0", "--max-vips", "100000"])
        .fails_with("the pin directory is damaged");
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "the running filter is untouched"
    );
}
