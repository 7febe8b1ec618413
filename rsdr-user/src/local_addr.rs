//! The real IP of a VIP must be an address of this host (of the caller's
//! network namespace, on any interface): rsdr makes the host announce it in
//! place of the VIP, and announcing an address another host holds would
//! take that host's traffic. `vip add` and the configuration file refuse a
//! foreign real IP unless told otherwise (`--allow-foreign-real`,
//! `allow_foreign_real = true`), and `rsdr check` flags one in the tables.

use std::{collections::HashSet, io, net::IpAddr};

use thiserror::Error;

use crate::{entry::VipEntry, vip::Vip};

#[derive(Debug, Error)]
pub enum LocalAddrError {
    #[error("listing this host's addresses: {0}")]
    List(io::Error),
    #[error(
        "real IP {real} of VIP {vip} is not an address of this host (announcing it would take its owner's traffic; {hint} overrides)"
    )]
    Foreign {
        vip: Vip,
        real: IpAddr,
        hint: &'static str,
    },
}

/// Every address configured on an interface of this network namespace.
pub fn addresses() -> io::Result<HashSet<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = HashSet::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned; its
        // address, when set, is a sockaddr of the family it names.
        unsafe {
            let sa = (*cur).ifa_addr;
            if !sa.is_null() {
                match i32::from((*sa).sa_family) {
                    libc::AF_INET => {
                        let sin = &*sa.cast::<libc::sockaddr_in>();
                        out.insert(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*sa.cast::<libc::sockaddr_in6>();
                        out.insert(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// Check that the real IP of each entry is an address of this host.
/// Entries for which `allowed` says yes pass with a warning line each
/// (returned); the first other one with a foreign real IP is an error
/// naming `hint`, the override.
pub fn check_reals<'a>(
    entries: impl IntoIterator<Item = (&'a VipEntry, bool)>,
    hint: &'static str,
) -> Result<Vec<String>, LocalAddrError> {
    let local = addresses().map_err(LocalAddrError::List)?;
    let mut warnings = Vec::new();
    for (e, allowed) in entries {
        if local.contains(&e.real) {
            continue;
        }
        if !allowed {
            return Err(LocalAddrError::Foreign {
                vip: e.vip,
                real: e.real,
                hint,
            });
        }
        warnings.push(format!(
            "warning: real IP {} of VIP {} is not an address of this host (yet?); it is announced anyway",
            e.real, e.vip
        ));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_an_address_of_this_host() {
        let a = addresses().expect("getifaddrs");
        assert!(
            a.contains(&IpAddr::from([127, 0, 0, 1])),
            "127.0.0.1 missing from {a:?}"
        );
    }

    #[test]
    fn a_foreign_real_is_refused_unless_allowed() {
        let e = VipEntry::parse("192.0.2.10", "192.0.2.250", Default::default()).expect("entry");
        let err = check_reals([(&e, false)], "--x").expect_err("refused");
        assert!(err.to_string().contains("192.0.2.250"), "{err}");
        let warn = check_reals([(&e, true)], "--x").expect("allowed");
        assert_eq!(warn.len(), 1, "one warning: {warn:?}");
        // Any address of this host that may be a real IP passes.
        let local = addresses().expect("getifaddrs").into_iter().find_map(|a| {
            let vip = if a.is_ipv4() {
                "192.0.2.10"
            } else {
                "2001:db8::10"
            };
            VipEntry::parse(vip, &a.to_string(), Default::default()).ok()
        });
        if let Some(l) = local {
            assert!(check_reals([(&l, false)], "--x").expect("local").is_empty());
        }
    }
}
