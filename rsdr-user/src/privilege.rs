//! Checks that the process may load BPF programs and change interfaces,
//! before anything is attempted, so an unprivileged run fails with one clear
//! line instead of a syscall error halfway through.

use std::fs;

use thiserror::Error;

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

#[derive(Debug, Error)]
pub enum PrivilegeError {
    #[error("permission denied: rsdr needs root (CAP_BPF or CAP_SYS_ADMIN{extra})")]
    Missing { extra: &'static str },
    #[error("cannot read process capabilities: {0}")]
    Read(#[from] std::io::Error),
}

/// What an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Reading and writing pinned maps.
    Bpf,
    /// Loading programs and attaching them to interfaces.
    BpfAndNetAdmin,
}

pub fn require(need: Need) -> Result<(), PrivilegeError> {
    let status = fs::read_to_string("/proc/self/status")?;
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let bpf = has(CAP_BPF) || has(CAP_SYS_ADMIN);
    let net = has(CAP_NET_ADMIN);
    match need {
        Need::Bpf if bpf => Ok(()),
        Need::BpfAndNetAdmin if bpf && net => Ok(()),
        Need::Bpf => Err(PrivilegeError::Missing { extra: "" }),
        Need::BpfAndNetAdmin => Err(PrivilegeError::Missing {
            extra: ", and CAP_NET_ADMIN",
        }),
    }
}
