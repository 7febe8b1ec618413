//! VIP addresses that rsdr manages on devices, over rtnetlink.
//!
//! rsdr marks the addresses it adds with its own address protocol number
//! (IFA_PROTO, Linux 6.3+; `ip addr` shows "proto 82"), so it can tell them
//! from addresses an operator or another tool put there, and never touches
//! the latter. IPv6 VIPs are added without duplicate address detection:
//! the director holds the same address, and rsdr hides its answers anyway.

use std::net::IpAddr;

use futures::TryStreamExt as _;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
};
use thiserror::Error;

use crate::iface;

/// rsdr's address protocol number ('R').
pub const RSDR_ADDR_PROTO: u8 = 82;

#[derive(Debug, Error)]
pub enum AddrsError {
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

/// An address on a device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DevAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ifindex: u32,
    /// Added by rsdr (marked with [`RSDR_ADDR_PROTO`]).
    pub managed: bool,
}

impl DevAddr {
    pub fn dev(&self) -> String {
        iface::name(self.ifindex).unwrap_or_else(|| format!("#{}", self.ifindex))
    }
}

/// A netlink handle, its connection driven on the current tokio runtime.
pub fn connect() -> Result<rtnetlink::Handle, AddrsError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(AddrsError::Connect)?;
    tokio::spawn(conn);
    Ok(handle)
}

fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn parse(msg: &AddressMessage) -> Option<DevAddr> {
    let mut addr = None;
    let mut managed = false;
    for a in &msg.attributes {
        match a {
            // For IPv4, IFA_LOCAL is the address itself; IFA_ADDRESS may be
            // the peer on point-to-point links.
            AddressAttribute::Local(ip) => addr = Some(*ip),
            AddressAttribute::Address(ip) if addr.is_none() => addr = Some(*ip),
            AddressAttribute::Protocol(p) => managed = u8::from(*p) == RSDR_ADDR_PROTO,
            _ => {}
        }
    }
    Some(DevAddr {
        addr: addr?,
        prefix: msg.header.prefix_len,
        ifindex: msg.header.index,
        managed,
    })
}

/// Every address on every device of this network namespace.
pub async fn list(handle: &rtnetlink::Handle) -> Result<Vec<DevAddr>, AddrsError> {
    let msgs: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(AddrsError::List)?;
    Ok(msgs.iter().filter_map(parse).collect())
}

/// Add `addr` as a host address (/32, /128) on `dev`, marked as rsdr's.
pub async fn add(handle: &rtnetlink::Handle, addr: IpAddr, dev: &str) -> Result<(), AddrsError> {
    let ifindex = iface::index(dev)?;
    let mut req = handle.address().add(ifindex, addr, host_len(addr));
    req.message_mut()
        .attributes
        .push(AddressAttribute::Protocol(AddressProtocol::Other(
            RSDR_ADDR_PROTO,
        )));
    if addr.is_ipv6() {
        req.message_mut().header.flags = AddressHeaderFlags::Nodad;
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    req.execute().await.map_err(|source| AddrsError::Netlink {
        op: "adding",
        addr,
        dev: dev.to_string(),
        source,
    })
}

/// Remove host address `addr` from device `ifindex`.
pub async fn del(handle: &rtnetlink::Handle, addr: IpAddr, ifindex: u32) -> Result<(), AddrsError> {
    let msgs: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_link_index_filter(ifindex)
        .set_address_filter(addr)
        .execute()
        .try_collect()
        .await
        .map_err(AddrsError::List)?;
    for m in msgs {
        handle
            .address()
            .del(m)
            .execute()
            .await
            .map_err(|source| AddrsError::Netlink {
                op: "removing",
                addr,
                dev: iface::name(ifindex).unwrap_or_default(),
                source,
            })?;
    }
    Ok(())
}

/// A network interface of this namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub ifindex: u32,
    pub up: bool,
    pub loopback: bool,
}

/// Every interface of this network namespace.
pub async fn links(handle: &rtnetlink::Handle) -> Result<Vec<Link>, AddrsError> {
    use netlink_packet_route::link::{LinkAttribute, LinkFlags};
    let msgs: Vec<netlink_packet_route::link::LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(AddrsError::List)?;
    Ok(msgs
        .iter()
        .map(|m| Link {
            name: m
                .attributes
                .iter()
                .find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
            ifindex: m.header.index,
            up: m.header.flags.contains(LinkFlags::Up),
            loopback: m.header.flags.contains(LinkFlags::Loopback),
        })
        .collect())
}
