//! Serialises `rsdr` invocations that change a pin directory.
//!
//! The lock is an exclusive flock on the directory that *holds* the pin
//! directory (e.g. /sys/fs/bpf for /sys/fs/bpf/rsdr), never on the pin
//! directory itself: `detach` and a failed first `attach` remove the pin
//! directory, and a lock on a removed directory would exclude nobody.
//! rsdr never removes the parent, so every rsdr on the machine meets there.
//!
//! Waiting for the lock is bounded ([`lock_timeout`]): a stuck rsdr (or
//! another tool holding a lock on the same directory) gets a clear error,
//! never a hang. The holder may legitimately take a while (loading the
//! programs takes tens of seconds on a slow or emulated CPU), so the
//! default is generous; `RSDR_LOCK_TIMEOUT` (seconds) changes it. The service waits asynchronously, so its event loop keeps
//! answering meanwhile.

use std::{
    fs::File,
    io,
    ops::Deref,
    os::fd::AsRawFd as _,
    path::Path,
    time::{Duration, Instant},
};

use super::{PinDir, PinError};

/// The longest rsdr waits for another rsdr to release the lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// The environment variable that sets the wait, in seconds.
pub const LOCK_TIMEOUT_ENV: &str = "RSDR_LOCK_TIMEOUT";

/// How long to wait for the lock: `RSDR_LOCK_TIMEOUT` seconds if set to a
/// number, else [`LOCK_TIMEOUT`].
pub fn lock_timeout() -> Duration {
    std::env::var(LOCK_TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(LOCK_TIMEOUT, Duration::from_secs)
}
const RETRY: Duration = Duration::from_millis(20);

/// A pin directory whose lock this process holds, until dropped. Functions
/// that change pins or maps take one, so holding the lock is checked by
/// the compiler.
pub struct LockedPins<'a> {
    pins: &'a PinDir,
    _lock: File,
}

impl<'a> LockedPins<'a> {
    /// Wait (at most [`lock_timeout`]) until no other rsdr holds the lock
    /// for `pins`, and check that the pin directory is safe to use.
    pub(super) fn acquire(pins: &'a PinDir) -> Result<Self, PinError> {
        let mut waiting = Waiting::start(pins)?;
        loop {
            if let Some(locked) = waiting.attempt()? {
                return Ok(locked);
            }
            std::thread::sleep(RETRY);
        }
    }

    /// [`LockedPins::acquire`] without blocking the thread while it waits.
    pub(super) async fn acquire_async(pins: &'a PinDir) -> Result<Self, PinError> {
        let mut waiting = Waiting::start(pins)?;
        loop {
            if let Some(locked) = waiting.attempt()? {
                return Ok(locked);
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// A wait for the lock, however the caller sleeps between attempts.
struct Waiting<'a> {
    pins: &'a PinDir,
    file: Option<File>,
    deadline: Instant,
}

impl<'a> Waiting<'a> {
    fn start(pins: &'a PinDir) -> Result<Self, PinError> {
        let file = File::open(lock_dir(pins.root())).map_err(|e| lock_err(pins, e))?;
        Ok(Self {
            pins,
            file: Some(file),
            deadline: Instant::now() + lock_timeout(),
        })
    }

    /// The lock if it is free now; an error once the wait is over.
    fn attempt(&mut self) -> Result<Option<LockedPins<'a>>, PinError> {
        let pins = self.pins;
        let file = self.file.as_ref().expect("attempted after success");
        if try_flock(file).map_err(|e| lock_err(pins, e))? {
            pins.check_safe()?;
            let lock = self.file.take().expect("the lock file");
            return Ok(Some(LockedPins { pins, _lock: lock }));
        }
        if Instant::now() >= self.deadline {
            return Err(timeout(pins));
        }
        Ok(None)
    }
}

fn lock_err(pins: &PinDir, source: io::Error) -> PinError {
    PinError::Lock {
        path: pins.root().to_path_buf(),
        source,
    }
}

fn timeout(pins: &PinDir) -> PinError {
    PinError::LockTimeout {
        path: lock_dir(pins.root()).to_path_buf(),
        secs: lock_timeout().as_secs(),
    }
}

impl Deref for LockedPins<'_> {
    type Target = PinDir;

    fn deref(&self) -> &PinDir {
        self.pins
    }
}

/// The directory whose flock is the lock: the nearest existing ancestor
/// of the pin directory.
fn lock_dir(pin_dir: &Path) -> &Path {
    let mut dir = pin_dir.parent().unwrap_or(Path::new("/"));
    while !dir.exists() {
        dir = dir.parent().unwrap_or(Path::new("/"));
    }
    dir
}

/// Take the exclusive flock on `f` if it is free: true if taken.
fn try_flock(f: &File) -> io::Result<bool> {
    // SAFETY: valid fd owned by `f`.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}
