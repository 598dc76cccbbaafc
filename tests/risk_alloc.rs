//! The risk engine allocates nothing after `new`: trades, checks (accepted and refused),
//! sent orders, fills, cancels, stops, kill-switch trips with their cancels and flattens,
//! resets and the view all run on the crate's counting allocator
//! (`tickwire::core::alloc`) and must leave this thread's count where it was.

use std::hint::black_box;

use tickwire::core::alloc::thread_allocations;
use tickwire::core::num::SCALE;
use tickwire::core::order::{
    ExecType, Execution, Liquidity, OrderIntent, Purpose, TimeInForce, VenueOrder, Verdict,
};
use tickwire::core::{Instrument, InstrumentId, OrderType, Price, Qty, Side, Sink, Symbol};
use tickwire::risk::engine::{Breach, Drawdown, RiskAction, RiskEngine, RiskLimits};

const S: i64 = SCALE;

/// Counts breaches; keeps the last.
#[derive(Default)]
struct Breaches {
    count: u64,
    last: Option<Breach>,
}

impl Sink<Breach> for Breaches {
    fn emit(&mut self, b: Breach) {
        self.count += 1;
        self.last = Some(b);
    }
}

/// A fixed array of actions, drained after each call.
struct Actions {
    buf: [Option<RiskAction>; 16],
    len: usize,
    total: u64,
}

impl Sink<RiskAction> for Actions {
    fn emit(&mut self, a: RiskAction) {
        self.total += 1;
        if self.len < self.buf.len() {
            self.buf[self.len] = Some(a);
            self.len += 1;
        }
    }
}

/// The fake blotter's working orders, fixed size.
struct Working {
    orders: [(u64, OrderIntent, i64); 64],
    len: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn the_risk_engine_never_allocates_after_new() {
    let instruments = [
        Instrument {
            symbol: Symbol::new(b"BTCUSDT").unwrap(),
            tick: 1,
            lot: S / 1_000,
        },
        Instrument {
            symbol: Symbol::new(b"ETHUSDT").unwrap(),
            tick: 1,
            lot: S / 100,
        },
    ];
    let limits = RiskLimits {
        max_position: Qty(5 * S),
        max_order_qty: Qty(S),
        max_drawdown: Drawdown::Bps(200),
        daily_loss: 300 * S,
        stop_loss_bps: 150,
        take_profit_bps: 300,
        trailing_stop_bps: 100,
        max_orders_per_sec: 100,
        initial_equity: 10_000 * S,
        ..RiskLimits::default()
    };
    let mut eng = RiskEngine::new(&instruments, limits, Breaches::default()).unwrap();
    let mut out = Actions {
        buf: [None; 16],
        len: 0,
        total: 0,
    };
    let empty = OrderIntent {
        instrument: InstrumentId(0),
        strategy: 0,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: Price(0),
        qty: Qty(0),
        tif: TimeInForce::Gtc,
        purpose: Purpose::Open,
        decided_ns: 0,
    };
    let mut working = Working {
        orders: [(0, empty, 0); 64],
        len: 0,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut marks = [60_000 * S, 3_000 * S];
    let mut now: u64 = 1_700_000_000_000_000_000;
    let mut next_id = 1u64;
    let (mut accepted, mut rejected, mut fills) = (0u64, 0u64, 0u64);

    let before = thread_allocations();
    for step in 0..400_000u32 {
        now += 5_000_000;
        let i = rng.below(2) as usize;
        let id = InstrumentId(i as u16);
        match rng.below(10) {
            0..=3 => {
                let bps = rng.below(61) as i64 - 30;
                marks[i] = (marks[i] + marks[i] * bps / 10_000).max(S);
                eng.on_trade(id, Price(marks[i]), now, &mut out);
            }
            4..=6 => {
                let purpose = if rng.below(3) == 0 {
                    Purpose::Close
                } else {
                    Purpose::Open
                };
                let lot = instruments[i].lot;
                let it = OrderIntent {
                    instrument: id,
                    side: if rng.below(2) == 0 {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    price: Price(marks[i] + marks[i] * (rng.below(801) as i64 - 400) / 10_000),
                    qty: Qty(lot * (1 + rng.below(400) as i64)),
                    purpose,
                    decided_ns: now,
                    ..empty
                };
                out.emit(RiskAction::Submit(it));
            }
            7 | 8 if working.len > 0 => {
                let k = rng.below(working.len as u64) as usize;
                let (oid, it, leaves) = working.orders[k];
                let cancel = rng.below(4) == 0;
                let q = if cancel {
                    0
                } else {
                    let lot = instruments[it.instrument.index()].lot;
                    (leaves / 2 / lot * lot).max(lot).min(leaves)
                };
                let e = Execution {
                    client_order_id: oid,
                    instrument: it.instrument,
                    side: it.side,
                    exec: if cancel {
                        ExecType::Cancelled
                    } else {
                        ExecType::Fill
                    },
                    price: Price(marks[it.instrument.index()]),
                    qty: Qty(q),
                    leaves: Qty(leaves - q),
                    fee: 100,
                    liquidity: Liquidity::Taker,
                    market_ns: now,
                };
                eng.on_execution(&e).unwrap();
                fills += u64::from(!cancel);
                if cancel || q == leaves {
                    working.len -= 1;
                    working.orders[k] = working.orders[working.len];
                } else {
                    working.orders[k].2 -= q;
                }
            }
            _ => {
                // An unknown report: refused, counted, no allocation either.
                let bogus = Execution {
                    client_order_id: u64::MAX - u64::from(step),
                    instrument: id,
                    side: Side::Buy,
                    exec: ExecType::Fill,
                    price: Price(marks[i]),
                    qty: Qty(1),
                    leaves: Qty(0),
                    fee: 0,
                    liquidity: Liquidity::Maker,
                    market_ns: now,
                };
                assert!(eng.on_execution(&bogus).is_err());
            }
        }
        if step % 50_000 == 49_999 {
            eng.trip_kill(now, &mut out);
        }
        if step % 1_000 == 999 {
            eng.reset_kill();
        }
        // The blotter: every emitted intent is checked, accepted ones are sent.
        let mut k = 0;
        while k < out.len {
            if let Some(RiskAction::Submit(it)) = out.buf[k] {
                let v = eng.check(&it, now);
                if v == Verdict::Accept && working.len < working.orders.len() {
                    let order = VenueOrder {
                        client_order_id: next_id,
                        intent: it,
                        sent_ns: now,
                    };
                    eng.on_order_sent(&order).unwrap();
                    working.orders[working.len] = (next_id, it, it.qty.0);
                    working.len += 1;
                    next_id += 1;
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
            k += 1;
        }
        out.len = 0;
        let v = eng.view();
        black_box((
            v.equity(),
            v.drawdown_bps(),
            v.position(id),
            v.kill_switch(),
        ));
    }
    let allocations = thread_allocations() - before;

    assert_eq!(
        allocations, 0,
        "the risk engine allocated {allocations} times"
    );
    let c = eng.counters();
    assert!(accepted > 10_000 && rejected > 10_000 && fills > 10_000);
    assert!(c.kill_trips > 0 && c.exits > 0 && c.cancels > 0, "{c:?}");
    assert!(eng.breaches().count > 0 && eng.breaches().last.is_some());
}
