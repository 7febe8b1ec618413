//! Counter indices. Every decision the datapath takes on an ARP or ND frame
//! bumps exactly one global [`Stat`]; decisions about a configured VIP (or
//! pool) also bump one [`VipCounter`] of that VIP. Decisions taken in
//! monitor mode (counted, not enforced) go to the same index plus
//! [`MONITOR_OFFSET`] / [`VIP_MONITOR_OFFSET`].

/// Offset of the monitor-mode copy of each global counter.
pub const MONITOR_OFFSET: u32 = 32;
/// Number of slots in the global per-CPU stats array (enforced + monitored).
pub const STAT_SLOTS: u32 = 2 * MONITOR_OFFSET;

macro_rules! stats {
    ($($(#[$doc:meta])* $variant:ident = $idx:literal, $name:literal;)*) => {
        /// Global per-decision counters (index into the `RSDR_STATS` per-CPU array).
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Stat {
            $($(#[$doc])* $variant = $idx,)*
        }

        impl Stat {
            /// All counters, in index order.
            pub const ALL: &'static [Stat] = &[$(Stat::$variant,)*];

            /// Stable snake_case name used in `rsdr stats`, JSON and metrics.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Stat::$variant => $name,)*
                }
            }
        }
    };
}

stats! {
    /// Ingress ARP request for a VIP (sender is not 0.0.0.0): dropped.
    InArpRequestDropped = 0, "in_arp_request_for_vip_dropped";
    /// Ingress ARP probe for a VIP (sender 0.0.0.0, RFC 5227): dropped.
    InArpProbeDropped = 1, "in_arp_probe_for_vip_dropped";
    /// Ingress ARP whose sender IP is a VIP (the director's announcements and
    /// replies): dropped so the host sees no address conflict.
    InArpConflictHidden = 2, "in_arp_from_vip_hidden";
    /// Ingress well-formed ARP about no VIP: passed.
    InArpPassed = 3, "in_arp_passed";
    /// Ingress ARP that is truncated or not Ethernet/IPv4: passed untouched.
    InArpMalformedPassed = 4, "in_arp_malformed_passed";
    /// Egress ARP request from a VIP: sender IP rewritten to the real IP.
    OutArpSenderRewritten = 5, "out_arp_sender_rewritten";
    /// Egress gratuitous ARP / announcement for a VIP (sender = target = VIP): dropped.
    OutArpAnnouncementDropped = 6, "out_arp_announcement_dropped";
    /// Egress ARP reply from a VIP: dropped.
    OutArpReplyDropped = 7, "out_arp_reply_from_vip_dropped";
    /// Egress ARP probe for a VIP (sender 0.0.0.0, target VIP): dropped.
    OutArpProbeDropped = 8, "out_arp_probe_for_vip_dropped";
    /// Egress well-formed ARP about no VIP: passed.
    OutArpPassed = 9, "out_arp_passed";
    /// Egress ARP that is truncated or not Ethernet/IPv4: passed untouched.
    OutArpMalformedPassed = 10, "out_arp_malformed_passed";
    /// Egress: a rewrite was due but the kernel refused to store the bytes.
    OutArpRewriteFailed = 11, "out_arp_rewrite_failed";
    /// Ingress Neighbor Solicitation for a VIP6 from a unicast source: dropped.
    InNsDropped = 12, "in_ns_for_vip_dropped";
    /// Ingress DAD Neighbor Solicitation (source ::) for a VIP6: dropped.
    InDadNsDropped = 13, "in_dad_ns_for_vip_dropped";
    /// Ingress Neighbor Advertisement for a VIP6: dropped (no `dadfailed`).
    InNaConflictHidden = 14, "in_na_for_vip_hidden";
    /// Ingress well-formed NS/NA about no VIP6: passed.
    InNdPassed = 15, "in_nd_passed";
    /// Ingress ICMPv6 NS/NA that is not valid ND (hop limit, code, length): passed.
    InNdMalformedPassed = 16, "in_nd_malformed_passed";
    /// Egress Neighbor Advertisement for a VIP6: dropped.
    OutNaDropped = 17, "out_na_for_vip_dropped";
    /// Egress Neighbor Solicitation for a VIP6 (the host's DAD): dropped.
    OutNsForVipDropped = 18, "out_ns_for_vip_dropped";
    /// Egress Neighbor Solicitation from a VIP6: source rewritten to the real IPv6.
    OutNsSourceRewritten = 19, "out_ns_source_rewritten";
    /// Egress well-formed NS/NA about no VIP6: passed.
    OutNdPassed = 20, "out_nd_passed";
    /// Egress ICMPv6 NS/NA that is not valid ND: passed.
    OutNdMalformedPassed = 21, "out_nd_malformed_passed";
    /// Egress: an NS source rewrite was due but the kernel refused it.
    OutNsRewriteFailed = 22, "out_ns_rewrite_failed";
    /// Ingress IPv6 with more extension headers in front of its upper
    /// layer than rsdr walks to find ND: dropped (it might hide an NS/NA
    /// for a VIP6).
    InIp6ExtChainDropped = 23, "in_ip6_ext_chain_dropped";
    /// Egress gratuitous ARP for a VIP that follows a VRRP instance: passed
    /// (keepalived announcing the VIP it has taken).
    OutArpVrrpAnnouncementPassed = 24, "out_arp_vrrp_announcement_passed";
    /// Egress Neighbor Advertisement for a VIP6 that follows a VRRP
    /// instance: passed.
    OutNaVrrpPassed = 25, "out_na_vrrp_announcement_passed";
}

/// Number of per-VIP counter slots in every VIP entry and pool slot: the
/// first half counts enforced decisions, the second half monitored ones.
pub const VIP_COUNTER_SLOTS: usize = 16;
/// Offset of the monitor-mode copy of each per-VIP counter.
pub const VIP_MONITOR_OFFSET: usize = 8;

/// Per-VIP counters (index into a VIP's `counters`); shared by IPv4 (ARP)
/// and IPv6 (ND) VIPs and by pools.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VipCounter {
    /// Inbound requests for the VIP (ARP request / NS), dropped.
    RequestsDropped = 0,
    /// Inbound probes for the VIP (ARP probe / DAD NS), dropped.
    ProbesDropped = 1,
    /// Inbound frames announcing the VIP from elsewhere (ARP from VIP / NA), hidden.
    ConflictsHidden = 2,
    /// Outbound requests from the VIP (ARP request / NS), sender rewritten.
    SendersRewritten = 3,
    /// Outbound announcements of the VIP (gratuitous ARP / NA), dropped.
    AnnouncementsDropped = 4,
    /// Outbound ARP replies from the VIP, dropped.
    RepliesDropped = 5,
    /// Outbound probes for the VIP (ARP probe / DAD NS), dropped.
    OwnProbesDropped = 6,
    /// Outbound announcements of a VIP that follows a VRRP instance, passed.
    AnnouncementsPassed = 7,
}

impl VipCounter {
    pub const ALL: [VipCounter; 8] = [
        VipCounter::RequestsDropped,
        VipCounter::ProbesDropped,
        VipCounter::ConflictsHidden,
        VipCounter::SendersRewritten,
        VipCounter::AnnouncementsDropped,
        VipCounter::RepliesDropped,
        VipCounter::OwnProbesDropped,
        VipCounter::AnnouncementsPassed,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            VipCounter::RequestsDropped => "requests_dropped",
            VipCounter::ProbesDropped => "probes_dropped",
            VipCounter::ConflictsHidden => "conflicts_hidden",
            VipCounter::SendersRewritten => "senders_rewritten",
            VipCounter::AnnouncementsDropped => "announcements_dropped",
            VipCounter::RepliesDropped => "replies_dropped",
            VipCounter::OwnProbesDropped => "own_probes_dropped",
            VipCounter::AnnouncementsPassed => "announcements_passed",
        }
    }
}

const _: () = assert!((Stat::ALL.len() as u32) <= MONITOR_OFFSET);
const _: () = assert!(VipCounter::ALL.len() <= VIP_MONITOR_OFFSET);
const _: () = assert!(2 * VIP_MONITOR_OFFSET == VIP_COUNTER_SLOTS);
