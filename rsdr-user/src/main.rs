//! `rsdr`: keeps an LVS direct-routing real server from answering or
//! announcing its VIPs in ARP. See `rsdr --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // A closed pipe (`rsdr status --json | head`) ends rsdr quietly, as it
    // does any Unix tool, instead of failing a write.
    // SAFETY: setting a signal's disposition to its default, before any
    // other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("rsdr: error: {}", cli::one_line(&e));
            return ExitCode::from(2);
        }
    };
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the problem, with its context chain.
            eprintln!("rsdr: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
