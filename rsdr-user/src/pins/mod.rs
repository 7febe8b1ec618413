//! Layout of rsdr's pin directory on bpffs.
//!
//! ```text
//! <pin-dir>/maps/RSDR_INDEX4 RSDR_INDEX6 RSDR_VIP_CTRS RSDR_POOLS4 RSDR_POOLS6
//!               RSDR_POOL_CTRS RSDR_STATS RSDR_CONFIG AYA_LOGS
//! <pin-dir>/progs/rsdr_xdp_ingress rsdr_tc_ingress rsdr_tc_egress
//! <pin-dir>/links/<iface>/xdp_native | xdp_skb | tc_ingress   (ingress bpf_link)
//! <pin-dir>/links/<iface>/tc_egress                (TCX bpf_link)
//! <pin-dir>/links/<iface>/<hook>_netlink            (the program of a hook
//!                                                    attached over netlink)
//! ```
//!
//! A hook attached over netlink (a cls_bpf filter, or `IFLA_XDP`) has no
//! link to pin: its program is pinned under the hook's name with a
//! `_netlink` suffix, which marks the attachment as rsdr's and tells which
//! program it runs.
//!
//! bpffs refuses names containing '.', so `<iface>` is the interface name
//! with '%' written "%25" and '.' written "%2e" (`eth0.100` -> `eth0%2e100`).
//!
//! Everything that keeps the filter running lives here, so the `rsdr`
//! process can exit: links stay attached while pinned.
//!
//! Which directory: [`PinDir::resolve`] decides once per run, from the
//! `--pin-dir` flag (or `RSDR_PIN_DIR`), the configuration file's
//! `pin_dir`, or the default. Changes are made holding its lock
//! ([`PinDir::lock`]); functions that need the lock take a [`LockedPins`].

use std::{
    ffi::CString,
    fs, io,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
};

use rsdr_common::maps::names;
use thiserror::Error;

pub use self::lock::LockedPins;
use crate::{
    config::Config,
    hook::{EGRESS_PIN_STEM, IngressAttachment, Via, pin_name},
};

pub(crate) mod escape;
mod lock;

pub use escape::{escape, unescape};

/// Default pin directory.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/rsdr";

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

#[derive(Debug, Error)]
pub enum PinError {
    #[error(
        "{path} is not on a bpf filesystem (nearest existing directory: {existing}); mount one with `mount -t bpf bpf {existing}`"
    )]
    NotBpffs { path: PathBuf, existing: PathBuf },
    #[error("nothing attached: no rsdr pins under {0} (run `rsdr attach IFACE` first)")]
    NothingAttached(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
    #[error(
        "another rsdr has held the lock on {path} for {secs} s (a command still running, or stuck: `fuser -v {path}` names it; RSDR_LOCK_TIMEOUT sets the wait in seconds); nothing changed"
    )]
    LockTimeout { path: PathBuf, secs: u64 },
    #[error("refusing pin directory {path}: {why}")]
    Unsafe { path: PathBuf, why: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PinError + '_ {
    move |source| PinError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Debug)]
pub struct PinDir {
    root: PathBuf,
}

impl PinDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The pin directory of this run: `flag` (`--pin-dir`, or
    /// `RSDR_PIN_DIR`), else the configuration file's `pin_dir`, else
    /// [`DEFAULT_PIN_DIR`].
    pub fn resolve(flag: Option<&Path>, config: Option<&Config>) -> Self {
        let root = flag
            .map(Path::to_path_buf)
            .or_else(|| config.and_then(|c| c.pin_dir.clone()))
            .unwrap_or_else(|| DEFAULT_PIN_DIR.into());
        Self::new(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn maps_dir(&self) -> PathBuf {
        self.root.join("maps")
    }

    pub fn progs_dir(&self) -> PathBuf {
        self.root.join("progs")
    }

    pub fn links_dir(&self) -> PathBuf {
        self.root.join("links")
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.maps_dir().join(name)
    }

    pub fn prog(&self, name: &str) -> PathBuf {
        self.progs_dir().join(name)
    }

    pub fn iface_dir(&self, iface: &str) -> PathBuf {
        self.links_dir().join(escape(iface))
    }

    /// The pin of `iface`'s ingress hook attached as `a`.
    pub fn ingress_pin(&self, iface: &str, a: IngressAttachment) -> PathBuf {
        self.iface_dir(iface).join(a.pin_name())
    }

    /// The pin of `iface`'s TC egress hook attached `via`.
    pub fn egress_pin(&self, iface: &str, via: Via) -> PathBuf {
        self.iface_dir(iface).join(pin_name(EGRESS_PIN_STEM, via))
    }

    /// The pinned ingress hook of `iface` and how it is attached, if any.
    pub fn find_ingress(&self, iface: &str) -> Option<(PathBuf, IngressAttachment)> {
        IngressAttachment::ALL
            .into_iter()
            .map(|a| (self.ingress_pin(iface, a), a))
            .find(|(p, _)| p.exists())
    }

    /// The pinned TC egress hook of `iface` and how it is attached, if any.
    pub fn find_egress(&self, iface: &str) -> Option<(PathBuf, Via)> {
        [Via::Link, Via::Netlink]
            .into_iter()
            .map(|via| (self.egress_pin(iface, via), via))
            .find(|(p, _)| p.exists())
    }

    /// Fails unless the pin directory (or, if absent, its nearest existing
    /// ancestor) is on bpffs: pins cannot be created anywhere else.
    pub fn check_bpffs(&self) -> Result<(), PinError> {
        let mut existing = self.root.as_path();
        while !existing.exists() {
            existing = existing.parent().unwrap_or(Path::new("/"));
        }
        if !is_bpffs(existing).map_err(io_err(existing))? {
            return Err(PinError::NotBpffs {
                path: self.root.clone(),
                existing: existing.to_path_buf(),
            });
        }
        Ok(())
    }

    /// True when a loaded rsdr lives here (its config map is pinned).
    pub fn is_loaded(&self) -> bool {
        self.map(names::CONFIG).exists()
    }

    /// Fails with [`PinError::NothingAttached`] unless rsdr is loaded here.
    pub fn require_loaded(&self) -> Result<(), PinError> {
        self.check_bpffs()?;
        if self.is_loaded() {
            Ok(())
        } else {
            Err(PinError::NothingAttached(self.root.clone()))
        }
    }

    /// Serialise with every other rsdr changing this pin directory (see
    /// `lock.rs`); held until the returned value is dropped. Fails after
    /// waiting [`lock::lock_timeout`], and if the directory is not safe
    /// ([`PinDir::check_safe`]).
    pub fn lock(&self) -> Result<LockedPins<'_>, PinError> {
        LockedPins::acquire(self)
    }

    /// [`PinDir::lock`], waiting without blocking the thread (the
    /// service's event loop).
    pub async fn lock_async(&self) -> Result<LockedPins<'_>, PinError> {
        LockedPins::acquire_async(self).await
    }

    /// The directories rsdr makes under the pin directory.
    fn own_dirs(&self) -> [PathBuf; 5] {
        [
            self.maps_dir(),
            self.progs_dir(),
            self.links_dir(),
            self.root.join("build"),
            crate::vrrp::record::dir(self),
        ]
    }

    /// Refuse a pin directory (or one of rsdr's directories in it) that
    /// another user owns or that others may write: whoever can write there
    /// can pin programs rsdr would attach.
    pub fn check_safe(&self) -> Result<(), PinError> {
        use std::os::unix::fs::MetadataExt as _;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        for d in std::iter::once(self.root.clone()).chain(self.own_dirs()) {
            let Ok(meta) = fs::symlink_metadata(&d) else {
                continue;
            };
            let why = if !meta.is_dir() {
                Some("not a directory".to_string())
            } else if meta.uid() != me {
                Some(format!(
                    "{} is owned by uid {}, not by rsdr's uid {me}",
                    d.display(),
                    meta.uid()
                ))
            } else if meta.mode() & 0o022 != 0 {
                Some(format!(
                    "{} is writable by others (mode {:o}); `chmod go-w` it",
                    d.display(),
                    meta.mode() & 0o7777
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(PinError::Unsafe {
                    path: self.root.clone(),
                    why,
                });
            }
        }
        Ok(())
    }

    pub fn create_dirs(&self) -> Result<(), PinError> {
        use std::os::unix::fs::DirBuilderExt as _;
        for d in std::iter::once(self.root.clone()).chain(self.own_dirs()) {
            // Owner-writable only, whatever the umask.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&d)
                .map_err(io_err(&d))?;
        }
        self.check_safe()
    }

    /// Interfaces with a link directory, sorted by name.
    pub fn interfaces(&self) -> Result<Vec<String>, PinError> {
        let dir = self.links_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(io_err(&dir))?;
            out.push(unescape(&e.file_name().to_string_lossy()));
        }
        out.sort();
        Ok(out)
    }

    /// Remove rsdr's pins and directories, and nothing else: its maps and
    /// programs by name, its build stamps, link directories it left empty;
    /// then each of its directories and the pin directory itself, if
    /// empty. Whatever another tool pinned here stays.
    pub fn remove_all(&self) -> Result<(), PinError> {
        let gone = |r: io::Result<()>, p: &Path| match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(p)(e)),
        };
        for name in crate::loader::PINNED_MAPS {
            let p = self.map(name);
            gone(fs::remove_file(&p), &p)?;
        }
        for name in crate::loader::PINNED_PROGRAMS {
            let p = self.prog(name);
            gone(fs::remove_file(&p), &p)?;
        }
        crate::upgrade::forget(self).map_err(io_err(&self.root))?;
        crate::vrrp::record::forget(self).map_err(io_err(&self.root))?;
        for iface in self.interfaces()? {
            // Emptied by detach; one that is not keeps what is in it.
            let _ = fs::remove_dir(self.iface_dir(&iface));
        }
        for d in self.own_dirs().iter().chain(std::iter::once(&self.root)) {
            let _ = fs::remove_dir(d);
        }
        Ok(())
    }
}

fn is_bpffs(path: &Path) -> io::Result<bool> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: zeroed statfs is a valid out-parameter; `c` is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64 == BPF_FS_MAGIC)
}
