//! Benchmarks that need the whole engine: throughput of the fused pipeline on a real capture,
//! beside the naive baseline in the same command. Cold code: allocates freely.

pub mod hop;
pub mod host;
pub mod latency;
pub mod naive;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::core::config::{Config, ConfigSource};
use crate::feed::replay::Capture;
use crate::runtime::{self, RunError, RunOptions};

/// Keeps only what a benchmark report is for in a run's report directory: `summary.json`,
/// `report.md` and `latency/` (the trading files of a few million benchmark messages run to
/// tens of megabytes and say nothing about speed).
pub fn prune_run_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let keep = matches!(
            name.to_str(),
            Some("summary.json" | "report.md" | "latency")
        );
        if !keep && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

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

/// The topologies `bench throughput` compares: (name, description, `--set` for `lanes`, or
/// `None` for the config's own).
fn topologies(allowed: usize) -> Vec<(&'static str, &'static str, Option<String>)> {
    const ALL: &str = r#"["parse","arbiter","candles","indicators","signals","risk","venue"]"#;
    let mut t = vec![
        ("config", "the config's own lanes and threads", None),
        (
            "fused",
            "one thread: every stage fused by plain calls",
            Some(format!(
                r#"lanes=[{{name="main",threads=[{{name="hot",stages={ALL},wait="spin-then-yield"}}]}}]"#
            )),
        ),
        (
            "split",
            "two threads: parse, arbiter, candles | indicators, signals, risk, venue",
            Some(r#"lanes=[{name="main",threads=[{name="feed",stages=["parse","arbiter","candles"],wait="spin-then-yield"},{name="trade",stages=["indicators","signals","risk","venue"],wait="spin-then-yield"}]}]"#.to_string()),
        ),
    ];
    // One thread per stage needs the cores to be worth measuring.
    if allowed >= 7 {
        t.push((
            "staged",
            "six threads: one per stage, signals and risk together",
            Some(r#"lanes=[{name="main",threads=[{name="parse",stages=["parse"],wait="spin-then-yield"},{name="arbiter",stages=["arbiter"],wait="spin-then-yield"},{name="candles",stages=["candles"],wait="spin-then-yield"},{name="indicators",stages=["indicators"],wait="spin-then-yield"},{name="trader",stages=["signals","risk"],wait="spin-then-yield"},{name="venue",stages=["venue"],wait="spin-then-yield"}]}]"#.to_string()),
        ));
    }
    t
}

/// Runs the throughput benchmark: the capture looped `loops` times, played as fast as each
/// topology takes it (the source waits for ring room: nothing is dropped, so the rate
/// reached is the most it sustains), beside the naive baseline on the same lines. Writes
/// `out/summary.json`; returns a short report.
pub fn throughput(
    input: &Path,
    loops: u64,
    out: &Path,
    config: Option<&Path>,
    sets: &[String],
    allowed_cores: &[usize],
) -> Result<String, RunError> {
    let cap = Capture::load(input)?;
    let lines = looped(&cap, loops.max(1));
    std::fs::create_dir_all(out)?;
    let mut results = Vec::new();
    let mut text = format!(
        "throughput on {} messages ({} loops of {}):\n",
        lines.len(),
        loops,
        input.display()
    );
    let mut first = None;
    for (name, what, lanes) in topologies(allowed_cores.len()) {
        let mut all = sets.to_vec();
        all.extend([
            "source.kind=\"replay\"".to_string(),
            "source.speed=\"max\"".to_string(),
            "cold.status_line=false".to_string(),
        ]);
        if let Some(l) = &lanes {
            all.push(l.clone());
        }
        let src = match config {
            Some(p) => ConfigSource::File(p),
            None => ConfigSource::Default,
        };
        let cfg = Config::load(src, &all, allowed_cores)
            .map_err(|e| RunError::Io(std::io::Error::other(format!("{name}: {e}"))))?;
        let looped_cap = Capture::from_bytes(input.to_path_buf(), lines.join(&b'\n'));
        let res = runtime::run(
            &cfg,
            RunOptions {
                mode: "bench".into(),
                report_dir: out.join(name),
                duration: None,
                stop: Arc::new(AtomicBool::new(false)),
                captures: Some(vec![Arc::new(looped_cap)]),
                progress: None,
                progress_total: None,
                latency_intervals: None,
            },
        )?;
        prune_run_dir(&out.join(name))?;
        let secs = res.summary["elapsed_s"].as_f64().unwrap_or(0.0);
        let rate = res.totals.received as f64 / secs.max(1e-9);
        let threads: Vec<Value> = res
            .threads
            .iter()
            .map(|t| json!({"thread": t.name, "core": t.core, "stages": t.stages}))
            .collect();
        text.push_str(&format!(
            "  tickwire {name:<7} {rate:>12.0} msg/s ({secs:.3} s, {} threads, lost {})  {what}\n",
            res.threads.len(),
            res.summary["lost"]
        ));
        first.get_or_insert((res.totals.trades, res.totals.candles, res.totals.signals));
        results.push(json!({
            "topology": name,
            "description": what,
            "threads": threads,
            "elapsed_s": secs,
            "messages_per_s": rate,
            "messages": res.totals.received,
            "trades": res.totals.trades,
            "candles": res.totals.candles,
            "signals": res.totals.signals,
            "fills": res.totals.fills,
            "lost": res.summary["lost"],
            "latency_ns": res.summary["latency_ns"],
            "hot_thread_allocations": res.threads.iter().map(|t| t.allocations).sum::<u64>(),
        }));
    }
    // The baseline keeps its own fixed EMA-cross trader: it measures the plumbing.
    let (naive, naive_s) = naive::run(&lines, 2, 5, 0.01, 0.05);
    let naive_rate = naive.messages as f64 / naive_s.max(1e-9);
    text.push_str(&format!(
        "  naive baseline   {naive_rate:>12.0} msg/s ({naive_s:.3} s)  std mpsc, serde_json Value, one thread per stage\n"
    ));
    let best = results
        .iter()
        .filter_map(|r| r["messages_per_s"].as_f64())
        .fold(0.0f64, f64::max);
    text.push_str(&format!(
        "  best tickwire / baseline: {:.1}x\n",
        best / naive_rate.max(1e-9)
    ));
    if let Some((t, c, s)) = first {
        text.push_str(&format!(
            "  work: trades {t} vs {}, candles {c} vs {}, signals {s} vs {}\n",
            naive.trades, naive.candles, naive.signals
        ));
    }
    let doc = json!({
        "mode": "bench-throughput",
        "input": input.display().to_string(),
        "loops": loops,
        "messages": lines.len(),
        "topologies": results,
        "baseline": {
            "topology": "naive: std mpsc, serde_json Value, f64, one unpinned thread per stage",
            "elapsed_s": naive_s,
            "messages_per_s": naive_rate,
            "trades": naive.trades,
            "candles": naive.candles,
            "signals": naive.signals,
            "fills": naive.fills,
        },
        "speedup": best / naive_rate.max(1e-9),
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
    )?;
    text.push_str(&format!(
        "  summary: {}",
        out.join("summary.json").display()
    ));
    Ok(text)
}
