//! Layout of rsdr's pin directory on bpffs.
//!
//! ```text
//! <pin-dir>/maps/RSDR_INDEX4 RSDR_INDEX6 RSDR_VIP_CTRS RSDR_POOLS4 RSDR_POOLS6
//!               RSDR_POOL_CTRS RSDR_STATS RSDR_CONFIG AYA_LOGS
//! <pin-dir>/progs/rsdr_xdp_ingress rsdr_tc_ingress rsdr_tc_egress
//! <pin-dir>/links/<iface>/xdp_native | xdp_skb | tc_ingress   (ingress bpf_link)
//! <pin-dir>/links/<iface>/tc_egress                (TCX bpf_link)
//! ```
//!
//! bpffs refuses names containing '.', so `<iface>` is the interface name
//! with '%' written "%25" and '.' written "%2e" (`eth0.100` -> `eth0%2e100`).
//!
//! Everything that keeps the filter running lives here, so the `rsdr`
//! process can exit: links stay attached while pinned. Programs can later be
//! swapped inside the pinned links atomically (BPF_LINK_UPDATE), which is
//! what makes restarts and upgrades window-free.

use std::{
    ffi::CString,
    fs, io,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
};

use rsdr_common::maps::names;
use thiserror::Error;

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
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PinError + '_ {
    move |source| PinError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The ingress hook of an interface, as recorded in its link pin's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingress {
    /// XDP in native (driver) mode.
    XdpNative,
    /// XDP in skb (generic) mode.
    XdpSkb,
    /// TC ingress through TCX.
    Tc,
}

impl Ingress {
    pub const ALL: [Ingress; 3] = [Ingress::XdpNative, Ingress::XdpSkb, Ingress::Tc];

    /// "xdp native", "xdp skb" or "tcx".
    pub const fn as_str(self) -> &'static str {
        match self {
            Ingress::XdpNative => "xdp native",
            Ingress::XdpSkb => "xdp skb",
            Ingress::Tc => "tcx",
        }
    }

    /// Hook kind: "xdp" or "tcx".
    pub const fn kind(self) -> &'static str {
        match self {
            Ingress::XdpNative | Ingress::XdpSkb => "xdp",
            Ingress::Tc => "tcx",
        }
    }

    /// XDP mode ("native", "skb"); none for TC.
    pub const fn xdp_mode(self) -> Option<&'static str> {
        match self {
            Ingress::XdpNative => Some("native"),
            Ingress::XdpSkb => Some("skb"),
            Ingress::Tc => None,
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Ingress::XdpNative => "xdp_native",
            Ingress::XdpSkb => "xdp_skb",
            Ingress::Tc => "tc_ingress",
        }
    }
}

const TC_EGRESS_LINK: &str = "tc_egress";

#[derive(Clone, Debug)]
pub struct PinDir {
    root: PathBuf,
}

impl PinDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
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

    pub fn ingress_link(&self, iface: &str, hook: Ingress) -> PathBuf {
        self.iface_dir(iface).join(hook.file_name())
    }

    pub fn tc_egress_link(&self, iface: &str) -> PathBuf {
        self.iface_dir(iface).join(TC_EGRESS_LINK)
    }

    /// The pinned ingress link of `iface` and its hook, if any.
    pub fn find_ingress_link(&self, iface: &str) -> Option<(PathBuf, Ingress)> {
        Ingress::ALL
            .into_iter()
            .map(|m| (self.ingress_link(iface, m), m))
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
    /// [`crate::lock`]); held until the guard is dropped.
    pub fn lock(&self) -> Result<crate::lock::PinLock, PinError> {
        crate::lock::PinLock::acquire(&self.root).map_err(|source| PinError::Lock {
            path: self.root.clone(),
            source,
        })
    }

    pub fn create_dirs(&self) -> Result<(), PinError> {
        for d in [
            self.root.clone(),
            self.maps_dir(),
            self.progs_dir(),
            self.links_dir(),
        ] {
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        Ok(())
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

    /// Remove the whole pin tree (pins and directories).
    pub fn remove_all(&self) -> Result<(), PinError> {
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.root)(e)),
        }
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

/// An interface name as a bpffs file name (bpffs refuses '.').
pub fn escape(iface: &str) -> String {
    iface.replace('%', "%25").replace('.', "%2e")
}

/// The inverse of [`escape`] (one left-to-right pass over `%XX` escapes).
pub fn unescape(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_survive_escaping() {
        for name in ["eth0", "eth0.100", "a%2eb", "v.l.a.n", "%"] {
            let e = escape(name);
            assert!(!e.contains('.'), "{e} must not contain a dot");
            assert_eq!(unescape(&e), name);
        }
    }
}
