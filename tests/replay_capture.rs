//! Replays real Binance captures through the whole pipeline and checks every message is
//! accounted for: trades and book tickers counted exactly, the rest skipped by type.

mod common;

use common::*;

#[test]
fn btcusdt_capture_counts_exactly() {
    let Some(data) = shared_data() else { return };
    let cap = btc_capture(&data);
    let dir = report_dir("replay-btc");
    let res = run_with(&replay_sets(&[&cap]), "replay", &dir);
    let s = &res.summary;
    assert_eq!(s["events"]["trades"], 9757);
    assert_eq!(s["events"]["book_tickers"], 28040);
    assert_eq!(s["messages"]["received"], 41249);
    assert_eq!(s["messages"]["malformed"], 0);
    assert_eq!(s["events"]["depth_updates"], 3451);
    assert_eq!(s["events"]["book_snapshots"], 1);
    assert_eq!(
        s["sources"][0]["book_gaps"], 0,
        "the snapshot bridges the diff stream"
    );
    // The capture has no gaps or duplicates (SOURCES.md): the arbiter must agree.
    assert_eq!(s["anomalies"]["gap"], 0);
    assert_eq!(s["anomalies"]["duplicate"], 0);
    for t in s["threads"].as_array().unwrap() {
        assert_eq!(t["allocations"], 0, "hot thread {} allocated", t["name"]);
    }
    // The report directory has everything DESIGN.md lists.
    for f in [
        "summary.json",
        "report.md",
        "journal.md",
        "metrics.jsonl",
        "orders.csv",
        "fills.csv",
        "equity.csv",
        "latency/parse.hgrm",
        "latency/venue.hgrm",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(s["fills"].as_u64().unwrap() > 0);
    assert_account_adds_up(s);
    let journal = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    assert!(journal.contains("## Start") && journal.contains("## Final summary"));
}

#[test]
fn contiguous_days_replay_without_gaps() {
    let Some(data) = shared_data() else { return };
    let a = btc_capture(&data);
    let b = data.join("ws/binance_spot/hftbacktest_spot_btcusdt_20240809.jsonl.zst");
    let dir = report_dir("replay-btc-2days");
    let res = run_with(&replay_sets(&[&a, &b]), "replay", &dir);
    let s = &res.summary;
    assert_eq!(s["events"]["trades"], 9757 + 10147);
    assert_eq!(s["events"]["book_tickers"], 28040 + 45134);
    assert_eq!(
        s["anomalies"]["gap"], 0,
        "trade ids are contiguous across the two files"
    );
}

#[test]
fn every_capture_line_round_trips_through_the_price_parser() {
    // Exact money: every price and quantity string in the capture parses to an integer that
    // formats back to the identical string.
    let Some(data) = shared_data() else { return };
    let cap = tickwire::feed::replay::Capture::load(&btc_capture(&data)).unwrap();
    let mut checked = 0;
    for i in 0..cap.lines.len() {
        let v: serde_json::Value = serde_json::from_slice(cap.line(i)).unwrap();
        let d = v.get("data").unwrap_or(&v);
        for k in ["p", "q", "b", "B", "a", "A"] {
            if let Some(s) = d.get(k).and_then(|x| x.as_str()) {
                let n = tickwire::core::num::parse_scaled(s.as_bytes()).unwrap();
                assert_eq!(tickwire::core::num::format_scaled(n, 8), s);
                checked += 1;
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

#[test]
fn every_binance_capture_is_counted_exactly() {
    // (file, trades, book tickers, depth updates, REST snapshots) from SOURCES.md.
    let table: &[(&str, u64, u64, u64, u64)] = &[
        (
            "binance_spot/hftbacktest_spot_btcusdt_20240809",
            10147,
            45134,
            3044,
            0,
        ),
        (
            "binance_spot/hftbacktest_spot_ethusdt_20240808",
            6106,
            24077,
            3434,
            1,
        ),
        (
            "binance_spot/hftbacktest_spot_ethusdt_20240809",
            8409,
            34681,
            3036,
            0,
        ),
        (
            "binance_usdm_futures/hftbacktest_usdm_btcusdt_20240808",
            21313,
            66089,
            6551,
            1,
        ),
        (
            "binance_usdm_futures/hftbacktest_usdm_ethusdt_20240808",
            14076,
            53992,
            6586,
            1,
        ),
        (
            "binance_coinm_futures/hftbacktest_cm_btcusd_perp_20240808",
            2286,
            19136,
            26847,
            1,
        ),
        (
            "binance_coinm_futures/hftbacktest_cm_btcusd_perp_20240809",
            2949,
            29219,
            17948,
            0,
        ),
        (
            "binance_coinm_futures/hftbacktest_cm_ethusd_perp_20240808",
            1732,
            15812,
            22909,
            1,
        ),
        (
            "binance_coinm_futures/hftbacktest_cm_ethusd_perp_20240809",
            1863,
            19751,
            16246,
            0,
        ),
    ];
    let Some(data) = shared_data() else { return };
    for &(file, trades, books, depth, snaps) in table {
        let path = data.join(format!("ws/{file}.jsonl.zst"));
        let dir = report_dir(&format!("replay-{}", file.replace('/', "-")));
        let s = run_with(&replay_sets(&[&path]), "replay", &dir).summary;
        assert_eq!(s["events"]["trades"], trades, "{file}");
        assert_eq!(s["events"]["book_tickers"], books, "{file}");
        assert_eq!(s["events"]["depth_updates"], depth, "{file}");
        assert_eq!(s["events"]["book_snapshots"], snaps, "{file}");
        assert_eq!(
            s["sources"][0]["book_gaps"], 0,
            "{file}: depth sequence unbroken"
        );
        assert_eq!(s["messages"]["malformed"], 0, "{file}");
        assert_eq!(s["anomalies"]["gap"], 0, "{file}: trade ids are contiguous");
    }
}

#[test]
fn multi_symbol_captures_have_no_malformed_messages() {
    // cryptofeed's Binance captures mix hundreds of symbols and message types; every message
    // must be accounted for as parsed or skipped by type, none as malformed.
    let Some(data) = shared_data() else { return };
    for dir in [
        "binance_spot",
        "binance_us",
        "binance_usdm_futures",
        "binance_coinm_futures",
    ] {
        for entry in std::fs::read_dir(data.join("ws").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("cryptofeed") || !name.ends_with(".jsonl.zst") {
                continue;
            }
            let s = run_with(&replay_sets(&[&path]), "replay", &report_dir(&name)).summary;
            assert_eq!(s["messages"]["malformed"], 0, "{name}");
            let skipped: u64 = s["messages"]["skipped"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.as_str() != "other_instrument")
                .map(|(_, v)| v.as_u64().unwrap())
                .sum();
            let parsed = s["messages"]["parsed"].as_u64().unwrap();
            assert_eq!(
                parsed + skipped,
                s["messages"]["received"].as_u64().unwrap(),
                "{name}"
            );
            assert!(s["events"]["book_tickers"].as_u64().unwrap() > 0, "{name}");
        }
    }
}
