//! The command line as a user meets it: the built-in default run, clean stops, and one-line
//! errors for every user mistake (never a panic or a backtrace).

mod common;

use std::process::{Command, Output};

use common::*;

fn tickwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("spawn tickwire")
}

fn assert_user_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn default_run_trades_and_reports() {
    let dir = report_dir("cli-run");
    // The issue's own check: ten seconds of the built-in default (after its warm-up history,
    // on which the strategy does not trade).
    let out = tickwire(&[
        "run",
        "--duration",
        "10s",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&dir);
    assert_eq!(s["mode"], "run");
    assert!(s["messages"]["received"].as_u64().unwrap() > 10_000);
    assert!(s["orders"].as_u64().unwrap() > 0, "{s}");
    assert!(s["fills"].as_u64().unwrap() > 0);
    for t in s["threads"].as_array().unwrap() {
        assert_eq!(t["allocations"], 0);
    }
    for k in ["parse", "venue", "tick_to_order"] {
        let l = &s["latency_ns"][k];
        assert!(l["count"].as_u64().unwrap() > 0, "{k}");
        for p in ["p50", "p90", "p99", "p999", "p9999", "max"] {
            assert!(l[p].is_u64(), "{k}.{p}");
        }
    }
    // The live status line went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("msgs"));
    // metrics.jsonl samples the process's memory over time (ten seconds: several lines).
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).expect("metrics.jsonl line is JSON"))
        .collect();
    assert!(lines.len() >= 2, "{metrics}");
    if cfg!(target_os = "linux") {
        assert!(lines
            .iter()
            .all(|l| l["rss_kib"].as_u64().is_some_and(|k| k > 0)));
    }
}

#[test]
fn sigterm_drains_and_writes_the_report() {
    let dir = report_dir("cli-sigterm");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["run", "--report-dir", dir.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the run is live, then ask it to stop.
    for _ in 0..200 {
        if dir.join("journal.md").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let s = read_summary(&dir);
    assert!(s["messages"]["received"].as_u64().unwrap() > 0);
    let journal = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    assert!(journal.contains("## Final summary"));
}

#[test]
fn unknown_config_key_is_named() {
    let dir = report_dir("cli-badkey");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "[risk]\nmax_order_notinal = \"5\"\n").unwrap();
    let out = tickwire(&["run", "--config", cfg.to_str().unwrap(), "--duration", "1s"]);
    assert_user_error(&out, "max_order_notinal");
}

#[test]
fn broken_toml_and_missing_files_are_one_line_errors() {
    let dir = report_dir("cli-broken");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("broken.toml");
    std::fs::write(&cfg, "[risk\nmax = ").unwrap();
    assert_user_error(
        &tickwire(&["run", "--config", cfg.to_str().unwrap()]),
        "broken.toml",
    );
    let missing = tickwire(&["run", "--config", "/no/such/config.toml"]);
    assert_user_error(&missing, "/no/such/config.toml");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(
        err.matches("os error 2").count(),
        1,
        "the cause once: {err}"
    );
    assert_user_error(
        &tickwire(&["replay", "--input", "/no/such/capture.jsonl.zst"]),
        "/no/such/capture.jsonl.zst",
    );
    assert_user_error(&tickwire(&["run", "--duration", "fast"]), "--duration");
}

#[test]
fn core_that_does_not_exist_is_refused_before_start() {
    let dir = report_dir("cli-core");
    let out = tickwire(&[
        "run",
        "--set",
        "lanes.0.threads.0.core=4096",
        "--duration",
        "1s",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_user_error(&out, "core 4096");
    assert!(!dir.join("summary.json").exists(), "nothing may start");
}

#[test]
fn replay_counts_the_capture() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("cli-replay");
    let cap = btc_capture(&data);
    let out = tickwire(&[
        "replay",
        "--input",
        cap.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("9757 trades, 28040 book tickers, 0 malformed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("9757 trades in 9757 messages, 28040 quotes, 3451 depth, 1 snapshots"),
        "{stdout}"
    );
}

#[test]
fn corrupted_capture_replays_to_completion() {
    // One in five real messages corrupted (truncated, a byte flipped, a type changed): exit 0,
    // every good message processed, every bad one counted as malformed.
    let Some(data) = shared_data() else { return };
    let cap = tickwire::feed::replay::Capture::load(&btc_capture(&data)).unwrap();
    let dir = report_dir("cli-corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = Vec::new();
    let (mut good_trades, mut good_books, mut bad) = (0u64, 0u64, 0u64);
    for i in 0..cap.lines.len() {
        let line = cap.line(i);
        let is_trade = line.windows(9).any(|w| w == b"\"e\":\"trad");
        let is_book = line.windows(12).any(|w| w == b"@bookTicker\"");
        if i % 5 == 4 {
            let mut l = line.to_vec();
            match (i / 5) % 3 {
                0 => l.truncate(l.len() / 2),
                1 => {
                    let k = l.len() - 3;
                    l[k] = b'{';
                }
                _ => {
                    l = String::from_utf8_lossy(&l)
                        .replacen("\"E\":", "\"E\":\"", 1)
                        .replacen("\"u\":", "\"u\":[", 1)
                        .into_bytes();
                    if !l.windows(2).any(|w| w == b"\"E" || w == b"\"u") {
                        l.truncate(10);
                    }
                }
            }
            bad += 1;
            text.extend_from_slice(&l);
        } else {
            good_trades += u64::from(is_trade);
            good_books += u64::from(is_book);
            text.extend_from_slice(line);
        }
        text.push(b'\n');
    }
    let path = dir.join("corrupt.jsonl");
    std::fs::write(&path, &text).unwrap();
    let out = tickwire(&[
        "replay",
        "--input",
        path.to_str().unwrap(),
        "--report-dir",
        dir.join("r").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&dir.join("r"));
    assert_eq!(s["events"]["trades"], good_trades);
    assert_eq!(s["events"]["book_tickers"], good_books);
    assert_eq!(s["messages"]["malformed"], bad);
}

#[test]
fn a_closed_stdout_ends_output_quietly() {
    // `tickwire … | head -1`: the reader is gone before tickwire prints; no panic, no noise.
    let dir = report_dir("cli-pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "run",
            "--duration",
            "1s",
            "--report-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}
