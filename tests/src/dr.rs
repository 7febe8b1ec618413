//! An LVS direct-routing topology in namespaces: one L2 segment (a bridge
//! in its own namespace) joining a client, a director and two real servers.
//!
//! ```text
//!                      switch (br0)
//!        +-----------+------+------+-----------+
//!     client      director       rs1          rs2
//!   10.0.0.10     10.0.0.1     10.0.0.11    10.0.0.12
//!                 + VIP/32     + VIP on eth0 + VIP on lo
//! ```
//!
//! The director is a real IPVS director (`ipvsadm -A -t VIP:80 -s rr`,
//! real servers added with `-g`, gatewaying: direct routing) where the
//! kernel has IPVS (the VM tests on Debian's kernel). Where it does not
//! (this host's kernel), it is emulated with nftables in the netdev family:
//! TCP to VIP:80 arriving on its eth0 gets the MAC of a real server as
//! destination (chosen by a hash of the client's address and port, so a
//! connection sticks to one server), the director's own MAC as source, and
//! goes back out of eth0. Either way the IP header is untouched, as LVS-DR
//! does, and the real servers answer the client directly. Both run a small
//! HTTP server bound to the VIP.

use std::{
    net::{IpAddr, Ipv4Addr},
    process::Command,
};

use crate::{
    cli::{RsdrRun, rsdr_cmd},
    http::HttpServer,
    netns::{BpfFs, Netns, run_ok},
};

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
pub const DIRECTOR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const RS_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)];

pub type Mac = [u8; 6];

pub fn mac_str(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// How the director forwards to the real servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Director {
    /// A real IPVS director, direct routing (`ipvsadm ... -g`).
    Ipvs,
    /// nftables netdev `fwd`, where the kernel has no IPVS.
    Nftables,
}

impl Director {
    /// IPVS where the kernel has it (loading its module if needed).
    pub fn available() -> Self {
        let loaded = Command::new("modprobe")
            .args(["-q", "ip_vs"])
            .status()
            .is_ok_and(|s| s.success());
        if loaded && std::path::Path::new("/proc/net/ip_vs").exists() {
            Director::Ipvs
        } else {
            Director::Nftables
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Director::Ipvs => "IPVS (ipvsadm, round robin, direct routing: -g)",
            Director::Nftables => {
                "nftables netdev fwd (this kernel has no IPVS), hashing client address and port"
            }
        }
    }
}

pub struct DrLab {
    pub director_kind: Director,
    pub switch: Netns,
    pub client: Netns,
    pub director: Netns,
    pub rs: [Netns; 2],
    pub bpffs: BpfFs,
    pub client_mac: Mac,
    pub director_mac: Mac,
    pub rs_macs: [Mac; 2],
    _http: Vec<HttpServer>,
}

pub(crate) fn plug(switch: &Netns, host: &Netns, port: &str) {
    run_ok(Command::new("ip").args([
        "link",
        "add",
        "name",
        "eth0",
        "netns",
        host.name(),
        "type",
        "veth",
        "peer",
        "name",
        port,
        "netns",
        switch.name(),
    ]));
    switch.ip(&["link", "set", port, "master", "br0", "up"]);
    host.ip(&["link", "set", "eth0", "up"]);
    host.wait_ready("eth0");
}

/// A namespace holding bridge `br0`, up, forwarding at once (no STP).
pub(crate) fn switch() -> Netns {
    let switch = Netns::new("sw");
    switch.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "forward_delay",
        "0",
        "stp_state",
        "0",
    ]);
    switch.ip(&["link", "set", "br0", "up"]);
    switch
}

impl DrLab {
    pub fn new() -> Self {
        let switch = switch();
        let client = Netns::new("client");
        let director = Netns::new("dir");
        let rs = [Netns::new("rs1"), Netns::new("rs2")];
        plug(&switch, &client, "p-client");
        plug(&switch, &director, "p-dir");
        plug(&switch, &rs[0], "p-rs1");
        plug(&switch, &rs[1], "p-rs2");
        client.ip(&["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "eth0"]);
        director.ip(&["addr", "add", &format!("{DIRECTOR_IP}/24"), "dev", "eth0"]);
        director.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        for (ns, ip) in rs.iter().zip(RS_IPS) {
            ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        }
        // The seed's two placements: the VIP on the NIC, and on lo.
        rs[0].ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        rs[1].ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
        let client_mac = client.mac("eth0");
        let director_mac = director.mac("eth0");
        let rs_macs = [rs[0].mac("eth0"), rs[1].mac("eth0")];
        let director_kind = Director::available();
        match director_kind {
            Director::Ipvs => ipvs_director(&director),
            Director::Nftables => nft_director(&director, &director_mac, &rs_macs),
        }
        let http = vec![
            HttpServer::start(&rs[0], IpAddr::V4(VIP), 80, "served by rs1\n"),
            HttpServer::start(&rs[1], IpAddr::V4(VIP), 80, "served by rs2\n"),
        ];
        Self {
            director_kind,
            switch,
            client,
            director,
            rs,
            bpffs: BpfFs::new(),
            client_mac,
            director_mac,
            rs_macs,
            _http: http,
        }
    }

    /// Name of the host owning `mac`, for stories and messages.
    pub fn who(&self, mac: &Mac) -> String {
        if *mac == self.director_mac {
            "director".into()
        } else if *mac == self.client_mac {
            "client".into()
        } else if let Some(i) = self.rs_macs.iter().position(|m| m == mac) {
            format!("rs{}", i + 1)
        } else {
            mac_str(mac)
        }
    }

    pub fn pin_dir(&self, i: usize) -> String {
        self.bpffs
            .path()
            .join(format!("rs{}", i + 1))
            .display()
            .to_string()
    }

    /// Run `rsdr` on real server `i` with its own pin directory.
    pub fn rsdr(&self, i: usize, args: &[&str]) -> RsdrRun {
        let mut cmd = rsdr_cmd(Some(self.rs[i].cmd("env")));
        cmd.arg("--pin-dir").arg(self.pin_dir(i)).args(args);
        RsdrRun::from_output(cmd.output().expect("run rsdr"))
    }

    /// `rsdr attach eth0` + `rsdr vip add VIP --real <its real IP>` on real server `i`.
    pub fn protect(&self, i: usize) -> String {
        let mut out = self.rsdr(i, &["attach", "eth0"]).ok().to_string();
        out += self
            .rsdr(
                i,
                &[
                    "vip",
                    "add",
                    &VIP.to_string(),
                    "--real",
                    &RS_IPS[i].to_string(),
                ],
            )
            .ok();
        out
    }

    /// The MAC `ns` has cached for `ip` on eth0, if any.
    pub fn neigh(ns: &Netns, ip: Ipv4Addr) -> Option<Mac> {
        let out = ns.ip(&["-j", "neigh", "show", &ip.to_string(), "dev", "eth0"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let s = v.get(0)?.get("lladdr")?.as_str()?;
        let mut mac = [0u8; 6];
        for (m, p) in mac.iter_mut().zip(s.split(':')) {
            *m = u8::from_str_radix(p, 16).ok()?;
        }
        Some(mac)
    }

    /// All (IP, MAC) neighbour entries of `ns` on eth0.
    pub fn neighbours(ns: &Netns) -> Vec<(Ipv4Addr, Mac)> {
        let out = ns.ip(&["-4", "-j", "neigh", "show", "dev", "eth0"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let ip: Ipv4Addr = e["dst"].as_str()?.parse().ok()?;
                let s = e["lladdr"].as_str()?;
                let mut mac = [0u8; 6];
                for (m, p) in mac.iter_mut().zip(s.split(':')) {
                    *m = u8::from_str_radix(p, 16).ok()?;
                }
                Some((ip, mac))
            })
            .collect()
    }

    /// The client's cached MAC for the VIP.
    pub fn client_vip_mac(&self) -> Option<Mac> {
        Self::neigh(&self.client, VIP)
    }

    /// Packets for VIP:80 the director has received (and so forwarded to a
    /// real server) so far, by an nftables counter on its NIC: IPVS's own
    /// statistics are summed only every two seconds.
    pub fn director_forwarded(&self) -> u64 {
        self.director.nft_counter("netdev", "lvs_dr")
    }

    /// The director pings each real server's real IP once, so its
    /// neighbour cache holds them (what an LVS health check would do).
    pub fn director_resolves_real_servers(&self) {
        for ip in RS_IPS {
            let _ = self
                .director
                .cmd("ping")
                .args(["-c", "1", "-W", "1", &ip.to_string()])
                .output();
        }
    }

    /// Real server `i` sends ARP of its own with the VIP as source IP: it
    /// pings the client from the VIP (its neighbour cache flushed first).
    pub fn rs_arps_from_vip(&self, i: usize) {
        self.rs[i].ip(&["neigh", "flush", "dev", "eth0"]);
        let _ = self.rs[i]
            .cmd("ping")
            .args([
                "-c",
                "1",
                "-W",
                "1",
                "-I",
                &VIP.to_string(),
                &CLIENT_IP.to_string(),
            ])
            .output();
    }

    /// Real server `i` announces the VIP with `arping -U`.
    pub fn rs_announces_vip(&self, i: usize) {
        let _ = self.rs[i]
            .cmd("arping")
            .args([
                "-U",
                "-c",
                "1",
                "-w",
                "1",
                "-I",
                "eth0",
                "-s",
                &VIP.to_string(),
                &VIP.to_string(),
            ])
            .output();
    }
}

/// IPVS on the director: TCP VIP:80, round robin, both real servers by
/// direct routing (`-g`); and an nftables rule that only counts.
fn ipvs_director(director: &Netns) {
    nft_rules(director, "counter");
    let service = format!("{VIP}:80");
    run_ok(
        director
            .cmd("ipvsadm")
            .args(["-A", "-t", &service, "-s", "rr"]),
    );
    for ip in RS_IPS {
        let real = format!("{ip}:80");
        run_ok(
            director
                .cmd("ipvsadm")
                .args(["-a", "-t", &service, "-r", &real, "-g"]),
        );
    }
}

/// nftables on the director, where the kernel has no IPVS: a netdev rule
/// that sends TCP for VIP:80 back out to a real server's MAC.
fn nft_director(director: &Netns, director_mac: &Mac, rs_macs: &[Mac; 2]) {
    let action = format!(
        "counter ether saddr set {dmac} ether daddr set jhash ip saddr . tcp sport mod 2 map {{ 0 : {m0}, 1 : {m1} }} fwd to \"eth0\"",
        dmac = mac_str(director_mac),
        m0 = mac_str(&rs_macs[0]),
        m1 = mac_str(&rs_macs[1]),
    );
    nft_rules(director, &action);
}

/// Table `netdev lvs_dr` on the director: `action` for TCP to VIP:80
/// arriving on its eth0 (its first counter counts them).
fn nft_rules(director: &Netns, action: &str) {
    let rules = format!(
        "table netdev lvs_dr {{\n  chain ingress {{\n    type filter hook ingress device \"eth0\" priority 0; policy accept;\n    ip daddr {VIP} tcp dport 80 {action}\n  }}\n}}\n"
    );
    let rules_file =
        std::env::temp_dir().join(format!("rsdr-dr-{}.nft", crate::netns::unique_id()));
    std::fs::write(&rules_file, rules).expect("write nft rules");
    run_ok(director.cmd("nft").arg("-f").arg(&rules_file));
    let _ = std::fs::remove_file(&rules_file);
}

impl Default for DrLab {
    fn default() -> Self {
        Self::new()
    }
}
