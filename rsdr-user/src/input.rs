//! Reading an operator's input file (the configuration, an `arptables-save`
//! dump) without trusting it: a regular file (a symlink to one is fine, as
//! configuration management writes them; a device, FIFO or directory is
//! refused before it is opened, so `/dev/zero` or a pipe cannot hang or
//! exhaust rsdr), at most [`MAX_INPUT_BYTES`], UTF-8.

use std::{
    io::{self, Read},
    path::{Path, PathBuf},
};

use thiserror::Error;

/// The largest input rsdr reads: room for some 300,000 VIPs in a
/// configuration file, while parsing it (which takes some 40 times its
/// size in memory) stays well under a gigabyte. A host with more VIPs adds
/// them with `rsdr vip add` or splits nothing: no real server has that
/// many.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

#[derive(Debug, Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: not a regular file")]
    NotAFile { path: PathBuf },
    #[error("cannot read {path}: larger than {} MiB", MAX_INPUT_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("cannot read {path}: not UTF-8 text")]
    NotText { path: PathBuf },
}

/// The text of the file at `path`, checked as the module docs say.
pub fn read_file(path: &Path) -> Result<String, InputError> {
    let read = |source| InputError::Read {
        path: path.to_path_buf(),
        source,
    };
    // Checked before opening (opening a FIFO blocks), and again on what
    // was opened (non-blocking, in case the path changed in between).
    let not_a_file = || InputError::NotAFile {
        path: path.to_path_buf(),
    };
    if !std::fs::metadata(path).map_err(read)?.is_file() {
        return Err(not_a_file());
    }
    let file = std::os::unix::fs::OpenOptionsExt::custom_flags(
        std::fs::OpenOptions::new().read(true),
        libc::O_NONBLOCK,
    )
    .open(path)
    .map_err(read)?;
    if !file.metadata().map_err(read)?.is_file() {
        return Err(not_a_file());
    }
    read_bounded(file, path)
}

/// All of `r` as text, at most [`MAX_INPUT_BYTES`] (`name` names it in
/// errors): for stdin, whose size is not known in advance.
pub fn read_bounded(r: impl Read, name: &Path) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    r.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read {
            path: name.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: name.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText {
        path: name.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_oversized_input_are_refused() {
        let err = read_file(Path::new("/dev/zero")).expect_err("a device");
        assert!(matches!(err, InputError::NotAFile { .. }), "{err}");
        let err = read_file(Path::new("/")).expect_err("a directory");
        assert!(matches!(err, InputError::NotAFile { .. }), "{err}");
        let err = read_bounded(io::repeat(b'#').take(MAX_INPUT_BYTES + 1), Path::new("-"))
            .expect_err("too large");
        assert!(matches!(err, InputError::TooLarge { .. }), "{err}");
        let err = read_bounded(&[0xff, 0xfe][..], Path::new("-")).expect_err("not text");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        assert_eq!(
            read_bounded(&b"a = 1\n"[..], Path::new("-")).expect("text"),
            "a = 1\n"
        );
    }
}
