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

    /// The 16-bit field at `off` exactly as on the wire (network byte order
    /// bytes, loaded natively). Compare against `u16::to_be` constants.
    #[inline(always)]
    pub fn raw_u16(&self, off: usize) -> Option<u16> {
        let p = self.at::<[u8; 2]>(off)?;
        // SAFETY: `at` checked that both bytes are inside the packet.
        Some(u16::from_ne_bytes(unsafe { *p }))
    }
}
