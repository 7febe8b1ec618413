//! `cargo xtask bench`: rsdr's costs measured on this machine, each beside
//! a baseline measured in the same run. The machine is small and shared,
//! so every figure is the median of several repetitions, and every record
//! says which path it measures.

pub mod control;
pub mod cost;
pub mod flood;
pub mod ns_program;
pub mod report;
pub mod tax;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// "cost", "flood", "tax" or "control".
    pub section: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// The record this one is compared with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// value / baseline value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// What exactly was measured.
    pub path: String,
    /// Every repetition, in order.
    pub samples: Vec<f64>,
    /// Section-specific extras (targets, deltas).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl Record {
    pub fn new(
        section: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        path: impl Into<String>,
        samples: Vec<f64>,
    ) -> Self {
        Self {
            section: section.to_string(),
            name: name.into(),
            value: median(&samples),
            unit: unit.to_string(),
            baseline: None,
            ratio: None,
            path: path.into(),
            samples,
            details: BTreeMap::new(),
        }
    }

    pub fn against(mut self, baseline: &Record) -> Self {
        self.baseline = Some(baseline.name.clone());
        if baseline.value != 0.0 {
            self.ratio = Some(self.value / baseline.value);
        }
        self
    }

    /// Compare round by round: `self.samples[i]` and `baseline.samples[i]`
    /// were taken in the same round, so the ratio is the median of the
    /// per-round ratios (drift between rounds cancels), and the quartiles
    /// of those ratios go into `ratio_q1`/`ratio_q3` to show the noise.
    pub fn against_paired(mut self, baseline: &Record) -> Self {
        self.baseline = Some(baseline.name.clone());
        let mut ratios: Vec<f64> = self
            .samples
            .iter()
            .zip(&baseline.samples)
            .filter(|(_, b)| **b != 0.0)
            .map(|(a, b)| a / b)
            .filter(|r| r.is_finite())
            .collect();
        if ratios.is_empty() {
            return self;
        }
        self.ratio = Some(median(&ratios));
        ratios.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let n = ratios.len();
        let (q1, q3) = (ratios[n / 4], ratios[(3 * n) / 4]);
        self.detail("ratio_q1", q1).detail("ratio_q3", q3)
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// Median (mean of the middle two for even counts); 0 for no samples.
pub fn median(samples: &[f64]) -> f64 {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Where and how the figures were made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub kernel: String,
    pub cpu: String,
    pub cores: usize,
    pub date: String,
}

impl Machine {
    pub fn read() -> Self {
        let out = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            kernel: out("uname", &["-r"]),
            cpu,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            date: out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub command: String,
    pub quick: bool,
    pub machine: Machine,
    pub records: Vec<Record>,
}

impl Results {
    pub fn get(&self, name: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.name == name)
    }
}

/// Busy CPU time of the whole machine so far, in nanoseconds (from /proc/stat).
pub fn cpu_busy_ns() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = [0usize, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|i| v.get(*i))
        .sum::<f64>();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    busy / hz * 1e9
}
