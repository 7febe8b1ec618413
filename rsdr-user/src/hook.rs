//! The hooks that filter an interface: what an operator asks for
//! ([`HookChoice`]: `--ingress`, `--xdp-mode`, `--tc-attach` and
//! `--xdp-attach` on the command line, the same keys in the file), what
//! that means on the running kernel ([`WantedHooks`]), and what is
//! attached ([`IngressAttachment`] and the egress [`Via`], as the
//! interface's pins record them).
//!
//! Each choice is one enum that is at once the clap value, the value in
//! the configuration file and what is printed: their names are written
//! once, in the `#[value(name)]` of each variant.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// `--ingress` / `ingress =`: the hook that filters inbound frames: XDP,
/// in the mode [`XdpMode`] says, or TC ingress, with the same decisions,
/// for hosts where another program owns XDP or where XDP's per-packet cost
/// is unwanted. (Plain comments on the variants: clap would print doc
/// comments as help.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, ValueEnum)]
pub enum IngressHook {
    #[default]
    Xdp,
    Tc,
}

/// `--xdp-mode` / `xdp_mode =`: `auto` is native (driver) mode, falling
/// back to skb (generic) mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, ValueEnum)]
pub enum XdpMode {
    #[default]
    Auto,
    Native,
    Skb,
}

/// The name a value has on the command line and in the file.
fn name_of<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Parse a choice by its name; the error names the key and every choice:
/// `ingress must be "xdp" or "tc", not "xpd"`.
pub fn parse_choice<T: ValueEnum>(key: &str, input: &str) -> Result<T, String> {
    T::from_str(input, false).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .map(|v| format!("{:?}", name_of(v)))
            .collect();
        let (last, rest) = names.split_last().expect("an enum with variants");
        let choices = if rest.is_empty() {
            last.clone()
        } else {
            format!("{} or {last}", rest.join(", "))
        };
        format!("{key} must be {choices}, not {input:?}")
    })
}

macro_rules! choice_traits {
    ($ty:ty, $key:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&name_of(self))
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&name_of(self))
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                parse_choice($key, &s).map_err(de::Error::custom)
            }
        }
    };
}

/// `--tc-attach` / `tc_attach =`: how TC programs are attached: `auto`
/// is a TCX link where the kernel has TCX, else a cls_bpf filter over
/// netlink; `tcx` and `netlink` ask for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, ValueEnum)]
pub enum TcAttach {
    #[default]
    Auto,
    Tcx,
    Netlink,
}

/// `--xdp-attach` / `xdp_attach =`: how the XDP program is attached:
/// `auto` is a BPF link, or netlink where the kernel refuses the link;
/// `link` and `netlink` ask for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, ValueEnum)]
pub enum XdpAttach {
    #[default]
    Auto,
    Link,
    Netlink,
}

/// The environment variable that sets `--tc-attach` (and `tc_attach`
/// where a configuration file leaves it out).
pub const TC_ATTACH_ENV: &str = "RSDR_TC_ATTACH";

impl TcAttach {
    /// The default from [`TC_ATTACH_ENV`], `auto` if it is unset.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(TC_ATTACH_ENV) {
            Ok(v) => parse_choice(TC_ATTACH_ENV, &v),
            Err(_) => Ok(TcAttach::Auto),
        }
    }
}

choice_traits!(IngressHook, "ingress");
choice_traits!(XdpMode, "xdp_mode");
choice_traits!(TcAttach, "tc_attach");
choice_traits!(XdpAttach, "xdp_attach");

/// How a program is attached to a hook: a BPF link pinned in the pin
/// directory (TCX for TC), or over netlink (a cls_bpf filter for TC,
/// `IFLA_XDP` for XDP), with the program pinned beside the interface's
/// links to mark it as rsdr's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Link,
    Netlink,
}

/// The hooks an interface is to be filtered with. TC egress is always
/// there; this says which ingress hook goes with it, and how each is
/// attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct HookChoice {
    pub ingress: IngressHook,
    /// Meaningless with [`IngressHook::Tc`] (kept at its default there).
    pub xdp_mode: XdpMode,
    pub tc_attach: TcAttach,
    /// Meaningless with [`IngressHook::Tc`].
    pub xdp_attach: XdpAttach,
}

impl HookChoice {
    /// TC ingress, attached as `tc_attach` says.
    pub fn tc(tc_attach: TcAttach) -> Self {
        HookChoice {
            ingress: IngressHook::Tc,
            tc_attach,
            ..HookChoice::default()
        }
    }

    /// What this choice means on a kernel with (`tcx`) or without TCX.
    pub fn resolve(&self, tcx: bool) -> WantedHooks {
        let tc = match (self.tc_attach, tcx) {
            (TcAttach::Tcx, _) | (TcAttach::Auto, true) => Via::Link,
            (TcAttach::Netlink, _) | (TcAttach::Auto, false) => Via::Netlink,
        };
        let ingress = match self.ingress {
            IngressHook::Tc => WantedIngress::Tc(tc),
            IngressHook::Xdp => WantedIngress::Xdp {
                mode: self.xdp_mode,
                attach: self.xdp_attach,
            },
        };
        WantedHooks {
            ingress,
            egress: tc,
        }
    }
}

/// A [`HookChoice`] on the running kernel: `tc_attach = "auto"` settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WantedHooks {
    pub ingress: WantedIngress,
    /// How TC egress (and TC ingress) programs are attached.
    pub egress: Via,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WantedIngress {
    Xdp { mode: XdpMode, attach: XdpAttach },
    Tc(Via),
}

impl WantedHooks {
    /// How a TC ingress hook is attached (as a bridge, if XDP is wanted).
    pub fn tc_via(&self) -> Via {
        self.egress
    }

    /// Does an ingress hook attached as `a` satisfy this?
    pub fn accepts_ingress(&self, a: IngressAttachment) -> bool {
        use AttachedIngress as A;
        match self.ingress {
            WantedIngress::Tc(via) => a.hook == A::Tc && a.via == via,
            WantedIngress::Xdp { mode, attach } => {
                let mode_ok = match mode {
                    XdpMode::Auto => matches!(a.hook, A::XdpNative | A::XdpSkb),
                    XdpMode::Native => a.hook == A::XdpNative,
                    XdpMode::Skb => a.hook == A::XdpSkb,
                };
                let via_ok = match attach {
                    XdpAttach::Auto => true,
                    XdpAttach::Link => a.via == Via::Link,
                    XdpAttach::Netlink => a.via == Via::Netlink,
                };
                mode_ok && via_ok
            }
        }
    }
}

/// The ingress part of a plan line: "xdp", "xdp native", "xdp skb (netlink)",
/// "tcx ingress" or "tc ingress".
impl fmt::Display for WantedIngress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WantedIngress::Tc(via) => write!(f, "{} ingress", tc_kind(via)),
            WantedIngress::Xdp { mode, attach } => {
                f.write_str("xdp")?;
                if mode != XdpMode::Auto {
                    write!(f, " {mode}")?;
                }
                if attach != XdpAttach::Auto {
                    write!(f, " ({attach})")?;
                }
                Ok(())
            }
        }
    }
}

/// A TC hook's kind by how it is attached: "tcx" (a link) or "tc" (a
/// cls_bpf filter).
pub const fn tc_kind(via: Via) -> &'static str {
    match via {
        Via::Link => "tcx",
        Via::Netlink => "tc",
    }
}

/// The ingress hook an interface has, as the name of its pin records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachedIngress {
    /// XDP in native (driver) mode.
    XdpNative,
    /// XDP in skb (generic) mode.
    XdpSkb,
    /// TC ingress.
    Tc,
}

impl AttachedIngress {
    pub const ALL: [AttachedIngress; 3] = [Self::XdpNative, Self::XdpSkb, Self::Tc];

    /// The XDP mode, none for TC.
    pub const fn xdp_mode(self) -> Option<XdpMode> {
        match self {
            Self::XdpNative => Some(XdpMode::Native),
            Self::XdpSkb => Some(XdpMode::Skb),
            Self::Tc => None,
        }
    }

    /// The name of its pin (the link, or the program for netlink).
    const fn pin_stem(self) -> &'static str {
        match self {
            Self::XdpNative => "xdp_native",
            Self::XdpSkb => "xdp_skb",
            Self::Tc => "tc_ingress",
        }
    }
}

/// The file name of a hook's pin: `stem` for a link, `stem_netlink` for
/// the program pinned beside a netlink attachment.
pub fn pin_name(stem: &str, via: Via) -> String {
    match via {
        Via::Link => stem.to_string(),
        Via::Netlink => format!("{stem}_netlink"),
    }
}

/// The pin stem of the TC egress hook.
pub const EGRESS_PIN_STEM: &str = "tc_egress";

/// An interface's ingress hook as attached: where, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IngressAttachment {
    pub hook: AttachedIngress,
    pub via: Via,
}

impl IngressAttachment {
    pub const ALL: [IngressAttachment; 6] = {
        const fn at(i: usize, via: Via) -> IngressAttachment {
            IngressAttachment {
                hook: AttachedIngress::ALL[i],
                via,
            }
        }
        [
            at(0, Via::Link),
            at(1, Via::Link),
            at(2, Via::Link),
            at(0, Via::Netlink),
            at(1, Via::Netlink),
            at(2, Via::Netlink),
        ]
    };

    /// Hook kind: "xdp", "tcx" (a TCX link) or "tc" (a cls_bpf filter).
    pub const fn kind(self) -> &'static str {
        match self.hook {
            AttachedIngress::XdpNative | AttachedIngress::XdpSkb => "xdp",
            AttachedIngress::Tc => tc_kind(self.via),
        }
    }

    pub fn pin_name(self) -> String {
        pin_name(self.hook.pin_stem(), self.via)
    }

    /// What asks for exactly this attachment (to put it back).
    pub fn wanted(self) -> WantedIngress {
        match self.hook.xdp_mode() {
            Some(mode) => WantedIngress::Xdp {
                mode,
                attach: match self.via {
                    Via::Link => XdpAttach::Link,
                    Via::Netlink => XdpAttach::Netlink,
                },
            },
            None => WantedIngress::Tc(self.via),
        }
    }
}

/// "xdp native", "xdp skb (netlink)", "tcx" or "tc".
impl fmt::Display for IngressAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.hook.xdp_mode(), self.via) {
            (Some(mode), Via::Link) => write!(f, "xdp {mode}"),
            (Some(mode), Via::Netlink) => write!(f, "xdp {mode} (netlink)"),
            (None, via) => f.write_str(tc_kind(via)),
        }
    }
}

#[cfg(test)]
#[path = "hook_tests.rs"]
mod tests;
