//! `rsdr run` in a lab's server namespace, for the daemon tests and the
//! fault drills: started on the lab's pin directory with its log in a
//! file (shown when a wait times out), killed on drop.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{cli::rsdr_bin, conf::ConfFile, lab::Lab};

pub struct Daemon {
    child: Option<Child>,
    /// Where the daemon's log goes, shown when a wait times out.
    log: std::path::PathBuf,
}

impl Daemon {
    /// `rsdr run -c conf` in the lab's server namespace, on its pin
    /// directory, with `extra` arguments; its log goes to a file.
    pub fn start(lab: &Lab, conf: &ConfFile, extra: &[&str]) -> Self {
        Self::start_in(&lab.server, &lab.pin_dir(), conf, extra)
    }

    /// `rsdr run -c conf` in `ns` on `pin_dir`, with `extra` arguments.
    pub fn start_in(
        ns: &crate::netns::Netns,
        pin_dir: &str,
        conf: &ConfFile,
        extra: &[&str],
    ) -> Self {
        let log = conf.path().with_extension("log");
        let err = std::fs::File::create(&log).expect("daemon log file");
        let mut cmd: Command = ns.cmd(rsdr_bin());
        cmd.env_remove("RSDR_PIN_DIR")
            .args(["--pin-dir", pin_dir, "run", "-c", &conf.arg()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        let child = cmd.spawn().expect("start rsdr run");
        Self {
            child: Some(child),
            log,
        }
    }

    /// Poll `cond` (see [`poll`]); on a timeout, panic with the daemon's
    /// log.
    pub fn eventually(&self, what: &str, cond: impl FnMut() -> bool) {
        if !poll(cond) {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("timed out waiting for: {what}; rsdr run logged:\n{log}");
        }
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `sig` ("-HUP", "-KILL") to the daemon.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .expect("kill")
                .success()
        );
    }

    /// SIGKILL, as the OOM killer or a crash would end it; waits.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and the exit status.
    pub fn stop(mut self) -> Option<i32> {
        self.signal("-TERM");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st.code();
            }
            assert!(
                Instant::now() < deadline,
                "rsdr run did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Poll `cond` for up to 180 s (loading and verifying the programs takes
/// up to a minute in the VM tests, whose CPU is emulated, beside other
/// tests doing the same).
pub fn poll(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}
