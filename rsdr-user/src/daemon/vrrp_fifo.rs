//! keepalived's notify FIFO (`notify_fifo` in its `global_defs`, the same
//! path as `vrrp_notify_fifo` in rsdr's file): one reader, lines in the
//! order keepalived's state machine took them, which notify scripts
//! (forked one per change) do not guarantee.
//!
//! The service creates the FIFO (mode 0600) if it is missing, because it
//! starts before keepalived; it opens it read-write, so that it neither
//! waits for keepalived to open it nor sees end-of-file when keepalived
//! restarts. Lines longer than [`MAX_LINE`] are dropped with a warning.

use std::{
    ffi::CString,
    os::unix::{ffi::OsStrExt as _, fs::FileTypeExt as _},
    path::{Path, PathBuf},
};

use tokio::{io::AsyncReadExt as _, sync::mpsc};
use tracing::{debug, error, warn};

use super::DaemonError;
use crate::vrrp::{
    State,
    notify::{self, Line},
};

/// Longest line taken; keepalived's are under 100 bytes.
pub const MAX_LINE: usize = 4096;

/// Make `path` a FIFO if nothing is there; refuse anything else there.
fn ensure_fifo(path: &Path) -> Result<(), DaemonError> {
    let setup = |source| DaemonError::Fifo {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_fifo() => Ok(()),
        Ok(_) => Err(setup(std::io::Error::other("exists and is not a FIFO"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| setup(std::io::Error::other("NUL in path")))?;
            // SAFETY: `c` is a NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                return Err(setup(std::io::Error::last_os_error()));
            }
            Ok(())
        }
        Err(e) => Err(setup(e)),
    }
}

/// Open the FIFO and forward each instance's state change to the returned
/// channel, in order.
pub fn spawn(path: PathBuf) -> Result<mpsc::UnboundedReceiver<(String, State)>, DaemonError> {
    ensure_fifo(&path)?;
    let mut rx = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&path)
        .map_err(|source| DaemonError::Fifo {
            path: path.clone(),
            source,
        })?;
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let mut skipping = false;
        loop {
            let n = match rx.read(&mut chunk).await {
                Ok(0) => continue,
                Ok(n) => n,
                Err(e) => {
                    error!(
                        "reading {}: {e}; VRRP states are no longer followed",
                        path.display()
                    );
                    return;
                }
            };
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
