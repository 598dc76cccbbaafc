//! Historical Binance public-data CSV sources (data.binance.vision layouts) replayed through
//! the pipeline, built from real trades:
//!
//! * the 9,757 BTCUSDT spot trades of `ws/binance_spot/hftbacktest_spot_btcusdt_20240808`
//!   written as `BTCUSDT-trades-2024-08-08.csv` in every combination of header / no header ×
//!   ms / µs times × plain, `.csv.gz`, `.csv.zst` and Binance's own `.zip`: the same trades
//!   (ids, prices, sizes, times, sides) as the WebSocket capture, and the same summary as the
//!   WebSocket replay of those trades;
//! * the real XRPETH aggTrades (freqtrade's copy of Binance REST `aggTrades`) as an aggTrades
//!   CSV;
//! * the real ADABTC 1m klines file under its Binance name;
//! * a trades CSV with bad rows mixed in, replayed by the binary: exit 0, each bad row malformed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use tickwire::core::config::{Config, ConfigSource};
use tickwire::core::InstrumentId;
use tickwire::feed::parse::Event;
use tickwire::feed::replay::Capture;

/// One trade as both sources carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct T {
    id: u64,
    price: String,
    qty: String,
    time_ms: u64,
    buyer_is_maker: bool,
}

/// The `trade` messages of the BTCUSDT capture (raw lines and decoded fields).
fn ws_trades(data: &Path) -> (Vec<Vec<u8>>, Vec<T>) {
    let cap = Capture::load(&btc_capture(data)).unwrap();
    let mut lines = Vec::new();
    let mut trades = Vec::new();
    for i in 0..cap.lines.len() {
        let v: Value = serde_json::from_slice(cap.line(i)).unwrap();
        let d = v.get("data").unwrap_or(&v);
        if d["e"] != "trade" {
            continue;
        }
        lines.push(cap.line(i).to_vec());
        trades.push(T {
            id: d["t"].as_u64().unwrap(),
            price: d["p"].as_str().unwrap().to_string(),
            qty: d["q"].as_str().unwrap().to_string(),
            time_ms: d["T"].as_u64().unwrap(),
            buyer_is_maker: d["m"].as_bool().unwrap(),
        });
    }
    assert_eq!(trades.len(), 9757, "SOURCES.md: 9757 trades");
    (lines, trades)
}

/// 10⁻⁸ units of a decimal string.
fn units(s: &str) -> i128 {
    i128::from(tickwire::core::num::parse_scaled(s.as_bytes()).unwrap())
}

/// `price × qty`, exactly, with 8 decimals (Binance's `quote_qty`).
fn quote_qty(t: &T) -> String {
    let v = units(&t.price) * units(&t.qty) / 100_000_000;
    format!("{}.{:08}", v / 100_000_000, v % 100_000_000)
}

const TRADES_HEADER: &str = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match";

/// A spot trades CSV: `id,price,qty,quote_qty,time,is_buyer_maker,is_best_match`.
fn trades_csv(trades: &[T], header: bool, micros: bool) -> Vec<u8> {
    let mut out = String::new();
    if header {
        out.push_str(TRADES_HEADER);
        out.push('\n');
    }
    for t in trades {
        let time = if micros { t.time_ms * 1000 } else { t.time_ms };
        let maker = if t.buyer_is_maker { "True" } else { "False" };
        out.push_str(&format!(
            "{},{},{},{},{time},{maker},True\n",
            t.id,
            t.price,
            t.qty,
            quote_qty(t)
        ));
    }
    out.into_bytes()
}

#[derive(Clone, Copy, Debug)]
enum Packing {
    Plain,
    Gz,
    Zst,
    Zip,
}

/// Writes `csv` into `dir` as Binance names it (`<stem>.csv`, `.csv.gz`, `.csv.zst`, or
/// `<stem>.zip` holding `<stem>.csv`); returns the path.
fn write_packed(dir: &Path, stem: &str, csv: &[u8], packing: Packing) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    match packing {
        Packing::Plain => {
            let p = dir.join(format!("{stem}.csv"));
            std::fs::write(&p, csv).unwrap();
            p
        }
        Packing::Gz => {
            let p = dir.join(format!("{stem}.csv.gz"));
            let mut e = flate2::write::GzEncoder::new(
                std::fs::File::create(&p).unwrap(),
                flate2::Compression::default(),
            );
            e.write_all(csv).unwrap();
            e.finish().unwrap();
            p
        }
        Packing::Zst => {
            let p = dir.join(format!("{stem}.csv.zst"));
            std::fs::write(&p, zstd::encode_all(csv, 3).unwrap()).unwrap();
            p
        }
        Packing::Zip => {
            let p = dir.join(format!("{stem}.zip"));
            let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
            z.start_file(
                format!("{stem}.csv"),
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            z.write_all(csv).unwrap();
            z.finish().unwrap();
            p
        }
    }
}

/// Replays `files` in-process (one source each) and returns summary.json.
fn replay(files: &[&Path], name: &str) -> Value {
    let dir = report_dir(name);
    run_with(&replay_sets(files), "replay", &dir).summary
}

/// What the pipeline's own parser for `path` (chosen from its name, as a replay chooses it)
/// decodes from the file (read as a replay reads it): its trades, in order.
fn parsed_trades(path: &Path) -> Vec<T> {
    let cores: Vec<usize> = Vec::new();
    let sets = replay_sets(&[path]);
    let cfg = Config::load(ConfigSource::Default, &sets, &cores).unwrap();
    let cap = std::sync::Arc::new(Capture::load(path).unwrap());
    let mut spec = tickwire::runtime::lane_lines(&cfg, 0, std::slice::from_ref(&cap));
    assert_eq!(spec.len(), 1);
    let mut parser = spec.remove(0).parser;
    let mut out = Vec::new();
    for i in 0..cap.lines.len() {
        let mut events = Vec::new();
        let mut resolve = |s: &[u8]| {
            assert!(s == b"BTCUSDT" || s == b"XRPETH", "symbol {s:?}");
            Some(InstrumentId(0))
        };
        if parser
            .parse(cap.line(i), &mut resolve, &mut |e| events.push(e))
            .is_err()
        {
            continue;
        }
        for e in events {
            if let Event::Trade(t) = e {
                out.push(T {
                    id: t.trade_id,
                    price: tickwire::core::num::format_scaled(t.price.0, 8),
                    qty: tickwire::core::num::format_scaled(t.qty.0, 8),
                    time_ms: t.trade_ns / 1_000_000,
                    buyer_is_maker: t.buyer_is_maker,
                });
            }
        }
    }
    out
}

/// summary.json without what depends on the run rather than the data (timings, throughput,
/// thread list, input paths) and, per source, its name, byte count (the µs files are longer),
/// clock estimates and the health score built from them.
fn normalized(s: &Value) -> Value {
    let mut s = s.clone();
    let o = s.as_object_mut().unwrap();
    for k in [
        "elapsed_s",
        "messages_per_s",
        "latency_ns",
        "threads",
        "inputs",
    ] {
        o.remove(k);
    }
    // The order journal lives in each run's own report directory.
    if let Some(j) = o.get_mut("order_journal").and_then(Value::as_object_mut) {
        j.remove("path");
    }
    for src in o["sources"].as_array_mut().unwrap() {
        let so = src.as_object_mut().unwrap();
        for k in [
            "name",
            "bytes",
            "clock_offset_ms",
            "clock_drift_ppm",
            "latency_ms",
            "health",
        ] {
            so.remove(k);
        }
    }
    s
}

/// The first difference between two JSON values, as a path.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (va, vb) = (x.get(k), y.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => {
                        if let Some(d) = first_difference(va, vb, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{k}: {va:?} vs {vb:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_difference(va, vb, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

fn assert_same(a: &Value, b: &Value, what: &str) {
    let (a, b) = (normalized(a), normalized(b));
    if let Some(d) = first_difference(&a, &b, "") {
        panic!("{what}: summaries differ at {d}");
    }
}

fn check_trades_variants(packings: &[Packing], tag: &str) {
    // `tag` keeps the directories of tests running in parallel apart.
    let Some(data) = shared_data() else { return };
    let (ws_lines, trades) = ws_trades(&data);
    let work = report_dir(&format!("csv-trades-files-{tag}"));
    // The same trades as WebSocket messages (the capture's own lines, nothing else).
    let ws_only = work.join("binance_btcusdt_trades_20240808.jsonl");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(&ws_only, ws_lines.join(&b'\n')).unwrap();
    let ws = replay(&[&ws_only], &format!("csv-ws-trades-{tag}"));
    assert_eq!(ws["events"]["trades"], 9757);
    // And the whole capture: same trades, same 1m candles.
    let full = replay(&[&btc_capture(&data)], &format!("csv-ws-full-{tag}"));
    assert_eq!(full["events"]["trades"], ws["events"]["trades"]);
    assert_eq!(full["candles"]["1m"], ws["candles"]["1m"]);

    let stem = "BTCUSDT-trades-2024-08-08";
    for &packing in packings {
        for header in [false, true] {
            let mut by_time = Vec::new();
            for micros in [false, true] {
                let what = format!(
                    "{packing:?}, header {header}, {}",
                    if micros { "µs" } else { "ms" }
                );
                let dir = work.join(format!("{packing:?}-{header}-{micros}"));
                let path = write_packed(&dir, stem, &trades_csv(&trades, header, micros), packing);
                // The parser the replay picks, over the file as the replay reads it: the same
                // trades as the WebSocket capture, field for field.
                let got = parsed_trades(&path);
                assert_eq!(got.len(), trades.len(), "{what}: trades decoded");
                if let Some(i) = (0..got.len()).find(|&i| got[i] != trades[i]) {
                    panic!("{what}: trade {i}: {:?} vs WS {:?}", got[i], trades[i]);
                }
                let s = replay(&[&path], &format!("csv-trades-{tag}"));
                let src = &s["sources"][0];
                eprintln!(
                    "{what}: {} messages, {} trades, {} malformed, skipped {}, 1m candles {}, gaps {}",
                    src["messages"],
                    src["trades"],
                    src["malformed"],
                    src["skipped"],
                    s["candles"]["1m"],
                    s["anomalies"]["gap"]
                );
                assert_eq!(src["messages"], 9757 + u64::from(header), "{what}");
                assert_eq!(src["trades"], 9757, "{what}");
                assert_eq!(src["trade_messages"], 9757, "{what}");
                assert_eq!(src["malformed"], 0, "{what}");
                let header_rows = if header { 1 } else { 0 };
                assert_eq!(
                    src["skipped"]["response"].as_u64().unwrap_or(0),
                    header_rows,
                    "{what}: the header row is skipped"
                );
                assert_eq!(s["anomalies"]["gap"], 0, "{what}: trade ids are contiguous");
                assert_eq!(s["anomalies"]["duplicate"], 0, "{what}");
                assert_eq!(
                    s["candles"]["1m"], full["candles"]["1m"],
                    "{what}: 1m candles"
                );
                if !header {
                    // Without a header the CSV is message for message the WebSocket trades.
                    assert_same(&s, &ws, &format!("{what} vs the WebSocket trades"));
                }
                by_time.push(s);
            }
            assert_same(
                &by_time[0],
                &by_time[1],
                &format!("{packing:?}, header {header}: ms vs µs"),
            );
        }
    }
}

#[test]
fn trades_csv_plain_gz_zst_replay_like_the_ws_capture() {
    check_trades_variants(&[Packing::Plain, Packing::Gz, Packing::Zst], "plain");
}

#[test]
fn trades_zip_archives_replay_like_the_ws_capture() {
    // data.binance.vision ships `BTCUSDT-trades-2024-08-08.zip` holding one CSV.
    //
    // Failed before the fix: `replay_parser` (src/runtime/mod.rs) picks the CSV parser only for names
    // containing `.csv`, so a `.zip` (which `read_all` unpacks) goes to the Binance WebSocket
    // parser and every row is malformed. The fix: also take `.zip` names as Binance CSV.
    check_trades_variants(&[Packing::Zip], "zip");
}

#[test]
fn agg_trades_csv_replays_the_real_agg_trades() {
    let Some(data) = shared_data() else { return };
    let raw =
        tickwire::feed::replay::read_all(&data.join(
            "trades/binance_spot/freqtrade_binance_XRPETH_aggTrades_ccxt_2019-10-11.json.zst",
        ))
        .unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&raw).unwrap();
    assert_eq!(rows.len(), 12_477, "SOURCES.md: 12,477 aggTrades");
    let mut csv = String::from(
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match\n",
    );
    let mut json = Vec::new();
    let mut want = Vec::new();
    for r in &rows {
        let i = &r["info"];
        let m = i["m"].as_bool().unwrap();
        let maker = if m { "True" } else { "False" };
        csv.push_str(&format!(
            "{},{},{},{},{},{},{maker},True\n",
            i["a"],
            i["p"].as_str().unwrap(),
            i["q"].as_str().unwrap(),
            i["f"],
            i["l"],
            i["T"]
        ));
        // The same rows as WebSocket `aggTrade` events.
        json.push(format!(
            r#"{{"e":"aggTrade","E":{},"s":"XRPETH","a":{},"p":{},"q":{},"f":{},"l":{},"T":{},"m":{m},"M":true}}"#,
            i["T"], i["a"], i["p"], i["q"], i["f"], i["l"], i["T"]
        ));
        want.push(T {
            id: i["a"].as_u64().unwrap(),
            price: i["p"].as_str().unwrap().to_string(),
            qty: i["q"].as_str().unwrap().to_string(),
            time_ms: i["T"].as_u64().unwrap(),
            buyer_is_maker: m,
        });
    }
    let work = report_dir("csv-agg-files");
    let path = write_packed(
        &work,
        "XRPETH-aggTrades-2019-10-11",
        csv.as_bytes(),
        Packing::Plain,
    );
    let ws_path = work.join("binance_xrpeth_aggtrades.jsonl");
    std::fs::write(&ws_path, json.join("\n")).unwrap();
    assert_eq!(
        parsed_trades(&path),
        want,
        "aggTrades decoded field for field"
    );
    let s = replay(&[&path], "csv-agg");
    let src = &s["sources"][0];
    eprintln!(
        "XRPETH aggTrades: {} messages, {} trades, {} malformed, 1m candles {}",
        src["messages"], src["trades"], src["malformed"], s["candles"]["1m"]
    );
    assert_eq!(src["messages"], 12_478);
    assert_eq!(src["trades"], 12_477);
    assert_eq!(src["malformed"], 0);
    assert_eq!(src["skipped"]["response"], 1, "the header row");
    assert_eq!(s["anomalies"]["gap"], 0, "aggTrade ids are consecutive");
    // The WebSocket form of the same aggTrades: the same run, but for the header row.
    let ws = replay(&[&ws_path], "csv-agg-ws");
    assert_eq!(ws["sources"][0]["trades"], 12_477);
    assert_eq!(ws["candles"], s["candles"]);
    assert_eq!(ws["anomalies"], s["anomalies"]);
    assert_eq!(ws["fills"], s["fills"]);
    assert_eq!(ws["pnl"], s["pnl"]);
}

#[test]
fn klines_csv_is_counted() {
    let Some(data) = shared_data() else { return };
    let work = report_dir("csv-klines-files");
    std::fs::create_dir_all(&work).unwrap();
    let path = work.join("ADABTC-1m-2021-11-27.csv");
    std::fs::copy(
        data.join("klines/binance_spot/nautilus_binance_ADABTC-1m-2021-11-27.csv"),
        &path,
    )
    .unwrap();
    let rows = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
    assert_eq!(rows, 10);
    let s = replay(&[&path], "csv-klines");
    let src = &s["sources"][0];
    eprintln!(
        "ADABTC klines: {} messages, {} klines, {} malformed",
        src["messages"], src["klines"], src["malformed"]
    );
    assert_eq!(src["messages"], rows);
    assert_eq!(src["klines"], rows);
    assert_eq!(s["events"]["klines"], rows);
    assert_eq!(src["malformed"], 0);
    assert_eq!(src["trades"], 0);
}

#[test]
fn malformed_csv_rows_are_counted_and_the_rest_replays() {
    let Some(data) = shared_data() else { return };
    let (_, trades) = ws_trades(&data);
    let good = trades_csv(&trades, false, false);
    let good = String::from_utf8(good).unwrap();
    // Bad rows, each refused by the CSV parser (none is a header: that is a valid row).
    let bad = [
        "3735683259,abc,0.1,1,1723161255342,True,True",
        "3735683259,-61837.63,0.1,1,1723161255342,True,True",
        "3735683259,61837.63,0.1,1,1723161255342,maybe,True",
        "3735683259,61837.63",
        "3735683259,61837.63,0.1,1,1723161255342,True,True,1,2,3,4,5,6",
        "x3735683259,61837.63,0.1,1,1723161255342,True,True",
        "3735683259,61837.63,0.1,1,99999999999999999999999,True,True",
        "37356832599999999999999,61837.63,0.1,1,1723161255342,True,True",
        ",61837.63,0.1,1,1723161255342,True,True",
        "{\"e\":\"trade\"}",
    ];
    let mut text = String::new();
    let mut inserted = 0u64;
    for (i, row) in good.lines().enumerate() {
        if i % 97 == 0 {
            text.push_str(bad[inserted as usize % bad.len()]);
            text.push('\n');
            inserted += 1;
        }
        text.push_str(row);
        text.push('\n');
    }
    // One header row in the middle is a header, not an error.
    text.push_str(TRADES_HEADER);
    text.push('\n');
    let work = report_dir("csv-malformed");
    let path = write_packed(
        &work,
        "BTCUSDT-trades-2024-08-08",
        text.as_bytes(),
        Packing::Plain,
    );
    let report = work.join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "replay",
            "--input",
            path.to_str().unwrap(),
            "--report-dir",
            report.to_str().unwrap(),
        ])
        .output()
        .expect("spawn tickwire");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    let s = read_summary(&report);
    let src = &s["sources"][0];
    assert_eq!(src["messages"], 9757 + inserted + 1);
    assert_eq!(src["malformed"], inserted, "every bad row");
    assert_eq!(s["messages"]["malformed"], inserted);
    assert_eq!(src["trades"], 9757, "every good row");
    assert_eq!(src["skipped"]["response"], 1);
    assert!(
        stdout.contains(&format!(
            "9757 trades in 9757 messages, 0 quotes, 0 depth, 0 snapshots, 0 klines, 0 book quotes, {inserted} malformed, skipped response=1"
        )),
        "{stdout}"
    );
}
