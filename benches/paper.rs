//! Paper exchange costs on one thread, each beside a base case that runs the same loop (the
//! same inputs built, the same sink cleared) without the exchange: `cargo bench --bench paper`.
//!
//! - `paper_market_round_trip`: one market order, submit → `Ack` + `Fill` in the sink; with no
//!   latency (matched inside `submit`), and with 5 + 5 ms (submit, then `on_time` past the
//!   arrival and the report's return).
//! - `paper_book_ticker/N`: one book ticker with N orders resting on the instrument (a third
//!   at the touch, the rest behind it, so every queue is looked at).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tickwire::core::num::SCALE;
use tickwire::core::order::{Execution, OrderIntent, Purpose, TimeInForce, VenueOrder};
use tickwire::core::{
    BookTicker, Instrument, InstrumentId, InstrumentTable, OrderType, Price, Qty, Side, Symbol,
};
use tickwire::venue::sim::{Decimal8, PaperExchange, PaperSpec};

const TICK: i64 = SCALE / 100;
const LOT: i64 = SCALE / 100_000;
const MS: u64 = 1_000_000;

fn table() -> InstrumentTable {
    let t = InstrumentTable::new(1);
    t.insert(Instrument {
        symbol: Symbol::new(b"BTCUSDT").unwrap(),
        tick: TICK,
        lot: LOT,
    })
    .unwrap();
    t
}

fn ticker(ns: u64, bid_qty: i64) -> BookTicker {
    BookTicker {
        instrument: InstrumentId(0),
        update_id: ns,
        bid_px: Price(6_000_000 * TICK),
        bid_qty: Qty(bid_qty),
        ask_px: Price(6_000_001 * TICK),
        // Deep enough that a bench never walks past the touch.
        ask_qty: Qty(i64::MAX / 4),
        event_ns: ns,
        source: 0,
    }
}

fn order(id: u64, side: Side, ty: OrderType, px: i64, sent_ns: u64) -> VenueOrder {
    VenueOrder {
        client_order_id: id,
        intent: OrderIntent {
            instrument: InstrumentId(0),
            strategy: 0,
            side,
            order_type: ty,
            price: Price(px),
            qty: Qty(LOT),
            tif: TimeInForce::Gtc,
            purpose: Purpose::Open,
            decided_ns: sent_ns,
        },
        sent_ns,
    }
}

fn spec(latency_ms: u64) -> PaperSpec {
    PaperSpec {
        order_latency_ms: latency_ms,
        md_latency_ms: latency_ms,
        maker_fee_bps: Decimal8(-SCALE / 4),
        ..PaperSpec::default()
    }
}

fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("paper_market_round_trip");
    let mut out: Vec<Execution> = Vec::with_capacity(64);
    let mut id = 0u64;
    g.bench_function("harness_only", |b| {
        b.iter(|| {
            id += 1;
            out.clear();
            black_box(order(id, Side::Buy, OrderType::Market, 0, 1_000 * MS));
            black_box(&mut out);
        })
    });
    let mut x = PaperExchange::new(&spec(0), &table(), 64, 64).unwrap();
    x.on_book_ticker(&ticker(1_000 * MS, i64::MAX / 4), &mut out);
    g.bench_function("no_latency", |b| {
        b.iter(|| {
            id += 1;
            out.clear();
            x.submit(
                black_box(&order(id, Side::Buy, OrderType::Market, 0, 1_000 * MS)),
                &mut out,
            );
            debug_assert_eq!(out.len(), 2);
            black_box(&mut out);
        })
    });
    let mut x = PaperExchange::new(&spec(5), &table(), 64, 64).unwrap();
    x.on_book_ticker(&ticker(1_000 * MS, i64::MAX / 4), &mut out);
    let mut now = 1_000 * MS;
    g.bench_function("latency_5_plus_5_ms", |b| {
        b.iter(|| {
            id += 1;
            out.clear();
            x.submit(
                black_box(&order(id, Side::Buy, OrderType::Market, 0, now)),
                &mut out,
            );
            now += 15 * MS;
            x.on_time(now, &mut out);
            debug_assert_eq!(out.len(), 2);
            black_box(&mut out);
        })
    });
    g.finish();
}

fn book_ticker(c: &mut Criterion) {
    let mut g = c.benchmark_group("paper_book_ticker");
    let mut out: Vec<Execution> = Vec::with_capacity(1024);
    let mut ns = 1_000 * MS;
    g.bench_function("harness_only", |b| {
        b.iter(|| {
            ns += 1;
            out.clear();
            black_box(ticker(ns, (ns & 1023) as i64 * LOT + LOT));
            black_box(&mut out);
        })
    });
    for n in [0usize, 16, 256] {
        let mut x = PaperExchange::new(&spec(0), &table(), n.max(1), 64).unwrap();
        x.on_book_ticker(&ticker(ns, 1_000 * LOT), &mut out);
        for i in 0..n {
            let px = (6_000_000 - (i % 3) as i64 * (1 + i as i64 / 3)) * TICK;
            x.submit(
                &order(i as u64 + 1, Side::Buy, OrderType::Limit, px, ns),
                &mut out,
            );
        }
        assert_eq!(x.resting().len(), n);
        g.bench_with_input(BenchmarkId::new("resting", n), &n, |b, _| {
            b.iter(|| {
                ns += 1;
                out.clear();
                x.on_book_ticker(
                    black_box(&ticker(ns, (ns & 1023) as i64 * LOT + LOT)),
                    &mut out,
                );
                black_box(&mut out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, round_trip, book_ticker);
criterion_main!(benches);
