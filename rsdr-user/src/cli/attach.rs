use anyhow::Context as _;
use rsdr_common::maps::{DEFAULT_MAX_POOLS, DEFAULT_MAX_VIPS};
use rsdr_user::{
    attach::{self, AttachOptions, Outcome},
    features,
    hook::{
        HookChoice, IngressAttachment, IngressHook, TC_ATTACH_ENV, TcAttach, Via, XdpAttach,
        XdpMode, tc_kind,
    },
    loader::LoadOptions,
    pins::PinDir,
    privilege::{self, Need},
    upgrade,
};

/// Load, pin and attach rsdr to interfaces (ingress filter + TC egress)
///
/// The programs and maps are loaded and pinned on first use. The ingress
/// filter is XDP by default; `--ingress tc` uses the TC ingress hook
/// instead, for hosts where another program owns XDP or where XDP's
/// per-packet cost is unwanted (the decisions are the same). TC programs
/// are attached as TCX links where the kernel has TCX (Linux 6.6+, and
/// distribution kernels with it backported), else as cls_bpf filters on a
/// clsact qdisc (`--tc-attach`). Attaching an interface that is already
/// attached does nothing. Filtering continues after rsdr exits; `rsdr
/// detach` stops it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rsdr attach eth0
  rsdr attach eth0 eth1 --xdp-mode skb
  rsdr attach eth0 --ingress tc
  rsdr attach eth0 --tc-attach netlink     # cls_bpf filters even where TCX exists
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

    /// How TC programs are attached: auto is a TCX link where the kernel has
    /// TCX, else a cls_bpf filter (netlink)
    #[arg(long, value_enum, env = TC_ATTACH_ENV, default_value_t = TcAttach::Auto)]
    tc_attach: TcAttach,

    /// How the XDP program is attached: auto is a BPF link, or netlink where
    /// the kernel refuses the link
    #[arg(long, value_enum, default_value_t = XdpAttach::Auto)]
    xdp_attach: XdpAttach,

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
    let choice = HookChoice {
        ingress: args.ingress,
        xdp_mode: args.xdp_mode,
        tc_attach: args.tc_attach,
        xdp_attach: args.xdp_attach,
    };
    let opts = AttachOptions {
        hooks: choice.resolve(features::probe().tcx),
        load: LoadOptions {
            max_vips: args.max_vips,
            max_pools: args.max_pools,
            ..Default::default()
        },
    };
    // Another build's datapath running here is swapped for this one's
    // first, in place (or refused, if it is newer).
    if pins.is_loaded() {
        pins.check_bpffs()?;
        if let Some(u) = upgrade::ensure_current(&pins.lock()?, opts.load)? {
            println!("{u}");
        }
    }
    let outcomes = attach::attach_interfaces(pins, &args.ifaces, opts).context("attach")?;
    let hooks = |i: IngressAttachment, e: Via| format!("{i} ingress, {} egress", tc_kind(e));
    for o in outcomes {
        let iface = o.iface;
        match o.outcome {
            Outcome::Attached {
                ingress,
                egress,
                fallback,
            } => {
                let why = fallback.map(|w| format!(": {w}")).unwrap_or_default();
                println!("{iface}: attached ({}){why}", hooks(ingress, egress))
            }
            Outcome::AlreadyAttached { ingress, egress } => {
                let wanted = opts.hooks.accepts_ingress(ingress) && opts.hooks.egress == egress;
                let note = if wanted {
                    ""
                } else {
                    "; to change its hooks, detach it first (or use rsdr apply)"
                };
                println!(
                    "{iface}: already attached ({}){note}",
                    hooks(ingress, egress)
                )
            }
            Outcome::AlreadyAttachedAs { ingress, pinned_as } => println!(
                "{iface}: already attached ({} ingress), pinned under its former name {pinned_as}",
                ingress
            ),
        }
    }
    Ok(())
}
