//! Writes only tests and benchmarks make (feature `bench`): states that
//! the checks an operator's input gets would refuse, or that only a killed
//! writer leaves.

use super::{VipError, VipTables, index::NoSlot, vip_tables::full};
use crate::vip::Vip;

impl VipTables {
    /// Benchmarks only: VIPs `a` and `b`, each the other's real IP, which
    /// [`Self::put`] refuses (ARP for a real IP must keep working). An ARP
    /// request from `a` leaves rewritten to come from `b`, and vice versa,
    /// so every repetition of one BPF_PROG_TEST_RUN takes the rewrite path.
    pub fn add_swapped_pair(
        &mut self,
        a: std::net::Ipv4Addr,
        b: std::net::Ipv4Addr,
    ) -> Result<(), VipError> {
        let (exact, _) = self.counts()?;
        if exact + 2 > self.vip_counters.capacity() as usize {
            return Err(full("VIP", self.vip_counters.capacity()));
        }
        for v in [a, b] {
            if self.families.v4.find_exact(v).is_some() {
                return Err(VipError::Duplicate(Vip::Addr(v.into())));
            }
        }
        let ctrs = self.vip_counters.free(&self.vip_counter_slots(), 2);
        for (ctr, (vip, real)) in ctrs.into_iter().zip([(a, b), (b, a)]) {
            self.vip_counters.zero(ctr)?;
            self.families
                .v4
                .put_exact(vip, real, 0, Some(ctr))
                .map_err(|NoSlot| VipError::NoSlot {
                    vip: Vip::Addr(vip.into()),
                })?;
        }
        Ok(())
    }

    /// Tests only: see [`PoolCacheWriter::interrupt_publish`].
    pub fn interrupt_pool_publish(&mut self, counts: (u32, u32)) {
        self.pool_cache.interrupt_publish(counts);
    }
}
