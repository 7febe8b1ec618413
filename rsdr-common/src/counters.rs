//! Counter indices. Every decision the datapath takes bumps exactly one
//! global [`Stat`]; decisions about a configured VIP also bump one
//! [`VipCounter`] in that VIP's entry.

/// Number of slots in the global per-CPU stats array. Fixed so that new
/// counters do not change the pinned map's layout.
pub const STAT_SLOTS: u32 = 32;

/// Global per-decision counters (index into the `RSDR_STATS` per-CPU array).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Ingress: ARP request whose target IP is a VIP, dropped.
    InArpRequestForVipDropped = 0,
    /// Ingress: well-formed ARP that concerns no VIP, passed.
    InArpPassed = 1,
    /// Ingress: ARP frame that is truncated or not Ethernet/IPv4 ARP, passed untouched.
    InArpMalformedPassed = 2,
    /// Egress: ARP request with a VIP as sender IP, sender rewritten to the real IP.
    OutArpSenderRewritten = 3,
    /// Egress: well-formed ARP that concerns no VIP, passed.
    OutArpPassed = 4,
    /// Egress: ARP frame that is truncated or not Ethernet/IPv4 ARP, passed untouched.
    OutArpMalformedPassed = 5,
    /// Egress: a rewrite was due but the kernel refused to store the bytes.
    OutArpRewriteFailed = 6,
}

impl Stat {
    /// All counters, in index order.
    pub const ALL: [Stat; 7] = [
        Stat::InArpRequestForVipDropped,
        Stat::InArpPassed,
        Stat::InArpMalformedPassed,
        Stat::OutArpSenderRewritten,
        Stat::OutArpPassed,
        Stat::OutArpMalformedPassed,
        Stat::OutArpRewriteFailed,
    ];

    /// Stable snake_case name used in `rsdr stats` and its JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Stat::InArpRequestForVipDropped => "in_arp_request_for_vip_dropped",
            Stat::InArpPassed => "in_arp_passed",
            Stat::InArpMalformedPassed => "in_arp_malformed_passed",
            Stat::OutArpSenderRewritten => "out_arp_sender_rewritten",
            Stat::OutArpPassed => "out_arp_passed",
            Stat::OutArpMalformedPassed => "out_arp_malformed_passed",
            Stat::OutArpRewriteFailed => "out_arp_rewrite_failed",
        }
    }
}

/// Number of per-VIP counter slots carried in every VIP entry. Fixed so that
/// new counters do not change the pinned map's layout.
pub const VIP_COUNTER_SLOTS: usize = 8;

/// Per-VIP counters (index into [`crate::VipEntry4::counters`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VipCounter {
    /// Inbound ARP requests for this VIP that were dropped.
    RequestsDropped = 0,
    /// Outbound ARP requests whose sender IP was rewritten from this VIP.
    SendersRewritten = 1,
}

impl VipCounter {
    pub const ALL: [VipCounter; 2] = [VipCounter::RequestsDropped, VipCounter::SendersRewritten];

    pub const fn name(self) -> &'static str {
        match self {
            VipCounter::RequestsDropped => "requests_dropped",
            VipCounter::SendersRewritten => "senders_rewritten",
        }
    }
}

const _: () = assert!((Stat::ALL.len() as u32) <= STAT_SLOTS);
const _: () = assert!(VipCounter::ALL.len() <= VIP_COUNTER_SLOTS);
