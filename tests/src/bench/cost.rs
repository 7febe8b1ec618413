//! Section 1: what each program costs per packet, by BPF_PROG_TEST_RUN on
//! the loaded programs, beside an empty program of the same kind (the
//! floor) measured in the same run on the same frame.

use std::net::{IpAddr, Ipv4Addr};

use rsdr_user::{
    entry::{VipEntry, VipFlags},
    loader::Isa,
    vip::Vip,
};

use super::Record;
use aya::maps::ProgramArray;
use rsdr_common::maps::{names, programs};
use rsdr_user::loader;

use crate::{
    datapath::{self, Datapath},
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
    /// One VIP, with the ISA v3 object: what kernels without BPF ISA v4
    /// (before 6.6, Debian 12's 6.1 among them) get.
    V3Object,
}

impl Tables {
    fn label(&self) -> String {
        match self {
            Tables::Vips(1) => "1 VIP".into(),
            Tables::Vips(n) if n % 1_000_000 == 0 => format!("{}M VIPs", n / 1_000_000),
            Tables::Vips(n) if n % 1000 == 0 => format!("{}k VIPs", n / 1000),
            Tables::Vips(n) => format!("{n} VIPs"),
            Tables::Pool => "1 VIP + /16 pool".into(),
            Tables::V3Object => "1 VIP, ISA v3 object".into(),
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
    let (n, isa) = match tables {
        Tables::Vips(n) => (n, Isa::probe()),
        Tables::Pool => (1, Isa::probe()),
        Tables::V3Object => (1, Isa::V3),
    };
    let opts = rsdr_user::loader::LoadOptions {
        // n IPv4 VIPs, one IPv6 VIP and the rewrite case's pair.
        max_vips: (n + 3).max(16),
        max_pools: 16,
        ..Default::default()
    };
    let mut dp = Datapath::load_isa(opts, isa);
    let entry = |vip: Vip, real: IpAddr| VipEntry {
        vip,
        real,
        flags: VipFlags::NONE,
    };
    let real = IpAddr::V4(REAL);
    let mut items = vec![entry(Vip::Addr(IpAddr::V4(VIP)), real)];
    // Other VIPs: 100.64.0.0/10 and up, never the ones measured.
    items.extend(
        (1..n).map(|i| entry(Vip::Addr(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))), real)),
    );
    items.push(entry(
        Vip::Addr("2001:db8::10".parse().unwrap()),
        "2001:db8::2".parse().unwrap(),
    ));
    if let Tables::Pool = tables {
        items.push(entry(Vip::Pool("198.18.0.0".parse().unwrap(), 16), real));
    }
    dp.tables
        .put(&items)
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

/// Measure every case under `tables`: `reps` rounds, each timing every
/// case and its floor back to back over `repeat` in-kernel repetitions.
pub fn run(tables: Tables, repeat: u32, reps: usize) -> Vec<Record> {
    let mut dp = datapath(tables);
    let cases = cases(tables);
    let runs: Vec<Run> = cases
        .iter()
        .map(|c| (datapath::program(c.tc), c.tc, c.frame.as_slice()))
        .collect();
    let samples = rounds(&mut dp, &runs, repeat, reps);
    let mut out = Vec::new();
    for (case, (prog, floor)) in cases.iter().zip(samples) {
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

/// Per-run times of `reps` rounds, and the kernel's truncated figures.
type Samples = (Vec<f64>, Vec<f64>);

/// One program to time: its name, whether it is a TC program, the frame.
type Run<'a> = (&'static str, bool, &'a [u8]);

/// `reps` rounds, each timing every run's program and then its floor: the
/// runs take turns, so a noisy moment on this shared machine spoils one
/// round of several runs rather than every round of one.
fn rounds(dp: &mut Datapath, runs: &[Run], repeat: u32, reps: usize) -> Vec<(Samples, Samples)> {
    let mut out: Vec<(Samples, Samples)> = runs.iter().map(|_| Default::default()).collect();
    for _ in 0..reps {
        for (&(name, tc, frame), (prog, floor)) in runs.iter().zip(out.iter_mut()) {
            let p = dp.time_prog(tc, name, frame, repeat);
            let f = dp.time_floor(tc, frame, repeat);
            prog.0.push(p.cpu_ns);
            prog.1.push(p.kernel_ns as f64);
            floor.0.push(f.cpu_ns);
            floor.1.push(f.kernel_ns as f64);
        }
    }
    out
}

/// [`rounds`] of one run.
fn rounds_of(dp: &mut Datapath, run: Run, repeat: u32, reps: usize) -> (Samples, Samples) {
    let mut samples = rounds(dp, &[run], repeat, reps);
    samples.pop().unwrap_or_default()
}

fn records(
    tables: Tables,
    key: &str,
    label: &str,
    prog: Samples,
    floor: Samples,
    non_arp: bool,
    path: &str,
) -> Vec<Record> {
    let target = if non_arp { 1.0 } else { 8.0 };
    let [floor, prog] = paired(
        "cost",
        &format!("cost/{}/{key}", tables.key()),
        prog,
        floor,
        path,
    );
    let delta = prog.details["delta_ns"].as_f64().unwrap_or(f64::NAN);
    let prog = prog
        .detail("label", label)
        .detail("tables", tables.label())
        .detail("target_delta_ns", target)
        .detail("met", delta <= target);
    vec![floor, prog]
}

/// A program's record and its floor's, the program's with the delta: the
/// median of the per-round differences (each round timed the two back to
/// back, so drift between rounds, this machine being shared, cancels).
fn paired(
    section: &'static str,
    base: &str,
    (prog, prog_kernel): Samples,
    (floor, floor_kernel): Samples,
    path: &str,
) -> [Record; 2] {
    let floor = Record::new(section, format!("{base}/floor"), "ns/packet", path, floor)
        .detail("kernel_ns", super::median(&floor_kernel));
    let prog = Record::new(section, base, "ns/packet", path, prog).against(&floor);
    let diffs: Vec<f64> = prog
        .samples
        .iter()
        .zip(&floor.samples)
        .map(|(p, f)| p - f)
        .collect();
    let delta = super::median(&diffs);
    let prog = prog
        .detail("floor_ns", floor.value)
        .detail("delta_ns", (delta * 100.0).round() / 100.0)
        .detail("kernel_ns", super::median(&prog_kernel));
    [floor, prog]
}

/// The TC rewrite. BPF_PROG_TEST_RUN's `repeat` re-runs one skb, so the
/// frame comes from one VIP of a pair that are each other's real IP (a
/// table `rsdr` itself refuses): every run rewrites the sender, from A to B,
/// then from B to A. The pair is added last, so that the other cases see
/// only the tables their labels name.
fn rewrite(dp: &mut Datapath, tables: Tables, repeat: u32, reps: usize) -> Vec<Record> {
    dp.tables
        .add_swapped_pair(SWAP_A, SWAP_B)
        .unwrap_or_else(|e| panic!("the rewrite case's VIP pair: {e}"));
    let frame = Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, SWAP_A, PEER)).bytes();
    let (prog, floor) = rounds_of(dp, (programs::TC_EGRESS, true, &frame), repeat, reps);
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

/// The ways a TC program can write a frame (rsdr-ebpf/src/bench_writes.rs),
/// each beside the empty TC program: why the egress rewrite uses
/// `bpf_skb_store_bytes`. Table-independent, so measured once: two minimal
/// writers, then rsdr's egress program beside its variant that tail-calls
/// a direct writer, on IPv4 TCP and on the rewrite; then one decision on
/// both ingress hooks, and the rewrite's decision without its write.
pub fn writes(repeat: u32, reps: usize) -> Vec<Record> {
    let mut dp = Datapath::load();
    dp.tables
        .add_swapped_pair(SWAP_A, SWAP_B)
        .unwrap_or_else(|e| panic!("the rewrite case's VIP pair: {e}"));
    fill_writer_slot(&mut dp);
    let arp = Frame::arp(SERVER_MAC, &Arp::request(SERVER_MAC, SWAP_A, PEER)).bytes();
    let tcp = Frame::new(PEER_MAC, SERVER_MAC, ETH_P_IP, ipv4_tcp(VIP, PEER)).bytes();
    // One request for a VIP, decided by the same code on both ingress hooks.
    let request = Frame::arp(PEER_MAC, &Arp::request(PEER_MAC, PEER, SWAP_B)).bytes();
    fn tc<'a>(name: &'static str, frame: &'a [u8]) -> Run<'a> {
        (name, true, frame)
    }
    let cases: [(&str, &str, Run); 8] = [
        (
            "store_bytes",
            "4-byte write with bpf_skb_store_bytes (the rewrite's way)",
            tc(programs::BENCH_TC_STORE_BYTES, &arp),
        ),
        (
            "direct_write",
            "4-byte direct write (its prologue pulls every cloned skb; test-run skbs are never clones)",
            tc(programs::BENCH_TC_DIRECT_WRITE, &arp),
        ),
        (
            "egress_tcp",
            "rsdr TC egress: IPv4 TCP (pass)",
            tc(programs::TC_EGRESS, &tcp),
        ),
        (
            "tail_call_tcp",
            "tail-call variant: IPv4 TCP (pass)",
            tc(programs::BENCH_TC_EGRESS_TAIL_CALL, &tcp),
        ),
        (
            "egress_rewrite",
            "rsdr TC egress: ARP sender rewrite",
            tc(programs::TC_EGRESS, &arp),
        ),
        (
            "tail_call_rewrite",
            "tail-call variant: ARP sender rewrite",
            tc(programs::BENCH_TC_EGRESS_TAIL_CALL, &arp),
        ),
        (
            "xdp_request",
            "XDP ingress: ARP request for a VIP (drop)",
            (programs::XDP_INGRESS, false, &request),
        ),
        (
            "tc_ingress_request",
            "TC ingress: the same request, the same decision code (drop)",
            tc(programs::TC_INGRESS, &request),
        ),
    ];
    let record = |key: &str, label: &str, tc: bool, (prog, floor): (Samples, Samples)| {
        let kind = if tc { "TC" } else { "XDP" };
        let [floor, prog] = paired(
            "writes",
            &format!("writes/{key}"),
            prog,
            floor,
            &format!("{PATH}, repeat {repeat}; floor: an empty {kind} program on the same frame"),
        );
        [floor, prog.detail("label", label)]
    };
    let runs: Vec<Run> = cases.iter().map(|c| c.2).collect();
    let samples = rounds(&mut dp, &runs, repeat, reps);
    let mut out: Vec<Record> = cases
        .iter()
        .zip(samples)
        .flat_map(|(&(key, label, (_, tc, _)), s)| record(key, label, tc, s))
        .collect();
    // The rewrite's frame with rsdr in monitor mode: decided and counted,
    // nothing written. Its difference to the rewrite row is the write.
    dp.settings.set_monitor(true);
    out.extend(record(
        "egress_rewrite_monitored",
        "rsdr TC egress: the rewrite's frame in monitor mode (decided and counted, not written)",
        true,
        rounds_of(&mut dp, (programs::TC_EGRESS, true, &arp), repeat, reps),
    ));
    out
}

/// Put the direct writer into the tail-call variant's program array.
fn fill_writer_slot(dp: &mut Datapath) {
    let ebpf = dp.ebpf();
    let fd = loader::tc_program(ebpf, programs::BENCH_TC_EGRESS_WRITER)
        .map(|p| p.fd().expect("loaded").try_clone().expect("dup"))
        .unwrap_or_else(|e| panic!("writer program: {e}"));
    let map = ebpf
        .map_mut(names::BENCH_EGRESS_WRITER)
        .expect("writer program array in the object");
    let mut slots = ProgramArray::try_from(map).expect("a program array");
    slots.set(0, &fd, 0).expect("fill the writer slot");
    // The variant itself must load too.
    loader::tc_program(ebpf, programs::BENCH_TC_EGRESS_TAIL_CALL)
        .unwrap_or_else(|e| panic!("tail-call variant: {e}"));
}
