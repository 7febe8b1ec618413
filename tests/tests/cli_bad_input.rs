//! The bad-input sweep: every subcommand and every configuration key gets
//! malformed, out-of-range, duplicate, wrong-family and hostile values
//! (huge and sparse files, NUL bytes, devices and FIFOs behind symlinks, a
//! million VIPs). Each answer must be one line on stderr naming the
//! problem, a non-zero exit status, no panic, and the running state
//! (VIPs, attachments, counters) exactly as before.

use std::{os::unix::fs::symlink, path::PathBuf};

use rsdr_tests::{
    conf::{ConfFile, iface, lab_config, vip},
    lab::{Lab, REAL_IP, VIP},
    netns::{run_ok, unique_id},
};

/// A protected lab, the state to compare against, and a check that runs
/// `args` and wants one line mentioning `needle` and the state unchanged.
struct Sweep {
    lab: Lab,
    before: (String, String, String),
}

impl Sweep {
    fn new() -> Self {
        let lab = Lab::new();
        lab.protect();
        let before = lab.state();
        Self { lab, before }
    }

    /// Run `args`: one line on stderr mentioning `needle`, a non-zero exit
    /// status, the state unchanged; or what was wrong.
    fn answer(&self, args: &[&str], needle: &str) -> Result<(), String> {
        let run = self.lab.rsdr(args);
        let lines: Vec<&str> = run.stderr.lines().collect();
        if run.code == Some(0) || run.code.is_none() {
            return Err(format!("rsdr {args:?}: exit status {:?}", run.code));
        }
        if lines.len() != 1 || !lines[0].contains(needle) {
            return Err(format!(
                "rsdr {args:?}: wanted one line mentioning {needle:?}, got:\n{}",
                run.stderr
            ));
        }
        if self.lab.state() != self.before {
            return Err(format!("rsdr {args:?}: the state changed"));
        }
        Ok(())
    }

    /// Every case answered as [`Sweep::answer`] wants, or a panic listing
    /// each that was not.
    fn refuses_all<'a>(&self, cases: impl IntoIterator<Item = (Vec<&'a str>, &'a str)>) {
        let wrong: Vec<String> = cases
            .into_iter()
            .filter_map(|(args, needle)| self.answer(&args, needle).err())
            .collect();
        assert!(
            wrong.is_empty(),
            "{} case(s) answered wrongly:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}

/// A file in the temporary directory, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(what: &str) -> Self {
        Self(std::env::temp_dir().join(format!("rsdr-bad-{what}-{}", unique_id())))
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn every_subcommand_refuses_bad_arguments_in_one_line() {
    let s = Sweep::new();
    let long = "1".repeat(100_000);
    let cases: &[(&[&str], &str)] = &[
        (
            &["vip", "add", "10.0.0.300", "--real", "10.0.0.2"],
            "10.0.0.300",
        ),
        (
            &["vip", "add", "10.0.0.0/33", "--real", "10.0.0.2"],
            "10.0.0.0/33",
        ),
        (
            &["vip", "add", "10.0.0.1/24", "--real", "10.0.0.2"],
            "host bits",
        ),
        (
            &["vip", "add", "2001:db8::/129", "--real", "2001:db8::2"],
            "2001:db8::/129",
        ),
        (
            &["vip", "add", "10.0.0.101", "--real", "2001:db8::2"],
            "IPv6",
        ),
        (
            &["vip", "add", "2001:db8::10", "--real", "10.0.0.2"],
            "IPv6",
        ),
        (
            &["vip", "add", "10.0.0.101", "--real", "not-an-ip"],
            "not-an-ip",
        ),
        (&["vip", "add", "10.0.0.101", "--real", ""], "real IP"),
        (&["vip", "add", "10.0.0.101"], "--real"),
        (&["vip", "add", "", "--real", "10.0.0.2"], "VIP"),
        (&["vip", "add", &long, "--real", "10.0.0.2"], "invalid"),
        (&["vip", "add", "0.0.0.0", "--real", "10.0.0.2"], "0.0.0.0"),
        (
            &["vip", "add", "255.255.255.255", "--real", "10.0.0.2"],
            "255.255.255.255",
        ),
        (
            &["vip", "add", "224.0.0.1", "--real", "10.0.0.2"],
            "224.0.0.1",
        ),
        (&["vip", "add", "::", "--real", "2001:db8::2"], "::"),
        (
            &[
                "vip",
                "add",
                "10.0.0.101",
                "--real",
                "10.0.0.2",
                "--monitor=yes",
            ],
            "--monitor",
        ),
        (
            &["vip", "add", "10.0.0.101", "--real", "10.0.0.2", "--bogus"],
            "--bogus",
        ),
        (&["vip", "del", "10.0.0.300"], "10.0.0.300"),
        (&["vip", "del", "10.0.0.250"], "not configured"),
        (&["vip", "del"], "VIP"),
        (&["vip", "frobnicate"], "frobnicate"),
        (&["attach", "nosuch0"], "nosuch0"),
        (&["attach", "a/b"], "a/b"),
        (&["attach", "0123456789abcdefg"], "0123456789abcdefg"),
        (&["attach", ""], "interface"),
        (&["attach", "lo"], "not an Ethernet device"),
        (&["attach", "eth0", "--ingress", "xpd"], "xpd"),
        (&["attach", "eth0", "--xdp-mode", "turbo"], "turbo"),
        (&["attach", "eth0", "--max-vips", "0"], "max-vips"),
        (
            &["attach", "eth0", "--max-vips", "99999999999"],
            "99999999999",
        ),
        (&["attach", "eth0", "--max-vips", "-1"], "-1"),
        (&["attach", "eth0", "--max-pools", "65537"], "max-pools"),
        (&["detach", "nosuch0"], "nosuch0"),
        (&["monitor", "sideways"], "sideways"),
        (&["vrrp", "VI_1", "primary"], "primary"),
        (&["vrrp", "VI 1", "master"], "VI 1"),
        (&["vrrp", "VI_1"], "ARGS"),
        (&["vrrp", "a", "b", "c", "d", "e"], "'e'"),
        (&["vrrp", "GROUPS", "VI_1", "MASTER", "100"], "GROUPS"),
        (
            &[
                "vip",
                "add",
                "10.0.0.101",
                "--real",
                "10.0.0.2",
                "--vrrp-instance",
                "a\"b",
            ],
            "VRRP instance",
        ),
        (&["stats", "10.0.0.300"], "10.0.0.300"),
        (&["status", "--jsn"], "--jsn"),
        (
            &["check", "--config", "/nonexistent/rsdr.toml"],
            "/nonexistent/rsdr.toml",
        ),
        (
            &["apply", "-c", "/nonexistent/rsdr.toml"],
            "/nonexistent/rsdr.toml",
        ),
        (
            &["run", "-c", "/nonexistent/rsdr.toml"],
            "/nonexistent/rsdr.toml",
        ),
        (&["run", "--metrics", "not-an-address"], "not-an-address"),
        (&["run", "--poll-ms", "soon"], "soon"),
        (
            &["import", "arptables", "/nonexistent/save"],
            "/nonexistent/save",
        ),
        (&["import", "iptables"], "iptables"),
        (&["completions", "tcsh"], "tcsh"),
        (&["frobnicate"], "frobnicate"),
    ];
    s.refuses_all(cases.iter().map(|(a, n)| (a.to_vec(), *n)));
}

#[test]
fn every_configuration_key_refuses_bad_values_in_one_line() {
    let s = Sweep::new();
    let base = lab_config("");
    let v = lab_config;
    let i = |extra: &str| iface("eth0", extra) + &vip(&VIP.to_string(), &REAL_IP.to_string(), "");
    let cases: Vec<(String, &str)> = vec![
        // [settings]
        (format!("[settings]\npin_dir = 7\n{base}"), "pin_dir"),
        (format!("[settings]\nmonitor = \"yes\"\n{base}"), "monitor"),
        (format!("[settings]\nmax_vips = 0\n{base}"), "max_vips"),
        (format!("[settings]\nmax_vips = -1\n{base}"), "max_vips"),
        (
            format!("[settings]\nmax_vips = 4294967296\n{base}"),
            "max_vips",
        ),
        (
            format!("[settings]\nmax_vips = \"many\"\n{base}"),
            "max_vips",
        ),
        (
            format!("[settings]\nmax_pools = 65537\n{base}"),
            "max_pools",
        ),
        (
            format!("[settings]\nmax_vips = 1\n[settings]\n{base}"),
            "settings",
        ),
        (
            format!("[settings]\nmonitor = true\nmonitor = false\n{base}"),
            "monitor",
        ),
        (format!("[settings]\nfrobnicate = 1\n{base}"), "frobnicate"),
        (
            format!("[settings]\nvrrp_notify_fifo = \"keepalived.fifo\"\n{base}"),
            "vrrp_notify_fifo",
        ),
        (
            format!("[settings]\nvrrp_notify_fifo = 5\n{base}"),
            "vrrp_notify_fifo",
        ),
        // [[interface]]
        (
            iface("", "") + &vip(&VIP.to_string(), &REAL_IP.to_string(), ""),
            "interface",
        ),
        (iface("0123456789abcdefg", ""), "0123456789abcdefg"),
        (iface("a/b", ""), "a/b"),
        (iface("eth0", "") + &iface("eth0", ""), "listed twice"),
        (i("name = \"eth1\""), "name"),
        (i("ingress = \"xpd\""), "ingress"),
        (i("ingress = 1"), "ingress"),
        (i("xdp_mode = \"turbo\""), "xdp_mode"),
        (
            i("ingress = \"tc\"\nxdp_mode = \"skb\""),
            "xdp_mode has no meaning",
        ),
        (i("tc_attach = \"ioctl\""), "tc_attach"),
        (i("xdp_attach = \"carrier-pigeon\""), "xdp_attach"),
        (i("frobnicate = true"), "frobnicate"),
        ("[interface]\nname = \"eth0\"\n".into(), "interface"),
        // [[vip]]
        (
            iface("eth0", "") + &vip("10.0.0.300", "10.0.0.2", ""),
            "10.0.0.300",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.0/33", "10.0.0.2", ""),
            "10.0.0.0/33",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.101", "2001:db8::2", ""),
            "IPv6",
        ),
        (
            iface("eth0", "") + &vip("10.0.0.101\\u0000", "10.0.0.2", ""),
            "10.0.0.101",
        ),
        (iface("eth0", "") + &vip("", "10.0.0.2", ""), "vip"),
        (iface("eth0", "") + &vip("10.0.0.101", "", ""), "10.0.0.101"),
        (
            iface("eth0", "") + &vip("10.0.0.101", "10.0.0.9", ""),
            "not an address of this host",
        ),
        (
            base.clone() + &vip(&VIP.to_string(), &REAL_IP.to_string(), ""),
            "more than once",
        ),
        (v("monitor = \"yes\""), "monitor"),
        (v("show_conflicts = 1"), "show_conflicts"),
        (v("allow_foreign_real = \"yes\""), "allow_foreign_real"),
        (v("manage_address = \"\""), "manage_address"),
        (v("manage_address = \"a/b\""), "manage_address"),
        (v("manage_address = \"dummy9\""), "dummy9"),
        (v("vrrp_instance = \"\""), "vrrp_instance"),
        (v("vrrp_instance = \"VI 1\""), "vrrp_instance"),
        (v("vrrp_instance = 1"), "vrrp_instance"),
        (
            v("vrrp_instance = \"VI_1\"\nmanage_address = \"eth0\""),
            "manage_address must not be a filtered interface",
        ),
        (v("address = \"10.0.0.5\""), "address"),
        (
            iface("eth0", "") + "[[vip]]\naddress = \"10.0.0.101\"\n",
            "real",
        ),
        (
            iface("eth0", "") + "[[vip]]\nreal = \"10.0.0.2\"\n",
            "address",
        ),
        (v("frobnicate = 1"), "frobnicate"),
        // The whole file.
        ("\u{0}".into(), ":1:"),
        (format!("{base}\u{0}\n"), "rsdr-conf"),
        ("[[vip]\n".into(), ":1:"),
        (
            format!(
                "[settings]\nmax_vips = 2\n{}",
                iface("eth0", "")
                    + &vip("10.0.0.101", "10.0.0.2", "")
                    + &vip("10.0.0.102", "10.0.0.2", "")
                    + &vip("10.0.0.103", "10.0.0.2", "")
            ),
            "do not fit",
        ),
    ];
    let files: Vec<(ConfFile, &str)> = cases
        .iter()
        .map(|(text, needle)| (ConfFile::new(text), *needle))
        .collect();
    let args: Vec<(String, &str)> = files.iter().map(|(f, n)| (f.arg(), *n)).collect();
    s.refuses_all(args.iter().flat_map(|(path, needle)| {
        ["apply", "check"].map(|cmd| (vec![cmd, "-c", path.as_str()], *needle))
    }));
}

#[test]
fn hostile_files_are_refused_in_one_line() {
    let s = Sweep::new();
    // Not UTF-8.
    let binary = TempPath::new("binary");
    std::fs::write(&binary.0, [0xff, 0xfe, 0x00, 0x80]).expect("write");
    // Sparse and huge: refused by its size, never read.
    let huge = TempPath::new("huge");
    std::fs::File::create(&huge.0)
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse file");
    // A device and a FIFO behind symlinks: refused before they are opened.
    let zero = TempPath::new("zero");
    symlink("/dev/zero", &zero.0).expect("symlink");
    let fifo = TempPath::new("fifo");
    run_ok(std::process::Command::new("mkfifo").arg(&fifo.0));
    let fifo_link = TempPath::new("fifo-link");
    symlink(&fifo.0, &fifo_link.0).expect("symlink");
    let dir = std::env::temp_dir().display().to_string();
    let cases = [
        (binary.arg(), "not UTF-8"),
        (huge.arg(), "larger than"),
        (zero.arg(), "not a regular file"),
        (fifo_link.arg(), "not a regular file"),
        (dir, "not a regular file"),
    ];
    s.refuses_all(cases.iter().flat_map(|(path, needle)| {
        [
            vec!["apply", "-c", path.as_str()],
            vec!["check", "-c", path.as_str()],
            vec!["run", "-c", path.as_str()],
            vec!["import", "arptables", path.as_str()],
        ]
        .map(|args| (args, *needle))
    }));
    // A symlink to a good file is how configuration management installs
    // one: it is followed.
    let good =
        ConfFile::new(&(iface("eth0", "") + &vip(&VIP.to_string(), &REAL_IP.to_string(), "")));
    let link = TempPath::new("link");
    symlink(good.path(), &link.0).expect("symlink");
    let dry = s.lab.rsdr(&["apply", "-c", &link.arg(), "--dry-run"]);
    assert!(dry.ok().contains("dry run"), "{}", dry.stdout);
}

/// A million VIPs: refused by the file's size before it is parsed
/// (parsing it would take some 2 GB); a file under the size limit with more
/// entries than the maps hold is refused before its entries are checked.
#[test]
fn a_million_vips_are_refused_in_one_line() {
    let s = Sweep::new();
    let mut text = iface("eth0", "");
    for n in 0..1_000_000u32 {
        let [_, a, b, c] = n.to_be_bytes();
        text.push_str(&format!(
            "[[vip]]\naddress = \"10.{a}.{b}.{c}\"\nreal = \"10.0.0.2\"\n"
        ));
    }
    let conf = ConfFile::new(&text);
    // 100,000 entries (5 MB) with room for 2,048.
    let mut small = "[settings]\nmax_vips = 1024\nmax_pools = 1024\n".to_string();
    small.push_str(
        &text[..text
            .match_indices("[[vip]]")
            .nth(100_000)
            .expect("entries")
            .0],
    );
    let small = ConfFile::new(&small);
    let (big, small) = (conf.arg(), small.arg());
    s.refuses_all([
        (vec!["apply", "-c", big.as_str()], "larger than 16 MiB"),
        (
            vec!["apply", "-c", small.as_str()],
            "100000 [[vip]] entries do not fit max_vips = 1024 and max_pools = 1024",
        ),
    ]);
}
