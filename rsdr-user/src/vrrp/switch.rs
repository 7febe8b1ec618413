//! One state change of one instance: record it, then set or clear the
//! master flag of each VIP that follows it (one store per VIP: the index
//! publishes a flags change with one write). The caller holds the pin
//! directory's lock.

use std::path::PathBuf;

use thiserror::Error;

use super::{State, record};
use crate::{
    entry::{VipEntry, VipFlag},
    pins::PinDir,
    tables::{VipError, VipTables},
    vip::Vip,
};

#[derive(Debug, Error)]
pub enum SwitchError {
    #[error("recording the VRRP state under {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tables(#[from] VipError),
    #[error(
        "the running datapath is {running}, not this rsdr's {this}, and may not know VRRP flags; run `rsdr apply` (or `rsdr attach`) first to swap in this build's"
    )]
    OldDatapath { running: String, this: String },
}

/// Refuse to set VRRP flags for a datapath of another build: one made
/// before VRRP ignores them (the master would never answer, keepalived's
/// announcements would be dropped).
pub fn require_current_datapath(pins: &PinDir) -> Result<(), SwitchError> {
    let this = crate::upgrade::Build::this();
    match crate::upgrade::running(pins) {
        Some(b) if b == this => Ok(()),
        running => Err(SwitchError::OldDatapath {
            running: running.map_or("of an rsdr before build stamps".into(), |b| b.to_string()),
            this: this.to_string(),
        }),
    }
}

/// What a switch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switched {
    pub instance: String,
    pub state: State,
    /// The state recorded before (`None`: never told).
    pub before: Option<State>,
    /// The VIPs whose filtering changed.
    pub changed: Vec<Vip>,
    /// The VIPs that follow the instance.
    pub members: Vec<Vip>,
}

impl std::fmt::Display for Switched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let before = self.before.map_or("unknown", State::name);
        let what = if self.state.is_master() {
            "answered and announced here (director)"
        } else {
            "filtered (real server)"
        };
        let vips: Vec<String> = self.members.iter().map(Vip::to_string).collect();
        write!(
            f,
            "VRRP instance {}: {before} -> {}; VIPs {what}: {}",
            self.instance,
            self.state,
            if vips.is_empty() {
                "none follow it".to_string()
            } else {
                vips.join(", ")
            }
        )
    }
}

/// `entry` with the VRRP flags for an instance that is (not) master here.
pub fn with_vrrp(entry: VipEntry, follows: bool, master: bool) -> VipEntry {
    VipEntry {
        flags: entry
            .flags
            .with(VipFlag::Vrrp, follows)
            .with(VipFlag::VrrpMaster, follows && master),
        ..entry
    }
}

/// Record `state` for `instance` and bring its VIPs' flags in line.
pub fn switch(pins: &PinDir, instance: &str, state: State) -> Result<Switched, SwitchError> {
    let err = |source| SwitchError::Record {
        path: record::dir(pins),
        source,
    };
    require_current_datapath(pins)?;
    // The record first: should the table writes fail, the next apply
    // brings the tables to what it says.
    let before = record::set_state(pins, instance, state).map_err(err)?;
    let members: Vec<Vip> = record::members(pins)
        .map_err(err)?
        .into_iter()
        .filter(|(_, i)| i == instance)
        .map(|(v, _)| v)
        .collect();
    let mut tables = VipTables::open(pins)?;
    let mut put = Vec::new();
    for vip in &members {
        if let Some(rec) = tables.get(vip)? {
            let want = with_vrrp(rec.entry, true, state.is_master());
            if want != rec.entry {
                put.push(want);
            }
        }
    }
    tables.put(&put)?;
    Ok(Switched {
        instance: instance.to_string(),
        state,
        before,
        changed: put.iter().map(|e| e.vip).collect(),
        members,
    })
}
