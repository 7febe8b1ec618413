//! rtnetlink: the addresses and links of this network namespace, the VIP
//! addresses rsdr manages, and the TC filters and XDP programs it attaches
//! where it does not use BPF links.

pub mod addresses;
pub mod links;
mod request;
pub mod tc_filter;
pub mod xdp;

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
    #[error(
        "cannot manage {addr}: this kernel lacks address protocols (IFA_PROTO, Linux 5.18 or newer has them), which mark the addresses rsdr adds; add the VIP yourself and leave out manage_address"
    )]
    NoAddressProtocols { addr: IpAddr },
    #[error(transparent)]
    Iface(#[from] iface::IfaceError),
}

/// A netlink handle, its connection driven on the current tokio runtime.
pub fn connect() -> Result<rtnetlink::Handle, NetlinkError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Connect)?;
    tokio::spawn(conn);
    Ok(handle)
}
