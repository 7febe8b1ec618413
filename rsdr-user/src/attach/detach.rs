//! Detaching interfaces: their links are force-detached and their pins
//! removed; detaching every interface removes the whole pin directory.

use std::{collections::HashSet, fs};

use super::{AttachError, hooks};
use crate::{
    iface,
    pins::{LockedPins, PinDir},
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

/// Detach every hook pinned for `iface` and remove its pins.
fn detach_iface(pins: &PinDir, iface: &str) -> Result<(), AttachError> {
    let dir = pins.iface_dir(iface);
    let io_err = |source| AttachError::Io {
        path: dir.clone(),
        source,
    };
    for (path, position, via) in hooks::pins_in(&dir).map_err(io_err)? {
        hooks::remove(&path, position, via, iface)?;
    }
    fs::remove_dir(&dir).map_err(io_err)
}
