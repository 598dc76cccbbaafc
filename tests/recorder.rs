//! The catalog recorder end to end: a replay of the real BTCUSDT capture records exactly the
//! rows `data import` reads from the same file; recording it again adds nothing; a recorder
//! ring too small drops and counts instead of making the hot path wait; anomalies become
//! rows; a timed run writes one catalog version after another, each verified.

mod common;

use std::path::Path;

use common::*;
use tickwire::catalog::rows::{AnomalyRow, CandleRow, QuoteRow, Record, TradeRow};
use tickwire::catalog::{maint, Catalog, Kind};
use tickwire::core::Resolution;

fn rows<R: Record>(cat: &Path, kind: Kind, venue: &str, instrument: &str) -> Vec<R> {
    Catalog::open(cat)
        .unwrap()
        .scan::<R>(kind, Some(venue), instrument, i64::MIN, i64::MAX)
        .unwrap()
        .0
}

fn verified(cat: &Path) -> maint::VerifyReport {
    let v = maint::verify(&Catalog::open(cat).unwrap()).unwrap();
    assert!(v.ok(), "verify: {:?}", v.errors);
    assert_eq!(v.duplicates, 0);
    v
}

fn replay(capture: &Path, dir: &Path, cat: &Path, sets: &[String]) -> serde_json::Value {
    let out = replay_cmd(capture, dir, "max", sets)
        .args(["--record", cat.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_summary(dir)
}

fn taken(s: &serde_json::Value, kind: &str) -> u64 {
    s["recorder"]["taken"][kind].as_u64().unwrap_or(0)
}

/// Rows the recorder took in, all kinds.
fn total_taken(r: &serde_json::Value) -> u64 {
    r["taken"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

/// The BTCUSDT capture, a fresh directory `name` and the catalog path inside it; `None`
/// (skip) without `../shared/data`.
fn setup(name: &str) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let data = shared_data()?;
    let base = report_dir(name);
    let cat = base.join("cat");
    Some((btc_capture(&data), base, cat))
}

fn zero_hot_allocations(s: &serde_json::Value) {
    for t in s["threads"].as_array().unwrap() {
        assert_eq!(t["allocations"], 0, "hot thread {} allocated", t["name"]);
    }
}

#[test]
fn a_replay_records_what_import_reads_and_recording_again_adds_nothing() {
    let Some((capture, base, cat)) = setup("recorder-replay") else {
        return;
    };
    let s = replay(&capture, &base.join("r1"), &cat, &[]);
    zero_hot_allocations(&s);
    assert_eq!(taken(&s, "trades"), 9_757);
    assert_eq!(taken(&s, "quotes"), 28_040);
    assert_eq!(
        taken(&s, "candles_1s"),
        s["candles"]["1s"].as_u64().unwrap()
    );
    assert_eq!(
        taken(&s, "candles_1m"),
        s["candles"]["1m"].as_u64().unwrap()
    );
    let r = &s["recorder"];
    let all = total_taken(r);
    assert_eq!(r["written"], all, "{r}");
    for k in [
        "dropped_ring",
        "dropped_anomalies",
        "dropped_buffer",
        "unrecordable",
        "lost",
        "duplicates",
    ] {
        assert_eq!(r[k], 0, "{k}: {r}");
    }
    let journal = std::fs::read_to_string(base.join("r1/journal.md")).unwrap();
    assert!(
        journal.contains(&format!("recorder: {all} rows taken in, {all} written")),
        "{journal}"
    );

    // The same file through `data import`: the same trades and quotes, row for row.
    let imported = base.join("imported");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["data", "import", "--catalog", imported.to_str().unwrap()])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Vec<TradeRow> = rows(&cat, Kind::Trades, "binance", "BTCUSDT");
    assert_eq!(t.len(), 9_757);
    assert_eq!(
        t,
        rows::<TradeRow>(&imported, Kind::Trades, "binance", "BTCUSDT")
    );
    let q: Vec<QuoteRow> = rows(&cat, Kind::Quotes, "binance", "BTCUSDT");
    assert_eq!(q.len(), 28_040);
    assert_eq!(
        q,
        rows::<QuoteRow>(&imported, Kind::Quotes, "binance", "BTCUSDT")
    );
    // Candles as the pipeline closed them (the bucket still open at the end is not a
    // candle): every trade before the last close in exactly one 1 s candle, volumes summing
    // to those trades'.
    let c: Vec<CandleRow> = rows(&cat, Kind::Candles(Resolution::S1), "binance", "BTCUSDT");
    assert_eq!(c.len() as u64, taken(&s, "candles_1s"));
    let end = c.last().unwrap().open_ns + 1_000_000_000;
    let closed: Vec<&TradeRow> = t.iter().filter(|t| t.ts_ns < end).collect();
    assert!(
        closed.len() > 9_700 && closed.len() < 9_757,
        "{}",
        closed.len()
    );
    assert_eq!(c.iter().map(|c| c.trades).sum::<u64>(), closed.len() as u64);
    assert_eq!(
        c.iter().map(|c| i128::from(c.volume)).sum::<i128>(),
        closed.iter().map(|t| i128::from(t.qty)).sum::<i128>()
    );
    let v = verified(&cat);
    assert_eq!(v.rows, all);
    let version = Catalog::open(&cat).unwrap().manifest().version;

    // Again, on another thread layout (the tap on its own indicators thread): every row is
    // already there; no version is written.
    let sets: Vec<String> = SPREAD.iter().map(|s| s.to_string()).collect();
    let s2 = replay(&capture, &base.join("r2"), &cat, &sets);
    zero_hot_allocations(&s2);
    assert_eq!(s2["recorder"]["written"], 0);
    assert_eq!(s2["recorder"]["duplicates"], all);
    assert_eq!(Catalog::open(&cat).unwrap().manifest().version, version);
    assert_eq!(verified(&cat).rows, all);
}

#[test]
fn a_full_recorder_ring_drops_and_counts_and_the_replay_loses_nothing_else() {
    let Some((capture, base, cat)) = setup("recorder-drops") else {
        return;
    };
    let s = replay(
        &capture,
        &base.join("r"),
        &cat,
        &["recorder.ring=16".into()],
    );
    let r = &s["recorder"];
    let dropped = r["dropped_ring"].as_u64().unwrap();
    assert!(
        dropped > 0,
        "a 16-slot ring behind a max-speed replay drops: {r}"
    );
    // Everything the tap was offered is taken or dropped; what was taken is written.
    let offered = 9_757
        + 28_040
        + s["candles"]["1s"].as_u64().unwrap()
        + s["candles"]["1m"].as_u64().unwrap();
    let all = total_taken(r);
    assert_eq!(all + dropped, offered, "{r}");
    assert_eq!(r["written"], all);
    assert_eq!(verified(&cat).rows, all);
    // The pipeline itself saw every message: the drops are the recorder's alone.
    assert_eq!(s["events"]["trades"], 9_757);
    assert_eq!(s["cold_drops"], 0);
    let journal = std::fs::read_to_string(base.join("r/journal.md")).unwrap();
    assert!(journal.contains("**recorder dropped**"), "{journal}");
    assert!(journal.contains(&format!("ring {dropped}")), "{journal}");
}

#[test]
fn anomalies_become_rows_of_their_own_kind() {
    let Some(data) = shared_data() else {
        return;
    };
    // The capture's first 3,000 trade messages with two holes cut and one message repeated.
    let text = String::from_utf8(
        zstd::decode_all(&std::fs::read(btc_capture(&data)).unwrap()[..]).unwrap(),
    )
    .unwrap();
    let trades: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(r#"{"stream":"btcusdt@trade""#))
        .take(3_000)
        .collect();
    let mut lines: Vec<&str> = Vec::new();
    for (i, l) in trades.iter().enumerate() {
        if i == 1_000 || i == 2_000 || i == 2_001 {
            continue;
        }
        lines.push(l);
        if i == 1_500 {
            lines.push(l);
        }
    }
    let base = report_dir("recorder-anomalies");
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("binance_btcusdt_holes.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let cat = base.join("cat");
    let s = replay(&file, &base.join("r"), &cat, &[]);
    let (gaps, dups) = (
        s["anomalies"]["gap"].as_u64().unwrap(),
        s["anomalies"]["duplicate"].as_u64().unwrap(),
    );
    assert_eq!((gaps, dups), (2, 1), "{}", s["anomalies"]);
    let total: u64 = s["anomalies"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(taken(&s, "anomalies"), total);
    let a: Vec<AnomalyRow> = rows(&cat, Kind::Anomalies, "binance", "BTCUSDT");
    assert_eq!(a.len() as u64, total);
    let names: Vec<&str> = a
        .iter()
        .map(|r| tickwire::core::stats::AnomalyKind::ALL[usize::from(r.category)].name())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "gap").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "duplicate").count(),
        1,
        "{names:?}"
    );
    // A gap row says which id was expected and which arrived: one id cut, then two.
    let mut missing: Vec<i64> = a
        .iter()
        .zip(&names)
        .filter(|(_, n)| **n == "gap")
        .map(|(r, _)| r.got - r.expected)
        .collect();
    missing.sort_unstable();
    assert_eq!(missing, vec![1, 2]);
    // The trades are the ones that arrived, each once.
    let t: Vec<TradeRow> = rows(&cat, Kind::Trades, "binance", "BTCUSDT");
    assert_eq!(t.len(), 2_997);
    verified(&cat);
    // Readable as CSV too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "data",
            "query",
            "--catalog",
            cat.to_str().unwrap(),
            "--kind",
            "anomalies",
            "--instrument",
            "BTCUSDT",
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.starts_with("ts_ns,category,source,seq,expected,got\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count() as u64, total + 1, "{csv}");
}

#[test]
fn small_batches_append_version_after_version_and_equal_one_big_write() {
    let Some((capture, base, cat)) = setup("recorder-batches") else {
        return;
    };
    // A write every 1,000 rows: the recorder drains at most 4,096 rows a pass, so the
    // capture's 38,147 rows cannot all go in one version.
    let s = replay(
        &capture,
        &base.join("r"),
        &cat,
        &[
            "recorder.flush_rows=1000".into(),
            "recorder.max_files=16".into(),
        ],
    );
    zero_hot_allocations(&s);
    let r = &s["recorder"];
    let (first, last) = (
        r["versions"][0].as_u64().unwrap(),
        r["versions"][1].as_u64().unwrap(),
    );
    assert!(last > first, "{r}");
    assert_eq!(r["flushes"].as_u64().unwrap(), last - first + 1);
    for n in first..=last {
        assert!(
            cat.join(format!("versions/{n:08}.json")).is_file(),
            "version {n}"
        );
    }
    // Later rows are appended as files of their own: more files than partitions.
    let m = Catalog::open(&cat).unwrap();
    let partitions = m.partitions().len() as u64;
    assert!(r["appended"].as_u64().unwrap() > partitions, "{r}");
    let all = total_taken(r);
    assert_eq!(r["written"], all, "{r}");
    assert_eq!(r["duplicates"], 0);
    assert_eq!(verified(&cat).rows, all);
    // The same rows as one write of the whole capture.
    let one = base.join("one");
    replay(&capture, &base.join("r1"), &one, &[]);
    assert_eq!(
        rows::<TradeRow>(&cat, Kind::Trades, "binance", "BTCUSDT"),
        rows::<TradeRow>(&one, Kind::Trades, "binance", "BTCUSDT")
    );
    assert_eq!(
        rows::<QuoteRow>(&cat, Kind::Quotes, "binance", "BTCUSDT"),
        rows::<QuoteRow>(&one, Kind::Quotes, "binance", "BTCUSDT")
    );
    assert_eq!(
        rows::<CandleRow>(&cat, Kind::Candles(Resolution::S1), "binance", "BTCUSDT"),
        rows::<CandleRow>(&one, Kind::Candles(Resolution::S1), "binance", "BTCUSDT")
    );
}

#[test]
fn a_live_run_of_the_synthetic_market_records_under_its_own_venue() {
    let base = report_dir("recorder-run");
    let cat = base.join("cat");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "run",
            "--duration",
            "2s",
            "--report-dir",
            base.join("r").to_str().unwrap(),
            "--record",
            cat.to_str().unwrap(),
            "--set",
            "cold.status_line=false",
            "--set",
            "ops.http=\"off\"",
        ])
        .env_remove("TICKWIRE_FAULT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&base.join("r"));
    zero_hot_allocations(&s);
    let r = &s["recorder"];
    let all = total_taken(r);
    assert!(all > 0, "{r}");
    assert_eq!(r["written"], all, "{r}");
    assert_eq!(verified(&cat).rows, all);
    for sym in ["BTCUSDT", "ETHUSDT"] {
        let t: Vec<TradeRow> = rows(&cat, Kind::Trades, "synthetic", sym);
        assert!(!t.is_empty(), "{sym}");
        assert!(
            t.windows(2).all(|w| w[0].id < w[1].id),
            "{sym}: ids in order, once each"
        );
    }
}
