//! `rsdr apply` and `rsdr run`: bring the pinned state to what a
//! configuration says.
//!
//! Everything is checked before anything changes ([`crate::config`] checks
//! the file; [`plan()`] is a pure function of the configuration and the
//! running state that `current.rs` reads). The plan is printed as a diff
//! and then carried out step by step (`execute.rs`), in an order that never
//! leaves a VIP unfiltered:
//!
//! 1. attach new interfaces and change ingress hooks (filter first);
//! 2. add and update VIPs, then the monitor switch;
//! 3. add managed VIP addresses (only now are they covered);
//! 4. remove managed addresses that go (before their filter entries);
//! 5. remove VIPs that go;
//! 6. detach interfaces that go.
//!
//! Each step records its inverse; if one fails, the steps done so far are
//! undone in reverse order. A second run of the same file finds nothing to
//! do.

mod current;
mod execute;
mod plan;
mod step;

pub use current::{AttachedInterface, Current, current};
#[cfg(feature = "testing")]
pub use execute::FAIL_AT_STEP_ENV;
pub use execute::execute;
pub use plan::plan;
pub use step::Step;
use thiserror::Error;

use crate::{
    attach::AttachError,
    config::Config,
    netlink::NetlinkError,
    pins::{PinDir, PinError},
    settings::SettingsError,
    tables::VipError,
    upgrade,
};

#[derive(Debug, Error)]
pub enum ApplyError {
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Vips(#[from] VipError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Upgrade(#[from] upgrade::UpgradeError),
    #[error("VRRP record under {path}: {source}")]
    Vrrp {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A failure the tests inject (`testing` builds only).
    #[error("injected failure at step {0}")]
    Injected(usize),
    #[error(
        "step {step} ({what}) failed: {cause}; the {undone} step(s) done before it were rolled back"
    )]
    RolledBack {
        step: usize,
        what: String,
        undone: usize,
        cause: Box<ApplyError>,
    },
    #[error("step {step} ({what}) failed: {cause}; rolling back also failed: {rollback}")]
    RollbackFailed {
        step: usize,
        what: String,
        cause: Box<ApplyError>,
        rollback: Box<ApplyError>,
    },
}

/// Load and pin the programs and maps, sized by `load`, if they are not
/// yet: what a service that starts before its interfaces exist needs, so
/// that VIPs can be configured at once and each interface attached the
/// moment it appears.
pub fn ensure_loaded(pins: &PinDir, load: crate::loader::LoadOptions) -> Result<(), ApplyError> {
    pins.check_bpffs()?;
    let pins = pins.lock()?;
    if pins.is_loaded() {
        return Ok(());
    }
    pins.create_dirs()?;
    if let Err(e) = crate::loader::pinned_programs(&pins, load) {
        let _ = pins.remove_all();
        return Err(AttachError::from(e).into());
    }
    Ok(())
}

/// Bring the state under `pins` to `cfg`, holding the pin directory's lock
/// throughout: read what runs, plan, and carry the plan out, or with
/// `dry_run` only tell it. `say` receives one line (or, for a batch of
/// VIPs, a block of lines) per step. Returns the number of steps done.
pub async fn apply(
    pins: &PinDir,
    cfg: &Config,
    netlink: &rtnetlink::Handle,
    dry_run: bool,
    say: &mut dyn FnMut(String),
) -> Result<usize, ApplyError> {
    pins.check_bpffs()?;
    // The service calls this from its event loop: wait without blocking it.
    let pins = pins.lock_async().await?;
    let this = upgrade::Build::this();
    let mut upgraded = 0;
    if dry_run {
        if pins.is_loaded() && upgrade::running(&pins).as_ref() != Some(&this) {
            say(format!("^ datapath -> {this} (swapped in place)"));
        }
    } else if let Some(u) = upgrade::ensure_current(&pins, cfg.load)? {
        say(u.to_string());
        upgraded = 1;
    }
    let cur = current(&pins, netlink).await?;
    let steps = plan(cfg, &cur);
    if dry_run {
        for s in &steps {
            say(s.to_string());
        }
        return Ok(0);
    }
    let done = execute(&pins, cfg.load, netlink, steps, cur.loaded, say).await?;
    // Which VIPs follow which instance, for `rsdr vrrp` and `vip list`.
    crate::vrrp::record::set_members(&pins, &cfg.vrrp_members()).map_err(|source| {
        ApplyError::Vrrp {
            path: crate::vrrp::record::dir(&pins),
            source,
        }
    })?;
    Ok(upgraded + done)
}
