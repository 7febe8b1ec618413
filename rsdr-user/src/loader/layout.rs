//! The layout of pinned maps, checked before this build reuses them: map
//! types, key and value sizes, the layout version in the settings map, and
//! the size of the pinned indexes.

use std::path::PathBuf;

use aya::maps::{Array, MapData, MapInfo, MapType};
use rsdr_common::{
    LAYOUT_VERSION, Page4, Page6, PoolEntry4, PoolEntry6, Settings, VipCounters, index, maps::names,
};

use super::{LoadError, MAX_VIPS_LIMIT};
use crate::pins::PinDir;

/// The layout every map must have for this build, checked against pins.
fn expected_layout(name: &str) -> Option<(MapType, u32, u32)> {
    let u32s = size_of::<u32>() as u32;
    match name {
        names::INDEX4 => Some((MapType::Array, u32s, size_of::<Page4>() as u32)),
        names::INDEX6 => Some((MapType::Array, u32s, size_of::<Page6>() as u32)),
        names::VIP_COUNTERS => Some((MapType::PerCpuArray, u32s, size_of::<VipCounters>() as u32)),
        names::POOLS4 => Some((MapType::LpmTrie, 4 + 4, size_of::<PoolEntry4>() as u32)),
        names::POOLS6 => Some((MapType::LpmTrie, 4 + 16, size_of::<PoolEntry6>() as u32)),
        names::POOL_COUNTERS => Some((MapType::PerCpuArray, u32s, size_of::<VipCounters>() as u32)),
        names::STATS => Some((MapType::PerCpuArray, u32s, size_of::<u64>() as u32)),
        names::CONFIG => Some((MapType::Array, u32s, size_of::<Settings>() as u32)),
        _ => None,
    }
}

pub const PINNED_MAPS: [&str; 9] = [
    names::INDEX4,
    names::INDEX6,
    names::VIP_COUNTERS,
    names::POOLS4,
    names::POOLS6,
    names::POOL_COUNTERS,
    names::STATS,
    names::CONFIG,
    names::LOGS,
];

/// Refuse to reuse pinned maps whose layout differs from this build's.
pub fn check_pinned_layout(pins: &PinDir) -> Result<(), LoadError> {
    for name in PINNED_MAPS {
        let path = pins.map(name);
        if !path.exists() {
            continue;
        }
        let Some((ty, key, value)) = expected_layout(name) else {
            continue;
        };
        let info = MapInfo::from_pin(&path).map_err(|source| LoadError::Inspect {
            path: path.clone(),
            source,
        })?;
        let got_ty = info.map_type().map_err(|source| LoadError::Inspect {
            path: path.clone(),
            source,
        })?;
        if got_ty != ty || info.key_size() != key || info.value_size() != value {
            return Err(LoadError::Incompatible {
                path,
                what: format!(
                    "{got_ty:?} key {} value {}, expected {ty:?} key {key} value {value}",
                    info.key_size(),
                    info.value_size()
                ),
            });
        }
    }
    let config = pins.map(names::CONFIG);
    if config.exists() {
        let data = MapData::from_pin(&config).map_err(|source| LoadError::Inspect {
            path: config.clone(),
            source,
        })?;
        let array: Array<_, Settings> =
            Array::try_from(aya::maps::Map::Array(data)).map_err(|source| LoadError::Inspect {
                path: config.clone(),
                source,
            })?;
        let cfg = array.get(&0, 0).map_err(|source| LoadError::Inspect {
            path: config.clone(),
            source,
        })?;
        if cfg.layout_version != 0 && cfg.layout_version != LAYOUT_VERSION {
            return Err(LoadError::Incompatible {
                path: config,
                what: format!(
                    "layout version {}, expected {LAYOUT_VERSION}",
                    cfg.layout_version
                ),
            });
        }
    }
    Ok(())
}

/// The page count of the pinned indexes, if they are pinned: both or
/// neither, with the same number of pages (the one hash shift serves both),
/// a power of two that rsdr could have made.
pub(super) fn pinned_pages(pins: &PinDir) -> Result<Option<u32>, LoadError> {
    let (v4, v6) = (pins.map(names::INDEX4), pins.map(names::INDEX6));
    match (v4.exists(), v6.exists()) {
        (false, false) => return Ok(None),
        (true, false) => {
            return Err(LoadError::HalfPinned {
                present: v4,
                missing: v6,
            });
        }
        (false, true) => {
            return Err(LoadError::HalfPinned {
                present: v6,
                missing: v4,
            });
        }
        (true, true) => {}
    }
    let pages_of = |path: &PathBuf| {
        MapInfo::from_pin(path)
            .map(|info| info.max_entries())
            .map_err(|source| LoadError::Inspect {
                path: path.clone(),
                source,
            })
    };
    let (p4, p6) = (pages_of(&v4)?, pages_of(&v6)?);
    let most = index::pages_for(index::slots_for(MAX_VIPS_LIMIT));
    if p4 != p6 || !p6.is_power_of_two() || p6 > most {
        return Err(LoadError::Incompatible {
            path: v6,
            what: format!(
                "{p6} index pages beside {p4}, expected the same power of two, at most {most}"
            ),
        });
    }
    Ok(Some(p4))
}
