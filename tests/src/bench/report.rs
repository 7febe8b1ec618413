//! results.json, docs/benchmarks.md and the charts, all from one run.

use std::{fmt::Write as _, path::Path};

use plotters::prelude::*;

use super::{Record, Results};

fn label(r: &Record) -> String {
    r.details
        .get("label")
        .and_then(|v| v.as_str())
        .unwrap_or(&r.name)
        .to_string()
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Register a TrueType font for chart text (DejaVu Sans, from Debian's
/// fonts-dejavu-core, which `cargo xtask setup` installs).
fn font() -> Result<(), String> {
    let path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path}: not a usable font"))
}

/// Horizontal bars: (label, value, colour index).
fn bars(path: &Path, title: &str, unit: &str, rows: &[(String, f64, usize)]) -> Result<(), String> {
    let height = 90 + 34 * rows.len() as u32;
    let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max) * 1.15 + 1e-9;
    let n = rows.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(380)
        .build_cartesian_2d(0.0..max, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len() + 1)
        .x_desc(unit)
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let colours = [
        RGBColor(31, 119, 180),
        RGBColor(190, 190, 190),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
    ];
    for (i, (_, v, c)) in rows.iter().enumerate() {
        let i = i as i32;
        let colour = colours[*c % colours.len()];
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                colour.filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                fmt(*v),
                (*v + max * 0.01, SegmentValue::CenterOf(i)),
                ("sans-serif", 14),
            )))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Write the charts into `docs`; returns their file names.
pub fn charts(results: &Results, docs: &Path) -> Result<Vec<String>, String> {
    font()?;
    let mut files = Vec::new();
    let cost: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| {
            r.section == "cost" && r.name.starts_with("cost/1_vip/") && r.baseline.is_some()
        })
        .collect();
    let mut rows = Vec::new();
    for r in &cost {
        let floor = r
            .details
            .get("floor_ns")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        rows.push((format!("{} (floor)", short(&label(r))), floor, 1));
        rows.push((short(&label(r)), r.value, 0));
    }
    if !rows.is_empty() {
        bars(
            &docs.join("bench-cost.png"),
            "Program cost per packet, 1 VIP (grey: empty program, same run)",
            "ns per packet (BPF_PROG_TEST_RUN)",
            &rows,
        )?;
        files.push("bench-cost.png".to_string());
    }
    let flood: Vec<(String, f64, usize)> = results
        .records
        .iter()
        .filter(|r| r.section == "flood" && r.name.ends_with("/mpps"))
        .map(|r| {
            (
                label(r),
                r.value,
                if r.name.contains("rsdr") {
                    0
                } else if r.name.contains("sink") {
                    1
                } else {
                    2
                },
            )
        })
        .collect();
    if !flood.is_empty() {
        bars(
            &docs.join("bench-flood.png"),
            "ARP flood for the VIP, per second (blue: rsdr, red: other ways, grey: empty sink)",
            "million requests per second (live XDP frames over veth)",
            &flood,
        )?;
        files.push("bench-flood.png".to_string());
    }
    Ok(files)
}

fn short(s: &str) -> String {
    s.replace(" (drop)", "")
        .replace(" (pass)", "")
        .replace("802.1Q-tagged", "tagged")
}

/// docs/benchmarks.md, regenerated from `results`.
pub fn markdown(results: &Results, charts: &[String]) -> String {
    let m = &results.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# rsdr benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `{}` on {} ({} cores, {}), Linux {}. Every figure is the median of several repetitions (all of them are in `target/bench/results.json`), each beside its baseline measured in the same run; the machine is small and shared, so compare within a table, not across runs.{}\n",
        results.command,
        m.date,
        m.cores,
        m.cpu,
        m.kernel,
        if results.quick {
            " **This was a `--quick` run: fewer and shorter repetitions.**"
        } else {
            ""
        }
    );
    for c in charts {
        let _ = writeln!(s, "![{c}]({c})\n");
    }

    let _ = writeln!(s, "## 1. Program cost\n");
    let _ = writeln!(
        s,
        "BPF_PROG_TEST_RUN on the loaded programs; the floor is an empty program of the same kind on the same frame, timed right after the program in every round; the delta is the median of the per-round differences. Targets: non-ARP traffic within 1 ns of the floor, every ARP/ND decision within 8 ns.\n"
    );
    let _ = writeln!(
        s,
        "| tables | path | rsdr ns | floor ns | delta ns | target | met |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in results
        .records
        .iter()
        .filter(|r| r.section == "cost" && r.baseline.is_some())
    {
        let d = |k: &str| r.details.get(k).cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | <= {} | {} |",
            d("tables").as_str().unwrap_or(""),
            label(r),
            fmt(r.value),
            fmt(d("floor_ns").as_f64().unwrap_or(0.0)),
            d("delta_ns"),
            d("target_delta_ns"),
            if d("met").as_bool() == Some(true) {
                "yes"
            } else {
                "**no**"
            }
        );
    }
    let _ = writeln!(
        s,
        "Each figure is this thread's CPU time across one BPF_PROG_TEST_RUN call divided by its repetitions (sub-nanosecond resolution; the kernel's own figure, truncated to whole nanoseconds, is `kernel_ns` in results.json). `repeat` re-runs one frame, so the TC rewrite is timed on a frame from one of two VIPs that are each other's real IP (a table `rsdr` itself refuses): every run rewrites, A to B, then B to A.\n"
    );
    let _ = writeln!(
        s,
        "Where an ARP/ND decision's time goes: the header checks, one read of the settings, a probe of the exact-VIP index for the sender and one for the target (hashed with a shift fixed in the program's read-only data at load, then a page lookup, then the home slot: its reach says how many slots to look at, 0 when no VIP has that home, so most misses end there), and one global and one per-VIP per-CPU counter. Addresses inside a pool are matched in the pool cache of the settings while a family has at most 8 pools, in an LPM trie beyond. Non-ARP traffic leaves after one bounds check and one 16-bit compare (IPv6 after one more bounds check and a byte compare; on ingress, up to three more when the next header is not ICMPv6).\n"
    );
    let writes: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| r.section == "writes" && r.baseline.is_some())
        .collect();
    if !writes.is_empty() {
        let _ = writeln!(
            s,
            "Why the TC rewrite misses its target: it writes with `bpf_skb_store_bytes`, a helper call, and it is decided on the TC hook. The first two rows are minimal programs that write the 4 bytes each way; the next four measure rsdr's egress program beside a variant built to hand each rewrite to a tail-called direct writer (rsdr-ebpf/src/bench_writes.rs), on IPv4 TCP and on the rewrite; the last three are one ARP request for a VIP decided by the same code on the XDP and on the TC ingress hook, and the rewrite's frame decided in monitor mode, where rsdr counts the decision and writes nothing. Each row is against the empty program of its kind:\n"
        );
        let _ = writeln!(s, "| program | ns | floor ns | delta ns |");
        let _ = writeln!(s, "|---|---|---|---|");
        for r in &writes {
            let d = |k: &str| r.details.get(k).cloned().unwrap_or_default();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                label(r),
                fmt(r.value),
                fmt(d("floor_ns").as_f64().unwrap_or(0.0)),
                d("delta_ns")
            );
        }
        let delta = |key: &str| {
            writes
                .iter()
                .find(|r| r.name == format!("writes/{key}"))
                .and_then(|r| r.details.get("delta_ns"))
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            s,
            "\nA direct write saves the helper call, but then the verifier prefixes the whole program with a `bpf_skb_pull_data` call on every cloned skb (it copies the headers when they are shared), and every TCP segment leaves as a clone (test-run skbs never are, so the second row does not show it). Moving the write into a tail-called program keeps that off other traffic, but a program with a tail call in it pays the JIT's tail-call bookkeeping on every packet: the variant's IPv4 TCP row, {} ns over rsdr's. A real server's egress hook carries all its response traffic, and the rewrite is needed only for the few ARP requests the host sends from a VIP, so rsdr keeps the helper and puts the cost on the rare frame, not on every egress packet.\n",
            fmt(delta("tail_call_tcp") - delta("egress_tcp"))
        );
        let decision = delta("egress_rewrite_monitored");
        let xdp_decisions: Vec<bool> = results
            .records
            .iter()
            .filter(|r| r.section == "cost" && label(r).starts_with("XDP:"))
            .filter(|r| r.details.get("target_delta_ns").and_then(|v| v.as_f64()) == Some(8.0))
            .map(|r| r.details.get("met").and_then(|v| v.as_bool()) == Some(true))
            .collect();
        let (met, total) = (
            xdp_decisions.iter().filter(|m| **m).count(),
            xdp_decisions.len(),
        );
        let writes_cost = format!(
            "the helper's write costs {} ns (rewrite row minus this one) and the tail-called direct write {} ns (its row minus this one)",
            fmt(delta("egress_rewrite") - decision),
            fmt(delta("tail_call_rewrite") - decision)
        );
        let room = if decision > 8.0 {
            format!("over the target before anything is written; {writes_cost}")
        } else {
            format!(
                "which leaves {} ns of the target for the write; {writes_cost}",
                fmt(8.0 - decision)
            )
        };
        let hook = delta("tc_ingress_request") - delta("xdp_request");
        let hook = if hook >= 0.0 {
            format!("{} ns more", fmt(hook))
        } else {
            format!("{} ns less", fmt(-hook))
        };
        if !decision.is_nan() {
            let _ = writeln!(
                s,
                "The monitor-mode row is the rewrite's decision with no write at all: {} ns, {room}. The two ingress rows show what the hook adds to a decision: the same request, decided by the same code (rsdr-ebpf/src/ingress.rs serves both hooks), costs {hook} under the TC hook than under XDP. With XDP ingress, the default, {met} of the {total} XDP ARP/ND rows in the table above are within their 8 ns in this run.\n",
                fmt(decision),
            );
        }
    }

    let _ = writeln!(s, "## 2. ARP flood\n");
    let _ = writeln!(
        s,
        "Requests for the VIP generated in the peer's namespace with BPF_PROG_TEST_RUN in live-frame mode (XDP_TX out of the peer's veth), so they reach the real server's veth as xdp_frames, as from a NIC. Without an XDP program the server's veth has GRO on (NAPI) and the frames become skbs for the stack. Rate: requests the server disposed of (its filter's counter) per second of generation; CPU: busy time of the whole machine per request.\n"
    );
    let _ = writeln!(
        s,
        "Generation and disposal run back to back on one CPU, so the time per request (1 / rate) is the generator's and the veth's share plus the filter's. The empty XDP_DROP sink measures the former; subtracting it gives the real server's own time per request, which is what the ratios compare. \"CPU ns/request\" is the whole machine's busy time (/proc/stat, 10 ms ticks) per request, a cross-check.\n"
    );
    let _ = writeln!(
        s,
        "| filter | Mpps | server's own ns/request | CPU ns/request (machine) | neighbour entries after 256 senders |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results
        .records
        .iter()
        .filter(|r| r.section == "flood" && r.name.ends_with("/mpps"))
    {
        let key = r.name.split('/').nth(1).unwrap_or("");
        let cpu = results
            .get(&format!("flood/{key}/cpu_ns_per_packet"))
            .map(|c| fmt(c.value))
            .unwrap_or_default();
        let own = results
            .get(&format!("flood/{key}/server_ns_per_request"))
            .map(|c| fmt(c.value))
            .unwrap_or_else(|| "(baseline)".into());
        let neigh = results
            .get(&format!("flood/{key}/neighbour_entries"))
            .map(|c| format!("{}", c.value))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {own} | {cpu} | {neigh} |",
            label(r),
            fmt(r.value)
        );
    }
    let _ = writeln!(s);
    for r in results
        .records
        .iter()
        .filter(|r| r.section == "flood" && r.name.contains("_vs_"))
    {
        let rate = r
            .details
            .get("rate_ratio")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        let _ = writeln!(
            s,
            "- {} costs the real server **{:.1}x** rsdr's time per request (target: rsdr >= 5x better); raw rate ratio {rate:.1}x",
            label(r).replace("rsdr vs ", ""),
            r.value
        );
    }
    let _ = writeln!(
        s,
        "\nThe TC ingress hook (`rsdr attach --ingress tc`) sees the frames only as skbs, after the stack allocated them: under a flood it costs about what arptables and nft cost; XDP is the mode for flood resilience.\n"
    );

    let _ = writeln!(s, "## 3. Tax on normal traffic\n");
    let _ = writeln!(
        s,
        "iperf3 from the peer to the real server's real IP over the veth pair, without rsdr and with it attached. The modes take turns within each round; a ratio is the median of the per-round ratios against no rsdr, with the middle half of those ratios in brackets: on this shared 2-core VM single iperf3 runs vary by tens of percent, which bounds what a ratio can show. The empty TC ingress program shows what attaching any program to that hook costs, before rsdr does anything. Target: >= 0.98 for TC ingress.\n"
    );
    let _ = writeln!(s, "| mode | TCP Gbit/s | ratio | UDP 64 B kpps | ratio |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results
        .records
        .iter()
        .filter(|r| r.section == "tax" && r.name.ends_with("/tcp_gbps"))
    {
        let key = r.name.split('/').nth(1).unwrap_or("");
        let udp = results.get(&format!("tax/{key}/udp64_kpps"));
        let ratio = |x: Option<&Record>| match x.and_then(|r| r.ratio.map(|v| (r, v))) {
            Some((r, v)) => {
                let q = |k: &str| r.details.get(k).and_then(|x| x.as_f64());
                match (q("ratio_q1"), q("ratio_q3")) {
                    (Some(a), Some(b)) => format!("{v:.3} ({a:.2}-{b:.2})"),
                    _ => format!("{v:.3}"),
                }
            }
            None => "baseline".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            label(r),
            fmt(r.value),
            ratio(Some(r)),
            udp.map(|u| fmt(u.value)).unwrap_or_default(),
            ratio(udp)
        );
    }
    let _ = writeln!(
        s,
        "\nWhy XDP native mode costs on veth: an skb arriving at a veth with a native XDP program must be turned into an xdp_buff first (often a copy, since the skb's data is not laid out for XDP), and the veth then runs its NAPI path instead of handing the skb straight to the stack, which also costs GRO aggregation for TCP. On a physical NIC, native XDP runs on the driver's own buffers before any skb exists and this conversion does not happen. XDP skb (generic) mode runs after the skb exists and avoids the copy. The TC ingress hook (`rsdr attach --ingress tc`) adds no conversion at all: it is the mode for hosts where this tax matters, or where another program owns XDP.\n"
    );

    let _ = writeln!(s, "## 4. Control plane\n");
    let _ = writeln!(s, "| what | median | path |");
    let _ = writeln!(s, "|---|---|---|");
    for r in results.records.iter().filter(|r| r.section == "control") {
        let _ = writeln!(
            s,
            "| {} | {} {} | {} |",
            r.name.trim_start_matches("control/"),
            fmt(r.value),
            r.unit,
            r.path
        );
    }
    let _ = writeln!(s, "\nTarget for the batch: under 1 s for 10,000 VIPs.");
    s
}
