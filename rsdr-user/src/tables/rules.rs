//! Rules a new VIP must satisfy against the configured ones, checked before
//! anything is written. Pure, so it is tested without a kernel.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use super::VipError;
use crate::{entry::VipEntry, vip::Vip};

/// May the `new` entries be added to (or replace the entries with the same
/// VIP in) `existing`?
///
/// - the real IP is not the VIP, not inside its own pool, not a configured
///   VIP and not inside a configured pool: ARP for it must keep working;
/// - no VIP or pool covers another entry's real IP, for the same reason;
/// - pools do not overlap each other (an exact VIP inside a pool is fine:
///   the exact entry wins);
/// - no key is given twice.
///
/// Linear in the number of entries (times the number of pools, which are
/// few), so a config of a million VIPs checks in well under a second.
pub fn check(existing: &[VipEntry], new: &[VipEntry]) -> Result<(), VipError> {
    let mut seen = HashSet::new();
    for VipEntry { vip, real, .. } in new {
        if vip.is_ipv4() != real.is_ipv4() {
            return Err(VipError::FamilyMismatch {
                vip: *vip,
                real: *real,
            });
        }
        if !seen.insert(*vip) {
            return Err(VipError::Duplicate(*vip));
        }
    }
    // The resulting table: existing entries not replaced, plus the new ones.
    let all: Vec<(Vip, IpAddr)> = existing
        .iter()
        .filter(|e| !seen.contains(&e.vip))
        .chain(new)
        .map(|e| (e.vip, e.real))
        .collect();
    let exact: HashMap<IpAddr, Vip> = all
        .iter()
        .filter_map(|(v, _)| match v {
            Vip::Addr(a) => Some((*a, *v)),
            Vip::Pool(..) => None,
        })
        .collect();
    let pools: Vec<Vip> = all
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| matches!(v, Vip::Pool(..)))
        .collect();
    for VipEntry { vip, real, .. } in new {
        if let Vip::Addr(a) = vip
            && a == real
        {
            return Err(VipError::SameAsReal(*vip));
        }
        if exact.contains_key(real) {
            return Err(VipError::RealIsVip { real: *real });
        }
        if let Some(pool) = pools.iter().find(|p| p.covers(*real)) {
            return Err(VipError::RealInPool {
                real: *real,
                pool: *pool,
            });
        }
    }
    for (vip, real) in &all {
        if let Some(other) = exact.get(real) {
            return Err(VipError::CoversReal {
                vip: *other,
                other: *vip,
            });
        }
        if let Some(pool) = pools.iter().find(|p| p.covers(*real)) {
            return Err(VipError::CoversReal {
                vip: *pool,
                other: *vip,
            });
        }
    }
    for (i, a) in pools.iter().enumerate() {
        if let Some(b) = pools[i + 1..].iter().find(|b| a.overlaps(b)) {
            let (new_one, old_one) = if seen.contains(b) { (*b, *a) } else { (*a, *b) };
            return Err(VipError::PoolOverlap {
                new: new_one,
                existing: old_one,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::VipFlags;

    fn entry(vip: &str, real: &str) -> VipEntry {
        VipEntry::parse(vip, real, VipFlags::NONE).unwrap()
    }

    fn check(existing: &[VipEntry], vip: &str, real: &str) -> Result<(), VipError> {
        super::check(existing, &[entry(vip, real)])
    }

    #[test]
    fn accepts_ordinary_vips_and_updates() {
        let t = [
            entry("192.0.2.10", "10.0.0.2"),
            entry("203.0.113.0/24", "10.0.0.2"),
        ];
        check(&t, "192.0.2.11", "10.0.0.2").expect("second VIP, same real");
        check(&t, "192.0.2.10", "10.0.0.3").expect("changing a VIP's real IP");
        check(&t, "203.0.113.7", "10.0.0.9").expect("exact VIP inside a pool");
        check(&t, "2001:db8::10", "2001:db8::2").expect("IPv6 beside IPv4");
    }

    #[test]
    fn real_ip_must_stay_answerable() {
        let t = [
            entry("192.0.2.10", "10.0.0.2"),
            entry("203.0.113.0/24", "10.0.0.2"),
        ];
        assert!(matches!(
            check(&t, "192.0.2.20", "192.0.2.20"),
            Err(VipError::SameAsReal(_))
        ));
        assert!(matches!(
            check(&t, "192.0.2.20", "192.0.2.10"),
            Err(VipError::RealIsVip { .. })
        ));
        assert!(matches!(
            check(&t, "192.0.2.20", "203.0.113.9"),
            Err(VipError::RealInPool { .. })
        ));
        assert!(matches!(
            check(&t, "198.51.100.0/24", "198.51.100.1"),
            Err(VipError::RealInPool { .. })
        ));
        assert!(matches!(
            check(&t, "10.0.0.2", "10.0.0.3"),
            Err(VipError::CoversReal { .. })
        ));
        assert!(matches!(
            check(&t, "10.0.0.0/8", "192.168.0.1"),
            Err(VipError::CoversReal { .. })
        ));
    }

    #[test]
    fn pools_must_not_overlap() {
        let t = [entry("203.0.113.0/24", "10.0.0.2")];
        assert!(matches!(
            check(&t, "203.0.113.128/25", "10.0.0.2"),
            Err(VipError::PoolOverlap { .. })
        ));
        assert!(matches!(
            check(&t, "203.0.0.0/16", "10.0.0.2"),
            Err(VipError::PoolOverlap { .. })
        ));
        check(&t, "203.0.114.0/24", "10.0.0.2").expect("adjacent pool");
        check(&t, "203.0.113.0/24", "10.0.0.3").expect("same pool: an update");
    }

    #[test]
    fn batches_are_checked_as_a_whole() {
        let batch = [
            entry("192.0.2.1", "10.0.0.2"),
            entry("192.0.2.1", "10.0.0.3"),
        ];
        assert!(matches!(
            super::check(&[], &batch),
            Err(VipError::Duplicate(_))
        ));
        let batch = [
            entry("192.0.2.1", "10.0.0.2"),
            entry("10.0.0.2", "10.0.0.9"),
        ];
        assert!(matches!(
            super::check(&[], &batch),
            Err(VipError::RealIsVip { .. })
        ));
        let many: Vec<_> = (0..50_000u32)
            .map(|i| VipEntry {
                vip: Vip::Addr(IpAddr::V4((0xc633_0000 + i).into())),
                real: "10.0.0.2".parse().unwrap(),
                flags: VipFlags::NONE,
            })
            .collect();
        let t = std::time::Instant::now();
        super::check(&[], &many).expect("50k distinct VIPs");
        assert!(t.elapsed().as_secs() < 5, "linear, not quadratic");
    }
}
