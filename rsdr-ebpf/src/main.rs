//! rsdr datapath: keeps an LVS direct-routing real server from answering or
//! announcing its VIPs in ARP.
//!
//! - `rsdr_xdp_ingress` (XDP; `rsdr_xdp_ingress_nofrags` where the kernel
//!   lacks multi-buffer XDP): drops inbound ARP and Neighbor Discovery that
//!   would make the kernel answer for a VIP or see a conflict on it.
//! - `rsdr_tc_egress` (TC: a TCX link, or a cls_bpf filter): rewrites the sender of outgoing
//!   ARP requests / Neighbor Solicitations from a VIP to the real address,
//!   and drops the host's own announcements and probes of a VIP.
//!
//! Decisions live in `ingress.rs` and `egress.rs`, one function per frame
//! kind, following docs/semantics.md; parsing goes through the
//! bounds-checked [`frame::Frame`].
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Inline assembly for unaligned packet loads (frame.rs).
#![cfg_attr(target_arch = "bpf", feature(asm_experimental_arch))]

#[cfg(target_arch = "bpf")]
mod arp;
#[cfg(all(target_arch = "bpf", feature = "bench"))]
mod bench_writes;
#[cfg(target_arch = "bpf")]
mod counters;
#[cfg(target_arch = "bpf")]
mod egress;
#[cfg(target_arch = "bpf")]
mod frame;
#[cfg(target_arch = "bpf")]
mod index;
#[cfg(target_arch = "bpf")]
mod ingress;
#[cfg(target_arch = "bpf")]
mod ip6;
#[cfg(target_arch = "bpf")]
mod l2;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod nd;
#[cfg(target_arch = "bpf")]
mod pools;
#[cfg(target_arch = "bpf")]
mod skb;
#[cfg(target_arch = "bpf")]
mod vip;

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{
        macros::{classifier, xdp},
        programs::{TcContext, XdpContext},
    };

    use crate::{egress, ingress};

    #[xdp(frags)]
    pub fn rsdr_xdp_ingress(ctx: XdpContext) -> u32 {
        ingress::xdp(&ctx)
    }

    /// The same program for kernels without multi-buffer XDP (before
    /// 5.18), which refuse a program loaded with the frags flag.
    #[xdp]
    pub fn rsdr_xdp_ingress_nofrags(ctx: XdpContext) -> u32 {
        ingress::xdp(&ctx)
    }

    #[classifier]
    pub fn rsdr_tc_egress(ctx: TcContext) -> i32 {
        egress::tc::<false>(&ctx)
    }

    #[classifier]
    pub fn rsdr_tc_ingress(ctx: TcContext) -> i32 {
        ingress::tc(&ctx)
    }
}

/// Benchmark helpers (the `bench` feature, which only the tests' and the
/// benchmark's builds enable), loaded only by `cargo xtask bench` and the
/// tests, never attached by rsdr: the empty programs are the floor each
/// rsdr program is measured against, and the XDP_TX one turns
/// BPF_PROG_TEST_RUN with live frames into a line-rate traffic generator.
#[cfg(all(target_arch = "bpf", feature = "bench"))]
mod bench_programs {
    use aya_ebpf::{
        macros::{classifier, xdp},
        programs::{TcContext, XdpContext},
    };

    use crate::egress;

    #[xdp(frags)]
    pub fn rsdr_bench_xdp_floor(_ctx: XdpContext) -> u32 {
        aya_ebpf::bindings::xdp_action::XDP_PASS
    }

    #[classifier]
    pub fn rsdr_bench_tc_floor(_ctx: TcContext) -> i32 {
        aya_ebpf::bindings::TC_ACT_UNSPEC
    }

    #[xdp]
    pub fn rsdr_bench_xdp_tx(_ctx: XdpContext) -> u32 {
        aya_ebpf::bindings::xdp_action::XDP_TX
    }

    /// The cheapest possible disposal of a flood: the flood benchmark's sink.
    #[xdp]
    pub fn rsdr_bench_xdp_drop(_ctx: XdpContext) -> u32 {
        aya_ebpf::bindings::xdp_action::XDP_DROP
    }

    // The ways a TC program can write a frame, for the benchmark's account
    // of why the egress rewrite is written the way it is (bench_writes.rs).

    #[classifier]
    pub fn rsdr_bench_tc_store_bytes(ctx: TcContext) -> i32 {
        crate::bench_writes::store_bytes(&ctx)
    }

    #[classifier]
    pub fn rsdr_bench_tc_direct_write(ctx: TcContext) -> i32 {
        crate::bench_writes::direct_write(&ctx)
    }

    /// The egress program as it would be with a tail-called writer.
    #[classifier]
    pub fn rsdr_bench_tc_egress_tail_call(ctx: TcContext) -> i32 {
        egress::tc::<true>(&ctx)
    }

    /// The writer it tail-calls.
    #[classifier]
    pub fn rsdr_bench_tc_egress_writer(ctx: TcContext) -> i32 {
        crate::bench_writes::writer(&ctx)
    }
}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {}
