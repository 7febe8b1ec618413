//! Network interface names and indices, in the caller's network namespace.

use std::ffi::{CStr, CString};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IfaceError {
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    #[error("unknown interface {0}")]
    Unknown(String),
    #[error(
        "{name} is not an Ethernet device (link type {kind}): rsdr's programs read Ethernet frames"
    )]
    NotEthernet { name: String, kind: String },
    #[error("{name}: cannot read its link type: {source}")]
    LinkType {
        name: String,
        source: std::io::Error,
    },
}

/// Index of interface `name`.
pub fn index(name: &str) -> Result<u32, IfaceError> {
    validate_name(name)?;
    let c = CString::new(name).map_err(|_| IfaceError::InvalidName(name.to_string()))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(IfaceError::Unknown(name.to_string()));
    }
    Ok(idx)
}

/// Refuse an interface whose frames are not Ethernet (loopback, tun,
/// WireGuard, IP tunnels, InfiniBand): the programs would read IP bytes as
/// an EtherType. VLAN, bond, bridge, macvlan and veth devices are Ethernet.
pub fn require_ethernet(name: &str) -> Result<(), IfaceError> {
    let kind = link_type(name)?;
    if kind == libc::ARPHRD_ETHER {
        return Ok(());
    }
    let kind = match kind {
        libc::ARPHRD_LOOPBACK => "loopback".to_string(),
        libc::ARPHRD_NONE => "none: tun, WireGuard and the like".to_string(),
        libc::ARPHRD_TUNNEL | libc::ARPHRD_TUNNEL6 | libc::ARPHRD_SIT | libc::ARPHRD_IPGRE => {
            "IP tunnel".to_string()
        }
        libc::ARPHRD_INFINIBAND => "InfiniBand".to_string(),
        other => other.to_string(),
    };
    Err(IfaceError::NotEthernet {
        name: name.to_string(),
        kind,
    })
}

/// The ARPHRD_* link type of `name`, in the caller's network namespace.
fn link_type(name: &str) -> Result<u16, IfaceError> {
    let err = |source| IfaceError::LinkType {
        name: name.to_string(),
        source,
    };
    validate_name(name)?;
    // SAFETY: plain socket creation; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a new descriptor nobody else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: all-zero bytes are a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the NUL-terminated name (validated to
    // fit, the rest zero) and writes the union inside `req`.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::SIOCGIFHWADDR,
            &mut req,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::ENODEV) {
            IfaceError::Unknown(name.to_string())
        } else {
            err(e)
        });
    }
    // SAFETY: on success the kernel filled in ifru_hwaddr.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

/// Name of interface `index`, if it exists.
pub fn name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes as the call requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

/// Kernel rules for interface names (dev_valid_name): 1..=15 bytes, not "."
/// or "..", no '/', ':' or whitespace. Also used to keep pin paths safe.
pub fn validate_name(name: &str) -> Result<(), IfaceError> {
    let ok = !name.is_empty()
        && name.len() < libc::IF_NAMESIZE
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(IfaceError::InvalidName(name.to_string()))
    }
}
