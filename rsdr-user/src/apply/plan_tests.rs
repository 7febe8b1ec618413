//! The plan as a pure function: orders, idempotence and diffs, without a
//! kernel.

use std::{collections::HashSet, net::IpAddr};

use super::plan;
use crate::{
    apply::{AttachedInterface, Current, Step},
    config::{Config, InterfaceConfig, VipConfig},
    entry::{VipEntry, VipFlag, VipFlags},
    hook::{AttachedIngress, HookChoice, IngressAttachment, TcAttach, Via},
    loader::LoadOptions,
    netlink::addresses::DevAddr,
};

fn entry(vip: &str, real: &str) -> VipEntry {
    VipEntry::parse(vip, real, VipFlags::NONE).expect("test entry")
}

fn config(vips: Vec<VipConfig>) -> Config {
    Config {
        path: "test.toml".into(),
        pin_dir: None,
        monitor: false,
        load: LoadOptions::default(),
        interfaces: vec![InterfaceConfig {
            name: "eth0".into(),
            hooks: HookChoice::default(),
        }],
        vips,
        vrrp_notify_fifo: None,
        warnings: Vec::new(),
    }
}

fn managed(vip: &str, dev: &str) -> VipConfig {
    VipConfig {
        entry: entry(vip, "10.0.0.2"),
        manage_address: Some(dev.into()),
        vrrp_instance: None,
    }
}

fn address(addr: &str, dev: &str, managed: bool) -> DevAddr {
    DevAddr {
        addr: addr.parse::<IpAddr>().unwrap(),
        prefix: 32,
        ifindex: 1,
        dev: dev.into(),
        managed,
    }
}

fn present(names: &[&str]) -> HashSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn kinds(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .map(|s| match s {
            Step::Attach { .. } => "attach",
            Step::ChangeHooks { .. } => "change-hooks",
            Step::PutVips { .. } => "put",
            Step::Monitor { .. } => "monitor",
            Step::AddAddr { .. } => "add-address",
            Step::DelAddr { .. } => "del-address",
            Step::RemoveVips { .. } => "remove",
            Step::Detach { .. } => "detach",
        })
        .collect()
}

#[test]
fn from_nothing_the_filter_comes_before_the_addresses() {
    let cfg = config(vec![managed("192.0.2.10", "lo")]);
    let cur = Current {
        tcx: true,
        present: present(&["eth0", "lo"]),
        ..Current::default()
    };
    let steps = plan(&cfg, &cur);
    assert_eq!(kinds(&steps), ["attach", "put", "add-address"]);
    let no_lo = Current {
        present: present(&["eth0"]),
        ..cur
    };
    assert_eq!(
        kinds(&plan(&cfg, &no_lo)),
        ["attach", "put"],
        "no address on a device that is missing"
    );
    assert_eq!(steps[0].to_string(), "+ attach eth0 (xdp, tcx egress)");
    assert_eq!(steps[1].to_string(), "+ vip 192.0.2.10 -> 10.0.0.2");
    assert_eq!(steps[2].to_string(), "+ address 192.0.2.10 on lo");
}

#[test]
fn a_running_state_that_matches_needs_nothing() {
    let cfg = config(vec![managed("192.0.2.10", "lo")]);
    let cur = Current {
        loaded: true,
        interfaces: vec![AttachedInterface {
            name: "eth0".into(),
            ingress: Some(IngressAttachment {
                hook: AttachedIngress::XdpSkb,
                via: Via::Link,
            }),
            egress: Some(Via::Link),
        }],
        vips: vec![entry("192.0.2.10", "10.0.0.2")],
        monitor: false,
        addresses: vec![address("192.0.2.10", "lo", true)],
        tcx: true,
        present: present(&["eth0", "lo"]),
        vrrp_masters: HashSet::new(),
    };
    assert_eq!(plan(&cfg, &cur), []);
}

#[test]
fn on_the_way_out_addresses_go_before_vips_and_interfaces_last() {
    let mut cfg = config(vec![VipConfig {
        entry: VipEntry {
            flags: VipFlags::NONE.with(VipFlag::Monitor, true),
            ..entry("192.0.2.10", "10.0.0.3")
        },
        manage_address: None,
        vrrp_instance: None,
    }]);
    cfg.interfaces[0].hooks = HookChoice::tc(TcAttach::Auto);
    cfg.monitor = true;
    let cur = Current {
        loaded: true,
        interfaces: ["eth0", "eth1"]
            .map(|n| AttachedInterface {
                name: n.into(),
                ingress: Some(IngressAttachment {
                    hook: AttachedIngress::XdpNative,
                    via: Via::Link,
                }),
                egress: Some(Via::Link),
            })
            .to_vec(),
        vips: vec![
            entry("192.0.2.10", "10.0.0.2"),
            entry("192.0.2.11", "10.0.0.2"),
        ],
        monitor: false,
        addresses: vec![
            address("192.0.2.11", "lo", true),
            address("192.0.2.12", "lo", false),
        ],
        tcx: true,
        present: present(&["eth0", "eth1", "lo"]),
        vrrp_masters: HashSet::new(),
    };
    let steps = plan(&cfg, &cur);
    assert_eq!(
        kinds(&steps),
        [
            "change-hooks",
            "put",
            "monitor",
            "del-address",
            "remove",
            "detach"
        ]
    );
    let diff: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        diff,
        [
            "~ eth0: ingress xdp native -> tcx ingress",
            "~ vip 192.0.2.10: real 10.0.0.2 -> 10.0.0.3 [monitor]",
            "~ monitor off -> on",
            "- address 192.0.2.11 on lo",
            "- vip 192.0.2.11 -> 10.0.0.2",
            "- detach eth1",
        ],
        "an address rsdr did not add (192.0.2.12) is left alone"
    );
}

#[test]
fn the_tc_mechanism_follows_the_kernel_unless_the_file_names_one() {
    let mut cfg = config(Vec::new());
    let attached = |egress| Current {
        loaded: true,
        interfaces: vec![AttachedInterface {
            name: "eth0".into(),
            ingress: Some(IngressAttachment {
                hook: AttachedIngress::XdpNative,
                via: Via::Link,
            }),
            egress: Some(egress),
        }],
        tcx: true,
        present: present(&["eth0"]),
        ..Current::default()
    };
    assert_eq!(
        plan(&cfg, &attached(Via::Link)),
        [],
        "auto is TCX on a kernel with TCX"
    );
    let steps = plan(&cfg, &attached(Via::Netlink));
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].to_string(), "~ eth0: egress tc -> tcx");
    cfg.interfaces[0].hooks.tc_attach = TcAttach::Netlink;
    assert_eq!(plan(&cfg, &attached(Via::Netlink)), []);
    let fresh = plan(
        &cfg,
        &Current {
            present: present(&["eth0"]),
            ..Current::default()
        },
    );
    assert_eq!(fresh[0].to_string(), "+ attach eth0 (xdp, tc egress)");
    let no_tcx = plan(
        &config(Vec::new()),
        &Current {
            present: present(&["eth0"]),
            ..Current::default()
        },
    );
    assert_eq!(
        no_tcx[0].to_string(),
        "+ attach eth0 (xdp, tc egress)",
        "auto without TCX"
    );
}

#[test]
fn a_flag_change_alone_prints_the_flags() {
    let mut e = entry("203.0.113.0/24", "10.0.0.2");
    e.flags = VipFlags::NONE.with(VipFlag::ShowConflicts, true);
    let step = Step::PutVips {
        entries: vec![e],
        previous: vec![entry("203.0.113.0/24", "10.0.0.2")],
    };
    assert_eq!(
        step.to_string(),
        "~ vip 203.0.113.0/24: flags -> [show-conflicts]"
    );
}

/// The daemon's view while an interface of the file is gone (or not there
/// yet at boot): eth0's pins are dead, the VIP is in the tables, its
/// managed address on lo.
fn eth0_gone() -> Current {
    Current {
        loaded: true,
        interfaces: vec![AttachedInterface {
            name: "eth0".into(),
            ingress: None,
            egress: None,
        }],
        vips: vec![entry("192.0.2.10", "10.0.0.2")],
        monitor: false,
        addresses: vec![address("192.0.2.10", "lo", true)],
        tcx: true,
        present: present(&["lo"]),
        vrrp_masters: HashSet::new(),
    }
}

#[test]
fn a_missing_interface_is_waited_for_with_managed_addresses_withdrawn() {
    let cfg = config(vec![managed("192.0.2.10", "lo")]);
    let steps = plan(&cfg, &eth0_gone());
    assert_eq!(
        kinds(&steps),
        ["del-address"],
        "no attach to a missing interface, no detach of it either: {steps:?}"
    );
    let mut cur = eth0_gone();
    cur.addresses.clear();
    assert_eq!(plan(&cfg, &cur), [], "nothing more while it is missing");
}

#[test]
fn an_interface_that_comes_back_is_filtered_before_addresses_return() {
    let cfg = config(vec![managed("192.0.2.10", "lo")]);
    let mut cur = eth0_gone();
    cur.addresses.clear();
    cur.present.insert("eth0".into());
    let steps = plan(&cfg, &cur);
    assert_eq!(kinds(&steps), ["attach", "add-address"], "{steps:?}");
}

/// A running state matching `managed("192.0.2.10", "lo")` on eth0, with the
/// VIP following VI_1 while VI_1 is not master.
fn following_vi_1() -> (Config, Current) {
    let mut v = managed("192.0.2.10", "lo");
    v.vrrp_instance = Some("VI_1".into());
    let cfg = config(vec![v]);
    let mut cur = eth0_gone();
    cur.present.insert("eth0".into());
    cur.interfaces[0].ingress = Some(IngressAttachment {
        hook: AttachedIngress::XdpSkb,
        via: Via::Link,
    });
    cur.interfaces[0].egress = Some(Via::Link);
    cur.vips = vec![VipEntry {
        flags: VipFlags::NONE.with(VipFlag::Vrrp, true),
        ..entry("192.0.2.10", "10.0.0.2")
    }];
    (cfg, cur)
}

#[test]
fn a_vip_following_vrrp_is_filtered_and_held_on_lo_unless_master() {
    let (cfg, cur) = following_vi_1();
    assert_eq!(plan(&cfg, &cur), [], "backup (or never told): as it is");
    let mut other = cur.clone();
    other.vrrp_masters.insert("VI_2".into());
    assert_eq!(
        plan(&cfg, &other),
        [],
        "another instance's state changes nothing"
    );
}

#[test]
fn becoming_master_unfilters_before_the_managed_address_goes() {
    let (cfg, mut cur) = following_vi_1();
    cur.vrrp_masters.insert("VI_1".into());
    let steps = plan(&cfg, &cur);
    assert_eq!(kinds(&steps), ["put", "del-address"], "{steps:?}");
    let Step::PutVips { entries, .. } = &steps[0] else {
        unreachable!()
    };
    assert!(
        entries[0].flags.contains(VipFlag::VrrpMaster),
        "the master flag is set: {entries:?}"
    );
}

#[test]
fn leaving_master_filters_before_the_managed_address_returns() {
    let (cfg, mut cur) = following_vi_1();
    cur.vips[0].flags = cur.vips[0].flags.with(VipFlag::VrrpMaster, true);
    cur.addresses.clear();
    let steps = plan(&cfg, &cur);
    assert_eq!(kinds(&steps), ["put", "add-address"], "{steps:?}");
    let Step::PutVips { entries, .. } = &steps[0] else {
        unreachable!()
    };
    assert!(
        !entries[0].flags.contains(VipFlag::VrrpMaster),
        "{entries:?}"
    );
}
