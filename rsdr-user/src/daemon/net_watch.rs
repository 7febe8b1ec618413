//! Changes to interfaces and addresses, seen over rtnetlink: the daemon
//! then applies the configuration again, which attaches an interface that
//! appeared (at boot, or created again under the same name), withdraws
//! managed addresses while one is missing, and puts back managed VIP
//! addresses something else removed.

use std::time::Duration;

use futures::{StreamExt as _, channel::mpsc::UnboundedReceiver};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::RouteNetlinkMessage,
    sys::SocketAddr,
};

use super::{DaemonError, setup};

/// What changed, for the daemon's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub links: u64,
    pub address_removals: u64,
}

pub struct NetWatch {
    events: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

/// How long a burst of events (an interface created, renamed, brought up,
/// given addresses) is let settle before one apply answers it all.
const SETTLE: Duration = Duration::from_millis(20);

impl NetWatch {
    /// Subscribe to link events and to the address events of both families.
    pub fn subscribe() -> Result<Self, DaemonError> {
        let (mut conn, _, events) = rtnetlink::new_connection().map_err(setup("netlink"))?;
        let groups = rtnetlink::constants::RTMGRP_LINK
            | rtnetlink::constants::RTMGRP_IPV4_IFADDR
            | rtnetlink::constants::RTMGRP_IPV6_IFADDR;
        rtnetlink::sys::AsyncSocket::socket_mut(conn.socket_mut())
            .bind(&SocketAddr::new(0, groups))
            .map_err(setup("subscribing to link and address events"))?;
        tokio::spawn(conn);
        Ok(Self { events })
    }

    /// The next changes that call for an apply (a link appearing, changing
    /// or going; an address going), with what follows them within
    /// [`SETTLE`]; none once the subscription ends.
    pub async fn next(&mut self) -> Option<Changes> {
        let mut changes = Changes::default();
        loop {
            let (msg, _) = self.events.next().await?;
            count(&msg, &mut changes);
            if changes != Changes::default() {
                break;
            }
        }
        tokio::time::sleep(SETTLE).await;
        while let Ok((msg, _)) = self.events.try_recv() {
            count(&msg, &mut changes);
        }
        Some(changes)
    }
}

fn count(msg: &NetlinkMessage<RouteNetlinkMessage>, changes: &mut Changes) {
    match &msg.payload {
        NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_),
        ) => changes.links += 1,
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(_)) => {
            changes.address_removals += 1
        }
        _ => {}
    }
}
