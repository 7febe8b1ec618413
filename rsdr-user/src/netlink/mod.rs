//! rtnetlink: the addresses and links of this network namespace, and the
//! VIP addresses rsdr manages.

pub mod addresses;
pub mod links;

use std::net::IpAddr;

use thiserror::Error;

use crate::iface;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("netlink: {0}")]
    Connect(std::io::Error),
    #[error("{op} {addr} on {dev}: {source}")]
    Netlink {
        op: &'static str,
        addr: IpAddr,
        dev: String,
        source: rtnetlink::Error,
    },
    #[error("listing addresses: {0}")]
    List(rtnetlink::Error),
    #[error(transparent)]
    Iface(#[from] iface::IfaceError),
}

/// A netlink handle, its connection driven on the current tokio runtime.
pub fn connect() -> Result<rtnetlink::Handle, NetlinkError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Connect)?;
    tokio::spawn(conn);
    Ok(handle)
}
