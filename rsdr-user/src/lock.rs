//! Serialises concurrent `rsdr` invocations on one pin directory with an
//! exclusive flock on the directory itself.

use std::{fs::File, io, os::fd::AsRawFd as _, path::Path};

pub struct PinLock {
    _dir: File,
}

impl PinLock {
    /// Block until no other rsdr holds the lock on `dir`.
    pub fn acquire(dir: &Path) -> io::Result<Self> {
        let f = File::open(dir)?;
        // SAFETY: valid fd owned by `f`.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { _dir: f })
    }
}
