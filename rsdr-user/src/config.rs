//! The configuration file (TOML, default /etc/rsdr/rsdr.toml): everything
//! rsdr needs on a real server, applied with `rsdr apply` or kept applied by
//! `rsdr run`. docs/config.md documents it; packaging/rsdr.toml is a
//! commented example.
//!
//! Loading checks everything that can be checked without changing anything:
//! syntax and unknown keys, addresses and prefixes, duplicates, overlapping
//! pools, VIPs equal to (or covering) real IPs, real IPs that are not this
//! host's, unknown interfaces and devices. Each problem is one line naming the file, the place and what is
//! wrong.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use thiserror::Error;

use crate::{
    entry::{VipEntry, VipFlag, VipFlags},
    hook::{HookChoice, IngressHook, TcAttach, XdpAttach, XdpMode},
    iface, input,
    loader::LoadOptions,
    local_addr,
    tables::{VipError, rules},
    vip::{AddressError, Vip},
};

pub const DEFAULT_PATH: &str = "/etc/rsdr/rsdr.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] input::InputError),
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
        source: AddressError,
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

/// The file as written; [`Config::parse`] checks it into a [`Config`].
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    settings: FileSettings,
    #[serde(default, rename = "interface")]
    interfaces: Vec<FileInterface>,
    #[serde(default, rename = "vip")]
    vips: Vec<FileVip>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    pin_dir: Option<PathBuf>,
    #[serde(default)]
    monitor: bool,
    max_vips: Option<u32>,
    max_pools: Option<u32>,
    vrrp_notify_fifo: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInterface {
    name: String,
    #[serde(default)]
    ingress: IngressHook,
    xdp_mode: Option<XdpMode>,
    tc_attach: Option<TcAttach>,
    xdp_attach: Option<XdpAttach>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVip {
    address: String,
    real: String,
    #[serde(default)]
    monitor: bool,
    #[serde(default)]
    show_conflicts: bool,
    manage_address: Option<String>,
    #[serde(default)]
    allow_foreign_real: bool,
    vrrp_instance: Option<String>,
}

/// Whether a configuration's interfaces and `manage_address` devices must
/// exist when it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Devices {
    /// `apply` and `check`: a missing device is an error (a typo, most
    /// likely).
    MustExist,
    /// `rsdr run`: at boot, or while a bond or VLAN is rebuilt, devices come
    /// later; the service attaches each interface when it appears and
    /// holds back managed addresses until every interface is filtered.
    MayBeAbsent,
}

/// One interface to filter on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub name: String,
    pub hooks: HookChoice,
}

/// One `[[vip]]`: the entry for the tables, and where rsdr keeps its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    pub entry: VipEntry,
    /// Device that should hold the VIP, which rsdr then adds and removes.
    pub manage_address: Option<String>,
    /// The keepalived VRRP instance the VIP follows (docs/two-node.md).
    pub vrrp_instance: Option<String>,
}

/// A checked configuration: the state rsdr is to bring about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub pin_dir: Option<PathBuf>,
    pub monitor: bool,
    pub load: LoadOptions,
    pub interfaces: Vec<InterfaceConfig>,
    pub vips: Vec<VipConfig>,
    /// keepalived's notify FIFO, read by `rsdr run`.
    pub vrrp_notify_fifo: Option<PathBuf>,
    /// What the file allows but an operator should hear about (a real IP
    /// that is not this host's, allowed by `allow_foreign_real`), one line
    /// each.
    pub warnings: Vec<String>,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

impl Config {
    /// The entries of every `[[vip]]`, as the tables hold them while the
    /// VRRP instances in `masters` are MASTER here.
    pub fn entries<'a>(
        &'a self,
        masters: &'a HashSet<String>,
    ) -> impl Iterator<Item = VipEntry> + 'a {
        self.vips.iter().map(move |v| {
            let follows = v.vrrp_instance.is_some();
            let master = v
                .vrrp_instance
                .as_ref()
                .is_some_and(|i| masters.contains(i));
            crate::vrrp::with_vrrp(v.entry, follows, master)
        })
    }

    /// The addresses rsdr is to manage while the VRRP instances in
    /// `masters` are MASTER here: (address, device). The address of a VIP
    /// whose instance is MASTER is keepalived's to hold (on its NIC): rsdr
    /// withdraws its own, so that when keepalived removes the VIP, nothing
    /// on this host answers for it before rsdr filters it again.
    pub fn managed_addresses(&self, masters: &HashSet<String>) -> Vec<(std::net::IpAddr, String)> {
        self.vips
            .iter()
            .filter(|v| {
                !v.vrrp_instance
                    .as_ref()
                    .is_some_and(|i| masters.contains(i))
            })
            .filter_map(|v| match (v.entry.vip, &v.manage_address) {
                (Vip::Addr(a), Some(dev)) => Some((a, dev.clone())),
                _ => None,
            })
            .collect()
    }

    /// Which VRRP instance each following VIP follows.
    pub fn vrrp_members(&self) -> std::collections::BTreeMap<Vip, String> {
        self.vips
            .iter()
            .filter_map(|v| Some((v.entry.vip, v.vrrp_instance.clone()?)))
            .collect()
    }

    /// Read and check `path`; its interfaces and devices must exist.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, Devices::MustExist)
    }

    /// Read and check `path`, with `devices` saying whether its interfaces
    /// and devices must exist now.
    pub fn load_with(path: &Path, devices: Devices) -> Result<Self, ConfigError> {
        Self::parse_with(path, &input::read_file(path)?, devices)
    }

    /// Check a configuration given as text (`path` names it in errors);
    /// its interfaces and devices must exist.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::parse_with(path, text, Devices::MustExist)
    }

    /// [`Config::parse`], with `devices` saying whether the interfaces and
    /// devices must exist now.
    pub fn parse_with(path: &Path, text: &str, devices: Devices) -> Result<Self, ConfigError> {
        let must_exist = devices == Devices::MustExist;
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let mut message = e.message().trim().replace('\n', " ");
            // The line itself, escaped and cut short: the error names the
            // key it is about.
            let near: String = text
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .chars()
                .take(60)
                .flat_map(char::escape_debug)
                .collect();
            if !near.is_empty() {
                message = format!("{message} in `{near}`");
            }
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                col,
                message,
            }
        })?;
        let defaults = LoadOptions::default();
        let load = LoadOptions {
            max_vips: file.settings.max_vips.unwrap_or(defaults.max_vips),
            max_pools: file.settings.max_pools.unwrap_or(defaults.max_pools),
            ..Default::default()
        };
        load.validate().map_err(|e| {
            ConfigError::invalid(
                path,
                format!("settings: {e}")
                    .replace("--max-", "max_")
                    .replace("-", "_"),
            )
        })?;

        if let Some(fifo) = &file.settings.vrrp_notify_fifo
            && !fifo.is_absolute()
        {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "settings: vrrp_notify_fifo {:?} is not an absolute path",
                    fifo.display()
                ),
            ));
        }
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
            let present = iface::index(&i.name).is_ok();
            if !present && must_exist {
                return Err(ConfigError::invalid(
                    path,
                    format!("interface {}: no such interface", i.name),
                ));
            }
            if present
                && let Err(e @ iface::IfaceError::NotEthernet { .. }) =
                    iface::require_ethernet(&i.name)
            {
                return Err(ConfigError::invalid(path, format!("interface {e}")));
            }
            for (key, set) in [
                ("xdp_mode", i.xdp_mode.is_some()),
                ("xdp_attach", i.xdp_attach.is_some()),
            ] {
                if i.ingress == IngressHook::Tc && set {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "interface {}: {key} has no meaning with ingress = \"tc\"",
                            i.name
                        ),
                    ));
                }
            }
            let tc_attach = match i.tc_attach {
                Some(t) => t,
                None => TcAttach::from_env().map_err(|e| ConfigError::invalid(path, e))?,
            };
            interfaces.push(InterfaceConfig {
                name: i.name,
                hooks: HookChoice {
                    ingress: i.ingress,
                    xdp_mode: i.xdp_mode.unwrap_or_default(),
                    tc_attach,
                    xdp_attach: i.xdp_attach.unwrap_or_default(),
                },
            });
        }

        // Refuse a file far beyond what the maps hold before checking each
        // of its entries (every entry is a VIP or a pool).
        let room = u64::from(load.max_vips) + u64::from(load.max_pools);
        if file.vips.len() as u64 > room {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "{} [[vip]] entries do not fit max_vips = {} and max_pools = {}",
                    file.vips.len(),
                    load.max_vips,
                    load.max_pools
                ),
            ));
        }
        let mut vips = Vec::new();
        let mut foreign_allowed = Vec::new();
        for v in file.vips {
            let flags = VipFlags::NONE
                .with(VipFlag::Monitor, v.monitor)
                .with(VipFlag::ShowConflicts, v.show_conflicts);
            let entry = VipEntry::parse(&v.address, &v.real, flags).map_err(|source| {
                ConfigError::Address {
                    path: path.to_path_buf(),
                    what: format!("vip {:?}", v.address),
                    source,
                }
            })?;
            let spec = entry.vip;
            if let Some(dev) = &v.manage_address {
                if let Vip::Pool(..) = spec {
                    return Err(ConfigError::invalid(
                        path,
                        format!("vip {spec}: manage_address applies to single VIPs, not to pools"),
                    ));
                }
                iface::validate_name(dev).map_err(|e| {
                    ConfigError::invalid(path, format!("vip {spec}: manage_address: {e}"))
                })?;
                if must_exist && iface::index(dev).is_err() {
                    return Err(ConfigError::invalid(
                        path,
                        format!("vip {spec}: manage_address: no such device {dev}"),
                    ));
                }
            }
            if let Some(name) = &v.vrrp_instance {
                crate::vrrp::validate_name(name).map_err(|e| {
                    ConfigError::invalid(path, format!("vip {spec}: vrrp_instance: {e}"))
                })?;
                // keepalived adds the VIP to its interface as master: a copy
                // rsdr held there would make that add fail, and rsdr's
                // withdrawal would then leave the master without the VIP.
                if let Some(dev) = &v.manage_address
                    && interfaces.iter().any(|i: &InterfaceConfig| &i.name == dev)
                {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "vip {spec}: with vrrp_instance, manage_address must not be a filtered interface ({dev}): keepalived holds the VIP there as master; use lo or a dummy device"
                        ),
                    ));
                }
            }
            foreign_allowed.push(v.allow_foreign_real);
            vips.push(VipConfig {
                entry,
                manage_address: v.manage_address,
                vrrp_instance: v.vrrp_instance,
            });
        }
        let entries: Vec<VipEntry> = vips.iter().map(|v| v.entry).collect();
        rules::check(&[], &entries).map_err(|source| ConfigError::Vips {
            path: path.to_path_buf(),
            source,
        })?;
        // While devices may be missing (the service at boot), so may the
        // addresses on them: a foreign real IP is then only a warning.
        let warnings = local_addr::check_reals(
            entries.iter().zip(
                foreign_allowed
                    .iter()
                    .map(|allowed| *allowed || !must_exist),
            ),
            "allow_foreign_real = true",
        )
        .map_err(|e| ConfigError::invalid(path, e.to_string()))?;
        if !vips.is_empty() && interfaces.is_empty() {
            return Err(ConfigError::invalid(
                path,
                "VIPs are configured but no [[interface]] to filter them on",
            ));
        }
        let exact = entries
            .iter()
            .filter(|e| matches!(e.vip, Vip::Addr(_)))
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
            vrrp_notify_fifo: file.settings.vrrp_notify_fifo,
            warnings,
        })
    }
}
