//! Configuration files for tests: written to a unique temporary path,
//! removed on drop.

use std::path::{Path, PathBuf};

use crate::netns::unique_id;

pub struct ConfFile {
    path: PathBuf,
}

impl ConfFile {
    pub fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("rsdr-conf-{}.toml", unique_id()));
        let f = Self { path };
        f.write(text);
        f
    }

    /// Replace the contents (atomically, by rename, as editors do).
    pub fn write(&self, text: &str) {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
        std::fs::rename(&tmp, &self.path)
            .unwrap_or_else(|e| panic!("renaming to {}: {e}", self.path.display()));
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn arg(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for ConfFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A `[[vip]]` table.
pub fn vip(address: &str, real: &str, extra: &str) -> String {
    format!("[[vip]]\naddress = \"{address}\"\nreal = \"{real}\"\n{extra}\n")
}

/// The lab's standard file: eth0 filtered, its VIP with the server's real
/// IP and `vip_extra` keys.
pub fn lab_config(vip_extra: &str) -> String {
    use crate::lab::{REAL_IP, VIP};
    iface("eth0", "") + &vip(&VIP.to_string(), &REAL_IP.to_string(), vip_extra)
}

/// An `[[interface]]` table.
pub fn iface(name: &str, extra: &str) -> String {
    format!("[[interface]]\nname = \"{name}\"\n{extra}\n")
}
