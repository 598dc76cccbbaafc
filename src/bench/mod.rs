//! Benchmarks that need the whole engine: throughput of the fused pipeline on a real capture,
//! beside the naive baseline in the same command. Cold code: allocates freely.

pub mod naive;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::core::config::{Config, ConfigSource};
use crate::feed::replay::Capture;
use crate::runtime::{self, RunError, RunOptions};

/// Replaces the first `"key":<digits>` in `line` with `"key":<digits + shift>`.
fn shift_field(line: &mut String, key: &str, shift: u64) {
    let pat = format!("\"{key}\":");
    let Some(start) = line.find(&pat).map(|i| i + pat.len()) else {
        return;
    };
    let end = line[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(line.len(), |i| start + i);
    if let Ok(v) = line[start..end].parse::<u64>() {
        line.replace_range(start..end, &(v + shift).to_string());
    }
}

/// The capture repeated `loops` times, each copy shifted past the previous one in trade id,
/// update id and time, so every loop is new data to the arbiter and the candles (a plain
/// repeat would be dropped as duplicates after the first pass).
pub fn looped(cap: &Capture, loops: u64) -> Vec<Vec<u8>> {
    let (mut t_span, mut u_span, mut ms_span) = (0u64, 0u64, 0u64);
    let (mut t_min, mut u_min, mut ms_min) = (u64::MAX, u64::MAX, u64::MAX);
    for i in 0..cap.lines.len() {
        let Ok(v) = serde_json::from_slice::<Value>(cap.line(i)) else {
            continue;
        };
        let d = v.get("data").unwrap_or(&v);
        for (k, min, span) in [
            ("t", &mut t_min, &mut t_span),
            ("u", &mut u_min, &mut u_span),
            ("E", &mut ms_min, &mut ms_span),
        ] {
            if let Some(x) = d.get(k).and_then(Value::as_u64) {
                *min = (*min).min(x);
                *span = (*span).max(x);
            }
        }
    }
    let t_span = t_span.saturating_sub(t_min) + 1;
    let u_span = u_span.saturating_sub(u_min) + 1;
    let ms_span = (ms_span.saturating_sub(ms_min) / 60_000 + 1) * 60_000;
    let mut out = Vec::with_capacity(cap.lines.len() * loops as usize);
    for k in 0..loops {
        for i in 0..cap.lines.len() {
            let mut s = String::from_utf8_lossy(cap.line(i)).into_owned();
            if k > 0 {
                shift_field(&mut s, "t", k * t_span);
                shift_field(&mut s, "u", k * u_span);
                shift_field(&mut s, "E", k * ms_span);
                shift_field(&mut s, "T", k * ms_span);
            }
            out.push(s.into_bytes());
        }
    }
    out
}

/// Runs the throughput benchmark and writes `out/summary.json`; returns a one-paragraph report.
pub fn throughput(input: &Path, loops: u64, out: &Path) -> Result<String, RunError> {
    let cap = Capture::load(input)?;
    let lines = looped(&cap, loops.max(1));
    let looped_cap = Capture::from_bytes(input.to_path_buf(), lines.join(&b'\n'));
    std::fs::create_dir_all(out)?;

    let sets = vec![
        "source.kind=\"replay\"".to_string(),
        "source.speed=\"max\"".to_string(),
        "cold.status_line=false".to_string(),
        "lanes.0.threads.0.wait=\"spin-then-yield\"".to_string(),
    ];
    let cfg = Config::load(ConfigSource::Default, &sets, &[])
        .map_err(|e| RunError::Io(std::io::Error::other(e.to_string())))?;
    let res = runtime::run(
        &cfg,
        RunOptions {
            mode: "bench".into(),
            report_dir: out.join("tickwire"),
            duration: None,
            stop: Arc::new(AtomicBool::new(false)),
            captures: Some(vec![Arc::new(looped_cap)]),
            progress: None,
            progress_total: None,
        },
    )?;
    let tw_s = res.summary["elapsed_s"].as_f64().unwrap_or(0.0);
    let tw_rate = res.totals.received as f64 / tw_s.max(1e-9);
    // The baseline keeps its own fixed EMA-cross trader: it measures the plumbing.
    let (naive, naive_s) = naive::run(&lines, 2, 5, 0.01, 0.05);
    let naive_rate = naive.messages as f64 / naive_s.max(1e-9);
    let doc = json!({
        "input": input.display().to_string(),
        "loops": loops,
        "messages": res.totals.received,
        "tickwire": {
            "topology": "fused, one thread (dev-2core)",
            "elapsed_s": tw_s,
            "messages_per_s": tw_rate,
            "trades": res.totals.trades,
            "candles": res.totals.candles,
            "signals": res.totals.signals,
            "fills": res.totals.fills,
            "latency_ns": res.summary["latency_ns"],
            "hot_thread_allocations": res.threads.iter().map(|t| t.allocations).sum::<u64>(),
        },
        "baseline": {
            "topology": "naive: std mpsc, serde_json Value, f64, one unpinned thread per stage",
            "elapsed_s": naive_s,
            "messages_per_s": naive_rate,
            "trades": naive.trades,
            "candles": naive.candles,
            "signals": naive.signals,
            "fills": naive.fills,
        },
        "speedup": tw_rate / naive_rate.max(1e-9),
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
    )?;
    Ok(format!(
        "throughput on {} messages ({} loops of {}):\n  tickwire fused: {:.0} msg/s ({:.3} s)\n  naive baseline: {:.0} msg/s ({:.3} s)\n  speedup: {:.1}x\n  trades {} vs {}, candles {} vs {}, signals {} vs {}\n  summary: {}",
        res.totals.received,
        loops,
        input.display(),
        tw_rate,
        tw_s,
        naive_rate,
        naive_s,
        tw_rate / naive_rate.max(1e-9),
        res.totals.trades,
        naive.trades,
        res.totals.candles,
        naive.candles,
        res.totals.signals,
        naive.signals,
        out.join("summary.json").display()
    ))
}
