//! A VIP as an operator gives it: one address, or a pool (a prefix), in
//! either family; parsed and checked here, with the real IPs that go with
//! them ([`parse_real`]).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddressError {
    #[error(
        "invalid {what} {input:?}: expected an address such as 192.0.2.10 or 2001:db8::10{prefix}"
    )]
    Malformed {
        what: &'static str,
        input: String,
        prefix: &'static str,
    },
    #[error("invalid prefix length in {input:?}: must be 0..={max}")]
    PrefixLength { input: String, max: u8 },
    #[error("pool {pool} overlaps {range} ({why}), which can never be VIPs")]
    ReservedPool {
        pool: String,
        range: &'static str,
        why: &'static str,
    },
    #[error("{input} has host bits set; did you mean {suggestion}?")]
    HostBits { input: String, suggestion: String },
    #[error("{what} {addr} is {why} and cannot be used")]
    Unusable {
        what: &'static str,
        addr: IpAddr,
        why: &'static str,
    },
    #[error("VIP {vip} is {vip_family} but real IP {real} is {real_family}")]
    FamilyMismatch {
        vip: String,
        vip_family: &'static str,
        real: IpAddr,
        real_family: &'static str,
    },
}

/// A VIP as configured: one address, or a pool (a prefix shorter than the
/// address length; /32 and /128 are plain addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vip {
    Addr(IpAddr),
    Pool(IpAddr, u8),
}

impl Vip {
    pub fn is_ipv4(&self) -> bool {
        match self {
            Vip::Addr(a) | Vip::Pool(a, _) => a.is_ipv4(),
        }
    }

    pub fn family(&self) -> &'static str {
        family(self.is_ipv4())
    }

    /// The address, or the pool's network address.
    pub fn addr(&self) -> IpAddr {
        match *self {
            Vip::Addr(a) | Vip::Pool(a, _) => a,
        }
    }

    /// "address" or "pool".
    pub fn kind(&self) -> &'static str {
        match self {
            Vip::Addr(_) => "address",
            Vip::Pool(..) => "pool",
        }
    }

    /// Does this VIP or pool cover `addr`?
    pub fn covers(&self, addr: IpAddr) -> bool {
        match *self {
            Vip::Addr(a) => a == addr,
            Vip::Pool(net, len) => prefix_contains(net, len, addr),
        }
    }

    /// Do the two share any address?
    pub fn overlaps(&self, other: &Vip) -> bool {
        let (a, alen) = self.as_prefix();
        let (b, blen) = other.as_prefix();
        let len = alen.min(blen);
        a.is_ipv4() == b.is_ipv4() && prefix_contains(a, len, b)
    }

    fn as_prefix(&self) -> (IpAddr, u8) {
        match *self {
            Vip::Addr(a) => (a, full_len(a)),
            Vip::Pool(a, l) => (a, l),
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vip::Addr(a) => write!(f, "{a}"),
            Vip::Pool(a, l) => write!(f, "{a}/{l}"),
        }
    }
}

fn family(ipv4: bool) -> &'static str {
    if ipv4 { "IPv4" } else { "IPv6" }
}

fn full_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn to_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
        IpAddr::V6(v) => u128::from(v),
    }
}

fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// `addr` lies in `net/len` (same family).
pub fn prefix_contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    net.is_ipv4() == addr.is_ipv4() && (to_bits(net) ^ to_bits(addr)) & mask(len) == 0
}

fn unusable(what: &'static str, addr: IpAddr, allow_link_local: bool) -> Result<(), AddressError> {
    let why = match addr {
        IpAddr::V4(a) if a.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast address"),
        IpAddr::V4(a) if a.is_multicast() => Some("a multicast address"),
        IpAddr::V4(a) if a.is_loopback() => Some("a loopback address"),
        IpAddr::V6(a) if a.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(a) if a.is_multicast() => Some("a multicast address"),
        IpAddr::V6(a) if a.is_loopback() => Some("a loopback address"),
        IpAddr::V6(a) if !allow_link_local && a.is_unicast_link_local() => {
            Some("a link-local address")
        }
        _ => None,
    };
    match why {
        Some(why) => Err(AddressError::Unusable { what, addr, why }),
        None => Ok(()),
    }
}

fn parse_ip(what: &'static str, input: &str, prefix: &'static str) -> Result<IpAddr, AddressError> {
    input.parse().map_err(|_| AddressError::Malformed {
        what,
        input: input.to_string(),
        prefix,
    })
}

/// Parse a VIP: `ADDR` or `ADDR/LEN`.
pub fn parse_vip(input: &str) -> Result<Vip, AddressError> {
    let t = input.trim();
    let Some((a, l)) = t.split_once('/') else {
        let addr = parse_ip("VIP", t, " (or a prefix such as 203.0.113.0/24)")?;
        unusable("VIP", addr, false)?;
        return Ok(Vip::Addr(addr));
    };
    let net = parse_ip("VIP", a, " (or a prefix such as 203.0.113.0/24)")?;
    let max = full_len(net);
    let len: u8 =
        l.parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| AddressError::PrefixLength {
                input: input.to_string(),
                max,
            })?;
    if to_bits(net) & !mask(len) & mask(max) != 0 {
        let masked = to_bits(net) & mask(len);
        let base = match net {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from((masked >> 96) as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(masked)),
        };
        return Err(AddressError::HostBits {
            input: t.to_string(),
            suggestion: format!("{base}/{len}"),
        });
    }
    if len == max {
        unusable("VIP", net, false)?;
        return Ok(Vip::Addr(net));
    }
    let pool = Vip::Pool(net, len);
    if let Some((range, why)) = reserved_overlap(&pool) {
        return Err(AddressError::ReservedPool {
            pool: pool.to_string(),
            range,
            why,
        });
    }
    Ok(pool)
}

/// Ranges no pool may touch: a pool covering them would make rsdr treat
/// 0.0.0.0 / :: (probes, DAD) or multicast, loopback and link-local
/// addresses as VIPs.
const RESERVED: [(&str, &str); 8] = [
    ("0.0.0.0/8", "the unspecified network"),
    ("127.0.0.0/8", "loopback"),
    ("224.0.0.0/3", "multicast, reserved and broadcast"),
    ("169.254.0.0/16", "link-local"),
    ("::/127", "unspecified and loopback"),
    ("ff00::/8", "multicast"),
    ("fe80::/10", "link-local"),
    ("::ffff:0:0/96", "IPv4-mapped"),
];

fn reserved_overlap(pool: &Vip) -> Option<(&'static str, &'static str)> {
    RESERVED.iter().copied().find(|(range, _)| {
        let (net, len) = range.split_once('/').expect("range");
        let r = Vip::Pool(
            net.parse().expect("range address"),
            len.parse().expect("range length"),
        );
        pool.overlaps(&r)
    })
}

/// Parse the real IP for `vip`: a unicast address of the same family.
pub fn parse_real(input: &str, vip: &Vip) -> Result<IpAddr, AddressError> {
    let real = parse_ip("real IP", input.trim(), "")?;
    unusable("real IP", real, true)?;
    if real.is_ipv4() != vip.is_ipv4() {
        return Err(AddressError::FamilyMismatch {
            vip: vip.to_string(),
            vip_family: vip.family(),
            real,
            real_family: family(real.is_ipv4()),
        });
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_pools() {
        assert_eq!(parse_vip("192.0.2.10"), Ok(Vip::Addr(ip("192.0.2.10"))));
        assert_eq!(
            parse_vip(" 2001:db8::10 "),
            Ok(Vip::Addr(ip("2001:db8::10")))
        );
        assert_eq!(
            parse_vip("203.0.113.0/24"),
            Ok(Vip::Pool(ip("203.0.113.0"), 24))
        );
        assert_eq!(
            parse_vip("2001:db8:100::/64"),
            Ok(Vip::Pool(ip("2001:db8:100::"), 64))
        );
        assert_eq!(
            parse_vip("192.0.2.10/32"),
            Ok(Vip::Addr(ip("192.0.2.10"))),
            "/32 is one address"
        );
        assert_eq!(
            parse_vip("2001:db8::10/128"),
            Ok(Vip::Addr(ip("2001:db8::10")))
        );
    }

    #[test]
    fn rejects_garbage_with_the_argument_named() {
        let e = parse_vip("10.0.0.256").unwrap_err().to_string();
        assert!(e.starts_with("invalid VIP \"10.0.0.256\""), "got: {e}");
        let v = parse_vip("10.0.0.1").unwrap();
        let e = parse_real("eth0", &v).unwrap_err().to_string();
        assert!(e.starts_with("invalid real IP \"eth0\""), "got: {e}");
        assert!(matches!(
            parse_vip("10.0.0.0/33"),
            Err(AddressError::PrefixLength { max: 32, .. })
        ));
        assert!(matches!(
            parse_vip("10.0.0.0/x"),
            Err(AddressError::PrefixLength { .. })
        ));
    }

    #[test]
    fn host_bits_get_a_suggestion() {
        let e = parse_vip("203.0.113.5/24").unwrap_err();
        assert_eq!(
            e.to_string(),
            "203.0.113.5/24 has host bits set; did you mean 203.0.113.0/24?"
        );
        let e = parse_vip("2001:db8::1/64").unwrap_err();
        assert_eq!(
            e.to_string(),
            "2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?"
        );
    }

    #[test]
    fn rejects_non_unicast() {
        for bad in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "127.0.0.1",
            "::",
            "ff02::1",
            "::1",
            "fe80::1",
        ] {
            assert!(
                matches!(parse_vip(bad), Err(AddressError::Unusable { .. })),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn pools_may_not_cover_special_addresses() {
        for bad in [
            "0.0.0.0/8",
            "0.0.0.0/0",
            "224.0.0.0/4",
            "127.0.0.0/16",
            "::/96",
            "ff02::/16",
            "fe80::/64",
            "::/0",
        ] {
            assert!(
                matches!(parse_vip(bad), Err(AddressError::ReservedPool { .. })),
                "{bad} should be refused"
            );
        }
        assert!(parse_vip("10.0.0.0/8").is_ok());
        assert!(parse_vip("2001:db8::/32").is_ok());
    }

    #[test]
    fn real_must_match_the_family() {
        let v = parse_vip("2001:db8::10").unwrap();
        assert!(matches!(
            parse_real("10.0.0.2", &v),
            Err(AddressError::FamilyMismatch { .. })
        ));
        assert_eq!(
            parse_real("fe80::2", &v),
            Ok(ip("fe80::2")),
            "a link-local real IP is fine"
        );
    }

    #[test]
    fn containment_and_overlap() {
        let pool = parse_vip("203.0.113.0/24").unwrap();
        assert!(pool.covers(ip("203.0.113.200")));
        assert!(!pool.covers(ip("203.0.114.1")));
        assert!(!pool.covers(ip("2001:db8::1")));
        assert!(pool.overlaps(&parse_vip("203.0.113.128/25").unwrap()));
        assert!(pool.overlaps(&parse_vip("203.0.0.0/16").unwrap()));
        assert!(!pool.overlaps(&parse_vip("203.0.112.0/24").unwrap()));
        assert!(Vip::Pool(ip("0.0.0.0"), 0).covers(ip("8.8.8.8")));
    }
}
