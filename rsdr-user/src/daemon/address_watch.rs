//! Address removals, seen over rtnetlink: the daemon then applies the
//! configuration again, which puts back managed VIP addresses.

use futures::{StreamExt as _, channel::mpsc::UnboundedReceiver};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::RouteNetlinkMessage,
    sys::SocketAddr,
};

use super::{DaemonError, setup};

pub struct AddressWatch {
    events: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

impl AddressWatch {
    /// Subscribe to the address events of both families.
    pub fn subscribe() -> Result<Self, DaemonError> {
        let (mut conn, _, events) = rtnetlink::new_connection().map_err(setup("netlink"))?;
        let groups =
            rtnetlink::constants::RTMGRP_IPV4_IFADDR | rtnetlink::constants::RTMGRP_IPV6_IFADDR;
        rtnetlink::sys::AsyncSocket::socket_mut(conn.socket_mut())
            .bind(&SocketAddr::new(0, groups))
            .map_err(setup("subscribing to address events"))?;
        tokio::spawn(conn);
        Ok(Self { events })
    }

    /// The next address removal; none once the subscription ends.
    pub async fn next(&mut self) -> Option<()> {
        loop {
            let (msg, _) = self.events.next().await?;
            if matches!(
                msg.payload,
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(_))
            ) {
                return Some(());
            }
        }
    }
}
