//! A steady stream of ARP requests for an address from the peer, with a
//! capture of every reply, to prove that nothing answered for it during a
//! change (address ordering, hook changes); optionally with a stream of
//! ARP requests the server sends from that address, to prove that every one
//! left rewritten (egress hook changes).

use std::{
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::{
    frames::{Arp, Frame},
    inject::RawSocket,
    netns::Netns,
    pcap::{Capture, arp_fields},
};

pub struct Prober {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
    capture: Option<Capture>,
    target: Ipv4Addr,
}

/// What a prober saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probed {
    /// Requests the peer sent.
    pub sent: u64,
    /// Replies for the target that reached the peer.
    pub replies: usize,
    /// Frames that reached the peer with the target as sender IP (replies
    /// and requests: any announcement of it).
    pub announced: usize,
}

/// Send `frame` through `sock` every 2 ms until `stop`, counting in `sent`
/// what went out (while the link is down, sends fail and are not counted).
fn spawn_sender(
    sock: RawSocket,
    frame: Vec<u8>,
    stop: Arc<AtomicBool>,
    sent: Option<Arc<AtomicU64>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if sock.try_send(&frame).is_ok()
                && let Some(n) = &sent
            {
                n.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

impl Prober {
    /// From `peer` (`iface`), ask "who-has `target`" every 2 ms.
    pub fn start(peer: &Netns, iface: &str, sender: Ipv4Addr, target: Ipv4Addr) -> Self {
        let capture = Capture::start(peer, iface, "arp");
        let sock = RawSocket::open(peer, iface);
        let mac = peer.mac(iface);
        let frame = Frame::arp(mac, &Arp::request(mac, sender, target)).bytes();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let thread = spawn_sender(sock, frame, stop.clone(), Some(sent.clone()));
        Self {
            stop,
            sent,
            threads: vec![thread],
            capture: Some(capture),
            target,
        }
    }

    /// Also make `server` (`iface`) send "who-has `ask` tell <target>" every
    /// 2 ms, through a packet socket: its TC egress hook must rewrite each.
    pub fn with_server_requests(mut self, server: &Netns, iface: &str, ask: Ipv4Addr) -> Self {
        let sock = RawSocket::open(server, iface);
        let mac = server.mac(iface);
        let frame = Frame::arp(mac, &Arp::request(mac, self.target, ask)).bytes();
        self.threads
            .push(spawn_sender(sock, frame, self.stop.clone(), None));
        self
    }

    /// Stop; (requests sent, replies for the target seen).
    pub fn finish(self, marker_from: &RawSocket) -> (u64, usize) {
        let p = self.finish_all(marker_from);
        (p.sent, p.replies)
    }

    /// Stop, and tell everything seen.
    pub fn finish_all(mut self, marker_from: &RawSocket) -> Probed {
        self.stop_threads();
        let frames = self
            .capture
            .take()
            .expect("capture")
            .stop_synced(marker_from);
        let from_target: Vec<u16> = frames
            .iter()
            .filter_map(|f| arp_fields(f))
            .filter(|(_, _, spa, _)| *spa == self.target.octets())
            .map(|(op, ..)| op)
            .collect();
        Probed {
            sent: self.sent.load(Ordering::Relaxed),
            replies: from_target.iter().filter(|op| **op == 2).count(),
            announced: from_target.len(),
        }
    }

    fn stop_threads(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop_threads();
    }
}
