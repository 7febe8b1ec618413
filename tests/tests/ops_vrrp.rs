//! `rsdr vrrp` and `vip add --vrrp-instance` on the wire: a VIP that follows
//! a VRRP instance is filtered until rsdr hears MASTER, answered while
//! master, filtered again after; the state survives in the pin directory
//! and shows in `vip list` and `status` (docs/two-node.md).

use rsdr_tests::{
    conf::{ConfFile, lab_config},
    daemon::Daemon,
    lab::{Lab, VIP},
    netns::unique_id,
};

fn answers(lab: &Lab) -> u32 {
    lab.arping_from_peer(VIP, 2)
}

#[test]
fn a_vip_following_vrrp_is_answered_only_while_master() {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0"]).ok();
    lab.add_vip(&["--vrrp-instance", "VI_1"]);
    assert_eq!(answers(&lab), 0, "never told: filtered");

    let out = lab.rsdr(&["vrrp", "VI_1", "master"]).ok().to_string();
    assert!(out.contains("unknown -> master"), "{out}");
    assert!(answers(&lab) > 0, "master: the kernel answers for the VIP");
    let list = lab.rsdr(&["vip", "list", "--json"]).ok().to_string();
    let v: serde_json::Value = serde_json::from_str(&list).expect("vip list JSON");
    assert_eq!(v[0]["vrrp_instance"], "VI_1", "{list}");
    assert_eq!(v[0]["vrrp_state"], "master", "{list}");

    // keepalived's notify-script arguments work too.
    let out = lab
        .rsdr(&["vrrp", "INSTANCE", "VI_1", "BACKUP", "100"])
        .ok()
        .to_string();
    assert!(out.contains("master -> backup"), "{out}");
    assert_eq!(answers(&lab), 0, "backup: filtered again");

    // Another instance's state changes nothing; a VIP added while its
    // instance is master is unfiltered at once.
    lab.rsdr(&["vrrp", "VI_2", "master"]).ok();
    assert_eq!(answers(&lab), 0, "VI_2 is not the VIP's instance");
    lab.rsdr(&["vrrp", "VI_1", "master"]).ok();
    lab.rsdr(&["vip", "del", &VIP.to_string()]).ok();
    lab.add_vip(&["--vrrp-instance", "VI_1"]);
    assert!(answers(&lab) > 0, "added under a master instance");
    let status = lab.rsdr(&["status", "--json"]).ok().to_string();
    let st: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
    let vi1 = st["vrrp"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["instance"] == "VI_1"))
        .unwrap_or_else(|| panic!("no VI_1 in status: {status}"));
    assert_eq!(vi1["state"], "master", "{status}");
    assert_eq!(vi1["vips"][0], VIP.to_string(), "{status}");

    // `vip del` forgets that the VIP followed VI_1.
    lab.rsdr(&["vip", "del", &VIP.to_string()]).ok();
    let status = lab.rsdr(&["status", "--json"]).ok().to_string();
    assert!(
        !status.contains(&format!("\"{VIP}\"")),
        "the VIP left the VRRP record: {status}"
    );
    lab.add_vip(&["--vrrp-instance", "VI_1"]);

    // Without --vrrp-instance the VIP no longer follows it: filtered.
    lab.add_vip(&[]);
    assert_eq!(answers(&lab), 0, "no longer following VI_1");
    lab.rsdr(&["vrrp", "VI_1", "fault"]).ok();
    lab.rsdr(&["vrrp", "VI_1", "master"]).ok();
    assert_eq!(answers(&lab), 0, "VI_1 master no longer concerns the VIP");
}

/// Write `text` into the FIFO at `path` (rsdr holds it open, so this never
/// waits for a reader).
fn write_fifo(path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    f.write_all(text.as_bytes()).expect("write to the FIFO");
}

/// The service following a FIFO as keepalived writes it: MASTER unfilters
/// the VIP and withdraws rsdr's copy on lo, BACKUP filters it and puts the
/// copy back; garbled and overlong lines change nothing; a FIFO replaced
/// under it (keepalived makes its own anew when it starts) is read again.
#[test]
fn the_service_follows_keepalived_notify_fifo() {
    let lab = Lab::new();
    lab.server
        .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]);
    let dir = std::env::temp_dir().join(format!("rsdr-fifo-{}", unique_id()));
    let fifo = dir.join("sub/keepalived.fifo");
    let conf = ConfFile::new(&format!(
        "[settings]\nvrrp_notify_fifo = {:?}\n{}",
        fifo.display().to_string(),
        lab_config("manage_address = \"lo\"\nvrrp_instance = \"VI_1\"")
    ));
    let d = Daemon::start(&lab, &conf, &[]);
    let on_lo = || {
        let out = lab.server.ip(&["-4", "-o", "addr", "show", "dev", "lo"]);
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {VIP}/"))
    };
    d.eventually("the VIP held on lo", on_lo);
    d.eventually("rsdr run made the FIFO and its directory", || fifo.exists());
    assert_eq!(answers(&lab), 0, "never told: filtered");

    write_fifo(&fifo, "INSTANCE \"VI_1\" MASTER 100\n");
    d.eventually("rsdr's copy on lo withdrawn under MASTER", || !on_lo());
    // As master, keepalived holds the VIP on the NIC.
    lab.server
        .ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
    assert!(answers(&lab) > 0, "master: answered");

    let overlong = format!("{} INSTANCE \"VI_1\" BACKUP 100\n", "x".repeat(10_000));
    write_fifo(&fifo, &format!("hello\n{overlong}GROUP \"G\" BACKUP\n"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        answers(&lab) > 0,
        "garbled, overlong and group lines change nothing"
    );

    // keepalived leaves MASTER: removes its address, then writes BACKUP.
    lab.server
        .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]);
    write_fifo(&fifo, "INSTANCE \"VI_1\" BACKUP 100\n");
    d.eventually("rsdr's copy back on lo under BACKUP", on_lo);
    assert_eq!(answers(&lab), 0, "backup: filtered");

    // keepalived makes the FIFO anew.
    std::fs::remove_file(&fifo).expect("remove the FIFO");
    let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
    // SAFETY: `c` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    write_fifo(&fifo, "INSTANCE \"VI_1\" MASTER 100\n");
    d.eventually("the new FIFO read: MASTER withdraws the lo copy", || {
        !on_lo()
    });
    let log = d.log();
    assert!(log.contains("was replaced"), "{log}");
    assert!(log.contains("not a keepalived line"), "{log}");
    assert!(log.contains("longer than"), "{log}");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
