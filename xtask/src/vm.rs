//! `cargo xtask vm-test`: rsdr's privileged tests on another kernel, in a
//! VM. virtme-ng boots the kernel under qemu with this machine's root file
//! system shared read-only, so the binaries built here run there unchanged;
//! the tests write only to the guest's /tmp and /run. The default kernel is
//! Debian 12's (`linux-image-amd64`, 6.1), which `cargo xtask setup`
//! installs: no TCX, no BPF ISA v4, and it has IPVS and 802.1Q, which
//! this host's kernel lacks.
//!
//! qemu uses KVM where it works and TCG otherwise (these machines expose no
//! virtualisation extensions; TCG boots Debian's kernel in about 30 s and
//! runs the tests several times slower than the host does), so the VM runs
//! a selection: everything that differs per kernel (loading the objects,
//! every attach mechanism, decisions on the wire in both families, the
//! daemon) and what only its kernel can run (IPVS, VLAN devices).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, anyhow, bail};

use crate::util::{cargo, is_root, output, workspace_root};

/// How long the whole VM run may take (it takes about 15 minutes under
/// TCG on 2 cores), and each test run inside it.
const VM_DEADLINE: &str = "60m";
const TEST_DEADLINE: &str = "20m";

/// The tests the VM runs: (test target, test arguments; empty for all).
const VM_TESTS: &[(&str, &str)] = &[
    ("kernel_features", ""),
    ("fixtures_arp", ""),
    ("fixtures_nd", ""),
    // The ordered index reads verify on an older kernel too (the races
    // themselves run on the host: under emulation they take minutes).
    (
        "fixtures_index_race",
        "ordered_reads_are_in_the_program_only_when_asked_for",
    ),
    ("wire_v4", ""),
    ("wire_nd", ""),
    // Left out of the host's run: this host's kernel has no 802.1Q.
    ("wire_vlan", "--include-ignored"),
    // Switching to TCX needs a kernel with TCX.
    ("tc_attach", "--skip switching_between_tcx_and_netlink"),
    ("attach_robustness", ""),
    ("ops_apply", ""),
    ("ops_daemon", ""),
    // One at a time: each loads the programs (some twice), which takes
    // tens of seconds under emulation.
    ("drills", "--test-threads 1"),
    ("dr_e2e", ""),
    // Two nodes switched by keepalived, each with a real IPVS director;
    // one at a time: the failover's timing is asserted.
    ("two_node", "--test-threads 1"),
    ("ops_vrrp", ""),
    // Installs the Debian package: in the guest only, over overlays (see
    // PACKAGE_TEST).
    (PACKAGE_TEST, "--include-ignored"),
];

/// The test that installs, upgrades and purges the Debian package. The
/// guest runs it in a mount namespace of its own with writable overlays
/// (upper layers in the guest's /tmp) on the read-only shared /usr, /etc
/// and /var, so dpkg changes nothing outside that namespace.
const PACKAGE_TEST: &str = "package_install";

#[derive(clap::Args, Default)]
pub struct Args {
    /// Kernel image to boot [default: Debian 12's, from linux-image-amd64]
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,

    /// Only these test targets (e.g. --test wire_vlan; --test drills:upgrade
    /// runs the tests of drills whose names contain "upgrade"), instead of
    /// the VM selection
    #[arg(long = "test", value_name = "TARGET")]
    pub tests: Vec<String>,

    /// Skip `cargo xtask lab` inside the VM
    #[arg(long)]
    pub no_lab: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !is_root() {
        bail!("cargo xtask vm-test must run as root (it boots a VM that loads BPF programs)");
    }
    crate::setup::run()?;
    let kernel = match args.kernel {
        Some(k) => k,
        None => default_kernel()?,
    };
    if !kernel.is_file() {
        bail!("no kernel image at {}", kernel.display());
    }
    let bin = crate::build::run_build(crate::build::Flavour::Testing)?;
    let selection: Vec<(String, String)> = if args.tests.is_empty() {
        VM_TESTS
            .iter()
            .map(|(t, f)| (t.to_string(), f.to_string()))
            .collect()
    } else {
        // Every test of the target, those left out of the host's run too.
        args.tests
            .iter()
            .map(|t| match t.split_once(':') {
                Some((target, name)) => (target.to_string(), format!("--include-ignored {name}")),
                None => (t.clone(), "--include-ignored".to_string()),
            })
            .collect()
    };
    let targets: Vec<&str> = selection.iter().map(|(t, _)| t.as_str()).collect();
    let exes = test_executables(&targets)?;
    let deb = if targets.contains(&PACKAGE_TEST) {
        Some(crate::package::build()?)
    } else {
        None
    };
    let lab = if args.no_lab || !args.tests.is_empty() {
        None
    } else {
        Some(xtask_binary()?)
    };
    let dir = std::env::temp_dir().join(format!("rsdr-vm-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = dir.join("run.sh");
    fs::write(
        &script,
        guest_script(
            &bin,
            deb.as_deref(),
            &exes,
            &selection,
            lab.as_deref(),
            &dir,
        ),
    )
    .with_context(|| format!("writing {}", script.display()))?;
    println!(
        "vm-test: booting {} ({}) with {} test target(s){}",
        kernel.display(),
        if kvm_works() { "KVM" } else { "TCG" },
        exes.len(),
        if lab.is_some() { " and the lab" } else { "" }
    );
    // Nothing may hang CI: the whole VM run gets a deadline, each test run
    // inside it one of its own.
    let mut vng = Command::new("timeout");
    vng.args(["--kill-after=60", VM_DEADLINE])
        .arg(crate::setup::vng())
        .arg("--run")
        .arg(&kernel)
        .args(["--memory", "3G", "--cpus", "2", "--rwdir"])
        .arg(&dir);
    if !kvm_works() {
        vng.arg("--disable-kvm");
    }
    vng.args(["--", "sh"]).arg(&script);
    let booted = exec_through_pipes(&mut vng);
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    booted.context("the VM did not run to the end")?;
    match status.trim() {
        "0" => {
            println!("vm-test: all passed on {}", kernel.display());
            Ok(())
        }
        "" => bail!("the VM ended without a test result"),
        failed => bail!(
            "vm-test: {failed} test run(s) failed on {}",
            kernel.display()
        ),
    }
}

/// Run `cmd` with its output passed on through pipes: the VM reopens its
/// standard output, which, were it a file, would write over what this run
/// printed before.
fn exec_through_pipes(cmd: &mut Command) -> anyhow::Result<()> {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let copy_err = std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::stderr()));
    let _ = std::io::copy(&mut out, &mut std::io::stdout());
    let _ = copy_err.join();
    let status = child.wait().context("waiting for the VM")?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// Debian 12's kernel image, as the `linux-image-amd64` package names it.
pub fn default_kernel() -> anyhow::Result<PathBuf> {
    let depends =
        output(Command::new("dpkg-query").args(["-W", "-f", "${Depends}", "linux-image-amd64"]))
            .context("linux-image-amd64 is not installed (cargo xtask setup installs it)")?;
    let release = depends
        .split([',', '|', ' '])
        .find_map(|d| d.trim().strip_prefix("linux-image-"))
        .ok_or_else(|| {
            anyhow!("cannot read the kernel from linux-image-amd64's Depends: {depends}")
        })?;
    Ok(PathBuf::from(format!("/boot/vmlinuz-{release}")))
}

/// qemu can use KVM: /dev/kvm opens and the CPU has virtualisation
/// extensions (without them qemu under KVM hangs at boot on these machines).
fn kvm_works() -> bool {
    let cpu = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let extensions = cpu
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    extensions
        && fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok()
}

/// Build the test targets and return their executables, in order.
fn test_executables(targets: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut cmd = cargo();
    cmd.current_dir(workspace_root())
        .args([
            "test",
            "-p",
            "rsdr-tests",
            "--no-run",
            "--message-format=json",
        ])
        .args(targets.iter().flat_map(|t| ["--test", t]));
    let out = output(&mut cmd)?;
    let mut exes = Vec::new();
    for target in targets {
        let exe = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| {
                v["reason"] == "compiler-artifact"
                    && v["target"]["name"] == *target
                    && v["target"]["kind"][0] == "test"
            })
            .and_then(|v| v["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| anyhow!("cargo built no test executable for {target}"))?;
        exes.push(exe);
    }
    Ok(exes)
}

/// The xtask binary itself, for the lab inside the VM.
fn xtask_binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("locating the xtask binary")
}

fn quote(p: &Path) -> String {
    quote_str(&p.display().to_string())
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Run by `sh -c` in a new mount namespace: writable overlays on /usr,
/// /etc and /var, then the command given as arguments.
const OVERLAY_AND_RUN: &str = r#"set -e
layers=$(mktemp -d /tmp/rsdr-dpkg-root.XXXXXX)
mount -t tmpfs tmpfs "$layers"
for d in usr etc var; do
    mkdir -p "$layers/$d/upper" "$layers/$d/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$layers/$d/upper,workdir=$layers/$d/work" "/$d"
done
exec "$@""#;

/// The shell script the guest runs: modules, then each test binary, then
/// the lab; the number of failed runs goes to `status` in the shared dir.
fn guest_script(
    bin: &Path,
    deb: Option<&Path>,
    exes: &[PathBuf],
    selection: &[(String, String)],
    lab: Option<&Path>,
    dir: &Path,
) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Generated by cargo xtask vm-test; runs inside the VM.\nset -u\n",
    );
    s += "echo \"vm-test: $(uname -r), $(nproc) CPUs\"\n";
    s += "for m in ip_vs ip_vs_rr 8021q sch_ingress cls_bpf veth bridge; do modprobe -q $m || echo \"vm-test: no module $m\"; done\n";
    s += &format!("export RSDR_BIN={}\n", quote(bin));
    s += "unset RSDR_TC_ATTACH RSDR_PIN_DIR\n";
    s += "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";
    if let Some(deb) = deb {
        s += &format!("export RSDR_DEB={}\n", quote(deb));
    }
    s += &format!("cd {}\n", quote(&workspace_root().join("tests")));
    s += "failed=0\n";
    for (exe, (target, filter)) in exes.iter().zip(selection) {
        s += &format!("echo; echo \"=== {target} {filter}\"\n");
        let run = if target == PACKAGE_TEST {
            format!("unshare -m sh -c {} sh", quote_str(OVERLAY_AND_RUN))
        } else {
            String::new()
        };
        s += &format!(
            "timeout {TEST_DEADLINE} {run} {} {filter} || {{ echo \"vm-test: {target} FAILED; the kernel's last words:\"; dmesg | tail -n 60; failed=$((failed + 1)); }}\n",
            quote(exe)
        );
    }
    if let Some(xtask) = lab {
        s += "echo; echo '=== cargo xtask lab (IPVS director)'\n";
        s += &format!(
            "timeout {TEST_DEADLINE} {} lab --rsdr-bin {} || {{ echo 'vm-test: lab FAILED'; failed=$((failed + 1)); }}\n",
            quote(xtask),
            quote(bin)
        );
    }
    s += &format!("echo $failed > {}\n", quote(&dir.join("status")));
    s
}
