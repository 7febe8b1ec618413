//! A VIP entry: the one shape a VIP has from `rsdr vip add` and from a
//! `[[vip]]` of the configuration file down to the map write
//! ([`crate::tables::VipTables::put`]) and back up to `vip list`, `stats`
//! and the apply plan.

use std::{fmt, net::IpAddr};

use rsdr_common::{
    VipCounters,
    maps::{VIP_F_ALL, VIP_F_MONITOR, VIP_F_SHOW_CONFLICTS, VIP_F_VRRP, VIP_F_VRRP_MASTER},
};
use serde::{Serialize, Serializer, ser::SerializeStruct as _};

use crate::vip::{self, AddressError, Vip};

/// One per-VIP flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VipFlag {
    /// Count what would be done for this VIP, enforce nothing.
    Monitor,
    /// Let frames that announce the VIP from elsewhere reach this host.
    ShowConflicts,
    /// The VIP follows a VRRP instance (set from `vrrp_instance`).
    Vrrp,
    /// That instance is MASTER here (set by rsdr from its state).
    VrrpMaster,
}

impl VipFlag {
    pub const ALL: [VipFlag; 4] = [
        VipFlag::Monitor,
        VipFlag::ShowConflicts,
        VipFlag::Vrrp,
        VipFlag::VrrpMaster,
    ];

    /// The `VIP_F_*` bit the datapath reads.
    pub const fn bit(self) -> u32 {
        match self {
            VipFlag::Monitor => VIP_F_MONITOR,
            VipFlag::ShowConflicts => VIP_F_SHOW_CONFLICTS,
            VipFlag::Vrrp => VIP_F_VRRP,
            VipFlag::VrrpMaster => VIP_F_VRRP_MASTER,
        }
    }

    /// As printed: "monitor", "show-conflicts".
    pub const fn name(self) -> &'static str {
        match self {
            VipFlag::Monitor => "monitor",
            VipFlag::ShowConflicts => "show-conflicts",
            VipFlag::Vrrp => "vrrp",
            VipFlag::VrrpMaster => "vrrp-master",
        }
    }
}

const _: () = assert!(
    VipFlag::Monitor.bit()
        | VipFlag::ShowConflicts.bit()
        | VipFlag::Vrrp.bit()
        | VipFlag::VrrpMaster.bit()
        == VIP_F_ALL
);

/// A set of [`VipFlag`]s, held as the `VIP_F_*` bits stored in the maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct VipFlags(u32);

/// Bits no [`VipFlag`] of this build has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown VIP flags {0:#x}")]
pub struct UnknownFlags(pub u32);

impl VipFlags {
    pub const NONE: VipFlags = VipFlags(0);

    /// The flags of stored bits; fails on bits this build does not know.
    pub const fn from_bits(bits: u32) -> Result<Self, UnknownFlags> {
        if bits & !VIP_F_ALL != 0 {
            Err(UnknownFlags(bits))
        } else {
            Ok(VipFlags(bits))
        }
    }

    /// The flags of bits read from a map, kept whole: bits of a newer
    /// build are not named, but are written back as they were.
    pub const fn from_stored(bits: u32) -> Self {
        VipFlags(bits)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    /// These flags with `flag` set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, flag: VipFlag, on: bool) -> Self {
        if on {
            VipFlags(self.0 | flag.bit())
        } else {
            VipFlags(self.0 & !flag.bit())
        }
    }

    pub const fn contains(self, flag: VipFlag) -> bool {
        self.0 & flag.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = VipFlag> {
        VipFlag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// The set flags by name, joined by commas ("monitor,show-conflicts").
impl fmt::Display for VipFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, flag) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(flag.name())?;
        }
        Ok(())
    }
}

/// One VIP or pool as configured: its real IP (this server's own address,
/// announced in its place) and its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VipEntry {
    pub vip: Vip,
    pub real: IpAddr,
    pub flags: VipFlags,
}

impl VipEntry {
    /// An entry from operator input: `VIP[/LEN]` and a real IP of the same
    /// family. Fails on the first problem, naming the argument.
    pub fn parse(vip: &str, real: &str, flags: VipFlags) -> Result<Self, AddressError> {
        let vip = vip::parse_vip(vip)?;
        let real = vip::parse_real(real, &vip)?;
        Ok(VipEntry { vip, real, flags })
    }

    /// The flags as a suffix for one line: " [monitor]", or nothing.
    pub fn flags_suffix(&self) -> String {
        if self.flags == VipFlags::NONE {
            String::new()
        } else {
            format!(" [{}]", self.flags)
        }
    }
}

/// As `vip list --json` shows it: `vip`, `real`, `kind` ("address" or
/// "pool") and one boolean per flag.
impl Serialize for VipEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("VipEntry", 5)?;
        st.serialize_field("vip", &self.vip.to_string())?;
        st.serialize_field("real", &self.real)?;
        st.serialize_field("kind", self.vip.kind())?;
        st.serialize_field("monitor", &self.flags.contains(VipFlag::Monitor))?;
        st.serialize_field(
            "show_conflicts",
            &self.flags.contains(VipFlag::ShowConflicts),
        )?;
        st.end()
    }
}

/// A configured entry as read back from the tables, with its counters
/// summed over CPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipRecord {
    pub entry: VipEntry,
    pub counters: VipCounters,
}

/// What writing one entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Unchanged,
    /// The entry existed with another real IP or other flags.
    Updated {
        old: VipEntry,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_a_set_with_names() {
        let both = VipFlags::NONE
            .with(VipFlag::ShowConflicts, true)
            .with(VipFlag::Monitor, true);
        assert_eq!(both.to_string(), "monitor,show-conflicts");
        assert_eq!(
            both.with(VipFlag::Vrrp, true)
                .with(VipFlag::VrrpMaster, true)
                .bits(),
            VIP_F_ALL
        );
        assert_eq!(
            both.with(VipFlag::Monitor, false).to_string(),
            "show-conflicts"
        );
        assert_eq!(
            VipFlags::from_bits(VIP_F_MONITOR).map(|f| f.to_string()),
            Ok("monitor".into())
        );
        assert_eq!(VipFlags::from_bits(1 << 7), Err(UnknownFlags(1 << 7)));
    }

    #[test]
    fn an_entry_parses_and_serialises_as_vip_list_shows_it() {
        let e = VipEntry::parse(
            "203.0.113.0/24",
            "10.0.0.5",
            VipFlags::NONE.with(VipFlag::Monitor, true),
        )
        .expect("valid entry");
        assert_eq!(e.flags_suffix(), " [monitor]");
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            serde_json::json!({"vip": "203.0.113.0/24", "real": "10.0.0.5", "kind": "pool",
                "monitor": true, "show_conflicts": false})
        );
        let bad = VipEntry::parse("2001:db8::10", "10.0.0.5", VipFlags::NONE).unwrap_err();
        assert!(
            bad.to_string()
                .contains("is IPv6 but real IP 10.0.0.5 is IPv4"),
            "{bad}"
        );
    }
}
