use anyhow::Context as _;
use clap::ValueEnum;
use rsdr_common::maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS};
use rsdr_user::{
    attach::{self, AttachOptions, IngressChoice, Outcome, XdpModeChoice},
    loader::LoadOptions,
    pins::{Ingress, PinDir},
    privilege::{self, Need},
};

/// Load, pin and attach rsdr to interfaces (ingress filter + TC egress)
///
/// The programs and maps are loaded and pinned on first use. The ingress
/// filter is XDP by default; `--ingress tc` uses the TC ingress hook (TCX)
/// instead, for hosts where another program owns XDP or where XDP's
/// per-packet cost is unwanted (the decisions are the same). Attaching an
/// interface that is already attached does nothing. Filtering continues
/// after rsdr exits; `rsdr detach` stops it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr attach eth0
  rsdr attach eth0 eth1 --xdp-mode skb
  rsdr attach eth0 --ingress tc
  RSDR_PIN_DIR=/sys/fs/bpf/rsdr-test rsdr attach veth0 --max-vips 1024")]
pub struct Args {
    /// Interfaces to attach to
    #[arg(value_name = "IFACE", required = true)]
    ifaces: Vec<String>,

    /// Ingress hook: xdp, or tc (TCX)
    #[arg(long, value_enum, default_value_t = Hook::Xdp)]
    ingress: Hook,

    /// XDP mode: auto tries native (driver) mode and falls back to skb mode
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    xdp_mode: Mode,

    /// Number of exact VIPs (IPv4 and IPv6 together), used when the maps are first
    /// created; each preallocates 128 bytes of counters per CPU
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Hook {
    Xdp,
    Tc,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let mode = match args.xdp_mode {
        Mode::Auto => XdpModeChoice::Auto,
        Mode::Native => XdpModeChoice::Native,
        Mode::Skb => XdpModeChoice::Skb,
    };
    let ingress = match args.ingress {
        Hook::Xdp => IngressChoice::Xdp,
        Hook::Tc => IngressChoice::Tc,
    };
    let opts = AttachOptions {
        ingress,
        mode,
        load: LoadOptions {
            max_vips: args.max_vips,
            max_pools: args.max_pools,
        },
    };
    let outcomes = attach::attach(pins, &args.ifaces, opts).context("attach")?;
    for o in outcomes {
        let hooks = |h: Ingress| format!("{} ingress, tcx egress", h.as_str());
        match o.outcome {
            Outcome::Attached {
                ingress,
                fallback: None,
            } => println!("{}: attached ({})", o.iface, hooks(ingress)),
            Outcome::Attached {
                ingress,
                fallback: Some(why),
            } => {
                println!("{}: attached ({}): {why}", o.iface, hooks(ingress))
            }
            Outcome::AlreadyAttached { ingress } => {
                let note = if opts.wants(ingress) {
                    ""
                } else {
                    "; to change the ingress hook or XDP mode, detach it first"
                };
                println!("{}: already attached ({}){note}", o.iface, hooks(ingress))
            }
            Outcome::AlreadyAttachedAs { ingress, pinned_as } => println!(
                "{}: already attached ({}), pinned under its former name {pinned_as}",
                o.iface,
                hooks(ingress)
            ),
        }
    }
    Ok(())
}
