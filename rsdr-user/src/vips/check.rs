//! Rules a new VIP must satisfy against the configured ones, checked before
//! anything is written. Pure, so it is tested without a kernel.

use std::net::IpAddr;

use super::{Entry, VipError};
use crate::addr::VipSpec;

/// May `vip` -> `real` be added (or replace the entry with the same key)?
///
/// - the real IP is not the VIP, not inside the new pool, not a configured
///   VIP and not inside a configured pool: ARP for it must keep working;
/// - the new VIP or pool covers no other entry's real IP, for the same reason;
/// - pools do not overlap each other (an exact VIP inside a pool is fine:
///   the exact entry wins).
pub fn check_add(existing: &[Entry], vip: &VipSpec, real: IpAddr) -> Result<(), VipError> {
    if let VipSpec::Addr(a) = vip
        && *a == real
    {
        return Err(VipError::SameAsReal(*vip));
    }
    if let VipSpec::Pool(..) = vip
        && vip.covers(real)
    {
        return Err(VipError::RealInPool { real, pool: *vip });
    }
    for e in existing.iter().filter(|e| e.vip != *vip) {
        match e.vip {
            VipSpec::Addr(a) if a == real => return Err(VipError::RealIsVip { real }),
            VipSpec::Pool(..) if e.vip.covers(real) => {
                return Err(VipError::RealInPool { real, pool: e.vip });
            }
            _ => {}
        }
        if vip.covers(e.real) {
            return Err(VipError::CoversReal {
                vip: *vip,
                other: e.vip,
            });
        }
        if matches!(vip, VipSpec::Pool(..))
            && matches!(e.vip, VipSpec::Pool(..))
            && vip.overlaps(&e.vip)
        {
            return Err(VipError::PoolOverlap {
                new: *vip,
                existing: e.vip,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::parse_vip;

    fn entry(vip: &str, real: &str) -> Entry {
        Entry {
            vip: parse_vip(vip).unwrap(),
            real: real.parse().unwrap(),
            flags: 0,
            counters: [0; 16],
        }
    }

    fn check(existing: &[Entry], vip: &str, real: &str) -> Result<(), VipError> {
        check_add(existing, &parse_vip(vip).unwrap(), real.parse().unwrap())
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
}
