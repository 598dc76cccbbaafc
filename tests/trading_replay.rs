//! Issue #5 end to end: `tickwire replay` and `tickwire run` over the real Binance BTCUSDT and
//! ETHUSDT captures trade through all four built-in strategies, the risk engine, the order
//! manager and the paper exchange; every decision is journaled with its score, its parts and
//! the risk verdict; a tiny drawdown limit trips the kill switch, after which no opening order
//! leaves (read back from `orders.csv`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ORDERS_HEADER: &str = "ts,client_order_id,instrument,side,type,price,qty,status,reason";
const FILLS_HEADER: &str = "ts,client_order_id,instrument,side,price,qty,fee,liquidity";

fn captures(data: &Path) -> Vec<PathBuf> {
    let d = data.join("ws/binance_spot");
    [
        "hftbacktest_spot_btcusdt_20240808.jsonl.zst",
        "hftbacktest_spot_btcusdt_20240809.jsonl.zst",
        "hftbacktest_spot_ethusdt_20240808.jsonl.zst",
        "hftbacktest_spot_ethusdt_20240809.jsonl.zst",
    ]
    .iter()
    .map(|f| d.join(f))
    .collect()
}

fn tickwire(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .output()
        .expect("tickwire runs")
}

fn replay(files: &[PathBuf], dir: &Path, sets: &[&str]) {
    let mut args: Vec<String> = vec!["replay".into(), "--input".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend([
        "--speed".into(),
        "max".into(),
        "--report-dir".into(),
        dir.display().to_string(),
        "--set".into(),
        "cold.status_line=false".into(),
    ]);
    for s in sets {
        args.extend(["--set".into(), (*s).to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tickwire(&refs);
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CSV as (header, rows of fields).
fn csv(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Everything the done-means asks of a trading report directory.
fn check_trading_report(dir: &Path) {
    let s = read_summary(dir);
    let (oh, orders) = csv(&dir.join("orders.csv"));
    let (fh, fills) = csv(&dir.join("fills.csv"));
    assert_eq!(oh, ORDERS_HEADER);
    assert_eq!(fh, FILLS_HEADER);
    assert!(orders.iter().all(|r| r.len() == 9), "orders.csv: 9 columns");
    assert!(fills.iter().all(|r| r.len() == 8), "fills.csv: 8 columns");

    // Signals from all four strategies, on both instruments.
    let (dh, decisions) = csv(&dir.join("decisions.csv"));
    let col = |name: &str| dh.split(',').position(|c| c == name).unwrap();
    let (inst, strat, action) = (col("instrument"), col("strategy"), col("action"));
    let acted: BTreeSet<(String, String)> = decisions
        .iter()
        .filter(|r| r[action] != "stay")
        .map(|r| (r[strat].clone(), r[inst].clone()))
        .collect();
    for strategy in ["momentum", "reversal", "breakout", "pattern"] {
        assert!(
            acted.iter().any(|(s, _)| s == strategy),
            "{strategy} never acted: {acted:?}"
        );
    }
    for instrument in ["BTCUSDT", "ETHUSDT"] {
        assert!(acted.iter().any(|(_, i)| i == instrument), "{instrument}");
    }

    // Orders went out and filled; every fill belongs to an order sent before it.
    let sent: BTreeMap<&str, &Vec<String>> = orders
        .iter()
        .filter(|r| r[7] == "sent")
        .map(|r| (r[1].as_str(), r))
        .collect();
    assert!(sent.len() >= 20, "only {} orders sent", sent.len());
    assert!(fills.len() >= 20, "only {} fills", fills.len());
    for f in &fills {
        let o = sent
            .get(f[1].as_str())
            .unwrap_or_else(|| panic!("fill of unknown order {f:?}"));
        assert_eq!((&o[2], &o[3]), (&f[2], &f[3]), "fill {f:?} vs order {o:?}");
        assert!(o[0] <= f[0], "fill before its order: {f:?}");
        assert!(f[7] == "taker" || f[7] == "maker");
    }
    assert_eq!(s["fills"].as_u64().unwrap(), fills.len() as u64);
    let fees: f64 = fills.iter().map(|f| f[6].parse::<f64>().unwrap()).sum();
    assert!((fees - s["pnl"]["fees"].as_f64().unwrap()).abs() < 1e-6);

    // The risk engine's books and the venue's agree to the last 10⁻⁸.
    let t = &s["trading"];
    assert_eq!(t["reconciliation"]["matches"], true, "{t}");
    assert_eq!(t["bad_reports"], 0);
    assert_eq!(t["venue_lost_reports"], 0);
    assert_eq!(s["cold_drops"], 0);
    assert_account_adds_up(&s);
    for th in s["threads"].as_array().unwrap() {
        assert_eq!(th["allocations"], 0, "hot thread {} allocated", th["name"]);
    }

    // The journal: every decision that acted shows its score, its parts and the verdict.
    let journal = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    let mut journaled = 0;
    for (i, l) in lines.iter().enumerate() {
        if !l.contains(" decision **") || l.contains("**stay**") {
            continue;
        }
        journaled += 1;
        for part in [
            "score ",
            "strength ",
            "alignment ",
            "volume ",
            "volatility ",
            "confidence ",
            "raw 1s ",
        ] {
            assert!(l.contains(part), "no `{part}` in {l}");
        }
        if !l.ends_with("; no order") {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("  - risk verdict on ")),
                "decision without its verdict: {l}"
            );
        }
    }
    let acted_rows = decisions.iter().filter(|r| r[action] != "stay").count();
    assert_eq!(journaled, acted_rows, "every acting decision is journaled");
}

#[test]
fn replay_trades_btc_and_eth_through_all_four_strategies() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("trading-replay");
    replay(&captures(&data), &dir, &[]);
    check_trading_report(&dir);
    // Same input, same files: the trading side is deterministic.
    let again = report_dir("trading-replay-again");
    replay(&captures(&data), &again, &[]);
    for f in ["orders.csv", "fills.csv", "decisions.csv", "equity.csv"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs between identical replays"
        );
    }
}

#[test]
fn run_over_the_captures_trades_too() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("trading-run");
    let list: Vec<String> = captures(&data)
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect();
    let files = format!("source.files=[{}]", list.join(","));
    let d = dir.display().to_string();
    let out = tickwire(&[
        "run",
        "--report-dir",
        &d,
        "--set",
        "source.kind='replay'",
        "--set",
        &files,
        "--set",
        "source.speed='max'",
        "--set",
        "cold.status_line=false",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_trading_report(&dir);
}

#[test]
fn tiny_drawdown_limit_trips_the_kill_switch_and_nothing_opens_after() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("trading-kill");
    // 1 bp of 100 000: the first few fees trip it.
    replay(&captures(&data), &dir, &["risk.max_drawdown_bps=1"]);
    let s = read_summary(&dir);
    assert_eq!(s["trading"]["kill_trips"], 1, "{}", s["trading"]);
    assert_eq!(s["trading"]["kill_switch_on"], true);
    let journal = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    let line = journal
        .lines()
        .find(|l| l.contains("**KILL SWITCH tripped** by `max_drawdown`"))
        .expect("the trip is journaled");
    assert!(line.contains("limit 1 bps, value "), "{line}");
    let tripped_at = line.split('`').nth(1).unwrap().to_string();

    // orders.csv is in the order things happened: the trip's flattening orders mark it.
    let (_, orders) = csv(&dir.join("orders.csv"));
    let trip = orders
        .iter()
        .position(|r| r[7] == "sent" && r[8] == "flatten")
        .expect("flattening orders went out at the trip");
    assert_eq!(orders[trip][0], tripped_at, "flattened at the trip");
    let opens_before = orders[..trip]
        .iter()
        .filter(|r| r[7] == "sent" && r[8] == "open")
        .count();
    assert!(opens_before > 0, "it traded before the trip");
    for r in orders[trip..].iter().filter(|r| r[7] == "sent") {
        assert!(
            [
                "close",
                "flatten",
                "stop_loss",
                "take_profit",
                "trailing_stop"
            ]
            .contains(&r[8].as_str()),
            "opening order sent after the kill switch: {r:?}"
        );
    }
    assert!(
        orders[..trip].iter().all(|r| r[0] <= tripped_at),
        "rows before the trip are not later than it"
    );
    // The strategies kept deciding, and were held back by the kill switch.
    let (dh, decisions) = csv(&dir.join("decisions.csv"));
    let sup = dh.split(',').position(|c| c == "suppressed").unwrap();
    assert!(decisions.iter().any(|r| r[sup] == "kill_switch"));
}
