//! Helpers for skb-based (TC) programs.

use aya_ebpf::programs::TcContext;

use crate::{
    frame::Frame,
    nd::{self, ND_END, Parsed},
};

/// The frame, with at least `need` bytes linear if the packet has them.
#[inline(always)]
pub fn linear(ctx: &TcContext, need: usize) -> Frame {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    if frame.at::<u8>(need - 1).is_some() || (ctx.len() as usize) < need {
        return frame;
    }
    // The helper invalidates packet pointers whatever it returns.
    let _ = ctx.pull_data(need as u32);
    Frame::new(ctx.data(), ctx.data_end())
}

/// [`nd::parse`] on an skb: an NS/NA head that lies partly outside the
/// linear part (e.g. sent through PACKET_TX_RING) is pulled in and parsed
/// again. With `EXT` (ingress), extension headers of any length may come
/// first: the whole packet is pulled in (a length of 0 would only make the
/// linear part writable).
#[inline(always)]
pub fn parse_nd<const EXT: bool>(ctx: &TcContext, frame: &Frame, off: usize) -> Parsed {
    match nd::parse::<EXT>(frame, off) {
        Parsed::Short { .. } if EXT => {
            // The helper invalidates packet pointers whatever it returns.
            let _ = ctx.pull_data(ctx.len());
            nd::parse::<EXT>(&Frame::new(ctx.data(), ctx.data_end()), off)
        }
        Parsed::Short { .. } => nd::parse::<EXT>(&linear(ctx, off + ND_END), off),
        parsed => parsed,
    }
}
