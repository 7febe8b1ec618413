//! Seeded fuzzing of the parsers that read text from outside: the
//! configuration file ([`Config::parse`]), `arptables-save` output
//! ([`import::arptables`]) and keepalived's notify FIFO lines
//! ([`notify::parse`]). Valid inputs are mutated (bytes flipped,
//! deleted and inserted, lines duplicated, tokens of both grammars and
//! hostile characters spliced in); every result must be an answer, never a
//! panic: an error of one line, or for the import a configuration that is
//! valid TOML. A failure prints the seed and the input; `RSDR_FUZZ_SEED`
//! and `RSDR_FUZZ_CASES` replay or widen a run.

use std::{fmt::Display, panic::AssertUnwindSafe, path::Path};

use crate::{
    config::Config,
    import,
    vrrp::{
        self,
        notify::{self, Line},
    },
};

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces of both grammars and characters parsers trip on.
const TOKENS: &[&str] = &[
    "[[vip]]\n",
    "[[interface]]\n",
    "[settings]\n",
    "address = ",
    "real = ",
    "name = ",
    "manage_address = ",
    "ingress = ",
    "xdp_mode = ",
    "max_vips = ",
    "max_pools = ",
    "pin_dir = ",
    "monitor = true\n",
    "show_conflicts = ",
    "allow_foreign_real = true\n",
    "vrrp_instance = ",
    "vrrp_notify_fifo = ",
    "\"VI_1\"",
    "\"/run/k.fifo\"",
    "INSTANCE ",
    "GROUP ",
    "MASTER ",
    "BACKUP ",
    "100",
    "\"10.0.0.100\"",
    "\"2001:db8::10\"",
    "\"10.0.0.0/8\"",
    "\"0.0.0.0/0\"",
    "\"::/0\"",
    "\"255.255.255.255\"",
    "/33",
    "/129",
    "/255.255.0.0",
    "\"eth0\"",
    "\"lo\"",
    "\"../../x\"",
    "4294967296",
    "-1",
    "0",
    "1e99",
    "\"\\u0000\"",
    "\0",
    "\u{feff}",
    "\u{202e}",
    "é",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    "#",
    "\n",
    "\r\n",
    "\t",
    " ",
    "-A INPUT -d ",
    "-A OUTPUT -s ",
    "-A IN ",
    "-A OUT ",
    "-j DROP ",
    "-j mangle ",
    "--mangle-ip-s ",
    "-i ",
    "-o ",
    "eth+ ",
    "eth\"0 ",
    "10.0.0.100 ",
    "10.0.0.2 ",
    "*filter\n",
    ":INPUT ACCEPT\n",
    "COMMIT\n",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut s: Vec<char> = input.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if !s.is_empty() => {
                let i = at.min(s.len() - 1);
                s[i] = char::from_u32(rng.below(0x80) as u32).unwrap_or('?');
            }
            1 if !s.is_empty() => {
                let end = (at + 1 + rng.below(12)).min(s.len());
                s.drain(at.min(end)..end);
            }
            2 => {
                let lines: Vec<&str> = input.lines().collect();
                let line = rng.pick(&lines);
                s.splice(at..at, format!("{line}\n").chars());
            }
            _ => {
                let tok = rng.pick(TOKENS);
                s.splice(at..at, tok.chars());
            }
        }
    }
    s.into_iter().collect()
}

/// Seeds to run: `RSDR_FUZZ_SEED` alone, or a fixed set.
fn seeds() -> Vec<u64> {
    match std::env::var("RSDR_FUZZ_SEED") {
        Ok(s) => vec![s.parse().expect("RSDR_FUZZ_SEED is a number")],
        Err(_) => vec![0x5eed_0001, 0x5eed_0002, 0x5eed_0003, 0x5eed_0004],
    }
}

fn cases() -> usize {
    std::env::var("RSDR_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1500)
}

/// Feed mutations of `corpus` to `parse`; `check` judges each answer.
fn fuzz<T, E: Display>(
    what: &str,
    corpus: &[&str],
    parse: impl Fn(&str) -> Result<T, E>,
    check: impl Fn(&str, &T) -> Result<(), String>,
) -> usize {
    let mut errors = 0;
    for seed in seeds() {
        let mut rng = Rng(seed);
        for case in 0..cases() {
            let base = rng.pick(corpus);
            let text = mutate(&mut rng, base);
            let out = std::panic::catch_unwind(AssertUnwindSafe(|| parse(&text)));
            let verdict = match out {
                Err(_) => Err("panicked".to_string()),
                Ok(Ok(v)) => check(&text, &v),
                Ok(Err(e)) => {
                    errors += 1;
                    let msg = e.to_string();
                    if msg.is_empty() || msg.contains('\n') {
                        Err(format!("error not on one line: {msg:?}"))
                    } else {
                        Ok(())
                    }
                }
            };
            if let Err(why) = verdict {
                panic!("{what}: {why} (RSDR_FUZZ_SEED={seed}, case {case}) on input:\n{text:?}");
            }
        }
    }
    errors
}

const CONFIGS: &[&str] = &[
    "[settings]\nmonitor = false\nmax_vips = 64\nmax_pools = 8\n\n[[interface]]\nname = \"eth0\"\ningress = \"xdp\"\nxdp_mode = \"native\"\n\n[[vip]]\naddress = \"10.0.0.100\"\nreal = \"10.0.0.2\"\nmanage_address = \"lo\"\n",
    "[[interface]]\nname = \"eth0\"\ningress = \"tc\"\n\n[[vip]]\naddress = \"2001:db8::10\"\nreal = \"2001:db8::2\"\nshow_conflicts = true\n\n[[vip]]\naddress = \"203.0.113.0/24\"\nreal = \"10.0.0.2\"\nmonitor = true\n",
    "# nothing filtered\n",
    "[settings]\nvrrp_notify_fifo = \"/run/rsdr/keepalived.fifo\"\n\n[[interface]]\nname = \"eth0\"\n\n[[vip]]\naddress = \"10.0.0.100\"\nreal = \"10.0.0.2\"\nmanage_address = \"lo\"\nvrrp_instance = \"VI_1\"\n",
];

#[test]
fn the_config_parser_answers_every_mutation_in_one_line() {
    let path = Path::new("fuzz.toml");
    let errors = fuzz("config", CONFIGS, |t| Config::parse(path, t), |_, _| Ok(()));
    assert!(
        errors > 0,
        "no mutation was refused: the fuzzer mutates nothing"
    );
}

const DUMPS: &[&str] = &[
    "*filter\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n-A INPUT -j DROP -d 192.168.76.24 \n-A OUTPUT -j mangle -s 192.168.76.24 --mangle-ip-s 192.168.76.5 \nCOMMIT\n",
    "-A IN -d 172.16.0.0/255.255.0.0 -j DROP -i eth1\n-A OUT -s 172.16.0.0/16 -j mangle --mangle-ip-s 172.17.0.5 -o eth1\n-A INPUT -j ACCEPT --opcode 1\n",
];

#[test]
fn the_arptables_import_answers_every_mutation_with_toml_or_one_line() {
    let errors = fuzz(
        "import arptables",
        DUMPS,
        import::arptables,
        |_, out: &import::Import| {
            if let Err(e) = out.toml.parse::<toml::Table>() {
                return Err(format!("emitted invalid TOML ({e}):\n{}", out.toml));
            }
            match out.warnings.iter().find(|w| w.contains('\n')) {
                Some(w) => Err(format!("warning not on one line: {w:?}")),
                None => Ok(()),
            }
        },
    );
    assert!(
        errors > 0,
        "no mutation was refused: the fuzzer mutates nothing"
    );
}

const NOTIFY_LINES: &[&str] = &[
    "INSTANCE \"VI_1\" MASTER 100",
    "INSTANCE \"web-1\" BACKUP 50",
    "INSTANCE \"VI_1\" STOP 100",
    "GROUP \"VG_1\" FAULT",
];

#[test]
fn keepalived_fifo_lines_are_taken_only_whole() {
    let errors = fuzz(
        "notify line",
        NOTIFY_LINES,
        |t| match notify::parse(t) {
            Line::Garbled(l) => Err(format!("not a keepalived line: {l:?}")),
            other => Ok(other),
        },
        |text, line| match line {
            Line::Instance { name, state } => {
                vrrp::validate_name(name).map_err(|e| e.to_string())?;
                // The state taken is the word keepalived wrote after the name.
                let word = text
                    .strip_prefix("INSTANCE \"")
                    .and_then(|r| r.split_once('"'))
                    .map_or("", |(_, r)| r);
                match word.split_whitespace().next() {
                    Some(w) if w.eq_ignore_ascii_case(state.name()) => Ok(()),
                    w => Err(format!("took state {state} from {w:?}")),
                }
            }
            _ => Ok(()),
        },
    );
    assert!(
        errors > 0,
        "no mutation was refused: the fuzzer mutates nothing"
    );
}
