//! The VRRP record in the pin directory. bpffs holds only pins and
//! directories, so the record is made of empty directories:
//!
//! ```text
//! <pin-dir>/vrrp/<instance>/state=master     the last state rsdr was told
//! <pin-dir>/vrrp/<instance>/vip=192%2e0%2e2%2e10   a VIP that follows it
//! ```
//!
//! Names are escaped as interface names are (bpffs refuses '.'), and '/'
//! as "%2f". A state is replaced by removing the old one first: a reader in
//! between sees no state, which filters (the safe side).

use std::{
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
};

use super::State;
use crate::{
    pins::{PinDir, escape::unescape},
    vip::Vip,
};

const STATE: &str = "state=";
const VIP: &str = "vip=";

fn escape(s: &str) -> String {
    crate::pins::escape::escape(s).replace('/', "%2f")
}

/// The record's directory.
pub fn dir(pins: &PinDir) -> PathBuf {
    pins.root().join("vrrp")
}

fn instance_dir(pins: &PinDir, name: &str) -> PathBuf {
    dir(pins).join(escape(name))
}

fn mkdir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
    {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        r => r,
    }
}

fn rmdir(path: &Path) -> io::Result<()> {
    match fs::remove_dir(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// (instance, names in its directory), for every instance recorded.
fn read(pins: &PinDir) -> io::Result<Vec<(String, PathBuf, Vec<String>)>> {
    let top = match fs::read_dir(dir(pins)) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for inst in top {
        let inst = inst?;
        // An instance another rsdr forgets while we read: not there.
        let names = match fs::read_dir(inst.path()) {
            Ok(d) => d
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<io::Result<Vec<_>>>()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push((
            unescape(&inst.file_name().to_string_lossy()),
            inst.path(),
            names,
        ));
    }
    out.sort();
    Ok(out)
}

/// The last state recorded for each instance (one with none is unknown,
/// and filters).
pub fn states(pins: &PinDir) -> io::Result<BTreeMap<String, State>> {
    let mut out = BTreeMap::new();
    for (name, _, entries) in read(pins)? {
        if let Some(state) = entries
            .iter()
            .find_map(|e| e.strip_prefix(STATE)?.parse::<State>().ok())
        {
            out.insert(name, state);
        }
    }
    Ok(out)
}

/// The instances recorded MASTER.
pub fn masters(pins: &PinDir) -> io::Result<std::collections::HashSet<String>> {
    Ok(states(pins)?
        .into_iter()
        .filter(|(_, s)| s.is_master())
        .map(|(n, _)| n)
        .collect())
}

/// Which instance each following VIP follows.
pub fn members(pins: &PinDir) -> io::Result<BTreeMap<Vip, String>> {
    let mut out = BTreeMap::new();
    for (name, _, entries) in read(pins)? {
        for e in entries {
            if let Some(v) = e.strip_prefix(VIP)
                && let Ok(vip) = crate::vip::parse_vip(&unescape(v))
            {
                out.insert(vip, name.clone());
            }
        }
    }
    Ok(out)
}

/// Record `state` for instance `name`; returns the state recorded before.
pub fn set_state(pins: &PinDir, name: &str, state: State) -> io::Result<Option<State>> {
    let inst = instance_dir(pins, name);
    mkdir(&inst)?;
    let mut before = None;
    for e in fs::read_dir(&inst)? {
        let e = e?;
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some(s) = file.strip_prefix(STATE) {
            let old = s.parse::<State>().ok();
            if old == Some(state) {
                return Ok(old);
            }
            before = before.or(old);
            rmdir(&e.path())?;
        }
    }
    mkdir(&inst.join(format!("{STATE}{state}")))?;
    Ok(before)
}

/// Record that `vip` follows `instance` (`None`: no instance).
pub fn set_member(pins: &PinDir, vip: Vip, instance: Option<&str>) -> io::Result<()> {
    let mut want = members(pins)?;
    match instance {
        Some(i) => want.insert(vip, i.to_string()),
        None => want.remove(&vip),
    };
    set_members(pins, &want)
}

/// Make the recorded members exactly `want` (vip -> instance). Instances
/// left with neither members nor a state are forgotten.
pub fn set_members(pins: &PinDir, want: &BTreeMap<Vip, String>) -> io::Result<()> {
    for (vip, inst) in want {
        mkdir(&instance_dir(pins, inst).join(format!("{VIP}{}", escape(&vip.to_string()))))?;
    }
    for (name, path, entries) in read(pins)? {
        let mut left = 0;
        for e in &entries {
            let keep = match e.strip_prefix(VIP) {
                Some(v) => crate::vip::parse_vip(&unescape(v))
                    .is_ok_and(|vip| want.get(&vip) == Some(&name)),
                None => true,
            };
            if keep {
                left += 1;
            } else {
                rmdir(&path.join(e))?;
            }
        }
        if left == 0 {
            rmdir(&path)?;
        }
    }
    Ok(())
}

/// Remove the whole record (everything is detached).
pub fn forget(pins: &PinDir) -> io::Result<()> {
    for (_, path, entries) in read(pins)? {
        for e in entries {
            if e.starts_with(STATE) || e.starts_with(VIP) {
                rmdir(&path.join(e))?;
            }
        }
        let _ = fs::remove_dir(&path);
    }
    let _ = fs::remove_dir(dir(pins));
    Ok(())
}
