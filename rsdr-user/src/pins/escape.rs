//! Interface names as bpffs file names: bpffs refuses names containing
//! '.', so '%' is written "%25" and '.' "%2e" (`eth0.100` -> `eth0%2e100`).

/// An interface name as a bpffs file name (bpffs refuses '.').
pub fn escape(iface: &str) -> String {
    iface.replace('%', "%25").replace('.', "%2e")
}

/// The inverse of [`escape`] (one left-to-right pass over `%XX` escapes).
pub fn unescape(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_survive_escaping() {
        for name in ["eth0", "eth0.100", "a%2eb", "v.l.a.n", "%"] {
            let e = escape(name);
            assert!(!e.contains('.'), "{e} must not contain a dot");
            assert_eq!(unescape(&e), name);
        }
    }
}
