//! Rebuild the eBPF object when the bpf-linker binary changes (it is an
//! undeclared build dependency: rustc invokes it as the linker).
fn main() {
    match which::which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(err) => println!("cargo:warning=bpf-linker not found ({err}); run `cargo xtask setup`"),
    }
    // The linker wrapper (.cargo/config.toml) picks the instruction set.
    println!("cargo:rerun-if-changed=bpf-linker-cpu");
    println!("cargo:rerun-if-env-changed=RSDR_BPF_CPU");
    println!("cargo:rerun-if-env-changed=RSDR_BPF_V3_OUT");
}
