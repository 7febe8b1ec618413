//! The few BPF syscalls aya 0.14 does not expose: opening a pinned object as
//! a raw fd, force-detaching a link, reading a link's or program's fdinfo
//! (which names the interface a link is attached to), and the raw program
//! loads and map creations the kernel feature probes make.

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

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_DETACH: libc::c_long = 34;
const BPF_LINK_UPDATE: libc::c_long = 29;

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

/// A new fd the kernel returned.
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel returned a new file descriptor that we now own.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// One BPF instruction, as `struct bpf_insn` lays it out.
#[derive(Clone, Copy, Debug)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    fn bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// Load a program of `prog_type` made of `insns`, with `prog_flags`
/// (BPF_PROG_LOAD), for a feature probe: the caller drops the fd.
pub fn prog_load(prog_type: u32, insns: &[Insn], prog_flags: u32) -> io::Result<OwnedFd> {
    let code: Vec<u8> = insns.iter().flat_map(|i| i.bytes()).collect();
    let license = c"GPL";
    let mut attr = Attr([0; 64]);
    attr.0[0..4].copy_from_slice(&prog_type.to_ne_bytes());
    attr.0[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr.0[8..16].copy_from_slice(&(code.as_ptr() as u64).to_ne_bytes());
    attr.0[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr.0[44..48].copy_from_slice(&prog_flags.to_ne_bytes());
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

/// Create a map (BPF_MAP_CREATE), for a feature probe.
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut attr = Attr([0; 64]);
    for (i, v) in [map_type, key_size, value_size, max_entries, flags]
        .into_iter()
        .enumerate()
    {
        attr.0[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    bpf(BPF_MAP_CREATE, &mut attr).map(owned)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// How many programs are attached to hook `attach_type` of interface
/// `ifindex` (BPF_PROG_QUERY, counting only).
pub fn prog_query_count(ifindex: u32, attach_type: u32) -> io::Result<u32> {
    let mut attr = Attr([0; 64]);
    attr.0[0..4].copy_from_slice(&ifindex.to_ne_bytes());
    attr.0[4..8].copy_from_slice(&attach_type.to_ne_bytes());
    bpf(BPF_PROG_QUERY, &mut attr)?;
    Ok(u32::from_ne_bytes([
        attr.0[24], attr.0[25], attr.0[26], attr.0[27],
    ]))
}

/// Pin the object behind `fd` at `path` (BPF_OBJ_PIN).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    let mut attr = Attr([0; 64]);
    attr.0[0..8].copy_from_slice(&(c.as_ptr() as u64).to_ne_bytes());
    attr.0[8..12].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
    bpf(BPF_OBJ_PIN, &mut attr).map(drop)
}

/// Open the object pinned at `path` (BPF_OBJ_GET).
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = c_path(path)?;
    let mut attr = Attr([0; 64]);
    attr.0[0..8].copy_from_slice(&(c.as_ptr() as u64).to_ne_bytes());
    bpf(BPF_OBJ_GET, &mut attr).map(owned)
}

/// Detach a link from its hook now, even if other fds or pins still refer to
/// it (BPF_LINK_DETACH). The link object lives on, defunct, until released.
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = Attr([0; 64]);
    attr.0[0..4].copy_from_slice(&(link.as_raw_fd() as u32).to_ne_bytes());
    bpf(BPF_LINK_DETACH, &mut attr).map(|_| ())
}

/// Make `link` run `new` (BPF_LINK_UPDATE): one atomic swap, frames meet
/// one program or the other. Without BPF_F_REPLACE, whose old program fd
/// would need CAP_SYS_ADMIN to open by id: rsdr's lock keeps other rsdr
/// runs from changing the link meanwhile.
pub fn link_update(link: BorrowedFd<'_>, new: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = Attr([0; 64]);
    attr.0[0..4].copy_from_slice(&(link.as_raw_fd() as u32).to_ne_bytes());
    attr.0[4..8].copy_from_slice(&(new.as_raw_fd() as u32).to_ne_bytes());
    bpf(BPF_LINK_UPDATE, &mut attr).map(|_| ())
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

/// The numeric fields of a BPF object's /proc/self/fdinfo entry.
fn fdinfo(fd: BorrowedFd<'_>) -> io::Result<HashMap<String, u32>> {
    let text = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(k, v)| {
            let n = v.split_whitespace().next()?.parse::<u32>().ok()?;
            Some((k.trim().to_string(), n))
        })
        .collect())
}

pub fn link_info(link: BorrowedFd<'_>) -> io::Result<LinkInfo> {
    let fields = fdinfo(link)?;
    Ok(LinkInfo {
        link_id: fields.get("link_id").copied().unwrap_or(0),
        prog_id: fields.get("prog_id").copied().unwrap_or(0),
        ifindex: fields.get("ifindex").copied(),
    })
}

/// The id of the program pinned at `path`, if a program is pinned there.
pub fn pinned_prog_id(path: &Path) -> io::Result<u32> {
    let fd = obj_get(path)?;
    fdinfo(fd.as_fd())?
        .get("prog_id")
        .copied()
        .ok_or_else(|| io::Error::other(format!("{} is not a program", path.display())))
}

/// Open the link pinned at `path` and describe it.
pub fn pinned_link_info(path: &Path) -> io::Result<LinkInfo> {
    let fd = obj_get(path)?;
    link_info(fd.as_fd())
}
