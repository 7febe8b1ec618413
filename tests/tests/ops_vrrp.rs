//! `rsdr vrrp` and `vip add --vrrp-instance` on the wire: a VIP that follows
//! a VRRP instance is filtered until rsdr hears MASTER, answered while
//! master, filtered again after; the state survives in the pin directory
//! and shows in `vip list` and `status` (docs/two-node.md).

use rsdr_tests::lab::{Lab, VIP};

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

    // Without --vrrp-instance the VIP no longer follows it: filtered.
    lab.add_vip(&[]);
    assert_eq!(answers(&lab), 0, "no longer following VI_1");
    lab.rsdr(&["vrrp", "VI_1", "fault"]).ok();
    lab.rsdr(&["vrrp", "VI_1", "master"]).ok();
    assert_eq!(answers(&lab), 0, "VI_1 master no longer concerns the VIP");
}
