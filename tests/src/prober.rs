//! A steady stream of ARP requests for an address from the peer, with a
//! capture of every reply, to prove that nothing answered for it during a
//! change (address ordering, hook changes).

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
    thread: Option<JoinHandle<()>>,
    capture: Option<Capture>,
    target: Ipv4Addr,
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
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                sock.send(&frame);
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Self {
            stop,
            sent,
            thread: Some(thread),
            capture: Some(capture),
            target,
        }
    }

    /// Stop; (requests sent, replies for the target seen).
    pub fn finish(mut self, marker_from: &RawSocket) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let frames = self
            .capture
            .take()
            .expect("capture")
            .stop_synced(marker_from);
        let replies = frames
            .iter()
            .filter_map(|f| arp_fields(f))
            .filter(|(op, _, spa, _)| *op == 2 && *spa == self.target.octets())
            .count();
        (self.sent.load(Ordering::Relaxed), replies)
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
