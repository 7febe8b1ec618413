//! The standard two-host lab: a peer and a real server on one veth link.
//!
//! ```text
//!  peer (10.0.0.1/24) eth0 <---veth---> eth0 server (10.0.0.2/24 + VIP 10.0.0.100/32)
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{
    cli::{RsdrRun, rsdr_cmd},
    netns::{BpfFs, Netns, run_ok, veth},
};

pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const REAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
/// On the link's subnet, but nobody holds it: ARP for it goes unanswered.
pub const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 77);

pub const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
/// On the link's prefix, but nobody holds it.
pub const NOBODY6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x77);

pub struct Lab {
    pub peer: Netns,
    pub server: Netns,
    pub bpffs: BpfFs,
}

impl Lab {
    pub fn new() -> Self {
        let lab = Self::bare();
        lab.link();
        lab.server
            .ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        lab
    }

    /// The two namespaces and the pin directory, not linked yet: the
    /// server has no eth0 until [`Lab::link`].
    pub fn bare() -> Self {
        Self {
            peer: Netns::new("peer"),
            server: Netns::new("srv"),
            bpffs: BpfFs::new(),
        }
    }

    /// Link peer and server (eth0 on both, up, with PEER_IP and REAL_IP),
    /// as a network configuration does at boot; again after the link was
    /// deleted.
    pub fn link(&self) {
        veth(&self.peer, &self.server, "eth0");
        self.peer
            .ip(&["addr", "add", &format!("{PEER_IP}/24"), "dev", "eth0"]);
        self.server
            .ip(&["addr", "add", &format!("{REAL_IP}/24"), "dev", "eth0"]);
    }

    pub fn pin_dir(&self) -> String {
        self.bpffs.path().join("rsdr").display().to_string()
    }

    /// Remove the pin `rel` (relative to the pin directory), or every pin
    /// in it if it is a directory: what a damaged pin directory lacks.
    pub fn unpin(&self, rel: &str) {
        let path = std::path::Path::new(&self.pin_dir()).join(rel);
        let pins: Vec<std::path::PathBuf> = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("listing {}: {e}", path.display()))
                .map(|entry| entry.expect("a pin").path())
                .collect()
        } else {
            vec![path]
        };
        for pin in pins {
            std::fs::remove_file(&pin)
                .unwrap_or_else(|e| panic!("removing {}: {e}", pin.display()));
        }
    }

    /// Run `rsdr --pin-dir <lab pins> args...` inside the server namespace.
    pub fn rsdr(&self, args: &[&str]) -> RsdrRun {
        self.rsdr_as(None, args)
    }

    /// Same, behind a wrapper command (e.g. `setpriv` to drop privileges).
    pub fn rsdr_as(&self, wrapper: Option<&[&str]>, args: &[&str]) -> RsdrRun {
        let mut outer = self.server.cmd(wrapper.map_or("env", |w| w[0]));
        if let Some(w) = wrapper {
            outer.args(&w[1..]);
        }
        let mut cmd = rsdr_cmd(Some(outer));
        cmd.arg("--pin-dir").arg(self.pin_dir()).args(args);
        RsdrRun::from_output(
            cmd.output()
                .unwrap_or_else(|e| panic!("cannot run rsdr: {e}")),
        )
    }

    /// Also give peer and server IPv6 addresses (PEER6/64, REAL6/64), and
    /// the server VIP6/128 unless `vip6` is false. No DAD: usable at once.
    pub fn with_ipv6(self, vip6: bool) -> Self {
        self.peer.add_ip6_nodad(&format!("{PEER6}/64"), "eth0");
        self.server.add_ip6_nodad(&format!("{REAL6}/64"), "eth0");
        if vip6 {
            self.server.add_ip6_nodad(&format!("{VIP6}/128"), "eth0");
        }
        self
    }

    /// The same, but the server does not hold the VIP (a test adds it).
    pub fn without_vip() -> Self {
        let lab = Self::new();
        lab.server
            .ip(&["addr", "del", &format!("{VIP}/32"), "dev", "eth0"]);
        lab
    }

    /// Like [`Lab::rsdr`], with extra environment variables.
    pub fn rsdr_env(&self, env: &[(&str, &str)], args: &[&str]) -> RsdrRun {
        let mut cmd = rsdr_cmd(Some(self.server.cmd("env")));
        cmd.envs(env.iter().copied())
            .arg("--pin-dir")
            .arg(self.pin_dir())
            .args(args);
        RsdrRun::from_output(
            cmd.output()
                .unwrap_or_else(|e| panic!("cannot run rsdr: {e}")),
        )
    }

    /// The server's addresses on `dev` (as `ip -j addr` "local" strings).
    pub fn server_addrs(&self, dev: &str) -> Vec<String> {
        let out = self.server.ip(&["-j", "addr", "show", "dev", dev]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j addr JSON");
        v[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["local"].as_str().map(str::to_string))
            .collect()
    }

    /// `rsdr vip add VIP --real REAL_IP [extra...]`, which must succeed.
    pub fn add_vip(&self, extra: &[&str]) {
        let (vip, real) = (VIP.to_string(), REAL_IP.to_string());
        let mut args = vec!["vip", "add", &vip, "--real", &real];
        args.extend_from_slice(extra);
        self.rsdr(&args).ok();
    }

    /// The seed's arptables_jf rules on the server, instead of rsdr:
    /// `-A INPUT -d VIP -j DROP`, `-A OUTPUT -s VIP -j mangle --mangle-ip-s REAL_IP`.
    pub fn add_seed_arptables_rules(&self) {
        let (vip, real) = (VIP.to_string(), REAL_IP.to_string());
        run_ok(
            self.server
                .cmd("arptables")
                .args(["-A", "INPUT", "-d", &vip, "-j", "DROP"]),
        );
        run_ok(self.server.cmd("arptables").args([
            "-A",
            "OUTPUT",
            "-s",
            &vip,
            "-j",
            "mangle",
            "--mangle-ip-s",
            &real,
        ]));
    }

    /// `rsdr attach eth0` + `rsdr vip add VIP --real REAL_IP`.
    pub fn protect(&self) {
        self.rsdr(&["attach", "eth0"]).ok();
        self.add_vip(&[]);
    }

    /// What rsdr runs, as its own commands report it (VIPs, attachments,
    /// counters), to compare before and after a command that must change
    /// nothing.
    pub fn state(&self) -> (String, String, String) {
        let vips = self.rsdr(&["vip", "list", "--json"]).ok().to_string();
        let status = self.rsdr(&["status", "--json"]).ok().to_string();
        let stats = self.rsdr(&["stats", "--json"]).ok().to_string();
        (vips, status, stats)
    }

    /// Number of ARP replies the peer gets for `target` with `count` probes.
    pub fn arping_from_peer(&self, target: Ipv4Addr, count: u32) -> u32 {
        arping(&self.peer, "eth0", target, count)
    }

    /// Make the server's kernel send ARP requests with the VIP as source IP:
    /// a ping from the VIP to an address nobody holds.
    pub fn server_arps_from_vip(&self) {
        self.server_arps_from(VIP);
    }

    /// Same with `source` (VIP or real IP) as the ARP request's sender.
    pub fn server_arps_from(&self, source: std::net::Ipv4Addr) {
        self.server_arps_via("eth0", source, NOBODY);
    }

    /// The server pings `target` (which nobody holds) from `source` over
    /// `dev`, its neighbour cache flushed first: its kernel sends ARP
    /// requests for `target` with `source` as sender.
    pub fn server_arps_via(&self, dev: &str, source: Ipv4Addr, target: Ipv4Addr) {
        self.server.ip(&["neigh", "flush", "dev", dev]);
        let _ = self
            .server
            .cmd("ping")
            .args([
                "-c",
                "1",
                "-W",
                "2",
                "-I",
                &source.to_string(),
                &target.to_string(),
            ])
            .output();
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

/// Replies received by `arping -c count` from `ns` for `target`.
pub fn arping(ns: &Netns, iface: &str, target: Ipv4Addr, count: u32) -> u32 {
    arping_replies(&arping_output(ns, iface, target, count))
}

/// What `arping -c count -I iface target` in `ns` printed.
pub fn arping_output(
    ns: &Netns,
    iface: &str,
    target: Ipv4Addr,
    count: u32,
) -> std::process::Output {
    ns.cmd("arping")
        .args([
            "-c",
            &count.to_string(),
            "-w",
            &(count + 1).to_string(),
            "-I",
            iface,
            &target.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run arping: {e}"))
}

/// Replies an arping run reported ("Received N response(s)"); panics with
/// its output if it reported none.
pub fn arping_replies(out: &std::process::Output) -> u32 {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("Received ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "unexpected arping output:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
