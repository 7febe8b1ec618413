//! Project tasks: `cargo xtask <setup|build|test|lab|bench|vm-test|package>`.

mod bench;
mod build;
mod lab;
mod package;
mod setup;
mod signals;
mod test;
mod util;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "rsdr development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what building and testing need (idempotent): nightly rust-src,
    /// bpf-linker built against nightly's own libLLVM, Debian test tools
    Setup,
    /// Set up, then build the rsdr binary (with its embedded eBPF object)
    Build(build::Args),
    /// Set up, build, and run every test, privileged ones included (as root)
    Test(test::Args),
    /// Build, then show in namespaces what the wire carries before and after rsdr
    Lab(lab::Args),
    /// Measure datapath cost, flood resilience, traffic tax and control plane
    Bench(bench::Args),
    /// Boot another kernel (default: Debian 12's 6.1) in a VM and run the
    /// privileged tests and the lab (with a real IPVS director) there
    VmTest(vm::Args),
    /// Build the Debian package (target/package/rsdr_<version>_amd64.deb)
    /// and check it with lintian (the VM tests install it)
    Package(package::Args),
}

fn main() -> std::process::ExitCode {
    util::put_cargo_bin_on_path();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::run(),
        Command::Build(args) => build::run(&args).map(|_| ()),
        Command::Test(args) => test::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Bench(args) => bench::run(args),
        Command::VmTest(args) => vm::run(args),
        Command::Package(args) => package::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
