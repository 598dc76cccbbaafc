//! Candles built from Kraken's own trades equal Kraken's own 1-minute candles.
//!
//! `rest/kraken/nautilus_kraken_XBTUSDT_http_trades.json.zst` (1,000 XBTUSDT trades, REST
//! `Trades`) through `tickwire::tools::candles` (the engine's candle stage) must reproduce
//! `..._http_ohlc.json.zst` (REST `OHLC`, 1m) exactly — open, high, low, close, volume and
//! trade count as exact decimals — for every minute with trades, skipping the first minute
//! (the trade file starts inside it). With `gaps = fill`, the minutes without trades between
//! them must equal Kraken's flat carry-forward candles too.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tickwire::candles::GapPolicy;
use tickwire::core::num::parse_scaled_text;
use tickwire::core::Resolution;
use tickwire::tools::{candles, CandleOptions};

type Row = (i64, i64, i64, i64, i64, u64);

/// Kraken's candles by open time (s): (open, high, low, close, volume, count) at 10⁻⁸.
fn kraken_ohlc(data: &Path) -> BTreeMap<u64, Row> {
    let bytes = zstd::decode_all(
        std::fs::File::open(data.join("rest/kraken/nautilus_kraken_XBTUSDT_http_ohlc.json.zst"))
            .unwrap(),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let d = |x: &Value| parse_scaled_text(x.as_str().unwrap().as_bytes()).unwrap();
    v["result"]["XBTUSDT"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap(),
                (
                    d(&r[1]),
                    d(&r[2]),
                    d(&r[3]),
                    d(&r[4]),
                    d(&r[6]),
                    r[7].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Our candles by open time (s), read back from the CSV the command wrote.
fn ours(dir: &Path) -> BTreeMap<u64, (Row, u32)> {
    let text = std::fs::read_to_string(dir.join("XBTUSDT_1m.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(tickwire::tools::CANDLE_HEADER));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let d = |s: &str| parse_scaled_text(s.as_bytes()).unwrap();
            (
                f[0].parse::<u64>().unwrap() / 1000,
                (
                    (
                        d(f[1]),
                        d(f[2]),
                        d(f[3]),
                        d(f[4]),
                        d(f[5]),
                        f[7].parse().unwrap(),
                    ),
                    f[10].parse().unwrap(),
                ),
            )
        })
        .collect()
}

fn build(data: &Path, gaps: GapPolicy, name: &str) -> BTreeMap<u64, (Row, u32)> {
    let dir = common::report_dir(name);
    let r = candles(
        &data.join("rest/kraken/nautilus_kraken_XBTUSDT_http_trades.json.zst"),
        &CandleOptions {
            resolutions: vec![Resolution::M1],
            gaps,
            lateness_ms: 0,
        },
        &dir,
    )
    .unwrap();
    assert_eq!(r.trades, 1_000);
    assert_eq!((r.malformed, r.late), (0, 0));
    ours(&dir)
}

#[test]
fn kraken_trades_make_kraken_candles() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let kraken = kraken_ohlc(&data);
    let mine = build(&data, GapPolicy::Skip, "kraken-golden-skip");
    let first = *mine.keys().next().unwrap();
    let last = *mine.keys().last().unwrap();
    let with_trades: Vec<u64> = kraken
        .iter()
        .filter(|(t, r)| r.5 > 0 && **t > first && **t <= last)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        with_trades.len(),
        273,
        "minutes with trades after the first"
    );
    for t in &with_trades {
        let (row, _) = mine.get(t).unwrap_or_else(|| panic!("no candle at {t}"));
        assert_eq!(row, &kraken[t], "minute {t}");
    }
    // Nothing where Kraken saw no trade.
    for t in mine.keys() {
        assert!(kraken[t].5 > 0, "a candle at {t}, where Kraken has none");
    }
    assert_eq!(mine.len(), 274);

    // Filled: every minute from the first to the last, flat ones equal to Kraken's.
    let filled = build(&data, GapPolicy::Fill, "kraken-golden-fill");
    assert_eq!(filled.len() as u64, (last - first) / 60 + 1);
    let mut flat = 0;
    for (t, (row, flags)) in filled.iter().filter(|(t, _)| **t > first) {
        assert_eq!(row, &kraken[t], "minute {t}");
        if row.5 == 0 {
            assert_eq!(*flags & 4, 4, "flat minute {t} is flagged filled");
            flat += 1;
        }
    }
    assert!(flat > 100, "{flat} flat minutes");
}
