//! Mmapable array maps (`BPF_F_MMAPABLE`) mapped into our memory: the
//! exact-VIP indexes and the settings map, which userspace writes with
//! plain (atomic) stores while the datapath reads them. A mapping keeps its
//! map alive by itself: the descriptor it was made from may be closed.

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
    ptr::NonNull,
};

/// A shared mapping of a map's whole array, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<libc::c_void>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory, owned by this value.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Map `bytes` bytes (rounded up to whole pages) of the array behind `fd`.
    pub fn new(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = bytes.div_ceil(page) * page;
        // SAFETY: a fresh shared mapping of the map's own pages; the kernel
        // checks the length against the map.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Self { ptr, len })
    }

    /// The start of the mapping, as a `T`.
    pub fn ptr<T>(&self) -> NonNull<T> {
        self.ptr.cast()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: a mapping we made with this length and never handed out.
        unsafe { libc::munmap(self.ptr.as_ptr(), self.len) };
    }
}
