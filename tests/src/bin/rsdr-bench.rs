//! The benchmark driver behind `cargo xtask bench` (run as root). Writes
//! target/bench/results.json and regenerates docs/benchmarks.md and its
//! charts.

use std::path::PathBuf;

use rsdr_tests::{
    bench::{Machine, Results, control, cost, flood, report, tax},
    cli::set_rsdr_bin,
    root::require_root,
};

struct Args {
    quick: bool,
    out: PathBuf,
    docs: PathBuf,
    only: Option<String>,
    /// Regenerate docs from the last results.json, measure nothing.
    report_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        quick: false,
        out: "target/bench".into(),
        docs: "docs".into(),
        only: None,
        report_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--quick" => a.quick = true,
            "--out" => a.out = it.next().expect("--out DIR").into(),
            "--docs" => a.docs = it.next().expect("--docs DIR").into(),
            "--rsdr-bin" => set_rsdr_bin(it.next().expect("--rsdr-bin PATH").into()),
            "--only" => a.only = Some(it.next().expect("--only SECTION")),
            "--report-only" => a.report_only = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let a = args();
    if a.report_only {
        let bytes =
            std::fs::read(a.out.join("results.json")).expect("results.json from an earlier run");
        let results: Results = serde_json::from_slice(&bytes).expect("results.json");
        let charts = report::charts(&results, &a.docs).unwrap_or_else(|e| panic!("charts: {e}"));
        std::fs::write(
            a.docs.join("benchmarks.md"),
            report::markdown(&results, &charts),
        )
        .expect("write benchmarks.md");
        return;
    }
    require_root();
    let want = |s: &str| a.only.as_deref().is_none_or(|o| o == s);
    let mut records = Vec::new();
    let (repeat, reps) = if a.quick {
        (200_000, 3)
    } else {
        (1_000_000, 11)
    };
    if want("cost") {
        let scales: Vec<cost::Tables> = if a.quick {
            vec![
                cost::Tables::Vips(1),
                cost::Tables::Vips(10_000),
                cost::Tables::Pool,
                cost::Tables::V3Object,
            ]
        } else {
            vec![
                cost::Tables::Vips(1),
                cost::Tables::Vips(10_000),
                cost::Tables::Vips(1_000_000),
                cost::Tables::Pool,
                cost::Tables::V3Object,
            ]
        };
        for t in scales {
            eprintln!("bench: program cost, {t:?}");
            records.extend(cost::run(t, repeat, reps));
        }
        eprintln!("bench: ways to write a frame");
        records.extend(cost::writes(repeat, reps));
    }
    if want("flood") {
        eprintln!("bench: ARP flood");
        records.extend(flood::run(
            if a.quick { 1_000_000 } else { 4_000_000 },
            if a.quick { 3 } else { 5 },
        ));
    }
    if want("tax") {
        eprintln!("bench: tax on normal traffic");
        records.extend(tax::run(
            if a.quick { 1 } else { 3 },
            if a.quick { 3 } else { 9 },
        ));
    }
    if want("control") {
        eprintln!("bench: control plane");
        records.extend(control::run(if a.quick { 2 } else { 3 }, 10_000));
    }
    let command = format!("cargo xtask bench{}", if a.quick { " --quick" } else { "" });
    // With --only, keep the other sections of the previous run.
    if let Some(only) = &a.only {
        let old = std::fs::read(a.out.join("results.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Results>(&b).ok());
        if let Some(old) = old {
            let mut kept: Vec<_> = old
                .records
                .into_iter()
                .filter(|r| &r.section != only && !(only == "cost" && r.section == "writes"))
                .collect();
            kept.extend(records);
            records = kept;
        }
    }
    let results = Results {
        command,
        quick: a.quick,
        machine: Machine::read(),
        records,
    };
    std::fs::create_dir_all(&a.out).expect("output directory");
    let json = serde_json::to_string_pretty(&results).expect("JSON");
    std::fs::write(a.out.join("results.json"), json).expect("write results.json");
    let charts = report::charts(&results, &a.docs).unwrap_or_else(|e| panic!("charts: {e}"));
    std::fs::write(
        a.docs.join("benchmarks.md"),
        report::markdown(&results, &charts),
    )
    .expect("write benchmarks.md");
    eprintln!(
        "bench: wrote {} and {}",
        a.out.join("results.json").display(),
        a.docs.join("benchmarks.md").display()
    );
}
