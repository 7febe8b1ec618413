//! The eBPF object built by `build.rs`, embedded in the binary.

/// ELF bytes of the rsdr eBPF programs (both programs, all maps).
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/rsdr"));
