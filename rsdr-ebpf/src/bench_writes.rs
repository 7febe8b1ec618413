//! Benchmark-only programs (never attached by rsdr): the ways a TC program
//! can write a frame, each as small as it gets, so that `cargo xtask
//! bench` shows what each costs beside an empty program.
//!
//! - `bpf_skb_store_bytes`, as the egress ARP rewrite writes: a helper
//!   call per write.
//! - A direct write: cheaper per write, but any direct write makes the
//!   verifier prefix the whole program with a `bpf_skb_pull_data` call on
//!   every cloned skb (every TCP segment on egress; it copies headers that
//!   are shared), which BPF_PROG_TEST_RUN's fresh skbs do not show.
//! - Moving direct writes into a tail-called program keeps that prologue
//!   off other traffic, but a program that contains a tail call pays the
//!   JIT's tail-call bookkeeping on every packet. The benchmark measures
//!   that design whole: the egress program built to hand its ARP rewrites
//!   to `writer` through a tail call (the real IP and the field's offset in
//!   `skb->cb`), beside rsdr's own.

use aya_ebpf::{
    EbpfContext as _,
    bindings::{__sk_buff, TC_ACT_SHOT, TC_ACT_UNSPEC},
    programs::TcContext,
};
use rsdr_common::maps::{BENCH_WRITE_OFFSET, BENCH_WRITE_VALUE};

use crate::{frame::Frame, maps::RSDR_BENCH_EGRESS_WRITER};

#[inline(always)]
pub fn store_bytes(ctx: &TcContext) -> i32 {
    let _ = ctx.store(BENCH_WRITE_OFFSET, &BENCH_WRITE_VALUE, 0);
    TC_ACT_UNSPEC
}

#[inline(always)]
pub fn direct_write(ctx: &TcContext) -> i32 {
    let frame = Frame::new(ctx.data(), ctx.data_end());
    if let Some(p) = frame.at::<[u8; 4]>(BENCH_WRITE_OFFSET) {
        // SAFETY: `at` checked that the four bytes are inside the packet.
        unsafe { store_u32(p, u32::from_ne_bytes(BENCH_WRITE_VALUE)) };
    }
    TC_ACT_UNSPEC
}

const CB_REAL: usize = 0;
const CB_OFFSET: usize = 1;
/// The sender field lies within the first 64 bytes (behind at most two
/// VLAN tags).
const MAX_OFFSET: usize = 64;

/// Hand the write of `real` at `offset` to `writer`; returns only if the
/// tail call fails.
#[inline(always)]
pub fn hand_over(ctx: &TcContext, offset: usize, real: u32) {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the program's own skb context; TC programs may write cb[].
    unsafe {
        (*skb).cb[CB_REAL] = real;
        (*skb).cb[CB_OFFSET] = offset as u32;
        RSDR_BENCH_EGRESS_WRITER.tail_call(ctx, 0);
    }
}

#[inline(always)]
pub fn writer(ctx: &TcContext) -> i32 {
    let cb = ctx.cb();
    let (real, offset) = (cb[CB_REAL], cb[CB_OFFSET] as usize);
    let frame = Frame::new(ctx.data(), ctx.data_end());
    if offset > MAX_OFFSET {
        return TC_ACT_SHOT as i32;
    }
    let Some(p) = frame.at::<[u8; 4]>(offset) else {
        return TC_ACT_SHOT as i32;
    };
    // SAFETY: `at` checked that the four bytes are inside the packet.
    unsafe { store_u32(p, real) };
    TC_ACT_UNSPEC
}

/// One 32-bit store into the packet, whatever the alignment (see
/// frame::load_u32).
///
/// # Safety
/// The four bytes at `p` lie inside the packet.
#[inline(always)]
unsafe fn store_u32(p: *const [u8; 4], v: u32) {
    // SAFETY: the caller's promise.
    unsafe {
        core::arch::asm!(
            "*(u32 *)({p} + 0) = {v}",
            p = in(reg) p,
            v = in(reg) v,
            options(nostack, preserves_flags)
        )
    };
}
