//! The userspace half of rsdr: loading and pinning the datapath, attaching it
//! to interfaces, and reading and writing its maps. The `rsdr` binary is a
//! thin CLI over this library; the integration tests use it to load the very
//! same object for BPF_PROG_TEST_RUN.

pub mod addr;
pub mod attach;
pub mod iface;
pub mod loader;
pub mod lock;
pub mod object;
pub mod pins;
pub mod privilege;
pub mod stats;
pub mod status;
pub mod sys;
pub mod vips;

/// Default pin directory (overridden by `--pin-dir` / `RSDR_PIN_DIR`).
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/rsdr";
