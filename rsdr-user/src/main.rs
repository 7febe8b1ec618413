//! `rsdr`: keeps an LVS direct-routing real server from answering or
//! announcing its VIPs in ARP. See `rsdr --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the problem, with its context chain.
            eprintln!("rsdr: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
