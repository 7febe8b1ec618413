//! The hooks that filter an interface: what an operator asks for
//! ([`HookChoice`]: `--ingress` and `--xdp-mode` on the command line,
//! `ingress` and `xdp_mode` in the file) and what is attached
//! ([`AttachedIngress`], as the interface's link pin records it).
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

choice_traits!(IngressHook, "ingress");
choice_traits!(XdpMode, "xdp_mode");

/// The hooks an interface is to be filtered with. TC egress is always
/// there; this says which ingress hook goes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct HookChoice {
    pub ingress: IngressHook,
    /// Meaningless with [`IngressHook::Tc`] (kept at its default there).
    pub xdp_mode: XdpMode,
}

impl HookChoice {
    pub const TC: HookChoice = HookChoice {
        ingress: IngressHook::Tc,
        xdp_mode: XdpMode::Auto,
    };

    /// Would an interface attached with `hook` satisfy this choice?
    pub fn accepts(&self, hook: AttachedIngress) -> bool {
        use AttachedIngress as A;
        match (self.ingress, self.xdp_mode) {
            (IngressHook::Tc, _) => hook == A::Tc,
            (IngressHook::Xdp, XdpMode::Auto) => matches!(hook, A::XdpNative | A::XdpSkb),
            (IngressHook::Xdp, XdpMode::Native) => hook == A::XdpNative,
            (IngressHook::Xdp, XdpMode::Skb) => hook == A::XdpSkb,
        }
    }
}

/// "xdp", "xdp native", "xdp skb" or "tc ingress".
impl fmt::Display for HookChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ingress, self.xdp_mode) {
            (IngressHook::Tc, _) => f.write_str("tc ingress"),
            (IngressHook::Xdp, XdpMode::Auto) => f.write_str("xdp"),
            (IngressHook::Xdp, mode) => write!(f, "xdp {mode}"),
        }
    }
}

/// The ingress hook an interface has, as the name of its link pin records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachedIngress {
    /// XDP in native (driver) mode.
    XdpNative,
    /// XDP in skb (generic) mode.
    XdpSkb,
    /// TC ingress through TCX.
    Tc,
}

impl AttachedIngress {
    pub const ALL: [AttachedIngress; 3] = [Self::XdpNative, Self::XdpSkb, Self::Tc];

    /// Hook kind: "xdp" or "tcx".
    pub const fn kind(self) -> &'static str {
        match self {
            Self::XdpNative | Self::XdpSkb => "xdp",
            Self::Tc => "tcx",
        }
    }

    /// The XDP mode, none for TC.
    pub const fn xdp_mode(self) -> Option<XdpMode> {
        match self {
            Self::XdpNative => Some(XdpMode::Native),
            Self::XdpSkb => Some(XdpMode::Skb),
            Self::Tc => None,
        }
    }

    /// The choice that asks for exactly this hook (to put it back).
    pub const fn choice(self) -> HookChoice {
        match self.xdp_mode() {
            Some(xdp_mode) => HookChoice {
                ingress: IngressHook::Xdp,
                xdp_mode,
            },
            None => HookChoice::TC,
        }
    }

    /// The file name of the link pin.
    pub const fn pin_name(self) -> &'static str {
        match self {
            Self::XdpNative => "xdp_native",
            Self::XdpSkb => "xdp_skb",
            Self::Tc => "tc_ingress",
        }
    }
}

/// "xdp native", "xdp skb" or "tcx".
impl fmt::Display for AttachedIngress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.xdp_mode() {
            Some(mode) => write!(f, "xdp {mode}"),
            None => f.write_str("tcx"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_same_everywhere() {
        assert_eq!(IngressHook::Tc.to_string(), "tc");
        assert_eq!(XdpMode::Skb.to_string(), "skb");
        assert_eq!(
            parse_choice::<XdpMode>("xdp_mode", "native"),
            Ok(XdpMode::Native)
        );
        assert_eq!(
            parse_choice::<IngressHook>("ingress", "xpd"),
            Err("ingress must be \"xdp\" or \"tc\", not \"xpd\"".to_string())
        );
        assert_eq!(
            parse_choice::<XdpMode>("xdp_mode", "x"),
            Err("xdp_mode must be \"auto\", \"native\" or \"skb\", not \"x\"".to_string())
        );
        assert_eq!(serde_json::to_string(&XdpMode::Auto).unwrap(), "\"auto\"");
    }

    #[test]
    fn a_choice_accepts_the_hooks_it_would_attach() {
        use AttachedIngress as A;
        let auto = HookChoice::default();
        assert!(auto.accepts(A::XdpNative) && auto.accepts(A::XdpSkb) && !auto.accepts(A::Tc));
        assert!(HookChoice::TC.accepts(A::Tc) && !HookChoice::TC.accepts(A::XdpSkb));
        for hook in A::ALL {
            assert!(hook.choice().accepts(hook), "{hook}");
        }
        assert_eq!(A::XdpNative.to_string(), "xdp native");
        assert_eq!(A::Tc.choice().to_string(), "tc ingress");
        assert_eq!(auto.to_string(), "xdp");
    }
}
