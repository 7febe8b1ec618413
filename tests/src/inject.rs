//! Raw frames in and out of a namespace's interface through an AF_PACKET
//! socket: for frames no tool sends (a director's reply to a probe, a
//! mangled ARP header) and for corpora.

use std::{
    ffi::CString,
    fs::File,
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use crate::netns::Netns;

/// An AF_PACKET socket bound to one interface of one namespace.
pub struct RawSocket {
    fd: OwnedFd,
}

const ETH_P_ALL: u16 = 0x0003;

impl RawSocket {
    /// Open it inside `ns` (from a helper thread that enters the namespace,
    /// so this thread's namespace is untouched; the socket keeps its own).
    pub fn open(ns: &Netns, iface: &str) -> Self {
        let path = ns.path();
        let iface = iface.to_string();
        std::thread::spawn(move || -> io::Result<OwnedFd> {
            let f = File::open(&path)?;
            // SAFETY: valid fd; CLONE_NEWNET only affects this helper thread.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let proto = ETH_P_ALL.to_be();
            // SAFETY: plain socket(2) call.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: we own the new descriptor.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let name = CString::new(iface).map_err(|_| io::Error::other("bad name"))?;
            // SAFETY: NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: zeroed sockaddr_ll is valid; fields set below.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
            sa.sll_ifindex = ifindex as i32;
            // SAFETY: sa is a properly sized sockaddr_ll.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sa as *const _ as *const libc::sockaddr,
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(fd)
        })
        .join()
        .expect("raw socket thread")
        .map(|fd| Self { fd })
        .unwrap_or_else(|e| panic!("cannot open a raw socket in {}: {e}", ns.name()))
    }

    /// Send one frame as is.
    pub fn send(&self, frame: &[u8]) {
        if let Err(e) = self.try_send(frame) {
            panic!("sending a raw frame: {e}");
        }
    }

    /// Send one frame as is, or say why it could not go (a link that is
    /// down refuses with ENOBUFS or ENETDOWN).
    pub fn try_send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: valid buffer and length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n == frame.len() as isize {
            Ok(())
        } else if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Err(io::Error::other(format!(
                "sent {n} of {} bytes",
                frame.len()
            )))
        }
    }
}
