//! The few BPF syscalls aya 0.14 does not expose: opening a pinned object as
//! a raw fd, force-detaching a link, and reading a link's fdinfo (which names
//! the interface it is attached to).

use std::{
    collections::HashMap,
    ffi::CString,
    fs, io,
    os::{
        fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
};

const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_DETACH: libc::c_long = 34;

/// `union bpf_attr` is larger than any member we use; the kernel accepts any
/// size up to its own and requires unused bytes to be zero.
#[repr(C, align(8))]
struct Attr([u8; 64]);

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, zero-initialised bpf_attr prefix of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Open the object pinned at `path` (BPF_OBJ_GET).
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let mut attr = Attr([0; 64]);
    attr.0[0..8].copy_from_slice(&(c.as_ptr() as u64).to_ne_bytes());
    let fd = bpf(BPF_OBJ_GET, &mut attr)?;
    // SAFETY: the kernel returned a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Detach a link from its hook now, even if other fds or pins still refer to
/// it (BPF_LINK_DETACH). The link object lives on, defunct, until released.
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = Attr([0; 64]);
    attr.0[0..4].copy_from_slice(&(link.as_raw_fd() as u32).to_ne_bytes());
    bpf(BPF_LINK_DETACH, &mut attr).map(|_| ())
}

/// What the kernel says about a link in /proc/self/fdinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub link_id: u32,
    pub prog_id: u32,
    /// Interface the link is attached to; `None` or `Some(0)` once the
    /// interface is gone or the link was detached.
    pub ifindex: Option<u32>,
}

impl LinkInfo {
    /// True while the link is attached to an existing interface.
    pub fn is_live(&self) -> bool {
        matches!(self.ifindex, Some(i) if i != 0)
    }
}

pub fn link_info(link: BorrowedFd<'_>) -> io::Result<LinkInfo> {
    let text = fs::read_to_string(format!("/proc/self/fdinfo/{}", link.as_raw_fd()))?;
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let num = |k: &str| {
        fields
            .get(k)
            .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
    };
    Ok(LinkInfo {
        link_id: num("link_id").unwrap_or(0),
        prog_id: num("prog_id").unwrap_or(0),
        ifindex: num("ifindex"),
    })
}

/// Open the link pinned at `path` and describe it.
pub fn pinned_link_info(path: &Path) -> io::Result<LinkInfo> {
    let fd = obj_get(path)?;
    link_info(fd.as_fd())
}
