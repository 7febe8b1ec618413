//! rsdr's cls_bpf filters on an interface's clsact qdisc: how TC programs
//! are attached on kernels without TCX (or where `--tc-attach netlink`
//! asks for it). rsdr owns one filter per direction, at its own priority
//! and handle, so it finds, replaces and removes exactly that filter and
//! never another tool's. The filter holds the program in the kernel; it
//! stays after rsdr exits, as a pinned link does.

use std::os::fd::AsRawFd as _;

use netlink_packet_route::{
    RouteNetlinkMessage,
    tc::{TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcHeader, TcMessage, TcOption},
};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};

use super::request::{Failure, dump, request};

/// rsdr's filter priority: 1, the first filters run, so that a filter of
/// another tool that accepts a frame cannot keep it from rsdr. rsdr's
/// programs let every frame they do not act on go on to the next filter.
pub const PRIORITY: u16 = 1;
/// rsdr's filter handle ("RSDR").
pub const HANDLE: u32 = 0x5253_4452;
/// `ETH_P_ALL`, in network byte order as the filter header holds it.
const ALL_PROTOCOLS: u32 = 0x0003u16.to_be() as u32;

/// Which half of the clsact qdisc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn parent(self) -> TcHandle {
        TcHandle {
            major: 0xffff,
            minor: match self {
                Direction::Ingress => TcHandle::MIN_INGRESS,
                Direction::Egress => TcHandle::MIN_EGRESS,
            },
        }
    }
}

/// What [`attach`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A new filter.
    Created,
    /// The program of rsdr's filter that was there already, swapped.
    Replaced,
}

fn header(ifindex: u32, dir: Direction, handle: u32, info: u32) -> TcHeader {
    TcHeader {
        index: ifindex as i32,
        handle: TcHandle::from(handle),
        parent: dir.parent(),
        info,
        ..TcHeader::default()
    }
}

/// Add a clsact qdisc to `ifindex`, unless it has one. A legacy
/// `ingress` qdisc in its place (same handle, no egress half) is refused:
/// an egress filter added there would run on inbound frames.
pub fn add_clsact(ifindex: u32) -> Result<(), Failure> {
    let mut h = TcHeader {
        index: ifindex as i32,
        handle: TcHandle {
            major: 0xffff,
            minor: 0,
        },
        parent: TcHandle::CLSACT,
        ..TcHeader::default()
    };
    h.info = 0;
    let msg = TcMessage::from_parts(h, vec![TcAttribute::Kind("clsact".into())]);
    match request(
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Err(e) if e.is(libc::EEXIST) => match ingress_qdisc_kind(ifindex)? {
            Some(kind) if kind == "clsact" => Ok(()),
            other => Err(Failure::from(std::io::Error::other(format!(
                "a qdisc of kind {:?} holds the clsact qdisc's place; replace it with clsact (tc qdisc del dev IFACE ingress)",
                other.unwrap_or_default()
            )))),
        },
        other => other.map(drop),
    }
}

/// The kind of the qdisc at the ingress/clsact attachment of `ifindex`.
fn ingress_qdisc_kind(ifindex: u32) -> Result<Option<String>, Failure> {
    let replies = dump(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))?;
    Ok(replies.into_iter().find_map(|r| match r {
        RouteNetlinkMessage::NewQueueDiscipline(m)
            if m.header.index == ifindex as i32 && m.header.parent == TcHandle::CLSACT =>
        {
            m.attributes.into_iter().find_map(|a| match a {
                TcAttribute::Kind(k) => Some(k),
                _ => None,
            })
        }
        _ => None,
    }))
}

/// Put `prog` (named `name`) in rsdr's filter of `dir` on `ifindex`: a new
/// filter, or the program swapped in place in the filter that is there
/// (atomically: frames meet the old program or the new one).
pub fn attach(
    ifindex: u32,
    dir: Direction,
    prog: std::os::fd::BorrowedFd<'_>,
    name: &str,
) -> Result<Attached, Failure> {
    add_clsact(ifindex)?;
    let msg = || {
        let options = vec![
            TcOption::Bpf(TcFilterBpfOption::ProgFd(prog.as_raw_fd() as u32)),
            TcOption::Bpf(TcFilterBpfOption::ProgName(name.to_string())),
            TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
        ];
        let info = (u32::from(PRIORITY) << 16) | ALL_PROTOCOLS;
        RouteNetlinkMessage::NewTrafficFilter(TcMessage::from_parts(
            header(ifindex, dir, HANDLE, info),
            vec![
                TcAttribute::Kind("bpf".into()),
                TcAttribute::Options(options),
            ],
        ))
    };
    match request(msg(), NLM_F_CREATE | NLM_F_EXCL) {
        // Without CREATE, the kernel changes the filter that is there.
        Err(e) if e.is(libc::EEXIST) => request(msg(), 0).map(|_| Attached::Replaced),
        other => other.map(|_| Attached::Created),
    }
}

/// The program of rsdr's filter of `dir` on `ifindex`, if it has one:
/// asked for exactly that filter (priority, protocol, handle).
pub fn attached_prog(ifindex: u32, dir: Direction) -> Result<Option<u32>, Failure> {
    let info = (u32::from(PRIORITY) << 16) | ALL_PROTOCOLS;
    let msg = TcMessage::from_parts(
        header(ifindex, dir, HANDLE, info),
        vec![TcAttribute::Kind("bpf".into())],
    );
    let replies = match request(RouteNetlinkMessage::GetTrafficFilter(msg), 0) {
        // No such filter, or no clsact qdisc at all.
        Err(e) if e.is(libc::ENOENT) || e.is(libc::EINVAL) => return Ok(None),
        other => other?,
    };
    Ok(replies.into_iter().find_map(|r| match r {
        RouteNetlinkMessage::NewTrafficFilter(m) => {
            m.attributes.into_iter().find_map(|a| match a {
                TcAttribute::Options(opts) => opts.into_iter().find_map(|o| match o {
                    TcOption::Bpf(TcFilterBpfOption::ProgId(id)) => Some(id),
                    _ => None,
                }),
                _ => None,
            })
        }
        _ => None,
    }))
}

/// Remove rsdr's filter of `dir` from `ifindex`; false if there was none.
/// The clsact qdisc stays: other filters may use it, and an empty one
/// costs nothing.
pub fn detach(ifindex: u32, dir: Direction) -> Result<bool, Failure> {
    let info = (u32::from(PRIORITY) << 16) | ALL_PROTOCOLS;
    let msg = TcMessage::from_parts(
        header(ifindex, dir, HANDLE, info),
        vec![TcAttribute::Kind("bpf".into())],
    );
    match request(RouteNetlinkMessage::DelTrafficFilter(msg), 0) {
        Ok(_) => Ok(true),
        Err(e) if e.is(libc::ENOENT) || e.is(libc::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}
