use anyhow::Context as _;
use rsdr_user::{
    pins::PinDir,
    privilege::{self, Need},
    vrrp::{self, State},
};

/// Tell rsdr a keepalived VRRP instance's new state (from a notify script)
///
/// VIPs that follow the instance (`vrrp_instance` in the configuration,
/// `vip add --vrrp-instance`) are answered and announced by this host while
/// the instance is MASTER here, and filtered in every other state. The
/// state is kept in the pin directory; a host that was never told filters.
/// Takes rsdr's arguments (INSTANCE STATE) or keepalived's notify script
/// arguments (INSTANCE "name" STATE PRIORITY, or GROUP ..., which changes
/// nothing). `rsdr run` with `vrrp_notify_fifo` reads keepalived's notify
/// FIFO instead, which keepalived keeps in order; docs/two-node.md.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr vrrp VI_1 master
  rsdr vrrp VI_1 backup
  # keepalived.conf, in vrrp_instance VI_1 (keepalived appends its arguments):
  #   notify \"/usr/sbin/rsdr vrrp\"")]
pub struct Args {
    /// INSTANCE STATE (master, backup, fault, stop; any case), or
    /// keepalived's TYPE NAME STATE [PRIORITY]
    #[arg(value_name = "ARGS", num_args = 2..=4, required = true)]
    args: Vec<String>,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    let a: Vec<&str> = args.args.iter().map(String::as_str).collect();
    let (name, state) = match a.as_slice() {
        ["GROUP", name, ..] => {
            println!("VRRP group {name}: nothing to do (rsdr follows instances)");
            return Ok(());
        }
        ["INSTANCE", name, state, ..] | [name, state] => (*name, *state),
        _ => anyhow::bail!(
            "expected INSTANCE STATE, or keepalived's INSTANCE NAME STATE [PRIORITY]; got {:?}",
            a.join(" ")
        ),
    };
    vrrp::validate_name(name)?;
    let state: State = state.parse()?;
    privilege::require(Need::Bpf)?;
    pins.require_loaded()?;
    let locked = pins.lock()?;
    let done = vrrp::switch(&locked, name, state).context("vrrp")?;
    println!("{done}");
    Ok(())
}
