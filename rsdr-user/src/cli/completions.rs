use clap::CommandFactory as _;

/// Print shell completions for rsdr
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  rsdr completions bash > /usr/share/bash-completion/completions/rsdr\n  rsdr completions zsh > /usr/share/zsh/vendor-completions/_rsdr"
)]
pub struct Args {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "rsdr", &mut std::io::stdout());
    Ok(())
}
