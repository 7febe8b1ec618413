//! A two-node LVS-DR cluster in namespaces (docs/two-node.md): each node is
//! director and real server at once, keepalived's VRRP decides which one
//! directs, and rsdr on each follows its keepalived through the notify
//! FIFO. A client shares the segment (a bridge in its own namespace).
//!
//! ```text
//!                      switch (br0)
//!        +------------------+------------------+
//!     client              node1              node2
//!   10.0.0.10           10.0.0.11          10.0.0.12
//!                  VIP 10.0.0.100: on eth0 while VRRP master
//!                  (keepalived), on lo otherwise (rsdr, manage_address)
//! ```
//!
//! Both nodes run the same director configuration, as keepalived clusters
//! do: a real IPVS service (`lb_kind DR` through `ipvsadm -g`) where the
//! kernel has IPVS, else an nftables netdev emulation. Only traffic from
//! anywhere but the peer node is directed (a firewall mark, the classic
//! two-node recipe), so what the master forwards to the backup is served
//! there, not sent back. Only the master receives the client's traffic,
//! because only it may answer ARP for the VIP: which is what rsdr ensures.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    cli::rsdr_cmd,
    conf::ConfFile,
    daemon::{Daemon, poll},
    dr::{Director, Mac, mac_str, plug},
    http::HttpServer,
    netns::{BpfFs, Netns, run_ok, unique_id},
};

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
pub const NODE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)];
/// keepalived priorities: node1 is the preferred master.
pub const PRIORITIES: [u8; 2] = [150, 100];
/// The firewall mark of directed traffic (the IPVS service is `-f 1`).
const MARK: u32 = 1;

/// keepalived (VRRP only) in a node's namespace; stopped with SIGTERM
/// (as `systemctl stop` does) and, failing that, killed.
pub struct Keepalived {
    child: Option<Child>,
    conf: PathBuf,
    log: PathBuf,
}

impl Keepalived {
    /// Start keepalived with `conf` in `ns`.
    pub fn start(ns: &Netns, conf: &std::path::Path) -> Self {
        let base = conf.with_extension("");
        let log = conf.with_extension("log");
        let out = std::fs::File::create(&log).expect("keepalived log");
        let child = ns
            .cmd("keepalived")
            .args([
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "--vrrp",
                "-f",
            ])
            .arg(conf)
            .arg("--pid")
            .arg(base.with_extension("pid"))
            .arg("--vrrp_pid")
            .arg(base.with_extension("vrrp.pid"))
            .arg("--checkers_pid")
            .arg(base.with_extension("checkers.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start keepalived: {e}"));
        Self {
            child: Some(child),
            conf: conf.to_path_buf(),
            log,
        }
    }

    /// What keepalived logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and wait for it to exit (it removes its VIPs, sends a
    /// priority-0 advertisement and notifies STOP first).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Its VRRP child, should it outlive the parent.
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(self.conf.as_os_str())
            .status();
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The cluster, without rsdr or keepalived running yet.
pub struct TwoNode {
    pub director_kind: Director,
    pub switch: Netns,
    pub client: Netns,
    pub nodes: [Netns; 2],
    pub bpffs: BpfFs,
    pub client_mac: Mac,
    pub node_macs: [Mac; 2],
    /// Per-test files (configurations, FIFOs, logs).
    pub dir: PathBuf,
    http: Vec<HttpServer>,
}

impl TwoNode {
    pub fn new() -> Self {
        let switch = crate::dr::switch();
        let client = Netns::new("client");
        let nodes = [Netns::new("node1"), Netns::new("node2")];
        plug(&switch, &client, "p-client");
        plug(&switch, &nodes[0], "p-node1");
        plug(&switch, &nodes[1], "p-node2");
        client.ip(&["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "eth0"]);
        for (ns, ip) in nodes.iter().zip(NODE_IPS) {
            ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        }
        let node_macs = [nodes[0].mac("eth0"), nodes[1].mac("eth0")];
        let director_kind = Director::available();
        for i in 0..2 {
            match director_kind {
                Director::Ipvs => ipvs(&nodes[i], &node_macs[1 - i]),
                Director::Nftables => nft(&nodes[i], &node_macs[i], &node_macs[1 - i]),
            }
        }
        let dir = std::env::temp_dir().join(format!("rsdr-two-node-{}", unique_id()));
        std::fs::create_dir_all(&dir).expect("test directory");
        Self {
            director_kind,
            client_mac: client.mac("eth0"),
            switch,
            client,
            nodes,
            bpffs: BpfFs::new(),
            node_macs,
            dir,
            http: Vec::new(),
        }
    }

    pub fn pin_dir(&self, i: usize) -> String {
        self.bpffs
            .path()
            .join(format!("node{}", i + 1))
            .display()
            .to_string()
    }

    pub fn fifo(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node{}.fifo", i + 1))
    }

    /// Name of the host owning `mac`.
    pub fn who(&self, mac: &Mac) -> String {
        match self.node_macs.iter().position(|m| m == mac) {
            Some(i) => format!("node{}", i + 1),
            None if *mac == self.client_mac => "client".into(),
            None => mac_str(mac),
        }
    }

    /// rsdr's configuration for node `i`: eth0 filtered, the VIP held on lo
    /// by rsdr and following VI_1, keepalived's FIFO read.
    pub fn rsdr_conf(&self, i: usize) -> ConfFile {
        ConfFile::new(&format!(
            "[settings]\nvrrp_notify_fifo = {fifo:?}\n\n[[interface]]\nname = \"eth0\"\n\n\
             [[vip]]\naddress = \"{VIP}\"\nreal = \"{real}\"\nmanage_address = \"lo\"\nvrrp_instance = \"VI_1\"\n",
            fifo = self.fifo(i).display().to_string(),
            real = NODE_IPS[i],
        ))
    }

    /// `rsdr run` on node `i`; returns once the VIP is on its lo.
    pub fn start_rsdr(&self, i: usize, conf: &ConfFile) -> Daemon {
        let d = Daemon::start_in(&self.nodes[i], &self.pin_dir(i), conf, &[]);
        d.eventually("the VIP on lo, filtered", || self.has_vip(i, "lo"));
        d
    }

    /// Whether node `i` holds the VIP on `dev`.
    pub fn has_vip(&self, i: usize, dev: &str) -> bool {
        let out = self.nodes[i].ip(&["-4", "-o", "addr", "show", "dev", dev]);
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {VIP}/"))
    }

    /// The VRRP state rsdr on node `i` was last told ("unknown" if none).
    pub fn rsdr_state(&self, i: usize) -> String {
        let mut cmd = rsdr_cmd(Some(self.nodes[i].cmd("env")));
        cmd.args(["--pin-dir", &self.pin_dir(i), "status", "--json"]);
        let out = cmd.output().expect("rsdr status");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["vrrp"][0]["state"]
            .as_str()
            .unwrap_or("unknown")
            .to_string()
    }

    /// An HTTP server on the VIP of each node (the VIP must be held).
    pub fn serve(&mut self) {
        for (i, ns) in self.nodes.iter().enumerate() {
            self.http.push(HttpServer::start(
                ns,
                IpAddr::V4(VIP),
                80,
                &format!("served by node{}\n", i + 1),
            ));
        }
    }

    /// keepalived's configuration for node `i`: VRRP instance VI_1 holding
    /// the VIP on eth0, writing to `fifo` if given.
    pub fn keepalived_conf(&self, i: usize, fifo: Option<&std::path::Path>) -> PathBuf {
        let global = match fifo {
            Some(f) => format!("global_defs {{\n  notify_fifo {}\n}}\n", f.display()),
            None => String::new(),
        };
        let text = format!(
            "{global}vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/32 dev eth0\n  }}\n}}\n",
            prio = PRIORITIES[i],
        );
        let path = self
            .dir
            .join(format!("keepalived-node{}-{}.conf", i + 1, unique_id()));
        std::fs::write(&path, text).expect("keepalived.conf");
        path
    }

    /// Start keepalived on node `i`.
    pub fn keepalived(&self, i: usize, fifo: bool) -> Keepalived {
        let conf = self.keepalived_conf(i, fifo.then(|| self.fifo(i)).as_deref());
        Keepalived::start(&self.nodes[i], &conf)
    }

    /// Wait until keepalived made node `i` master: it holds the VIP on eth0.
    pub fn wait_master(&self, i: usize, k: &Keepalived) {
        if !poll(|| self.has_vip(i, "eth0")) {
            panic!(
                "node{} never became master; keepalived logged:\n{}",
                i + 1,
                k.log()
            );
        }
    }

    /// `arping -c count VIP` from the client: the MACs that answered.
    pub fn client_arping(&self, count: u32) -> Vec<Mac> {
        let out = crate::lab::arping_output(&self.client, "eth0", VIP, count);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mac = l.split('[').nth(1)?.split(']').next()?;
                let mut m = [0u8; 6];
                for (b, p) in m.iter_mut().zip(mac.split(':')) {
                    *b = u8::from_str_radix(p, 16).ok()?;
                }
                Some(m)
            })
            .collect()
    }
}

impl Default for TwoNode {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TwoNode {
    fn drop(&mut self) {
        self.http.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The mark on TCP for VIP:80 not coming from the peer node (so not
/// already directed by it): an nftables rule in the ip family's prerouting.
fn mark_rule(peer: &Mac) -> String {
    format!(
        "table ip two_node {{\n  chain pre {{\n    type filter hook prerouting priority mangle; policy accept;\n    \
         ip daddr {VIP} tcp dport 80 ether saddr != {peer} meta mark set {MARK}\n  }}\n}}\n",
        peer = mac_str(peer),
    )
}

fn nft_file(node: &Netns, rules: &str) {
    let file = std::env::temp_dir().join(format!("rsdr-two-node-{}.nft", unique_id()));
    std::fs::write(&file, rules).expect("write nft rules");
    run_ok(node.cmd("nft").arg("-f").arg(&file));
    let _ = std::fs::remove_file(&file);
}

/// A real IPVS director: fwmark service, round robin, both nodes as real
/// servers by direct routing (`-g`); the local one is served locally.
fn ipvs(node: &Netns, peer: &Mac) {
    nft_file(node, &mark_rule(peer));
    let mark = MARK.to_string();
    run_ok(node.cmd("ipvsadm").args(["-A", "-f", &mark, "-s", "rr"]));
    for ip in NODE_IPS {
        run_ok(
            node.cmd("ipvsadm")
                .args(["-a", "-f", &mark, "-r", &ip.to_string(), "-g"]),
        );
    }
}

/// The nftables emulation where the kernel has no IPVS: traffic not from
/// the peer is served here or, by a hash of the client's address and port,
/// sent to the peer's MAC.
fn nft(node: &Netns, own: &Mac, peer: &Mac) {
    nft_file(
        node,
        &format!(
            "table netdev two_node_dr {{\n  chain ingress {{\n    type filter hook ingress device \"eth0\" priority 0; policy accept;\n    \
             ip daddr {VIP} tcp dport 80 ether saddr != {p} jhash ip saddr . tcp sport mod 2 == 1 ether saddr set {o} ether daddr set {p} fwd to \"eth0\"\n  }}\n}}\n",
            p = mac_str(peer),
            o = mac_str(own),
        ),
    );
}
