use anyhow::Context as _;
use rsdr_common::maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS};
use rsdr_user::{
    attach::{self, AttachOptions, Outcome},
    hook::{AttachedIngress, HookChoice, IngressHook, XdpMode},
    loader::LoadOptions,
    pins::PinDir,
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
    #[arg(long, value_enum, default_value_t = IngressHook::Xdp)]
    ingress: IngressHook,

    /// XDP mode: auto tries native (driver) mode and falls back to skb mode
    #[arg(long, value_enum, default_value_t = XdpMode::Auto)]
    xdp_mode: XdpMode,

    /// Number of exact VIPs (IPv4 and IPv6 together), used when the maps are first
    /// created; each preallocates 128 bytes of counters per CPU
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_VIPS)]
    max_vips: u32,

    /// Number of VIP pools (both families), used when the maps are first created
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_POOLS)]
    max_pools: u32,
}

pub fn run(pins: &PinDir, args: Args) -> anyhow::Result<()> {
    privilege::require(Need::BpfAndNetAdmin)?;
    let opts = AttachOptions {
        hooks: HookChoice {
            ingress: args.ingress,
            xdp_mode: args.xdp_mode,
        },
        load: LoadOptions {
            max_vips: args.max_vips,
            max_pools: args.max_pools,
        },
    };
    let outcomes = attach::attach_interfaces(pins, &args.ifaces, opts).context("attach")?;
    let hooks = |h: AttachedIngress| format!("{h} ingress, tcx egress");
    for o in outcomes {
        let iface = o.iface;
        match o.outcome {
            Outcome::Attached {
                ingress,
                fallback: None,
            } => println!("{iface}: attached ({})", hooks(ingress)),
            Outcome::Attached {
                ingress,
                fallback: Some(why),
            } => println!("{iface}: attached ({}): {why}", hooks(ingress)),
            Outcome::AlreadyAttached { ingress } => {
                let note = if opts.hooks.accepts(ingress) {
                    ""
                } else {
                    "; to change the ingress hook or XDP mode, detach it first"
                };
                println!("{iface}: already attached ({}){note}", hooks(ingress))
            }
            Outcome::AlreadyAttachedAs { ingress, pinned_as } => println!(
                "{iface}: already attached ({}), pinned under its former name {pinned_as}",
                hooks(ingress)
            ),
        }
    }
    Ok(())
}
