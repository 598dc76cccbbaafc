//! ns per order through the order state machine: submit, ack and full fill of one limit order
//! (`submit_ack_fill`), beside a base case that feeds the same intent and reports through the
//! same loop and sink without the table (`base_harness`), and the cost of a timer tick when
//! nothing is due (`on_timer_idle`); and an order's encoding for the wire, a Binance
//! new-order query string written into a fixed buffer (`order_encode`), beside a base case
//! that touches the same order and buffer. `cargo bench --bench orders`
//!
//! The table holds 1024 orders, so after the first 1024 iterations every submit recycles the
//! oldest finished slot, which is the steady state of a long run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tickwire::core::order::{
    ExecType, Execution, Liquidity, OrderIntent, Purpose, TimeInForce, VenueOrder,
};
use tickwire::core::{InstrumentId, OrderType, Price, Qty, Side, Sink};
use tickwire::orders::blotter::{Blotter, OrderEvent, OrderRules, Routed};
use tickwire::venue::encode::{binance_new_order, Format};

const S: i64 = 100_000_000;

/// Counts what it is given and throws it away, as a ring push would move it on.
struct Discard(u64);

impl Sink<OrderEvent> for Discard {
    #[inline]
    fn emit(&mut self, e: OrderEvent) {
        black_box(&e);
        self.0 += 1;
    }
}

fn intent() -> OrderIntent {
    OrderIntent {
        instrument: InstrumentId(0),
        strategy: 0,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: Price(60_000 * S),
        qty: Qty(S / 100),
        tif: TimeInForce::Gtc,
        purpose: Purpose::Open,
        decided_ns: 0,
    }
}

fn report(id: u64, exec: ExecType, qty: i64) -> Execution {
    Execution {
        client_order_id: id,
        instrument: InstrumentId(0),
        side: Side::Buy,
        exec,
        price: Price(60_000 * S),
        qty: Qty(qty),
        leaves: Qty::ZERO,
        fee: 0,
        liquidity: Liquidity::Maker,
        market_ns: 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("orders");
    g.throughput(Throughput::Elements(1));
    let it = intent();

    let mut sink = Discard(0);
    let mut now = 1_700_000_000_000_000_000u64;
    let placed = OrderEvent::Place(Routed {
        venue: 0,
        order: VenueOrder {
            client_order_id: 1,
            intent: it,
            sent_ns: now,
        },
    });
    g.bench_function("base_harness", |b| {
        b.iter(|| {
            now += 1_000;
            let i = black_box(it);
            // The same four events a submit + ack + fill emits, and the same two reports.
            for _ in 0..4 {
                sink.emit(placed);
            }
            let ack = report(black_box(now), ExecType::Ack, 0);
            let fill = report(black_box(now), ExecType::Fill, i.qty.0);
            black_box((&ack, &fill));
        })
    });

    let mut m = Blotter::new(OrderRules::default(), 1024, 16, 1).unwrap();
    g.bench_function("submit_ack_fill", |b| {
        b.iter(|| {
            now += 1_000;
            let i = black_box(it);
            let id = m.submit(i, now, &mut sink).unwrap();
            let ack = report(id, ExecType::Ack, 0);
            let fill = report(id, ExecType::Fill, i.qty.0);
            let _ = black_box(m.on_execution(&ack, now, &mut sink));
            black_box(m.on_execution(&fill, now, &mut sink))
        })
    });

    g.bench_function("on_timer_idle", |b| {
        b.iter(|| m.on_timer(black_box(now), &mut sink))
    });
    g.finish();

    // The order on the wire: a Binance new-order query string into a fixed buffer.
    let mut g = c.benchmark_group("order_encode");
    g.throughput(Throughput::Elements(1));
    let order = VenueOrder {
        client_order_id: 1_234_567,
        intent: it,
        sent_ns: now,
    };
    let fmt = Format {
        symbol: "BTCUSDT",
        price_decimals: 2,
        qty_decimals: 5,
    };
    let mut buf = [0u8; 512];
    g.bench_function("base_harness", |b| {
        b.iter(|| {
            let o = black_box(order);
            buf[0] = o.client_order_id as u8;
            black_box(&buf);
        })
    });
    g.bench_function("binance_new_order", |b| {
        b.iter(|| {
            binance_new_order(
                black_box(&order),
                fmt,
                5_000,
                black_box(1_723_161_255_342),
                &mut buf,
            )
        })
    });
    g.finish();
    black_box(sink.0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
