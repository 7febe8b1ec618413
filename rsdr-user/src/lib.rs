//! The userspace half of rsdr: loading and pinning the datapath, attaching it
//! to interfaces, and reading and writing its maps. The `rsdr` binary is a
//! thin CLI over this library; the integration tests use it to load the very
//! same object for BPF_PROG_TEST_RUN.

// Errors carry the offending input for one-line messages; they are built on
// cold paths only, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod addr;
pub mod addrs;
pub mod apply;
pub mod attach;
pub mod check;
pub mod config;
pub mod iface;
pub mod import;
pub mod loader;
pub mod lock;
pub mod metrics;
pub mod object;
pub mod pins;
pub mod privilege;
pub mod sd_notify;
pub mod stats;
pub mod status;
pub mod sys;
pub mod vips;

/// Default pin directory (overridden by `--pin-dir` / `RSDR_PIN_DIR`).
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/rsdr";

/// An error and all its sources on one line ("a: b: c"), for errors that
/// are turned into strings inside typed errors.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}
