//! Parsing and validation of addresses given by a user.

use std::net::Ipv4Addr;

use rsdr_common::Ipv4Raw;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddrError {
    #[error("invalid {what} {input:?}: expected an IPv4 address such as 192.0.2.10")]
    Malformed { what: &'static str, input: String },
    #[error("{what} {input}: IPv6 is not supported yet")]
    Ipv6 { what: &'static str, input: String },
    #[error("{what} {addr} is {why} and cannot be used")]
    Unusable { what: &'static str, addr: Ipv4Addr, why: &'static str },
}

/// Parse a unicast IPv4 address a real server could hold. `what` names the
/// argument in errors ("VIP", "real IP").
pub fn parse_v4(what: &'static str, input: &str) -> Result<Ipv4Addr, AddrError> {
    let input_trim = input.trim();
    let addr: Ipv4Addr = input_trim.parse().map_err(|_| {
        if input_trim.contains(':') && input_trim.parse::<std::net::Ipv6Addr>().is_ok() {
            AddrError::Ipv6 { what, input: input.to_string() }
        } else {
            AddrError::Malformed { what, input: input.to_string() }
        }
    })?;
    let why = if addr.is_unspecified() {
        Some("the unspecified address")
    } else if addr.is_broadcast() {
        Some("the broadcast address")
    } else if addr.is_multicast() {
        Some("a multicast address")
    } else if addr.is_loopback() {
        Some("a loopback address")
    } else {
        None
    };
    match why {
        Some(why) => Err(AddrError::Unusable { what, addr, why }),
        None => Ok(addr),
    }
}

/// The wire representation used as map key/value.
pub fn to_raw(addr: Ipv4Addr) -> Ipv4Raw {
    u32::from_ne_bytes(addr.octets())
}

pub fn from_raw(raw: Ipv4Raw) -> Ipv4Addr {
    Ipv4Addr::from(raw.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unicast() {
        assert_eq!(parse_v4("VIP", "192.0.2.10"), Ok(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(parse_v4("VIP", " 10.0.0.1 "), Ok(Ipv4Addr::new(10, 0, 0, 1)));
    }

    #[test]
    fn rejects_garbage_with_the_argument_named() {
        let e = parse_v4("VIP", "10.0.0.256").unwrap_err().to_string();
        assert!(e.starts_with("invalid VIP \"10.0.0.256\""), "got: {e}");
        let e = parse_v4("real IP", "eth0").unwrap_err().to_string();
        assert!(e.starts_with("invalid real IP \"eth0\""), "got: {e}");
        assert!(matches!(parse_v4("VIP", "2001:db8::1"), Err(AddrError::Ipv6 { .. })));
    }

    #[test]
    fn rejects_non_unicast() {
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "127.0.0.1"] {
            assert!(
                matches!(parse_v4("VIP", bad), Err(AddrError::Unusable { .. })),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn raw_roundtrip_keeps_wire_order() {
        let a = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(to_raw(a).to_ne_bytes(), [192, 0, 2, 10]);
        assert_eq!(from_raw(to_raw(a)), a);
    }
}
