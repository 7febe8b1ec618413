use anyhow::Context as _;
use rsdr_user::{
    attach,
    pins::PinDir,
    privilege::{self, Need},
};

/// Detach rsdr from interfaces; with none given, from all, removing every pin
///
/// Detaching an interface restores the kernel's own ARP behaviour on it at
/// once. Detaching everything also removes the VIP table and counters.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr detach eth1     # stop filtering on eth1, keep the VIP table
  rsdr detach          # stop everywhere and remove all pins")]
pub struct Args {
    /// Interfaces to detach (default: all)
    #[arg(value_name = "IFACE")]
    ifaces: Vec<String>,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let done = attach::detach_interfaces(pins, &args.ifaces).context("detach")?;
    for iface in &done {
        println!("{iface}: detached");
    }
    if args.ifaces.is_empty() {
        println!("removed all pins under {}", pins.root().display());
    }
    Ok(())
}
