//! keepalived's notify FIFO (`notify_fifo` in its `global_defs`, the same
//! path as `vrrp_notify_fifo` in rsdr's file): one reader, lines in the
//! order keepalived's state machine took them, which notify scripts
//! (forked one per change) do not guarantee.
//!
//! The service creates the FIFO (mode 0600, and its directory, 0755) if it
//! is missing, because it starts before keepalived, and refuses one that
//! another user owns or others may write (whoever writes to it decides
//! which host answers for the VIPs). It opens it read-write, so that it
//! neither waits for keepalived nor sees end-of-file when keepalived
//! restarts. keepalived removes a FIFO it created itself when it exits and
//! makes a new one when it starts: every second the reader checks that the
//! path is still the FIFO it reads, and opens it again if not. Lines
//! longer than [`MAX_LINE`] are dropped with a warning.

use std::{
    ffi::CString,
    os::unix::{
        ffi::OsStrExt as _,
        fs::{DirBuilderExt as _, FileTypeExt as _, MetadataExt as _},
    },
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{io::AsyncReadExt as _, net::unix::pipe, sync::mpsc};
use tracing::{debug, error, info, warn};

use super::DaemonError;
use crate::vrrp::{
    State,
    notify::{self, Line},
};

/// Longest line taken; keepalived's are under 100 bytes.
pub const MAX_LINE: usize = 4096;

/// How often the reader checks that the path is still its FIFO.
const RECHECK: Duration = Duration::from_secs(1);

fn fifo_err(path: &Path) -> impl Fn(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Fifo {
        path: path.to_path_buf(),
        source,
    }
}

/// Make `path` a FIFO if nothing is there (and its directory if missing);
/// refuse anything else there, and a FIFO that is not safe to trust.
fn ensure_fifo(path: &Path) -> Result<std::fs::Metadata, DaemonError> {
    let err = fifo_err(path);
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(&err)?;
        let m = std::fs::metadata(dir).map_err(&err)?;
        if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            return Err(err(std::io::Error::other(format!(
                "its directory {} is writable by others (mode {:o}) and not sticky",
                dir.display(),
                m.mode() & 0o7777
            ))));
        }
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| err(std::io::Error::other("NUL in path")))?;
            // SAFETY: `c` is a NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(err(e));
                }
            }
            std::fs::symlink_metadata(path).map_err(&err)?
        }
        Err(e) => return Err(err(e)),
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.file_type().is_fifo() {
        return Err(err(std::io::Error::other("exists and is not a FIFO")));
    }
    if meta.uid() != me {
        return Err(err(std::io::Error::other(format!(
            "owned by uid {}, not by rsdr's uid {me}",
            meta.uid()
        ))));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(err(std::io::Error::other(format!(
            "writable by others (mode {:o}); `chmod go-w` it",
            meta.mode() & 0o7777
        ))));
    }
    Ok(meta)
}

/// The FIFO at `path`, opened read-write, and its (device, inode).
fn open(path: &Path) -> Result<(pipe::Receiver, (u64, u64)), DaemonError> {
    let meta = ensure_fifo(path)?;
    let rx = pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
        .map_err(fifo_err(path))?;
    Ok((rx, (meta.dev(), meta.ino())))
}

/// (device, inode) of what is at `path` now.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Open the FIFO and forward each instance's state change to the returned
/// channel, in order. The channel closes if the FIFO cannot be read any
/// more: the service then exits (and systemd starts it again).
pub fn spawn(path: PathBuf) -> Result<mpsc::UnboundedReceiver<(String, State)>, DaemonError> {
    let (mut rx, mut id) = open(&path)?;
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let mut skipping = false;
        let mut recheck = tokio::time::interval(RECHECK);
        loop {
            let n = tokio::select! {
                r = rx.read(&mut chunk) => match r {
                    Ok(n) => n,
                    Err(e) => {
                        error!("reading {}: {e}", path.display());
                        return;
                    }
                },
                _ = recheck.tick() => {
                    if identity(&path) != Some(id) {
                        match open(&path) {
                            Ok((new, new_id)) => {
                                info!("{} was replaced (keepalived made it anew): reading the new one", path.display());
                                (rx, id) = (new, new_id);
                                buf.clear();
                            }
                            Err(e) => warn!("{e}; still reading the FIFO opened before"),
                        }
                    }
                    continue;
                }
            };
            if n == 0 {
                // Not with a read-write open; never spin if it happens.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                if std::mem::take(&mut skipping) {
                    continue;
                }
                let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                match notify::parse(&text) {
                    Line::Instance { name, state } => {
                        if tx.send((name, state)).is_err() {
                            return;
                        }
                    }
                    Line::Other => debug!("keepalived: {text} (not about an instance)"),
                    Line::Garbled(l) => warn!("{}: not a keepalived line: {l:?}", path.display()),
                }
            }
            if buf.len() > MAX_LINE {
                warn!(
                    "{}: a line longer than {MAX_LINE} bytes, dropped",
                    path.display()
                );
                buf.clear();
                skipping = true;
            }
        }
    });
    Ok(out)
}
