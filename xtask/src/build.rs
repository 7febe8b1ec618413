//! `cargo xtask build`: the rsdr binary, with its eBPF object embedded.

use std::path::PathBuf;

use crate::util::{cargo, exec, workspace_root};

#[derive(clap::Args)]
pub struct Args {
    /// Build the tests' flavour (debug, with test hooks and benchmark
    /// programs) instead of the shipped one (release)
    #[arg(long)]
    pub testing: bool,
}

/// Which `rsdr` to build.
#[derive(Clone, Copy, Debug)]
pub enum Flavour {
    /// What operators run (the package's, the lab's): release, no test
    /// hooks, no benchmark programs.
    Shipped,
    /// The tests': debug, with rsdr-user's `testing` feature (the hooks the
    /// tests drive and the benchmark programs their harness loads), as
    /// `cargo test --workspace` builds rsdr-user, so one build serves both.
    Testing,
}

/// Set up, build, and return the path of the `rsdr` binary.
pub fn run_build(flavour: Flavour) -> anyhow::Result<PathBuf> {
    crate::setup::run()?;
    let mut cmd = cargo();
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "rsdr-user", "--bin", "rsdr"]);
    let release = match flavour {
        Flavour::Shipped => {
            cmd.arg("--release");
            true
        }
        Flavour::Testing => {
            cmd.args(["--features", "testing"]);
            false
        }
    };
    exec(&mut cmd)?;
    let bin = workspace_root()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("rsdr");
    anyhow::ensure!(
        bin.is_file(),
        "build finished but {} is missing",
        bin.display()
    );
    Ok(bin)
}

pub fn run(args: &Args) -> anyhow::Result<PathBuf> {
    let bin = run_build(if args.testing {
        Flavour::Testing
    } else {
        Flavour::Shipped
    })?;
    println!("built {}", bin.display());
    Ok(bin)
}
