//! Bad input to the real `rsdr` binary: one clear line on stderr naming the
//! problem, a non-zero exit, and nothing changed.

use std::path::Path;

use rsdr_tests::{
    cli::{RsdrRun, rsdr_cmd},
    conf::{ConfFile, iface, vip},
    lab::{Lab, REAL_IP, VIP},
    netns::{run_ok, unique_id},
};

fn protected() -> Lab {
    let lab = Lab::new();
    lab.protect();
    lab
}

fn assert_unchanged(lab: &Lab, before: &(String, String, String), what: &str) {
    assert_eq!(&lab.state(), before, "state changed after {what}");
}

#[test]
fn unprivileged_user_is_refused() {
    let lab = protected();
    let before = lab.state();
    let nobody: &[&str] = &[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    lab.rsdr_as(
        Some(nobody),
        &["vip", "add", "10.0.0.101", "--real", &REAL_IP.to_string()],
    )
    .fails_with("permission denied");
    lab.rsdr_as(Some(nobody), &["attach", "eth0"])
        .fails_with("permission denied");
    lab.rsdr_as(Some(nobody), &["detach"])
        .fails_with("permission denied");
    assert_unchanged(&lab, &before, "unprivileged commands");
}

#[test]
fn pin_dir_off_bpffs_is_refused() {
    let lab = Lab::new();
    let dir = std::env::temp_dir().join(format!("rsdr-notbpf-{}", unique_id()));
    let pin = dir.join("rsdr");
    let mut cmd = rsdr_cmd(Some(lab.server.cmd("env")));
    cmd.arg("--pin-dir").arg(&pin).args(["attach", "eth0"]);
    let run = RsdrRun::from_output(cmd.output().expect("run rsdr"));
    run.fails_with("is not on a bpf filesystem");
    assert!(!pin.exists(), "nothing may be created off bpffs");
    let link = lab.server.ip(&["link", "show", "eth0"]);
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "no XDP program attached"
    );
}

#[test]
fn unknown_interface_is_refused_and_nothing_attached() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "nosuch0"])
        .fails_with("unknown interface nosuch0");
    lab.rsdr(&["attach", "eth0", "nosuch0"])
        .fails_with("unknown interface nosuch0");
    assert!(
        !Path::new(&lab.pin_dir()).exists(),
        "no pins after a refused attach"
    );
    lab.rsdr(&["status"]).fails_with("nothing attached");
}

/// Loopback and a tun device carry no Ethernet header: the programs would
/// read IP bytes as an EtherType. Refused by `attach`, by a hook change
/// and by a configuration, with nothing changed.
#[test]
fn non_ethernet_interfaces_are_refused() {
    let lab = Lab::new();
    run_ok(
        lab.server
            .cmd("ip")
            .args(["tuntap", "add", "dev", "tun0", "mode", "tun"]),
    );
    lab.rsdr(&["attach", "lo"])
        .fails_with("lo is not an Ethernet device (link type loopback)");
    lab.rsdr(&["attach", "tun0"])
        .fails_with("tun0 is not an Ethernet device (link type none");
    assert!(
        !Path::new(&lab.pin_dir()).exists(),
        "no pins after a refused attach"
    );
    lab.protect();
    let before = lab.state();
    lab.rsdr(&["attach", "eth0", "lo"])
        .fails_with("lo is not an Ethernet device");
    let conf = ConfFile::new(&(iface("eth0", "") + &iface("tun0", "")));
    lab.rsdr(&["apply", "-c", &conf.arg()])
        .fails_with("interface tun0 is not an Ethernet device");
    assert_unchanged(&lab, &before, "non-Ethernet interfaces");
}

#[test]
fn invalid_interface_name_is_refused() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "../../etc"])
        .fails_with("invalid interface name");
    lab.rsdr(&["attach", "a-name-longer-than-fifteen"])
        .fails_with("invalid interface name");
}

#[test]
fn nothing_attached_is_reported() {
    let lab = Lab::new();
    for args in [
        &["vip", "add", "10.0.0.100", "--real", "10.0.0.2"][..],
        &["vip", "del", "10.0.0.100"],
        &["vip", "list"],
        &["stats"],
        &["status"],
        &["detach"],
        &["detach", "eth0"],
    ] {
        lab.rsdr(args).fails_with("nothing attached");
    }
    assert!(!Path::new(&lab.pin_dir()).exists());
}

#[test]
fn malformed_addresses_are_refused() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["vip", "add", "10.0.0.300", "--real", "10.0.0.2"])
        .fails_with("invalid VIP \"10.0.0.300\"");
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", "eth0"])
        .fails_with("invalid real IP \"eth0\"");
    lab.rsdr(&["vip", "add", "224.0.0.5", "--real", "10.0.0.2"])
        .fails_with("multicast");
    lab.rsdr(&["vip", "add", "0.0.0.0", "--real", "10.0.0.2"])
        .fails_with("unspecified");
    lab.rsdr(&["vip", "del", "banana"])
        .fails_with("invalid VIP \"banana\"");
    assert_unchanged(&lab, &before, "malformed addresses");
}

#[test]
fn vip_equal_to_real_ip_is_refused() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", "10.0.0.101"])
        .fails_with("same address as its real IP");
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", &VIP.to_string()])
        .fails_with("is itself a configured VIP");
    // A real IP of this host's, so that only the conflict is refused.
    lab.server
        .ip(&["addr", "add", "10.0.0.3/32", "dev", "eth0"]);
    lab.rsdr(&["vip", "add", &REAL_IP.to_string(), "--real", "10.0.0.3"])
        .fails_with("would cover the real IP of VIP");
    assert_unchanged(&lab, &before, "VIP/real conflicts");
}

#[test]
fn foreign_real_ip_is_refused_unless_allowed() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", "10.0.0.3"])
        .fails_with("real IP 10.0.0.3 of VIP 10.0.0.101 is not an address of this host");
    lab.rsdr(&["vip", "add", "2001:db8::10", "--real", "2001:db8::3"])
        .fails_with("real IP 2001:db8::3 of VIP 2001:db8::10 is not an address of this host");
    let conf = ConfFile::new(
        &(iface("eth0", "")
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")
            + &vip("10.0.0.101", "10.0.0.3", "")),
    );
    lab.rsdr(&["apply", "-c", &conf.arg()])
        .fails_with("allow_foreign_real = true overrides");
    assert_unchanged(&lab, &before, "foreign real IPs");
    assert!(
        lab.rsdr(&["check"]).ok().contains("all well"),
        "check passes before any foreign real IP is in the tables"
    );

    let forced = lab.rsdr(&[
        "vip",
        "add",
        "10.0.0.101",
        "--real",
        "10.0.0.3",
        "--allow-foreign-real",
    ]);
    assert!(
        forced.ok().contains("added VIP 10.0.0.101"),
        "{}",
        forced.stdout
    );
    assert!(
        forced.stderr.contains("warning: real IP 10.0.0.3"),
        "{}",
        forced.stderr
    );
    let check = lab.rsdr(&["check"]);
    assert_eq!(check.code, Some(1), "check fails: {}", check.stdout);
    assert!(
        check
            .stdout
            .contains("real IP 10.0.0.3 is not an address of this host"),
        "{}",
        check.stdout
    );

    conf.write(
        &(iface("eth0", "")
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")
            + &vip("10.0.0.102", "10.0.0.3", "allow_foreign_real = true")),
    );
    let applied = lab.rsdr(&["apply", "-c", &conf.arg()]);
    assert!(applied.ok().contains("10.0.0.102"), "{}", applied.stdout);
    assert!(
        applied
            .stderr
            .contains("warning: real IP 10.0.0.3 of VIP 10.0.0.102"),
        "{}",
        applied.stderr
    );
}

#[test]
fn deleting_an_absent_vip_is_refused() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["vip", "del", "10.0.0.250"])
        .fails_with("VIP 10.0.0.250 is not configured");
    assert_unchanged(&lab, &before, "deleting an absent VIP");
}

#[test]
fn full_vip_table_is_refused() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0", "--max-vips", "1"]).ok();
    lab.add_vip(&[]);
    let before = lab.state();
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", &REAL_IP.to_string()])
        .fails_with("VIP table is full (1 entries)");
    assert_unchanged(&lab, &before, "a full table");
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        0,
        "the existing VIP is still filtered"
    );
}

#[test]
fn bad_capacity_is_refused() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0", "--max-vips", "0"])
        .fails_with("--max-vips must be between 1 and");
    assert!(!Path::new(&lab.pin_dir()).exists());
}

#[test]
fn detaching_an_interface_that_is_not_attached_is_refused() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["detach", "eth9"])
        .fails_with("eth9 is not attached");
    lab.rsdr(&["detach", "eth0", "eth9"])
        .fails_with("eth9 is not attached");
    assert_unchanged(&lab, &before, "detaching unknown interfaces");
    assert_eq!(lab.arping_from_peer(VIP, 1), 0, "eth0 still filtered");
}

#[test]
fn bad_prefixes_and_families_are_refused() {
    let lab = protected();
    let before = lab.state();
    lab.rsdr(&["vip", "add", "203.0.113.5/24", "--real", "10.0.0.2"])
        .fails_with("has host bits set; did you mean 203.0.113.0/24?");
    lab.rsdr(&["vip", "add", "203.0.113.0/33", "--real", "10.0.0.2"])
        .fails_with("invalid prefix length");
    lab.rsdr(&["vip", "add", "2001:db8::10", "--real", "10.0.0.2"])
        .fails_with("is IPv6 but real IP 10.0.0.2 is IPv4");
    lab.rsdr(&["vip", "add", "fe80::10", "--real", "fe80::2"])
        .fails_with("link-local");
    lab.rsdr(&["vip", "add", "10.0.0.0/24", "--real", "10.0.0.2"])
        .fails_with("real IP 10.0.0.2 lies inside pool 10.0.0.0/24");
    lab.rsdr(&["vip", "del", "198.51.100.0/24"])
        .fails_with("VIP 198.51.100.0/24 is not configured");
    assert_unchanged(&lab, &before, "bad prefixes and families");
}

#[test]
fn overlapping_pools_are_refused() {
    let lab = protected();
    lab.rsdr(&[
        "vip",
        "add",
        "203.0.113.0/24",
        "--real",
        &REAL_IP.to_string(),
    ])
    .ok();
    let before = lab.state();
    lab.rsdr(&[
        "vip",
        "add",
        "203.0.113.128/25",
        "--real",
        &REAL_IP.to_string(),
    ])
    .fails_with("pool 203.0.113.128/25 overlaps pool 203.0.113.0/24");
    lab.rsdr(&["vip", "add", "203.0.0.0/16", "--real", &REAL_IP.to_string()])
        .fails_with("overlaps pool 203.0.113.0/24");
    assert_unchanged(&lab, &before, "overlapping pools");
}

#[test]
fn ipv6_vips_and_pools_round_trip_through_the_cli() {
    let lab = protected();
    lab.server.add_ip6_nodad("2001:db8::2/64", "eth0");
    lab.rsdr(&["vip", "add", "2001:db8::10", "--real", "2001:db8::2"])
        .ok();
    lab.rsdr(&[
        "vip",
        "add",
        "2001:db8:100::/64",
        "--real",
        "2001:db8::2",
        "--monitor",
    ])
    .ok();
    let list: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["vip", "list", "--json"]).ok()).expect("JSON");
    let vips: Vec<(&str, &str, bool)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|v| {
            (
                v["vip"].as_str().unwrap(),
                v["kind"].as_str().unwrap(),
                v["monitor"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        vips,
        vec![
            ("10.0.0.100", "address", false),
            ("2001:db8::10", "address", false),
            ("2001:db8:100::/64", "pool", true)
        ]
    );
    let again = lab.rsdr(&["vip", "add", "2001:db8::10", "--real", "2001:db8::2"]);
    assert!(again.ok().contains("already present"), "{}", again.stdout);
    lab.rsdr(&["vip", "del", "2001:db8:100::/64"]).ok();
    lab.rsdr(&["vip", "del", "2001:db8:100::/64"])
        .fails_with("is not configured");
}
