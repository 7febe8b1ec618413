//! A benchmark program (the empty floors and sinks of the rsdr object)
//! attached from a thread that lives inside a lab namespace, so interface
//! names resolve there. The thread holds the loaded object, and with it the
//! attachment, until the handle is dropped.

use std::{
    fs::File,
    os::fd::AsRawFd as _,
    path::PathBuf,
    sync::mpsc::{Sender, channel},
    thread::JoinHandle,
};

use aya::Ebpf;
use rsdr_user::loader::{self, LoadOptions};

pub struct NsProgram {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NsProgram {
    /// Load the rsdr object privately in namespace `ns` and run `attach` on
    /// it there; returns once `attach` has returned.
    pub fn attach(ns: PathBuf, attach: impl FnOnce(&mut Ebpf) + Send + 'static) -> Self {
        let (stop_tx, stop_rx) = channel::<()>();
        let (ready_tx, ready_rx) = channel::<()>();
        let thread = std::thread::spawn(move || {
            let f = File::open(&ns).unwrap_or_else(|e| panic!("netns {}: {e}", ns.display()));
            // SAFETY: a valid namespace fd; setns moves only this thread.
            assert_eq!(
                unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
                0,
                "setns into {}",
                ns.display()
            );
            let mut ebpf = loader::load(None, LoadOptions::default()).expect("load object");
            attach(&mut ebpf);
            let _ = ready_tx.send(());
            let _ = stop_rx.recv();
        });
        ready_rx
            .recv()
            .expect("the attaching thread failed (see its panic above)");
        Self {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for NsProgram {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
