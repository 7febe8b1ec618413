//! Prometheus text exposition of rsdr's counters and state, served by
//! `rsdr run --metrics`.

use std::fmt::Write as _;

use crate::{stats::Snapshot, status::Status};

/// Counters the daemon keeps about itself.
#[derive(Clone, Debug, Default)]
pub struct DaemonCounters {
    pub applies_total: u64,
    pub apply_errors_total: u64,
    pub config_errors_total: u64,
    pub address_events_total: u64,
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text.
pub fn render(snap: &Snapshot, status: &Status, daemon: &DaemonCounters) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP rsdr_decisions_total ARP/ND decisions of the datapath, by kind; mode=monitored counts what monitor mode did not enforce."
    );
    let _ = writeln!(s, "# TYPE rsdr_decisions_total counter");
    for (mode, map) in [
        ("enforced", &snap.global.decisions),
        ("monitored", &snap.global.monitored),
    ] {
        for (k, v) in map {
            let _ = writeln!(
                s,
                "rsdr_decisions_total{{decision=\"{k}\",mode=\"{mode}\"}} {v}"
            );
        }
    }
    let _ = writeln!(
        s,
        "# HELP rsdr_vip_decisions_total Decisions about one VIP or pool, by kind."
    );
    let _ = writeln!(s, "# TYPE rsdr_vip_decisions_total counter");
    for v in &snap.vips {
        for (mode, map) in [("enforced", &v.counters), ("monitored", &v.monitored)] {
            for (k, n) in map {
                let _ = writeln!(
                    s,
                    "rsdr_vip_decisions_total{{vip=\"{}\",real=\"{}\",decision=\"{k}\",mode=\"{mode}\"}} {n}",
                    esc(&v.vip),
                    v.real
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "# HELP rsdr_vips Exact VIPs configured.\n# TYPE rsdr_vips gauge\nrsdr_vips {}",
        status.vips
    );
    let _ = writeln!(
        s,
        "# HELP rsdr_pools VIP pools configured.\n# TYPE rsdr_pools gauge\nrsdr_pools {}",
        status.pools
    );
    let _ = writeln!(
        s,
        "# HELP rsdr_monitor 1 while global monitor mode is on.\n# TYPE rsdr_monitor gauge\nrsdr_monitor {}",
        u8::from(status.monitor)
    );
    let _ = writeln!(
        s,
        "# HELP rsdr_interface_filtering 1 while both hooks of the interface are attached and live."
    );
    let _ = writeln!(s, "# TYPE rsdr_interface_filtering gauge");
    for i in &status.interfaces {
        let ingress = i
            .hooks
            .iter()
            .find(|h| h.direction == "ingress")
            .map(|h| {
                format!(
                    "{}{}",
                    h.kind,
                    h.mode.map(|m| format!(" {m}")).unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "rsdr_interface_filtering{{interface=\"{}\",ingress=\"{ingress}\"}} {}",
            esc(&i.name),
            u8::from(i.healthy)
        );
    }
    for (name, help, v) in [
        (
            "rsdr_applies_total",
            "Configuration applies that changed something.",
            daemon.applies_total,
        ),
        (
            "rsdr_apply_errors_total",
            "Applies that failed (and were rolled back).",
            daemon.apply_errors_total,
        ),
        (
            "rsdr_config_errors_total",
            "Reloads refused because the file was invalid.",
            daemon.config_errors_total,
        ),
        (
            "rsdr_address_events_total",
            "Address removals seen over netlink.",
            daemon.address_events_total,
        ),
    ] {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    }
    s
}
