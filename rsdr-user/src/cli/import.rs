use std::path::Path;

use rsdr_user::{import, input};

/// Turn existing rules of another tool into an rsdr configuration
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Arptables(ArptablesArgs),
}

/// Convert `arptables-save` output (arptables_jf's rules) into rsdr.toml
///
/// `-A IN -d VIP -j DROP` and `-A OUT -s VIP -j mangle --mangle-ip-s REAL`
/// pairs become [[vip]] entries. Rules rsdr cannot express are reported on
/// stderr, one line each, and left out. The configuration goes to stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  arptables-save | rsdr import arptables > /etc/rsdr/rsdr.toml
  rsdr import arptables /etc/sysconfig/arptables")]
pub struct ArptablesArgs {
    /// File with `arptables-save` output; - or nothing for stdin
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::Arptables(a) = cmd;
    let text = match a.file.as_deref() {
        None | Some("-") => input::read_bounded(std::io::stdin().lock(), Path::new("stdin"))?,
        Some(path) => input::read_file(Path::new(path))?,
    };
    let out = import::arptables(&text)?;
    for w in &out.warnings {
        eprintln!("rsdr: warning: {w}");
    }
    print!("{}", out.toml);
    Ok(())
}
