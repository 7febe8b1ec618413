//! The pin directory is shared ground: rsdr removes only the pins it made,
//! refuses a directory others may write (they could pin programs rsdr
//! would attach), and never waits forever for its lock.

use std::{
    fs,
    os::{fd::AsFd as _, unix::fs::PermissionsExt as _},
    path::PathBuf,
    time::{Duration, Instant},
};

use rsdr_tests::lab::{Lab, REAL_IP};
use rsdr_user::sys;

const BPF_MAP_TYPE_ARRAY: u32 = 2;

#[test]
fn detach_leaves_other_tools_pins_alone() {
    let lab = Lab::new();
    lab.protect();
    let root = PathBuf::from(lab.pin_dir());
    // Another tool's map, pinned in a directory of its own and among
    // rsdr's maps.
    let map = sys::map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0).expect("a map");
    let theirs = root.join("othertool");
    fs::create_dir(&theirs).expect("mkdir");
    sys::obj_pin(map.as_fd(), &theirs.join("state")).expect("pin");
    sys::obj_pin(map.as_fd(), &root.join("maps").join("OTHER_MAP")).expect("pin");

    lab.rsdr(&["detach"]).ok();
    assert!(theirs.join("state").exists(), "another tool's pin removed");
    assert!(
        root.join("maps").join("OTHER_MAP").exists(),
        "another tool's pin among rsdr's maps removed"
    );
    for own in ["maps/RSDR_CONFIG", "progs", "links", "build"] {
        assert!(!root.join(own).exists(), "rsdr's {own} left behind");
    }
    lab.rsdr(&["status"]).fails_with("nothing attached");
    // And rsdr attaches again beside them.
    lab.protect();
}

#[test]
fn a_pin_directory_others_may_write_is_refused() {
    let lab = Lab::new();
    lab.protect();
    let before = lab.state();
    let root = PathBuf::from(lab.pin_dir());
    for dir in [root.clone(), root.join("progs")] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        lab.rsdr(&["vip", "add", "10.0.0.101", "--real", &REAL_IP.to_string()])
            .fails_with("writable by others");
        lab.rsdr(&["attach", "eth0"])
            .fails_with("writable by others");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    assert_eq!(lab.state(), before, "a refused command changed the state");
}

#[test]
fn a_lock_held_too_long_fails_in_one_line() {
    let lab = Lab::new();
    lab.protect();
    let before = lab.state();
    // rsdr's lock: a flock on the directory holding the pin directory.
    let held = fs::File::open(lab.bpffs.path()).expect("open");
    // SAFETY: valid fd.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&held), libc::LOCK_EX) },
        0
    );
    let start = Instant::now();
    let real = REAL_IP.to_string();
    lab.rsdr_env(
        &[("RSDR_LOCK_TIMEOUT", "3")],
        &["vip", "add", "10.0.0.101", "--real", &real],
    )
    .fails_with("has held the lock on");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_secs(30),
        "gave up after {waited:?}, asked to wait 3 s"
    );
    drop(held);
    assert_eq!(lab.state(), before, "a timed-out command changed the state");
    lab.rsdr(&["vip", "add", "10.0.0.101", "--real", &REAL_IP.to_string()])
        .ok();
}
