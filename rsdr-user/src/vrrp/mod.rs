//! VIPs that follow a keepalived VRRP instance (docs/two-node.md): while
//! the instance is MASTER on this host, the host is the director and must
//! answer and announce the VIP; in every other state it is a real server
//! and rsdr filters the VIP as any other.
//!
//! The instance states rsdr has been told live in the pin directory
//! ([`record`]), next to the tables they shape, so that every rsdr
//! (`rsdr vrrp` from a notify script, the service reading keepalived's
//! notify FIFO, a later `rsdr apply`) sees the same state, and a reboot
//! (which empties bpffs) forgets it: a host that has heard nothing from
//! keepalived filters.

pub mod notify;
pub mod record;
mod switch;

use std::{fmt, str::FromStr};

use thiserror::Error;

pub use switch::{SwitchError, Switched, require_current_datapath, switch, with_vrrp};

/// A VRRP instance's state, as keepalived reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Master,
    Backup,
    Fault,
    /// keepalived stopped the instance (it is shutting down, or the
    /// instance left its configuration).
    Stop,
}

impl State {
    pub const ALL: [State; 4] = [State::Master, State::Backup, State::Fault, State::Stop];

    /// As rsdr prints it and takes it: "master", "backup", "fault", "stop".
    pub const fn name(self) -> &'static str {
        match self {
            State::Master => "master",
            State::Backup => "backup",
            State::Fault => "fault",
            State::Stop => "stop",
        }
    }

    /// Only a master unfilters its VIPs.
    pub const fn is_master(self) -> bool {
        matches!(self, State::Master)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VrrpError {
    #[error("unknown VRRP state {0:?} (expected master, backup, fault or stop)")]
    UnknownState(String),
    #[error("VRRP instance name {0:?} is not valid: {1}")]
    BadName(String, &'static str),
}

impl FromStr for State {
    type Err = VrrpError;

    /// Any case: keepalived writes "MASTER", people type "master".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| VrrpError::UnknownState(s.to_string()))
    }
}

/// Longest instance name rsdr takes (keepalived's own limit is the line
/// length of its configuration).
pub const MAX_NAME: usize = 64;

/// Check a VRRP instance name: 1 to [`MAX_NAME`] bytes, printable, no
/// spaces or quotes (keepalived quotes names in its notify lines).
pub fn validate_name(name: &str) -> Result<(), VrrpError> {
    let bad = |why| Err(VrrpError::BadName(name.to_string(), why));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME {
        return bad("longer than 64 bytes");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '/')
    {
        return bad("spaces, quotes, slashes and control characters are not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_in_any_case_and_print_lowercase() {
        for s in State::ALL {
            assert_eq!(s.name().to_uppercase().parse::<State>(), Ok(s));
            assert_eq!(s.to_string().parse::<State>(), Ok(s));
        }
        assert!("primary".parse::<State>().is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("VI_1").is_ok());
        assert!(validate_name("vip-web.1").is_ok());
        for bad in ["", "a b", "a\"b", "a/b", &"x".repeat(65), "a\nb"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
