//! Network interface names and indices, in the caller's network namespace.

use std::ffi::{CStr, CString};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IfaceError {
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    #[error("unknown interface {0}")]
    Unknown(String),
}

/// Index of interface `name`.
pub fn index(name: &str) -> Result<u32, IfaceError> {
    validate_name(name)?;
    let c = CString::new(name).map_err(|_| IfaceError::InvalidName(name.to_string()))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(IfaceError::Unknown(name.to_string()));
    }
    Ok(idx)
}

/// Name of interface `index`, if it exists.
pub fn name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes as the call requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

/// Kernel rules for interface names (dev_valid_name): 1..=15 bytes, not "."
/// or "..", no '/', ':' or whitespace. Also used to keep pin paths safe.
pub fn validate_name(name: &str) -> Result<(), IfaceError> {
    let ok = !name.is_empty()
        && name.len() < libc::IF_NAMESIZE
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(IfaceError::InvalidName(name.to_string()))
    }
}
