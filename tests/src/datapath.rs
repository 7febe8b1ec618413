//! BPF_PROG_TEST_RUN over the real rsdr programs, loaded from the object the
//! `rsdr` binary embeds, with private (unpinned) maps.

use std::net::Ipv4Addr;

use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray, PerCpuHashMap},
    programs::{TestRun as _, TestRunOptions},
};
use rsdr_common::{Stat, VipCounter, maps::names};
use rsdr_user::{
    loader::{self, LoadOptions},
    stats,
    vips::{Change, VipTable},
};

use crate::root::require_root;

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
/// TC_ACT_UNSPEC (-1): "no opinion", what rsdr returns to let a frame go on.
pub const TC_PASS: u32 = u32::MAX;
pub const TC_SHOT: u32 = 2;

/// What a program did with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub verdict: u32,
    pub output: Vec<u8>,
}

pub struct Datapath {
    ebpf: Ebpf,
}

impl Datapath {
    /// Load both programs with a fresh, empty VIP table.
    pub fn load() -> Self {
        Self::load_with(LoadOptions::default())
    }

    pub fn load_with(opts: LoadOptions) -> Self {
        require_root();
        let ebpf = loader::load(None, opts).unwrap_or_else(|e| panic!("loading the rsdr eBPF object failed: {e}"));
        Self { ebpf }
    }

    pub fn vips(&mut self) -> VipTable<&mut MapData> {
        let capacity = loader::capacity(&self.ebpf, names::VIPS4).expect("VIP map capacity");
        let map = self.ebpf.map_mut(names::VIPS4).expect("VIP map in object");
        VipTable::from_map(PerCpuHashMap::try_from(map).expect("VIP map type"), capacity)
    }

    pub fn add_vip(&mut self, vip: Ipv4Addr, real: Ipv4Addr) {
        let change = self.vips().add(vip, real).unwrap_or_else(|e| panic!("adding VIP {vip}: {e}"));
        assert_eq!(change, Change::Added, "VIP {vip} should be new");
    }

    fn run(&mut self, tc: bool, frame: &[u8]) -> Run {
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions { data_in: Some(frame), data_out: Some(&mut out), ..TestRunOptions::default() };
        let result = if tc {
            loader::tc_egress(&mut self.ebpf).expect("tc program").test_run(opts)
        } else {
            loader::xdp(&mut self.ebpf).expect("xdp program").test_run(opts)
        };
        let result = result.unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN failed: {e}"));
        out.truncate(result.data_size_out as usize);
        Run { verdict: result.return_value, output: out }
    }

    /// Run the XDP ingress program on `frame`.
    pub fn xdp(&mut self, frame: &[u8]) -> Run {
        self.run(false, frame)
    }

    /// Run the TC egress program on `frame`.
    pub fn tc(&mut self, frame: &[u8]) -> Run {
        self.run(true, frame)
    }

    /// Current value of a global counter, summed over CPUs.
    pub fn stat(&self, stat: Stat) -> u64 {
        let map = self.ebpf.map(names::STATS).expect("stats map in object");
        let arr: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map).expect("stats map type");
        stats::global(&arr)
            .expect("reading stats")
            .into_iter()
            .find(|c| c.name == stat.name())
            .map(|c| c.value)
            .expect("counter present")
    }

    /// All global counters, in [`Stat::ALL`] order.
    pub fn all_stats(&self) -> Vec<u64> {
        Stat::ALL.iter().map(|s| self.stat(*s)).collect()
    }

    pub fn vip_counter(&mut self, vip: Ipv4Addr, counter: VipCounter) -> u64 {
        self.vips().get(vip).expect("VIP lookup").map(|v| v.counters[counter as usize]).unwrap_or(0)
    }
}
