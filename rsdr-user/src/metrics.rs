//! rsdr's counters and state as Prometheus metrics, encoded by the
//! `prometheus-client` crate (OpenMetrics text) for `rsdr run --metrics`.
//! A [`Scrape`] is what one scrape read; encoding it is pure.

use std::fmt;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use crate::{stats::Snapshot, status::Status};

/// Counters the daemon keeps about itself.
#[derive(Clone, Debug, Default)]
pub struct DaemonCounters {
    pub applies_total: u64,
    pub apply_errors_total: u64,
    pub config_errors_total: u64,
    pub address_events_total: u64,
    pub link_events_total: u64,
    /// Interfaces of the configuration that do not exist now.
    pub interfaces_missing: u64,
    /// State changes taken from keepalived's notify FIFO, by (instance, state).
    pub vrrp_transitions: std::collections::BTreeMap<(String, &'static str), u64>,
}

/// Everything one scrape reports, read at once.
#[derive(Debug)]
pub struct Scrape {
    pub snap: Snapshot,
    pub status: Status,
    pub daemon: DaemonCounters,
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition text of `scrape`.
pub fn encode(scrape: Scrape) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// One counter family: `name` (exposed as `name_total`) with a sample per
/// label set.
fn counters<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One gauge family.
fn gauges<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, i64)>,
) -> fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let (snap, status, daemon) = (&self.snap, &self.status, &self.daemon);
        let modes = [
            ("enforced", &snap.global.decisions),
            ("monitored", &snap.global.monitored),
        ];
        counters(
            &mut enc,
            "rsdr_decisions",
            "ARP/ND decisions of the datapath, by kind; mode=monitored counts what monitor mode did not enforce.",
            modes.iter().flat_map(|(mode, map)| {
                map.iter()
                    .map(move |(k, v)| (vec![("decision", *k), ("mode", *mode)], *v))
            }),
        )?;
        let reals: Vec<String> = snap.vips.iter().map(|v| v.real.to_string()).collect();
        counters(
            &mut enc,
            "rsdr_vip_decisions",
            "Decisions about one VIP or pool, by kind.",
            snap.vips.iter().zip(&reals).flat_map(|(v, real)| {
                [("enforced", &v.counters), ("monitored", &v.monitored)]
                    .into_iter()
                    .flat_map(move |(mode, map)| {
                        map.iter().map(move |(k, n)| {
                            (
                                vec![
                                    ("vip", v.vip.as_str()),
                                    ("real", real.as_str()),
                                    ("decision", *k),
                                    ("mode", mode),
                                ],
                                *n,
                            )
                        })
                    })
            }),
        )?;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        gauges(
            &mut enc,
            "rsdr_vips",
            "Exact VIPs configured.",
            [(vec![], count(status.vips))],
        )?;
        gauges(
            &mut enc,
            "rsdr_pools",
            "VIP pools configured.",
            [(vec![], count(status.pools))],
        )?;
        gauges(
            &mut enc,
            "rsdr_monitor",
            "1 while global monitor mode is on.",
            [(vec![], i64::from(status.monitor))],
        )?;
        let ingress: Vec<String> = status
            .interfaces
            .iter()
            .map(|i| {
                i.hooks
                    .iter()
                    .find(|h| h.direction == "ingress")
                    .map(|h| {
                        format!(
                            "{}{}",
                            h.kind,
                            h.mode.map(|m| format!(" {m}")).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default()
            })
            .collect();
        gauges(
            &mut enc,
            "rsdr_interface_filtering",
            "1 while both hooks of the interface are attached and live.",
            status.interfaces.iter().zip(&ingress).map(|(i, ingress)| {
                (
                    vec![
                        ("interface", i.name.as_str()),
                        ("ingress", ingress.as_str()),
                    ],
                    i64::from(i.healthy),
                )
            }),
        )?;
        for (name, help, v) in [
            (
                "rsdr_applies",
                "Configuration applies that changed something.",
                daemon.applies_total,
            ),
            (
                "rsdr_apply_errors",
                "Applies that failed (and were rolled back).",
                daemon.apply_errors_total,
            ),
            (
                "rsdr_config_errors",
                "Reloads refused because the file was invalid.",
                daemon.config_errors_total,
            ),
            (
                "rsdr_address_events",
                "Address removals seen over netlink.",
                daemon.address_events_total,
            ),
            (
                "rsdr_link_events",
                "Interfaces appearing, changing or going, seen over netlink.",
                daemon.link_events_total,
            ),
        ] {
            counters(&mut enc, name, help, [(vec![], v)])?;
        }
        gauges(
            &mut enc,
            "rsdr_interfaces_missing",
            "Interfaces of the configuration that do not exist: waited for, managed addresses withheld.",
            [(
                vec![],
                i64::try_from(daemon.interfaces_missing).unwrap_or(i64::MAX),
            )],
        )?;
        gauges(
            &mut enc,
            "rsdr_vrrp_master",
            "1 while the VRRP instance is MASTER on this host (its VIPs answered and announced), 0 in any other state.",
            status.vrrp.iter().map(|v| {
                (
                    vec![("instance", v.instance.as_str())],
                    i64::from(v.state == "master"),
                )
            }),
        )?;
        counters(
            &mut enc,
            "rsdr_vrrp_transitions",
            "VRRP state changes taken from keepalived's notify FIFO (repeats of the same state not counted), by instance and new state.",
            daemon
                .vrrp_transitions
                .iter()
                .map(|((i, st), n)| (vec![("instance", i.as_str()), ("state", *st)], *n)),
        )?;
        Ok(())
    }
}
