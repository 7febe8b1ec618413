//! Network-namespace labs. Every namespace, veth pair and bpffs mount a test
//! creates has a unique name and is removed on drop (also when the test
//! panics). Nothing of the host's own network is touched: veth ends are
//! created directly inside the test's namespaces.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use crate::root::require_root;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Prefix of every namespace the tests create; `cargo xtask test` removes
/// leftovers of dead test processes by it.
pub const NS_PREFIX: &str = "rsdr-t";

/// A unique id for this process and call: `<pid>-<n>`.
pub fn unique_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Run a command to completion, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A named network namespace, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new(label: &str) -> Self {
        require_root();
        let name = format!("{NS_PREFIX}{}-{label}", unique_id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A command that runs inside this namespace (network only: the mount
    /// namespace, and so bpffs mounts, stay the test's own).
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    /// Packets counted by the first `counter` of nftables table `family
    /// name` in this namespace (0 if it has none yet).
    pub fn nft_counter(&self, family: &str, table: &str) -> u64 {
        let out = self
            .cmd("nft")
            .args(["-j", "list", "table", family, table])
            .output()
            .unwrap_or_else(|e| panic!("cannot run nft: {e}"));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("rule")?.get("expr")?.as_array().cloned())
            .flatten()
            .find_map(|e| e.get("counter")?.get("packets")?.as_u64())
            .unwrap_or(0)
    }

    /// Add an IPv6 address (`addr/len`) to `dev` without duplicate address
    /// detection, so it is usable at once.
    pub fn add_ip6_nodad(&self, cidr: &str, dev: &str) {
        self.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"]);
    }

    /// `ip -n <ns> args...`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> Output {
        run_ok(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// Set a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        run_ok(
            self.cmd("sysctl")
                .args(["-q", "-w", &format!("{key}={value}")]),
        );
    }

    /// Wait until `iface` is operationally up and has its real qdisc: until
    /// then (linkwatch runs up to a second later) the kernel drops what the
    /// host itself sends, e.g. its gratuitous ARP.
    pub fn wait_ready(&self, iface: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let out = self.ip(&["-j", "link", "show", iface]);
            let v: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("ip -j link JSON");
            if v[0]["operstate"] == "UP" && v[0]["qdisc"] != "noop" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{iface} in {} never came up: {v}",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn mac(&self, iface: &str) -> [u8; 6] {
        let out = self.ip(&["-j", "link", "show", iface]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j link JSON");
        let s = v[0]["address"].as_str().expect("address in ip -j link");
        let mut mac = [0u8; 6];
        for (m, part) in mac.iter_mut().zip(s.split(':')) {
            *m = u8::from_str_radix(part, 16).expect("hex MAC");
        }
        mac
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair with one end in each namespace, both named `name`. Neither
/// end runs IPv6 duplicate address detection, so no Neighbor Solicitation
/// for its link-local address lands in a test's counters a second after
/// set-up; a test about DAD turns it back on (`accept_dad`).
pub fn veth(a: &Netns, b: &Netns, name: &str) {
    run_ok(Command::new("ip").args([
        "link",
        "add",
        "name",
        name,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        name,
        "netns",
        b.name(),
    ]));
    for ns in [a, b] {
        // Slashes: interface names may hold dots (eth0.100).
        ns.sysctl(&format!("net/ipv6/conf/{name}/accept_dad"), "0");
    }
    a.ip(&["link", "set", name, "up"]);
    b.ip(&["link", "set", name, "up"]);
    a.wait_ready(name);
    b.wait_ready(name);
}

/// A private bpffs instance mounted in a fresh temporary directory, so a
/// test's pins never meet another test's or the host's. Unmounted on drop.
pub struct BpfFs {
    dir: PathBuf,
}

impl BpfFs {
    pub fn new() -> Self {
        require_root();
        let dir = std::env::temp_dir().join(format!("rsdr-bpffs-{}", unique_id()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        run_ok(Command::new("mount").args(["-t", "bpf", "bpf"]).arg(&dir));
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Default for BpfFs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BpfFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
        let _ = fs::remove_dir(&self.dir);
    }
}

/// A child process killed on drop (captures, servers).
pub struct Guard(pub Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spawn with piped output, killed on drop.
pub fn spawn(cmd: &mut Command) -> Guard {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    Guard(Some(child))
}
