//! XDP programs attached over netlink (`IFLA_XDP`), for `--xdp-attach
//! netlink` and for kernels that refuse an XDP link. The interface holds
//! the program; it stays after rsdr exits. Requests name the program they
//! replace (`XDP_FLAGS_REPLACE` with the expected program), so rsdr never
//! removes another tool's XDP program.

use std::os::fd::{AsRawFd as _, BorrowedFd};

use netlink_packet_route::{
    RouteNetlinkMessage,
    link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached},
};

use super::request::{Failure, request};

const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// Native (driver) or skb (generic) XDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Native,
    Skb,
}

impl Mode {
    fn flags(self) -> u32 {
        match self {
            Mode::Native => XDP_FLAGS_DRV_MODE,
            Mode::Skb => XDP_FLAGS_SKB_MODE,
        }
    }
}

fn set(ifindex: u32, xdp: Vec<LinkXdp>) -> Result<(), Failure> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    msg.attributes.push(LinkAttribute::Xdp(xdp));
    request(RouteNetlinkMessage::SetLink(msg), 0).map(drop)
}

/// Attach `prog` in `mode`, unless an XDP program is attached already.
pub fn attach(ifindex: u32, mode: Mode, prog: BorrowedFd<'_>) -> Result<(), Failure> {
    set(
        ifindex,
        vec![
            LinkXdp::Fd(prog.as_raw_fd()),
            LinkXdp::Flags(mode.flags() | XDP_FLAGS_UPDATE_IF_NOEXIST),
        ],
    )
}

/// Run `new` in place of `expected` in `mode`, in one step (frames meet
/// one program or the other); refused if `expected` is not attached.
pub fn replace(
    ifindex: u32,
    mode: Mode,
    new: BorrowedFd<'_>,
    expected: BorrowedFd<'_>,
) -> Result<(), Failure> {
    set(
        ifindex,
        vec![
            LinkXdp::Fd(new.as_raw_fd()),
            LinkXdp::Flags(mode.flags() | XDP_FLAGS_REPLACE),
            LinkXdp::ExpectedFd(expected.as_raw_fd() as u32),
        ],
    )
}

/// Remove the XDP program of `mode`, if it is `expected`.
pub fn detach(ifindex: u32, mode: Mode, expected: BorrowedFd<'_>) -> Result<(), Failure> {
    set(
        ifindex,
        vec![
            LinkXdp::Fd(-1),
            LinkXdp::Flags(mode.flags() | XDP_FLAGS_REPLACE),
            LinkXdp::ExpectedFd(expected.as_raw_fd() as u32),
        ],
    )
}

/// The XDP program attached to `ifindex` in `mode`, by id, if any.
pub fn attached_prog(ifindex: u32, mode: Mode) -> Result<Option<u32>, Failure> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    let replies = request(RouteNetlinkMessage::GetLink(msg), 0)?;
    let mut attached = XdpAttached::None;
    let (mut single, mut native, mut skb) = (None, None, None);
    for reply in replies {
        let RouteNetlinkMessage::NewLink(m) = reply else {
            continue;
        };
        for a in m.attributes {
            let LinkAttribute::Xdp(xdp) = a else {
                continue;
            };
            for x in xdp {
                match x {
                    LinkXdp::Attached(at) => attached = at,
                    LinkXdp::ProgId(id) => single = Some(id),
                    LinkXdp::DrvProgId(id) => native = Some(id),
                    LinkXdp::SkbProgId(id) => skb = Some(id),
                    _ => {}
                }
            }
        }
    }
    Ok(match (attached, mode) {
        (XdpAttached::Driver, Mode::Native) | (XdpAttached::SocketBuffer, Mode::Skb) => single,
        (XdpAttached::Multiple, Mode::Native) => native,
        (XdpAttached::Multiple, Mode::Skb) => skb,
        _ => None,
    })
}
