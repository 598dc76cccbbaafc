//! One test per rule (accept at the bound, refuse one unit past it, with the numbers), the
//! kill switch, the stops on scripted price paths, in-flight counting and the rate window.

use super::*;
use crate::core::order::{Liquidity, VenueReject};
use crate::core::Symbol;

const S: i64 = SCALE;
const BTC: InstrumentId = InstrumentId(0);
const ETH: InstrumentId = InstrumentId(1);
const T0: u64 = 1_700_000_000_000_000_000;

fn instruments() -> Vec<Instrument> {
    let ins = |s: &str, lot| Instrument {
        symbol: Symbol::new(s.as_bytes()).unwrap(),
        tick: 1,
        lot,
    };
    // BTC trades in units of 10⁻⁸ so bounds can be probed one unit apart; ETH in 0.01 lots.
    vec![ins("BTCUSDT", 1), ins("ETHUSDT", S / 100)]
}

/// Wide limits; each test narrows the one it probes.
fn wide() -> RiskLimits {
    RiskLimits {
        max_position: Qty(1_000 * S),
        max_order_qty: Qty(1_000 * S),
        instruments: Vec::new(),
        max_order_notional: 1_000_000 * S,
        max_gross_exposure: 1_000_000 * S,
        max_net_exposure: 1_000_000 * S,
        price_band_bps: 500,
        max_orders_per_sec: 1_000,
        max_open_orders: 1_000,
        daily_loss: 1_000_000 * S,
        max_drawdown: Drawdown::Bps(10_000),
        stop_loss_bps: 0,
        take_profit_bps: 0,
        trailing_stop_bps: 0,
        flatten_on_kill: true,
        kill_switch: false,
        initial_equity: 10_000 * S,
    }
}

/// An engine, a fake blotter (ids from 1) and what came out.
struct Desk {
    eng: RiskEngine<Vec<Breach>>,
    next_id: u64,
    out: Vec<RiskAction>,
    now: u64,
}

impl Desk {
    fn new(limits: RiskLimits) -> Self {
        let mut d = Self {
            eng: RiskEngine::new(&instruments(), limits, Vec::new()).unwrap(),
            next_id: 1,
            out: Vec::new(),
            now: T0,
        };
        d.trade(BTC, 100 * S);
        d.trade(ETH, 10 * S);
        d
    }

    fn trade(&mut self, id: InstrumentId, price: i64) {
        self.now += 1_000;
        self.eng.on_trade(id, Price(price), self.now, &mut self.out);
    }

    /// Checks and, if accepted, sends; returns the verdict and the id it got.
    fn send(&mut self, it: OrderIntent) -> (Verdict, u64) {
        let v = self.eng.check(&it, self.now);
        if v != Verdict::Accept {
            return (v, 0);
        }
        let id = self.next_id;
        self.next_id += 1;
        let order = VenueOrder {
            client_order_id: id,
            intent: it,
            sent_ns: self.now,
        };
        self.eng.on_order_sent(&order).unwrap();
        (v, id)
    }

    fn exec(&mut self, id: u64, it: &OrderIntent, exec: ExecType, px: i64, q: i64, leaves: i64) {
        let e = Execution {
            client_order_id: id,
            instrument: it.instrument,
            side: it.side,
            exec,
            price: Price(px),
            qty: Qty(q),
            leaves: Qty(leaves),
            fee: 0,
            liquidity: Liquidity::Taker,
            market_ns: self.now,
        };
        self.eng.on_execution(&e).unwrap();
    }

    /// Sends and fills completely at the intent's price.
    fn open(&mut self, it: OrderIntent) -> u64 {
        let (v, id) = self.send(it);
        assert_eq!(v, Verdict::Accept);
        self.exec(id, &it, ExecType::Fill, it.price.0, it.qty.0, 0);
        id
    }

    fn take(&mut self) -> Vec<RiskAction> {
        std::mem::take(&mut self.out)
    }

    fn last_breach(&self) -> Breach {
        *self.eng.breaches().last().unwrap()
    }
}

fn intent(id: InstrumentId, side: Side, purpose: Purpose, price: i64, qty: i64) -> OrderIntent {
    OrderIntent {
        instrument: id,
        strategy: 0,
        side,
        order_type: OrderType::Limit,
        price: Price(price),
        qty: Qty(qty),
        tif: TimeInForce::Gtc,
        purpose,
        decided_ns: 0,
    }
}

fn buy(qty: i64) -> OrderIntent {
    intent(BTC, Side::Buy, Purpose::Open, 100 * S, qty)
}

fn sell(qty: i64) -> OrderIntent {
    intent(BTC, Side::Sell, Purpose::Open, 100 * S, qty)
}

fn rej(rule: RiskRule, limit: i64, value: i64) -> Verdict {
    Verdict::Reject { rule, limit, value }
}

fn accept(d: &mut Desk, it: OrderIntent) {
    assert_eq!(d.eng.check(&it, d.now), Verdict::Accept, "{it:?}");
}

#[test]
fn unknown_instrument_and_no_market() {
    let mut e = RiskEngine::new(&instruments(), wide(), Vec::new()).unwrap();
    let it = buy(S);
    assert_eq!(e.check(&it, T0), rej(RiskRule::NoMarket, 0, 0));
    let other = OrderIntent {
        instrument: InstrumentId(7),
        ..it
    };
    assert_eq!(e.check(&other, T0), rej(RiskRule::NoMarket, 2, 7));
    let b = e.breaches()[0];
    assert_eq!(
        (b.rule, b.instrument, b.market_ns),
        (RiskRule::NoMarket, Some(BTC), T0)
    );
    assert_eq!(
        b.kind,
        BreachKind::Rejected {
            strategy: 0,
            purpose: Purpose::Open
        }
    );
    assert_eq!(e.counters().rejected, 2);
}

#[test]
fn min_size_is_whole_lots() {
    let mut d = Desk::new(wide());
    let eth = |q| intent(ETH, Side::Buy, Purpose::Open, 10 * S, q);
    accept(&mut d, eth(S / 100));
    assert_eq!(
        d.eng.check(&eth(S / 100 + 1), d.now),
        rej(RiskRule::MinSize, S / 100, S / 100 + 1)
    );
    assert_eq!(
        d.eng.check(&eth(0), d.now),
        rej(RiskRule::MinSize, S / 100, 0)
    );
    assert_eq!(
        d.eng.check(&eth(-S), d.now),
        rej(RiskRule::MinSize, S / 100, -S)
    );
}

#[test]
fn price_band_limits_and_market_references() {
    let mut d = Desk::new(wide());
    // Last trade 100, band 5 %: 95..=105 pass.
    accept(&mut d, intent(BTC, Side::Buy, Purpose::Open, 105 * S, S));
    accept(&mut d, intent(BTC, Side::Sell, Purpose::Open, 95 * S, S));
    assert_eq!(
        d.eng.check(
            &intent(BTC, Side::Buy, Purpose::Open, 105 * S + 1, S),
            d.now
        ),
        rej(RiskRule::PriceBand, 500, 501)
    );
    assert_eq!(
        d.eng.check(
            &intent(BTC, Side::Sell, Purpose::Close, 95 * S - 1, S),
            d.now
        ),
        rej(RiskRule::PriceBand, 500, 501)
    );
    let market = OrderIntent {
        order_type: OrderType::Market,
        ..intent(BTC, Side::Buy, Purpose::Open, 200 * S, S)
    };
    assert_eq!(
        d.eng.check(&market, d.now),
        rej(RiskRule::PriceBand, 500, 10_000)
    );
    let garbage = intent(BTC, Side::Buy, Purpose::Open, i64::MIN, S);
    assert!(matches!(
        d.eng.check(&garbage, d.now),
        Verdict::Reject {
            rule: RiskRule::PriceBand,
            ..
        }
    ));
    assert_eq!(
        d.last_breach().value,
        ceil_div(
            (Money::from(i64::MIN) - Money::from(100 * S)).abs() * 10_000,
            Money::from(100 * S)
        )
    );
}

#[test]
fn max_order_qty_and_per_instrument_override() {
    let mut l = wide();
    l.max_order_qty = Qty(2 * S);
    l.instruments.push(InstrumentLimits {
        symbol: Symbol::new(b"ETHUSDT").unwrap(),
        max_position: Qty(1_000 * S),
        max_order_qty: Qty(30 * S),
    });
    let mut d = Desk::new(l);
    accept(&mut d, buy(2 * S));
    assert_eq!(
        d.eng.check(&buy(2 * S + 1), d.now),
        rej(RiskRule::MaxOrderQty, 2 * S, 2 * S + 1)
    );
    let eth = |q| intent(ETH, Side::Sell, Purpose::Open, 10 * S, q);
    accept(&mut d, eth(30 * S));
    assert_eq!(
        d.eng.check(&eth(30 * S + S / 100), d.now),
        rej(RiskRule::MaxOrderQty, 30 * S, 30 * S + S / 100)
    );
}

#[test]
fn unknown_override_symbol_is_refused() {
    let mut l = wide();
    l.instruments.push(InstrumentLimits {
        symbol: Symbol::new(b"DOGEUSDT").unwrap(),
        max_position: Qty(S),
        max_order_qty: Qty(S),
    });
    let e = RiskEngine::new(&instruments(), l, Vec::<Breach>::new());
    assert!(e.is_err_and(|e| e.to_string().contains("DOGEUSDT")));
}

#[test]
fn max_order_notional_at_the_limit_price() {
    let mut l = wide();
    l.max_order_notional = 1_000 * S;
    let mut d = Desk::new(l);
    // 10 × 100 = 1000 exactly.
    accept(&mut d, buy(10 * S));
    // 10.00000001 × 100 = 1000.000001.
    assert_eq!(
        d.eng.check(&buy(10 * S + 1), d.now),
        rej(RiskRule::MaxOrderNotional, 1_000 * S, 1_000 * S + 100)
    );
    // 10 × 100.00000001 = 1000.0000001.
    let it = intent(BTC, Side::Buy, Purpose::Open, 100 * S + 1, 10 * S);
    assert_eq!(
        d.eng.check(&it, d.now),
        rej(RiskRule::MaxOrderNotional, 1_000 * S, 1_000 * S + 10)
    );
    // 0.00000001 at 100.00000001 is 0.0000010000000001: recorded rounded up.
    let mut l = wide();
    l.max_order_notional = 1;
    let mut d = Desk::new(l);
    let it = intent(BTC, Side::Buy, Purpose::Open, 100 * S + 1, 1);
    assert_eq!(
        d.eng.check(&it, d.now),
        rej(RiskRule::MaxOrderNotional, 1, 101)
    );
}

#[test]
fn max_position_counts_orders_in_flight() {
    let mut l = wide();
    l.max_position = Qty(S);
    let mut d = Desk::new(l);
    let (_, first) = d.send(buy(6 * S / 10));
    assert_eq!(d.eng.view().working(BTC), (Qty(6 * S / 10), Qty(0)));
    accept(&mut d, buy(4 * S / 10));
    assert_eq!(
        d.eng.check(&buy(4 * S / 10 + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    // The working buy does not help a sell: short to −1 is fine, −1.00000001 is not.
    accept(&mut d, sell(S));
    assert_eq!(
        d.eng.check(&sell(S + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    // Half fills: the position and the working quantity move together.
    d.exec(
        first,
        &buy(0),
        ExecType::Fill,
        100 * S,
        3 * S / 10,
        3 * S / 10,
    );
    assert_eq!(d.eng.view().position(BTC), Qty(3 * S / 10));
    assert_eq!(d.eng.view().working(BTC), (Qty(3 * S / 10), Qty(0)));
    assert_eq!(
        d.eng.check(&buy(4 * S / 10 + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    assert_eq!(
        d.eng.check(&sell(13 * S / 10 + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    // The cancel releases the rest.
    d.exec(first, &buy(0), ExecType::Cancelled, 0, 0, 0);
    assert_eq!(d.eng.view().working(BTC), (Qty(0), Qty(0)));
    accept(&mut d, buy(7 * S / 10));
    assert_eq!(d.eng.open_orders(), 0);
}

#[test]
fn exits_are_reduce_only() {
    let mut d = Desk::new(wide());
    let close = |q| intent(BTC, Side::Sell, Purpose::TakeProfit, 100 * S, q);
    assert_eq!(
        d.eng.check(&close(1), d.now),
        rej(RiskRule::MaxPosition, 0, 1)
    );
    d.open(buy(S));
    accept(&mut d, close(S));
    assert_eq!(
        d.eng.check(&close(S + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    // A close on the wrong side adds risk: refused.
    let wrong = intent(BTC, Side::Buy, Purpose::StopLoss, 100 * S, 1);
    assert_eq!(d.eng.check(&wrong, d.now), rej(RiskRule::MaxPosition, 0, 1));
    // A working close covers part of the position.
    d.send(close(S / 4));
    assert_eq!(
        d.eng.check(&close(3 * S / 4 + 1), d.now),
        rej(RiskRule::MaxPosition, S, S + 1)
    );
    accept(&mut d, close(3 * S / 4));
    // Reduce-only closes skip the order-size limits: bounded by the position instead.
    let close = |q| intent(BTC, Side::Sell, Purpose::Close, 100 * S, q);
    let mut l = wide();
    l.max_order_qty = Qty(S / 2);
    l.max_order_notional = 50 * S;
    let mut d = Desk::new(l);
    d.open(buy(S / 2));
    d.open(buy(S / 2));
    accept(&mut d, close(S));
}

#[test]
fn a_strategy_close_against_the_net_position_is_checked_as_opening() {
    // Strategy A is long 1 BTC; strategy B closes a short it thinks it has: a buy that adds
    // to the net long, so it faces the opening rules.
    let mut l = wide();
    l.max_position = Qty(3 * S / 2);
    let mut d = Desk::new(l);
    d.open(buy(S));
    let close_short = |q| intent(BTC, Side::Buy, Purpose::Close, 100 * S, q);
    accept(&mut d, close_short(S / 2));
    assert_eq!(
        d.eng.check(&close_short(S / 2 + 1), d.now),
        rej(RiskRule::MaxPosition, 3 * S / 2, 3 * S / 2 + 1)
    );
    // Reduce-only, it passes even at the limit; against the net, not once the kill is on.
    let mut out = Vec::new();
    assert!(d.eng.trip_kill(d.now, &mut out));
    assert!(matches!(
        d.eng.check(&close_short(S / 4), d.now),
        Verdict::Reject {
            rule: RiskRule::KillSwitch,
            ..
        }
    ));
    accept(
        &mut d,
        intent(BTC, Side::Sell, Purpose::Close, 100 * S, S / 4),
    );
}

#[test]
fn gross_exposure_counts_every_instrument_and_working_orders() {
    let mut l = wide();
    l.max_gross_exposure = 1_000 * S;
    let mut d = Desk::new(l);
    d.open(buy(5 * S)); // 500
    d.send(intent(ETH, Side::Sell, Purpose::Open, 10 * S, 30 * S)); // 300 working
                                                                    // 200 left, on either side.
    accept(&mut d, buy(2 * S));
    accept(
        &mut d,
        intent(ETH, Side::Sell, Purpose::Open, 10 * S, 20 * S),
    );
    assert_eq!(
        d.eng.check(&buy(2 * S + 1), d.now),
        rej(RiskRule::MaxGrossExposure, 1_000 * S, 1_000 * S + 100)
    );
    // A sell of BTC only adds gross once it passes through the long: 5 + 5 + 2 short.
    accept(&mut d, sell(12 * S));
    assert_eq!(
        d.eng.check(&sell(12 * S + 1), d.now),
        rej(RiskRule::MaxGrossExposure, 1_000 * S, 1_000 * S + 100)
    );
    // The mark moves the exposure: BTC at 105 makes the long worth 525.
    d.trade(BTC, 105 * S);
    assert_eq!(
        d.eng.view().gross_exposure(),
        Money::from(825 * S) * MONEY_PER_UNIT
    );
    accept(&mut d, buy(S));
    assert_eq!(
        d.eng.check(&buy(2 * S), d.now),
        rej(RiskRule::MaxGrossExposure, 1_000 * S, 1_035 * S)
    );
}

#[test]
fn net_exposure_nets_longs_against_shorts() {
    let mut l = wide();
    l.max_net_exposure = 300 * S;
    let mut d = Desk::new(l);
    d.open(buy(3 * S)); // +300
    assert_eq!(
        d.eng.check(&buy(1), d.now),
        rej(RiskRule::MaxNetExposure, 300 * S, 300 * S + 100)
    );
    // Short ETH 200 nets to +100...
    d.open(intent(ETH, Side::Sell, Purpose::Open, 10 * S, 20 * S));
    accept(&mut d, buy(2 * S));
    // The short side: +300 − 200 − 40 × 10 = −300 at the limit.
    let eth = |q| intent(ETH, Side::Sell, Purpose::Open, 10 * S, q);
    let (v, _) = d.send(eth(40 * S));
    assert_eq!(v, Verdict::Accept);
    assert_eq!(
        d.eng.view().net_exposure(),
        Money::from(300 * S) * MONEY_PER_UNIT
    );
    assert_eq!(
        d.eng.check(&eth(S / 100), d.now),
        rej(RiskRule::MaxNetExposure, 300 * S, 300 * S + S / 10)
    );
    // The working sell counts on its side only: buys still see +100.
    accept(&mut d, buy(2 * S));
}

#[test]
fn max_open_orders_with_a_reserve_for_exits() {
    let mut l = wide();
    l.max_open_orders = 2;
    let mut d = Desk::new(l);
    d.open(buy(S));
    d.send(buy(S));
    d.send(buy(S));
    assert_eq!(
        d.eng.check(&buy(S), d.now),
        rej(RiskRule::MaxOpenOrders, 2, 3)
    );
    let close = intent(BTC, Side::Sell, Purpose::Close, 100 * S, S);
    assert_eq!(
        d.eng.check(&close, d.now),
        rej(RiskRule::MaxOpenOrders, 2, 3)
    );
    // Protective exits may use the per-instrument reserve (2 instruments).
    let stop = |q| intent(BTC, Side::Sell, Purpose::StopLoss, 100 * S, q);
    assert_eq!(d.send(stop(S / 2)).0, Verdict::Accept);
    assert_eq!(d.send(stop(S / 4)).0, Verdict::Accept);
    assert_eq!(
        d.eng.check(&stop(1), d.now),
        rej(RiskRule::MaxOpenOrders, 4, 5)
    );
}

#[test]
fn rate_window_slides_on_market_time() {
    let mut l = wide();
    l.max_orders_per_sec = 3;
    let mut d = Desk::new(l);
    d.open(buy(S));
    let t = d.now + 2_000_000_000;
    for k in 0..3 {
        assert_eq!(d.eng.check(&buy(S), t + k * 100_000_000), Verdict::Accept);
    }
    let late = t + 999_999_999;
    assert_eq!(d.eng.check(&buy(S), late), rej(RiskRule::OrderRate, 3, 4));
    // A refused order does not take a place in the window.
    assert_eq!(d.eng.check(&buy(S), t + 1_000_000_000), Verdict::Accept);
    assert_eq!(
        d.eng.check(&buy(S), t + 1_099_999_999),
        rej(RiskRule::OrderRate, 3, 4)
    );
    // Protective exits are never refused by the rate, but they count.
    let stop = intent(BTC, Side::Sell, Purpose::StopLoss, 100 * S, S);
    assert_eq!(d.eng.check(&stop, t + 1_099_999_999), Verdict::Accept);
    assert_eq!(
        d.eng.check(&buy(S), t + 1_100_000_000),
        rej(RiskRule::OrderRate, 3, 4)
    );
}

fn breach_rules(d: &Desk) -> Vec<RiskRule> {
    d.eng.breaches().iter().map(|b| b.rule).collect()
}

#[test]
fn drawdown_trips_the_kill_switch() {
    let mut l = wide();
    l.max_drawdown = Drawdown::Bps(500);
    let mut d = Desk::new(l);
    let btc = d.open(buy(10 * S)); // 1000 of 10000 equity
    let (_, resting) = d.send(intent(BTC, Side::Buy, Purpose::Open, 96 * S, S));
    let (_, eth) = d.send(intent(ETH, Side::Sell, Purpose::Open, 10 * S, S));
    assert_eq!(d.eng.open_orders(), 2);
    // 100 → 50: −500 = 5.00 % of 10000: at the limit, not over.
    d.trade(BTC, 50 * S);
    assert!(!d.eng.view().kill_switch());
    assert_eq!(d.eng.view().drawdown_bps(), 500);
    assert!(d.take().is_empty());
    d.trade(BTC, 50 * S - 1);
    let k = d.eng.view().kill().unwrap();
    assert_eq!(
        (k.rule, k.limit, k.value, k.instrument),
        (RiskRule::MaxDrawdown, 500, 501, Some(BTC))
    );
    assert_eq!(k.market_ns, d.now);
    let b = d.last_breach();
    assert_eq!(
        (b.rule, b.limit, b.value, b.kind),
        (RiskRule::MaxDrawdown, 500, 501, BreachKind::KillSwitch)
    );
    // Both working orders cancelled, the position flattened, once.
    let acts = d.take();
    assert_eq!(acts.len(), 3, "{acts:?}");
    let cancelled: Vec<u64> = acts
        .iter()
        .filter_map(|a| match a {
            RiskAction::Cancel(c) => Some(c.client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, vec![resting, eth]);
    let RiskAction::Submit(flat) = acts[2] else {
        panic!("{acts:?}")
    };
    assert_eq!(
        (flat.side, flat.qty, flat.purpose, flat.order_type),
        (Side::Sell, Qty(10 * S), Purpose::Flatten, OrderType::Market)
    );
    assert_eq!(
        (flat.price, flat.strategy),
        (Price(50 * S - 1), RISK_STRATEGY)
    );
    d.trade(BTC, 49 * S);
    d.trade(ETH, 10 * S);
    assert!(d.take().is_empty(), "no spam while the flatten is pending");
    // Openings refused with the trip's numbers; closes pass.
    assert_eq!(
        d.eng.check(&buy(S), d.now),
        rej(RiskRule::KillSwitch, 500, 501)
    );
    assert_eq!(breach_rules(&d).last(), Some(&RiskRule::KillSwitch));
    accept(
        &mut d,
        intent(BTC, Side::Sell, Purpose::Close, 49 * S, 10 * S),
    );
    let (v, flat_id) = d.send(flat);
    assert_eq!(v, Verdict::Accept);
    d.exec(flat_id, &flat, ExecType::Fill, 49 * S, 10 * S, 0);
    d.exec(resting, &buy(0), ExecType::Cancelled, 0, 0, 0);
    d.exec(
        eth,
        &intent(ETH, Side::Sell, Purpose::Open, 0, 0),
        ExecType::Cancelled,
        0,
        0,
        0,
    );
    assert_eq!(d.eng.view().position(BTC), Qty(0));
    assert_eq!(d.eng.open_orders(), 0);
    let _ = btc;
    // Reset: openings pass again, and the peak is re-based so the next trade does not re-trip.
    assert_eq!(
        d.eng.reset_kill().map(|k| k.rule),
        Some(RiskRule::MaxDrawdown)
    );
    d.trade(BTC, 49 * S);
    assert!(!d.eng.view().kill_switch());
    accept(&mut d, intent(BTC, Side::Buy, Purpose::Open, 49 * S, S));
    assert_eq!(d.eng.counters().kill_trips, 1);
}

#[test]
fn daily_loss_trips_and_the_day_rolls_at_midnight_utc() {
    let mut l = wide();
    l.daily_loss = 300 * S;
    l.flatten_on_kill = false;
    let mut d = Desk::new(l);
    d.open(buy(10 * S));
    // −300 exactly: allowed.
    d.trade(BTC, 70 * S);
    assert!(!d.eng.view().kill_switch());
    // The next UTC day starts from 9700: the same drop again is allowed.
    d.now = (d.now / DAY_NS + 1) * DAY_NS - 1;
    d.trade(BTC, 70 * S); // 00:00:00.000000999 of the next day
    d.trade(BTC, 40 * S);
    assert!(!d.eng.view().kill_switch());
    d.trade(BTC, 40 * S - 1);
    let k = d.eng.view().kill().unwrap();
    assert_eq!(
        (k.rule, k.limit, k.value),
        (RiskRule::DailyLoss, 300 * S, 300 * S + 10)
    );
    // No flatten configured: nothing to emit (no open orders).
    assert!(d.take().is_empty());
    assert_eq!(
        d.eng.check(&buy(S), d.now),
        rej(RiskRule::KillSwitch, 300 * S, 300 * S + 10)
    );
    let close = intent(BTC, Side::Sell, Purpose::Close, 40 * S, 10 * S);
    assert_eq!(d.eng.check(&close, d.now), Verdict::Accept);
}

#[test]
fn absolute_drawdown_operator_trip_and_configured_hold() {
    let mut l = wide();
    l.max_drawdown = Drawdown::Absolute(100 * S);
    let mut d = Desk::new(l.clone());
    d.open(buy(S));
    d.trade(BTC, 200 * S); // peak 10100
    d.trade(BTC, 100 * S); // −100 from the peak: at the limit
    assert!(!d.eng.view().kill_switch());
    d.trade(BTC, 100 * S - 1);
    assert_eq!(
        d.eng.view().kill().map(|k| (k.rule, k.limit, k.value)),
        Some((RiskRule::MaxDrawdown, 100 * S, 100 * S + 1))
    );

    let mut d = Desk::new(wide());
    let mut out = Vec::new();
    assert!(d.eng.trip_kill(d.now, &mut out));
    assert!(!d.eng.trip_kill(d.now, &mut out), "already on");
    assert_eq!(d.eng.check(&buy(S), d.now), rej(RiskRule::KillSwitch, 0, 0));
    assert_eq!(d.eng.counters().kill_trips, 1);

    l.kill_switch = true;
    let mut d = Desk::new(l);
    assert_eq!(d.eng.check(&buy(S), d.now), rej(RiskRule::KillSwitch, 0, 0));
    d.eng.reset_kill();
    accept(&mut d, buy(S));
}

#[test]
fn flatten_covers_only_what_working_closes_do_not() {
    let mut l = wide();
    l.max_drawdown = Drawdown::Absolute(S);
    let mut d = Desk::new(l);
    d.open(intent(ETH, Side::Sell, Purpose::Open, 10 * S, 10 * S));
    let close = intent(ETH, Side::Buy, Purpose::Close, 10 * S, 4 * S);
    let (_, close_id) = d.send(close);
    d.trade(ETH, 11 * S); // −10: trips
    let acts = d.take();
    assert_eq!(acts.len(), 2, "{acts:?}");
    assert!(matches!(acts[0], RiskAction::Cancel(c) if c.client_order_id == close_id));
    let RiskAction::Submit(flat) = acts[1] else {
        panic!()
    };
    assert_eq!((flat.side, flat.qty), (Side::Buy, Qty(6 * S)));
    let (_, flat_id) = d.send(flat);
    d.exec(flat_id, &flat, ExecType::Fill, 11 * S, 6 * S, 0);
    // The close was cancelled before it filled: the rest is flattened at the next trade.
    d.exec(close_id, &close, ExecType::Cancelled, 0, 0, 0);
    d.trade(ETH, 11 * S);
    let acts = d.take();
    assert!(
        matches!(acts[..], [RiskAction::Submit(f)] if f.qty == Qty(4 * S) && f.purpose == Purpose::Flatten),
        "{acts:?}"
    );
}

/// Opens 1 BTC at 100 with the given stops and returns the desk.
fn stopped(sl: i64, tp: i64, ts: i64) -> Desk {
    let mut l = wide();
    (l.stop_loss_bps, l.take_profit_bps, l.trailing_stop_bps) = (sl, tp, ts);
    let mut d = Desk::new(l);
    d.open(buy(S));
    d
}

fn exits(d: &mut Desk) -> Vec<(Purpose, Side, i64)> {
    d.take()
        .into_iter()
        .filter_map(|a| match a {
            RiskAction::Submit(it) => Some((it.purpose, it.side, it.qty.0)),
            RiskAction::Cancel(_) => None,
        })
        .collect()
}

#[test]
fn stop_loss_fires_at_its_price_once() {
    let mut d = stopped(100, 0, 0);
    for p in [100 * S, 99 * S + 1] {
        d.trade(BTC, p);
    }
    assert!(exits(&mut d).is_empty());
    d.trade(BTC, 99 * S);
    assert_eq!(exits(&mut d), vec![(Purpose::StopLoss, Side::Sell, S)]);
    d.trade(BTC, 98 * S);
    assert!(exits(&mut d).is_empty(), "once while in flight");
    assert_eq!(d.eng.counters().exits, 1);
}

#[test]
fn take_profit_on_a_short() {
    let mut l = wide();
    l.take_profit_bps = 250;
    let mut d = Desk::new(l);
    d.open(sell(2 * S));
    d.trade(BTC, 97 * S + 50_000_001); // 97.50000001
    assert!(exits(&mut d).is_empty());
    d.trade(BTC, 97 * S + S / 2);
    assert_eq!(exits(&mut d), vec![(Purpose::TakeProfit, Side::Buy, 2 * S)]);
}

#[test]
fn trailing_stop_follows_the_best_price() {
    let mut d = stopped(0, 0, 200);
    d.trade(BTC, 98 * S + 1); // best 100: 98 is 2 % below
    assert!(exits(&mut d).is_empty());
    d.trade(BTC, 110 * S);
    d.trade(BTC, 108 * S);
    d.trade(BTC, 107 * S + 80_000_001); // 107.80000001
    assert!(exits(&mut d).is_empty());
    d.trade(BTC, 107 * S + 80_000_000); // 110 × 0.98
    assert_eq!(exits(&mut d), vec![(Purpose::TrailingStop, Side::Sell, S)]);
}

#[test]
fn stop_loss_wins_over_trailing_and_both_over_take_profit() {
    let mut d = stopped(100, 100, 100);
    d.trade(BTC, 99 * S);
    assert_eq!(exits(&mut d), vec![(Purpose::StopLoss, Side::Sell, S)]);
}

#[test]
fn an_exit_is_emitted_again_only_after_the_last_one_ended() {
    let mut d = stopped(100, 0, 0);
    d.trade(BTC, 98 * S);
    let RiskAction::Submit(stop) = d.take()[0] else {
        panic!()
    };
    let (v, id) = d.send(stop);
    assert_eq!(v, Verdict::Accept);
    // IOC: a third fills, the rest is cancelled.
    d.exec(id, &stop, ExecType::Fill, 98 * S, S / 3, S - S / 3);
    d.trade(BTC, 98 * S);
    assert!(exits(&mut d).is_empty(), "still in flight");
    d.exec(id, &stop, ExecType::Cancelled, 0, 0, 0);
    d.trade(BTC, 98 * S);
    assert_eq!(
        exits(&mut d),
        vec![(Purpose::StopLoss, Side::Sell, S - S / 3)]
    );
    // An exit refused by check may be emitted again at the next trade.
    let mut d = stopped(100, 0, 0);
    d.trade(BTC, 98 * S);
    let RiskAction::Submit(stop) = d.take()[0] else {
        panic!()
    };
    let bad = OrderIntent {
        price: Price(50 * S),
        ..stop
    };
    assert!(matches!(d.eng.check(&bad, d.now), Verdict::Reject { .. }));
    d.trade(BTC, 98 * S);
    assert_eq!(exits(&mut d).len(), 1);
    // A working strategy close covers the position: no exit.
    let mut d = stopped(100, 0, 0);
    d.send(intent(BTC, Side::Sell, Purpose::Close, 100 * S, S));
    d.trade(BTC, 98 * S);
    assert!(exits(&mut d).is_empty());
}

#[test]
fn accounting_is_exact() {
    let mut d = Desk::new(wide());
    let b = buy(3 * S);
    let (_, id) = d.send(b);
    let fill = |fee| Execution {
        client_order_id: id,
        instrument: BTC,
        side: Side::Buy,
        exec: ExecType::Fill,
        price: Price(100 * S + 1),
        qty: Qty(S),
        leaves: Qty(1),
        fee,
        liquidity: Liquidity::Maker,
        market_ns: d.now,
    };
    d.eng.on_execution(&fill(7)).unwrap();
    d.eng.on_execution(&fill(-2)).unwrap();
    let mut last = fill(0);
    last.price = Price(99 * S);
    last.leaves = Qty(0);
    d.eng.on_execution(&last).unwrap();
    let v = d.eng.view();
    assert_eq!(v.position(BTC), Qty(3 * S));
    // (100.00000001 × 2 + 99) / 3 = 99.66666667: rounded toward zero.
    assert_eq!(v.avg_price(BTC), Some(Price(99 * S + 66_666_667)));
    let paid = Money::from(100 * S + 1) * Money::from(2 * S) + Money::from(99 * S) * Money::from(S);
    assert_eq!(v.fees(), 5 * MONEY_PER_UNIT);
    assert_eq!(
        v.cash(),
        Money::from(10_000 * S) * MONEY_PER_UNIT - paid - 5 * MONEY_PER_UNIT
    );
    d.trade(BTC, 101 * S);
    let v = d.eng.view();
    let value = Money::from(101 * S) * Money::from(3 * S);
    assert_eq!(v.equity(), v.cash() + value);
    assert_eq!(v.unrealized(BTC), value - paid);
    // Sell all at 102: realized = 3 × 102 − paid.
    let s = intent(BTC, Side::Sell, Purpose::Close, 102 * S, 3 * S);
    d.open(s);
    let v = d.eng.view();
    assert_eq!(
        v.realized(),
        Money::from(102 * S) * Money::from(3 * S) - paid
    );
    assert_eq!(v.avg_price(BTC), None);
    assert_eq!(
        v.equity(),
        Money::from(10_000 * S) * MONEY_PER_UNIT + v.realized() - v.fees()
    );
}

#[test]
fn bad_executions_are_refused_and_counted() {
    let mut d = Desk::new(wide());
    let b = buy(S);
    let (_, id) = d.send(b);
    let e = Execution {
        client_order_id: id,
        instrument: BTC,
        side: Side::Buy,
        exec: ExecType::Fill,
        price: Price(100 * S),
        qty: Qty(S / 2),
        leaves: Qty(S / 2),
        fee: 0,
        liquidity: Liquidity::Taker,
        market_ns: d.now,
    };
    let cases = [
        (
            Execution {
                client_order_id: 99,
                ..e
            },
            ExecRefused::UnknownOrder,
        ),
        (
            Execution {
                instrument: ETH,
                ..e
            },
            ExecRefused::Mismatch,
        ),
        (
            Execution {
                side: Side::Sell,
                ..e
            },
            ExecRefused::Mismatch,
        ),
        (
            Execution {
                qty: Qty(S + 1),
                ..e
            },
            ExecRefused::Overfill,
        ),
        (Execution { qty: Qty(0), ..e }, ExecRefused::BadFill),
        (
            Execution {
                price: Price(-1),
                ..e
            },
            ExecRefused::BadFill,
        ),
    ];
    for (bad, why) in cases {
        assert_eq!(d.eng.on_execution(&bad), Err(why), "{bad:?}");
    }
    assert_eq!(d.eng.counters().refused_executions, cases.len() as u64);
    assert_eq!(d.eng.view().position(BTC), Qty(0));
    assert_eq!(d.eng.view().working(BTC), (Qty(S), Qty(0)));
    d.eng.on_execution(&e).unwrap();
    d.eng
        .on_execution(&Execution {
            exec: ExecType::Rejected(VenueReject::Other),
            ..e
        })
        .unwrap();
    // Finished: a late report for it is unknown now.
    assert_eq!(d.eng.on_execution(&e), Err(ExecRefused::UnknownOrder));
    assert_eq!(d.eng.view().position(BTC), Qty(S / 2));
    assert_eq!(d.eng.view().working(BTC), (Qty(0), Qty(0)));
    // Orders the engine cannot record.
    let order = VenueOrder {
        client_order_id: 5,
        intent: b,
        sent_ns: 0,
    };
    d.eng.on_order_sent(&order).unwrap();
    assert_eq!(d.eng.on_order_sent(&order), Err(OrderRefused::Duplicate));
    let mut o = order;
    o.client_order_id = 6;
    o.intent.instrument = InstrumentId(9);
    assert_eq!(
        d.eng.on_order_sent(&o),
        Err(OrderRefused::UnknownInstrument)
    );
    o.intent.instrument = BTC;
    o.intent.qty = Qty(0);
    assert_eq!(d.eng.on_order_sent(&o), Err(OrderRefused::BadQty));
    assert_eq!(d.eng.counters().refused_orders, 3);
}

#[test]
fn bad_trades_are_ignored() {
    let mut d = Desk::new(wide());
    let mut out = Vec::new();
    d.eng.on_trade(InstrumentId(5), Price(S), T0, &mut out);
    d.eng.on_trade(BTC, Price(0), T0, &mut out);
    d.eng.on_trade(BTC, Price(-5), T0, &mut out);
    assert_eq!(d.eng.counters().bad_trades, 3);
    assert_eq!(d.eng.view().mark(BTC), Some(Price(100 * S)));
}

#[test]
fn the_throttle_refuses_new_risk_and_lets_closes_through() {
    let mut d = Desk::new(wide());
    d.open(buy(S));
    d.eng.set_throttle(true);
    assert!(d.eng.throttled());
    assert_eq!(d.eng.check(&buy(S), d.now), rej(RiskRule::Throttled, 0, 0));
    assert_eq!(d.eng.check(&sell(S), d.now), rej(RiskRule::Throttled, 0, 0));
    assert_eq!(d.last_breach().rule, RiskRule::Throttled);
    // Closing what is held reduces risk: it goes.
    accept(&mut d, intent(BTC, Side::Sell, Purpose::Close, 100 * S, S));
    d.eng.set_throttle(false);
    accept(&mut d, buy(S));
    assert!(
        !d.eng.view().kill_switch(),
        "a throttle is not the kill switch"
    );
}
