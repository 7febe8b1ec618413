//! rsdr's cls_bpf filters on an interface's clsact qdisc: how TC programs
//! are attached on kernels without TCX (or where `--tc-attach netlink`
//! asks for it). rsdr owns one filter per direction, at its own priority
//! and handle, so it finds, replaces and removes exactly that filter and
//! never another tool's. The filter holds the program in the kernel; it
//! stays after rsdr exits, as a pinned link does.

use std::{io, os::fd::AsRawFd as _};

use netlink_packet_route::{
    RouteNetlinkMessage,
    tc::{TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcHeader, TcMessage, TcOption},
};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};

use super::request::{dump, request};

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

/// One filter on a clsact qdisc, as a dump shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub priority: u16,
    pub handle: u32,
    pub kind: String,
    /// The BPF program a `bpf` filter runs.
    pub prog_id: Option<u32>,
}

impl Filter {
    /// Is this rsdr's filter (its priority and handle)?
    pub fn is_rsdr(&self) -> bool {
        self.priority == PRIORITY && self.handle == HANDLE
    }
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

/// Add a clsact qdisc to `ifindex`, unless it has one.
pub fn add_clsact(ifindex: u32) -> io::Result<()> {
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
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        other => other.map(drop),
    }
}

/// Put `prog` (named `name`) in rsdr's filter of `dir` on `ifindex`: a new
/// filter, or the program swapped in place in the filter that is there
/// (atomically: frames meet the old program or the new one).
pub fn attach(
    ifindex: u32,
    dir: Direction,
    prog: std::os::fd::BorrowedFd<'_>,
    name: &str,
) -> io::Result<()> {
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
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => request(msg(), 0).map(drop),
        other => other.map(drop),
    }
}

/// Every filter of `dir` on `ifindex` (none without a clsact qdisc).
pub fn filters(ifindex: u32, dir: Direction) -> io::Result<Vec<Filter>> {
    let msg = TcMessage::from_parts(header(ifindex, dir, 0, 0), Vec::new());
    let replies = match dump(RouteNetlinkMessage::GetTrafficFilter(msg)) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(Vec::new()),
        other => other?,
    };
    let mut out = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewTrafficFilter(m) = reply else {
            continue;
        };
        let mut kind = String::new();
        let mut prog_id = None;
        for a in &m.attributes {
            match a {
                TcAttribute::Kind(k) => kind = k.clone(),
                TcAttribute::Options(opts) => {
                    prog_id = opts.iter().find_map(|o| match o {
                        TcOption::Bpf(TcFilterBpfOption::ProgId(id)) => Some(*id),
                        _ => None,
                    })
                }
                _ => {}
            }
        }
        // The dump lists each priority once more, without a handle, as
        // the head of its chain: only real filters count.
        if u32::from(m.header.handle) == 0 {
            continue;
        }
        out.push(Filter {
            priority: (m.header.info >> 16) as u16,
            handle: m.header.handle.into(),
            kind,
            prog_id,
        });
    }
    Ok(out)
}

/// The program of rsdr's filter of `dir` on `ifindex`, if it has one.
pub fn attached_prog(ifindex: u32, dir: Direction) -> io::Result<Option<u32>> {
    Ok(filters(ifindex, dir)?
        .into_iter()
        .find(Filter::is_rsdr)
        .and_then(|f| f.prog_id))
}

/// Remove rsdr's filter of `dir` from `ifindex`; false if there was none.
/// The clsact qdisc stays: other filters may use it, and an empty one
/// costs nothing.
pub fn detach(ifindex: u32, dir: Direction) -> io::Result<bool> {
    let info = (u32::from(PRIORITY) << 16) | ALL_PROTOCOLS;
    let msg = TcMessage::from_parts(
        header(ifindex, dir, HANDLE, info),
        vec![TcAttribute::Kind("bpf".into())],
    );
    match request(RouteNetlinkMessage::DelTrafficFilter(msg), 0) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => Ok(false),
        Err(e) => Err(e),
    }
}
