//! `tickwire backtest` end to end on real Binance trades: the live pipeline on a virtual
//! clock, with round trips, statistics, plots, and byte-identical output on a second run.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// `tickwire <command> --data DATA --report-dir DIR <extra>`.
fn tickwire(command: &str, data: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let d = dir.display().to_string();
    let input = data.display().to_string();
    let mut args = vec![command, "--data", &input, "--report-dir", &d];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(&args)
        .output()
        .expect("tickwire runs")
}

fn backtest(data: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    tickwire("backtest", data, dir, extra)
}

#[test]
fn ema_cross_on_real_trades_reports_round_trips_statistics_and_plots() {
    let Some(data) = shared_data() else { return };
    // The two contiguous BTCUSDT captures: 19,904 trades over ~11 minutes.
    let dir = report_dir("backtest-data");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "hftbacktest_spot_btcusdt_20240808.jsonl.zst",
        "hftbacktest_spot_btcusdt_20240809.jsonl.zst",
        "hftbacktest_spot_btcusdt_20240808.recv_ns.txt.zst",
        "hftbacktest_spot_btcusdt_20240809.recv_ns.txt.zst",
    ] {
        std::fs::copy(data.join("ws/binance_spot").join(f), dir.join(f)).unwrap();
    }
    let params = [
        "--strategy",
        "ema_cross",
        "--param",
        "fast=3",
        "--param",
        "slow=8",
        "--param",
        "resolution=1s",
    ];
    let a = report_dir("backtest-a");
    let out = backtest(&dir, &a, &params);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("backtest: 19904 trades"), "{stdout}");

    let s = read_summary(&a);
    assert_eq!(s["mode"], "backtest");
    let st = &s["stats"];
    for k in [
        "total_return_pct",
        "cagr_pct",
        "volatility_pct",
        "sharpe",
        "sortino",
        "max_drawdown_pct",
        "max_drawdown_days",
        "calmar",
        "trades",
        "win_rate_pct",
        "profit_factor",
        "avg_trade_pct",
        "best_trade_pct",
        "worst_trade_pct",
        "exposure_pct",
        "fees",
        "turnover",
        "buy_and_hold_return_pct",
        "events_per_s",
    ] {
        assert!(st[k].is_number(), "stats.{k} missing: {st}");
    }
    let trades = std::fs::read_to_string(a.join("trades.csv")).unwrap();
    let mut lines = trades.lines();
    assert_eq!(
        lines.next(),
        Some("instrument,side,qty,entry_time,entry_price,exit_time,exit_price,pnl,fees,return_pct")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 5, "only {} round trips", rows.len());
    assert_eq!(st["trades"].as_u64().unwrap(), rows.len() as u64);
    for r in &rows {
        assert_eq!(r.len(), 10);
        assert!(r[1] == "long" || r[1] == "short");
        assert!(r[3] <= r[5], "exit before entry: {r:?}");
    }
    // Buy and hold over the data: first to last trade of BTCUSDT in these captures.
    let bh = st["buy_and_hold_return_pct"].as_f64().unwrap();
    assert!(bh.abs() > 0.0 && bh.abs() < 5.0, "{bh}");
    // Fees in the statistics are the fills' fees.
    let fills = std::fs::read_to_string(a.join("fills.csv")).unwrap();
    let fees: f64 = fills
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((fees - st["fees"].as_f64().unwrap()).abs() < 1e-6);
    // The report reads as a report, with its plots.
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("## Backtest statistics") && md.contains("Sharpe / Sortino"));
    for png in ["equity.png", "price.png"] {
        let b = std::fs::read(a.join(png)).unwrap();
        assert!(
            b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 1000,
            "{png}"
        );
        assert!(md.contains(png));
    }
    // Deterministic: a second run writes the same orders, fills, trades and equity.
    let b = report_dir("backtest-b");
    assert!(backtest(&dir, &b, &params).status.success());
    for f in [
        "orders.csv",
        "fills.csv",
        "trades.csv",
        "equity.csv",
        "decisions.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two backtests"
        );
    }
}

#[test]
fn bad_backtest_arguments_are_one_line_errors() {
    let dir = report_dir("backtest-bad");
    let missing = Path::new("/nonexistent/trades.csv");
    let out = backtest(missing, &dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such file"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    for (args, want) in [
        (vec!["--strategy", "martingale"], "--strategy martingale"),
        (
            vec!["--strategy", "sma_cross", "--param", "fast"],
            "--param fast",
        ),
    ] {
        let out = backtest(&here, &dir, &args);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn sweep_ranks_a_grid_and_draws_its_heatmap() {
    let Some(data) = shared_data() else { return };
    let cap = btc_capture(&data);
    let dir = report_dir("sweep");
    let grid = [
        "--strategy",
        "ema_cross",
        "--grid",
        "fast=2..4:2,slow=8|12",
        "--param",
        "resolution=1s",
        "--metric",
        "total_return_pct",
    ];
    let out = tickwire("sweep", &cap, &dir, &grid);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..4], ["rank", "fast", "slow", "total_return_pct"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "2 × 2 points");
    let returns: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(
        returns.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {returns:?}"
    );
    // Each point is a full backtest with its own report, and its row is that report's.
    for r in &rows {
        let run = dir
            .join("runs")
            .join(format!("fast-{}_slow-{}", r[1], r[2]));
        let s = read_summary(&run);
        let want = s["stats"]["total_return_pct"].as_f64().unwrap();
        assert!((want - r[3].parse::<f64>().unwrap()).abs() < 1e-3, "{r:?}");
    }
    let png = std::fs::read(dir.join("heatmap.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(std::fs::read_to_string(dir.join("results.md"))
        .unwrap()
        .contains("heatmap.png"));
    // A point the config refuses (fast ≥ slow) is a row with its error, not a crash.
    let bad = report_dir("sweep-bad");
    let grid = [
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5|30",
        "--param",
        "slow=20",
        "--param",
        "resolution=1s",
    ];
    let out = tickwire("sweep", &cap, &bad, &grid);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(bad.join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains(",30,") && l.contains("fast < slow")),
        "{csv}"
    );
}
