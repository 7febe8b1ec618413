//! Detaching interfaces: their links are force-detached and their pins
//! removed; detaching every interface removes the whole pin directory.

use std::{collections::HashSet, fs, path::Path};

use super::AttachError;
use crate::{
    iface,
    pins::{LockedPins, PinDir},
    sys,
};

/// Detach rsdr from the interfaces `names`, or from all of them (removing
/// every pin) when none is given; takes the lock. Returns the interfaces
/// detached.
pub fn detach_interfaces(pins: &PinDir, names: &[String]) -> Result<Vec<String>, AttachError> {
    pins.require_loaded()?;
    detach(&pins.lock()?, names)
}

/// [`detach_interfaces`] for a caller that holds the lock.
pub fn detach(pins: &LockedPins<'_>, names: &[String]) -> Result<Vec<String>, AttachError> {
    let attached = pins.interfaces()?;
    if names.is_empty() {
        for name in &attached {
            detach_iface(pins, name)?;
        }
        pins.remove_all()?;
        return Ok(attached);
    }
    let mut seen = HashSet::new();
    for name in names {
        iface::validate_name(name)?;
        if !seen.insert(name.as_str()) {
            return Err(AttachError::Duplicate(name.clone()));
        }
        if !attached.contains(name) {
            return Err(AttachError::NotAttached(name.clone()));
        }
    }
    for name in names {
        detach_iface(pins, name)?;
    }
    Ok(names.to_vec())
}

/// Force-detach every link pinned for `iface` and remove its pins.
fn detach_iface(pins: &PinDir, iface: &str) -> Result<(), AttachError> {
    let dir = pins.iface_dir(iface);
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AttachError::Io { path, source }
    };
    for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
        remove_link(&entry.map_err(io_err(&dir))?.path())?;
    }
    fs::remove_dir(&dir).map_err(io_err(&dir))
}

/// Force-detach the link pinned at `path` and remove the pin.
pub(super) fn remove_link(path: &Path) -> Result<(), AttachError> {
    if let Ok(fd) = sys::obj_get(path) {
        // A defunct link (interface gone) refuses detach; it is harmless.
        let _ = sys::link_detach(std::os::fd::AsFd::as_fd(&fd));
    }
    fs::remove_file(path).map_err(|source| AttachError::Io {
        path: path.to_path_buf(),
        source,
    })
}
