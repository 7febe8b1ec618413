//! Hex dumps for failure messages.

/// Bytes as hex, 16 per line, with offsets.
pub fn dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("  {:04x}:", i * 16));
        for b in chunk {
            out.push_str(&format!(" {b:02x}"));
        }
        out.push('\n');
    }
    if bytes.is_empty() {
        out.push_str("  (empty)\n");
    }
    out
}
