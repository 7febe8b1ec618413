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

/// The changes, gathered by a task of their own: receiving from it is
/// cancel-safe (the daemon's `select!` may drop a receive, never an
/// event).
pub struct NetWatch {
    changes: tokio::sync::mpsc::UnboundedReceiver<Changes>,
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
        let (tx, changes) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(gather(events, tx));
        Ok(Self { changes })
    }

    /// The next changes that call for an apply (a link appearing, changing
    /// or going; an address going; events lost to an overrun), with what
    /// followed them within [`SETTLE`]; none once the subscription ends.
    pub async fn next(&mut self) -> Option<Changes> {
        self.changes.recv().await
    }
}

type Events = UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// Turn the event stream into batches of changes, until either side ends.
async fn gather(mut events: Events, tx: tokio::sync::mpsc::UnboundedSender<Changes>) {
    loop {
        let mut changes = Changes::default();
        while changes == Changes::default() {
            let Some((msg, _)) = events.next().await else {
                return;
            };
            count(&msg, &mut changes);
        }
        tokio::time::sleep(SETTLE).await;
        while let Ok((msg, _)) = events.try_recv() {
            count(&msg, &mut changes);
        }
        if tx.send(changes).is_err() {
            return;
        }
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
        // The socket overflowed: anything may have changed.
        NetlinkPayload::Overrun(_) => changes.links += 1,
        _ => {}
    }
}
