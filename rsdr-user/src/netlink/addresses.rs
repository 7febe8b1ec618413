//! The addresses of this network namespace, and the VIP addresses rsdr
//! manages on devices.
//!
//! rsdr marks the addresses it adds with its own address protocol number
//! (IFA_PROTO, Linux 5.18+; `ip addr` shows "proto 82"), so it can tell them
//! from addresses an operator or another tool put there, and never touches
//! the latter. IPv6 VIPs are added without duplicate address detection:
//! the director holds the same address, and rsdr hides its answers anyway.

use std::net::IpAddr;

use futures::TryStreamExt as _;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
};

use super::{NetlinkError, links};
use crate::iface;

/// rsdr's address protocol number ('R').
pub const RSDR_ADDR_PROTO: u8 = 82;

/// An address on a device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DevAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ifindex: u32,
    /// The device's name when the address was listed.
    pub dev: String,
    /// Added by rsdr (marked with [`RSDR_ADDR_PROTO`]).
    pub managed: bool,
}

fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn parse(msg: &AddressMessage, names: &[links::Link]) -> Option<DevAddr> {
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
    let ifindex = msg.header.index;
    let dev = names
        .iter()
        .find(|l| l.ifindex == ifindex)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| format!("#{ifindex}"));
    Some(DevAddr {
        addr: addr?,
        prefix: msg.header.prefix_len,
        ifindex,
        dev,
        managed,
    })
}

/// Every address on every device of this network namespace.
pub async fn list(handle: &rtnetlink::Handle) -> Result<Vec<DevAddr>, NetlinkError> {
    let names = links::list(handle).await?;
    let msgs: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(NetlinkError::List)?;
    Ok(msgs.iter().filter_map(|m| parse(m, &names)).collect())
}

/// Add `addr` as a host address (/32, /128) on `dev`, marked as rsdr's.
pub async fn add(handle: &rtnetlink::Handle, addr: IpAddr, dev: &str) -> Result<(), NetlinkError> {
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
    req.execute()
        .await
        .map_err(|source| NetlinkError::Netlink {
            op: "adding",
            addr,
            dev: dev.to_string(),
            source,
        })?;
    // Kernels before 5.18 drop the protocol silently: rsdr could not tell
    // the address from one someone else added. Take it back and refuse.
    let marked = list(handle)
        .await?
        .iter()
        .any(|a| a.addr == addr && a.ifindex == ifindex && a.managed);
    if !marked {
        del(handle, addr, ifindex).await?;
        return Err(NetlinkError::NoAddressProtocols { addr });
    }
    Ok(())
}

/// Remove host address `addr` from device `ifindex`.
pub async fn del(
    handle: &rtnetlink::Handle,
    addr: IpAddr,
    ifindex: u32,
) -> Result<(), NetlinkError> {
    let msgs: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_link_index_filter(ifindex)
        .set_address_filter(addr)
        .execute()
        .try_collect()
        .await
        .map_err(NetlinkError::List)?;
    for m in msgs {
        handle
            .address()
            .del(m)
            .execute()
            .await
            .map_err(|source| NetlinkError::Netlink {
                op: "removing",
                addr,
                dev: iface::name(ifindex).unwrap_or_default(),
                source,
            })?;
    }
    Ok(())
}
