//! Builds the eBPF object (crate `rsdr-ebpf`, target bpfel-unknown-none, on
//! the nightly toolchain with bpf-linker) and leaves it in OUT_DIR, where
//! `src/object.rs` embeds it into the `rsdr` binary.
//!
//! Set up the toolchain with `cargo xtask setup`.

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    // Read by the eBPF object's linker wrapper (rsdr-ebpf/bpf-linker-cpu).
    println!("cargo:rerun-if-env-changed=RSDR_BPF_CPU");
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "rsdr-ebpf")
        .ok_or_else(|| anyhow!("rsdr-ebpf package not found in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("rsdr-ebpf manifest has no parent directory"))?;
    aya_build::build_ebpf(
        [Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        Toolchain::default(),
    )
    .context("building the eBPF object failed; is the toolchain set up? run `cargo xtask setup`")
}
