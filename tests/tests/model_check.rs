//! Model check: seeded random and mutated frames through both loaded
//! programs and through the independent reference model of
//! docs/semantics.md (`tests/src/model.rs`). Every verdict, every output
//! frame and, at the end, every counter must agree.
//!
//! `RSDR_MODEL_FRAMES` sets the number of frames (default 1,000,000, plus a
//! tenth more with global monitor mode on); `RSDR_MODEL_SEED` the seed. A
//! failure prints the seed and the frame index, so any run can be replayed:
//! `RSDR_MODEL_SEED=<seed> cargo xtask test model_check`.

use std::time::Instant;

use rsdr_common::{Stat, VipCounter};
use rsdr_tests::{
    corpus::{self, Addresses, Rng},
    datapath::{Datapath, TC_PASS, TC_SHOT, XDP_DROP, XDP_PASS},
    fixture::std_vips::{self, *},
    hex,
    model::{F_MONITOR, F_SHOW_CONFLICTS, F_VRRP, F_VRRP_MASTER, Model, Rule, Verdict},
};

const DEFAULT_FRAMES: u64 = 1_000_000;
const DEFAULT_SEED: u64 = 0x5eed_45d4;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        }
        Err(_) => default,
    }
}

/// The same VIPs and pools `std_vips::datapath()` configures, as model rules.
fn rules() -> Vec<Rule> {
    let r = |net: &str, len: u8, real: &str, flags: u32| Rule {
        net: net.parse().unwrap(),
        len,
        real: real.parse().unwrap(),
        flags,
    };
    vec![
        r(&VIP.to_string(), 32, &REAL.to_string(), 0),
        r(&VIP2.to_string(), 32, &REAL2.to_string(), 0),
        r(&MON.to_string(), 32, &REAL.to_string(), F_MONITOR),
        r(&SHOWN.to_string(), 32, &REAL.to_string(), F_SHOW_CONFLICTS),
        r(&VRRP.to_string(), 32, &REAL.to_string(), F_VRRP),
        r(
            &VRRP_MASTER.to_string(),
            32,
            &REAL.to_string(),
            F_VRRP | F_VRRP_MASTER,
        ),
        r("203.0.113.0", 24, &REAL.to_string(), 0),
        r(
            &EXACT_IN_POOL.to_string(),
            32,
            &REAL_EXACT_IN_POOL.to_string(),
            0,
        ),
        r(&VIP6.to_string(), 128, &REAL6.to_string(), 0),
        r(&MON6.to_string(), 128, &REAL6.to_string(), F_MONITOR),
        r(
            &SHOWN6.to_string(),
            128,
            &REAL6.to_string(),
            F_SHOW_CONFLICTS,
        ),
        r(&VRRP6.to_string(), 128, &REAL6.to_string(), F_VRRP),
        r(
            &VRRP_MASTER6.to_string(),
            128,
            &REAL6.to_string(),
            F_VRRP | F_VRRP_MASTER,
        ),
        r("2001:db8:100::", 64, &REAL6_POOL.to_string(), 0),
    ]
}

fn addresses() -> Addresses {
    Addresses {
        v4: vec![
            VIP,
            VIP2,
            MON,
            SHOWN,
            VRRP,
            VRRP_MASTER,
            POOLED,
            EXACT_IN_POOL,
            OUTSIDE_POOL,
            REAL,
            REAL2,
            PEER,
            OTHER,
        ],
        v4_pools: vec![
            ("203.0.113.0".parse().unwrap(), 24),
            ("203.0.112.0".parse().unwrap(), 23),
        ],
        v6: vec![
            VIP6,
            MON6,
            SHOWN6,
            VRRP6,
            VRRP_MASTER6,
            POOLED6,
            REAL6,
            REAL6_POOL,
            PEER6,
            PEER6_LL,
            "2001:db8:101::1".parse().unwrap(),
        ],
        v6_pools: vec![
            ("2001:db8:100::".parse().unwrap(), 64),
            ("2001:db8::".parse().unwrap(), 48),
        ],
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hook {
    Xdp,
    TcIngress,
    TcEgress,
}

struct Run<'a> {
    dp: &'a mut Datapath,
    model: &'a mut Model,
    rng: Rng,
    seed: u64,
    done: u64,
    /// Frames the kernel would not turn into an skb for the TC test run.
    refused: u64,
    failures: Vec<String>,
}

impl Run<'_> {
    fn frames(&mut self, n: u64, addrs: &Addresses) {
        for _ in 0..n {
            let index = self.done;
            self.done += 1;
            let frame = corpus::frame(&mut self.rng, addrs);
            for (hook, prog) in [
                ("XDP ingress", Hook::Xdp),
                ("TC ingress", Hook::TcIngress),
                ("TC egress", Hook::TcEgress),
            ] {
                // TC ingress verdicts come back in XDP terms.
                let got = match prog {
                    Hook::Xdp => Some(self.dp.xdp(&frame)),
                    Hook::TcIngress => self.dp.try_tc_ingress_as_xdp(&frame),
                    Hook::TcEgress => self.dp.try_tc(&frame),
                };
                let Some(got) = got else {
                    self.refused += 1;
                    continue;
                };
                let tc = prog == Hook::TcEgress;
                let want = if tc {
                    self.model.egress(&frame)
                } else {
                    self.model.ingress(&frame)
                };
                let want_verdict = match (tc, &want.verdict) {
                    (false, Verdict::Pass) => XDP_PASS,
                    (false, Verdict::Drop) => XDP_DROP,
                    (true, Verdict::Pass) => TC_PASS,
                    (true, Verdict::Drop) => TC_SHOT,
                };
                if got.verdict != want_verdict || got.output != want.output {
                    if self.failures.len() < 8 {
                        self.failures.push(format!(
                            "seed {:#x} frame #{index} {hook}: verdict {} expected {}\n  input:\n{}  got:\n{}  expected:\n{}",
                            self.seed,
                            got.verdict as i32,
                            want_verdict as i32,
                            hex::dump(&frame),
                            hex::dump(&got.output),
                            hex::dump(&want.output)
                        ));
                    } else {
                        self.failures.push(String::new());
                    }
                }
            }
        }
    }

    fn check_counters(&mut self, rules: &[Rule]) {
        for s in Stat::ALL {
            for m in [false, true] {
                let want = self.model.stats.get(&(*s as u32, m)).copied().unwrap_or(0);
                let got = self.dp.stat(*s, m);
                if got != want {
                    self.failures.push(format!(
                        "counter {}{}: {got}, model says {want}",
                        if m { "monitored." } else { "" },
                        s.name()
                    ));
                }
            }
        }
        for r in rules {
            for c in VipCounter::ALL {
                for m in [false, true] {
                    let want = self
                        .model
                        .vip_counts
                        .get(&(r.key(), c as u32, m))
                        .copied()
                        .unwrap_or(0);
                    let got = self.dp.vip_counter(&r.key(), c, m);
                    if got != want {
                        self.failures.push(format!(
                            "VIP {} counter {}{}: {got}, model says {want}",
                            r.key(),
                            if m { "monitored." } else { "" },
                            c.name()
                        ));
                    }
                }
            }
        }
    }
}

#[test]
fn programs_match_the_reference_model() {
    let n = env_u64("RSDR_MODEL_FRAMES", DEFAULT_FRAMES);
    let seed = env_u64("RSDR_MODEL_SEED", DEFAULT_SEED);
    let rules = rules();
    let mut dp = std_vips::datapath();
    let mut model = Model {
        rules: rules.clone(),
        ..Model::default()
    };
    let addrs = addresses();
    let start = Instant::now();
    let mut run = Run {
        dp: &mut dp,
        model: &mut model,
        rng: Rng::new(seed),
        seed,
        done: 0,
        refused: 0,
        failures: Vec::new(),
    };
    run.frames(n, &addrs);
    run.check_counters(&rules);
    // A tenth more with global monitor mode on: nothing enforced, all counted.
    run.dp.settings.set_monitor(true);
    run.model.monitor = true;
    run.frames(n / 10, &addrs);
    run.check_counters(&rules);
    let done = run.done;
    let refused = run.refused;
    let failures = std::mem::take(&mut run.failures);
    let shown: Vec<&String> = failures.iter().filter(|f| !f.is_empty()).collect();
    assert!(
        failures.is_empty(),
        "{} disagreements over {done} frames (seed {seed:#x}); first ones:\n{}",
        failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let decided: u64 = model.stats.values().sum();
    eprintln!(
        "model check: {done} frames agree with the model in XDP ingress and, but for {refused} truncated frames the kernel's TC test run refuses, in TC ingress and TC egress; seed {seed:#x}, {decided} ARP/ND decisions, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        refused < done / 10,
        "too many frames refused by the TC test run: {refused} of {done}"
    );
    assert!(
        decided > done / 2,
        "the corpus must mostly exercise ARP/ND decisions ({decided} of {done})"
    );
}
