//! `cargo xtask test`: every test, privileged ones included. Must run as
//! root: the datapath and wire tests never skip, so without root this fails.
//!
//! Three passes: the whole suite on this host's kernel as rsdr chooses its
//! mechanisms; the tests that attach to interfaces again with TC hooks as
//! cls_bpf filters over netlink (`RSDR_TC_ATTACH=netlink`), the mechanism
//! of kernels without TCX; and the VM tests on Debian 12's kernel
//! (`cargo xtask vm-test`). With test arguments, only the first pass runs,
//! with them.

use std::{fs, process::Command};

use anyhow::bail;
use rsdr_tests::netns::NS_PREFIX;

use crate::util::{cargo, exec, is_root, workspace_root};

/// The test targets that attach rsdr to interfaces.
const ATTACHING_TESTS: &[&str] = &[
    "wire_v4",
    "wire_nd",
    "wire_arp_kinds",
    "attach_robustness",
    "tc_attach",
    "ops_apply",
    "ops_daemon",
    "ops_check_import",
    "differential",
    "dr_e2e",
    "drills",
    "two_node",
    "ops_vrrp",
];

#[derive(clap::Args)]
pub struct Args {
    /// Extra arguments for `cargo test` (e.g. a test name filter, `-- --nocapture`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask test must run as root: the datapath tests load BPF programs and the wire tests build network namespaces, and none of them is ever skipped"
        );
    }
    let bin = crate::build::run_build(crate::build::Flavour::Testing)?;
    remove_stale_test_state();
    let mut cmd = cargo();
    cmd.current_dir(workspace_root())
        .args(["test", "--workspace"])
        .args(&args.cargo_test_args)
        .env("RSDR_BIN", &bin)
        .env_remove("RSDR_TC_ATTACH");
    exec(&mut cmd)?;
    if !args.cargo_test_args.is_empty() {
        println!("xtask test: the selected tests passed");
        return Ok(());
    }
    println!("xtask test: the interface tests again, with TC hooks attached over netlink");
    let mut cmd = cargo();
    cmd.current_dir(workspace_root())
        .args(["test", "-p", "rsdr-tests"])
        .args(ATTACHING_TESTS.iter().flat_map(|t| ["--test", t]))
        .env("RSDR_BIN", &bin)
        .env("RSDR_TC_ATTACH", "netlink");
    exec(&mut cmd)?;
    println!("xtask test: the VM tests, on Debian 12's kernel");
    crate::vm::run(crate::vm::Args::default())?;
    println!("xtask test: all tests passed");
    Ok(())
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

/// Namespaces and bpffs mounts left by test processes that were killed
/// (a test's own Drop cleans up on success and on panic).
fn remove_stale_test_state() {
    if let Ok(entries) = fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(NS_PREFIX) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or_default();
            if !pid.is_empty() && !pid_alive(pid) {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
            }
        }
    }
    let tmp = std::env::temp_dir();
    if let Ok(entries) = fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("rsdr-bpffs-") else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or_default();
            if !pid.is_empty() && !pid_alive(pid) {
                let _ = Command::new("umount").arg("-l").arg(e.path()).status();
                let _ = fs::remove_dir(e.path());
            }
        }
    }
}
