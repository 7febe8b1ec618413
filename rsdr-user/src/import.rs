//! `rsdr import arptables`: turn `arptables-save` output (arptables_jf's
//! rules, as the LVS direct-routing guide writes them) into an rsdr
//! configuration file.
//!
//! Understood:
//! - `-A INPUT -d VIP -j DROP` (chain also spelled `IN`), VIP an address
//!   or a prefix: a VIP or pool;
//! - `-A OUTPUT -s VIP -j mangle --mangle-ip-s REAL` (`OUT`): its real IP;
//! - `-i IFACE` / `-o IFACE` on those rules: rsdr filters on every attached
//!   interface, so the interface is listed under `[[interface]]` instead.
//!
//! Every other rule, and a VIP with only one of the two rules, is reported
//! as a warning and left out (or commented out) of the configuration.

use std::{collections::BTreeMap, fmt::Write as _, net::IpAddr};

use thiserror::Error;

use crate::{
    iface,
    vip::{self, Vip},
};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("no arptables rules found in the input (expected `arptables-save` output)")]
    Empty,
}

/// The configuration text and what could not be carried over.
#[derive(Debug, Default)]
pub struct Import {
    pub toml: String,
    pub warnings: Vec<String>,
}

#[derive(Default, Debug)]
struct Rule {
    chain: String,
    src: Option<String>,
    dst: Option<String>,
    jump: Option<String>,
    mangle_src: Option<String>,
    iface: Option<String>,
    other: Vec<String>,
}

fn parse_rule(tokens: &[&str]) -> Rule {
    let mut r = Rule::default();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let next = tokens.get(i + 1).map(|s| s.to_string());
        let mut take = |slot: &mut Option<String>| {
            *slot = next.clone();
            i += 1;
        };
        match t {
            "-A" | "--append" => r.chain = next.clone().unwrap_or_default(),
            "-s" | "--source-ip" => take(&mut r.src),
            "-d" | "--destination-ip" => take(&mut r.dst),
            "-j" | "--jump" => take(&mut r.jump),
            "--mangle-ip-s" => take(&mut r.mangle_src),
            "-i" | "--in-interface" | "-o" | "--out-interface" => take(&mut r.iface),
            _ => r.other.push(t.to_string()),
        }
        if matches!(t, "-A" | "--append") {
            i += 1;
        }
        i += 1;
    }
    r
}

/// `a.b.c.d/255.255.0.0` -> `a.b.c.d/16`; anything else unchanged.
fn normalise_prefix(s: &str) -> String {
    if let Some((a, m)) = s.split_once('/')
        && let Ok(std::net::IpAddr::V4(mask)) = m.parse::<IpAddr>()
    {
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() == 32 {
            return format!("{a}/{}", bits.leading_ones());
        }
    }
    s.to_string()
}

pub fn arptables(text: &str) -> Result<Import, ImportError> {
    let mut out = Import::default();
    let mut drops: BTreeMap<Vip, usize> = BTreeMap::new();
    let mut reals: BTreeMap<Vip, (IpAddr, usize)> = BTreeMap::new();
    let mut ifaces: Vec<String> = Vec::new();
    let mut rules = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let l = raw.trim();
        if l.is_empty()
            || l.starts_with('#')
            || l.starts_with('*')
            || l.starts_with(':')
            || l == "COMMIT"
        {
            continue;
        }
        let tokens: Vec<&str> = l.split_whitespace().collect();
        if !matches!(tokens.first(), Some(&"-A") | Some(&"--append")) {
            return Err(ImportError::Parse {
                line,
                message: format!("not an arptables-save rule: {l:?}"),
            });
        }
        rules += 1;
        let r = parse_rule(&tokens);
        let chain = match r.chain.as_str() {
            "IN" | "INPUT" => "INPUT",
            "OUT" | "OUTPUT" => "OUTPUT",
            other => other,
        };
        let skip = |why: &str| format!("line {line}: {why}; left out: {l}");
        if !r.other.is_empty() {
            out.warnings
                .push(skip(&format!("cannot express {}", r.other.join(" "))));
            continue;
        }
        if let Some(i) = &r.iface {
            if i.ends_with('+') {
                out.warnings.push(format!("line {line}: {i} names interfaces by prefix, which rsdr does not; list each one under [[interface]]"));
            } else if let Err(e) = iface::validate_name(i) {
                out.warnings
                    .push(format!("line {line}: {e}; left out of [[interface]]"));
            } else {
                if !ifaces.contains(i) {
                    ifaces.push(i.clone());
                }
                out.warnings.push(format!("line {line}: rsdr filters on every attached interface, not only {i}; listed under [[interface]]"));
            }
        }
        match (chain, r.jump.as_deref(), &r.src, &r.dst, &r.mangle_src) {
            ("INPUT", Some("DROP"), None, Some(d), None) => {
                match vip::parse_vip(&normalise_prefix(d)) {
                    Ok(v) => {
                        drops.insert(v, line);
                    }
                    Err(e) => out.warnings.push(skip(&e.to_string())),
                }
            }
            ("OUTPUT", Some("mangle"), Some(s), None, Some(m)) => {
                match vip::parse_vip(&normalise_prefix(s)) {
                    Ok(v) => match vip::parse_real(m, &v) {
                        Ok(real) => {
                            if let Some((other, l0)) = reals.get(&v) {
                                out.warnings.push(format!("line {line}: {v} already mangled to {other} on line {l0}; keeping that"));
                            } else {
                                reals.insert(v, (real, line));
                            }
                        }
                        Err(e) => out.warnings.push(skip(&e.to_string())),
                    },
                    Err(e) => out.warnings.push(skip(&e.to_string())),
                }
            }
            _ => out.warnings.push(skip(
                "not one of the two arptables_jf rule forms rsdr replaces",
            )),
        }
    }
    if rules == 0 {
        return Err(ImportError::Empty);
    }
    let t = &mut out.toml;
    let _ = writeln!(
        t,
        "# rsdr configuration imported from arptables-save output."
    );
    let _ = writeln!(t, "# Check it, then: rsdr apply -c THIS_FILE --dry-run\n");
    if ifaces.is_empty() {
        let _ = writeln!(
            t,
            "# rsdr filters on the interfaces listed here; arptables filtered on all."
        );
        let _ = writeln!(t, "# Name the ones the director reaches this server on:");
        let _ = writeln!(t, "# [[interface]]\n# name = \"eth0\"\n");
    }
    for i in &ifaces {
        // Linux allows quotes and backslashes in names: written as TOML.
        let name = toml::Value::String(i.clone());
        let _ = writeln!(t, "[[interface]]\nname = {name}\n");
    }
    let mut specs: Vec<&Vip> = drops.keys().chain(reals.keys()).collect();
    specs.sort();
    specs.dedup();
    for v in specs {
        match (drops.get(v), reals.get(v)) {
            (Some(_), Some((real, _))) => {
                let _ = writeln!(t, "[[vip]]\naddress = \"{v}\"\nreal = \"{real}\"\n");
            }
            (Some(l), None) => {
                out.warnings.push(format!("line {l}: no OUTPUT mangle rule gives the real IP of {v}; its entry is commented out"));
                let _ = writeln!(
                    t,
                    "# [[vip]]\n# address = \"{v}\"\n# real = \"REAL IP OF THIS SERVER\"\n"
                );
            }
            (None, Some((real, l))) => {
                out.warnings.push(format!("line {l}: no INPUT drop rule for {v}; its entry is commented out (rsdr always filters both ways)"));
                let _ = writeln!(t, "# [[vip]]\n# address = \"{v}\"\n# real = \"{real}\"\n");
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = "*filter\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:FORWARD ACCEPT\n\
-A INPUT -j DROP -d 192.168.76.24 \n\
-A INPUT -j DROP -i eth1 -d 10.9.9.9 \n\
-A INPUT -j DROP -d 172.16.0.0/255.255.0.0 \n\
-A OUTPUT -j mangle -s 192.168.76.24 --mangle-ip-s 192.168.76.5 \n\
-A OUTPUT -j mangle -s 172.16.0.0/16 --mangle-ip-s 172.17.0.5 \n\
-A INPUT -j ACCEPT --opcode 1 \n";

    #[test]
    fn the_seeds_rules_become_vips() {
        let i = arptables(SAVE).expect("import");
        assert!(
            i.toml
                .contains("[[vip]]\naddress = \"192.168.76.24\"\nreal = \"192.168.76.5\""),
            "{}",
            i.toml
        );
        assert!(
            i.toml
                .contains("address = \"172.16.0.0/16\"\nreal = \"172.17.0.5\""),
            "{}",
            i.toml
        );
        assert!(
            i.toml.contains("[[interface]]\nname = \"eth1\""),
            "{}",
            i.toml
        );
        assert!(
            i.toml.contains("# address = \"10.9.9.9\""),
            "commented out without a real IP: {}",
            i.toml
        );
        assert!(
            i.warnings
                .iter()
                .any(|w| w.contains("cannot express --opcode 1")),
            "{:?}",
            i.warnings
        );
        assert!(
            i.warnings
                .iter()
                .any(|w| w.contains("no OUTPUT mangle rule gives the real IP of 10.9.9.9")),
            "{:?}",
            i.warnings
        );
    }

    #[test]
    fn jf_chain_names_and_order_are_accepted() {
        let i = arptables(
            "-A IN -d 10.0.0.100 -j DROP\n-A OUT -s 10.0.0.100 -j mangle --mangle-ip-s 10.0.0.2\n",
        )
        .expect("import");
        assert!(
            i.toml
                .contains("address = \"10.0.0.100\"\nreal = \"10.0.0.2\""),
            "{}",
            i.toml
        );
        assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(arptables("").unwrap_err(), ImportError::Empty);
        assert!(matches!(
            arptables("hello world\n"),
            Err(ImportError::Parse { line: 1, .. })
        ));
    }
}
