//! One step of a plan, printed as a line (or lines) of the diff.

use std::{collections::HashMap, fmt, net::IpAddr};

use crate::{
    entry::VipEntry,
    hook::{IngressAttachment, Via, WantedHooks, tc_kind},
};

/// An interface's hooks as pinned: ingress and TC egress.
pub type AttachedHooks = (IngressAttachment, Via);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Attach {
        name: String,
        hooks: WantedHooks,
    },
    /// Move an attached interface to other hooks, or attach them otherwise.
    ChangeHooks {
        name: String,
        hooks: WantedHooks,
        from: AttachedHooks,
    },
    /// Add or update these VIPs; `previous` holds the old state of those updated.
    PutVips {
        entries: Vec<VipEntry>,
        previous: Vec<VipEntry>,
    },
    Monitor {
        on: bool,
    },
    AddAddr {
        addr: IpAddr,
        dev: String,
    },
    DelAddr {
        addr: IpAddr,
        dev: String,
    },
    RemoveVips {
        entries: Vec<VipEntry>,
    },
    Detach {
        name: String,
        /// The hooks it had, to attach them again on rollback.
        hooks: Option<AttachedHooks>,
    },
}

impl Step {
    /// One line for an error message: the diff itself for a single change,
    /// a count for a batch (a 10,000-VIP step must not become the error).
    pub fn summary(&self) -> String {
        match self {
            Step::PutVips { entries, previous } if entries.len() > 3 => format!(
                "put {} VIP(s): {} new, {} changed",
                entries.len(),
                entries.len().saturating_sub(previous.len()),
                previous.len()
            ),
            Step::RemoveVips { entries } if entries.len() > 3 => {
                format!("remove {} VIP(s)", entries.len())
            }
            _ => self.to_string().replace('\n', "; "),
        }
    }
}

/// The diff line of one VIP written by a `PutVips` step.
fn put_line(e: &VipEntry, old: Option<&VipEntry>) -> String {
    let v = e.vip;
    match old {
        Some(o) if o.real != e.real => {
            format!(
                "~ vip {v}: real {} -> {}{}",
                o.real,
                e.real,
                e.flags_suffix()
            )
        }
        Some(o) => format!(
            "~ vip {v}: flags{} -> {}",
            o.flags_suffix(),
            e.flags_suffix().trim_start()
        ),
        None => format!("+ vip {v} -> {}{}", e.real, e.flags_suffix()),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Attach { name, hooks } => write!(
                f,
                "+ attach {name} ({}, {} egress)",
                hooks.ingress,
                tc_kind(hooks.egress)
            ),
            Step::ChangeHooks {
                name,
                hooks,
                from: (ingress, egress),
            } => {
                let mut lines = Vec::new();
                if !hooks.accepts_ingress(*ingress) {
                    lines.push(format!("~ {name}: ingress {ingress} -> {}", hooks.ingress));
                }
                if *egress != hooks.egress {
                    lines.push(format!(
                        "~ {name}: egress {} -> {}",
                        tc_kind(*egress),
                        tc_kind(hooks.egress)
                    ));
                }
                f.write_str(&lines.join("\n"))
            }
            Step::PutVips { entries, previous } => {
                let old: HashMap<_, &VipEntry> = previous.iter().map(|e| (e.vip, e)).collect();
                let lines: Vec<String> = entries
                    .iter()
                    .map(|e| put_line(e, old.get(&e.vip).copied()))
                    .collect();
                f.write_str(&lines.join("\n"))
            }
            Step::Monitor { on } => write!(
                f,
                "~ monitor {}",
                if *on { "off -> on" } else { "on -> off" }
            ),
            Step::AddAddr { addr, dev } => write!(f, "+ address {addr} on {dev}"),
            Step::DelAddr { addr, dev } => write!(f, "- address {addr} on {dev}"),
            Step::RemoveVips { entries } => {
                let lines: Vec<String> = entries
                    .iter()
                    .map(|e| format!("- vip {} -> {}", e.vip, e.real))
                    .collect();
                f.write_str(&lines.join("\n"))
            }
            Step::Detach { name, .. } => write!(f, "- detach {name}"),
        }
    }
}
