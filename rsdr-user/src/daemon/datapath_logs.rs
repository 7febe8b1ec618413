//! The datapath's log events: the programs write them to their aya-log
//! ring buffer (pinned, shared by the programs); the daemon reads it and
//! hands the records to its log.

use rsdr_common::maps::programs;
use tracing::warn;

use crate::pins::PinDir;

/// Forward the datapath's log records until the ring buffer goes away.
pub async fn forward(pins: PinDir) {
    let id = match aya::programs::ProgramInfo::from_pin(pins.prog(programs::TC_EGRESS)) {
        Ok(info) => info.id(),
        Err(e) => {
            warn!("datapath logs unavailable: {e}");
            return;
        }
    };
    let logger = match aya_log::EbpfLogger::init_from_id(id) {
        Ok(l) => l,
        Err(e) => {
            warn!("datapath logs unavailable: {e}");
            return;
        }
    };
    // SAFETY: the logger owns the ring buffer's fd for as long as the
    // AsyncFd owns the logger; as_raw_fd always returns that fd.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE)
    };
    let Ok(mut afd) = registered else {
        warn!("datapath logs unavailable: cannot poll the ring buffer");
        return;
    };
    loop {
        let Ok(mut guard) = afd.readable_mut().await else {
            return;
        };
        guard.get_inner_mut().flush();
        guard.clear_ready();
    }
}
