//! `tickwire bench latency` and `bench throughput` end to end: one command, a report
//! directory a user can open. Checks structure and counts only (never timings: the machine
//! is shared).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .output()
        .expect("spawn tickwire");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// Total count of an `.hgrm` file (its `Total count` footer).
fn hgrm_count(p: &Path) -> u64 {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let line = text
        .lines()
        .find(|l| l.contains("Total count"))
        .unwrap_or_else(|| panic!("{}: no footer", p.display()));
    line.rsplit('=')
        .next()
        .and_then(|v| v.trim().trim_end_matches(']').trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: {line}", p.display()))
}

#[test]
fn one_command_writes_a_latency_report_with_both_systems() {
    let dir = report_dir("bench-latency");
    let (ok, stdout, stderr) = run(&[
        "bench",
        "latency",
        "--rates",
        "20k,max",
        "--duration",
        "0.5s",
        "--interval-ms",
        "50",
        "--label",
        "test box",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("20k/s:") && stdout.contains("max:"),
        "{stdout}"
    );
    assert!(stdout.contains("ring hop p50"), "{stdout}");

    // The summary: both latency blocks with the DESIGN keys, ratios, every rate.
    let s = read_summary(&dir);
    assert_eq!(s["mode"], "bench-latency");
    assert_eq!(s["headline_rate"], "20k/s");
    for side in ["tickwire", "baseline"] {
        for key in ["parse", "venue", "end_to_end"] {
            let l = &s[side]["latency_ns"][key];
            for p in ["count", "p50", "p90", "p99", "p999", "p9999", "max"] {
                assert!(l[p].is_u64(), "{side}.{key}.{p}: {l}");
            }
        }
        // Every message of the paced run was timed end to end (all are market data).
        assert_eq!(
            s[side]["latency_ns"]["end_to_end"]["count"], 10_000,
            "{side}"
        );
    }
    assert!(s["ratio"]["end_to_end"]["p50"].as_f64().unwrap() > 0.0);
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["messages"], 10_000);
    assert_eq!(runs[1]["rate"], "max");
    assert_eq!(
        runs[0]["tickwire"]["detail"]["hot_thread_allocations"], 0,
        "the hot path allocated"
    );
    for q in [
        "tickwire spsc ring",
        "crossbeam ArrayQueue",
        "std mpsc sync_channel",
    ] {
        assert!(s["ring_hop_ns"][q]["count"].as_u64().unwrap() > 0, "{q}");
    }
    assert_eq!(s["host"]["label"], "test box");

    // Files: hgrm per stage and end to end for both systems, hlog, plots, README.
    for rate in ["20k", "max"] {
        for side in ["tickwire", "baseline"] {
            let lat = dir.join(rate).join(side).join("latency");
            for st in [
                "parse",
                "arbiter",
                "candles",
                "indicators",
                "signals",
                "risk",
                "venue",
                "end_to_end",
            ] {
                assert!(
                    hgrm_count(&lat.join(format!("{st}.hgrm"))) > 0,
                    "{rate}/{side}/{st}"
                );
            }
            let hlog =
                std::fs::read_to_string(dir.join(rate).join(side).join("end_to_end.hlog")).unwrap();
            assert!(hlog.contains("#[BaseTime:"), "{hlog}");
            assert!(hlog.lines().filter(|l| l.starts_with("Tag=")).count() >= 1);
        }
        assert!(
            is_png(&dir.join(rate).join("latency_over_time.png")),
            "{rate}"
        );
    }
    assert_eq!(
        hgrm_count(&dir.join("20k/tickwire/latency/end_to_end.hgrm")),
        10_000
    );
    // A benchmark report keeps the latency, not the trading files of the run.
    assert!(dir.join("20k/tickwire/summary.json").is_file());
    assert!(!dir.join("20k/tickwire/decisions.csv").exists());
    assert!(!dir.join("20k/tickwire/metrics.jsonl").exists());
    assert!(is_png(&dir.join("latency_by_percentile.png")));
    assert!(is_png(&dir.join("latency_over_time.png")));
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for needle in [
        "# Latency report: test box",
        "bench latency --rates 20k,max",
        "--label 'test box'",
        "rustc",
        "CPU:",
        "isolated (isolcpus):",
        "governor:",
        "| 20k/s | 10000 |",
        "![latency by percentile](latency_by_percentile.png)",
        "tickwire spsc ring",
        "Host findings",
    ] {
        assert!(
            readme.contains(needle),
            "README lacks `{needle}`:\n{readme}"
        );
    }
}

#[test]
fn bad_rates_are_one_line_errors() {
    let (ok, _, stderr) = run(&["bench", "latency", "--rates", "fast", "--out", "/tmp/never"]);
    assert!(!ok);
    assert!(stderr.contains("--rates: `fast`"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let (ok, _, stderr) = run(&["bench", "nonsense"]);
    assert!(!ok);
    assert!(
        stderr.contains("choose `latency` or `throughput`"),
        "{stderr}"
    );
}

#[test]
fn throughput_compares_topologies_on_a_real_capture() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("bench-throughput");
    let input = data.join("ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst");
    let (ok, stdout, stderr) = run(&[
        "bench",
        "throughput",
        "--input",
        input.to_str().unwrap(),
        "--loops",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let s = read_summary(&dir);
    let tops: Vec<&str> = s["topologies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topology"].as_str().unwrap())
        .collect();
    assert!(tops.starts_with(&["config", "fused", "split"]), "{tops:?}");
    let first = &s["topologies"][0];
    for t in s["topologies"].as_array().unwrap() {
        // Same messages, same work, nothing lost, whatever the topology.
        assert_eq!(t["messages"], first["messages"], "{stdout}");
        assert_eq!(t["trades"], first["trades"]);
        assert_eq!(t["candles"], first["candles"]);
        assert_eq!(t["lost"], 0);
        assert_eq!(t["hot_thread_allocations"], 0);
        assert!(t["messages_per_s"].as_f64().unwrap() > 0.0);
    }
    assert!(s["baseline"]["messages_per_s"].as_f64().unwrap() > 0.0);
}
