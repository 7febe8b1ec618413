//! The configuration file (TOML, default /etc/rsdr/rsdr.toml): everything
//! rsdr needs on a real server, applied with `rsdr apply` or kept applied by
//! `rsdr run`. docs/config.md documents it; packaging/rsdr.toml is a
//! commented example.
//!
//! Loading checks everything that can be checked without changing anything:
//! syntax and unknown keys, addresses and prefixes, duplicates, overlapping
//! pools, VIPs equal to (or covering) real IPs, unknown interfaces and
//! devices. Each problem is one line naming the file, the place and what is
//! wrong.

use std::{
    collections::HashSet,
    net::IpAddr,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use thiserror::Error;

use crate::{
    addr::{self, AddrError, VipSpec},
    attach::{IngressChoice, XdpModeChoice},
    iface,
    loader::LoadOptions,
    vips::{self, VipError},
};

pub const DEFAULT_PATH: &str = "/etc/rsdr/rsdr.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{path}: {what}: {source}")]
    Address {
        path: PathBuf,
        what: String,
        source: AddrError,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Vips { path: PathBuf, source: VipError },
}

impl ConfigError {
    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        let message = message.into();
        ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    settings: Settings,
    #[serde(default, rename = "interface")]
    interfaces: Vec<IfaceEntry>,
    #[serde(default, rename = "vip")]
    vips: Vec<VipEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
struct Settings {
    pin_dir: Option<PathBuf>,
    #[serde(default)]
    monitor: bool,
    max_vips: Option<u32>,
    max_pools: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IfaceEntry {
    name: String,
    #[serde(default)]
    ingress: Option<String>,
    #[serde(default)]
    xdp_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VipEntry {
    address: String,
    real: String,
    #[serde(default)]
    monitor: bool,
    #[serde(default)]
    show_conflicts: bool,
    manage_address: Option<String>,
}

/// One interface to filter on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceSpec {
    pub name: String,
    pub ingress: IngressChoice,
    pub mode: XdpModeChoice,
}

/// One VIP or pool as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    pub vip: VipSpec,
    pub real: IpAddr,
    /// `VIP_F_*` bits.
    pub flags: u32,
    /// Device that should hold the VIP, which rsdr then adds and removes.
    pub manage_address: Option<String>,
}

/// A checked configuration: the state rsdr is to bring about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub pin_dir: Option<PathBuf>,
    pub monitor: bool,
    pub load: LoadOptions,
    pub interfaces: Vec<IfaceSpec>,
    pub vips: Vec<VipConfig>,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

impl Config {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Check a configuration given as text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                col,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        let defaults = LoadOptions::default();
        let load = LoadOptions {
            max_vips: file.settings.max_vips.unwrap_or(defaults.max_vips),
            max_pools: file.settings.max_pools.unwrap_or(defaults.max_pools),
        };
        load.validate().map_err(|e| {
            ConfigError::invalid(
                path,
                format!("settings: {e}")
                    .replace("--max-", "max_")
                    .replace("-", "_"),
            )
        })?;

        let mut names = HashSet::new();
        let mut interfaces = Vec::new();
        for i in file.interfaces {
            iface::validate_name(&i.name)
                .map_err(|e| ConfigError::invalid(path, format!("interface: {e}")))?;
            if !names.insert(i.name.clone()) {
                return Err(ConfigError::invalid(
                    path,
                    format!("interface {} is listed twice", i.name),
                ));
            }
            if iface::index(&i.name).is_err() {
                return Err(ConfigError::invalid(
                    path,
                    format!("interface {}: no such interface", i.name),
                ));
            }
            let ingress = match i.ingress.as_deref() {
                None | Some("xdp") => IngressChoice::Xdp,
                Some("tc") => IngressChoice::Tc,
                Some(o) => {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "interface {}: ingress must be \"xdp\" or \"tc\", not {o:?}",
                            i.name
                        ),
                    ));
                }
            };
            let mode = match i.xdp_mode.as_deref() {
                None | Some("auto") => XdpModeChoice::Auto,
                Some("native") => XdpModeChoice::Native,
                Some("skb") => XdpModeChoice::Skb,
                Some(o) => {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "interface {}: xdp_mode must be \"auto\", \"native\" or \"skb\", not {o:?}",
                            i.name
                        ),
                    ));
                }
            };
            if ingress == IngressChoice::Tc && i.xdp_mode.is_some() {
                return Err(ConfigError::invalid(
                    path,
                    format!(
                        "interface {}: xdp_mode has no meaning with ingress = \"tc\"",
                        i.name
                    ),
                ));
            }
            interfaces.push(IfaceSpec {
                name: i.name,
                ingress,
                mode,
            });
        }

        let mut vips = Vec::new();
        for v in file.vips {
            let what = format!("vip {:?}", v.address);
            let spec = addr::parse_vip(&v.address).map_err(|source| ConfigError::Address {
                path: path.to_path_buf(),
                what: what.clone(),
                source,
            })?;
            let real = addr::parse_real(&v.real, &spec).map_err(|source| ConfigError::Address {
                path: path.to_path_buf(),
                what: what.clone(),
                source,
            })?;
            let mut flags = 0;
            if v.monitor {
                flags |= rsdr_common::maps::VIP_F_MONITOR;
            }
            if v.show_conflicts {
                flags |= rsdr_common::maps::VIP_F_SHOW_CONFLICTS;
            }
            if let Some(dev) = &v.manage_address {
                if let VipSpec::Pool(..) = spec {
                    return Err(ConfigError::invalid(
                        path,
                        format!("vip {spec}: manage_address applies to single VIPs, not to pools"),
                    ));
                }
                iface::validate_name(dev).map_err(|e| {
                    ConfigError::invalid(path, format!("vip {spec}: manage_address: {e}"))
                })?;
                if iface::index(dev).is_err() {
                    return Err(ConfigError::invalid(
                        path,
                        format!("vip {spec}: manage_address: no such device {dev}"),
                    ));
                }
            }
            vips.push(VipConfig {
                vip: spec,
                real,
                flags,
                manage_address: v.manage_address,
            });
        }
        let pairs: Vec<(VipSpec, IpAddr)> = vips.iter().map(|v| (v.vip, v.real)).collect();
        vips::check(&[], &pairs).map_err(|source| ConfigError::Vips {
            path: path.to_path_buf(),
            source,
        })?;
        if !vips.is_empty() && interfaces.is_empty() {
            return Err(ConfigError::invalid(
                path,
                "VIPs are configured but no [[interface]] to filter them on",
            ));
        }
        let exact = vips
            .iter()
            .filter(|v| matches!(v.vip, VipSpec::Addr(_)))
            .count();
        if exact > load.max_vips as usize {
            return Err(ConfigError::invalid(
                path,
                format!("{exact} VIPs do not fit max_vips = {}", load.max_vips),
            ));
        }
        Ok(Config {
            path: path.to_path_buf(),
            pin_dir: file.settings.pin_dir,
            monitor: file.settings.monitor,
            load,
            interfaces,
            vips,
        })
    }
}
