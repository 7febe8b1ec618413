//! The attachable programs, pinned under `<pin-dir>/progs` so that later
//! runs attach the same programs (sharing the pinned maps).

use aya::programs::{SchedClassifier, Xdp};
use rsdr_common::maps::programs;

use super::{LoadError, LoadOptions, load, tc_egress, tc_ingress, xdp};
use crate::pins::PinDir;

/// The three attachable programs, opened from their pins.
pub struct Programs {
    pub xdp: Xdp,
    pub tc_ingress: SchedClassifier,
    pub tc_egress: SchedClassifier,
}

/// The programs rsdr pins, by name.
pub const PINNED_PROGRAMS: [&str; 3] = [
    programs::XDP_INGRESS,
    programs::TC_INGRESS,
    programs::TC_EGRESS,
];

/// The pinned programs; if any is missing, load the object against `pins`
/// (reusing or pinning its maps) and pin all three first.
pub fn pinned_programs(pins: &PinDir, opts: LoadOptions) -> Result<Programs, LoadError> {
    if PINNED_PROGRAMS.iter().any(|p| !pins.prog(p).exists()) {
        for p in PINNED_PROGRAMS {
            let _ = std::fs::remove_file(pins.prog(p));
        }
        let mut ebpf = load(Some(pins), opts)?;
        let pin = |res: Result<(), aya::pin::PinError>, name: &'static str| {
            res.map_err(|source| {
                for p in PINNED_PROGRAMS {
                    let _ = std::fs::remove_file(pins.prog(p));
                }
                LoadError::Pin { name, source }
            })
        };
        // Whichever variant this kernel got, it is pinned as the XDP ingress.
        pin(
            xdp(&mut ebpf)?.pin(pins.prog(programs::XDP_INGRESS)),
            programs::XDP_INGRESS,
        )?;
        pin(
            tc_ingress(&mut ebpf)?.pin(pins.prog(programs::TC_INGRESS)),
            programs::TC_INGRESS,
        )?;
        pin(
            tc_egress(&mut ebpf)?.pin(pins.prog(programs::TC_EGRESS)),
            programs::TC_EGRESS,
        )?;
        // The build that runs here now (upgrade.rs).
        crate::upgrade::record(pins, &crate::upgrade::Build::this())
            .map_err(|e| LoadError::Stamp(e.to_string()))?;
    }
    let tc = |name: &'static str| {
        SchedClassifier::from_pin(pins.prog(name))
            .map_err(|source| LoadError::Program { name, source })
    };
    Ok(Programs {
        xdp: Xdp::from_pin(
            pins.prog(programs::XDP_INGRESS),
            aya_obj::programs::XdpAttachType::Interface,
        )
        .map_err(|source| LoadError::Program {
            name: programs::XDP_INGRESS,
            source,
        })?,
        tc_ingress: tc(programs::TC_INGRESS)?,
        tc_egress: tc(programs::TC_EGRESS)?,
    })
}
