//! Cost of one candle close through the strategy host: `cargo bench --bench strategy`.
//!
//! Every benchmark walks the 14,401 one-minute candles of `binance_btcusdt_1m` (the TA-Lib
//! fixture) with 5m and 1h candles folded in, finest first, as the candle stage emits them
//! (17,562 candles a lap); one candle per iteration, wrapping around with times shifted by a
//! whole number of days so the host sees time move forward. Criterion's time per iteration
//! is the ns per candle close (a 1m close runs a decision step; 5m and 1h closes only
//! update their resolution).
//!
//! * `base`: the harness alone (pick the candle, shift its time);
//! * `host_only`: the host with no strategy: indicators (16 columns + 12 patterns) and
//!   regime means at three resolutions, step bookkeeping;
//! * `momentum`, `reversal`, `breakout`, `pattern`: the host with that one strategy at its
//!   defaults: its raw signals, scoring, suppression, sizing and a decision record per step;
//!   the strategy's own cost is the difference from `host_only`;
//! * `all_four`: the four together;
//! * `scoring`: `scoring::score` alone on recorded raw signals (per call).
//!
//! Sinks count and drop, so only the host is measured.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use tickwire::core::order::OrderIntent;
use tickwire::core::{Candle, Instrument, InstrumentId, Price, Qty, Resolution, Sink, Symbol};
use tickwire::strategy::api::Portfolio;
use tickwire::strategy::config::HostConfig;
use tickwire::strategy::host::{Decision, StrategyHost};
use tickwire::strategy::scoring::{self, ScoringConfig};

fn load() -> Vec<Candle> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib/binance_btcusdt_1m.csv.zst");
    let bytes = std::fs::read(&path).expect("fixture");
    let text = String::from_utf8(zstd::decode_all(&bytes[..]).expect("zstd")).expect("utf8");
    let m1: Vec<Candle> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.splitn(7, ',').collect();
            let px = |i: usize| Price::parse(f[i].as_bytes()).expect("price");
            Candle {
                instrument: InstrumentId(0),
                resolution: Resolution::M1,
                open_ns: f[0].parse::<u64>().expect("time") * 1_000_000,
                open: px(1),
                high: px(2),
                low: px(3),
                close: px(4),
                volume: Qty::parse(f[5].as_bytes()).expect("volume"),
                quote_volume: 0,
                trades: 1,
                sources: 1,
                taker_buy_volume: Qty(0),
                anomalies: 0,
                revision: 0,
                flags: 0,
            }
        })
        .collect();
    // Fold 5m and 1h candles in, emitted after the 1m candle that closes them.
    let mut out = Vec::with_capacity(m1.len() * 5 / 4);
    let mut open: [Option<Candle>; 2] = [None, None];
    for c in &m1 {
        out.push(*c);
        let end = c.open_ns + Resolution::M1.nanos();
        for (k, r) in [Resolution::M5, Resolution::H1].into_iter().enumerate() {
            let a = open[k].get_or_insert(Candle {
                resolution: r,
                open_ns: c.open_ns - c.open_ns % r.nanos(),
                volume: Qty(0),
                ..*c
            });
            a.high = a.high.max(c.high);
            a.low = a.low.min(c.low);
            a.close = c.close;
            a.volume = Qty(a.volume.0 + c.volume.0);
            if end.is_multiple_of(r.nanos()) {
                out.push(*a);
                open[k] = None;
            }
        }
    }
    out
}

/// Counts what it is given.
struct Count(u64);

impl<T> Sink<T> for Count {
    #[inline]
    fn emit(&mut self, value: T) {
        black_box(&value);
        self.0 += 1;
    }
}

/// Walks the candles forever, shifting each lap by whole days.
struct Lap<'a> {
    candles: &'a [Candle],
    i: usize,
    shift: u64,
    span: u64,
}

impl<'a> Lap<'a> {
    fn new(candles: &'a [Candle]) -> Self {
        const DAY: u64 = 86_400_000_000_000;
        let first = candles[0].open_ns;
        let last = candles
            .iter()
            .map(|c| c.open_ns + c.resolution.nanos())
            .max()
            .unwrap();
        Self {
            candles,
            i: 0,
            shift: 0,
            span: (last - first).div_ceil(DAY) * DAY,
        }
    }

    #[inline]
    fn next(&mut self) -> Candle {
        let mut c = self.candles[self.i];
        c.open_ns += self.shift;
        self.i += 1;
        if self.i == self.candles.len() {
            self.i = 0;
            self.shift += self.span;
        }
        c
    }
}

fn host(strategies: &str) -> StrategyHost {
    let spec = HostConfig::from_toml(&format!(
        "resolutions = [\"1m\", \"5m\", \"1h\"]\n{strategies}"
    ))
    .and_then(|c| c.validate())
    .expect("config");
    let btc = Instrument {
        symbol: Symbol::new(b"BTCUSDT").unwrap(),
        tick: 1_000_000,
        lot: 1_000,
    };
    StrategyHost::new(&spec, &[btc])
}

fn bench(c: &mut Criterion) {
    let candles = load();
    let pf = Portfolio::new(1, 100_000 * 100_000_000);
    let mut g = c.benchmark_group("candle_close_binance_btcusdt_1m_5m_1h");

    let mut lap = Lap::new(&candles);
    g.bench_function("base", |b| {
        b.iter(|| {
            let c = lap.next();
            black_box(black_box(&c).close)
        })
    });

    let cases = [
        ("host_only", ""),
        ("momentum", "[[strategies]]\nmomentum = {}"),
        ("reversal", "[[strategies]]\nreversal = {}"),
        ("breakout", "[[strategies]]\nbreakout = {}"),
        ("pattern", "[[strategies]]\npattern = {}"),
        (
            "all_four",
            "[[strategies]]\nmomentum = {}\n[[strategies]]\nreversal = {}\n\
             [[strategies]]\nbreakout = {}\n[[strategies]]\npattern = {}",
        ),
    ];
    for (name, strategies) in cases {
        let mut h = host(strategies);
        let mut lap = Lap::new(&candles);
        let (mut intents, mut decisions) = (Count(0), Count(0));
        g.bench_function(name, |b| {
            b.iter(|| {
                let c = lap.next();
                let end = c.open_ns + c.resolution.nanos();
                h.on_candle(black_box(&c), end, &pf, &mut intents, &mut decisions);
            })
        });
        black_box((intents.0, decisions.0));
    }

    // Scoring alone, on the raw signals and regimes the four strategies produced.
    let mut h = host(cases[5].1);
    let mut recorded: Vec<Decision> = Vec::with_capacity(candles.len() * 4);
    let mut sink: Vec<OrderIntent> = Vec::new();
    let mut lap = Lap::new(&candles);
    for _ in 0..candles.len() {
        let c = lap.next();
        h.on_candle(
            &c,
            c.open_ns + c.resolution.nanos(),
            &pf,
            &mut sink,
            &mut recorded,
        );
    }
    let inputs: Vec<_> = recorded
        .iter()
        .filter(|d| d.parts.raw.iter().any(Option::is_some))
        .map(|d| (d.parts.raw, d.parts.volume_ratio, d.parts.atr_ratio))
        .collect();
    let spec = ScoringConfig::default()
        .validate("scoring", &[Resolution::M1, Resolution::M5, Resolution::H1])
        .unwrap();
    let mut i = 0;
    g.bench_function("scoring", |b| {
        b.iter(|| {
            let (raw, v, a) = &inputs[i];
            i = if i + 1 == inputs.len() { 0 } else { i + 1 };
            black_box(scoring::score(&spec, black_box(raw), *v, *a))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
