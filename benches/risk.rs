//! Cost of one pre-trade check: `cargo bench --bench risk`.
//!
//! The engine holds 8 instruments, each with a mark, a position and working orders on both
//! sides, so the exposure rules do their real arithmetic. Every benchmark cycles through 8
//! intents, one per instrument; the clock moves a second per iteration so the order-rate
//! window never binds and nothing is sent, so the state stays the same. `base` cycles
//! through the same intents returning a constant verdict: the loop and harness alone.
//! `accept` passes all 13 rules; `reject_max_position` fails at rule 9 (after band, size
//! and notional) and writes its breach; `reject_kill_switch` fails at rule 2.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tickwire::core::num::SCALE;
use tickwire::core::order::{
    ExecType, Execution, Liquidity, OrderIntent, Purpose, TimeInForce, VenueOrder, Verdict,
};
use tickwire::core::{Instrument, InstrumentId, OrderType, Price, Qty, Side, Sink, Symbol};
use tickwire::risk::engine::{Breach, RiskAction, RiskEngine, RiskLimits};

const S: i64 = SCALE;
const N: usize = 8;

/// Counts breaches: the cheapest sink that still receives each one.
struct Count(u64);

impl Sink<Breach> for Count {
    fn emit(&mut self, _: Breach) {
        self.0 += 1;
    }
}

struct Discard;

impl Sink<RiskAction> for Discard {
    fn emit(&mut self, a: RiskAction) {
        black_box(a);
    }
}

fn engine() -> RiskEngine<Count> {
    let instruments: Vec<Instrument> = (0..N)
        .map(|k| Instrument {
            symbol: Symbol::new(format!("SYM{k}USDT").as_bytes()).unwrap(),
            tick: 1,
            lot: S / 1_000,
        })
        .collect();
    let limits = RiskLimits {
        max_position: Qty(10 * S),
        max_order_qty: Qty(20 * S),
        max_order_notional: 1_000_000 * S,
        max_gross_exposure: 10_000_000 * S,
        max_net_exposure: 10_000_000 * S,
        ..RiskLimits::default()
    };
    let mut eng = RiskEngine::new(&instruments, limits, Count(0)).unwrap();
    let mut id = 1;
    for k in 0..N {
        let inst = InstrumentId(k as u16);
        eng.on_trade(inst, Price(1_000 * S), 0, &mut Discard);
        for (side, qty, fill) in [
            (Side::Buy, 3 * S, true),
            (Side::Buy, S, false),
            (Side::Sell, S, false),
        ] {
            let intent = OrderIntent {
                instrument: inst,
                strategy: 0,
                side,
                order_type: OrderType::Limit,
                price: Price(1_000 * S),
                qty: Qty(qty),
                tif: TimeInForce::Gtc,
                purpose: Purpose::Open,
                decided_ns: 0,
            };
            assert_eq!(eng.check(&intent, id * 1_000_000_000), Verdict::Accept);
            let order = VenueOrder {
                client_order_id: id,
                intent,
                sent_ns: 0,
            };
            eng.on_order_sent(&order).unwrap();
            if fill {
                let e = Execution {
                    client_order_id: id,
                    instrument: inst,
                    side,
                    exec: ExecType::Fill,
                    price: Price(1_000 * S),
                    qty: Qty(qty),
                    leaves: Qty(0),
                    fee: 0,
                    liquidity: Liquidity::Taker,
                    market_ns: 0,
                };
                eng.on_execution(&e).unwrap();
            }
            id += 1;
        }
    }
    eng
}

fn intents(qty: i64) -> Vec<OrderIntent> {
    (0..N)
        .map(|k| OrderIntent {
            instrument: InstrumentId(k as u16),
            strategy: 0,
            side: if k % 2 == 0 { Side::Buy } else { Side::Sell },
            order_type: OrderType::Limit,
            price: Price(1_001 * S),
            qty: Qty(qty),
            tif: TimeInForce::Gtc,
            purpose: Purpose::Open,
            decided_ns: 0,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("risk_check");
    let accept = intents(S);
    // Long 3 + working buy 1 + 7 = 11 > 10; short side 3 − 1 − 15 = −13.
    let mut too_big = intents(7 * S);
    for (k, it) in too_big.iter_mut().enumerate() {
        if k % 2 == 1 {
            it.qty = Qty(15 * S);
        }
    }

    let mut eng = engine();
    for it in &accept {
        assert_eq!(eng.check(it, 1 << 40), Verdict::Accept);
    }
    for it in &too_big {
        assert!(matches!(
            eng.check(it, 1 << 41),
            Verdict::Reject {
                rule: tickwire::core::order::RiskRule::MaxPosition,
                ..
            }
        ));
    }

    let (mut i, mut now) = (0usize, 1u64 << 42);
    g.bench_function("base", |b| {
        b.iter(|| {
            let it = &accept[i];
            i = (i + 1) % N;
            now += 1_000_000_000;
            black_box((black_box(it), black_box(now)));
            Verdict::Accept
        })
    });
    g.bench_function("accept", |b| {
        b.iter(|| {
            let it = &accept[i];
            i = (i + 1) % N;
            now += 1_000_000_000;
            eng.check(black_box(it), black_box(now))
        })
    });
    g.bench_function("reject_max_position", |b| {
        b.iter(|| {
            let it = &too_big[i];
            i = (i + 1) % N;
            now += 1_000_000_000;
            eng.check(black_box(it), black_box(now))
        })
    });
    let mut killed = engine();
    killed.trip_kill(now, &mut Discard);
    g.bench_function("reject_kill_switch", |b| {
        b.iter(|| {
            let it = &accept[i];
            i = (i + 1) % N;
            now += 1_000_000_000;
            killed.check(black_box(it), black_box(now))
        })
    });
    g.finish();
    black_box(eng.breaches().0 + killed.breaches().0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
