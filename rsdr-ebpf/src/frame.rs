//! A bounds-checked view of packet bytes. Every read of packet memory goes
//! through [`Frame::at`], which proves to the verifier (and to a reader) that
//! the bytes lie inside `[start, end)`.

use core::mem::size_of;

#[derive(Clone, Copy)]
pub struct Frame {
    start: usize,
    end: usize,
}

impl Frame {
    #[inline(always)]
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// Pointer to a `T` at byte offset `off`, or `None` if the frame is too short.
    #[inline(always)]
    pub fn at<T>(&self, off: usize) -> Option<*const T> {
        let p = self.start + off;
        if p + size_of::<T>() > self.end {
            return None;
        }
        Some(p as *const T)
    }

    /// The bytes from `off` on, as a frame of their own, for headers at an
    /// offset read from the packet: the new start is computed once, as a
    /// packet pointer plus `off` (the compiler may not re-derive it), so
    /// the verifier ties every later bounds check to the pointer the reads
    /// use. `off` must be bounded (the verifier wants its maximum known).
    #[inline(always)]
    pub fn from(&self, off: usize) -> Frame {
        let mut start = self.start + off;
        // A move to itself: one instruction (an empty template would leave
        // two line-info records on one instruction, which the kernel
        // refuses).
        // SAFETY: a register move; no memory, no other effects.
        unsafe {
            core::arch::asm!("{p} = {p}", p = inout(reg) start, options(pure, nomem, nostack, preserves_flags))
        };
        Frame::new(start, self.end)
    }

    /// The 16-bit field at `off` exactly as on the wire (network byte order
    /// bytes, loaded natively). Compare against `u16::to_be` constants.
    /// One 16-bit load: `off` is even, and frames start 2-aligned, as every
    /// header struct read through [`Frame::at`] assumes.
    #[inline(always)]
    pub fn raw_u16(&self, off: usize) -> Option<u16> {
        let p = self.at::<u16>(off)?;
        // SAFETY: `at` checked that both bytes are inside the packet.
        Some(unsafe { *p })
    }
}

/// One 32-bit load of the packet bytes `OFF` bytes past `base`, whatever
/// their alignment.
///
/// The kernel allows unaligned packet loads on the architectures rsdr runs
/// on (x86-64, arm64: the verifier enforces alignment only where the
/// hardware lacks efficient unaligned access), but LLVM's BPF backend,
/// told nothing, splits an unaligned load into byte loads; told that
/// misaligned accesses are fine, it also emits them on the stack, which
/// the verifier refuses. So the packet loads that need it say so here,
/// with the offset in the instruction.
///
/// # Safety
/// `base + OFF .. base + OFF + 4` lies inside the packet (bounds-checked
/// against its end).
#[inline(always)]
pub unsafe fn load_u32<const OFF: i16>(base: *const u8) -> u32 {
    let v: u32;
    // SAFETY: the caller's promise; a plain load, no other effects.
    unsafe {
        core::arch::asm!(
            "{v} = *(u32 *)({p} + {off})",
            p = in(reg) base,
            off = const OFF,
            v = out(reg) v,
            options(nostack, readonly, preserves_flags)
        )
    };
    v
}

/// One 64-bit load of the packet bytes `OFF` bytes past `base` (see
/// [`load_u32`]).
///
/// # Safety
/// `base + OFF .. base + OFF + 8` lies inside the packet.
#[inline(always)]
pub unsafe fn load_u64<const OFF: i16>(base: *const u8) -> u64 {
    let v: u64;
    // SAFETY: the caller's promise; a plain load, no other effects.
    unsafe {
        core::arch::asm!(
            "{v} = *(u64 *)({p} + {off})",
            p = in(reg) base,
            off = const OFF,
            v = out(reg) v,
            options(nostack, readonly, preserves_flags)
        )
    };
    v
}
