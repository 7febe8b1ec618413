//! rsdr on the kernel it runs on: the features it probes (compared here
//! with the kernel's release, which the tests may do and rsdr never does:
//! the two kernels tested are mainline-derived), the object and mechanisms
//! it chooses, and `rsdr check` reporting them.

use rsdr_tests::lab::Lab;
use rsdr_user::{
    features,
    loader::{self, Isa, LoadOptions},
};

/// (major, minor) of the running kernel's release.
fn release() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("kernel release");
    let mut it = r.trim().split(['.', '-']);
    let mut next = || {
        it.next()
            .and_then(|n| n.parse().ok())
            .expect("a release number")
    };
    (next(), next())
}

#[test]
fn probes_find_what_this_kernel_has() {
    let f = features::probe();
    let r = release();
    assert_eq!(f.isa_v4, r >= (6, 6), "BPF ISA v4 on {r:?}");
    assert_eq!(f.tcx, r >= (6, 6), "TCX on {r:?}");
    assert_eq!(f.xdp_frags, r >= (5, 18), "XDP frags on {r:?}");
    assert!(
        f.rodata && f.mmapable_arrays && f.ringbuf && f.cap_bpf,
        "{f:?}"
    );
    f.require().expect("everything rsdr needs");
}

#[test]
fn the_object_this_kernel_gets_loads_and_the_other_is_refused_in_one_line() {
    let opts = LoadOptions::default();
    loader::load(None, opts).expect("the object rsdr picks loads");
    loader::load_isa(None, opts, Isa::V3).expect("the v3 object loads everywhere");
    match loader::load_isa(None, opts, Isa::V4) {
        Ok(_) => assert!(
            features::probe().isa_v4,
            "v4 loaded where the probe says no"
        ),
        Err(e) => {
            assert!(
                !features::probe().isa_v4,
                "v4 refused where the probe says yes: {e}"
            );
            let msg = e.to_string();
            assert_eq!(
                msg.lines().count(),
                1,
                "one line, not a verifier dump: {msg}"
            );
            assert!(msg.contains("BPF ISA v4"), "{msg}");
        }
    }
}

#[test]
fn check_reports_the_kernel_features_and_each_hooks_mechanism() {
    let lab = Lab::new();
    lab.protect();
    let out = lab.rsdr(&["check", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("check JSON: {e}\n{}\n{}", out.stdout, out.stderr));
    let find = |name: &str| {
        j["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == name)
            .unwrap_or_else(|| panic!("no {name} finding: {j}"))
            .clone()
    };
    let f = features::probe();
    let kernel = find("kernel");
    let detail = kernel["detail"].as_str().expect("detail");
    assert!(detail.contains(&format!("BPF ISA {}", f.isa())), "{detail}");
    let tc = if f.tcx {
        "TCX links"
    } else {
        "cls_bpf filters"
    };
    assert!(detail.contains(tc), "{detail}");
    let kind = rsdr_tests::kernel::tc_kind();
    let iface = find("interface eth0");
    assert!(
        iface["detail"]
            .as_str()
            .expect("detail")
            .contains(&format!("{kind} egress")),
        "{iface}"
    );
    assert_eq!(j["features"]["tcx"], f.tcx, "{j}");
}
