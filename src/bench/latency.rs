//! `tickwire bench latency`: the whole pipeline at fixed message rates, in the topology of
//! the given config, beside the naive baseline on the same messages in the same command.
//!
//! For each rate the messages are generated once (the config's synthetic market, or a
//! capture looped with shifted ids and times), then played through tickwire and through
//! [`naive`](super::naive), each message stamped with the instant it was due, so neither
//! side hides a backlog (no coordinated omission). Every message is timed. The report
//! directory holds a `README.md` (command, config, commit, toolchain, host), per rate one
//! directory per system with `latency/<stage>.hgrm` (and tickwire's own run report),
//! `end_to_end.hlog` interval logs, `summary.json` with both `latency_ns` blocks and their
//! ratios, and two plots: latency by percentile and latency over time.
//!
//! Cold code: it allocates freely.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use super::naive;
use crate::core::clock;
use crate::core::config::{Config, ConfigSource, Speed};
use crate::feed::replay::Capture;
use crate::plot::{self, LatencyCurve};
use crate::runtime::latency::{hgrm, hlog, percentiles, Intervals};
use crate::runtime::{self, RunError, RunOptions};

/// Market messages per second of market time in the generated stream: dense enough in
/// candle closes (and so in signals and orders) that a few seconds of it give a
/// tick-to-order distribution, not a handful of points.
pub const MARKET_DENSITY: f64 = 500.0;
/// Most messages generated for one rate (memory: about 150 bytes each, twice).
pub const MAX_MESSAGES: usize = 4_000_000;
/// Round trips timed per queue for the ring-hop table.
pub const HOP_ROUND_TRIPS: usize = 200_000;
/// Messages for the unpaced (`max`) rate when no paced rate sets a size.
pub const MAX_RATE_MESSAGES: usize = 1_000_000;

/// What `bench latency` was asked to do.
#[derive(Clone, Debug)]
pub struct LatencyBench {
    /// The config file (`None`: the built-in default).
    pub config: Option<PathBuf>,
    /// `--set` overrides.
    pub sets: Vec<String>,
    /// Rates, in order (`Speed::Rate` or `Speed::Max`).
    pub rates: Vec<Speed>,
    /// Seconds of messages per paced rate.
    pub duration_s: f64,
    /// A capture to play instead of the synthetic market.
    pub input: Option<PathBuf>,
    /// Report directory.
    pub out: PathBuf,
    /// Interval of the latency-over-time logs.
    pub interval_ms: u64,
    /// The command line, for the README.
    pub command: String,
    /// The CPUs this process may use (for loading the config).
    pub allowed_cores: Vec<usize>,
    /// The host's label in the report (default: read from the host).
    pub label: Option<String>,
}

/// The label of a rate: `10k/s`, `1M/s`, `max`.
pub fn rate_label(s: Speed) -> String {
    match s {
        Speed::Rate(r) if r >= 1e6 && (r / 1e6).fract() == 0.0 => format!("{}M/s", r / 1e6),
        Speed::Rate(r) if r >= 1e3 && (r / 1e3).fract() == 0.0 => format!("{}k/s", r / 1e3),
        Speed::Rate(r) => format!("{r}/s"),
        Speed::Factor(f) => format!("{f}x"),
        Speed::Max => "max".to_string(),
    }
}

/// A rate's directory name: `10k`, `1M`, `max`.
fn rate_dir(s: Speed) -> String {
    rate_label(s).trim_end_matches("/s").replace('.', "_")
}

/// Parses `10k,100k,1M,max` (each with or without `/s`).
pub fn parse_rates(s: &str) -> Result<Vec<Speed>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let spec = if part == "max" || part.ends_with("/s") {
            part.to_string()
        } else {
            format!("{part}/s")
        };
        match Speed::parse(&spec) {
            Some(sp @ (Speed::Rate(_) | Speed::Max)) => out.push(sp),
            _ => {
                return Err(format!(
                    "--rates: `{part}` is not a rate like 10k, 100k/s, 1M or max"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("--rates: give at least one rate, e.g. 10k,100k,1M,max".into());
    }
    Ok(out)
}

/// The messages of one run: generated from the config's synthetic market (every instrument,
/// [`MARKET_DENSITY`] messages per market second), or the capture looped (ids and times
/// shifted, so nothing repeats) to at least `n` lines.
fn messages(cfg: &Config, input: Option<&Capture>, n: usize) -> Vec<Vec<u8>> {
    match input {
        Some(cap) => {
            let per = cap.lines.len().max(1);
            let loops = n.div_ceil(per).max(1) as u64;
            let mut lines = super::looped(cap, loops);
            lines.truncate(n.max(1));
            lines
        }
        None => {
            let mut c = cfg.clone();
            c.source.msgs_per_sec = MARKET_DENSITY;
            c.source.warmup_s = 0;
            let mut market = runtime::synthetic_market(&c, 0, &[], clock::wall_ns());
            let mut buf = Vec::with_capacity(crate::feed::synthetic::MAX_MESSAGE_LEN);
            (0..n)
                .map(|_| {
                    market.next_message(&mut buf);
                    buf.clone()
                })
                .collect()
        }
    }
}

/// The messages a rate plays: `duration_s` of them at a paced rate; at `max`, as many as
/// the largest paced rate (or [`MAX_RATE_MESSAGES`]).
fn count_for(rate: Speed, rates: &[Speed], duration_s: f64) -> usize {
    let of = |r: f64| ((r * duration_s).ceil() as usize).clamp(1, MAX_MESSAGES);
    match rate {
        Speed::Rate(r) => of(r),
        _ => rates
            .iter()
            .filter_map(|s| match s {
                Speed::Rate(r) => Some(of(*r)),
                _ => None,
            })
            .max()
            .unwrap_or(MAX_RATE_MESSAGES),
    }
}

/// One system's results at one rate.
struct Side {
    elapsed_s: f64,
    messages: usize,
    latency: std::collections::BTreeMap<String, Histogram<u64>>,
    intervals: Option<Intervals>,
    extra: Value,
}

impl Side {
    fn latency_json(&self) -> Value {
        let mut m = Map::new();
        for (k, h) in &self.latency {
            m.insert(k.clone(), json!(percentiles(h)));
        }
        Value::Object(m)
    }

    fn p(&self, key: &str, q: f64) -> Option<u64> {
        self.latency
            .get(key)
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q))
    }

    fn json(&self) -> Value {
        json!({
            "messages": self.messages,
            "elapsed_s": self.elapsed_s,
            "messages_per_s": self.messages as f64 / self.elapsed_s.max(1e-9),
            "latency_ns": self.latency_json(),
            "detail": self.extra,
        })
    }

    /// (quantile, ns) along the end-to-end distribution, for the percentile chart.
    fn curve(&self) -> Vec<(f64, f64)> {
        let Some(h) = self.latency.get("end_to_end").filter(|h| !h.is_empty()) else {
            return Vec::new();
        };
        let mut pts = Vec::new();
        // Evenly spaced on the chart's axis: 1/(1-q) from 1 to 10^5.
        for i in 0..=250 {
            let x = f64::from(i) / 50.0;
            let q = 1.0 - 10f64.powf(-x);
            pts.push((q, h.value_at_quantile(q.min(0.999_999)) as f64));
        }
        pts.push((1.0 - 1e-5, h.max() as f64));
        pts
    }

    /// (seconds, ns) of `q` per interval.
    fn over_time(&self, q: f64) -> Vec<(f64, f64)> {
        let Some(iv) = &self.intervals else {
            return Vec::new();
        };
        iv.used()
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| {
                (
                    (i as f64 + 0.5) * iv.every_ns as f64 / 1e9,
                    h.value_at_quantile(q) as f64,
                )
            })
            .collect()
    }
}

fn ratio(base: Option<u64>, tw: Option<u64>) -> Value {
    match (base, tw) {
        (Some(b), Some(t)) if t > 0 => json!(b as f64 / t as f64),
        _ => Value::Null,
    }
}

fn ratios(tw: &Side, base: &Side) -> Value {
    let mut m = Map::new();
    for key in ["end_to_end", "tick_to_order"] {
        m.insert(
            key.to_string(),
            json!({
                "p50": ratio(base.p(key, 0.5), tw.p(key, 0.5)),
                "p99": ratio(base.p(key, 0.99), tw.p(key, 0.99)),
                "p999": ratio(base.p(key, 0.999), tw.p(key, 0.999)),
            }),
        );
    }
    Value::Object(m)
}

fn write_hgrms(
    dir: &Path,
    latency: &std::collections::BTreeMap<String, Histogram<u64>>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("latency"))?;
    for (k, h) in latency {
        std::fs::write(dir.join("latency").join(format!("{k}.hgrm")), hgrm(h))?;
    }
    Ok(())
}

fn io(e: impl std::fmt::Display) -> RunError {
    RunError::Io(std::io::Error::other(e.to_string()))
}

/// Runs the benchmark and writes the report directory; returns a short text report.
pub fn run(b: &LatencyBench) -> Result<String, RunError> {
    let source = match &b.config {
        Some(p) => ConfigSource::File(p),
        None => ConfigSource::Default,
    };
    let user = Config::load(source, &b.sets, &b.allowed_cores).map_err(io)?;
    let capture = match &b.input {
        Some(p) => Some(Capture::load(p)?),
        None => None,
    };
    std::fs::create_dir_all(&b.out)?;
    let interval_ns = b.interval_ms.max(1) * 1_000_000;
    let wall_start = clock::wall_ns() as f64 / 1e9;
    let mut runs = Vec::new();
    let mut pct_curves = Vec::new();
    let mut text = String::new();
    let mut sides: Vec<(Speed, Side, Side)> = Vec::new();
    for &rate in &b.rates {
        let n = count_for(rate, &b.rates, b.duration_s);
        let lines = messages(&user, capture.as_ref(), n);
        let label = rate_label(rate);
        let dir = b.out.join(rate_dir(rate));
        let expected_s = match rate {
            Speed::Rate(r) => n as f64 / r,
            _ => n as f64 / 200_000.0,
        };
        let count = ((expected_s * 3.0 * 1e9 / interval_ns as f64).ceil() as usize).clamp(8, 4_000);

        // tickwire, in the config's topology, every message timed.
        let mut sets = b.sets.clone();
        sets.extend([
            "source.kind=\"replay\"".to_string(),
            format!("source.speed=\"{}\"", speed_spec(rate)),
            "source.files=[]".to_string(),
            "cold.status_line=false".to_string(),
            "cold.latency_sample_every=1".to_string(),
        ]);
        let cfg = Config::load(
            match &b.config {
                Some(p) => ConfigSource::File(p),
                None => ConfigSource::Default,
            },
            &sets,
            &b.allowed_cores,
        )
        .map_err(io)?;
        let cap = Capture::from_bytes(
            b.input
                .clone()
                .unwrap_or_else(|| PathBuf::from("synthetic.jsonl")),
            lines.join(&b'\n'),
        );
        let res = runtime::run(
            &cfg,
            RunOptions {
                mode: "bench".into(),
                report_dir: dir.join("tickwire"),
                duration: None,
                stop: Arc::new(AtomicBool::new(false)),
                captures: Some(vec![Arc::new(cap)]),
                progress: None,
                progress_total: None,
                latency_intervals: Some((interval_ns, count)),
            },
        )?;
        super::prune_run_dir(&dir.join("tickwire"))?;
        let tw = Side {
            elapsed_s: res.summary["elapsed_s"].as_f64().unwrap_or(0.0),
            messages: lines.len(),
            latency: res.latency,
            intervals: res.intervals,
            extra: json!({
                "topology": res.threads.iter().map(|t| json!({
                    "thread": t.name, "core": t.core, "pinned": t.pinned, "stages": t.stages,
                })).collect::<Vec<_>>(),
                "trades": res.totals.trades,
                "orders": res.summary["orders"],
                "fills": res.totals.fills,
                "hot_thread_allocations": res.threads.iter().map(|t| t.allocations).sum::<u64>(),
            }),
        };

        // The naive baseline: same messages, same rate, same stamps.
        let nv = naive::run_timed(
            &lines,
            2,
            5,
            0.01,
            0.05,
            match rate {
                Speed::Rate(r) => Some(r),
                _ => None,
            },
            Some((interval_ns, count)),
        );
        let base = Side {
            elapsed_s: nv.elapsed_s,
            messages: lines.len(),
            latency: nv.latency,
            intervals: nv.intervals,
            extra: json!({
                "topology": "naive: std mpsc, serde_json Value, f64, one unpinned thread per stage",
                "trades": nv.counts.trades,
                "book_tickers": nv.counts.book_tickers,
                "signals": nv.counts.signals,
                "fills": nv.counts.fills,
            }),
        };
        drop(lines);
        write_hgrms(&dir.join("baseline"), &base.latency)?;
        std::fs::create_dir_all(dir.join("baseline"))?;
        for (side, name) in [(&tw, "tickwire"), (&base, "baseline")] {
            if let Some(iv) = &side.intervals {
                std::fs::write(
                    dir.join(name).join("end_to_end.hlog"),
                    hlog(iv, &format!("{name}@{}", rate_dir(rate)), wall_start)?,
                )?;
            }
        }
        let over = plot::latency_over_time_chart(
            &format!("End-to-end latency over time at {label}"),
            &[
                curve("tickwire p50", false, tw.over_time(0.5)),
                curve("tickwire p99", false, tw.over_time(0.99)),
                curve("baseline p50", true, base.over_time(0.5)),
                curve("baseline p99", true, base.over_time(0.99)),
            ],
        );
        std::fs::write(dir.join("latency_over_time.png"), over)?;
        pct_curves.push(curve(&format!("tickwire {label}"), false, tw.curve()));
        pct_curves.push(curve(&format!("baseline {label}"), true, base.curve()));
        let r = ratios(&tw, &base);
        text.push_str(&format!(
            "{label:>8}: tickwire end-to-end p50 {} p99 {} | baseline p50 {} p99 {} | ratio p50 {} p99 {}\n",
            fmt_opt(tw.p("end_to_end", 0.5)),
            fmt_opt(tw.p("end_to_end", 0.99)),
            fmt_opt(base.p("end_to_end", 0.5)),
            fmt_opt(base.p("end_to_end", 0.99)),
            fmt_ratio(&r["end_to_end"]["p50"]),
            fmt_ratio(&r["end_to_end"]["p99"]),
        ));
        runs.push(json!({
            "rate": label,
            "messages": tw.messages,
            "tickwire": tw.json(),
            "baseline": base.json(),
            "ratio": r,
        }));
        sides.push((rate, tw, base));
    }
    let chart = plot::latency_by_percentile_chart("End-to-end latency by percentile", &pct_curves);
    std::fs::write(b.out.join("latency_by_percentile.png"), chart)?;
    // The headline: 100k/s when measured, else the first rate.
    let head = sides
        .iter()
        .position(|(s, _, _)| *s == Speed::Rate(100_000.0))
        .unwrap_or(0);
    let (head_rate, head_tw, head_base) = &sides[head];
    std::fs::copy(
        b.out
            .join(rate_dir(*head_rate))
            .join("latency_over_time.png"),
        b.out.join("latency_over_time.png"),
    )?;
    // One ring hop, three queues, same run.
    let hops = super::hop::hops(HOP_ROUND_TRIPS);
    std::fs::create_dir_all(b.out.join("ring_hop"))?;
    let mut hop_json = Map::new();
    for (name, h) in &hops {
        let file = name.replace(' ', "_");
        std::fs::write(b.out.join("ring_hop").join(format!("{file}.hgrm")), hgrm(h))?;
        hop_json.insert((*name).to_string(), json!(percentiles(h)));
    }
    text.push_str(&format!(
        "ring hop p50: {}\n",
        hops.iter()
            .map(|(n, h)| format!("{n} {}", plot::format_ns(h.value_at_quantile(0.5) as f64)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let host = super::host::Host::read(b.config.as_deref(), &b.sets, b.label.as_deref());
    let summary = json!({
        "mode": "bench-latency",
        "command": b.command,
        "config": b.config.as_ref().map_or("built-in tuning/dev-2core.toml".to_string(), |p| p.display().to_string()),
        "input": b.input.as_ref().map_or("synthetic market".to_string(), |p| p.display().to_string()),
        "headline_rate": rate_label(*head_rate),
        "tickwire": { "latency_ns": head_tw.latency_json() },
        "baseline": { "latency_ns": head_base.latency_json() },
        "ratio": ratios(head_tw, head_base),
        "runs": runs,
        "ring_hop_ns": hop_json,
        "host": host.json(),
    });
    std::fs::write(
        b.out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
    )?;
    std::fs::write(
        b.out.join("README.md"),
        readme(b, &summary, &host, &sides, &hops),
    )?;
    Ok(format!("{text}report: {}", b.out.display()))
}

fn speed_spec(s: Speed) -> String {
    match s {
        Speed::Rate(r) => format!("{r}/s"),
        Speed::Factor(f) => format!("{f}x"),
        Speed::Max => "max".into(),
    }
}

fn curve(label: &str, baseline: bool, points: Vec<(f64, f64)>) -> LatencyCurve {
    LatencyCurve {
        label: label.to_string(),
        baseline,
        points,
    }
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| plot::format_ns(x as f64))
}

fn fmt_ratio(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |r| format!("{r:.1}x"))
}

fn readme(
    b: &LatencyBench,
    summary: &Value,
    host: &super::host::Host,
    sides: &[(Speed, Side, Side)],
    hops: &[(&'static str, Histogram<u64>)],
) -> String {
    let mut s = String::new();
    s.push_str(&format!("# Latency report: {}\n\n", host.label));
    s.push_str(&format!(
        "Taken {} with:\n\n```\n{}\n```\n\n",
        clock::iso8601_ms(clock::wall_ns()),
        b.command
    ));
    s.push_str(&format!(
        "- config: {}\n- input: {}\n- messages per rate: {} s of each paced rate; `max` plays as many as the largest\n- every message is timed; paced messages are stamped with the instant they were due (no coordinated omission)\n- baseline: std `mpsc`, `serde_json::Value`, `f64` prices, one unpinned thread per stage, on the same messages at the same rate\n\n",
        summary["config"].as_str().unwrap_or(""),
        summary["input"].as_str().unwrap_or(""),
        b.duration_s,
    ));
    s.push_str("## Host\n\n");
    s.push_str(&host.markdown());
    s.push_str("\n## End to end (ingress to market data leaving the venue stage)\n\n");
    s.push_str("| rate | messages | tickwire p50 | p99 | p99.9 | max | baseline p50 | p99 | p99.9 | max | p50 ratio | p99 ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (rate, tw, base) in sides {
        let r = ratios(tw, base);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            rate_label(*rate),
            tw.messages,
            fmt_opt(tw.p("end_to_end", 0.5)),
            fmt_opt(tw.p("end_to_end", 0.99)),
            fmt_opt(tw.p("end_to_end", 0.999)),
            fmt_opt(tw.p("end_to_end", 1.0)),
            fmt_opt(base.p("end_to_end", 0.5)),
            fmt_opt(base.p("end_to_end", 0.99)),
            fmt_opt(base.p("end_to_end", 0.999)),
            fmt_opt(base.p("end_to_end", 1.0)),
            fmt_ratio(&r["end_to_end"]["p50"]),
            fmt_ratio(&r["end_to_end"]["p99"]),
        ));
    }
    s.push_str("\n## Tick to order (ingress to the order reaching the venue)\n\n| rate | tickwire orders | p50 | p99 | max | baseline orders | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|\n");
    for (rate, tw, base) in sides {
        let n = |x: &Side| x.latency.get("tick_to_order").map_or(0, Histogram::len);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            rate_label(*rate),
            n(tw),
            fmt_opt(tw.p("tick_to_order", 0.5)),
            fmt_opt(tw.p("tick_to_order", 0.99)),
            fmt_opt(tw.p("tick_to_order", 1.0)),
            n(base),
            fmt_opt(base.p("tick_to_order", 0.5)),
            fmt_opt(base.p("tick_to_order", 0.99)),
            fmt_opt(base.p("tick_to_order", 1.0)),
        ));
    }
    s.push_str("\n## Per stage, median (each stage from the previous one's exit, hop included)\n\n| rate | system |");
    let stages = crate::core::config::Stage::ALL.map(|st| st.name());
    for st in stages {
        s.push_str(&format!(" {st} |"));
    }
    s.push_str("\n|---|---|");
    for _ in stages {
        s.push_str("---|");
    }
    s.push('\n');
    for (rate, tw, base) in sides {
        for (name, side) in [("tickwire", tw), ("baseline", base)] {
            s.push_str(&format!("| {} | {name} |", rate_label(*rate)));
            for st in stages {
                s.push_str(&format!(" {} |", fmt_opt(side.p(st, 0.5))));
            }
            s.push('\n');
        }
    }
    s.push_str(&format!("\n## One ring hop between two threads ({HOP_ROUND_TRIPS} ping-pong round trips of a 128-byte envelope, both sides spinning; a hop is half a round trip)\n\n| queue | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n"));
    for (name, h) in hops {
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            plot::format_ns(h.value_at_quantile(0.5) as f64),
            plot::format_ns(h.value_at_quantile(0.9) as f64),
            plot::format_ns(h.value_at_quantile(0.99) as f64),
            plot::format_ns(h.value_at_quantile(0.999) as f64),
            plot::format_ns(h.max() as f64),
        ));
    }
    s.push_str(
        "\n## Throughput reached\n\n| rate | tickwire msg/s | baseline msg/s |\n|---|---|---|\n",
    );
    for (rate, tw, base) in sides {
        s.push_str(&format!(
            "| {} | {:.0} | {:.0} |\n",
            rate_label(*rate),
            tw.messages as f64 / tw.elapsed_s.max(1e-9),
            base.messages as f64 / base.elapsed_s.max(1e-9),
        ));
    }
    s.push_str("\nA paced rate the system could not keep up with shows as a reached rate below it, and as latency that grows over the run (see the plots).\n\n");
    s.push_str("## Plots\n\n![latency by percentile](latency_by_percentile.png)\n\n");
    s.push_str(&format!(
        "![latency over time at {}](latency_over_time.png)\n\n",
        summary["headline_rate"].as_str().unwrap_or("")
    ));
    s.push_str("## Files\n\n- `summary.json`: both `latency_ns` blocks (headline rate), ratios, every rate under `runs`\n- `<rate>/tickwire/`: tickwire's run summary (`summary.json`, `report.md`, `latency/<stage>.hgrm`, `end_to_end.hlog`; the trading files are not kept)\n- `<rate>/baseline/`: `latency/<stage>.hgrm`, `end_to_end.hlog`\n- `<rate>/latency_over_time.png`\n- `ring_hop/<queue>.hgrm`: one hop per queue\n\n");
    s.push_str("## Host findings (`tickwire doctor`)\n\n");
    s.push_str(&host.findings);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_label() {
        let r = parse_rates("10k, 100k/s,1M,max,2500").unwrap();
        assert_eq!(
            r,
            vec![
                Speed::Rate(10_000.0),
                Speed::Rate(100_000.0),
                Speed::Rate(1_000_000.0),
                Speed::Max,
                Speed::Rate(2_500.0)
            ]
        );
        let labels: Vec<String> = r.iter().map(|s| rate_label(*s)).collect();
        assert_eq!(labels, ["10k/s", "100k/s", "1M/s", "max", "2500/s"]);
        assert_eq!(rate_dir(Speed::Rate(1e6)), "1M");
        assert!(parse_rates("fast").is_err());
        assert!(parse_rates("").is_err());
        assert!(parse_rates("2x").is_err());
    }

    #[test]
    fn message_counts_follow_the_rates() {
        let rates = [Speed::Rate(1_000.0), Speed::Rate(10_000.0), Speed::Max];
        assert_eq!(count_for(rates[0], &rates, 2.0), 2_000);
        assert_eq!(count_for(Speed::Max, &rates, 2.0), 20_000);
        assert_eq!(count_for(Speed::Max, &[Speed::Max], 2.0), MAX_RATE_MESSAGES);
        assert_eq!(count_for(Speed::Rate(1e9), &rates, 100.0), MAX_MESSAGES);
    }
}
