//! The indicators against TA-Lib 0.8.2 (python) on five real candle series
//! (`tests/fixtures/talib/*.csv.zst`, made by `scripts/talib_fixtures.py`).
//!
//! Every row goes through [`IndicatorSet::update`]; every column must be `None` exactly where
//! TA-Lib has no value and within 1e-9 relative where it has one. The max relative error and
//! the count of bit-exact rows per column are printed (`-- --nocapture` to see them).

use std::path::Path;

use tickwire::indicators::{Bar, IndicatorSet, RollingVwap, COLUMNS};

const SERIES: [&str; 5] = [
    "binance_btcusdt_1m",
    "ftx_btcperp_1m",
    "coinbase_btcusd_1h",
    "coinbase_btcusd_1d",
    "binance_btcusdt_1d",
];

const TOLERANCE: f64 = 1e-9;

/// One fixture row: the bar and TA-Lib's 16 indicator values.
struct Row {
    bar: Bar,
    want: [Option<f64>; 16],
}

fn load(name: &str) -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib")
        .join(format!("{name}.csv.zst"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name}: no column {name}"))
    };
    let [t, o, h, l, c, v] = ["open_time", "open", "high", "low", "close", "volume"].map(&col);
    let ind = COLUMNS.map(col);
    let num = |s: &str| -> f64 { s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")) };
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let open_ms: u64 = f[t].parse().unwrap();
            Row {
                bar: Bar {
                    open_ns: open_ms * 1_000_000,
                    open: num(f[o]),
                    high: num(f[h]),
                    low: num(f[l]),
                    close: num(f[c]),
                    volume: num(f[v]),
                },
                want: ind.map(|i| (!f[i].is_empty()).then(|| num(f[i]))),
            }
        })
        .collect()
}

fn rel_err(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    (a - b).abs() / a.abs().max(b.abs())
}

#[derive(Default, Clone, Copy)]
struct ColumnStats {
    compared: usize,
    exact: usize,
    max_rel: f64,
    worst_row: usize,
}

#[test]
fn indicator_set_matches_talib_on_every_row() {
    let mut failures = Vec::new();
    for name in SERIES {
        let rows = load(name);
        let mut set = IndicatorSet::new();
        let mut stats = [ColumnStats::default(); 16];
        for (i, row) in rows.iter().enumerate() {
            let preview = set.preview(&row.bar);
            let got = set.update(&row.bar);
            assert_eq!(preview, got, "{name} row {i}: preview differs from update");
            for (k, (g, w)) in got.values.iter().zip(&row.want).enumerate() {
                match (g, w) {
                    (None, None) => {}
                    (Some(g), Some(w)) => {
                        let e = rel_err(*g, *w);
                        let s = &mut stats[k];
                        s.compared += 1;
                        s.exact += usize::from(g.to_bits() == w.to_bits());
                        if e > s.max_rel {
                            s.max_rel = e;
                            s.worst_row = i;
                        }
                        if e > TOLERANCE && failures.len() < 20 {
                            failures.push(format!("{name} row {i} {}: {g} vs {w}", COLUMNS[k]));
                        }
                    }
                    _ => {
                        if failures.len() < 20 {
                            failures.push(format!("{name} row {i} {}: {g:?} vs {w:?}", COLUMNS[k]));
                        }
                    }
                }
            }
        }
        println!("{name}: {} rows", rows.len());
        println!(
            "  {:<12} {:>8} {:>8} {:>10}  worst row",
            "column", "compared", "exact", "max rel"
        );
        for (k, s) in stats.iter().enumerate() {
            println!(
                "  {:<12} {:>8} {:>8} {:>10.2e}  {}",
                COLUMNS[k], s.compared, s.exact, s.max_rel, s.worst_row
            );
            assert!(s.compared > 0, "{name} {}: nothing compared", COLUMNS[k]);
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn rolling_vwap_matches_a_fresh_sum_on_real_bars() {
    for name in ["binance_btcusdt_1m", "coinbase_btcusd_1h"] {
        let bars: Vec<Bar> = load(name).into_iter().map(|r| r.bar).collect();
        for n in [1, 20, 390] {
            let mut v = RollingVwap::new(n);
            for (t, b) in bars.iter().enumerate() {
                let got = v.update(b);
                if t + 1 < n {
                    assert_eq!(got, None);
                    continue;
                }
                let w = &bars[t + 1 - n..=t];
                let (mut pv, mut vol) = (0.0, 0.0);
                for b in w {
                    pv += (b.high + b.low + b.close) / 3.0 * b.volume;
                    vol += b.volume;
                }
                if vol == 0.0 {
                    assert_eq!(got, None, "{name} n={n} t={t}");
                } else {
                    let got = got.unwrap_or_else(|| panic!("{name} n={n} t={t}: None"));
                    assert!(rel_err(got, pv / vol) <= TOLERANCE, "{name} n={n} t={t}");
                }
            }
        }
    }
}
