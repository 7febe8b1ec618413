//! BPF_PROG_TEST_RUN over the real rsdr programs, loaded from the object the
//! `rsdr` binary embeds, with private (unpinned) maps.

use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray},
    programs::{TestRun as _, TestRunOptions},
};
use rsdr_common::{
    Stat, VipCounter,
    counters::VIP_MONITOR_OFFSET,
    maps::{names, programs},
};
use rsdr_user::{
    entry::{Change, VipEntry, VipFlags},
    loader::{self, LoadOptions},
    settings::SettingsHandle,
    stats,
    tables::VipTables,
    vip::parse_vip,
};

use crate::root::require_root;

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
/// TC_ACT_UNSPEC (-1): "no opinion", what rsdr returns to let a frame go on.
pub const TC_PASS: u32 = u32::MAX;
/// Not a verdict: BPF_PROG_TEST_RUN would not build an skb from the frame.
pub const REFUSED: u32 = 0xdead;
/// TC_ACT_SHOT: dropped.
pub const TC_SHOT: u32 = 2;

/// What a program did with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub verdict: u32,
    pub output: Vec<u8>,
}

pub struct Datapath {
    ebpf: Ebpf,
    pub tables: VipTables,
    /// The global switches (monitor mode).
    pub settings: SettingsHandle,
}

/// The program the fixtures run: TC egress if `tc`, else XDP ingress.
pub fn program(tc: bool) -> &'static str {
    if tc {
        programs::TC_EGRESS
    } else {
        loader::xdp_ingress_name()
    }
}

impl Datapath {
    /// Load both programs with fresh, empty tables.
    pub fn load() -> Self {
        Self::load_with(LoadOptions::default())
    }

    pub fn load_with(opts: LoadOptions) -> Self {
        Self::load_isa(opts, loader::Isa::probe())
    }

    /// [`Self::load_with`] the object of instruction set `isa`.
    pub fn load_isa(opts: LoadOptions, isa: loader::Isa) -> Self {
        require_root();
        let mut ebpf = loader::load_isa(None, opts, isa)
            .unwrap_or_else(|e| panic!("loading the rsdr eBPF object failed: {e}"));
        let settings = SettingsHandle::from_ebpf(&ebpf)
            .unwrap_or_else(|e| panic!("opening the settings: {e}"));
        let tables = VipTables::from_ebpf(&mut ebpf)
            .unwrap_or_else(|e| panic!("opening the VIP tables: {e}"));
        Self {
            ebpf,
            tables,
            settings,
        }
    }

    /// Size in bytes of the program `name` as the verifier left it
    /// (translated, dead code removed).
    pub fn translated_size(&self, name: &str) -> u32 {
        self.ebpf
            .program(name)
            .unwrap_or_else(|| panic!("no program {name}"))
            .info()
            .unwrap_or_else(|e| panic!("info of {name}: {e}"))
            .size_translated()
            .unwrap_or_else(|| panic!("the kernel reports no translated size of {name}"))
    }

    /// Add a VIP or pool (`"192.0.2.10"`, `"203.0.113.0/24"`) with
    /// `VIP_F_*` flags.
    pub fn add(&mut self, vip: &str, real: &str, flags: u32) {
        let entry = entry(vip, real, flags);
        let change = self
            .tables
            .put(&[entry])
            .unwrap_or_else(|e| panic!("adding VIP {vip}: {e}"));
        assert_eq!(change, [Change::Added], "VIP {vip} should be new");
    }

    fn try_run(&mut self, tc: bool, frame: &[u8], repeat: u32) -> Result<(Run, Timing), String> {
        self.try_run_prog(tc, program(tc), frame, repeat)
    }

    /// Test-run the program `name` (a TC program if `tc`, else XDP) of the
    /// loaded object on `frame`.
    fn try_run_prog(
        &mut self,
        tc: bool,
        name: &'static str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<(Run, Timing), String> {
        test_run(&mut self.ebpf, tc, name, frame, repeat)
    }

    /// Run the TC ingress program on `frame`, its verdict given in XDP terms
    /// (TC_ACT_UNSPEC as XDP_PASS, TC_ACT_SHOT as XDP_DROP) so the ingress
    /// fixture tables apply to both ingress hooks unchanged. `None` if the
    /// kernel refuses to build an skb from the frame.
    pub fn try_tc_ingress_as_xdp(&mut self, frame: &[u8]) -> Option<Run> {
        match self.try_run_prog(true, programs::TC_INGRESS, frame, 1) {
            Ok((mut r, _)) => {
                r.verdict = match r.verdict {
                    TC_PASS => XDP_PASS,
                    TC_SHOT => XDP_DROP,
                    other => 0x1000 + other,
                };
                Some(r)
            }
            Err(e) if e.contains("os error 22") => None,
            Err(e) => panic!(
                "BPF_PROG_TEST_RUN (tc ingress) failed: {e} on frame:\n{}",
                crate::hex::dump(frame)
            ),
        }
    }

    /// [`Self::try_tc_ingress_as_xdp`], with verdict [`REFUSED`] when the
    /// kernel refuses the frame (only tiny raw frames; the fixture runner
    /// allows it for those alone).
    pub fn tc_ingress_as_xdp(&mut self, frame: &[u8]) -> Run {
        self.try_tc_ingress_as_xdp(frame).unwrap_or(Run {
            verdict: REFUSED,
            output: Vec::new(),
        })
    }

    fn run(&mut self, tc: bool, frame: &[u8], repeat: u32) -> (Run, Timing) {
        self.try_run(tc, frame, repeat).unwrap_or_else(|e| {
            panic!(
                "BPF_PROG_TEST_RUN ({}) failed: {e} on frame:\n{}",
                if tc { "tc" } else { "xdp" },
                crate::hex::dump(frame)
            )
        })
    }

    /// Run the TC egress program, or `None` if the kernel refuses to build
    /// an skb from `frame` (BPF_PROG_TEST_RUN rejects some truncated L3
    /// headers with EINVAL; the stack never sends such frames itself).
    pub fn try_tc(&mut self, frame: &[u8]) -> Option<Run> {
        match self.try_run(true, frame, 1) {
            Ok((r, _)) => Some(r),
            Err(e) if e.contains("os error 22") => None,
            Err(e) => panic!(
                "BPF_PROG_TEST_RUN (tc) failed: {e} on frame:\n{}",
                crate::hex::dump(frame)
            ),
        }
    }

    /// Run the XDP ingress program on `frame`.
    pub fn xdp(&mut self, frame: &[u8]) -> Run {
        self.run(false, frame, 1).0
    }

    /// Run the TC egress program on `frame`.
    pub fn tc(&mut self, frame: &[u8]) -> Run {
        self.run(true, frame, 1).0
    }

    /// Time per frame of the empty benchmark program of the same kind (the
    /// floor), over `repeat` repetitions.
    pub fn time_floor(&mut self, tc: bool, frame: &[u8], repeat: u32) -> Timing {
        let name = if tc {
            programs::BENCH_TC_FLOOR
        } else {
            programs::BENCH_XDP_FLOOR
        };
        self.time_prog(tc, name, frame, repeat)
    }

    /// Time per frame of the program `name` of the object (a TC program if
    /// `tc`), over `repeat` repetitions.
    pub fn time_prog(&mut self, tc: bool, name: &'static str, frame: &[u8], repeat: u32) -> Timing {
        self.try_run_prog(tc, name, frame, repeat)
            .unwrap_or_else(|e| panic!("test run of {name}: {e}"))
            .1
    }

    /// Test-run XDP (or TC egress, if `tc`) on `frame` `runs` times, each
    /// with `repeat` kernel-side repetitions, while `change` rewrites the
    /// tables on another thread until told to stop. Returns every run and
    /// what `change` returned.
    pub fn while_changing<T: Send>(
        &mut self,
        tc: bool,
        frame: &[u8],
        runs: usize,
        repeat: u32,
        change: impl FnOnce(&mut VipTables, &std::sync::atomic::AtomicBool) -> T + Send,
    ) -> (Vec<Run>, T) {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let Self { ebpf, tables, .. } = self;
        std::thread::scope(|s| {
            let writer = s.spawn(|| change(tables, &stop));
            let name = program(tc);
            let out = (0..runs)
                .map(|_| {
                    test_run(ebpf, tc, name, frame, repeat)
                        .unwrap_or_else(|e| panic!("test run of {name}: {e}"))
                        .0
                })
                .collect();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            (out, writer.join().expect("table writer panicked"))
        })
    }

    /// The loaded object, for benchmarks that need raw access.
    pub fn ebpf(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    fn stats_map(&self) -> PerCpuArray<&MapData, u64> {
        PerCpuArray::try_from(self.ebpf.map(names::STATS).expect("stats map in object"))
            .expect("stats map type")
    }

    /// Current value of a global counter (enforced or monitored), summed over CPUs.
    pub fn stat(&self, stat: Stat, monitored: bool) -> u64 {
        stats::read(&self.stats_map(), stat, monitored).expect("reading stats")
    }

    /// All global counters: enforced in [`Stat::ALL`] order, then monitored.
    pub fn all_stats(&self) -> Vec<u64> {
        let map = self.stats_map();
        [false, true]
            .iter()
            .flat_map(|m| {
                Stat::ALL
                    .iter()
                    .map(|s| stats::read(&map, *s, *m).expect("reading stats"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A VIP's (or pool's) counter, enforced or monitored.
    pub fn vip_counter(&self, vip: &str, counter: VipCounter, monitored: bool) -> u64 {
        let spec = parse_vip(vip).expect("VIP");
        let record = self
            .tables
            .get(&spec)
            .expect("reading the VIP tables")
            .unwrap_or_else(|| panic!("VIP {vip} not configured"));
        record.counters[counter as usize + if monitored { VIP_MONITOR_OFFSET } else { 0 }]
    }
}

/// A VIP entry from test input (`VIP_F_*` flags); panics on bad input.
pub fn entry(vip: &str, real: &str, flags: u32) -> VipEntry {
    let flags = VipFlags::from_bits(flags).unwrap_or_else(|e| panic!("VIP {vip}: {e}"));
    VipEntry::parse(vip, real, flags).unwrap_or_else(|e| panic!("VIP {vip}: {e}"))
}

/// How long one test run took, per repetition of the frame.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The kernel's own figure: its timer around the repetitions, divided
    /// by `repeat` and truncated to whole nanoseconds.
    pub kernel_ns: u32,
    /// This thread's CPU time across the whole syscall, divided by
    /// `repeat`: sub-nanosecond resolution, and the syscall's fixed costs
    /// (a few microseconds) vanish over a large `repeat`. Time the CPU
    /// spends on other tasks is not counted, as in the kernel's figure.
    pub cpu_ns: f64,
}

fn thread_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Test-run the program `name` (a TC program if `tc`, else XDP) of `ebpf`
/// on `frame`.
fn test_run(
    ebpf: &mut Ebpf,
    tc: bool,
    name: &'static str,
    frame: &[u8],
    repeat: u32,
) -> Result<(Run, Timing), String> {
    let mut out = vec![0u8; frame.len() + 256];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        repeat,
        ..TestRunOptions::default()
    };
    // Only the syscall is timed, not the program lookup around it.
    let (result, cpu) = if tc {
        let prog = loader::tc_program(ebpf, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let t0 = thread_cpu_ns();
        let r = prog.test_run(opts);
        (r, thread_cpu_ns() - t0)
    } else {
        let prog = loader::xdp_program(ebpf, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let t0 = thread_cpu_ns();
        let r = prog.test_run(opts);
        (r, thread_cpu_ns() - t0)
    };
    let result = result.map_err(|e| rsdr_user::error_chain(&e))?;
    out.truncate(result.data_size_out as usize);
    Ok((
        Run {
            verdict: result.return_value,
            output: out,
        },
        Timing {
            kernel_ns: result.duration.as_nanos().min(u32::MAX as u128) as u32,
            cpu_ns: cpu / repeat.max(1) as f64,
        },
    ))
}
