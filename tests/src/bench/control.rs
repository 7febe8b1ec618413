//! Section 4: the control plane: writing 10,000 VIPs into the pinned tables
//! in one batch (the path `rsdr apply` uses), and one `rsdr vip add` end to
//! end (process start, pins, checks, map update).

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Instant,
};

use rsdr_user::{addr::VipSpec, pins::PinDir, vips::VipTables};

use super::Record;
use crate::lab::{Lab, REAL_IP};

pub fn run(reps: usize, vips: u32) -> Vec<Record> {
    let lab = Lab::new();
    lab.rsdr(&["attach", "eth0", "--max-vips", &(vips + 16).to_string()])
        .ok();
    let pins = PinDir::new(lab.pin_dir());
    let mut batch = Vec::new();
    for _ in 0..reps {
        let mut tables = VipTables::open(&pins).expect("open tables");
        for e in tables.entries().expect("entries") {
            tables.remove(e.vip).expect("clear");
        }
        let items: Vec<_> = (0..vips)
            .map(|i| {
                (
                    VipSpec::Addr(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))),
                    IpAddr::V4(REAL_IP),
                    0,
                )
            })
            .collect();
        let t = Instant::now();
        tables.add_many(&items).expect("batch add");
        batch.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let batch = Record::new("control", format!("control/apply_{vips}_vips_ms"), "ms", format!("VipTables::add_many of {vips} new IPv4 VIPs into pinned maps: one validation pass, one map update per VIP (aya 0.14 has no batch update)"), batch)
        .detail("target_ms", 1000.0);

    let mut one = Vec::new();
    for i in 0..(reps * 7) {
        let vip = format!("192.0.2.{}", 10 + (i % 2));
        let t = Instant::now();
        lab.rsdr(&["vip", "add", &vip, "--real", &REAL_IP.to_string()])
            .ok();
        one.push(t.elapsed().as_secs_f64() * 1e3);
        lab.rsdr(&["vip", "del", &vip]).ok();
    }
    let one = Record::new(
        "control",
        "control/rsdr_vip_add_ms",
        "ms",
        format!(
            "wall time of one `rsdr vip add` process (debug build of the test harness, release rsdr), with {vips} VIPs in the table"
        ),
        one,
    );
    vec![batch, one]
}
