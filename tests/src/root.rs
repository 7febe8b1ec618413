//! Privileged tests must run: without root they fail, never skip.

/// Panics with a clear message unless the process can load BPF programs and
/// manage network namespaces.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (BPF programs, network namespaces); run `sudo cargo xtask test` - privileged tests never skip"
    );
}
