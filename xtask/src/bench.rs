//! `cargo xtask bench [--quick]`: build in release mode, run the benchmark
//! driver (tests/src/bin/rsdr-bench.rs) as root, and regenerate
//! docs/benchmarks.md, its charts and target/bench/results.json.

use anyhow::bail;

use crate::util::{cargo, exec, is_root, workspace_root};

#[derive(clap::Args)]
pub struct Args {
    /// Fewer and shorter repetitions (a few minutes instead of ~15)
    #[arg(long)]
    quick: bool,
    /// Only one section: cost, flood, tax or control
    #[arg(long, value_name = "SECTION")]
    only: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask bench must run as root (it loads BPF programs and builds network namespaces)"
        );
    }
    let rsdr = crate::build::run_build(crate::build::Flavour::Shipped)?;
    let root = workspace_root();
    exec(cargo().current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "rsdr-tests",
        "--bin",
        "rsdr-bench",
    ]))?;
    let mut cmd = std::process::Command::new(root.join("target/release/rsdr-bench"));
    cmd.current_dir(&root).arg("--rsdr-bin").arg(&rsdr).args([
        "--out",
        "target/bench",
        "--docs",
        "docs",
    ]);
    if args.quick {
        cmd.arg("--quick");
    }
    if let Some(only) = &args.only {
        cmd.args(["--only", only]);
    }
    exec(&mut cmd)?;
    println!("bench: see docs/benchmarks.md and target/bench/results.json");
    Ok(())
}
