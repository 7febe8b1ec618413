//! Serialises `rsdr` invocations that change a pin directory.
//!
//! The lock is an exclusive flock on the directory that *holds* the pin
//! directory (e.g. /sys/fs/bpf for /sys/fs/bpf/rsdr), never on the pin
//! directory itself: `detach` and a failed first `attach` remove the pin
//! directory, and a lock on a removed directory would exclude nobody.
//! rsdr never removes the parent, so every rsdr on the machine meets there.

use std::{fs::File, io, os::fd::AsRawFd as _, path::Path};

pub struct PinLock {
    _dir: File,
}

impl PinLock {
    /// Block until no other rsdr holds the lock for `pin_dir`.
    pub fn acquire(pin_dir: &Path) -> io::Result<Self> {
        let mut dir = pin_dir.parent().unwrap_or(Path::new("/"));
        while !dir.exists() {
            dir = dir.parent().unwrap_or(Path::new("/"));
        }
        let f = File::open(dir)?;
        // SAFETY: valid fd owned by `f`.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { _dir: f })
    }
}
