//! Section 4: the control plane: `rsdr apply` of a file of 10,000 VIPs, and
//! one `rsdr vip add`, both end to end (process start, pins, checks, map
//! updates).

use std::{net::Ipv4Addr, time::Instant};

use super::Record;
use crate::{
    conf::ConfFile,
    lab::{Lab, REAL_IP},
};

pub fn run(reps: usize, vips: u32) -> Vec<Record> {
    let lab = Lab::new();
    // `rsdr apply` of a configuration with `vips` VIPs, from none to all
    // of them, end to end: process start, file check, plan, map updates.
    let mut text = format!(
        "[settings]\nmax_vips = {}\n\n[[interface]]\nname = \"eth0\"\n\n",
        vips + 16
    );
    for i in 0..vips {
        text += &format!(
            "[[vip]]\naddress = \"{}\"\nreal = \"{REAL_IP}\"\n\n",
            Ipv4Addr::from(0x6440_0000 + i)
        );
    }
    let full = ConfFile::new(&text);
    // Same capacity, so both files share one set of maps.
    let empty = ConfFile::new(&format!(
        "[settings]\nmax_vips = {}\n\n[[interface]]\nname = \"eth0\"\n",
        vips + 16
    ));
    let mut batch = Vec::new();
    for _ in 0..reps {
        lab.rsdr(&["apply", "-c", &empty.arg()]).ok();
        let t = Instant::now();
        lab.rsdr(&["apply", "-c", &full.arg()]).ok();
        batch.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let batch = Record::new(
        "control",
        format!("control/apply_{vips}_vips_ms"),
        "ms",
        format!("wall time of `rsdr apply -c` from no VIPs to a file of {vips} IPv4 VIPs: process start, TOML parse and checks, plan, one map update per VIP (aya 0.14 has no batch update)"),
        batch,
    )
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
            "wall time of one `rsdr vip add` process (release build) with {vips} VIPs in the table: the whole table is read to check the new entry against it, so this grows with the table"
        ),
        one,
    );
    vec![batch, one]
}
