//! Section 3: what rsdr costs normal traffic through the real server's
//! interface: TCP throughput and small-UDP packet rate with iperf3 from the
//! peer, without rsdr and with it in each hook mode, as ratios.

use std::{thread::sleep, time::Duration};

use aya::programs::TcAttachType;
use rsdr_common::maps::programs::BENCH_TC_FLOOR;
use rsdr_user::loader;

use super::{Record, ns_program::NsProgram};
use crate::{
    cli::{RsdrRun, rsdr_cmd},
    lab::{Lab, REAL_IP, VIP},
    netns::{Guard, spawn},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    /// An empty program on the TC ingress hook: what the hook itself costs.
    TcFloor,
    XdpNative,
    XdpSkb,
    TcIngress,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::None,
        Mode::TcFloor,
        Mode::XdpNative,
        Mode::XdpSkb,
        Mode::TcIngress,
    ];

    fn key(self) -> &'static str {
        match self {
            Mode::None => "no_rsdr",
            Mode::TcFloor => "empty_tc_ingress",
            Mode::XdpNative => "rsdr_xdp_native",
            Mode::XdpSkb => "rsdr_xdp_skb",
            Mode::TcIngress => "rsdr_tc_ingress",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::None => "no rsdr",
            Mode::TcFloor => "empty TC ingress program (the hook's own cost)",
            Mode::XdpNative => "rsdr, XDP native + TC egress",
            Mode::XdpSkb => "rsdr, XDP skb mode + TC egress",
            Mode::TcIngress => "rsdr, TC ingress + TC egress",
        }
    }
}

fn rsdr(lab: &Lab, args: &[&str]) -> RsdrRun {
    let mut cmd = rsdr_cmd(Some(lab.server.cmd("env")));
    cmd.arg("--pin-dir").arg(lab.pin_dir()).args(args);
    RsdrRun::from_output(cmd.output().expect("run rsdr"))
}

/// A lab for `mode` with an iperf3 server on the real server; the floor
/// program, if any, stays attached while the returned handle lives.
fn lab(mode: Mode) -> (Lab, Guard, Option<NsProgram>) {
    let lab = Lab::new();
    let mut floor = None;
    match mode {
        Mode::None => {}
        Mode::TcFloor => {
            floor = Some(NsProgram::attach(lab.server.path(), |ebpf| {
                loader::tc_program(ebpf, BENCH_TC_FLOOR)
                    .expect("floor program")
                    .attach("eth0", TcAttachType::Ingress)
                    .expect("attach the floor program");
            }));
        }
        Mode::XdpNative | Mode::XdpSkb | Mode::TcIngress => {
            let hook: &[&str] = match mode {
                Mode::XdpNative => &["--xdp-mode", "native"],
                Mode::XdpSkb => &["--xdp-mode", "skb"],
                _ => &["--ingress", "tc"],
            };
            rsdr(&lab, &[&["attach", "eth0"][..], hook].concat()).ok();
            rsdr(
                &lab,
                &[
                    "vip",
                    "add",
                    &VIP.to_string(),
                    "--real",
                    &REAL_IP.to_string(),
                ],
            )
            .ok();
        }
    }
    let server = spawn(
        lab.server
            .cmd("iperf3")
            .args(["-s", "-B", &REAL_IP.to_string()]),
    );
    sleep(Duration::from_millis(300));
    (lab, server, floor)
}

fn iperf(lab: &Lab, args: &[&str]) -> serde_json::Value {
    for _ in 0..3 {
        let out = lab
            .peer
            .cmd("iperf3")
            .args(["-c", &REAL_IP.to_string(), "-J"])
            .args(args)
            .output()
            .expect("iperf3");
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            && v.get("error").is_none()
        {
            return v;
        }
        sleep(Duration::from_millis(300));
    }
    panic!("iperf3 {args:?} kept failing");
}

/// TCP Gbit/s and 64-byte UDP kpps per mode, `reps` rounds of `secs`-second
/// runs. All labs exist at once and the modes take turns within each round,
/// so drift in the machine's load hits every mode alike.
pub fn run(secs: u32, reps: usize) -> Vec<Record> {
    let t = secs.to_string();
    // Tuples drop their fields in order: a floor program is detached
    // before its lab's namespaces go.
    let labs: Vec<(Option<NsProgram>, Mode, Lab, Guard)> = Mode::ALL
        .iter()
        .map(|m| {
            let (lab, server, floor) = lab(*m);
            (floor, *m, lab, server)
        })
        .collect();
    let mut tcp = vec![Vec::new(); labs.len()];
    let mut udp = vec![Vec::new(); labs.len()];
    for _ in 0..reps {
        for (i, (_, _, lab, _)) in labs.iter().enumerate() {
            let v = iperf(lab, &["-t", &t]);
            tcp[i].push(
                v["end"]["sum_received"]["bits_per_second"]
                    .as_f64()
                    .unwrap_or(0.0)
                    / 1e9,
            );
        }
        for (i, (_, _, lab, _)) in labs.iter().enumerate() {
            let v = iperf(lab, &["-u", "-b", "0", "-l", "64", "-t", &t]);
            let sum = &v["end"]["sum"];
            let got = sum["packets"].as_f64().unwrap_or(0.0)
                - sum["lost_packets"].as_f64().unwrap_or(0.0);
            udp[i].push(got / sum["seconds"].as_f64().unwrap_or(1.0) / 1e3);
        }
    }
    let mut out = Vec::new();
    let mut base: Vec<Record> = Vec::new();
    for (i, (_, mode, _, _)) in labs.iter().enumerate() {
        let tcp = Record::new("tax", format!("tax/{}/tcp_gbps", mode.key()), "Gbit/s", format!("iperf3 TCP, one stream, {secs} s, peer -> server over veth, received rate; modes interleaved"), tcp[i].clone())
            .detail("label", mode.label());
        let udp = Record::new("tax", format!("tax/{}/udp64_kpps", mode.key()), "kpps", format!("iperf3 UDP, 64-byte payloads, unlimited rate, {secs} s, packets received per second; modes interleaved"), udp[i].clone())
            .detail("label", mode.label());
        let (tcp, udp) = if *mode == Mode::None {
            base = vec![tcp.clone(), udp.clone()];
            (tcp, udp)
        } else {
            (tcp.against_paired(&base[0]), udp.against_paired(&base[1]))
        };
        out.extend([tcp, udp]);
    }
    out
}
