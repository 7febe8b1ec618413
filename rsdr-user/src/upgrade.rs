//! Upgrades with no window. Each build of rsdr stamps its datapath: its
//! version and a hash of its eBPF objects ([`Build`]), recorded beside the
//! pins as the name of an empty directory, `<pin-dir>/build/<stamp>`
//! (bpffs holds pins and directories only). When `attach`, `apply` or
//! `run` of another build finds rsdr running, it loads its own programs
//! against the pinned maps and swaps every attached hook to them in place
//! (`attach::swap_programs`): the tables, counters and links stay, and
//! frames meet one build's program or the other's, never none. A binary
//! older than the running datapath refuses to touch it.
//!
//! Pins made before builds were stamped count as an older build of the
//! same version. Maps whose layout changed still refuse (`rsdr detach`
//! first): migrating tables into new maps is not done.

use std::{fmt, fs, io};

use aya::programs::ProgramFd;
use rsdr_common::maps::programs;
use thiserror::Error;

use crate::{
    attach::{self, AttachError},
    loader::{self, LoadError, LoadOptions},
    pins::{LockedPins, PinDir},
};

/// A build of rsdr's datapath: the crate version and a hash of both eBPF
/// objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub version: String,
    pub hash: String,
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.version, self.hash)
    }
}

impl serde::Serialize for Build {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Set to `VERSION+HASH` to make this binary claim another build (tests
/// only: the `testing` feature).
#[cfg(feature = "testing")]
pub const BUILD_ENV: &str = "RSDR_TEST_BUILD";

impl Build {
    /// This binary's build.
    pub fn this() -> Self {
        #[cfg(feature = "testing")]
        if let Some(b) = std::env::var(BUILD_ENV)
            .ok()
            .and_then(|v| Self::parse(&v.replace('.', "_").replacen('+', "-", 1)))
        {
            return b;
        }
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            hash: env!("RSDR_DATAPATH_HASH").to_string(),
        }
    }

    /// As a directory name: bpffs refuses '.' in names.
    fn dir_name(&self) -> String {
        format!("{}-{}", self.version.replace('.', "_"), self.hash)
    }

    fn parse(dir_name: &str) -> Option<Self> {
        // The hash has no '-'; a version may ("0.3.0-rc1").
        let (v, h) = dir_name.rsplit_once('-')?;
        let version = v.replace('_', ".");
        (version_key(&version).is_some() && !h.is_empty()).then(|| Self {
            version,
            hash: h.to_string(),
        })
    }

    /// True if `self` is a later version than `other`.
    pub fn newer_than(&self, other: &Build) -> bool {
        version_key(&self.version) > version_key(&other.version)
    }
}

/// `MAJOR.MINOR.PATCH` as numbers, for ordering (a pre-release suffix,
/// "-rc1", orders with its release).
fn version_key(v: &str) -> Option<Vec<u64>> {
    let release = v.split_once('-').map_or(v, |(r, _)| r);
    release.split('.').map(|p| p.parse().ok()).collect()
}

#[derive(Debug, Error)]
pub enum UpgradeError {
    #[error(
        "the running datapath is rsdr {running}, newer than this rsdr {this}: use the newer rsdr (or `rsdr detach` first, which leaves the VIPs unfiltered)"
    )]
    Older { running: Build, this: Build },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("recording the datapath's build under {path}: {source}")]
    Record {
        path: std::path::PathBuf,
        source: io::Error,
    },
}

/// The build of the datapath running under `pins`: `None` if none is
/// loaded or it predates stamps.
pub fn running(pins: &PinDir) -> Option<Build> {
    let entries = fs::read_dir(pins.root().join("build")).ok()?;
    entries
        .flatten()
        .find_map(|e| Build::parse(&e.file_name().to_string_lossy()))
}

/// Record `build` as the running datapath's.
pub fn record(pins: &PinDir, build: &Build) -> Result<(), UpgradeError> {
    let dir = pins.root().join("build");
    let err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| UpgradeError::Record { path, source }
    };
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            if Build::parse(&e.file_name().to_string_lossy()).is_some() {
                fs::remove_dir(e.path()).map_err(err(&e.path()))?;
            }
        }
    }
    let mine = dir.join(build.dir_name());
    std::os::unix::fs::DirBuilderExt::mode(fs::DirBuilder::new().recursive(true), 0o755)
        .create(&mine)
        .map_err(err(&mine))
}

/// Remove the build stamps (when everything is detached).
pub fn forget(pins: &PinDir) -> io::Result<()> {
    let dir = pins.root().join("build");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if Build::parse(&e.file_name().to_string_lossy()).is_some() {
            fs::remove_dir(e.path())?;
        }
    }
    Ok(())
}

/// What an upgrade did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgraded {
    pub from: Option<Build>,
    pub to: Build,
    /// Hooks swapped in place.
    pub hooks: usize,
}

impl fmt::Display for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .from
            .as_ref()
            .map_or("an unstamped build".to_string(), Build::to_string);
        write!(
            f,
            "^ datapath {from} -> {} ({} hook(s) swapped in place; tables and counters kept)",
            self.to, self.hooks
        )
    }
}

/// If a datapath of another build runs under `pins`, swap this build's
/// programs in (see the module docs); refuse if it is newer. `None` when
/// nothing runs or it is this build already.
pub fn ensure_current(
    pins: &LockedPins<'_>,
    load: LoadOptions,
) -> Result<Option<Upgraded>, UpgradeError> {
    if !pins.is_loaded() {
        return Ok(None);
    }
    let this = Build::this();
    let from = running(pins);
    if from.as_ref() == Some(&this) {
        return Ok(None);
    }
    if let Some(running) = &from
        && running.newer_than(&this)
    {
        return Err(UpgradeError::Older {
            running: running.clone(),
            this,
        });
    }
    let ebpf = loader::load(Some(pins), load)?;
    let fd = |name: &'static str| -> Result<&ProgramFd, LoadError> {
        ebpf.program(name)
            .ok_or(LoadError::MissingProgram(name))?
            .fd()
            .map_err(|source| LoadError::Program { name, source })
    };
    let new = attach::NewPrograms {
        xdp: fd(loader::xdp_ingress_name())?,
        tc_ingress: fd(programs::TC_INGRESS)?,
        tc_egress: fd(programs::TC_EGRESS)?,
    };
    let hooks = attach::swap_programs(pins, &new)?;
    // Later attaches use this build's programs.
    for (name, prog) in [
        (programs::XDP_INGRESS, new.xdp),
        (programs::TC_INGRESS, new.tc_ingress),
        (programs::TC_EGRESS, new.tc_egress),
    ] {
        let path = pins.prog(name);
        attach::repin(prog, &path).map_err(|source| UpgradeError::Record {
            path: path.clone(),
            source,
        })?;
    }
    record(pins, &this)?;
    Ok(Some(Upgraded {
        from,
        to: this,
        hooks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_order_by_version() {
        let b = Build {
            version: "0.10.2".into(),
            hash: "00ff".into(),
        };
        assert_eq!(Build::parse(&b.dir_name()), Some(b.clone()));
        let older = Build {
            version: "0.9.7".into(),
            hash: "00ff".into(),
        };
        assert!(b.newer_than(&older) && !older.newer_than(&b));
        assert!(!b.newer_than(&b), "the same version is not newer");
        assert_eq!(Build::parse("not-a-version"), None);
        let rc = Build {
            version: "0.3.0-rc1".into(),
            hash: "ab".into(),
        };
        assert_eq!(Build::parse(&rc.dir_name()), Some(rc));
        assert!(
            !Build::this().dir_name().contains('.'),
            "bpffs refuses dots"
        );
    }
}
