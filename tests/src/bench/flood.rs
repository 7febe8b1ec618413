//! Section 2: an ARP flood against the real server, generated in the peer's
//! namespace with BPF_PROG_TEST_RUN in live-frame mode (an XDP program that
//! returns XDP_TX), so the frames reach the server's veth as xdp_frames, the
//! way a NIC delivers them. Each filter gets a fresh lab.

use std::{
    fs::File,
    net::Ipv4Addr,
    os::fd::AsRawFd as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use aya::programs::{TestRun as _, TestRunAttrs, TestRunOptions};
use rsdr_common::maps::programs::{BENCH_XDP_DROP, BENCH_XDP_TX};
use rsdr_user::loader::{self, LoadOptions};

use super::{Record, cpu_busy_ns, ns_program::NsProgram};
use crate::{
    cli::{RsdrRun, rsdr_cmd},
    frames::{Arp, Frame},
    netns::{BpfFs, Netns, run_ok, veth},
};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const REAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// The filters compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// An empty XDP_DROP program: generator and veth cost alone.
    Sink,
    RsdrXdp,
    RsdrTc,
    Arptables,
    Nft,
    None,
    ArpIgnore,
}

impl Filter {
    pub const ALL: [Filter; 7] = [
        Filter::Sink,
        Filter::RsdrXdp,
        Filter::RsdrTc,
        Filter::Arptables,
        Filter::Nft,
        Filter::None,
        Filter::ArpIgnore,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Filter::Sink => "sink_xdp_drop",
            Filter::RsdrXdp => "rsdr_xdp",
            Filter::RsdrTc => "rsdr_tc_ingress",
            Filter::Arptables => "arptables_drop",
            Filter::Nft => "nft_arp_drop",
            Filter::None => "no_filter",
            Filter::ArpIgnore => "vip_on_lo_arp_ignore",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Filter::Sink => "empty XDP_DROP program (sink)",
            Filter::RsdrXdp => "rsdr (XDP, native)",
            Filter::RsdrTc => "rsdr (TC ingress)",
            Filter::Arptables => "arptables -j DROP",
            Filter::Nft => "nft arp drop",
            Filter::None => "no filter (kernel answers)",
            Filter::ArpIgnore => "VIP on lo, arp_ignore=1",
        }
    }
}

struct FloodLab {
    /// The sink program, attached for the lab's life (declared first:
    /// fields drop in order, so it is detached before the namespaces go).
    sink: Option<NsProgram>,
    peer: Netns,
    server: Netns,
    bpffs: BpfFs,
    filter: Filter,
}

impl FloodLab {
    fn new(filter: Filter) -> Self {
        let peer = Netns::new("fpeer");
        let server = Netns::new("fsrv");
        veth(&peer, &server, "eth0");
        peer.ip(&["addr", "add", &format!("{PEER}/16"), "dev", "eth0"]);
        server.ip(&["addr", "add", &format!("{REAL}/16"), "dev", "eth0"]);
        let vip_dev = if filter == Filter::ArpIgnore {
            "lo"
        } else {
            "eth0"
        };
        server.ip(&["addr", "add", &format!("{VIP}/32"), "dev", vip_dev]);
        let mut lab = Self {
            sink: None,
            peer,
            server,
            bpffs: BpfFs::new(),
            filter,
        };
        match filter {
            Filter::Sink => lab.attach_sink(),
            Filter::RsdrXdp | Filter::RsdrTc => {
                let hook: &[&str] = if filter == Filter::RsdrXdp {
                    &["--xdp-mode", "native"]
                } else {
                    &["--ingress", "tc"]
                };
                lab.rsdr(&[&["attach", "eth0"][..], hook].concat()).ok();
                lab.rsdr(&["vip", "add", &VIP.to_string(), "--real", &REAL.to_string()])
                    .ok();
            }
            Filter::Arptables => {
                run_ok(lab.server.cmd("arptables").args([
                    "-A",
                    "INPUT",
                    "-d",
                    &VIP.to_string(),
                    "-j",
                    "DROP",
                ]));
            }
            Filter::Nft => {
                let rules = format!(
                    "table arp rsdr_bench {{\n  chain in {{\n    type filter hook input priority 0;\n    arp operation request arp daddr ip {VIP} counter drop\n  }}\n}}\n"
                );
                let file = std::env::temp_dir()
                    .join(format!("rsdr-bench-{}.nft", crate::netns::unique_id()));
                std::fs::write(&file, rules).expect("write nft rules");
                run_ok(lab.server.cmd("nft").arg("-f").arg(&file));
                let _ = std::fs::remove_file(&file);
            }
            Filter::None => {}
            Filter::ArpIgnore => {
                lab.server.sysctl("net.ipv4.conf.all.arp_ignore", "1");
                lab.server.sysctl("net.ipv4.conf.eth0.arp_ignore", "1");
            }
        }
        if filter != Filter::RsdrXdp && filter != Filter::Sink {
            // Without an XDP program the receiving veth needs NAPI (GRO on)
            // to take xdp_frames from its peer; they then become skbs.
            run_ok(lab.server.cmd("ethtool").args(["-K", "eth0", "gro", "on"]));
        }
        lab
    }

    /// Attach the empty XDP_DROP program to the server's eth0; it stays
    /// until the lab is dropped.
    fn attach_sink(&mut self) {
        self.sink = Some(NsProgram::attach(self.server.path(), |ebpf| {
            loader::xdp_program(ebpf, BENCH_XDP_DROP)
                .expect("sink program")
                .attach("eth0", aya::programs::XdpMode::Driver)
                .expect("attach sink");
        }));
    }

    fn rsdr(&self, args: &[&str]) -> RsdrRun {
        let mut cmd = rsdr_cmd(Some(self.server.cmd("env")));
        cmd.arg("--pin-dir")
            .arg(self.bpffs.path().join("rsdr"))
            .args(args);
        RsdrRun::from_output(cmd.output().expect("run rsdr"))
    }

    /// Requests the server's filter (or kernel) has taken so far.
    fn disposed(&self) -> u64 {
        match self.filter {
            Filter::Sink => self.xdp_drops(),
            Filter::RsdrXdp | Filter::RsdrTc => {
                let v: serde_json::Value =
                    serde_json::from_str(self.rsdr(&["stats", "--json"]).ok()).expect("stats JSON");
                v["global"]["decisions"]["in_arp_request_for_vip_dropped"]
                    .as_u64()
                    .unwrap_or(0)
            }
            Filter::Arptables => {
                let out = self
                    .server
                    .cmd("arptables")
                    .args(["-L", "INPUT", "-v", "-n", "-x"])
                    .output()
                    .expect("arptables");
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                // "pcnt=300K": arptables rounds to K/M/G; -x is not honoured.
                let field = text
                    .split("pcnt=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("0");
                let (num, mult) = match field.chars().last() {
                    Some('K') => (&field[..field.len() - 1], 1_000),
                    Some('M') => (&field[..field.len() - 1], 1_000_000),
                    Some('G') => (&field[..field.len() - 1], 1_000_000_000),
                    _ => (field, 1),
                };
                num.parse::<u64>().unwrap_or(0) * mult
            }
            Filter::Nft => self.server.nft_counter("arp", "rsdr_bench"),
            Filter::None | Filter::ArpIgnore => self.rx_packets(),
        }
    }

    /// XDP drops the server's veth counted (ethtool -S).
    fn xdp_drops(&self) -> u64 {
        let out = self
            .server
            .cmd("ethtool")
            .args(["-S", "eth0"])
            .output()
            .expect("ethtool -S");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("xdp_drops") && l.contains("rx_queue"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum()
    }

    fn rx_packets(&self) -> u64 {
        let out = self.server.ip(&["-j", "-s", "link", "show", "eth0"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v[0]["stats64"]["rx"]["packets"].as_u64().unwrap_or(0)
    }

    fn neighbours(&self) -> usize {
        let out = self
            .server
            .ip(&["-4", "-j", "neigh", "show", "dev", "eth0"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array().map(|a| a.len()).unwrap_or(0)
    }
}

fn request(sender: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
    Frame::arp(mac, &Arp::request(mac, sender, VIP))
        .padded()
        .bytes()
}

/// Send `frames` (each `repeat` times) out of `iface` in `ns` as live
/// frames, from a thread inside the namespace. Returns the wall time.
fn generate(ns: &Netns, iface: &str, frames: Vec<Vec<u8>>, repeat: u32) -> Duration {
    let path: PathBuf = ns.path();
    let iface = iface.to_string();
    std::thread::spawn(move || {
        let f = File::open(&path).expect("netns");
        // SAFETY: valid fd; moves only this thread.
        assert_eq!(
            unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
        let ifindex = rsdr_user::iface::index(&iface).expect("generator interface");
        let mut ebpf = loader::load(None, LoadOptions::default()).expect("load object");
        let prog = loader::xdp_program(&mut ebpf, BENCH_XDP_TX).expect("generator program");
        let start = Instant::now();
        for frame in &frames {
            // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
            let ctx: Vec<u8> = [0u32, frame.len() as u32, 0, ifindex, 0, 0]
                .iter()
                .flat_map(|v| v.to_ne_bytes())
                .collect();
            let opts = TestRunOptions {
                data_in: Some(frame),
                ctx_in: Some(&ctx),
                repeat,
                attrs: TestRunAttrs::new().xdp_live_frames(64),
                ..TestRunOptions::default()
            };
            prog.test_run(opts)
                .unwrap_or_else(|e| panic!("live-frame generator: {}", rsdr_user::error_chain(&e)));
        }
        start.elapsed()
    })
    .join()
    .expect("generator thread")
}

/// Flood each filter with `frames` requests for the VIP, `reps` times.
pub fn run(frames: u32, reps: usize) -> Vec<Record> {
    let mut out = Vec::new();
    let mut rates = Vec::new();
    let only = std::env::var("RSDR_BENCH_FILTER").ok();
    for filter in Filter::ALL
        .into_iter()
        .filter(|f| only.as_deref().is_none_or(|o| o == f.key()))
    {
        let t0 = Instant::now();
        let lab = FloodLab::new(filter);
        eprintln!(
            "bench:   {}: lab ready in {:?}",
            filter.label(),
            t0.elapsed()
        );
        let (mut mpps, mut cpu) = (Vec::new(), Vec::new());
        let frame = request(PEER, [0x02, 0, 0, 0, 0xf0, 0x01]);
        for _ in 0..reps {
            let (before, busy) = (lab.disposed(), cpu_busy_ns());
            let wall = generate(&lab.peer, "eth0", vec![frame.clone()], frames);
            let (taken, busy) = (lab.disposed() - before, cpu_busy_ns() - busy);
            eprintln!(
                "bench:   {}: {taken} of {frames} requests disposed of in {wall:?}",
                filter.label()
            );
            mpps.push(taken as f64 / wall.as_secs_f64() / 1e6);
            cpu.push(if taken > 0 {
                busy / taken as f64
            } else {
                f64::NAN
            });
        }
        // Neighbour entries after requests from 256 different senders (each
        // live-frame test run has a fixed setup cost of some milliseconds).
        let spray: Vec<Vec<u8>> = (0..256u32)
            .map(|i| {
                request(
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 16, 0)) + i),
                    [0x02, 0, 0, 0xf1, (i >> 8) as u8, i as u8],
                )
            })
            .collect();
        let t1 = Instant::now();
        generate(&lab.peer, "eth0", spray, 1);
        std::thread::sleep(Duration::from_millis(200));
        let neigh = lab.neighbours();
        eprintln!(
            "bench:   {}: {neigh} neighbour entries after the spray ({:?})",
            filter.label(),
            t1.elapsed()
        );
        let path = format!(
            "{frames} ARP requests for the VIP per repetition, live XDP frames (XDP_TX from the peer's veth) into the server's veth; rate = requests the server's filter disposed of / wall time of the generator"
        );
        let rate = Record::new(
            "flood",
            format!("flood/{}/mpps", filter.key()),
            "Mpps",
            path.clone(),
            mpps,
        )
        .detail("label", filter.label())
        .detail("neighbour_entries_after_256_senders", neigh as u64);
        let cpu = Record::new(
            "flood",
            format!("flood/{}/cpu_ns_per_packet", filter.key()),
            "ns CPU/packet",
            "busy CPU time of the whole machine (/proc/stat) over the flood / requests disposed of",
            cpu,
        )
        .detail("label", filter.label());
        let neigh = Record::new("flood", format!("flood/{}/neighbour_entries", filter.key()), "entries", "server's IPv4 neighbour entries on eth0 after requests for the VIP from 256 different senders", vec![neigh as f64])
            .detail("label", filter.label());
        rates.push(rate.clone());
        out.extend([rate, cpu, neigh]);
        drop(lab);
    }
    // Generation and disposal run back to back on one CPU, so the time per
    // request (1 / rate) is the generator's and the veth's share plus the
    // filter's; the empty XDP_DROP sink measures the former, and what each
    // filter adds on top is its own cost on the real server.
    let per_request = |key: &str| -> Option<Vec<f64>> {
        rates
            .iter()
            .find(|r| r.name == format!("flood/{key}/mpps"))
            .map(|r| r.samples.iter().map(|m| 1000.0 / m).collect())
    };
    let sink = per_request(Filter::Sink.key()).map(|v| super::median(&v));
    let mut server = Vec::new();
    for f in Filter::ALL.iter().filter(|f| **f != Filter::Sink) {
        if let (Some(v), Some(s)) = (per_request(f.key()), sink) {
            server.push((
                *f,
                Record::new(
                    "flood",
                    format!("flood/{}/server_ns_per_request", f.key()),
                    "ns/request",
                    "time per request (1 / rate) minus the empty XDP_DROP sink's, same run: the real server's own cost",
                    v.iter().map(|x| (x - s).max(0.0)).collect(),
                )
                .detail("label", f.label()),
            ));
        }
    }
    let rate = |key: &str| {
        rates
            .iter()
            .find(|r| r.name == format!("flood/{key}/mpps"))
            .cloned()
    };
    let own = server
        .iter()
        .find(|(f, _)| *f == Filter::RsdrXdp)
        .map(|(_, r)| r.clone());
    if let (Some(rsdr_rate), Some(rsdr_own)) = (rate(Filter::RsdrXdp.key()), own) {
        for (f, rec) in server
            .iter()
            .filter(|(f, _)| !matches!(f, Filter::RsdrXdp | Filter::RsdrTc))
        {
            let Some(other_rate) = rate(f.key()) else {
                continue;
            };
            out.push(
                Record::new(
                    "flood",
                    format!("flood/rsdr_xdp_vs_{}", f.key()),
                    "x",
                    "the real server's own time per request under this filter / under rsdr (sink subtracted), same run",
                    vec![rec.value / rsdr_own.value.max(1.0)],
                )
                .detail("label", format!("rsdr vs {}", f.label()))
                .detail("rate_ratio", rsdr_rate.value / other_rate.value)
                .detail("target", 5.0),
            );
        }
    }
    out.extend(server.into_iter().map(|(_, r)| r));
    out
}
