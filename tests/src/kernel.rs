//! What the tests expect of the kernel they run on and of the TC attach
//! mechanism they run with (`cargo xtask test` runs the wire tests once as
//! rsdr chooses and once with `RSDR_TC_ATTACH=netlink`).

use rsdr_user::{features, hook::TcAttach};

/// The kind `rsdr status` gives a TC hook in this run: "tcx" (a TCX link)
/// or "tc" (a cls_bpf filter).
pub fn tc_kind() -> &'static str {
    let attach = TcAttach::from_env().unwrap_or_else(|e| panic!("{e}"));
    match (attach, features::probe().tcx) {
        (TcAttach::Tcx, _) | (TcAttach::Auto, true) => "tcx",
        (TcAttach::Netlink, _) | (TcAttach::Auto, false) => "tc",
    }
}
