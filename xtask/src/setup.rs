//! `cargo xtask setup`: make a fresh machine able to build and test rsdr.
//!
//! Idempotent: each step checks first and only acts when something is
//! missing. Every other task runs it first.

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, anyhow, bail};

use crate::util::{cargo, cargo_home, exec, have, is_root, output};

const BPF_LINKER_VERSION: &str = "0.13.0";

/// Debian packages providing the tools the tests, the lab and the benchmarks
/// use, keyed by the command (or absolute file) that proves each is present.
const DEBIAN_TOOLS: &[(&str, &str)] = &[
    ("arping", "iputils-arping"),
    ("ping", "iputils-ping"),
    ("tcpdump", "tcpdump"),
    ("arptables", "arptables"),
    ("nft", "nftables"),
    ("bpftool", "bpftool"),
    ("iperf3", "iperf3"),
    ("ndisc6", "ndisc6"),
    ("nsenter", "util-linux"),
    ("setpriv", "util-linux"),
    ("ip", "iproute2"),
    ("ethtool", "ethtool"),
    // The VM tests (cargo xtask vm-test): qemu for virtme-ng, which wants a
    // static busybox, and a real LVS director inside.
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("/bin/busybox", "busybox-static"),
    ("ipvsadm", "ipvsadm"),
    // The two-node tests' VRRP (its service is not started: no systemd in
    // a container, and the package ships no configuration).
    ("keepalived", "keepalived"),
    // The Debian package (cargo xtask package): Depends, the archive, its
    // checker.
    ("dpkg-shlibdeps", "dpkg-dev"),
    ("dpkg-deb", "dpkg"),
    ("lintian", "lintian"),
    // Chart text for `cargo xtask bench`.
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
];

/// virtme-ng, from PyPI: boots a kernel with this machine's root shared.
const VIRTME_NG_VERSION: &str = "1.42";
/// The Debian package of the kernel the VM tests boot by default (Debian
/// 12's own, 6.1).
const VM_KERNEL_PACKAGE: &str = "linux-image-amd64";

pub fn run() -> anyhow::Result<()> {
    nightly_rust_src()?;
    bpf_linker()?;
    debian_tools()?;
    vm_kernel()?;
    virtme_ng()?;
    println!("setup: ready");
    Ok(())
}

/// Debian 12's kernel, for `cargo xtask vm-test`.
fn vm_kernel() -> anyhow::Result<()> {
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", VM_KERNEL_PACKAGE])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
    if installed {
        println!("setup: {VM_KERNEL_PACKAGE} present");
        return Ok(());
    }
    if !is_root() {
        bail!("missing {VM_KERNEL_PACKAGE}; run `sudo cargo xtask setup` to install it");
    }
    println!("setup: installing {VM_KERNEL_PACKAGE} (the VM tests' kernel)");
    exec(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                VM_KERNEL_PACKAGE,
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get install failed")
}

/// virtme-ng's own Python environment (pip refuses to install into a
/// distribution's Python, PEP 668).
fn virtme_venv() -> PathBuf {
    cargo_home().join("rsdr-virtme-ng")
}

/// The `vng` command of virtme-ng.
pub fn vng() -> PathBuf {
    virtme_venv().join("bin").join("vng")
}

fn virtme_ng() -> anyhow::Result<()> {
    let vng = vng();
    let present = Command::new(&vng)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(VIRTME_NG_VERSION));
    if present {
        println!("setup: virtme-ng {VIRTME_NG_VERSION} present");
        return Ok(());
    }
    let venv = virtme_venv();
    println!(
        "setup: installing virtme-ng {VIRTME_NG_VERSION} (pip, into {})",
        venv.display()
    );
    exec(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .context("cannot make a Python environment for virtme-ng (python3 -m venv)")?;
    exec(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "-q",
        &format!("virtme-ng=={VIRTME_NG_VERSION}"),
    ]))
    .context("pip install virtme-ng failed")
}

fn nightly_rust_src() -> anyhow::Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        bail!(
            "no nightly toolchain: rsdr builds its eBPF programs with rustup's `nightly` (see README)"
        );
    }
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]))?;
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        println!("setup: nightly rust-src present");
        return Ok(());
    }
    println!("setup: installing rust-src for nightly");
    exec(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
        .context("cannot install nightly rust-src")
}

fn bpf_linker_works() -> bool {
    Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION)
        })
}

/// Nightly's own libLLVM: (major version, path of the shared library).
fn nightly_llvm() -> anyhow::Result<(String, PathBuf)> {
    let vv = output(Command::new("rustc").args(["+nightly", "-vV"]))?;
    let version = vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .ok_or_else(|| anyhow!("`rustc +nightly -vV` does not report an LLVM version"))?;
    let major = version.split('.').next().unwrap_or_default().to_string();
    let sysroot = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
    let lib = Path::new(sysroot.trim()).join("lib");
    let prefix = format!("libLLVM.so.{major}");
    let file = fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .ok_or_else(|| anyhow!("nightly ships no {prefix}* in {}", lib.display()))?;
    Ok((major, file))
}

/// Build bpf-linker against the libLLVM that nightly itself ships: no LLVM
/// download, and the linker's LLVM matches the one rustc emits bitcode for.
fn bpf_linker() -> anyhow::Result<()> {
    if bpf_linker_works() {
        println!("setup: bpf-linker {BPF_LINKER_VERSION} present");
        return Ok(());
    }
    let (major, libllvm) = nightly_llvm()?;
    let soname = libllvm.file_name().expect("file name").to_owned();
    // bpf-linker keeps this directory as its runpath: it must stay put.
    let prefix = cargo_home().join("rsdr-llvm").join(&soname);
    let libdir = prefix.join("lib");
    fs::create_dir_all(&libdir).with_context(|| format!("creating {}", libdir.display()))?;
    for name in [Path::new("libLLVM.so").as_os_str(), soname.as_os_str()] {
        let link = libdir.join(name);
        let _ = fs::remove_file(&link);
        symlink(&libllvm, &link).with_context(|| format!("linking {}", link.display()))?;
    }
    println!(
        "setup: building bpf-linker {BPF_LINKER_VERSION} against nightly's LLVM {major} ({}), about a minute",
        libllvm.display()
    );
    exec(
        cargo()
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--locked",
                "--no-default-features",
            ])
            .args(["--features", &format!("llvm-{major}")])
            .env("LLVM_PREFIX", &prefix),
    )
    .context("cannot build bpf-linker")?;
    if !bpf_linker_works() {
        bail!(
            "bpf-linker was installed but does not run; is {} on PATH?",
            cargo_home().join("bin").display()
        );
    }
    Ok(())
}

fn arping_is_iputils() -> bool {
    Command::new("arping").arg("-V").output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout).contains("iputils")
            || String::from_utf8_lossy(&o.stderr).contains("iputils")
    })
}

fn debian_tools() -> anyhow::Result<()> {
    let mut missing: Vec<&str> = DEBIAN_TOOLS
        .iter()
        .filter(|(cmd, _)| !have(cmd) || (*cmd == "arping" && !arping_is_iputils()))
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        println!("setup: Debian test tools present");
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing test tools ({}); run `sudo cargo xtask setup` to install them",
            missing.join(" ")
        );
    }
    println!("setup: installing {}", missing.join(" "));
    exec(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get update failed")?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get install failed")?;
    let still: Vec<&str> = DEBIAN_TOOLS
        .iter()
        .filter(|(c, _)| !have(c))
        .map(|(c, _)| *c)
        .collect();
    if !still.is_empty() {
        bail!("still missing after apt-get install: {}", still.join(" "));
    }
    Ok(())
}
