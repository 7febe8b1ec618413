//! Unit tests of the index writes, on heap-backed indexes.

use super::*;

fn idx() -> Index<Slot4> {
    Index::heap(64)
}

/// Addresses that all share one home slot in a 64-slot index.
fn colliding(n: usize) -> Vec<u32> {
    let shift = index::shift_for(64);
    let home = index::hash4(1, shift);
    (1u32..)
        .filter(|a| index::hash4(*a, shift) == home)
        .take(n)
        .collect()
}

#[test]
fn a_removed_vip_leaves_the_rest_of_its_chain_findable() {
    let mut ix = idx();
    let a = colliding(3);
    for (n, addr) in a.iter().enumerate() {
        ix.insert(*addr, 100 + n as u32, 0, n as u32).expect("room");
    }
    let first = ix.find(&a[0]).expect("first inserted");
    ix.remove(first);
    assert_eq!(ix.find(&a[0]), None, "removed VIP still found");
    for addr in &a[1..] {
        assert!(ix.find(addr).is_some(), "VIP {addr} lost behind a removal");
    }
    // The tombstone is reused, and the chain still works.
    let b = colliding(4)[3];
    let at = ix.insert(b, 7, 0, 9).expect("room");
    assert_eq!(
        at, first,
        "a new VIP reuses the tombstone first in its chain"
    );
    assert!(ix.find(&a[2]).is_some());
}

#[test]
fn removing_the_tail_of_a_chain_empties_its_tombstones() {
    let mut ix = idx();
    let a = colliding(3);
    for addr in &a {
        ix.insert(*addr, 1, 0, 0).expect("room");
    }
    for addr in &a {
        let i = ix.find(addr).expect("present");
        ix.remove(i);
    }
    assert!(
        ix.kinds().iter().all(|k| *k == 0),
        "tombstones left behind an emptied chain: {:?}",
        ix.kinds()
    );
}

#[test]
fn a_change_of_real_stays_in_place_and_keeps_the_counter_slot() {
    let mut ix = idx();
    let a = colliding(2);
    ix.insert(a[0], 1, 0, 5).expect("room");
    ix.insert(a[1], 2, 0, 6).expect("room");
    let i = ix.find(&a[0]).expect("present");
    let before = ix.kinds();
    for real in [11, 12, 13] {
        ix.change(i, real, 1);
        let live: Vec<_> = ix.live().filter(|l| l.addr == a[0]).collect();
        assert_eq!(
            live.len(),
            1,
            "exactly one live entry after a change: {live:?}"
        );
        assert_eq!(
            (live[0].slot, live[0].real, live[0].flags, live[0].ctr),
            (i, real, 1, 5)
        );
    }
    assert_eq!(
        ix.kinds(),
        before,
        "a change of real IP must not move or add entries"
    );
    assert!(
        ix.find(&a[1]).is_some(),
        "the other VIP of the chain was lost"
    );
}

#[test]
fn inserts_fail_cleanly_past_the_probe_bound() {
    let mut ix = idx();
    let a = colliding(MAX_PROBES as usize + 1);
    for addr in &a[..MAX_PROBES as usize] {
        ix.insert(*addr, 1, 0, 0).expect("room within the bound");
    }
    let mut kinds = ix.kinds();
    assert_eq!(
        ix.plan_insert(&mut kinds, &a[MAX_PROBES as usize]),
        Err(NoSlot)
    );
    assert_eq!(ix.insert(a[MAX_PROBES as usize], 1, 0, 0), Err(NoSlot));
    assert_eq!(ix.len(), MAX_PROBES as usize);
}

/// Every live VIP lies within its home's reach, and every reach is the
/// least that covers its home's VIPs.
fn assert_reach_exact(ix: &Index<Slot4>) {
    let mut need = vec![0u32; ix.slots as usize];
    for l in ix.live() {
        let h = Slot4::home(&l.addr, ix.shift);
        let d = ix.distance(h, l.slot);
        need[h as usize] = need[h as usize].max(d + 1);
    }
    for (h, n) in need.iter().enumerate() {
        assert_eq!(ix.reach(h as u32), *n, "reach of home {h}");
    }
}

#[test]
fn reach_follows_inserts_and_removals() {
    let mut ix = idx();
    let a = colliding(6);
    // Neighbours homed one slot on, so chains of two homes interleave.
    let shift = index::shift_for(64);
    let next = (index::hash4(a[0], shift) + 1) & 63;
    let b: Vec<u32> = (1u32..)
        .filter(|x| index::hash4(*x, shift) == next)
        .take(3)
        .collect();
    for (n, addr) in a.iter().chain(&b).enumerate() {
        ix.insert(*addr, 1, 0, n as u32).expect("room");
        assert_reach_exact(&ix);
    }
    // Out of insertion order: the last of a chain, a middle one, the first.
    for addr in [a[5], a[2], b[0], a[0], b[2], a[4], a[1], a[3], b[1]] {
        let i = ix.find(&addr).expect("present");
        ix.remove(i);
        assert_reach_exact(&ix);
        assert_eq!(ix.find(&addr), None);
    }
    assert!(
        (0..64).all(|h| ix.reach(h) == 0),
        "reach left on an empty index"
    );
    // A reused tombstone inside a chain keeps the reach exact too.
    for addr in &a[..3] {
        ix.insert(*addr, 1, 0, 0).expect("room");
    }
    ix.remove(ix.find(&a[1]).expect("present"));
    ix.insert(b[0], 1, 0, 0).expect("room");
    assert_reach_exact(&ix);
}

#[test]
fn every_state_store_moves_the_version() {
    let mut ix = idx();
    let i = ix.insert(42, 1, 0, 0).expect("room");
    let mut seen = vec![ix.state(i)];
    ix.set_flags(i, 1);
    seen.push(ix.state(i));
    ix.remove(i);
    seen.push(ix.state(i));
    let j = ix.insert(42, 1, 0, 0).expect("room");
    assert_eq!(i, j);
    seen.push(ix.state(j));
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len(), "a state repeated: {seen:x?}");
}
