//! The Debian package, installed, upgraded over itself and purged with
//! dpkg in a Debian 12 root: the VM tests' guest, whose root is this
//! (Debian 12) machine's, shared read-only; `cargo xtask vm-test` runs
//! this test in a mount namespace of its own with writable overlays on
//! /usr, /etc and /var, so dpkg changes only that copy, and hands over the
//! package `cargo xtask package` built as RSDR_DEB. Never run on a real
//! host: it would install and purge the package there.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use rsdr_tests::{
    cli::{RsdrRun, TEST_ONLY_MARKERS, rsdr_bin, set_rsdr_bin, test_only_markers_in},
    lab::{Lab, VIP},
    netns::run_ok,
};

const INSTALLED_BIN: &str = "/usr/sbin/rsdr";

/// The files the package installs.
const INSTALLED: &[&str] = &[
    INSTALLED_BIN,
    "/etc/rsdr/rsdr.toml",
    "/etc/iproute2/rt_addrprotos.d/rsdr.conf",
    "/lib/systemd/system/rsdr.service",
    "/usr/share/man/man8/rsdr.8.gz",
    "/usr/share/bash-completion/completions/rsdr",
    "/usr/share/zsh/vendor-completions/_rsdr",
    "/usr/share/fish/vendor_completions.d/rsdr.fish",
    "/usr/share/doc/rsdr/copyright",
    "/usr/share/doc/rsdr/changelog.gz",
];

fn deb() -> PathBuf {
    let p = std::env::var_os("RSDR_DEB")
        .map(PathBuf::from)
        .expect("RSDR_DEB is not set: cargo xtask vm-test builds the package and sets it");
    assert!(p.is_file(), "RSDR_DEB={} does not exist", p.display());
    p
}

fn dpkg(args: &[&str]) -> Output {
    run_ok(Command::new("dpkg").args(args))
}

/// The package repacked as a newer version whose example configuration
/// gained a line, in a directory removed on drop.
struct NextVersion {
    dir: PathBuf,
    deb: String,
    version: String,
}

impl NextVersion {
    const EXAMPLE_LINE: &str = "# a line the next version added\n";

    fn of(deb: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rsdr-next-deb-{}", std::process::id()));
        let root = dir.join("root");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory for the repacked package");
        run_ok(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&root));
        let control_path = root.join("DEBIAN/control");
        let control = std::fs::read_to_string(&control_path).expect("read control");
        let version = control
            .lines()
            .find_map(|l| l.strip_prefix("Version: "))
            .expect("a Version field")
            .to_string()
            + "+next1";
        let control = control
            .lines()
            .map(|l| {
                if l.starts_with("Version: ") {
                    format!("Version: {version}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>();
        std::fs::write(&control_path, control).expect("write control");
        let example = root.join("etc/rsdr/rsdr.toml");
        let text =
            std::fs::read_to_string(&example).expect("read the example") + Self::EXAMPLE_LINE;
        std::fs::write(&example, text).expect("write the example");
        run_ok(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-b"])
                .arg(&root)
                .arg(dir.join("next.deb")),
        );
        let deb = dir.join("next.deb").display().to_string();
        Self { dir, deb, version }
    }
}

impl Drop for NextVersion {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "rsdr"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "install ok installed")
}

fn rsdr(args: &[&str]) -> RsdrRun {
    RsdrRun::from_output(
        Command::new(INSTALLED_BIN)
            .args(args)
            .output()
            .expect("run the installed rsdr"),
    )
}

#[test]
#[ignore = "installs a package with dpkg: runs in the VM tests (cargo xtask vm-test) only"]
fn install_upgrade_and_purge_in_a_debian_root() {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    assert!(
        cmdline.contains("virtme"),
        "refusing to run dpkg outside the VM tests' guest"
    );
    let deb = deb();
    let deb = deb.to_str().expect("a UTF-8 path");
    assert!(!installed(), "rsdr must not be installed before the test");
    // The default pin directory's file system, for check and apply (in
    // the test's own mount namespace).
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts.lines().any(|l| l.starts_with("bpf /sys/fs/bpf ")) {
        run_ok(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]));
    }

    dpkg(&["-i", deb]);
    assert!(installed(), "installed");
    for f in INSTALLED {
        assert!(Path::new(f).exists(), "{f} installed");
    }
    let conffiles = run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", "rsdr"]));
    assert!(
        String::from_utf8_lossy(&conffiles.stdout).contains("/etc/rsdr/rsdr.toml"),
        "the configuration is a conffile"
    );
    assert!(
        !Path::new("/sys/fs/bpf/rsdr").exists(),
        "installing started a filter"
    );
    // The unit as installed, with everything it names in place.
    let verify = run_ok(
        Command::new("systemd-analyze")
            .args(["verify", "/lib/systemd/system/rsdr.service"])
            .env("SYSTEMD_LOG_LEVEL", "notice"),
    );
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        !complaints.contains("rsdr.service"),
        "systemd-analyze verify has complaints about the unit: {complaints}"
    );
    // The shipped binary carries no test hooks and no benchmark programs;
    // the tests' build, which the other tests run, carries them all.
    assert_eq!(
        test_only_markers_in(Path::new(INSTALLED_BIN)),
        Vec::<&str>::new(),
        "test-only code in the installed binary"
    );
    assert_eq!(
        test_only_markers_in(&rsdr_bin()),
        TEST_ONLY_MARKERS,
        "the tests' build lacks its hooks: the check above would prove nothing"
    );
    let version = rsdr(&["--version"]);
    assert!(version.ok().starts_with("rsdr "), "{}", version.stdout);
    let check = rsdr(&["check"]);
    assert!(
        check.stdout.contains("kernel") && check.stdout.contains("BPF ISA"),
        "rsdr check runs: {}\n{}",
        check.stdout,
        check.stderr
    );
    let dry = rsdr(&["apply", "--dry-run"]);
    assert!(
        dry.ok().contains("dry run: nothing changed") && !dry.stdout.contains("+ "),
        "the shipped example filters nothing: {}",
        dry.stdout
    );

    // A filter in place, and an edited configuration: an upgrade to a newer
    // version whose example changed keeps both. (The guest runs no
    // systemd: the scripts' daemon-reload and try-restart are not run.)
    let lab = Lab::new();
    // The lab's rsdr is the installed one from here on.
    set_rsdr_bin(PathBuf::from(INSTALLED_BIN));
    lab.protect();
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        0,
        "filtered before the upgrade"
    );
    let edited = std::fs::read_to_string("/etc/rsdr/rsdr.toml").expect("read the conffile")
        + "# edited by the operator\n";
    std::fs::write("/etc/rsdr/rsdr.toml", &edited).expect("edit the conffile");
    let next = NextVersion::of(deb);
    dpkg(&["-i", "--force-confold", &next.deb]);
    assert!(installed(), "upgraded");
    assert_eq!(
        run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "rsdr"])).stdout,
        next.version.as_bytes(),
        "the newer version is installed"
    );
    assert_eq!(
        std::fs::read_to_string("/etc/rsdr/rsdr.toml").expect("read the conffile"),
        edited,
        "the operator's edit survives the upgrade"
    );
    assert!(
        std::fs::read_to_string("/etc/rsdr/rsdr.toml.dpkg-dist")
            .is_ok_and(|t| t.ends_with(NextVersion::EXAMPLE_LINE)),
        "the new example is put beside it"
    );
    assert_eq!(
        lab.arping_from_peer(VIP, 2),
        0,
        "still filtered after the upgrade"
    );
    let st = lab.rsdr(&["status", "--json"]);
    assert!(st.ok().contains("\"healthy\": true"), "{}", st.stdout);

    // Remove keeps the configuration (and the filter); purge removes it.
    dpkg(&["-r", "rsdr"]);
    assert!(!Path::new(INSTALLED_BIN).exists(), "binary removed");
    assert!(
        Path::new("/etc/rsdr/rsdr.toml").exists(),
        "configuration kept on remove"
    );
    assert_eq!(
        lab.arping_from_peer(VIP, 1),
        0,
        "the filter outlives the package"
    );
    dpkg(&["--purge", "rsdr"]);
    for f in INSTALLED {
        assert!(!Path::new(f).exists(), "{f} gone after purge");
    }
    assert!(
        !Path::new("/etc/rsdr").exists(),
        "configuration directory purged"
    );
    let status = Command::new("dpkg-query")
        .args(["-W", "rsdr"])
        .output()
        .expect("dpkg-query");
    assert!(
        !status.status.success() || !installed(),
        "rsdr is gone from dpkg's database"
    );
}
