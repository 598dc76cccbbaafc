//! Parity with backtesting.py: tickwire's `sma_cross` in bar mode against backtesting.py
//! 0.6.6's canonical `SmaCross` (10/20, `trade_on_close=False`, commission 0, cash
//! 10,000,000, whole units) on the same real candles, trade by trade.
//!
//! The expectations are committed under `tests/fixtures/parity/` (made by
//! `scripts/parity_backtesting.py`, whose README there lists every semantic rule); the
//! candles are the first six columns of `tests/fixtures/talib/<name>.csv.zst`. Nothing here
//! needs `../shared/data`.
//!
//! Three series agree exactly: Binance BTCUSDT 1m (776 trades), FTX BTC-PERP 1m (598, with
//! two exact SMA ties that make backtesting.py close and re-open in the same direction) and
//! BTC daily (57). The fourth fixture, Coinbase BTCUSD 1h, is not compared: its source has
//! rows out of time order, which backtesting.py takes by position and tickwire, a
//! time-driven engine, merges into the earlier bars (late data).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Exact decimal text → 10⁻⁸ integer.
fn scaled(s: &str) -> i128 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let neg = int.starts_with('-');
    let mut f = frac.to_string();
    assert!(f.len() <= 8, "{s}");
    while f.len() < 8 {
        f.push('0');
    }
    let v = int.trim_start_matches('-').parse::<i128>().unwrap() * 100_000_000
        + f.parse::<i128>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

/// `2025-08-01T00:24:00.000Z` → ms since the epoch.
fn iso_ms(s: &str) -> i64 {
    let b = s.as_bytes();
    let num = |a: usize, n: usize| s[a..a + n].parse::<i64>().unwrap();
    assert_eq!((b[4], b[10], b[23]), (b'-', b'T', b'Z'), "{s}");
    let (y, m, d) = (num(0, 4), num(5, 2), num(8, 2));
    // Days from civil (proleptic Gregorian).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + num(11, 2)) * 60 + num(14, 2)) * 60_000 + num(17, 2) * 1000 + num(20, 3)
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// `tickwire <command> --data DATA [--report-dir REPORT] <extra>`.
fn tickwire(
    command: &str,
    data: &Path,
    report: Option<&Path>,
    extra: &[&str],
) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tickwire"));
    c.arg(command).arg("--data").arg(data);
    if let Some(r) = report {
        c.arg("--report-dir").arg(r);
    }
    c.args(extra).output().expect("tickwire runs")
}

/// The same, which must succeed.
fn tickwire_ok(command: &str, data: &Path, report: &Path, extra: &[&str]) {
    let out = tickwire(command, data, Some(report), extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs tickwire's `sma_cross` backtest on fixture `name`'s candles; returns its report dir.
fn run(name: &str, extra: &[&str]) -> PathBuf {
    let tag = extra.join("").replace('-', "");
    let (dir, data) = fixture_copy(name, &format!("parity-{name}{tag}"));
    let report = dir.join("report");
    let mut args = vec![
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=20",
        "--param",
        "whole_units=true",
        "--set",
        "paper.initial_cash=\"10000000\"",
        "--set",
        "risk.initial_equity=\"10000000\"",
        "--set",
        "paper.taker_fee_bps=\"0\"",
        "--set",
        "paper.maker_fee_bps=\"0\"",
    ];
    args.extend_from_slice(extra);
    tickwire_ok("backtest", &data, &report, &args);
    report
}

fn total_return_pct(report: &Path) -> f64 {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    s["stats"]["total_return_pct"].as_f64().unwrap()
}

fn check_series(name: &str) {
    let report = run(name, &[]);
    let (rh, want) = csv_rows(&root().join(format!("tests/fixtures/parity/{name}_trades.csv")));
    let (gh, got) = csv_rows(&report.join("trades.csv"));
    assert_eq!(got.len(), want.len(), "{name}: closed trades");
    for (k, (w, g)) in want.iter().zip(&got).enumerate() {
        let wv = |c: &str| w[col(&rh, c)].as_str();
        let gv = |c: &str| g[col(&gh, c)].as_str();
        let ctx = format!("{name} trade {k}: want {w:?}, got {g:?}");
        assert_eq!(
            iso_ms(gv("entry_time")),
            wv("entry_time_ms").parse::<i64>().unwrap(),
            "{ctx}"
        );
        assert_eq!(
            iso_ms(gv("exit_time")),
            wv("exit_time_ms").parse::<i64>().unwrap(),
            "{ctx}"
        );
        assert_eq!(gv("side"), wv("direction"), "{ctx}");
        assert_eq!(
            scaled(gv("entry_price")),
            scaled(wv("entry_price")),
            "{ctx}"
        );
        assert_eq!(scaled(gv("exit_price")), scaled(wv("exit_price")), "{ctx}");
        assert_eq!(scaled(gv("qty")), scaled(wv("size")), "{ctx}");
        // backtesting.py's pnl is float64 arithmetic on the same numbers.
        let (gp, wp): (f64, f64) = (gv("pnl").parse().unwrap(), wv("pnl").parse().unwrap());
        assert!((gp - wp).abs() <= 1e-6 * wp.abs().max(1.0), "{ctx}");
    }
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("tests/fixtures/parity/{name}_summary.json")))
            .unwrap(),
    )
    .unwrap();
    let want_ret = s["stats"]["Return [%]"].as_f64().unwrap();
    let got_ret = total_return_pct(&report);
    // The issue asks for 0.5 %; exact integers give the same money to 1e-9 of a percent.
    assert!(
        (got_ret - want_ret).abs() <= 1e-6 * want_ret.abs().max(1.0),
        "{name}: return {got_ret} vs backtesting.py {want_ret}"
    );
}

#[test]
fn binance_btcusdt_1m_matches_backtesting_py_trade_by_trade() {
    check_series("binance_btcusdt_1m");
}

#[test]
fn ftx_btcperp_1m_matches_including_same_direction_reentries_after_ties() {
    check_series("ftx_btcperp_1m");
}

#[test]
fn binance_btcusdt_1d_matches_backtesting_py_trade_by_trade() {
    check_series("binance_btcusdt_1d");
}

#[test]
fn fill_at_close_enters_on_the_signal_bar_at_its_close() {
    // `--fill close`: the order decided on bar i fills at bar i's close (backtesting.py's
    // trade_on_close=True). Same signals, so the same number of trades (plus, possibly,
    // the last bar's signal, which can now fill), each entered at the close of the bar
    // before the next-open fill's bar.
    let name = "binance_btcusdt_1m";
    let report = run(name, &["--fill", "close"]);
    let (gh, got) = csv_rows(&report.join("trades.csv"));
    let (rh, want) = csv_rows(&root().join(format!("tests/fixtures/parity/{name}_trades.csv")));
    assert!(got.len() >= want.len() && got.len() <= want.len() + 1);
    // Closes by open time from the candle file.
    let text = {
        let bytes =
            std::fs::read(root().join(format!("tests/fixtures/talib/{name}.csv.zst"))).unwrap();
        String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
    };
    let mut close_of = std::collections::HashMap::new();
    let mut prev_open = std::collections::HashMap::new();
    let mut last: Option<i64> = None;
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let t: i64 = f[0].parse().unwrap();
        close_of.insert(t, scaled(f[4]));
        if let Some(p) = last {
            prev_open.insert(t, p);
        }
        last = Some(t);
    }
    for (w, g) in want.iter().zip(&got) {
        let entry_next_open: i64 = w[col(&rh, "entry_time_ms")].parse().unwrap();
        let signal_bar = prev_open[&entry_next_open];
        let t = iso_ms(&g[col(&gh, "entry_time")]);
        // Fills carry the close trade's time: the bar's open + 3 ns, shown in ms.
        assert_eq!(t, signal_bar, "{g:?}");
        assert_eq!(scaled(&g[col(&gh, "entry_price")]), close_of[&signal_bar]);
        assert_eq!(g[col(&gh, "side")], w[col(&rh, "direction")]);
    }
}

#[test]
fn candle_data_rejects_a_bad_fill_and_trades_refuse_fill() {
    let (dir, data) = fixture_copy("binance_btcusdt_1d", "bad");
    let out = tickwire(
        "backtest",
        &data,
        None,
        &["--strategy", "sma_cross", "--fill", "whenever"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fill whenever"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let trades = dir.join("BTCUSDT-trades-2024-01-01.csv");
    std::fs::write(
        &trades,
        "1,100.0,1.0,100.0,1704067200000,true,true\n2,101.0,1.0,101.0,1704067201000,false,true\n",
    )
    .unwrap();
    let out = tickwire(
        "backtest",
        &trades,
        None,
        &["--strategy", "sma_cross", "--fill", "close"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("applies to candle data"), "{err}");
}

/// Copies a fixture's candles to a temp file named for BTCUSDT; returns (dir, file).
fn fixture_copy(name: &str, tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("tw-bars-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join(format!("BTCUSDT-bars-{name}.csv.zst"));
    std::fs::copy(
        root().join(format!("tests/fixtures/talib/{name}.csv.zst")),
        &data,
    )
    .unwrap();
    (dir, data)
}

#[test]
fn two_hot_threads_write_the_same_files_as_one() {
    let (dir, data) = fixture_copy("ftx_btcperp_1m", "threads");
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let report = dir.join(format!("t{threads}"));
        tickwire_ok(
            "backtest",
            &data,
            &report,
            &["--strategy", "ema_cross", "--threads", threads],
        );
        outs.push(report);
    }
    for f in [
        "orders.csv",
        "fills.csv",
        "equity.csv",
        "trades.csv",
        "decisions.csv",
    ] {
        let a = std::fs::read(outs[0].join(f)).unwrap();
        let b = std::fs::read(outs[1].join(f)).unwrap();
        assert!(a.len() > 60, "{f} is empty");
        assert!(a == b, "{f} differs between one and two threads");
    }
}

#[test]
fn walk_forward_folds_pick_in_sample_and_run_out_of_sample() {
    let (dir, data) = fixture_copy("binance_btcusdt_1m", "folds");
    let report = dir.join("sweep");
    tickwire_ok(
        "sweep",
        &data,
        &report,
        &[
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5..10:5,slow=20..30:10",
            "--folds",
            "2",
            "--metric",
            "total_return_pct",
        ],
    );
    let (h, rows) = csv_rows(&report.join("walk_forward.csv"));
    assert_eq!(rows.len(), 2);
    // Windows follow each other: fold 1's out-of-sample is fold 2's in-sample.
    assert_eq!(rows[0][col(&h, "out_from")], rows[1][col(&h, "in_from")]);
    assert_eq!(rows[0][col(&h, "in_to")], rows[0][col(&h, "out_from")]);
    for r in &rows {
        assert!(r[col(&h, "params")].starts_with("fast="), "{r:?}");
        assert!(r[col(&h, "error")].is_empty(), "{r:?}");
        let ret: f64 = r[col(&h, "out_return_pct")].parse().unwrap();
        assert!(ret.is_finite());
    }
    // The in-sample winner is the best of its fold's grid by the metric.
    let fold1: Vec<PathBuf> = std::fs::read_dir(report.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fold1-in-")
        })
        .collect();
    assert_eq!(fold1.len(), 4);
    let best = fold1
        .iter()
        .map(|p| total_return_pct(p))
        .fold(f64::NEG_INFINITY, f64::max);
    let got: f64 = rows[0][col(&h, "in_total_return_pct")].parse().unwrap();
    assert!((got - best).abs() < 1e-3, "{got} vs {best}");
    let md = std::fs::read_to_string(report.join("walk_forward.md")).unwrap();
    assert!(
        md.contains("| fold |") && md.contains("out of sample"),
        "{md}"
    );
}

#[test]
fn a_directory_of_candle_files_backtests_every_instrument_in_market_time() {
    // Two instruments in two files, played merged by market time (each file dated from its
    // own rows), not one file after the other.
    let dir = std::env::temp_dir().join(format!("tw-bars-{}-multi", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, file) in [
        ("binance_btcusdt_1m", "BTCUSDT-1m.csv.zst"),
        ("ftx_btcperp_1m", "ETHUSDT-1m.csv.zst"),
    ] {
        std::fs::copy(
            root().join(format!("tests/fixtures/talib/{name}.csv.zst")),
            data.join(file),
        )
        .unwrap();
    }
    let report = dir.join("report");
    tickwire_ok("backtest", &data, &report, &["--strategy", "sma_cross"]);
    let (h, trips) = csv_rows(&report.join("trades.csv"));
    let count = |sym: &str| {
        trips
            .iter()
            .filter(|r| r[col(&h, "instrument")] == sym)
            .count()
    };
    // The same signals as each series alone (sizes differ: one account).
    assert_eq!(count("BTCUSDT"), 776);
    assert_eq!(count("ETHUSDT"), 598);
    let (eh, eq) = csv_rows(&report.join("equity.csv"));
    let ts: Vec<&str> = eq.iter().map(|r| r[col(&eh, "ts")].as_str()).collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "equity rows out of time order"
    );
    // The FTX file (2021-22) comes first in market time though it sorts second by name.
    assert!(ts[0].starts_with("2021-12-31"), "{}", ts[0]);
}

#[test]
fn bar_mode_stops_fill_at_a_price_of_the_bar_that_breached_them() {
    // A 5 % stop-loss on the daily series: every stop exit fills at one of the four prices
    // of the bar it happened in (open, high, low or close), at or beyond the stop level.
    let (dir, data) = fixture_copy("binance_btcusdt_1d", "stops");
    let report = dir.join("report");
    tickwire_ok(
        "backtest",
        &data,
        &report,
        &["--strategy", "sma_cross", "--set", "risk.stop_loss_bps=500"],
    );
    let text = {
        let bytes = std::fs::read(&data).unwrap();
        String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
    };
    let mut bars = std::collections::HashMap::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let t: i64 = f[0].parse().unwrap();
        bars.insert(t, [scaled(f[1]), scaled(f[2]), scaled(f[3]), scaled(f[4])]);
    }
    let (oh, orders) = csv_rows(&report.join("orders.csv"));
    let stop_ids: Vec<&str> = orders
        .iter()
        .filter(|r| r[col(&oh, "reason")] == "stop_loss")
        .map(|r| r[col(&oh, "client_order_id")].as_str())
        .collect();
    assert!(!stop_ids.is_empty(), "no stop fired");
    let (fh, fills) = csv_rows(&report.join("fills.csv"));
    let (th, trips) = csv_rows(&report.join("trades.csv"));
    let mut checked = 0;
    for f in fills
        .iter()
        .filter(|f| stop_ids.contains(&f[col(&fh, "client_order_id")].as_str()))
    {
        let t = iso_ms(&f[col(&fh, "ts")]);
        let px = scaled(&f[col(&fh, "price")]);
        let bar = bars
            .get(&t)
            .unwrap_or_else(|| panic!("no bar opens at {t}"));
        assert!(
            bar.contains(&px),
            "stop filled at {px}, not a price of {bar:?}"
        );
        // The round trip it closed lost at least the stop distance.
        let trip = trips
            .iter()
            .find(|r| {
                iso_ms(&r[col(&th, "exit_time")]) == t && scaled(&r[col(&th, "exit_price")]) == px
            })
            .expect("a round trip ends there, at that price");
        let ret: f64 = trip[col(&th, "return_pct")].parse().unwrap();
        assert!(ret <= -5.0 + 1e-9, "{trip:?}");
        checked += 1;
    }
    assert!(checked > 0);
}
