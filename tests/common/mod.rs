//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod binance_mock;
pub mod reference;
pub mod ws_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tickwire::core::config::{Config, ConfigSource};
use tickwire::runtime::{self, RunOptions, RunResult};

/// `../shared/data`, or `None` (with a message) when it is absent. With
/// `REQUIRE_SHARED_DATA=1` (CI) a missing directory is a failure, not a skip.
pub fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("REQUIRE_SHARED_DATA").as_deref() == Ok("1") {
        panic!("REQUIRE_SHARED_DATA=1 but {} is missing", p.display());
    }
    eprintln!(
        "skipping: {} not found (a fresh clone has no ../shared)",
        p.display()
    );
    None
}

/// The BTCUSDT spot capture used by several tests.
pub fn btc_capture(data: &Path) -> PathBuf {
    data.join("ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst")
}

/// A fresh report directory under the target dir.
pub fn report_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every hot stage on its own thread (signals and risk share one: the trader), parked when
/// idle (friendly to a 2-core CI box).
pub const SPREAD: &[&str] = &[
    "lanes.0.threads=[{name='feed',stages=['parse'],wait='spin-then-park'},{name='arb',stages=['arbiter'],wait='spin-then-park'},{name='candles',stages=['candles'],wait='spin-then-park'},{name='ind',stages=['indicators'],wait='spin-then-park'},{name='trader',stages=['signals','risk'],wait='spin-then-park'},{name='venue',stages=['venue'],wait='spin-then-park'}]",
];

/// Loads the built-in config with overrides and runs it in-process.
pub fn run_with(sets: &[String], mode: &str, dir: &Path) -> RunResult {
    run_until_stopped(sets, mode, dir, Arc::new(AtomicBool::new(false)))
}

/// [`run_with`], ended early when `stop` is set (as Ctrl-C would).
pub fn run_until_stopped(
    sets: &[String],
    mode: &str,
    dir: &Path,
    stop: Arc<AtomicBool>,
) -> RunResult {
    let mut all = vec!["cold.status_line=false".to_string()];
    all.extend(sets.iter().cloned());
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    let cfg = Config::load(ConfigSource::Default, &all, &cores).expect("config");
    runtime::run(
        &cfg,
        RunOptions {
            mode: mode.into(),
            report_dir: dir.to_path_buf(),
            duration: None,
            stop,
            captures: None,
            progress: None,
            progress_total: None,
            latency_intervals: None,
        },
    )
    .expect("run")
}

/// `--set` lines that replay `files` at max speed.
pub fn replay_sets(files: &[&Path]) -> Vec<String> {
    let list: Vec<String> = files
        .iter()
        .map(|f| toml::Value::String(f.display().to_string()).to_string())
        .collect();
    vec![
        "source.kind='replay'".into(),
        format!("source.files=[{}]", list.join(",")),
        "source.speed='max'".into(),
    ]
}

/// Account identity: final equity = initial + realized + unrealized − fees (to a cent), across
/// every lane. Catches a missing closing snapshot and lanes overwriting each other.
pub fn assert_account_adds_up(s: &serde_json::Value) {
    let pnl = &s["pnl"];
    let want = 100_000.0 + pnl["realized"].as_f64().unwrap() + pnl["unrealized"].as_f64().unwrap()
        - pnl["fees"].as_f64().unwrap();
    let got = s["equity"]["final"].as_f64().unwrap();
    assert!(
        (got - want).abs() < 0.02,
        "final equity {got} but PnL says {want}: {s}"
    );
}

/// A report directory's summary.json.
pub fn read_summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json"))
        .expect("summary.json is JSON")
}

/// `tickwire replay` of `capture` into `dir` at `speed`, without the status line and without
/// injected faults, with `sets` as more `--set KEY=VALUE`s.
pub fn replay_cmd(
    capture: &Path,
    dir: &Path,
    speed: &str,
    sets: &[String],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tickwire"));
    cmd.args([
        "replay",
        "--input",
        capture.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
        "--speed",
        speed,
        "--set",
        "cold.status_line=false",
    ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.env_remove("TICKWIRE_FAULT");
    cmd
}
