//! `cargo xtask build`: the rsdr binary, with its eBPF object embedded.

use std::path::PathBuf;

use crate::util::{cargo, exec, workspace_root};

#[derive(clap::Args)]
pub struct Args {
    /// Build with optimisations
    #[arg(long)]
    pub release: bool,
}

/// Set up, build, and return the path of the `rsdr` binary.
pub fn run_build(release: bool) -> anyhow::Result<PathBuf> {
    crate::setup::run()?;
    let mut cmd = cargo();
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "rsdr-user", "--bin", "rsdr"]);
    if release {
        cmd.arg("--release");
    }
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
    let bin = run_build(args.release)?;
    println!("built {}", bin.display());
    Ok(bin)
}
