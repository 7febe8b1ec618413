//! Packet capture with the real tcpdump, and a reader for the classic pcap
//! files it writes.

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use crate::{
    inject::RawSocket,
    netns::{Guard, Netns, unique_id},
};

/// EtherType of the marker frames that close a synced capture (IEEE
/// "local experimental").
const MARKER_ETHERTYPE: u16 = 0x88b5;

/// A running `tcpdump -w` inside a namespace.
pub struct Capture {
    guard: Guard,
    file: PathBuf,
}

impl Capture {
    /// Start capturing on `iface` in `ns` with a pcap `filter`; returns once
    /// tcpdump says it is listening.
    pub fn start(ns: &Netns, iface: &str, filter: &str) -> Self {
        let file = std::env::temp_dir().join(format!("rsdr-cap-{}.pcap", unique_id()));
        // Marker frames always pass, so `stop_synced` can see its own.
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("({filter}) or ether proto {MARKER_ETHERTYPE:#06x}")
        };
        let mut cmd = ns.cmd("tcpdump");
        cmd.args([
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "256",
            "-w",
        ])
        .arg(&file)
        .arg(&filter);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tcpdump: {e}"));
        let stderr = child.stderr.take().expect("tcpdump stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("listening on") => break,
                Some(Ok(l)) => seen.push(l),
                _ => panic!("tcpdump did not start: {}", seen.join("\n")),
            }
        }
        // Keep draining stderr so tcpdump never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Self {
            guard: Guard(Some(child)),
            file,
        }
    }

    /// Stop tcpdump (SIGINT, so it flushes) after a grace period and return
    /// the captured frames. Use [`Capture::stop_synced`] when a frame's
    /// absence matters.
    pub fn stop(self) -> Vec<Vec<u8>> {
        std::thread::sleep(Duration::from_millis(300));
        self.finish()
    }

    /// Send a marker frame through `sock` (which must reach the captured
    /// interface) and stop only once the capture holds it: everything sent
    /// before the marker has then been seen, or was really not there.
    pub fn stop_synced(self, sock: &RawSocket) -> Vec<Vec<u8>> {
        let id = unique_id();
        let mut marker = vec![0xff; 6];
        marker.extend_from_slice(&[0x02, 0, 0, 0, 0xfe, 0xfe]);
        marker.extend_from_slice(&MARKER_ETHERTYPE.to_be_bytes());
        marker.extend_from_slice(format!("rsdr-marker-{id}").as_bytes());
        marker.resize(60, 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            sock.send(&marker);
            std::thread::sleep(Duration::from_millis(50));
            let seen =
                std::fs::read(&self.file).map(|b| b.len() > 24 && parse(&b).contains(&marker));
            if seen.unwrap_or(false) || std::time::Instant::now() > deadline {
                break;
            }
        }
        self.finish()
    }

    /// [`Capture::stop`], with each frame's capture time (seconds since
    /// the Unix epoch).
    pub fn stop_timed(mut self) -> Vec<(f64, Vec<u8>)> {
        std::thread::sleep(Duration::from_millis(300));
        parse_timed(&self.finish_bytes())
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        parse(&self.finish_bytes())
    }

    fn finish_bytes(&mut self) -> Vec<u8> {
        if let Some(mut child) = self.guard.0.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        let bytes = std::fs::read(&self.file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.file.display()));
        let _ = std::fs::remove_file(&self.file);
        bytes
    }
}

/// Frames of a classic pcap file (either byte order).
pub fn parse(bytes: &[u8]) -> Vec<Vec<u8>> {
    parse_timed(bytes).into_iter().map(|(_, f)| f).collect()
}

/// Frames of a classic pcap file with their times (seconds since the Unix
/// epoch; microsecond or nanosecond files).
pub fn parse_timed(bytes: &[u8]) -> Vec<(f64, Vec<u8>)> {
    assert!(
        bytes.len() >= 24,
        "pcap file too short ({} bytes)",
        bytes.len()
    );
    let magic = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        m => panic!("not a pcap file (magic {m:08x})"),
    };
    let u32_at = |o: usize| {
        let b: [u8; 4] = bytes[o..o + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let caplen = u32_at(off + 8) as usize;
        let start = off + 16;
        if start + caplen > bytes.len() {
            break;
        }
        let frac = f64::from(u32_at(off + 4)) / if nanos { 1e9 } else { 1e6 };
        let t = f64::from(u32_at(off)) + frac;
        frames.push((t, bytes[start..start + caplen].to_vec()));
        off = start + caplen;
    }
    frames
}

/// (opcode, sender MAC, sender IP, target IP) of an ARP frame.
pub type ArpFields = (u16, [u8; 6], [u8; 4], [u8; 4]);

/// An ARP frame's fields, untagged or behind VLAN tags; `None` for anything else.
pub fn arp_fields(frame: &[u8]) -> Option<ArpFields> {
    let mut off = 12;
    let mut et = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    while et == 0x8100 || et == 0x88a8 {
        off += 4;
        et = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    if et != 0x0806 {
        return None;
    }
    let a = frame.get(off + 2..off + 2 + 28)?;
    Some((
        u16::from_be_bytes([a[6], a[7]]),
        a[8..14].try_into().ok()?,
        a[14..18].try_into().ok()?,
        a[24..28].try_into().ok()?,
    ))
}

/// (ICMPv6 type, IPv6 source, destination, target, checksum valid) of an NS/NA.
pub type NdFields = (
    u8,
    std::net::Ipv6Addr,
    std::net::Ipv6Addr,
    std::net::Ipv6Addr,
    bool,
);

/// An untagged IPv6 NS/NA frame's fields.
pub fn nd_fields(frame: &[u8]) -> Option<NdFields> {
    use std::net::Ipv6Addr;
    if frame.get(12..14)? != [0x86, 0xdd] || *frame.get(14 + 6)? != 58 {
        return None;
    }
    let ip = frame.get(14..54)?;
    let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    let msg = frame.get(54..54 + plen)?;
    let ty = msg[0];
    if ty != 135 && ty != 136 {
        return None;
    }
    let oct =
        |b: &[u8]| -> Option<Ipv6Addr> { Some(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?)) };
    let (src, dst, target) = (oct(&ip[8..24])?, oct(&ip[24..40])?, oct(msg.get(8..24)?)?);
    let mut zeroed = msg.to_vec();
    zeroed[2] = 0;
    zeroed[3] = 0;
    let ok =
        crate::frames::icmpv6_checksum(src, dst, &zeroed) == u16::from_be_bytes([msg[2], msg[3]]);
    Some((ty, src, dst, target, ok))
}
