use anyhow::Context as _;
use clap::ValueEnum;
use rsdr_common::maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS};
use rsdr_user::{
    attach::{self, AttachOptions, Outcome, XdpModeChoice},
    loader::LoadOptions,
    pins::{PinDir, XdpPinMode},
    privilege::{self, Need},
};

/// Load, pin and attach rsdr to interfaces (XDP ingress + TC egress)
///
/// The programs and maps are loaded and pinned on first use. Attaching an
/// interface that is already attached does nothing. Filtering continues
/// after rsdr exits; `rsdr detach` stops it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr attach eth0
  rsdr attach eth0 eth1 --xdp-mode skb
  RSDR_PIN_DIR=/sys/fs/bpf/rsdr-test rsdr attach veth0 --max-vips 1024")]
pub struct Args {
    /// Interfaces to attach to
    #[arg(value_name = "IFACE", required = true)]
    ifaces: Vec<String>,

    /// XDP mode: auto tries native (driver) mode and falls back to skb mode
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    xdp_mode: Mode,

    /// Capacity of each exact VIP table (IPv4, IPv6), used when the maps are first created
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_VIPS)]
    max_vips: u32,

    /// Number of VIP pools (both families), used when the maps are first created
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_POOLS)]
    max_pools: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Auto,
    Native,
    Skb,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let mode = match args.xdp_mode {
        Mode::Auto => XdpModeChoice::Auto,
        Mode::Native => XdpModeChoice::Native,
        Mode::Skb => XdpModeChoice::Skb,
    };
    let opts = AttachOptions {
        mode,
        load: LoadOptions {
            max_vips: args.max_vips,
            max_pools: args.max_pools,
        },
    };
    let outcomes = attach::attach(pins, &args.ifaces, opts).context("attach")?;
    for o in outcomes {
        let hooks = |mode: XdpPinMode| format!("xdp {} ingress, tcx egress", mode.as_str());
        match o.outcome {
            Outcome::Attached {
                mode,
                fallback: None,
            } => println!("{}: attached ({})", o.iface, hooks(mode)),
            Outcome::Attached {
                mode,
                fallback: Some(why),
            } => {
                println!("{}: attached ({}): {why}", o.iface, hooks(mode))
            }
            Outcome::AlreadyAttached { mode } => {
                let note = match (args.xdp_mode, mode) {
                    (Mode::Native, XdpPinMode::Skb) | (Mode::Skb, XdpPinMode::Native) => {
                        "; to change the XDP mode, detach it first"
                    }
                    _ => "",
                };
                println!("{}: already attached ({}){note}", o.iface, hooks(mode))
            }
            Outcome::AlreadyAttachedAs { mode, pinned_as } => println!(
                "{}: already attached ({}), pinned under its former name {pinned_as}",
                o.iface,
                hooks(mode)
            ),
        }
    }
    Ok(())
}
