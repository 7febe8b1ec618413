//! One rtnetlink request over a blocking socket, answered in full: for the
//! few requests the attach code makes while it holds the pin directory's
//! lock (TC filters and XDP programs by interface index), where there is no
//! async runtime to drive the rtnetlink crate's connection.

use std::{fmt, io};

use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::{
    packet_core::{
        ErrorMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
        NetlinkPayload,
    },
    sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE},
};

/// `NLMSGERR_ATTR_MSG`: the kernel's reason for an error, as text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Length of the request header an error message repeats (the rest of the
/// request is left out: the socket asks for capped acknowledgements).
const NLMSG_HDRLEN: usize = 16;

/// A request that failed: the kernel's errno, and its reason when it gave
/// one (extended acknowledgements), e.g. "Parent Qdisc doesn't exists".
#[derive(Debug)]
pub struct Failure {
    pub errno: Option<i32>,
    message: String,
}

impl Failure {
    /// Did the kernel refuse with `errno`?
    pub fn is(&self, errno: i32) -> bool {
        self.errno == Some(errno)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure {
            errno: e.raw_os_error(),
            message: e.to_string(),
        }
    }
}

fn error(e: &ErrorMessage) -> Failure {
    let base = e.to_io();
    let errno = base.raw_os_error();
    let mut tlvs = e.header.get(NLMSG_HDRLEN..).unwrap_or_default();
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            break;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = String::from_utf8_lossy(&tlvs[4..len]);
            let text = text.trim_end_matches('\0').trim();
            if !text.is_empty() {
                return Failure {
                    errno,
                    message: format!("{text} ({base})"),
                };
            }
        }
        tlvs = &tlvs[len.next_multiple_of(4).min(tlvs.len())..];
    }
    Failure::from(base)
}

/// Send `msg` with `flags` (plus REQUEST and ACK) and collect what the
/// kernel answers until its acknowledgement (or, for a dump, its end).
pub fn request(msg: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, Failure> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    // Errors name their reason; acknowledgements do not repeat the request.
    let _ = socket.set_ext_ack(true);
    let _ = socket.set_cap_ack(true);
    let mut header = NetlinkHeader::default();
    header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
    let mut out = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut at = 0;
        while at < data.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::InnerMessage(m) => out.push(m),
                NetlinkPayload::Error(e) if e.code.is_some() => return Err(error(&e)),
                // The acknowledgement of a request that is not a dump.
                NetlinkPayload::Error(_) if !dump => return Ok(out),
                // The end of a dump; a dump the kernel could not finish
                // says so in the Done message's first word.
                NetlinkPayload::Done(d) if d.code != 0 => {
                    return Err(io::Error::from_raw_os_error(-d.code).into());
                }
                NetlinkPayload::Done(_) => return Ok(out),
                _ => {}
            }
            if len == 0 {
                break;
            }
            at += len.next_multiple_of(4);
        }
    }
}

/// A dump request: every object of `msg`'s kind that matches its header.
pub fn dump(msg: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, Failure> {
    request(msg, NLM_F_DUMP)
}
