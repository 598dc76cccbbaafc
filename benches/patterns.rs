//! ns per candle: `PatternSet::update` (all twelve TA-Lib patterns) over the 14,401 real
//! one-minute candles of `tests/fixtures/talib/binance_btcusdt_1m.csv.zst`, beside the same
//! loop with the update left out (the harness's own cost), and `preview` (a candle still
//! forming) on a warmed-up set. `cargo bench --bench patterns`
//!
//! Each update iteration runs the whole series through a fresh set, so the time per element
//! is the mean cost of one update over the series (lookback candles included, 14 of 14,401).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tickwire::indicators::Bar;
use tickwire::patterns::PatternSet;

fn bars() -> Vec<Bar> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib/binance_btcusdt_1m.csv.zst");
    let raw = std::fs::read(&path).expect("fixture");
    let text = String::from_utf8(zstd::decode_all(&raw[..]).expect("zstd")).expect("utf-8");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let x = |i: usize| f[i].parse::<f64>().expect("price");
            Bar {
                open_ns: f[0].parse::<u64>().expect("time") * 1_000_000,
                open: x(1),
                high: x(2),
                low: x(3),
                close: x(4),
                volume: x(5),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let bars = bars();
    let mut g = c.benchmark_group("patterns_binance_btcusdt_1m");
    g.throughput(Throughput::Elements(bars.len() as u64));
    g.bench_function("harness_only", |b| {
        b.iter(|| {
            for bar in &bars {
                black_box(black_box(bar).close);
            }
        })
    });
    g.bench_function("pattern_set_update", |b| {
        b.iter(|| {
            let mut p = PatternSet::new();
            for bar in &bars {
                black_box(p.update(black_box(bar)));
            }
        })
    });
    // A candle still forming: every bar previewed against one warmed-up set.
    g.bench_function("pattern_set_preview", |b| {
        let mut p = PatternSet::new();
        for bar in &bars[..100] {
            p.update(bar);
        }
        b.iter(|| {
            for bar in &bars {
                black_box(p.preview(black_box(bar)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
