//! Command-line interface: one file per subcommand.

mod apply;
mod attach;
mod check;
mod completions;
mod detach;
mod import;
mod man;
mod monitor;
mod output;
mod run;
mod stats;
mod status;
mod vip;
mod vrrp;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use rsdr_user::{
    config::{Config, Devices},
    pins::PinDir,
};

const ABOUT: &str =
    "Keep an LVS direct-routing real server from answering or announcing its VIPs in ARP";

const LONG_ABOUT: &str = "\
rsdr replaces arptables_jf on LVS direct-routing real servers. An XDP program
drops inbound ARP and IPv6 Neighbor Discovery that would make the kernel
answer for a VIP (or see it as a conflict); a TC egress program rewrites the
sender of outgoing ARP requests / Neighbor Solicitations from a VIP to the
server's real address and drops the host's own announcements of a VIP.
Programs, maps and links are pinned on bpffs, so the filter keeps running
after rsdr exits. docs/semantics.md has the full decision table.";

const EXAMPLES: &str = "\
Examples:
  rsdr attach eth0                          # load, pin and attach to eth0
  rsdr vip add 192.0.2.10 --real 10.0.0.5   # filter ARP for a VIP
  rsdr vip add 2001:db8::10 --real 2001:db8::5
  rsdr vip add 203.0.113.0/24 --real 10.0.0.5
  rsdr status                               # what is attached where
  rsdr stats                                # what was dropped and rewritten
  rsdr detach                               # remove everything";

#[derive(Debug, Parser)]
#[command(name = "rsdr", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Directory on bpffs holding rsdr's pinned maps, programs and links
    /// [default: the config file's pin_dir, else /sys/fs/bpf/rsdr]
    #[arg(long, global = true, env = "RSDR_PIN_DIR", value_name = "DIR")]
    pin_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Apply(apply::Args),
    Attach(attach::Args),
    Check(check::Args),
    Completions(completions::Args),
    #[command(subcommand)]
    Import(import::Command),
    Man(man::Args),
    Run(run::Args),
    Detach(detach::Args),
    #[command(subcommand)]
    Vip(vip::Command),
    Monitor(monitor::Args),
    Stats(stats::Args),
    Status(status::Args),
    Vrrp(vrrp::Args),
}

impl Command {
    /// The configuration file this command reads, if any.
    fn config_path(&self) -> Option<&Path> {
        match self {
            Command::Apply(a) => Some(&a.config),
            Command::Run(a) => Some(&a.config),
            Command::Check(a) => a.config.as_deref(),
            _ => None,
        }
    }
}

/// A usage error on one line, as every other error: clap's message and
/// its details ("the following required arguments were not provided:
/// --real <IP>"), without the usage and help lines around them.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = parts.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    format!("{line} (see --help)")
}

impl Cli {
    /// Read the configuration file (if the command has one), settle the
    /// pin directory once from the flag, the file and the default, and run
    /// the command.
    pub fn run(self) -> anyhow::Result<()> {
        // The service starts before devices exist (at boot) and waits for
        // them; the other commands want them now.
        let devices = match self.command {
            Command::Run(_) => Devices::MayBeAbsent,
            _ => Devices::MustExist,
        };
        let cfg = self
            .command
            .config_path()
            .map(|p| Config::load_with(p, devices).map_err(anyhow::Error::from))
            .transpose()?;
        for w in cfg.iter().flat_map(|c| &c.warnings) {
            eprintln!("{w}");
        }
        let pins = PinDir::resolve(self.pin_dir.as_deref(), cfg.as_ref());
        match self.command {
            Command::Apply(args) => apply::run(&pins, cfg.expect("apply reads its file"), args),
            Command::Check(args) => check::run(&pins, cfg.as_ref(), args),
            Command::Completions(args) => completions::run(args),
            Command::Import(cmd) => import::run(cmd),
            Command::Man(args) => man::run(args),
            Command::Run(args) => run::run(&pins, cfg.expect("run reads its file"), args),
            Command::Attach(args) => attach::run(&pins, args),
            Command::Detach(args) => detach::run(&pins, args),
            Command::Vip(cmd) => vip::run(&pins, cmd),
            Command::Monitor(args) => monitor::run(&pins, args),
            Command::Stats(args) => stats::run(&pins, args),
            Command::Status(args) => status::run(&pins, args),
            Command::Vrrp(args) => vrrp::run(&pins, args),
        }
    }
}
