use anyhow::Context as _;
use clap::CommandFactory as _;

/// Print the rsdr(8) manual page (roff), generated from the CLI definition
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  rsdr man > /usr/share/man/man8/rsdr.8 && man rsdr")]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    let cmd = super::Cli::command();
    let man = clap_mangen::Man::new(cmd).section("8");
    man.render(&mut std::io::stdout())
        .context("writing the manual page")?;
    Ok(())
}
