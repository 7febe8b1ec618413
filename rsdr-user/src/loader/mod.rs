//! Loading the embedded eBPF object: either privately (fresh, unpinned maps,
//! as the fixture tests do) or against a pin directory, where existing pinned
//! maps are reused and new ones are pinned (`layout.rs` checks that they
//! fit this build first).

mod layout;
mod pinned;

use std::path::PathBuf;

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{Array, MapError},
    programs::{Program, ProgramError, SchedClassifier, Xdp},
};
pub use layout::PINNED_MAPS;
pub use layout::check_pinned_layout;
use layout::pinned_pages;
pub use pinned::{PINNED_PROGRAMS, Programs, pinned_programs};
use rsdr_common::{
    LAYOUT_VERSION, Settings, index,
    maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS, names, programs},
};
use serde::Serialize;
use thiserror::Error;

use crate::{
    features::{self, MissingFeature},
    object::{EBPF_OBJECT, EBPF_OBJECT_V3},
    pins::PinDir,
};

/// aya-log level compiled into the programs (aya_log_common::Level::Info):
/// the datapath logs only rare events, never per-packet ones.
const LOG_LEVEL_INFO: u8 = 3;
const LOG_LEVEL_GLOBAL: &str = "AYA_LOG_LEVEL";

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Kernel(#[from] MissingFeature),
    #[error("{0}")]
    Stamp(String),
    #[error(
        "the kernel refused to load program {name} (BPF ISA {isa}): {reason}; `rsdr check` lists what this kernel supports"
    )]
    Refused {
        name: &'static str,
        isa: &'static str,
        reason: String,
    },
    #[error("{flag} must be between 1 and {max}, got {got}")]
    BadCapacity {
        flag: &'static str,
        got: u32,
        max: u32,
    },
    #[error(
        "pinned map {path} was made by an incompatible rsdr ({what}); run `rsdr detach` to remove the old pins first"
    )]
    Incompatible { path: PathBuf, what: String },
    #[error(
        "the pin directory is damaged: {present} is pinned but {missing} is not; run `rsdr detach` and attach again"
    )]
    HalfPinned { present: PathBuf, missing: PathBuf },
    #[error("cannot inspect pinned map {path}: {source}")]
    Inspect { path: PathBuf, source: MapError },
    #[error("loading the eBPF object failed: {0}")]
    Ebpf(#[from] EbpfError),
    #[error("program {0} is missing from the eBPF object")]
    MissingProgram(&'static str),
    #[error("map {0} is missing from the eBPF object")]
    MissingMap(&'static str),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        source: ProgramError,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: MapError,
    },
    #[error("pinning program {name}: {source}")]
    Pin {
        name: &'static str,
        source: aya::pin::PinError,
    },
}

/// Upper bound for `--max-vips`: each VIP's counters cost 128 bytes per CPU,
/// preallocated, and each family's index 48 or 128 bytes per VIP (two slots each).
pub const MAX_VIPS_LIMIT: u32 = 1 << 20;
/// Upper bound for `--max-pools`: the pool counters are preallocated per CPU.
pub const MAX_POOLS_LIMIT: u32 = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Number of exact VIPs (both families) when created (ignored when reused).
    pub max_vips: u32,
    /// Number of pool slots when created (ignored when reused).
    pub max_pools: u32,
    /// Order the index reads with atomics (`rsdr_common::index`, "Memory
    /// order"): by default where the CPU may reorder loads (anything but
    /// x86); the tests turn it on to run that path here.
    pub ordered_reads: bool,
}

/// Whether this CPU may let a load pass an earlier load.
pub const LOADS_MAY_PASS_LOADS: bool = !cfg!(any(target_arch = "x86", target_arch = "x86_64"));

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_vips: DEFAULT_MAX_VIPS,
            max_pools: DEFAULT_MAX_POOLS,
            ordered_reads: LOADS_MAY_PASS_LOADS,
        }
    }
}

impl LoadOptions {
    /// Fails unless both capacities are within limits.
    pub fn validate(&self) -> Result<(), LoadError> {
        if self.max_vips == 0 || self.max_vips > MAX_VIPS_LIMIT {
            return Err(LoadError::BadCapacity {
                flag: "--max-vips",
                got: self.max_vips,
                max: MAX_VIPS_LIMIT,
            });
        }
        if self.max_pools == 0 || self.max_pools > MAX_POOLS_LIMIT {
            return Err(LoadError::BadCapacity {
                flag: "--max-pools",
                got: self.max_pools,
                max: MAX_POOLS_LIMIT,
            });
        }
        Ok(())
    }
}

/// The BPF instruction set of an embedded object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
    V3,
    V4,
}

impl Isa {
    /// The newest the running kernel verifies.
    pub fn probe() -> Self {
        if features::probe().isa_v4 {
            Isa::V4
        } else {
            Isa::V3
        }
    }

    /// The embedded object built for it.
    pub fn object(self) -> &'static [u8] {
        match self {
            Isa::V3 => EBPF_OBJECT_V3,
            Isa::V4 => EBPF_OBJECT,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::V3 => "v3",
            Isa::V4 => "v4",
        }
    }
}

/// The XDP ingress program the running kernel gets: multi-buffer aware
/// (loaded with the frags flag) where the kernel has it.
pub fn xdp_ingress_name() -> &'static str {
    if features::probe().xdp_frags {
        programs::XDP_INGRESS
    } else {
        programs::XDP_INGRESS_NO_FRAGS
    }
}

/// Load the object the running kernel verifies, and its ingress and egress
/// programs. With `pins`, maps are reused from (or pinned into)
/// `<pin-dir>/maps`; without, they are private to the returned [`Ebpf`].
pub fn load(pins: Option<&PinDir>, opts: LoadOptions) -> Result<Ebpf, LoadError> {
    load_isa(pins, opts, Isa::probe())
}

/// [`load`] the object of instruction set `isa`, whatever the kernel
/// verifies (the benchmark compares them).
pub fn load_isa(pins: Option<&PinDir>, opts: LoadOptions, isa: Isa) -> Result<Ebpf, LoadError> {
    opts.validate()?;
    features::probe().require()?;
    if let Some(pins) = pins {
        check_pinned_layout(pins)?;
    }
    let level = LOG_LEVEL_INFO;
    let mut loader = EbpfLoader::new();
    loader.override_global(LOG_LEVEL_GLOBAL, &level, false);
    // Reused indexes keep their size, whatever `max_vips` says now.
    let pages = match pins.map(pinned_pages).transpose()?.flatten() {
        Some(pinned) => pinned,
        None => index::pages_for(index::slots_for(opts.max_vips)),
    };
    loader.map_max_entries(names::INDEX4, pages);
    loader.map_max_entries(names::INDEX6, pages);
    let shift = index::shift_for(pages * index::PAGE_SLOTS);
    loader.override_global(names::INDEX_SHIFT_GLOBAL, &shift, true);
    let ordered = u32::from(opts.ordered_reads);
    loader.override_global(names::ORDERED_READS_GLOBAL, &ordered, true);
    loader.map_max_entries(names::VIP_COUNTERS, opts.max_vips);
    loader.map_max_entries(names::POOLS4, opts.max_pools);
    loader.map_max_entries(names::POOLS6, opts.max_pools);
    loader.map_max_entries(names::POOL_COUNTERS, opts.max_pools);
    let paths: Vec<(&'static str, PathBuf)> = match pins {
        Some(p) => PINNED_MAPS.iter().map(|n| (*n, p.map(n))).collect(),
        None => Vec::new(),
    };
    for (name, path) in &paths {
        loader.map_pin_path(name, path.as_path());
    }
    let mut ebpf = loader.load(isa.object())?;
    init_settings(&mut ebpf, shift)?;
    let refused = |e: LoadError| match e {
        LoadError::Program { name, source } => refusal(name, isa, source),
        other => other,
    };
    xdp_program(&mut ebpf, xdp_ingress_name()).map_err(refused)?;
    tc_program(&mut ebpf, programs::TC_INGRESS).map_err(refused)?;
    tc_program(&mut ebpf, programs::TC_EGRESS).map_err(refused)?;
    Ok(ebpf)
}

/// A program the kernel would not load, as one line: the verifier's last
/// words (its log can run to thousands of lines), not the whole log.
fn refusal(name: &'static str, isa: Isa, source: ProgramError) -> LoadError {
    let reason = match &source {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            // Its closing statistics say how far it got, not why it stopped.
            let last = log.lines().rev().map(str::trim).find(|l| {
                !l.is_empty()
                    && !l.starts_with("processed ")
                    && !l.starts_with("stack depth")
                    && !l.starts_with("verification time")
            });
            match last {
                Some(l) => format!("{l} ({io_error})"),
                None => io_error.to_string(),
            }
        }
        other => crate::error_chain(other),
    };
    LoadError::Refused {
        name,
        isa: isa.name(),
        reason,
    }
}

/// Mark a settings map this build created, with the indexes' hash `shift`
/// (which the loaded indexes were sized for).
fn init_settings(ebpf: &mut Ebpf, shift: u32) -> Result<(), LoadError> {
    let map = ebpf
        .map_mut(names::CONFIG)
        .ok_or(LoadError::MissingMap(names::CONFIG))?;
    let mut array: Array<_, Settings> = Array::try_from(map).map_err(|source| LoadError::Map {
        name: names::CONFIG,
        source,
    })?;
    let mut cfg = array.get(&0, 0).map_err(|source| LoadError::Map {
        name: names::CONFIG,
        source,
    })?;
    if cfg.layout_version == 0 {
        cfg.layout_version = LAYOUT_VERSION;
        cfg.index_shift = shift;
        array.set(0, cfg, 0).map_err(|source| LoadError::Map {
            name: names::CONFIG,
            source,
        })?;
    }
    Ok(())
}

/// The program `name` of a loaded object, as its kind `T`.
fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or(LoadError::MissingProgram(name))?
        .try_into()
        .map_err(|source| LoadError::Program { name, source })
}

/// The XDP ingress program of a loaded object.
pub fn xdp(ebpf: &mut Ebpf) -> Result<&mut Xdp, LoadError> {
    program(ebpf, xdp_ingress_name())
}

/// The TC ingress program of a loaded object.
pub fn tc_ingress(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier, LoadError> {
    program(ebpf, programs::TC_INGRESS)
}

/// The TC egress program of a loaded object.
pub fn tc_egress(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier, LoadError> {
    program(ebpf, programs::TC_EGRESS)
}

/// Any XDP program of a loaded object, loaded into the kernel if it is not
/// yet (used for the benchmark helpers, which `load` leaves out).
pub fn xdp_program<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut Xdp, LoadError> {
    let prog: &mut Xdp = program(ebpf, name)?;
    if prog.fd().is_err() {
        prog.load()
            .map_err(|source| LoadError::Program { name, source })?;
    }
    Ok(prog)
}

/// Any TC program of a loaded object, loaded if it is not yet.
pub fn tc_program<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, LoadError> {
    let prog: &mut SchedClassifier = program(ebpf, name)?;
    if prog.fd().is_err() {
        prog.load()
            .map_err(|source| LoadError::Program { name, source })?;
    }
    Ok(prog)
}
