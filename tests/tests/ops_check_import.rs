//! `rsdr check` on a clean and on a conflicting setup, and `rsdr import
//! arptables` of a real `arptables-save` dump, applied.

use rsdr_tests::{
    cli::{RsdrRun, rsdr_cmd},
    conf::{ConfFile, iface, vip},
    lab::{Lab, REAL_IP, VIP},
    netns::run_ok,
};

#[test]
fn check_is_happy_with_a_clean_setup() {
    let lab = Lab::new();
    lab.protect();
    let out = lab.rsdr(&["check"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("all well"), "{}", out.stdout);
    let j: serde_json::Value =
        serde_json::from_str(lab.rsdr(&["check", "--json"]).ok()).expect("JSON");
    assert_eq!(j["all_well"], true, "{j}");
}

#[test]
fn check_reports_conflicts_and_unfiltered_vips() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    // The VIP is on eth0 but not in rsdr's tables, arptables rules act too,
    // and a second interface is up without rsdr.
    run_ok(
        lab.server
            .cmd("arptables")
            .args(["-A", "INPUT", "-d", &VIP.to_string(), "-j", "DROP"]),
    );
    rsdr_tests::netns::veth(&lab.peer, &lab.server, "eth1");
    let conf =
        ConfFile::new(&(iface("eth0", "") + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")));
    let out = lab.rsdr(&["check", "-c", &conf.arg()]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    for needle in [
        "arptables rule(s) also act on ARP",
        &format!("UNFILTERED: {VIP} on eth0"),
        "FAIL",
    ] {
        assert!(
            out.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            out.stdout
        );
    }
    lab.add_vip(&[]);
    let out = lab.rsdr(&["check"]);
    assert!(
        out.stdout
            .contains("up interfaces without rsdr may answer ARP for them: eth1"),
        "{}",
        out.stdout
    );
}

/// An attached interface whose kernel accepts fragmented ND (which rsdr
/// does not inspect) is a warning, and only then.
#[test]
fn check_warns_when_an_interface_accepts_fragmented_nd() {
    let lab = Lab::new();
    lab.protect();
    let needle = "suppress_frag_ndisc=0";
    let before = lab.rsdr(&["check"]);
    assert!(!before.stdout.contains(needle), "{}", before.stdout);
    run_ok(
        lab.server
            .cmd("sysctl")
            .args(["-q", "-w", "net.ipv6.conf.eth0.suppress_frag_ndisc=0"]),
    );
    let out = lab.rsdr(&["check"]);
    assert_eq!(
        out.code,
        Some(1),
        "a warning fails the check:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(needle) && out.stdout.contains("eth0"),
        "{}",
        out.stdout
    );
}

/// Without --pin-dir, `check -c FILE` looks under the file's `pin_dir`,
/// as `apply` and `run` do (it used to look under the default and report
/// nothing attached).
#[test]
fn check_with_a_config_looks_under_its_pin_dir() {
    let lab = Lab::new();
    lab.protect();
    let conf = ConfFile::new(
        &(format!("[settings]\npin_dir = \"{}\"\n", lab.pin_dir())
            + &iface("eth0", "")
            + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")),
    );
    let mut cmd = rsdr_cmd(Some(lab.server.cmd("env")));
    cmd.args(["check", "-c", &conf.arg()]);
    let out = RsdrRun::from_output(cmd.output().expect("running rsdr check"));
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("{} is on bpffs", lab.pin_dir()))
            && out.stdout.contains("interface eth0"),
        "{}",
        out.stdout
    );
}

#[test]
fn import_a_real_arptables_dump_and_apply_it() {
    let lab = Lab::new();
    lab.add_seed_arptables_rules();
    run_ok(
        lab.server
            .cmd("arptables")
            .args(["-A", "INPUT", "--opcode", "2", "-j", "ACCEPT"]),
    );
    let dump = run_ok(&mut lab.server.cmd("arptables-save")).stdout;
    let mut cmd = rsdr_cmd(None);
    cmd.args(["import", "arptables", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("rsdr import");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &dump).expect("feed dump");
    let out = RsdrRun::from_output(child.wait_with_output().expect("import output"));
    let toml = out.ok().to_string();
    assert!(
        toml.contains(&format!("address = \"{VIP}\"\nreal = \"{REAL_IP}\"")),
        "{toml}"
    );
    assert!(
        out.stderr.contains("cannot express"),
        "a warning for the rule rsdr cannot express: {}",
        out.stderr
    );
    // The operator names the interface and replaces arptables with rsdr.
    let conf = ConfFile::new(&(toml + &iface("eth0", "")));
    run_ok(lab.server.cmd("arptables").arg("-F"));
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        1,
        "arptables gone: unfiltered"
    );
    lab.rsdr(&["apply", "-c", &conf.arg()]).ok();
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "rsdr filters what arptables did"
    );
}
