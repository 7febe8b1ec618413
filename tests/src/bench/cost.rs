//! Section 1: what each program costs per packet, by BPF_PROG_TEST_RUN on
//! the loaded programs, beside an empty program of the same kind (the
//! floor) measured in the same run on the same frame.

use std::net::{IpAddr, Ipv4Addr};

use rsdr_user::addr::VipSpec;

use super::Record;
use crate::{
    datapath::Datapath,
    frames::{
        Arp, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, Frame, Nd, PEER_MAC, SERVER_MAC, ipv4_tcp, ipv6_tcp,
    },
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const POOL_MEMBER: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 9);
const REAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The rewrite case's VIP pair (see [`rewrite`]).
const SWAP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const SWAP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 21);

/// A table configuration to measure under.
#[derive(Clone, Copy, Debug)]
pub enum Tables {
    Vips(u32),
    Pool,
}

impl Tables {
    fn label(&self) -> String {
        match self {
            Tables::Vips(1) => "1 VIP".into(),
            Tables::Vips(n) if n % 1_000_000 == 0 => format!("{}M VIPs", n / 1_000_000),
            Tables::Vips(n) if n % 1000 == 0 => format!("{}k VIPs", n / 1000),
            Tables::Vips(n) => format!("{n} VIPs"),
            Tables::Pool => "1 VIP + /16 pool".into(),
        }
    }

    fn key(&self) -> String {
        self.label()
            .replace(' ', "_")
            .replace('/', "")
            .replace('+', "plus")
            .to_lowercase()
    }
}

fn datapath(tables: Tables) -> Datapath {
    let n = match tables {
        Tables::Vips(n) => n,
        Tables::Pool => 1,
    };
    let mut dp = Datapath::load_with(rsdr_user::loader::LoadOptions {
        // n IPv4 VIPs, one IPv6 VIP and the rewrite case's pair.
        max_vips: (n + 3).max(16),
        max_pools: 16,
    });
    let real = IpAddr::V4(REAL);
    let mut items = vec![(VipSpec::Addr(IpAddr::V4(VIP)), real, 0)];
    // Other VIPs: 100.64.0.0/10 and up, never the ones measured.
    items.extend((1..n).map(|i| {
        (
            VipSpec::Addr(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))),
            real,
            0,
        )
    }));
    items.push((
        VipSpec::Addr("2001:db8::10".parse().unwrap()),
        "2001:db8::2".parse().unwrap(),
        0,
    ));
    if let Tables::Pool = tables {
        items.push((VipSpec::Pool("198.18.0.0".parse().unwrap(), 16), real, 0));
    }
    dp.tables
        .add_many(&items)
        .unwrap_or_else(|e| panic!("configuring {}: {e}", tables.label()));
    dp
}

struct Case {
    key: &'static str,
    label: &'static str,
    tc: bool,
    frame: Vec<u8>,
    /// Not ARP/ND: the target is the floor plus 1 ns, not plus 8 ns.
    non_arp: bool,
}

fn cases(tables: Tables) -> Vec<Case> {
    let target = if let Tables::Pool = tables {
        POOL_MEMBER
    } else {
        VIP
    };
    let arp = |t: Ipv4Addr| Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, t));
    let c = |key, label, tc, frame: Frame, non_arp| Case {
        key,
        label,
        tc,
        frame: frame.bytes(),
        non_arp,
    };
    vec![
        c(
            "xdp_arp_vip_drop",
            "XDP: ARP request for a VIP (drop)",
            false,
            arp(target),
            false,
        ),
        c(
            "xdp_arp_other_pass",
            "XDP: ARP request for another address (pass)",
            false,
            arp(Ipv4Addr::new(10, 0, 0, 99)),
            false,
        ),
        c(
            "xdp_ipv4_tcp_pass",
            "XDP: IPv4 TCP (pass)",
            false,
            Frame::new(SERVER_MAC, PEER_MAC, ETH_P_IP, ipv4_tcp(PEER, VIP)),
            true,
        ),
        c(
            "xdp_ipv6_tcp_pass",
            "XDP: IPv6 TCP (pass)",
            false,
            Frame::new(
                SERVER_MAC,
                PEER_MAC,
                ETH_P_IPV6,
                ipv6_tcp(
                    "2001:db8::1".parse().unwrap(),
                    "2001:db8::10".parse().unwrap(),
                ),
            ),
            true,
        ),
        c(
            "xdp_vlan_arp_vip_drop",
            "XDP: 802.1Q-tagged ARP request for a VIP (drop)",
            false,
            arp(target).tagged(ETH_P_8021Q, 10),
            false,
        ),
        c(
            "xdp_ns_vip6_drop",
            "XDP: Neighbor Solicitation for a VIP6 (drop)",
            false,
            Nd::ns(
                "2001:db8::1".parse().unwrap(),
                "2001:db8::10".parse().unwrap(),
                PEER_MAC,
            )
            .frame(PEER_MAC, SERVER_MAC),
            false,
        ),
        c(
            "tc_ipv4_tcp_pass",
            "TC egress: IPv4 TCP (pass)",
            true,
            Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IP, ipv4_tcp(VIP, PEER)),
            true,
        ),
    ]
}

/// Measure every case under `tables`: `reps` rounds, each timing the case
/// and its floor back to back over `repeat` in-kernel repetitions.
pub fn run(tables: Tables, repeat: u32, reps: usize) -> Vec<Record> {
    let mut dp = datapath(tables);
    let mut out = Vec::new();
    dp.tables
        .add_swapped_pair(SWAP_A, SWAP_B)
        .unwrap_or_else(|e| panic!("the rewrite case's VIP pair: {e}"));
    for case in cases(tables) {
        let (prog, floor) = rounds(&mut dp, &case.frame, case.tc, repeat, reps);
        let kind = if case.tc { "TC" } else { "XDP" };
        out.push(records(
            tables,
            case.key,
            case.label,
            prog,
            floor,
            case.non_arp,
            &format!("{PATH}, repeat {repeat}; floor: an empty {kind} program on the same frame"),
        ));
    }
    out.push(rewrite(&mut dp, tables, repeat, reps));
    out.into_iter().flatten().collect()
}

/// How a cost is measured, for every record.
const PATH: &str = "BPF_PROG_TEST_RUN on the loaded program, ns per run: this thread's CPU time across the syscall divided by repeat (the kernel's own figure, truncated to whole ns, is in kernel_ns)";

/// `reps` rounds of the program and its floor back to back on `frame`:
/// per-run times, and the kernel's truncated figures beside them.
fn rounds(
    dp: &mut Datapath,
    frame: &[u8],
    tc: bool,
    repeat: u32,
    reps: usize,
) -> ((Vec<f64>, Vec<f64>), (Vec<f64>, Vec<f64>)) {
    let (mut prog, mut floor) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for _ in 0..reps {
        let p = dp.time(tc, frame, repeat);
        let f = dp.time_floor(tc, frame, repeat);
        prog.0.push(p.cpu_ns);
        prog.1.push(p.kernel_ns as f64);
        floor.0.push(f.cpu_ns);
        floor.1.push(f.kernel_ns as f64);
    }
    (prog, floor)
}

fn records(
    tables: Tables,
    key: &str,
    label: &str,
    (prog, prog_kernel): (Vec<f64>, Vec<f64>),
    (floor, floor_kernel): (Vec<f64>, Vec<f64>),
    non_arp: bool,
    path: &str,
) -> Vec<Record> {
    let base = format!("cost/{}/{key}", tables.key());
    let floor = Record::new("cost", format!("{base}/floor"), "ns/packet", path, floor)
        .detail("kernel_ns", super::median(&floor_kernel));
    let target = if non_arp { 1.0 } else { 8.0 };
    let prog = Record::new("cost", base, "ns/packet", path, prog).against(&floor);
    // Each round timed the program and its floor back to back: the delta
    // is the median of the per-round differences, so drift between rounds
    // (this machine is shared) cancels.
    let diffs: Vec<f64> = prog
        .samples
        .iter()
        .zip(&floor.samples)
        .map(|(p, f)| p - f)
        .collect();
    let delta = super::median(&diffs);
    let prog = prog
        .detail("label", label)
        .detail("tables", tables.label())
        .detail("floor_ns", floor.value)
        .detail("delta_ns", (delta * 100.0).round() / 100.0)
        .detail("kernel_ns", super::median(&prog_kernel))
        .detail("target_delta_ns", target)
        .detail("met", delta <= target);
    vec![floor, prog]
}

/// The TC rewrite. BPF_PROG_TEST_RUN's `repeat` re-runs one skb, so the
/// frame comes from one VIP of a pair that are each other's real IP (a
/// table `rsdr` itself refuses): every run rewrites the sender, from A to B,
/// then from B to A.
fn rewrite(dp: &mut Datapath, tables: Tables, repeat: u32, reps: usize) -> Vec<Record> {
    let frame = Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, SWAP_A, PEER)).bytes();
    let (prog, floor) = rounds(dp, &frame, true, repeat, reps);
    records(
        tables,
        "tc_arp_sender_rewrite",
        "TC egress: ARP request from a VIP (sender rewritten)",
        prog,
        floor,
        false,
        &format!(
            "{PATH}, repeat {repeat}, the sender rewritten in every run (a VIP pair, each the other's real IP); floor: an empty TC program on the same frame"
        ),
    )
}
