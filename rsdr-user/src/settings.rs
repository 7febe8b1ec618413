//! The global settings the datapath reads: the one element of the pinned
//! settings map (`rsdr_common::Settings`), mapped into our memory. Its
//! words are written with single atomic stores while the programs read
//! them. [`SettingsHandle`] is the monitor switch; the pool cache inside
//! the same element belongs to the VIP tables (`tables::pool_cache`).

use std::{
    io,
    os::fd::{AsFd as _, BorrowedFd},
    ptr::{NonNull, addr_of_mut},
    sync::atomic::{AtomicU32, Ordering},
};

use aya::{
    Ebpf,
    maps::{MapData, MapError},
};
use rsdr_common::{Settings, maps::CONFIG_F_MONITOR, maps::names};
use thiserror::Error;

use crate::{
    mmap::Mapping,
    pins::{PinDir, PinError},
};

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error("settings map {map}: {source}")]
    Open { map: &'static str, source: MapError },
    #[error("settings map {map}: cannot map it into memory: {source}")]
    Map {
        map: &'static str,
        source: io::Error,
    },
}

/// The settings element, mapped into our memory.
pub(crate) struct MappedSettings {
    ptr: NonNull<Settings>,
    _mapping: Mapping,
}

// SAFETY: the mapping is owned by the value; access goes through &self/&mut self.
unsafe impl Send for MappedSettings {}

impl MappedSettings {
    /// Map the settings map behind `fd` (one mmapable element).
    pub(crate) fn map(fd: BorrowedFd<'_>) -> Result<Self, SettingsError> {
        let mapping =
            Mapping::new(fd, size_of::<Settings>()).map_err(|source| SettingsError::Map {
                map: names::CONFIG,
                source,
            })?;
        Ok(Self {
            ptr: mapping.ptr(),
            _mapping: mapping,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut Settings {
        self.ptr.as_ptr()
    }

    /// A 32-bit field of the mapped settings, which the datapath reads
    /// concurrently.
    pub(crate) fn word(&self, field: impl FnOnce(*mut Settings) -> *mut u32) -> &AtomicU32 {
        // SAFETY: `field` returns a 4-aligned u32 field of the mapped
        // value, which outlives &self.
        unsafe { AtomicU32::from_ptr(field(self.as_ptr())) }
    }

    fn flags(&self) -> &AtomicU32 {
        // SAFETY: a field of the settings the pointer points at.
        self.word(|c| unsafe { addr_of_mut!((*c).flags) })
    }
}

/// The global switches: monitor mode for every VIP.
pub struct SettingsHandle {
    mapped: MappedSettings,
}

/// Switch global monitor mode under `pins`, holding the pin directory's lock.
pub fn set_monitor(pins: &PinDir, on: bool) -> Result<(), SettingsError> {
    pins.check_bpffs()?;
    let pins = pins.lock()?;
    SettingsHandle::open(&pins)?.set_monitor(on);
    Ok(())
}

impl SettingsHandle {
    /// The settings of a pin directory (fails unless rsdr is loaded there).
    pub fn open(pins: &PinDir) -> Result<Self, SettingsError> {
        pins.require_loaded()?;
        let data =
            MapData::from_pin(pins.map(names::CONFIG)).map_err(|source| SettingsError::Open {
                map: names::CONFIG,
                source,
            })?;
        Self::map(data.fd().as_fd())
    }

    /// The settings of a loaded object (its programs read them).
    pub fn from_ebpf(ebpf: &Ebpf) -> Result<Self, SettingsError> {
        let map = ebpf.map(names::CONFIG).ok_or(SettingsError::Open {
            map: names::CONFIG,
            source: MapError::InvalidName {
                name: names::CONFIG.into(),
            },
        })?;
        let fd = match map {
            aya::maps::Map::Array(d) => d.fd().as_fd(),
            _ => {
                return Err(SettingsError::Open {
                    map: names::CONFIG,
                    source: MapError::InvalidName {
                        name: names::CONFIG.into(),
                    },
                });
            }
        };
        Self::map(fd)
    }

    fn map(fd: BorrowedFd<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            mapped: MappedSettings::map(fd)?,
        })
    }

    /// Global monitor mode: every decision counted, nothing enforced.
    pub fn monitor(&self) -> bool {
        self.mapped.flags().load(Ordering::Acquire) & CONFIG_F_MONITOR != 0
    }

    /// One store: the datapath sees the old switch or the new.
    pub fn set_monitor(&mut self, on: bool) {
        let flags = self.mapped.flags().load(Ordering::Acquire);
        let flags = if on {
            flags | CONFIG_F_MONITOR
        } else {
            flags & !CONFIG_F_MONITOR
        };
        self.mapped.flags().store(flags, Ordering::Release);
    }
}
