//! The data catalog end to end: every Binance trade and the 1-minute klines in
//! `../shared/data` imported, verified with exact row counts (counted here independently of
//! tickwire's parsers), imported again with nothing changed, read back by DuckDB row for row
//! against the source files; range queries that open only what they need; retention that
//! removes exactly the partitions past it while a reader keeps reading.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tickwire::catalog::rows::{Record, TradeRow};
use tickwire::catalog::{maint, Catalog, Kind, PartKey, Writer};

fn tickwire(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if path.to_string_lossy().ends_with(".zst") {
        String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Distinct Binance trade and aggTrade ids of a capture, by (kind, symbol): read with
/// serde_json, not with tickwire's parser.
fn capture_trades(
    path: &Path,
    venue: &str,
    into: &mut BTreeMap<(String, String, String), HashSet<u64>>,
) {
    for line in text(path).lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let d = v.get("data").unwrap_or(&v);
        let (kind, id) = match d.get("e").and_then(|e| e.as_str()) {
            Some("trade") => ("trades", "t"),
            Some("aggTrade") => ("agg_trades", "a"),
            _ => continue,
        };
        let sym = d["s"].as_str().unwrap().to_string();
        into.entry((kind.into(), venue.into(), sym))
            .or_default()
            .insert(d[id].as_u64().unwrap());
    }
}

/// `data ls --json` as (kind, venue, instrument) → rows.
fn listed(cat: &Path) -> BTreeMap<(String, String, String), u64> {
    let (ok, out, err) = tickwire(&["data", "ls", "--json", "--catalog", cat.to_str().unwrap()]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                (
                    l["kind"].as_str().unwrap().to_string(),
                    l["venue"].as_str().unwrap().to_string(),
                    l["instrument"].as_str().unwrap().to_string(),
                ),
                l["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn import(cat: &Path, extra: &[&str], files: &[PathBuf]) -> String {
    let mut args = vec!["data", "import", "--catalog", cat.to_str().unwrap()];
    args.extend_from_slice(extra);
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = tickwire(&args);
    assert!(ok, "import failed: {err}");
    out
}

/// A decimal's canonical text: no trailing zeros, no trailing dot.
fn canon(d: &str) -> String {
    let d = d.trim();
    if d.contains('.') {
        d.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        d.to_string()
    }
}

/// The same value: equal decimals, or (for a source exported through binary floats, with
/// float noise past the 8th decimal) the same number to within that noise.
fn same_decimal(stored: &str, source: &str) -> bool {
    if canon(stored) == canon(source) {
        return true;
    }
    let noisy = source.split_once('.').is_some_and(|(_, f)| f.len() > 8) || source.contains('e');
    let (a, b): (f64, f64) = (stored.parse().unwrap(), source.parse().unwrap());
    noisy && (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// DuckDB's view of one series, or `None` when DuckDB is not installed (a failure when
/// `REQUIRE_DUCKDB=1`, as CI sets it once it has installed DuckDB).
fn duckdb(cat: &Path, kind: &str, venue: &str, instrument: &str) -> Option<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/catalog_duckdb.py");
    let out = Command::new("python3")
        .arg(script)
        .args([cat.to_str().unwrap(), kind, venue, instrument])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(serde_json::from_slice(&o.stdout).unwrap()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("No module named 'duckdb'")
                && std::env::var("REQUIRE_DUCKDB").as_deref() != Ok("1")
            {
                eprintln!("skipping the DuckDB read: duckdb is not installed (pip install duckdb)");
                return None;
            }
            panic!("DuckDB read failed: {err}");
        }
        Err(e) => {
            assert!(
                std::env::var("REQUIRE_DUCKDB").as_deref() != Ok("1"),
                "python3: {e}"
            );
            eprintln!("skipping the DuckDB read: no python3 ({e})");
            None
        }
    }
}

#[test]
fn every_binance_trade_and_the_1m_klines_import_verify_and_read_back() {
    let Some(data) = shared_data() else {
        return;
    };
    let cat = report_dir("catalog-all");
    let mut expect: BTreeMap<(String, String, String), HashSet<u64>> = BTreeMap::new();

    // Historical trade files, counted here from their own text.
    let spot_csv = data.join("trades/binance_spot/nautilus_binance_BTCUSDT_trades_2021-01-08.csv");
    let spot_text = text(&spot_csv);
    let spot_ids: HashSet<u64> = spot_text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let tardis = data.join(
        "trades/binance_usdm_futures/nautilus_tardis_binance-futures_BTCUSDT_trades_2020-02-22.csv.zst",
    );
    let tardis_ids: HashSet<u64> = text(&tardis)
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    let ccxt = data
        .join("trades/binance_spot/freqtrade_binance_XRPETH_aggTrades_ccxt_2019-10-11.json.zst");
    let ccxt_ids: HashSet<u64> = serde_json::from_str::<serde_json::Value>(&text(&ccxt))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["info"]["a"].as_u64().unwrap())
        .collect();
    let barter =
        data.join("trades/binance_spot/barter_binance_spot_normalized_events_2024-12-20.json");
    let barter_ids: HashSet<u64> = serde_json::from_str::<serde_json::Value>(&text(&barter))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.pointer("/Item/Ok/kind/Trade/id"))
        .map(|id| id.as_str().unwrap().parse().unwrap())
        .collect();
    let key = |k: &str, v: &str, i: &str| (k.to_string(), v.to_string(), i.to_string());
    expect
        .entry(key("trades", "binance", "BTCUSDT"))
        .or_default()
        .extend(&spot_ids);
    expect
        .entry(key("trades", "binance", "BTCUSDT"))
        .or_default()
        .extend(&barter_ids);
    expect
        .entry(key("trades", "binance-usdm", "BTCUSDT"))
        .or_default()
        .extend(&tardis_ids);
    expect
        .entry(key("agg_trades", "binance", "XRPETH"))
        .or_default()
        .extend(&ccxt_ids);

    // Every Binance capture.
    let mut captures = Vec::new();
    for (dir, venue) in [
        ("ws/binance_spot", "binance"),
        ("ws/binance_us", "binance-us"),
        ("ws/binance_usdm_futures", "binance-usdm"),
        ("ws/binance_coinm_futures", "binance-coinm"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".jsonl.zst"))
            .collect();
        files.sort();
        for f in &files {
            capture_trades(f, venue, &mut expect);
        }
        captures.extend(files);
    }

    let klines = [
        data.join(
            "klines/binance_spot/camfeghali_binance_BTCUSDT_1m_2025-08-01_2025-08-11.csv.zst",
        ),
        data.join("klines/binance_spot/nautilus_binance_ADABTC-1m-2021-11-27.csv"),
        data.join("klines/binance_spot/nautilus_binance_ADABTC-1m-2021-11-28.csv"),
    ];
    let btc_klines = text(&klines[0])
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .count() as u64;
    let ada_klines = (text(&klines[1]) + &text(&klines[2]))
        .lines()
        .filter(|l| !l.is_empty())
        .count() as u64;

    let mut files = vec![spot_csv.clone(), tardis, ccxt];
    files.extend(captures.iter().cloned());
    files.extend(klines.iter().cloned());
    import(&cat, &[], &files);
    // barter-rs's stream names no instrument (instrument 0 is BTCUSDT in its example).
    import(
        &cat,
        &["--instrument", "BTCUSDT", "--venue", "binance"],
        std::slice::from_ref(&barter),
    );

    let got = listed(&cat);
    for (k, ids) in &expect {
        assert_eq!(got.get(k), Some(&(ids.len() as u64)), "{k:?}");
    }
    assert_eq!(
        got.get(&key("candles_1m", "binance", "BTCUSDT")),
        Some(&btc_klines)
    );
    assert_eq!(
        got.get(&key("candles_1m", "binance", "ADABTC")),
        Some(&ada_klines)
    );
    assert_eq!(btc_klines, 14_401);
    // Every trade series is one the sources hold (quotes are there too, unchecked here).
    for k in got.keys().filter(|k| k.0.contains("trades")) {
        assert!(expect.contains_key(k), "unexpected series {k:?}");
    }

    let (ok, out, err) = tickwire(&[
        "data",
        "verify",
        "--json",
        "--catalog",
        cat.to_str().unwrap(),
    ]);
    assert!(ok, "verify: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["gaps"]["trades/binance/BTCUSDT"]["rows"].as_u64(),
        Some(expect[&key("trades", "binance", "BTCUSDT")].len() as u64)
    );

    // The same files again: nothing changes, no new version.
    let version = Catalog::open(&cat).unwrap().manifest().version;
    let out = import(&cat, &[], &files);
    assert!(out.contains(" 0 new rows"), "{out}");
    assert_eq!(Catalog::open(&cat).unwrap().manifest().version, version);
    assert_eq!(listed(&cat), got);

    // In batches of one file (memory bounded by one input): a version per file, the same
    // catalog in the end.
    let batched = report_dir("catalog-all-batched");
    let out = import(&batched, &["--batch-rows", "1"], &files);
    let n = files.len();
    assert!(out.contains(&format!("; {n} versions written")), "{out}");
    import(
        &batched,
        &["--instrument", "BTCUSDT", "--venue", "binance"],
        std::slice::from_ref(&barter),
    );
    assert_eq!(listed(&batched), got);
    assert_eq!(
        Catalog::open(&batched).unwrap().manifest().version,
        n as u64 + 1
    );

    // DuckDB reads the same rows the source files hold.
    if let Some(d) = duckdb(&cat, "trades", "binance", "BTCUSDT") {
        assert_eq!(
            d["rows"], d["rows_glob"],
            "the Hive glob sees the same series"
        );
        let (lo, hi) = (1_610_064_000_000_000_000i64, 1_610_150_400_000_000_000i64);
        let rows: Vec<Vec<String>> = d["csv"]
            .as_str()
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(String::from).collect())
            .filter(|f: &Vec<String>| {
                let ts: i64 = f[0].parse().unwrap();
                ts >= lo && ts < hi
            })
            .collect();
        let source: Vec<Vec<String>> = spot_text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), source.len());
        for (r, s) in rows.iter().zip(&source) {
            let ns = tickwire::core::clock::parse_rfc3339_ns(s[0].as_bytes()).unwrap();
            assert_eq!(r[0], ns.to_string(), "{r:?} vs {s:?}");
            assert_eq!(r[1], s[1]);
            assert!(same_decimal(&r[2], &s[2]), "price {r:?} vs {s:?}");
            assert!(same_decimal(&r[3], &s[3]), "qty {r:?} vs {s:?}");
            assert_eq!(r[4].to_ascii_lowercase(), s[4].to_ascii_lowercase());
        }
    }
    if let Some(d) = duckdb(&cat, "candles_1m", "binance", "BTCUSDT") {
        let rows: Vec<&str> = d["csv"].as_str().unwrap().lines().collect();
        let src = text(&klines[0]);
        let source: Vec<&str> = src.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), source.len());
        for (r, s) in rows.iter().zip(&source) {
            let r: Vec<&str> = r.split(',').collect();
            let s: Vec<&str> = s.split(',').collect();
            let ns = tickwire::tools::indicators::parse_open_time(s[0]).unwrap();
            assert_eq!(r[0], ns.to_string());
            // open, high, low, close, volume, quote volume, trades, taker buy base and quote.
            for (ri, si) in [
                (1, 1),
                (2, 2),
                (3, 3),
                (4, 4),
                (5, 5),
                (6, 7),
                (7, 8),
                (8, 9),
                (9, 10),
            ] {
                assert!(same_decimal(r[ri], s[si]), "column {ri} of {r:?} vs {s:?}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&cat);
}

fn day_trades(day: i64, per_s: i64, first_id: u64) -> Vec<TradeRow> {
    const DAY: i64 = 86_400_000_000_000;
    (0..86_400 * per_s)
        .map(|i| TradeRow {
            ts_ns: day * DAY + i * (1_000_000_000 / per_s),
            id: first_id + i as u64,
            price: 4_000_000_000_000 + (i % 1_000) * 1_000_000,
            qty: 100_000 + (i * 7_919) % 50_000_000,
            buyer_maker: i % 3 == 0,
        })
        .collect()
}

fn part(date: &str) -> PartKey {
    PartKey {
        kind: "trades".into(),
        venue: "binance".into(),
        instrument: "BTCUSDT".into(),
        date: date.into(),
    }
}

#[test]
fn a_one_hour_query_reads_only_that_hours_row_groups() {
    let cat = report_dir("catalog-range");
    let mut w = Writer::open(&cat).unwrap();
    // Three days at 8 trades/s: 691,200 rows a day, eleven row groups of 65,536 each.
    let day0 = 19_000; // 2022-01-08
    let mut next = 1;
    for d in 0..3 {
        let rows = day_trades(day0 + d, 8, next);
        next += rows.len() as u64;
        let date = tickwire::catalog::Period::Day.label(rows[0].ts_ns);
        w.write(Kind::Trades, &part(&date), &rows).unwrap();
    }
    w.commit("test", 3600).unwrap();
    let c = Catalog::open(&cat).unwrap();
    let hour = 3_600_000_000_000i64;
    let from = (day0 + 1) * 24 * hour + 13 * hour;
    let (rows, st) = c
        .scan::<TradeRow>(Kind::Trades, Some("binance"), "BTCUSDT", from, from + hour)
        .unwrap();
    assert_eq!(rows.len(), 3_600 * 8);
    assert!(rows.iter().all(|r| r.ts() >= from && r.ts() < from + hour));
    assert!(rows.windows(2).all(|w| w[0].ts() < w[1].ts()));
    assert_eq!((st.files_listed, st.files_opened), (3, 1), "{st:?}");
    // 28,800 rows cross at most one group boundary: one or two of the day's eleven groups.
    assert!(
        st.row_groups_read <= 2 && st.row_groups_skipped >= 9,
        "{st:?}"
    );
    // What a trade costs on disk: well under 12 bytes.
    let bytes: u64 = c.manifest().files.iter().map(|f| f.bytes).sum();
    let per = bytes as f64 / (3.0 * 691_200.0);
    assert!(per < 12.0, "{per:.2} bytes per trade");
    let _ = std::fs::remove_dir_all(&cat);
}

#[test]
fn prune_removes_exactly_the_expired_partitions_while_a_reader_reads() {
    let cat = report_dir("catalog-prune");
    let mut w = Writer::open(&cat).unwrap();
    let day0 = 19_000;
    let mut dates = Vec::new();
    for d in 0..6 {
        let rows: Vec<TradeRow> = day_trades(day0 + d, 1, 1 + d as u64 * 86_400)
            .into_iter()
            .step_by(60)
            .collect();
        let date = tickwire::catalog::Period::Day.label(rows[0].ts_ns);
        w.write(Kind::Trades, &part(&date), &rows).unwrap();
        dates.push(date);
    }
    w.commit("test", 3600).unwrap();

    // A reader opening the catalog and reading everything, over and over, while prune runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (cat, stop) = (cat.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 20 {
                let c = Catalog::open(&cat).expect("open");
                let n = c.manifest().files.iter().map(|f| f.rows).sum::<u64>();
                let (rows, _) = c
                    .scan::<TradeRow>(Kind::Trades, None, "BTCUSDT", i64::MIN, i64::MAX)
                    .expect("a reader never misses a file");
                assert_eq!(rows.len() as u64, n, "a reader sees one whole version");
                reads += 1;
            }
            reads
        })
    };
    // Keep 2 days back from the end of day 5: days 0..=2 ended before that.
    let now = (day0 + 6) * 86_400_000_000_000 - 1;
    let keep = maint::parse_keep(Some("trades=2d")).unwrap();
    let r = maint::prune(&cat, &keep, now, 3600).unwrap();
    let mut which = r.which.clone();
    which.sort();
    let want: Vec<String> = dates[..3].iter().map(|d| part(d).dir()).collect();
    assert_eq!(which, want);
    // Idempotent: nothing more goes.
    let again = maint::prune(&cat, &keep, now, 3600).unwrap();
    assert_eq!(again.partitions, 0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().expect("the reader never failed") >= 20);

    let c = Catalog::open(&cat).unwrap();
    let left: Vec<&str> = c.manifest().files.iter().map(|f| f.date.as_str()).collect();
    assert_eq!(
        left,
        dates[3..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    // The data tree holds exactly the live files; retired ones wait in the trash.
    let (ok, out, err) = tickwire(&["data", "verify", "--catalog", cat.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let live: usize = walk(&cat.join("trades")).len();
    assert_eq!(live, 3);
    assert_eq!(walk(&cat.join(".trash")).len(), 3);
    // With no grace the trash is emptied at the next write.
    let (ok, _, err) = tickwire(&[
        "data",
        "compact",
        "--grace",
        "0",
        "--catalog",
        cat.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(!cat.join(".trash").exists());
    let _ = std::fs::remove_dir_all(&cat);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let cat = report_dir("catalog-bad");
    let dir = report_dir("catalog-bad-in");
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk_binance_BTCUSDT_trades.csv");
    std::fs::write(&junk, "not,a,trade\n1,2\n").unwrap();
    let (ok, out, _) = tickwire(&[
        "data",
        "import",
        "--catalog",
        cat.to_str().unwrap(),
        junk.to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        out.contains("unreadable skipped") || out.contains("no rows"),
        "{out}"
    );
    let nowhere = dir.join("mystery.csv");
    std::fs::write(&nowhere, "a,b\n").unwrap();
    let (ok, _, err) = tickwire(&[
        "data",
        "import",
        "--catalog",
        cat.to_str().unwrap(),
        nowhere.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("give --venue") && err.lines().count() == 1,
        "{err}"
    );
    let (ok, _, err) = tickwire(&[
        "data",
        "prune",
        "--keep",
        "trades=soon",
        "--catalog",
        cat.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--keep trades=`soon`"), "{err}");
    // A file changed behind the manifest's back fails verification, naming it.
    let rows = day_trades(19_000, 1, 1);
    let mut w = Writer::open(&cat).unwrap();
    w.write(Kind::Trades, &part("2022-01-08"), &rows).unwrap();
    let m = w.commit("test", 0).unwrap();
    let f = cat.join(&m.files[0].path);
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let (ok, out, err) = tickwire(&["data", "verify", "--catalog", cat.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("CRC-32") && err.contains("does not match its manifest"),
        "{out}{err}"
    );
    let _ = std::fs::remove_dir_all(&cat);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_backtest_on_the_catalog_equals_one_on_the_captures_trades() {
    let Some(data) = shared_data() else {
        return;
    };
    let capture = btc_capture(&data);
    let cat = report_dir("catalog-bt");
    import(&cat, &[], std::slice::from_ref(&capture));
    // The capture's trade messages alone, as a file the engine reads directly.
    let dir = report_dir("catalog-bt-in");
    std::fs::create_dir_all(&dir).unwrap();
    let trades_only = dir.join("hftbacktest_spot_btcusdt_20240808.jsonl");
    let all = text(&capture);
    let lines: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("\"e\":\"trade\""))
        .collect();
    std::fs::write(&trades_only, lines.join("\n") + "\n").unwrap();
    let run = |input: &Path, name: &str, extra: &[&str]| {
        let out = report_dir(name);
        let mut args = vec![
            "backtest",
            "--data",
            input.to_str().unwrap(),
            "--strategy",
            "ema_cross",
            "--param",
            "fast=5",
            "--param",
            "slow=20",
            "--param",
            "resolution=1s",
            "--report-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (ok, _, err) = tickwire(&args);
        assert!(ok, "{err}");
        out
    };
    let a = run(&trades_only, "catalog-bt-file", &[]);
    let b = run(&cat, "catalog-bt-cat", &[]);
    for f in [
        "orders.csv",
        "fills.csv",
        "trades.csv",
        "equity.csv",
        "decisions.csv",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between the capture and the catalog");
    }
    assert!(
        std::fs::read_to_string(a.join("fills.csv"))
            .unwrap()
            .lines()
            .count()
            > 2
    );
    // A range reads only its trades, through replay too.
    let from = "2024-08-09T00:00:00Z";
    let rp = report_dir("catalog-replay");
    let (ok, out, err) = tickwire(&[
        "replay",
        "--input",
        cat.to_str().unwrap(),
        "--from",
        from,
        "--report-dir",
        rp.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let after = lines
        .iter()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["data"]["T"].as_u64().unwrap() >= 1_723_161_600_000
        })
        .count();
    assert!(after > 0 && after < lines.len());
    assert!(
        out.contains(&format!("replayed {after} messages: {after} trades")),
        "{out}"
    );
    // An instrument the catalog does not hold is one clear line.
    let (ok, _, err) = tickwire(&[
        "backtest",
        "--data",
        cat.to_str().unwrap(),
        "--instruments",
        "DOGEUSDT",
        "--report-dir",
        report_dir("catalog-bt-none").to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("no trades for DOGEUSDT") && err.lines().count() == 1,
        "{err}"
    );
    for d in [&cat, &dir, &a, &b, &rp] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn captures_of_other_venues_import_with_their_symbols_made_names() {
    let Some(data) = shared_data() else {
        return;
    };
    let cat = report_dir("catalog-kraken");
    let f = data.join("ws/kraken/cryptofeed_KRAKEN.ws.48.0_20210417.jsonl.zst");
    let out = import(&cat, &[], std::slice::from_ref(&f));
    assert!(out.contains("(kraken)"), "{out}");
    let got = listed(&cat);
    assert!(!got.is_empty(), "{out}");
    // Kraken's `XBT/USD` is stored as `XBT-USD`: a directory name, and still readable.
    assert!(
        got.keys()
            .all(|(_, v, i)| v == "kraken" && !i.contains('/')),
        "{got:?}"
    );
    let (ok, out, err) = tickwire(&["data", "verify", "--catalog", cat.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let _ = std::fs::remove_dir_all(&cat);
}

#[test]
fn a_coin_m_contract_reads_back_into_a_run() {
    let Some(data) = shared_data() else {
        return;
    };
    let cat = report_dir("catalog-coinm");
    let f = data.join("ws/binance_coinm_futures/hftbacktest_cm_btcusd_perp_20240808.jsonl.zst");
    import(&cat, &[], std::slice::from_ref(&f));
    let n = listed(&cat)[&(
        "trades".to_string(),
        "binance-coinm".to_string(),
        "BTCUSD_PERP".to_string(),
    )];
    let rp = report_dir("catalog-coinm-replay");
    let (ok, out, err) = tickwire(&[
        "replay",
        "--input",
        cat.to_str().unwrap(),
        "--instruments",
        "BTCUSD_PERP",
        "--report-dir",
        rp.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // Every trade, under its own name (`BTCUSD_PERP`, not `BTCUSD`).
    assert!(
        out.contains(&format!("replayed {n} messages: {n} trades")),
        "{out}"
    );
    let summary = std::fs::read_to_string(rp.join("summary.json")).unwrap();
    assert!(summary.contains("BTCUSD_PERP"), "{summary}");
    let _ = std::fs::remove_dir_all(&cat);
    let _ = std::fs::remove_dir_all(&rp);
}
