//! What the running kernel can do, found by trying it (a program load, a
//! map creation, a query), never by comparing version strings: distribution
//! kernels carry features their version number does not (RHEL 9's 5.14 has
//! TCX). docs/kernels.md lists each feature with the mainline release that
//! brought it and what rsdr does without it.

use std::sync::OnceLock;

use serde::Serialize;
use thiserror::Error;

use crate::sys::{self, Insn};

const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
const BPF_F_MMAPABLE: u32 = 1 << 10;
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
const CAP_BPF: i32 = 39;
const BPF_TCX_INGRESS: u32 = 46;

/// The kernel features rsdr chooses between or needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Features {
    /// BPF ISA v4 (sign-extending loads and moves, byte swaps; 6.6): the
    /// v4 object, else the v3 one.
    pub isa_v4: bool,
    /// TCX links for TC programs (6.6): else cls_bpf filters over netlink.
    pub tcx: bool,
    /// Multi-buffer XDP programs (the frags flag, 5.18): else the XDP
    /// program is loaded without it (no native XDP on jumbo frames).
    pub xdp_frags: bool,
    /// Mmapable array maps (5.5): required (the VIP index).
    pub mmapable_arrays: bool,
    /// Read-only global data (5.2): required (the index's hash shift).
    pub rodata: bool,
    /// BPF ring buffers (5.8): required (the datapath's log).
    pub ringbuf: bool,
    /// The CAP_BPF capability (5.8): else root's CAP_SYS_ADMIN.
    pub cap_bpf: bool,
}

/// A feature rsdr cannot work without, missing.
#[derive(Debug, Error)]
#[error(
    "this kernel lacks {what} (Linux {since} or newer has it), which rsdr needs for {why}; see docs/kernels.md"
)]
pub struct MissingFeature {
    pub what: &'static str,
    pub since: &'static str,
    pub why: &'static str,
}

/// The features of the running kernel, probed once per process.
pub fn probe() -> Features {
    static PROBED: OnceLock<Features> = OnceLock::new();
    *PROBED.get_or_init(|| Features {
        isa_v4: loads(BPF_PROG_TYPE_SOCKET_FILTER, &ISA_V4_PROBE, 0),
        tcx: has_tcx(),
        xdp_frags: loads(BPF_PROG_TYPE_XDP, &XDP_PASS, BPF_F_XDP_HAS_FRAGS),
        mmapable_arrays: creates(BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE),
        rodata: creates(BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_RDONLY_PROG),
        ringbuf: creates(BPF_MAP_TYPE_RINGBUF, 0, 0, page_size(), 0),
        cap_bpf: knows_cap_bpf(),
    })
}

impl Features {
    /// Fails with the first missing feature that rsdr cannot do without.
    pub fn require(&self) -> Result<(), MissingFeature> {
        let needs = [
            (self.rodata, "read-only global data", "5.2", "the VIP index"),
            (
                self.mmapable_arrays,
                "mmapable array maps",
                "5.5",
                "the VIP index",
            ),
            (
                self.ringbuf,
                "BPF ring buffers",
                "5.8",
                "the datapath's log",
            ),
        ];
        match needs.into_iter().find(|(have, ..)| !have) {
            Some((_, what, since, why)) => Err(MissingFeature { what, since, why }),
            None => Ok(()),
        }
    }

    /// "v4" or "v3": the instruction set of the object this kernel gets.
    pub fn isa(&self) -> &'static str {
        if self.isa_v4 { "v4" } else { "v3" }
    }
}

/// A ring buffer's size must be a multiple of the page size.
fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).unwrap_or(4096).max(4096)
}

fn loads(prog_type: u32, insns: &[Insn], flags: u32) -> bool {
    sys::prog_load(prog_type, insns, flags).is_ok()
}

fn creates(map_type: u32, key: u32, value: u32, max: u32, flags: u32) -> bool {
    sys::map_create(map_type, key, value, max, flags).is_ok()
}

/// A TCX query of the loopback device's ingress hook, for the number of
/// programs only: EINVAL on kernels without TCX, an answer with it.
/// Changes nothing.
fn has_tcx() -> bool {
    sys::prog_query_count(crate::iface::index("lo").unwrap_or(1), BPF_TCX_INGRESS).is_ok()
}

/// Does the kernel know CAP_BPF? `prctl(PR_CAPBSET_READ)` fails with
/// EINVAL for capabilities it does not know.
fn knows_cap_bpf() -> bool {
    // SAFETY: prctl with PR_CAPBSET_READ only reads.
    unsafe { libc::prctl(libc::PR_CAPBSET_READ, CAP_BPF, 0, 0, 0) >= 0 }
}

const fn insn(code: u8, regs: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs,
        off,
        imm,
    }
}

/// `r0 = XDP_PASS; exit`.
const XDP_PASS: [Insn; 2] = [insn(0xb7, 0x00, 0, 2), insn(0x95, 0, 0, 0)];

/// One of each ISA v4 instruction kind the compiler may emit; kernels
/// before v4 (and JITs that lack one) refuse the load.
const ISA_V4_PROBE: [Insn; 8] = [
    insn(0xb7, 0x00, 0, 0),  // r0 = 0
    insn(0x7a, 0x0a, -8, 0), // *(u64 *)(r10 - 8) = 0
    insn(0x91, 0xa0, -8, 0), // r0 = *(s8 *)(r10 - 8)   (ldsx)
    insn(0xbf, 0x00, 8, 0),  // r0 = (s8)r0              (movsx)
    insn(0xd7, 0x00, 0, 16), // r0 = bswap16 r0          (bswap)
    insn(0x37, 0x00, 1, 1),  // r0 s/= 1                 (sdiv)
    insn(0x06, 0x00, 0, 0),  // gotol +0                 (ja32)
    insn(0x95, 0x00, 0, 0),  // exit
];
