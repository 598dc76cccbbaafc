//! `tickwire indicators` end to end: the command's CSV equals TA-Lib's fixtures.
//!
//! For every committed fixture (`tests/fixtures/talib/*.csv.zst`, made by
//! `scripts/talib_fixtures.py` from real candles), the fixture's own input columns are written
//! to a candle CSV, the command runs on it, and every output cell is compared with TA-Lib's:
//! indicators within 1e-9 relative and empty exactly where TA-Lib has no value, patterns
//! equal. The command also reads the original kline file (its own header, ISO 8601 times)
//! and a Binance kline CSV without a header.

mod common;

use std::path::{Path, PathBuf};

use tickwire::tools::indicators::indicators;

const SERIES: [&str; 5] = [
    "binance_btcusdt_1m",
    "ftx_btcperp_1m",
    "coinbase_btcusd_1h",
    "coinbase_btcusd_1d",
    "binance_btcusdt_1d",
];

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib")
        .join(format!("{name}.csv.zst"));
    String::from_utf8(zstd::decode_all(std::fs::File::open(p).unwrap()).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Compares the command's output with the fixture's columns 6.. (indicators, patterns).
fn compare(name: &str, fixture: &str, out: &str) {
    let exp: Vec<&str> = fixture.lines().collect();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), exp.len(), "{name}: rows");
    let eh: Vec<&str> = exp[0].split(',').collect();
    let gh: Vec<&str> = got[0].split(',').collect();
    assert_eq!(gh[0], "open_time");
    assert_eq!(&gh[1..], &eh[6..], "{name}: columns");
    let mut checked = 0u64;
    for (i, (e, g)) in exp[1..].iter().zip(&got[1..]).enumerate() {
        let e: Vec<&str> = e.split(',').collect();
        let g: Vec<&str> = g.split(',').collect();
        assert_eq!(g[0], e[0], "{name} row {i}: open_time");
        for (k, (ev, gv)) in e[6..].iter().zip(&g[1..]).enumerate() {
            let col = gh[k + 1];
            if ev.is_empty() || gv.is_empty() {
                assert_eq!(
                    gv, ev,
                    "{name} row {i} {col}: empty exactly where TA-Lib is"
                );
                continue;
            }
            let (a, b): (f64, f64) = (gv.parse().unwrap(), ev.parse().unwrap());
            assert!(close(a, b), "{name} row {i} {col}: {a} vs TA-Lib {b}");
            checked += 1;
        }
    }
    eprintln!(
        "{name}: {} rows, {checked} values equal to TA-Lib's",
        exp.len() - 1
    );
}

fn scratch(name: &str) -> PathBuf {
    let d = common::report_dir(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn command_output_equals_talib_on_every_fixture() {
    let dir = scratch("indicators-cmd");
    for name in SERIES {
        let fx = fixture(name);
        let input: String = fx
            .lines()
            .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        let inp = dir.join(format!("{name}.csv"));
        std::fs::write(&inp, input).unwrap();
        let out = dir.join(format!("{name}.out.csv"));
        let r = indicators(&inp, &out).unwrap();
        assert_eq!(r.rows, fx.lines().count() - 1);
        // The Coinbase hourly export has duplicated, mislabelled hours.
        eprintln!("{name}: {} rows out of time order", r.unordered);
        compare(name, &fx, &std::fs::read_to_string(&out).unwrap());
    }
}

#[test]
fn reads_the_original_kline_files() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = scratch("indicators-cmd-orig");
    // Its own header (12 Binance columns) and ISO 8601 times with a zone.
    let out = dir.join("btc.csv");
    indicators(
        &data.join(
            "klines/binance_spot/camfeghali_binance_BTCUSDT_1m_2025-08-01_2025-08-11.csv.zst",
        ),
        &out,
    )
    .unwrap();
    compare(
        "camfeghali original",
        &fixture("binance_btcusdt_1m"),
        &std::fs::read_to_string(&out).unwrap(),
    );
    // No header: a Binance kline CSV as data.binance.vision serves it.
    let out = dir.join("ada.csv");
    let r = indicators(
        &data.join("klines/binance_spot/nautilus_binance_ADABTC-1m-2021-11-27.csv"),
        &out,
    )
    .unwrap();
    assert_eq!(r.rows, 10);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().nth(1).unwrap().starts_with("1637971200000,"));
}

#[test]
fn bad_input_is_one_clear_error() {
    let dir = scratch("indicators-cmd-bad");
    let p = dir.join("bad.csv");
    // Times that go backwards are kept in file order and counted.
    std::fs::write(
        &p,
        "open_time,open,high,low,close,volume\n1,1,1,1,1,1\n0,1,1,1,1,1\n",
    )
    .unwrap();
    let r = indicators(&p, &dir.join("o.csv")).unwrap();
    assert_eq!((r.rows, r.unordered), (2, 1));
    std::fs::write(&p, "open_time,open,high,low,close,volume\n1,x,1,1,1,1\n").unwrap();
    let e = indicators(&p, &dir.join("o.csv")).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("not a number"), "{e}");
    std::fs::write(&p, "a,b\n").unwrap();
    assert!(indicators(&p, &dir.join("o.csv")).is_err());
    assert!(indicators(&dir.join("missing.csv"), &dir.join("o.csv")).is_err());
}
