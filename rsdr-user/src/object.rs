//! The eBPF objects built by `build.rs`, embedded in the binary: the same
//! programs and maps, compiled for two BPF instruction sets. The loader
//! picks one by probing the running kernel (`crate::features`).

/// ELF bytes of the rsdr eBPF programs for BPF ISA v4 (Linux 6.6+; or the
/// ISA `RSDR_BPF_CPU` named at build time).
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/rsdr"));

/// The same programs for BPF ISA v3, which every supported kernel verifies.
pub static EBPF_OBJECT_V3: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/rsdr-v3"));
