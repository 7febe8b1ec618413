//! Running the real `rsdr` binary.

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::OnceLock,
};

static RSDR_BIN: OnceLock<PathBuf> = OnceLock::new();

/// Use `path` as the rsdr binary in this process (xtask sets it after building).
pub fn set_rsdr_bin(path: PathBuf) {
    let _ = RSDR_BIN.set(path);
}

/// Path of the `rsdr` binary under test, from `RSDR_BIN` (set by
/// `cargo xtask test` after building it). Panics if unset: testing a stale
/// or missing binary would prove nothing.
pub fn rsdr_bin() -> PathBuf {
    if let Some(p) = RSDR_BIN.get() {
        return p.clone();
    }
    let p = std::env::var_os("RSDR_BIN").map(PathBuf::from).expect(
        "RSDR_BIN is not set: run the tests with `cargo xtask test`, which builds rsdr and sets it",
    );
    assert!(p.is_file(), "RSDR_BIN={} does not exist", p.display());
    p
}

/// The result of one `rsdr` run.
#[derive(Debug)]
pub struct RsdrRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl RsdrRun {
    pub fn from_output(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics unless the run succeeded; returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "rsdr failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Panics unless the run failed with exactly one line on stderr that
    /// contains `needle`.
    pub fn fails_with(&self, needle: &str) {
        assert_ne!(
            self.code,
            Some(0),
            "rsdr should have failed but succeeded:\nstdout: {}",
            self.stdout
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got:\n{}",
            self.stderr
        );
        assert!(
            lines[0].contains(needle),
            "stderr should mention {needle:?}, got: {}",
            lines[0]
        );
    }
}

/// Byte strings only the tests' build of rsdr carries (rsdr-user's
/// `testing` feature): benchmark program names and test-hook environment
/// variables. The shipped binary must carry none.
pub const TEST_ONLY_MARKERS: &[&str] = &["rsdr_bench_", "RSDR_TEST_"];

/// The markers of [`TEST_ONLY_MARKERS`] found in the file at `path`.
pub fn test_only_markers_in(path: &std::path::Path) -> Vec<&'static str> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    TEST_ONLY_MARKERS
        .iter()
        .copied()
        .filter(|m| bytes.windows(m.len()).any(|w| w == m.as_bytes()))
        .collect()
}

/// A `Command` for rsdr with no inherited RSDR_PIN_DIR.
pub fn rsdr_cmd(wrapper: Option<Command>) -> Command {
    let mut cmd = match wrapper {
        Some(mut w) => {
            w.arg(rsdr_bin());
            w
        }
        None => Command::new(rsdr_bin()),
    };
    cmd.env_remove("RSDR_PIN_DIR");
    cmd
}
