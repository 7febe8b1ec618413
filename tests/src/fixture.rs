//! Katran-style fixture tables: each row names the docs/semantics.md row it
//! proves, the frame in, the verdict, the frame out and the one counter the
//! decision must bump. Every row built from a [`Frame`] also runs behind an
//! 802.1Q tag and behind 802.1ad + 802.1Q, expecting the same decision.

use std::collections::BTreeSet;

use rsdr_common::Stat;

use crate::{
    datapath::{Datapath, Run},
    frames::{ETH_P_8021AD, ETH_P_8021Q, Frame},
    hex,
};

pub enum Input {
    /// Built frame: also run tagged.
    Frame(Frame),
    /// Raw bytes (truncations): run as given.
    Raw(Vec<u8>),
}

pub struct Fixture {
    /// Row of docs/semantics.md this fixture proves ("I4", "F4", ...).
    pub row: &'static str,
    pub desc: &'static str,
    pub input: Input,
    pub verdict: u32,
    /// Expected frame out; `None`: unchanged.
    pub output: Option<Frame>,
    /// The one global counter bumped; `None`: no decision counted.
    pub counter: Option<Stat>,
    /// The counter is bumped in its monitored copy.
    pub monitored: bool,
}

impl Fixture {
    pub fn new(
        row: &'static str,
        desc: &'static str,
        input: Frame,
        verdict: u32,
        counter: Option<Stat>,
    ) -> Self {
        Self {
            row,
            desc,
            input: Input::Frame(input),
            verdict,
            output: None,
            counter,
            monitored: false,
        }
    }

    pub fn raw(
        row: &'static str,
        desc: &'static str,
        input: Vec<u8>,
        verdict: u32,
        counter: Option<Stat>,
    ) -> Self {
        Self {
            row,
            desc,
            input: Input::Raw(input),
            verdict,
            output: None,
            counter,
            monitored: false,
        }
    }

    /// Expect this frame out instead of the input.
    pub fn out(mut self, output: Frame) -> Self {
        self.output = Some(output);
        self
    }

    /// Expect the counter in its monitored copy.
    pub fn monitored(mut self) -> Self {
        self.monitored = true;
        self
    }
}

fn variants(f: &Fixture) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    match &f.input {
        Input::Raw(b) => vec![("raw", b.clone(), b.clone())],
        Input::Frame(input) => {
            let out = f.output.clone().unwrap_or_else(|| input.clone());
            let tag = |fr: &Frame, qinq: bool| {
                let fr = if qinq {
                    fr.clone().tagged(ETH_P_8021AD, 100)
                } else {
                    fr.clone()
                };
                fr.tagged(ETH_P_8021Q, 10).bytes()
            };
            vec![
                ("untagged", input.bytes(), out.bytes()),
                ("802.1Q", tag(input, false), tag(&out, false)),
                ("802.1ad+802.1Q", tag(input, true), tag(&out, true)),
            ]
        }
    }
}

/// Run every row (and its tagged variants) through `run`; report all
/// failures at once, with the frames in hex. Returns the rows covered.
pub fn check(
    dp: &mut Datapath,
    run: fn(&mut Datapath, &[u8]) -> Run,
    rows: &[Fixture],
) -> BTreeSet<&'static str> {
    let mut failures = Vec::new();
    let mut count = 0;
    for f in rows {
        for (variant, input, expected_out) in variants(f) {
            count += 1;
            let before = dp.all_stats();
            let got = run(dp, &input);
            let after = dp.all_stats();
            if got.verdict == crate::datapath::REFUSED {
                if !matches!(f.input, Input::Raw(_)) {
                    failures.push(format!(
                        "- [{}] {} ({variant}): the kernel refused the frame",
                        f.row, f.desc
                    ));
                }
                continue;
            }
            let mut problems = Vec::new();
            if got.verdict != f.verdict {
                problems.push(format!(
                    "verdict {} (0x{:x}), expected {} (0x{:x})",
                    got.verdict as i32, got.verdict, f.verdict as i32, f.verdict
                ));
            }
            if got.output != expected_out {
                problems.push(format!(
                    "output frame differs\n  input:\n{}  got:\n{}  expected:\n{}",
                    hex::dump(&input),
                    hex::dump(&got.output),
                    hex::dump(&expected_out)
                ));
            }
            let n = Stat::ALL.len();
            let name = |i: usize| {
                format!(
                    "{}{}",
                    if i >= n { "monitored." } else { "" },
                    Stat::ALL[i % n].name()
                )
            };
            let bumped: Vec<(String, u64)> = before
                .iter()
                .zip(&after)
                .enumerate()
                .filter(|(_, (b, a))| a != b)
                .map(|(i, (b, a))| (name(i), a - b))
                .collect();
            let want: Vec<(String, u64)> = f
                .counter
                .iter()
                .map(|s| (name(*s as usize + if f.monitored { n } else { 0 }), 1))
                .collect();
            if bumped != want {
                problems.push(format!("counters bumped {bumped:?}, expected {want:?}"));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "- [{}] {} ({variant}): {}",
                    f.row,
                    f.desc,
                    problems.join("; ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} fixture runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    rows.iter().map(|f| f.row).collect()
}

/// Row ids of docs/semantics.md whose id starts with one of `prefixes`.
pub fn semantics_rows(prefixes: &[char]) -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/semantics.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(" |").next())
        .map(str::trim)
        .filter(|id| {
            id.len() >= 2
                && id.starts_with(|c: char| prefixes.contains(&c))
                && id[1..].chars().all(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

/// Panics unless every row of docs/semantics.md with one of `prefixes` is
/// covered by some fixture.
pub fn assert_covers(covered: &BTreeSet<&'static str>, prefixes: &[char]) {
    let wanted = semantics_rows(prefixes);
    assert!(
        !wanted.is_empty(),
        "docs/semantics.md lists no rows starting with {prefixes:?}"
    );
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|r| !covered.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/semantics.md rows without a fixture: {missing:?}"
    );
}

/// The VIP set every fixture table runs against.
pub mod std_vips {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use rsdr_common::maps::{VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS, VIP_F_VRRP, VIP_F_VRRP_MASTER};

    use crate::datapath::Datapath;

    pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    pub const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
    /// VIP in monitor mode.
    pub const MON: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
    /// VIP with --show-conflicts.
    pub const SHOWN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 13);
    /// VIP following a VRRP instance this host is not master of.
    pub const VRRP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 14);
    /// VIP following a VRRP instance this host is master of.
    pub const VRRP_MASTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 15);
    /// A member of POOL (203.0.113.0/24).
    pub const POOLED: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 50);
    /// An exact VIP inside POOL, with its own real IP.
    pub const EXACT_IN_POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
    /// Just outside POOL.
    pub const OUTSIDE_POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 114, 1);
    pub const REAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    pub const REAL2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
    pub const REAL_EXACT_IN_POOL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
    pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    pub const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);

    pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
    pub const MON6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x12);
    pub const SHOWN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x13);
    /// VIP6 following a VRRP instance this host is not master of.
    pub const VRRP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x14);
    /// VIP6 following a VRRP instance this host is master of.
    pub const VRRP_MASTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x15);
    /// A member of POOL6 (2001:db8:100::/64).
    pub const POOLED6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0x77);
    pub const REAL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    pub const REAL6_POOL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3);
    pub const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    pub const PEER6_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

    /// A datapath loaded with the standard VIPs and pools.
    pub fn datapath() -> Datapath {
        let mut dp = Datapath::load();
        dp.add(&VIP.to_string(), &REAL.to_string(), 0);
        dp.add(&VIP2.to_string(), &REAL2.to_string(), 0);
        dp.add(&MON.to_string(), &REAL.to_string(), VIP_F_MONITOR);
        dp.add(&SHOWN.to_string(), &REAL.to_string(), VIP_F_SHOW_CONFLICTS);
        dp.add(&VRRP.to_string(), &REAL.to_string(), VIP_F_VRRP);
        dp.add(
            &VRRP_MASTER.to_string(),
            &REAL.to_string(),
            VIP_F_VRRP | VIP_F_VRRP_MASTER,
        );
        dp.add("203.0.113.0/24", &REAL.to_string(), 0);
        dp.add(
            &EXACT_IN_POOL.to_string(),
            &REAL_EXACT_IN_POOL.to_string(),
            0,
        );
        dp.add(&VIP6.to_string(), &REAL6.to_string(), 0);
        dp.add(&MON6.to_string(), &REAL6.to_string(), VIP_F_MONITOR);
        dp.add(
            &SHOWN6.to_string(),
            &REAL6.to_string(),
            VIP_F_SHOW_CONFLICTS,
        );
        dp.add(&VRRP6.to_string(), &REAL6.to_string(), VIP_F_VRRP);
        dp.add(
            &VRRP_MASTER6.to_string(),
            &REAL6.to_string(),
            VIP_F_VRRP | VIP_F_VRRP_MASTER,
        );
        dp.add("2001:db8:100::/64", &REAL6_POOL.to_string(), 0);
        dp
    }
}
