//! ns per trade through the candle cascade (1s, 1m, 5m, 1h, 1d), beside a base case that
//! runs the same loop over the same trades without the stage. `cargo bench --bench candles`
//!
//! The trades are generated (an endless seeded random walk, about 20 trades a second of market
//! time, so every resolution closes at its real rate) so the bench runs from a fresh clone.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tickwire::candles::{Candles, GapPolicy};
use tickwire::core::cold::ColdTx;
use tickwire::core::stats::LaneStats;
use tickwire::core::{Envelope, InstrumentId, Payload, Price, Qty, Resolution, Trade};

/// An endless, seeded random walk of trades, about 20 a second of market time.
struct Walk {
    x: u64,
    px: i64,
    ns: u64,
    id: u64,
}

impl Walk {
    fn new() -> Self {
        Self {
            x: 0x9E37_79B9_7F4A_7C15,
            px: 6_000_000_000_000,
            ns: 1_723_161_255_342_000_000,
            id: 0,
        }
    }

    #[inline]
    fn next(&mut self) -> Envelope {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        let r = self.x;
        self.px = (self.px + (r % 2_001) as i64 * 100_000 - 100_000_000).max(1);
        self.ns += r % 100_000_000;
        self.id += 1;
        let t = Trade {
            instrument: InstrumentId(0),
            trade_id: self.id,
            price: Price(self.px),
            qty: Qty((r >> 20) as i64 % 1_000_000_000 + 1),
            trade_ns: self.ns,
            event_ns: self.ns,
            buyer_is_maker: r & 1 == 0,
            source: 0,
            flags: 0,
            anomalies: 0,
        };
        Envelope::at(self.ns, Payload::Trade(t))
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("candles");
    g.throughput(Throughput::Elements(1));
    let (tx, _rx) = tickwire::ring::channel(1 << 16).unwrap();
    let mut stage = Candles::new(
        1,
        &Resolution::ALL,
        Arc::new(LaneStats::default()),
        ColdTx::new(tx),
    )
    .with_policy(GapPolicy::Skip, 0);
    let mut out: Vec<Envelope> = Vec::with_capacity(64);
    let mut walk = Walk::new();
    g.bench_function("cascade_5_resolutions_per_trade", |b| {
        b.iter(|| {
            out.clear();
            let e = walk.next();
            stage.on_event(black_box(&e), &mut out);
            black_box(out.len())
        })
    });
    let mut walk = Walk::new();
    g.bench_function("base_loop_per_trade", |b| {
        b.iter(|| {
            out.clear();
            let e = walk.next();
            out.push(*black_box(&e));
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
