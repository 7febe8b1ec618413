//! The hook choices: names, resolution on a kernel, and what they accept.

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
    let at = |hook, via| IngressAttachment { hook, via };
    let auto = HookChoice::default();
    for tcx in [true, false] {
        let w = auto.resolve(tcx);
        assert!(w.accepts_ingress(at(A::XdpNative, Via::Link)));
        assert!(w.accepts_ingress(at(A::XdpSkb, Via::Netlink)));
        assert!(!w.accepts_ingress(at(A::Tc, Via::Link)));
        assert_eq!(w.egress, if tcx { Via::Link } else { Via::Netlink });
    }
    let tc = HookChoice::tc(TcAttach::Auto);
    assert!(tc.resolve(true).accepts_ingress(at(A::Tc, Via::Link)));
    assert!(!tc.resolve(true).accepts_ingress(at(A::Tc, Via::Netlink)));
    assert!(tc.resolve(false).accepts_ingress(at(A::Tc, Via::Netlink)));
    let forced = HookChoice::tc(TcAttach::Netlink).resolve(true);
    assert_eq!(
        (forced.ingress, forced.egress),
        (WantedIngress::Tc(Via::Netlink), Via::Netlink)
    );
    for a in IngressAttachment::ALL {
        let exactly = WantedHooks {
            ingress: a.wanted(),
            egress: Via::Link,
        };
        assert!(exactly.accepts_ingress(a), "{a}");
        let others = IngressAttachment::ALL.into_iter().filter(|b| *b != a);
        assert!(others.clone().all(|b| !exactly.accepts_ingress(b)), "{a}");
    }
}

#[test]
fn attachments_print_and_pin_by_how_they_are_attached() {
    use AttachedIngress as A;
    let at = |hook, via| IngressAttachment { hook, via };
    assert_eq!(at(A::XdpNative, Via::Link).to_string(), "xdp native");
    assert_eq!(at(A::XdpSkb, Via::Netlink).to_string(), "xdp skb (netlink)");
    assert_eq!(at(A::Tc, Via::Link).to_string(), "tcx");
    assert_eq!(at(A::Tc, Via::Netlink).kind(), "tc");
    assert_eq!(at(A::Tc, Via::Netlink).pin_name(), "tc_ingress_netlink");
    assert_eq!(at(A::XdpSkb, Via::Link).pin_name(), "xdp_skb");
    assert_eq!(
        HookChoice::default().resolve(true).ingress.to_string(),
        "xdp"
    );
    assert_eq!(
        HookChoice::tc(TcAttach::Auto)
            .resolve(false)
            .ingress
            .to_string(),
        "tc ingress"
    );
}
