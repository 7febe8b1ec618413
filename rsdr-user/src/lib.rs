//! The userspace half of rsdr: loading and pinning the datapath, attaching
//! it to interfaces, and reading and writing its maps. The `rsdr` binary is
//! a thin CLI over this library; the integration tests use it to load the
//! very same object for BPF_PROG_TEST_RUN. docs/architecture.md shows how
//! the modules fit together.

// Errors carry the offending input for one-line messages; they are built on
// cold paths only, so their size does not matter.
#![allow(clippy::result_large_err)]

// What an operator says, as types.
pub mod config;
pub mod entry;
pub mod hook;
pub mod vip;

// Carrying it out.
pub mod apply;
pub mod attach;
pub mod daemon;
pub mod features;
pub mod loader;
pub mod pins;
pub mod settings;
pub mod tables;
pub mod upgrade;
pub mod vrrp;

// Reading it back.
pub mod check;
pub mod metrics;
pub mod stats;
pub mod status;

// Around the edges.
pub mod iface;
pub mod import;
pub mod input;
pub mod local_addr;
mod mmap;
pub mod netlink;
pub mod object;
pub mod privilege;
pub mod sd_notify;
pub mod sys;

#[cfg(test)]
mod fuzz_tests;

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
