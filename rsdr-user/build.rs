//! Builds the eBPF objects (crate `rsdr-ebpf`, target bpfel-unknown-none, on
//! the nightly toolchain with bpf-linker) and leaves them in OUT_DIR, where
//! `src/object.rs` embeds them into the `rsdr` binary: `rsdr` for BPF ISA
//! v4 and `rsdr-v3` for v3, both from one compile (the linker wrapper,
//! rsdr-ebpf/bpf-linker-cpu, generates code twice). With the `testing`
//! feature, the objects carry the benchmark programs as well.
//!
//! Set up the toolchain with `cargo xtask setup`.

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    // Read by the eBPF object's linker wrapper (rsdr-ebpf/bpf-linker-cpu).
    println!("cargo:rerun-if-env-changed=RSDR_BPF_CPU");
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").context("OUT_DIR")?);
    let v3 = out_dir.join("rsdr-v3");
    // SAFETY: the build script is single-threaded; the variable is read by
    // the linker the eBPF build below runs.
    unsafe { std::env::set_var("RSDR_BPF_V3_OUT", &v3) };
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
    // The `testing` feature embeds the benchmark programs too.
    let features: &[&str] = if std::env::var_os("CARGO_FEATURE_TESTING").is_some() {
        &["bench"]
    } else {
        &[]
    };
    aya_build::build_ebpf(
        [Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            features,
            ..Default::default()
        }],
        Toolchain::default(),
    )
    .context("building the eBPF object failed; is the toolchain set up? run `cargo xtask setup`")?;
    anyhow::ensure!(
        v3.is_file(),
        "the eBPF build left no v3 object at {}: is rsdr-ebpf/bpf-linker-cpu the linker?",
        v3.display()
    );
    // The datapath's build: a hash of both objects (FNV-1a, 64 bits),
    // which `upgrade.rs` records beside the pins and compares.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for obj in [out_dir.join("rsdr"), v3] {
        let bytes = std::fs::read(&obj).with_context(|| format!("reading {}", obj.display()))?;
        for b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=RSDR_DATAPATH_HASH={hash:016x}");
    Ok(())
}
