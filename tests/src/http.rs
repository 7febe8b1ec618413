//! A tiny HTTP server and client that live in network namespaces, so the DR
//! lab needs no web server package: each runs on a thread that has entered
//! the namespace (setns affects only that thread).

use std::{
    fs::File,
    io::{Read as _, Write as _},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd as _,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::netns::Netns;

fn enter(ns: &PathBuf) -> std::io::Result<()> {
    let f = File::open(ns)?;
    // SAFETY: valid fd; CLONE_NEWNET only moves the calling thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// An HTTP/1.0 server answering every request with `body`; stopped on drop.
pub struct HttpServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listen on `addr:port` inside `ns`.
    pub fn start(ns: &Netns, addr: IpAddr, port: u16, body: &str) -> Self {
        let path = ns.path();
        let body = body.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let listener = enter(&path).and_then(|()| {
                let l = TcpListener::bind(SocketAddr::new(addr, port))?;
                l.set_nonblocking(true)?;
                Ok(l)
            });
            let listener = match listener {
                Ok(l) => {
                    let _ = tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf);
                        let reply = format!(
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        match rx.recv() {
            Ok(Ok(())) => Self {
                stop,
                thread: Some(thread),
            },
            Ok(Err(e)) => panic!("HTTP server on {addr}:{port} in {}: {e}", ns.name()),
            Err(_) => panic!("HTTP server thread died"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `GET /` to `addr:port` from inside `ns`; the response body.
pub fn get(ns: &Netns, addr: IpAddr, port: u16) -> Result<String, String> {
    get_path(ns, addr, port, "/")
}

/// `GET <url_path>` to `addr:port` from inside `ns`; the response body.
pub fn get_path(ns: &Netns, addr: IpAddr, port: u16, url_path: &str) -> Result<String, String> {
    let path = ns.path();
    let request = format!("GET {url_path} HTTP/1.0\r\n\r\n");
    std::thread::spawn(move || -> Result<String, String> {
        enter(&path).map_err(|e| e.to_string())?;
        let mut s =
            TcpStream::connect_timeout(&SocketAddr::new(addr, port), Duration::from_secs(3))
                .map_err(|e| format!("connect {addr}:{port}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .map_err(|e| e.to_string())?;
        s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)
            .map_err(|e| format!("read: {e}"))?;
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .ok_or_else(|| format!("bad response: {resp:?}"))
    })
    .join()
    .unwrap_or_else(|_| Err("client thread panicked".into()))
}

/// Run `f` on a thread inside `ns` and return what it returns: sockets it
/// opens stay in `ns` wherever they are used afterwards.
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.path();
    std::thread::spawn(move || {
        enter(&path).unwrap_or_else(|e| panic!("entering {}: {e}", path.display()));
        f()
    })
    .join()
    .expect("thread in the namespace panicked")
}
