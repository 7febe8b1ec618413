//! keepalived's notify FIFO lines (`notify_fifo` in its `global_defs`):
//! `INSTANCE "VI_1" MASTER 100`: type, quoted name, state, priority. Other
//! types (`GROUP`, and the checker's `VS`/`RS` lines when it shares the
//! FIFO) are not about instances and are left alone.

use super::State;

/// What one FIFO line says, as far as rsdr is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// An instance changed state.
    Instance { name: String, state: State },
    /// A line of another type, or an instance state rsdr has no use for
    /// (keepalived 2.3's `DELETED`): logged, nothing else.
    Other,
    /// Not keepalived's format at all.
    Garbled(String),
}

/// Parse one line (without its newline).
pub fn parse(line: &str) -> Line {
    let line = line.trim_end_matches('\r');
    let Some(rest) = line.strip_prefix("INSTANCE ") else {
        return if line
            .split_whitespace()
            .next()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            Line::Other
        } else {
            Line::Garbled(line.to_string())
        };
    };
    let garbled = || Line::Garbled(line.to_string());
    let Some(rest) = rest.strip_prefix('"') else {
        return garbled();
    };
    let Some((name, rest)) = rest.split_once('"') else {
        return garbled();
    };
    let Some(state) = rest.split_whitespace().next() else {
        return garbled();
    };
    if super::validate_name(name).is_err() {
        return garbled();
    }
    match state.parse::<State>() {
        Ok(state) => Line::Instance {
            name: name.to_string(),
            state,
        },
        Err(_) if state.chars().all(|c| c.is_ascii_uppercase()) => Line::Other,
        Err(_) => garbled(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_lines_parse() {
        let inst = |name: &str, state| Line::Instance {
            name: name.into(),
            state,
        };
        // As keepalived 2.2.7 writes them (seen on the wire of the two-node test).
        assert_eq!(
            parse(r#"INSTANCE "VI_1" MASTER 100"#),
            inst("VI_1", State::Master)
        );
        assert_eq!(
            parse(r#"INSTANCE "VI_1" BACKUP 50"#),
            inst("VI_1", State::Backup)
        );
        assert_eq!(
            parse(r#"INSTANCE "web-1" FAULT 0"#),
            inst("web-1", State::Fault)
        );
        assert_eq!(
            parse(r#"INSTANCE "VI_1" STOP 100"#),
            inst("VI_1", State::Stop)
        );
        assert_eq!(parse(r#"INSTANCE "VI_1" DELETED 100"#), Line::Other);
        assert_eq!(parse(r#"GROUP "VG_1" MASTER"#), Line::Other);
        assert_eq!(parse(r#"MASTER_RX_LOWER_PRI "VI_1" 100"#), Line::Other);
        for bad in [
            "",
            "hello",
            r#"INSTANCE VI_1 MASTER 100"#,
            r#"INSTANCE "VI_1 MASTER"#,
            r#"INSTANCE "VI_1""#,
            r#"INSTANCE "a b" MASTER 1"#,
            r#"INSTANCE "VI_1" master?? 1"#,
        ] {
            assert!(matches!(parse(bad), Line::Garbled(_)), "{bad:?}");
        }
    }
}
