//! Serialises `rsdr` invocations that change a pin directory.
//!
//! The lock is an exclusive flock on the directory that *holds* the pin
//! directory (e.g. /sys/fs/bpf for /sys/fs/bpf/rsdr), never on the pin
//! directory itself: `detach` and a failed first `attach` remove the pin
//! directory, and a lock on a removed directory would exclude nobody.
//! rsdr never removes the parent, so every rsdr on the machine meets there.

use std::{fs::File, io, ops::Deref, os::fd::AsRawFd as _, path::Path};

use super::{PinDir, PinError};

/// A pin directory whose lock this process holds, until dropped. Functions
/// that change pins or maps take one, so holding the lock is checked by
/// the compiler.
pub struct LockedPins<'a> {
    pins: &'a PinDir,
    _lock: File,
}

impl<'a> LockedPins<'a> {
    /// Block until no other rsdr holds the lock for `pins`.
    pub(super) fn acquire(pins: &'a PinDir) -> Result<Self, PinError> {
        let lock = flock_parent(pins.root()).map_err(|source| PinError::Lock {
            path: pins.root().to_path_buf(),
            source,
        })?;
        Ok(Self { pins, _lock: lock })
    }
}

impl Deref for LockedPins<'_> {
    type Target = PinDir;

    fn deref(&self) -> &PinDir {
        self.pins
    }
}

fn flock_parent(pin_dir: &Path) -> io::Result<File> {
    let mut dir = pin_dir.parent().unwrap_or(Path::new("/"));
    while !dir.exists() {
        dir = dir.parent().unwrap_or(Path::new("/"));
    }
    let f = File::open(dir)?;
    // SAFETY: valid fd owned by `f`.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(f)
}
