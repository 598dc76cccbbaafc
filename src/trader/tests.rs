//! Property tests of the whole trading side: random market paths (trades, book tickers and the
//! candles they make) drive the four built-in strategies, random intents are mixed in as a
//! careless custom strategy would emit them, and the trader's output goes through the paper
//! exchange and back. After every event:
//!
//! * no position, even with every working order on one side filled, exceeds its limit;
//! * once the kill switch is on, nothing that adds exposure leaves for the venue;
//! * every execution belongs to an order the trader sent;
//! * whenever no report is on its way back, the risk engine's books equal the venue's: cash
//!   moved, fees, realized PnL and positions, exactly.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::core::cold::ColdRecord;
use crate::core::num::SCALE;
use crate::core::order::{OrderIntent, Purpose, TimeInForce};
use crate::core::stats::LaneStats;
use crate::core::{
    BookTicker, Candle, Instrument, InstrumentId, InstrumentTable, OrderType, Price, Qty,
    Resolution, Side, Symbol, Trade,
};
use crate::orders::blotter::OrderPolicy;
use crate::ring::{channel, Consumer};
use crate::strategy::config::HostConfig;
use crate::venue::sim::PaperSpec;
use crate::venue::VenueStage;

const S: i64 = SCALE;
const SEC: u64 = 1_000_000_000;
const START_NS: u64 = 1_723_161_600 * SEC;

fn instruments() -> Vec<Instrument> {
    let ins = |s: &str, tick, lot| Instrument {
        symbol: Symbol::new(s.as_bytes()).unwrap(),
        tick,
        lot,
    };
    vec![
        ins("BTCUSDT", S / 100, S / 100_000),
        ins("ETHUSDT", S / 100, S / 10_000),
    ]
}

/// Every built-in on 1s candles, quick to warm up and to act.
fn host() -> HostSpec {
    HostConfig::from_toml(
        r#"
resolutions = ["1s"]
[regime]
volume_period = 5
atr_period = 5
[filter]
instrument_cooldown_ms = 0
[[strategies]]
momentum = { fast = 3, slow = 8 }
allow_short = true
noise = { entry = 0.1, exit = 0.02, cooldown_ms = 0, min_hold_ms = 0 }
sizing = { mode = "fixed_notional", notional = "800", min_notional = "1" }
[[strategies]]
reversal = { rsi_period = 5, bb_period = 5 }
allow_short = true
noise = { entry = 0.1, exit = 0.02, cooldown_ms = 0, min_hold_ms = 0 }
sizing = { mode = "fixed_notional", notional = "800", min_notional = "1" }
[[strategies]]
breakout = { channel = 5, volume_period = 5 }
allow_short = true
noise = { entry = 0.1, exit = 0.02, cooldown_ms = 0, min_hold_ms = 0 }
sizing = { mode = "fixed_notional", notional = "800", min_notional = "1" }
[[strategies]]
pattern = { trend_period = 5 }
allow_short = true
noise = { entry = 0.1, exit = 0.02, cooldown_ms = 0, min_hold_ms = 0 }
sizing = { mode = "fixed_notional", notional = "800", min_notional = "1" }
"#,
    )
    .unwrap()
    .validate()
    .unwrap()
}

fn limits(drawdown_bps: i64) -> RiskLimits {
    RiskLimits {
        max_position: Qty(S / 50), // 0.02 BTC ≈ 1 200, 0.02 ETH: tight on purpose
        max_order_qty: Qty(S / 20),
        max_order_notional: 5_000 * S,
        max_gross_exposure: 3_000 * S,
        max_net_exposure: 2_000 * S,
        max_drawdown: crate::risk::engine::Drawdown::Bps(drawdown_bps),
        daily_loss: 1_000_000 * S,
        stop_loss_bps: 40,
        take_profit_bps: 60,
        initial_equity: 100_000 * S,
        ..RiskLimits::default()
    }
}

/// A 1s candle being built: (open second, open, high, low, close, volume).
type Bar = (u64, i64, i64, i64, i64, i64);

struct Rig {
    trader: Trader,
    venue: VenueStage,
    cold: Consumer<ColdRecord>,
    sent: BTreeSet<u64>,
    /// Candle being built per instrument.
    bars: Vec<Option<Bar>>,
    execs: u64,
}

impl Rig {
    fn new(drawdown_bps: i64) -> Self {
        let stats = Arc::new(LaneStats::default());
        let (tx, rx) = channel::<ColdRecord>(1 << 12).unwrap();
        let ins = instruments();
        let trader = Trader::new(
            &host(),
            limits(drawdown_bps),
            OrderPolicy::default().validate().unwrap(),
            &ins,
            0,
            TraderSizes::default(),
            stats.clone(),
            crate::core::cold::ColdTx::new(tx),
        )
        .unwrap();
        let table = InstrumentTable::new(2);
        for i in &ins {
            table.insert(*i).unwrap();
        }
        let spec = PaperSpec {
            order_latency_ms: 3,
            md_latency_ms: 1,
            ..PaperSpec::default()
        };
        let venue = VenueStage::new(&spec, &table, 256, 256, stats).unwrap();
        Self {
            trader,
            venue,
            cold: rx,
            sent: BTreeSet::new(),
            bars: vec![None; 2],
            execs: 0,
        }
    }

    /// One event through signals and risk, then everything it causes through the venue.
    fn event(&mut self, env: Envelope) -> Result<(), TestCaseError> {
        self.trader.on_signals(&env);
        let first = self.trader.on_risk(&env).then_some(env);
        self.pump(first)?;
        self.cold.pop_batch(1 << 12, |_| {});
        self.invariants()
    }

    /// `first`: the input, when the trader hands it to the venue ahead of its out-queue.
    fn pump(&mut self, mut first: Option<Envelope>) -> Result<(), TestCaseError> {
        while let Some(e) = first.take().or_else(|| self.trader.pop()) {
            if let Payload::Place(r) = e.payload {
                let it = r.order.intent;
                let kill = self.trader.risk().view().kill_switch();
                if kill {
                    // Only what reduces may leave after the trip.
                    prop_assert!(
                        !it.purpose.is_opening(),
                        "opening order after the kill switch: {it:?}"
                    );
                    let pos = self.trader.risk().view().position(it.instrument).0;
                    let reducing = match it.side {
                        Side::Buy => pos < 0,
                        Side::Sell => pos > 0,
                    };
                    prop_assert!(reducing, "order adds exposure after the kill: {it:?}");
                }
                prop_assert!(self.sent.insert(r.order.client_order_id), "id reused");
            }
            self.venue.on_event(&e);
            while let Some(x) = self.venue.pop() {
                prop_assert!(
                    self.sent.contains(&x.client_order_id),
                    "execution of an order never sent: {x:?}"
                );
                self.execs += 1;
                self.trader.on_execution(&x);
            }
        }
        Ok(())
    }

    fn invariants(&self) -> Result<(), TestCaseError> {
        let v = self.trader.risk().view();
        let a = self.venue.exchange().account();
        // The venue's books lead by the reports still on their way back.
        let settled = self.venue.exchange().reports_in_flight() == 0;
        for (k, ins) in instruments().iter().enumerate() {
            let id = InstrumentId(k as u16);
            let pos = v.position(id).0;
            let (buys, sells) = v.working(id);
            let max = S / 50;
            // A protective exit may be working on top of a strategy's close for the same
            // position, so only the position itself and the growing side are bounded.
            prop_assert!(pos.abs() <= max, "{}: position {pos}", ins.symbol.as_str());
            prop_assert!(
                (pos + buys.0).abs() <= max || buys.0 == 0 || pos < 0,
                "{}: position {pos} + buys {}",
                ins.symbol.as_str(),
                buys.0
            );
            prop_assert!(
                (pos - sells.0).abs() <= max || sells.0 == 0 || pos > 0,
                "{}: position {pos} - sells {}",
                ins.symbol.as_str(),
                sells.0
            );
            if settled {
                let venue_pos = a.position(id).map_or(0, |p| p.qty.0);
                prop_assert_eq!(pos, venue_pos, "positions differ");
            }
        }
        if !settled {
            return Ok(());
        }
        // Same fills, same money: exact, at 10⁻¹⁶.
        prop_assert_eq!(
            v.cash() - Money::from(100_000 * S) * Money::from(S),
            a.cash()
        );
        prop_assert_eq!(v.fees(), a.fees());
        prop_assert_eq!(v.realized(), a.realized());
        Ok(())
    }

    /// A trade and a book ticker around it; closes the 1s candle when the second turns.
    fn market(
        &mut self,
        i: usize,
        ns: u64,
        px: i64,
        qty: i64,
        sell: bool,
    ) -> Result<(), TestCaseError> {
        let id = InstrumentId(i as u16);
        let sec = ns / SEC;
        if let Some((open, o, h, l, c, vol)) = self.bars[i] {
            if open != sec {
                let candle = Candle {
                    instrument: id,
                    resolution: Resolution::S1,
                    open_ns: open * SEC,
                    open: Price(o),
                    high: Price(h),
                    low: Price(l),
                    close: Price(c),
                    volume: Qty(vol),
                    quote_volume: 0,
                    trades: 1,
                    sources: 1,
                    taker_buy_volume: Qty(vol / 2),
                    anomalies: 0,
                    revision: 0,
                    flags: 0,
                };
                self.bars[i] = None;
                self.event(Envelope::at(ns, Payload::Candle(candle)))?;
            }
        }
        let bar = self.bars[i].get_or_insert((sec, px, px, px, px, 0));
        bar.2 = bar.2.max(px);
        bar.3 = bar.3.min(px);
        bar.4 = px;
        bar.5 += qty;
        let tick = S / 100;
        self.event(Envelope::at(
            ns,
            Payload::BookTicker(BookTicker {
                instrument: id,
                update_id: ns,
                bid_px: Price(px - tick),
                bid_qty: Qty(S / 100),
                ask_px: Price(px + tick),
                ask_qty: Qty(S / 100),
                event_ns: 0,
                source: 0,
            }),
        ))?;
        self.event(Envelope::at(
            ns,
            Payload::Trade(Trade {
                instrument: id,
                trade_id: ns,
                price: Price(px),
                qty: Qty(qty),
                trade_ns: ns,
                event_ns: ns,
                buyer_is_maker: sell,
                source: 0,
                flags: 0,
                anomalies: 0,
            }),
        ))
    }
}

#[derive(Clone, Debug)]
struct Step {
    instrument: usize,
    dt_ms: u64,
    move_bps: i64,
    qty_lots: i64,
    sell: bool,
    /// A random intent mixed in: (buy, lots, purpose 0..6, limit offset bps, ioc).
    intent: Option<(bool, i64, u8, i64, bool)>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0usize..2,
        1u64..400,
        -30i64..=30,
        1i64..50,
        any::<bool>(),
        proptest::option::weighted(
            0.15,
            (any::<bool>(), 1i64..40, 0u8..6, -20i64..=20, any::<bool>()),
        ),
    )
        .prop_map(
            |(instrument, dt_ms, move_bps, qty_lots, sell, intent)| Step {
                instrument,
                dt_ms,
                move_bps,
                qty_lots,
                sell,
                intent,
            },
        )
}

fn purpose(p: u8) -> Purpose {
    [
        Purpose::Open,
        Purpose::Close,
        Purpose::Open,
        Purpose::StopLoss,
        Purpose::Open,
        Purpose::Flatten,
    ][usize::from(p % 6)]
}

fn play(drawdown_bps: i64, steps: &[Step]) -> Result<Rig, TestCaseError> {
    let mut rig = Rig::new(drawdown_bps);
    let mut px = [60_000 * S, 2_600 * S];
    let mut now = START_NS;
    for st in steps {
        now += st.dt_ms * 1_000_000;
        let i = st.instrument;
        px[i] = (px[i] + px[i] / 10_000 * st.move_bps) / (S / 100) * (S / 100);
        let lot = instruments()[i].lot;
        if let Some((buy, lots, p, off, ioc)) = st.intent {
            let price = (px[i] + px[i] / 10_000 * off) / (S / 100) * (S / 100);
            rig.trader.inject(OrderIntent {
                instrument: InstrumentId(i as u16),
                strategy: 9,
                side: if buy { Side::Buy } else { Side::Sell },
                order_type: if ioc {
                    OrderType::Market
                } else {
                    OrderType::Limit
                },
                price: Price(price),
                qty: Qty(lots * lot * 10),
                tif: if ioc {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Gtc
                },
                purpose: purpose(p),
                decided_ns: now,
            });
        }
        rig.market(i, now, px[i], st.qty_lots * lot * 10, st.sell)?;
    }
    rig.trader.finish();
    rig.pump(None)?;
    // Let every report come home, then the books must agree.
    let idle = Envelope::at(
        now + 10 * SEC,
        Payload::Cancel(crate::core::order::RoutedCancel {
            venue: 0,
            cancel: crate::core::order::VenueCancel {
                client_order_id: u64::MAX,
                instrument: InstrumentId(0),
                sent_ns: now + 10 * SEC,
            },
        }),
    );
    rig.venue.on_event(&idle);
    while let Some(x) = rig.venue.pop() {
        prop_assert!(rig.sent.contains(&x.client_order_id));
        rig.trader.on_execution(&x);
    }
    rig.pump(None)?;
    prop_assert_eq!(rig.venue.exchange().reports_in_flight(), 0);
    rig.invariants()?;
    let v = rig.trader.risk().view();
    let a = rig.venue.exchange().account();
    prop_assert_eq!(v.fees(), a.fees(), "fees after settling");
    Ok(rig)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn limits_kill_switch_ownership_and_books_hold(
        drawdown_bps in prop_oneof![Just(10_000i64), 1i64..30],
        steps in proptest::collection::vec(step(), 50..600),
    ) {
        play(drawdown_bps, &steps)?;
    }
}

#[test]
fn a_long_random_session_trades_and_trips() {
    // A fixed long path, so the properties above are known to see real trading: orders,
    // fills, strategy decisions and, with a tight drawdown, a kill-switch trip.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let steps = proptest::collection::vec(step(), 3_000)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let rig = play(10_000, &steps).unwrap();
    assert!(rig.execs > 50, "only {} executions", rig.execs);
    assert!(rig.trader.orders().counters().submitted > 20);
    let tight = play(3, &steps).unwrap();
    assert!(
        tight.trader.risk().view().kill_switch(),
        "3 bps never tripped"
    );
}
