//! Cost of one indicator update on real bars: `cargo bench --bench indicators`.
//!
//! Every benchmark walks the 14,401 one-minute bars of `binance_btcusdt_1m` (the TA-Lib
//! fixture), one bar per iteration, wrapping around at the end; criterion's time per
//! iteration is the ns per update. `base` walks the same bars doing nothing but reading the
//! close, so it is the loop and harness cost alone. TA-Lib's batch cost per element on the
//! same series comes from `scripts/talib_bench.py`.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use tickwire::indicators::ema::Ema;
use tickwire::indicators::{
    Adx, Atr, Bar, Bbands, Indicator, IndicatorSet, Macd, Obv, RollingVwap, Rsi, SessionVwap, Sma,
    Stoch,
};

fn load_bars() -> Vec<Bar> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib/binance_btcusdt_1m.csv.zst");
    let bytes = std::fs::read(&path).expect("fixture");
    let text = String::from_utf8(zstd::decode_all(&bytes[..]).expect("zstd")).expect("utf8");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.splitn(7, ',').collect();
            let n = |i: usize| f[i].parse::<f64>().expect("number");
            Bar {
                open_ns: f[0].parse::<u64>().expect("time") * 1_000_000,
                open: n(1),
                high: n(2),
                low: n(3),
                close: n(4),
                volume: n(5),
            }
        })
        .collect()
}

/// One update of `ind` per iteration, cycling through `bars`.
fn bench_update<I: Indicator>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut ind: I,
    bars: &[Bar],
) {
    let mut i = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            let bar = &bars[i];
            i = if i + 1 == bars.len() { 0 } else { i + 1 };
            black_box(ind.update_bar(black_box(bar)))
        })
    });
}

fn bench(c: &mut Criterion) {
    let bars = load_bars();
    let mut g = c.benchmark_group("update_binance_btcusdt_1m");

    let mut i = 0;
    g.bench_function("base", |b| {
        b.iter(|| {
            let bar = &bars[i];
            i = if i + 1 == bars.len() { 0 } else { i + 1 };
            black_box(black_box(bar).close)
        })
    });
    bench_update(&mut g, "sma_20", Sma::new(20), &bars);
    bench_update(&mut g, "ema_12", Ema::new(12), &bars);
    bench_update(&mut g, "rsi_14", Rsi::new(14), &bars);
    bench_update(&mut g, "macd_12_26_9", Macd::new(12, 26, 9), &bars);
    bench_update(&mut g, "bbands_20_2_2", Bbands::new(20, 2.0, 2.0), &bars);
    bench_update(&mut g, "atr_14", Atr::new(14), &bars);
    bench_update(&mut g, "stoch_5_3_3", Stoch::new(5, 3, 3), &bars);
    bench_update(&mut g, "obv", Obv::new(), &bars);
    bench_update(&mut g, "adx_14", Adx::new(14), &bars);
    bench_update(&mut g, "vwap_session", SessionVwap::new(), &bars);
    bench_update(&mut g, "vwap_rolling_20", RollingVwap::new(20), &bars);

    // The row (16 × Option<f64>, 256 bytes) is left in memory for black_box to read, not
    // returned by value, which would add a memcpy call per iteration to the measurement.
    let mut set = IndicatorSet::new();
    let mut i = 0;
    g.bench_function("indicator_set", |b| {
        b.iter(|| {
            let bar = &bars[i];
            i = if i + 1 == bars.len() { 0 } else { i + 1 };
            let row = set.update(black_box(bar));
            black_box(&row);
        })
    });
    let mut i = 0;
    g.bench_function("indicator_set_preview", |b| {
        b.iter(|| {
            let bar = &bars[i];
            i = if i + 1 == bars.len() { 0 } else { i + 1 };
            let row = set.preview(black_box(bar));
            black_box(&row);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
