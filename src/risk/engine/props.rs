//! Property tests: random market paths, random intents, random (partial) fills of what was
//! accepted at random prices, random venue cancels, bogus reports, day rolls, operator
//! trips and resets. A fake blotter sends every accepted intent (the engine's own
//! exits included) and keeps its own books, from which the test recomputes everything it
//! asserts:
//!
//! 1. |position| stays within the instrument's limit even if every working order on one
//!    side filled;
//! 2. no opening intent is accepted while the kill switch is on;
//! 3. an execution is applied only if it refers to an order the manager sent and has not
//!    seen finish (with its instrument, side and at most its working quantity); the others
//!    are refused and counted, and change nothing;
//! 4. equity = initial + Σ fill cash flows − fees + Σ position × last trade, exactly, after
//!    every step; positions and working quantities equal the manager's.
//!
//! Each case runs twice and must produce the same verdicts, actions and breaches.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::core::order::Liquidity;
use crate::core::Symbol;

const S: i64 = SCALE;
const LOTS: [i64; 2] = [S / 1_000, S / 100];
const START: [i64; 2] = [60_000 * S, 3_000 * S];
const T0: u64 = 1_700_000_000_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Trade {
        inst: usize,
        step_bps: i64,
    },
    BadTrade {
        inst: usize,
    },
    Intent(IntentOp),
    Fill {
        pick: usize,
        pct: i64,
        off_bps: i64,
        fee: i64,
    },
    Cancel {
        pick: usize,
    },
    Bogus {
        kind: u8,
        pick: usize,
    },
    Advance {
        ns: u64,
    },
    NextDay,
    Kill,
    Reset,
}

#[derive(Clone, Debug)]
struct IntentOp {
    inst: usize,
    buy: bool,
    purpose: u8,
    market: bool,
    off_bps: i64,
    lots: i64,
    close_all: bool,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        90 => (0..2usize, -300i64..=300).prop_map(|(inst, step_bps)| Op::Trade { inst, step_bps }),
        2 => (0..3usize).prop_map(|inst| Op::BadTrade { inst }),
        90 => (
            (0..2usize, any::<bool>(), 0u8..10, any::<bool>()),
            (-400i64..=400, 1i64..=60, any::<bool>()),
        )
            .prop_map(|((inst, buy, purpose, market), (off_bps, lots, close_all))| {
                Op::Intent(IntentOp { inst, buy, purpose, market, off_bps, lots, close_all })
            }),
        60 => (any::<usize>(), 1i64..=100, -100i64..=100, -500i64..=5_000)
            .prop_map(|(pick, pct, off_bps, fee)| Op::Fill { pick, pct, off_bps, fee }),
        18 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        12 => (0u8..5, any::<usize>()).prop_map(|(kind, pick)| Op::Bogus { kind, pick }),
        15 => (0u64..1_500_000_000).prop_map(|ns| Op::Advance { ns }),
        3 => Just(Op::NextDay),
        1 => Just(Op::Kill),
        2 => Just(Op::Reset),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Config {
    stop_loss: bool,
    take_profit: bool,
    trailing: bool,
    flatten_on_kill: bool,
    /// Which loss limit is the tight one: 0 daily loss, 1 drawdown in bps, 2 absolute.
    loss: u8,
}

fn limits(c: Config) -> RiskLimits {
    RiskLimits {
        max_position: Qty(5 * S / 100),
        max_order_qty: Qty(3 * S / 100),
        instruments: vec![InstrumentLimits {
            symbol: Symbol::new(b"ETHUSDT").unwrap(),
            max_position: Qty(2 * S),
            max_order_qty: Qty(3 * S / 2),
        }],
        max_order_notional: 1_500 * S,
        max_gross_exposure: 4_500 * S,
        max_net_exposure: 3_500 * S,
        price_band_bps: 300,
        max_orders_per_sec: 5,
        max_open_orders: 4,
        daily_loss: if c.loss == 0 { 40 * S } else { 1_000 * S },
        max_drawdown: match c.loss {
            1 => Drawdown::Bps(150),
            2 => Drawdown::Absolute(45 * S),
            _ => Drawdown::Bps(5_000),
        },
        stop_loss_bps: if c.stop_loss { 200 } else { 0 },
        take_profit_bps: if c.take_profit { 300 } else { 0 },
        trailing_stop_bps: if c.trailing { 150 } else { 0 },
        flatten_on_kill: c.flatten_on_kill,
        kill_switch: false,
        initial_equity: 3_000 * S,
    }
}

fn instruments() -> Vec<Instrument> {
    ["BTCUSDT", "ETHUSDT"]
        .iter()
        .zip(LOTS)
        .map(|(s, lot)| Instrument {
            symbol: Symbol::new(s.as_bytes()).unwrap(),
            tick: 1,
            lot,
        })
        .collect()
}

/// What one run produced, compared between the two runs.
#[derive(Debug, PartialEq)]
enum Event {
    Verdict(Verdict),
    Action(RiskAction),
    Exec(Result<(), ExecRefused>),
}

/// The fake blotter and the test's own books.
struct Desk {
    eng: RiskEngine<Vec<Breach>>,
    max_position: [i64; 2],
    now: u64,
    next_id: u64,
    /// Sent and not finished: (id, intent, leaves).
    working: Vec<(u64, OrderIntent, i64)>,
    finished: Vec<u64>,
    pos: [i64; 2],
    mark: [i64; 2],
    /// Initial equity − Σ signed fill value − fees, at 10⁻¹⁶.
    cash: Money,
    applied: u64,
    refused: u64,
    trips_seen: u64,
    kill_expected: bool,
    log: Vec<Event>,
}

impl Desk {
    fn new(c: Config) -> Self {
        let l = limits(c);
        Self {
            max_position: [l.max_position.0, l.instruments[0].max_position.0],
            cash: Money::from(l.initial_equity) * MONEY_PER_UNIT,
            eng: RiskEngine::new(&instruments(), l, Vec::new()).unwrap(),
            now: T0,
            next_id: 1,
            working: Vec::new(),
            finished: Vec::new(),
            pos: [0; 2],
            mark: [0; 2],
            applied: 0,
            refused: 0,
            trips_seen: 0,
            kill_expected: false,
            log: Vec::new(),
        }
    }

    fn submit(&mut self, it: OrderIntent) -> Result<(), TestCaseError> {
        let killed = self.eng.view().kill_switch();
        // A strategy close that is not reduce-only against the net position adds exposure.
        let i = it.instrument.index();
        let same_side: i64 = self
            .working
            .iter()
            .filter(|w| w.1.instrument == it.instrument && w.1.side == it.side)
            .map(|w| w.2)
            .sum();
        let reducible = match it.side {
            Side::Sell => self.pos.get(i).map_or(0, |p| (*p).max(0)),
            Side::Buy => self.pos.get(i).map_or(0, |p| -(*p).min(0)),
        };
        let adds = it.purpose.is_opening()
            || (it.purpose == Purpose::Close && same_side + it.qty.0 > reducible);
        let v = self.eng.check(&it, self.now);
        self.log.push(Event::Verdict(v));
        // (2) Nothing that adds exposure while the kill switch is on.
        if killed && adds {
            prop_assert!(
                matches!(
                    v,
                    Verdict::Reject {
                        rule: RiskRule::KillSwitch,
                        ..
                    }
                ),
                "opening accepted after the kill switch: {it:?} → {v:?}"
            );
        }
        if v == Verdict::Accept {
            let id = self.next_id;
            self.next_id += 1;
            let order = VenueOrder {
                client_order_id: id,
                intent: it,
                sent_ns: self.now,
            };
            prop_assert_eq!(self.eng.on_order_sent(&order), Ok(()));
            self.working.push((id, it, it.qty.0));
        }
        Ok(())
    }

    /// Handles what the engine emitted: exits are checked and sent, cancels noted (the
    /// venue reports them later, through `Op::Cancel`, or a fill gets there first).
    fn drain(&mut self, out: Vec<RiskAction>) -> Result<(), TestCaseError> {
        for a in out {
            self.log.push(Event::Action(a));
            if let RiskAction::Submit(it) = a {
                prop_assert!(!it.purpose.is_opening());
                self.submit(it)?;
            }
        }
        Ok(())
    }

    fn exec(&mut self, e: Execution, expect_ok: bool) -> Result<(), TestCaseError> {
        let r = self.eng.on_execution(&e);
        self.log.push(Event::Exec(r));
        // (3) Applied exactly when the manager knows the order and the report fits it.
        prop_assert_eq!(r.is_ok(), expect_ok, "{:?} → {:?}", e, r);
        if r.is_ok() {
            self.applied += 1;
        } else {
            self.refused += 1;
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.now += 10_000_000;
        match *op {
            Op::Trade { inst, step_bps } => {
                let last = if self.mark[inst] > 0 {
                    self.mark[inst]
                } else {
                    START[inst]
                };
                let px = (i128::from(last) * i128::from(BPS + step_bps) / i128::from(BPS)) as i64;
                let px = px.max(1);
                self.mark[inst] = px;
                let mut out = Vec::new();
                self.eng
                    .on_trade(InstrumentId(inst as u16), Price(px), self.now, &mut out);
                self.drain(out)?;
            }
            Op::BadTrade { inst } => {
                let mut out = Vec::new();
                let px = if inst < 2 { 0 } else { S };
                self.eng
                    .on_trade(InstrumentId(inst as u16), Price(px), self.now, &mut out);
                prop_assert!(out.is_empty());
            }
            Op::Intent(ref o) => {
                let lot = LOTS[o.inst];
                let reference = if self.mark[o.inst] > 0 {
                    self.mark[o.inst]
                } else {
                    START[o.inst]
                };
                let price =
                    (i128::from(reference) * i128::from(BPS + o.off_bps) / i128::from(BPS)) as i64;
                let purpose = match o.purpose {
                    0..=5 => Purpose::Open,
                    6..=8 => Purpose::Close,
                    _ => Purpose::StopLoss,
                };
                let (mut side, mut qty) =
                    (if o.buy { Side::Buy } else { Side::Sell }, o.lots * lot);
                if purpose == Purpose::Close && o.close_all {
                    let p = self.pos[o.inst];
                    side = if p > 0 { Side::Sell } else { Side::Buy };
                    let same: i64 = self
                        .working
                        .iter()
                        .filter(|w| w.1.instrument.index() == o.inst && w.1.side == side)
                        .map(|w| w.2)
                        .sum();
                    qty = p.abs() - same;
                }
                let it = OrderIntent {
                    instrument: InstrumentId(o.inst as u16),
                    strategy: (o.purpose % 3),
                    side,
                    order_type: if o.market {
                        OrderType::Market
                    } else {
                        OrderType::Limit
                    },
                    price: Price(price),
                    qty: Qty(qty),
                    tif: TimeInForce::Gtc,
                    purpose,
                    decided_ns: self.now,
                };
                self.submit(it)?;
            }
            Op::Fill {
                pick,
                pct,
                off_bps,
                fee,
            } => {
                if self.working.is_empty() {
                    return Ok(());
                }
                let k = pick % self.working.len();
                let (id, it, leaves) = self.working[k];
                let i = it.instrument.index();
                let lot = LOTS[i];
                let q = (leaves * pct / 100 / lot * lot).clamp(lot, leaves);
                let base = if self.mark[i] > 0 {
                    self.mark[i]
                } else {
                    it.price.0
                };
                let px = ((i128::from(base) * i128::from(BPS + off_bps) / i128::from(BPS)) as i64)
                    .max(1);
                let e = Execution {
                    client_order_id: id,
                    instrument: it.instrument,
                    side: it.side,
                    exec: ExecType::Fill,
                    price: Price(px),
                    qty: Qty(q),
                    leaves: Qty(leaves - q),
                    fee,
                    liquidity: Liquidity::Taker,
                    market_ns: self.now,
                };
                self.exec(e, true)?;
                let sign = it.side.sign();
                self.pos[i] += sign * q;
                self.cash -= Money::from(sign) * Money::from(px) * Money::from(q)
                    + Money::from(fee) * MONEY_PER_UNIT;
                if q == leaves {
                    self.working.swap_remove(k);
                    self.finished.push(id);
                } else {
                    self.working[k].2 -= q;
                }
            }
            Op::Cancel { pick } => {
                if self.working.is_empty() {
                    return Ok(());
                }
                let k = pick % self.working.len();
                let (id, it, _) = self.working.swap_remove(k);
                self.finished.push(id);
                let e = Execution {
                    client_order_id: id,
                    instrument: it.instrument,
                    side: it.side,
                    exec: ExecType::Cancelled,
                    price: Price(0),
                    qty: Qty(0),
                    leaves: Qty(0),
                    fee: 0,
                    liquidity: Liquidity::Maker,
                    market_ns: self.now,
                };
                self.exec(e, true)?;
            }
            Op::Bogus { kind, pick } => {
                let mut e = Execution {
                    client_order_id: self.next_id + 1_000 + pick as u64 % 1_000,
                    instrument: InstrumentId(0),
                    side: Side::Buy,
                    exec: ExecType::Fill,
                    price: Price(START[0]),
                    qty: Qty(LOTS[0]),
                    leaves: Qty(0),
                    fee: 0,
                    liquidity: Liquidity::Taker,
                    market_ns: self.now,
                };
                if !self.working.is_empty() {
                    let (id, it, leaves) = self.working[pick % self.working.len()];
                    let lot = LOTS[it.instrument.index()];
                    e.instrument = it.instrument;
                    e.side = it.side;
                    match kind {
                        1 => {
                            e.client_order_id = id;
                            e.side = if it.side == Side::Buy {
                                Side::Sell
                            } else {
                                Side::Buy
                            };
                        }
                        2 => (e.client_order_id, e.qty) = (id, Qty(leaves + lot)),
                        3 => (e.client_order_id, e.qty) = (id, Qty(0)),
                        _ => {}
                    }
                }
                if kind == 4 && !self.finished.is_empty() {
                    e.client_order_id = self.finished[pick % self.finished.len()];
                }
                self.exec(e, false)?;
            }
            Op::Advance { ns } => self.now += ns,
            Op::NextDay => self.now = (self.now / DAY_NS + 1) * DAY_NS,
            Op::Kill => {
                let mut out = Vec::new();
                self.eng.trip_kill(self.now, &mut out);
                self.drain(out)?;
            }
            Op::Reset => {
                self.eng.reset_kill();
                self.kill_expected = false;
            }
        }
        let trips = self.eng.counters().kill_trips;
        if trips > self.trips_seen {
            self.trips_seen = trips;
            self.kill_expected = true;
        }
        self.invariants()
    }

    fn invariants(&self) -> Result<(), TestCaseError> {
        let v = self.eng.view();
        prop_assert_eq!(v.kill_switch(), self.kill_expected);
        let mut value: Money = 0;
        for i in 0..2 {
            let id = InstrumentId(i as u16);
            let side = |s: Side| -> i64 {
                self.working
                    .iter()
                    .filter(|w| w.1.instrument == id && w.1.side == s)
                    .map(|w| w.2)
                    .sum()
            };
            let (buys, sells) = (side(Side::Buy), side(Side::Sell));
            // (1) Within the limit even if one whole side of the working orders filled.
            let max = self.max_position[i];
            prop_assert!(
                (self.pos[i] + buys).abs() <= max && (self.pos[i] - sells).abs() <= max,
                "instrument {}: position {} buys {} sells {} max {}",
                i,
                self.pos[i],
                buys,
                sells,
                max
            );
            prop_assert_eq!(v.position(id), Qty(self.pos[i]));
            prop_assert_eq!(v.working(id), (Qty(buys), Qty(sells)));
            value += Money::from(self.pos[i]) * Money::from(self.mark[i]);
        }
        // (4) Equity reconciles exactly with the fills.
        prop_assert_eq!(v.cash(), self.cash);
        prop_assert_eq!(v.equity(), self.cash + value);
        // (3) Every report accounted for.
        let c = self.eng.counters();
        prop_assert_eq!(
            (c.executions, c.refused_executions),
            (self.applied, self.refused)
        );
        prop_assert_eq!(self.eng.open_orders(), self.working.len());
        Ok(())
    }
}

fn run(c: Config, ops: &[Op]) -> Result<(Vec<Event>, Vec<Breach>), TestCaseError> {
    let mut d = Desk::new(c);
    for op in ops {
        d.step(op)?;
    }
    Ok((d.log, d.eng.breaches().clone()))
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(
            |(stop_loss, take_profit, trailing, flatten_on_kill, loss)| Config {
                stop_loss,
                take_profit,
                trailing,
                flatten_on_kill,
                loss,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 500 } else { 4_000 }))]

    #[test]
    fn limits_kill_switch_executions_and_books_hold(c in config(), ops in vec(op(), 1..300)) {
        let first = run(c, &ops)?;
        let second = run(c, &ops)?;
        prop_assert!(first == second, "same inputs, different outputs");
    }
}

/// Anything at all: the engine must not panic (overflow checks are on in debug builds).
#[derive(Clone, Debug)]
enum Garbage {
    Trade(u16, i64, u64),
    Check(u16, bool, u8, i64, i64, u8, u64),
    Sent(u64, u16, bool, i64, u8, u8),
    Exec(u64, u16, bool, u8, i64, i64, i64, i64),
    Kill(u64),
    Reset,
}

fn garbage() -> impl Strategy<Value = Garbage> {
    let small = prop_oneof![0u64..8, any::<u64>()];
    let num = prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        -3i64..3,
        (1i64..1_000_000).prop_map(|v| v * S)
    ];
    prop_oneof![
        (0u16..4, num.clone(), any::<u64>()).prop_map(|(i, p, t)| Garbage::Trade(i, p, t)),
        (
            (0u16..4, any::<bool>(), 0u8..6),
            (num.clone(), num.clone(), any::<u8>(), any::<u64>())
        )
            .prop_map(|((i, b, pu), (p, q, s, t))| Garbage::Check(i, b, pu, p, q, s, t)),
        (
            small.clone(),
            0u16..4,
            any::<bool>(),
            num.clone(),
            0u8..6,
            any::<u8>()
        )
            .prop_map(|(id, i, b, q, pu, s)| Garbage::Sent(id, i, b, q, pu, s)),
        (
            (small, 0u16..4, any::<bool>(), 0u8..5),
            (num.clone(), num.clone(), num.clone(), num)
        )
            .prop_map(|((id, i, b, k), (p, q, l, f))| Garbage::Exec(id, i, b, k, p, q, l, f)),
        any::<u64>().prop_map(Garbage::Kill),
        Just(Garbage::Reset),
    ]
}

fn purpose(p: u8) -> Purpose {
    [
        Purpose::Open,
        Purpose::Close,
        Purpose::StopLoss,
        Purpose::TakeProfit,
        Purpose::TrailingStop,
        Purpose::Flatten,
    ][usize::from(p % 6)]
}

fn side(b: bool) -> Side {
    if b {
        Side::Buy
    } else {
        Side::Sell
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn never_panics(c in config(), ops in vec(garbage(), 1..200)) {
        let mut e = RiskEngine::new(&instruments(), limits(c), Vec::new()).unwrap();
        let mut out = Vec::new();
        for g in ops {
            match g {
                Garbage::Trade(i, p, t) => e.on_trade(InstrumentId(i), Price(p), t, &mut out),
                Garbage::Check(i, b, pu, p, q, s, t) => {
                    let it = OrderIntent {
                        instrument: InstrumentId(i),
                        strategy: s,
                        side: side(b),
                        order_type: OrderType::Limit,
                        price: Price(p),
                        qty: Qty(q),
                        tif: TimeInForce::Ioc,
                        purpose: purpose(pu),
                        decided_ns: t,
                    };
                    let _ = e.check(&it, t);
                }
                Garbage::Sent(id, i, b, q, pu, s) => {
                    let it = OrderIntent {
                        instrument: InstrumentId(i),
                        strategy: s,
                        side: side(b),
                        order_type: OrderType::Market,
                        price: Price(S),
                        qty: Qty(q),
                        tif: TimeInForce::Ioc,
                        purpose: purpose(pu),
                        decided_ns: 0,
                    };
                    let _ = e.on_order_sent(&VenueOrder { client_order_id: id, intent: it, sent_ns: 0 });
                }
                Garbage::Exec(id, i, b, k, p, q, l, f) => {
                    let exec = [
                        ExecType::Ack,
                        ExecType::Fill,
                        ExecType::Fill,
                        ExecType::Cancelled,
                        ExecType::Expired,
                    ][usize::from(k)];
                    let _ = e.on_execution(&Execution {
                        client_order_id: id,
                        instrument: InstrumentId(i),
                        side: side(b),
                        exec,
                        price: Price(p),
                        qty: Qty(q),
                        leaves: Qty(l),
                        fee: f,
                        liquidity: Liquidity::Taker,
                        market_ns: 0,
                    });
                }
                Garbage::Kill(t) => {
                    e.trip_kill(t, &mut out);
                }
                Garbage::Reset => {
                    e.reset_kill();
                }
            }
            let v = e.view();
            let _ = (v.equity(), v.drawdown_bps(), v.avg_price(InstrumentId(0)), v.unrealized(InstrumentId(1)));
        }
    }
}

/// The generator must keep reaching every rule, every kill-switch cause and every exit, or
/// the property above proves little.
#[test]
fn the_generator_reaches_every_rule_and_exit() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (config(), vec(op(), 1..300));
    let mut rejected = Vec::new();
    let mut trips = Vec::new();
    let mut exits = Vec::new();
    for _ in 0..300 {
        let (c, ops) = strategy.new_tree(&mut runner).unwrap().current();
        let mut d = Desk::new(c);
        for op in &ops {
            d.step(op).unwrap();
        }
        for b in d.eng.breaches() {
            match b.kind {
                BreachKind::KillSwitch => trips.push(b.rule),
                BreachKind::Rejected { .. } => rejected.push(b.rule),
            }
        }
        for e in &d.log {
            if let Event::Action(RiskAction::Submit(it)) = e {
                exits.push(it.purpose);
            }
        }
    }
    use RiskRule::*;
    for rule in [
        KillSwitch,
        MinSize,
        NoMarket,
        PriceBand,
        MaxOrderQty,
        MaxOrderNotional,
        MaxPosition,
        MaxGrossExposure,
        MaxNetExposure,
        MaxOpenOrders,
        OrderRate,
    ] {
        assert!(rejected.contains(&rule), "no {rule:?} rejection");
    }
    for rule in [DailyLoss, MaxDrawdown, KillSwitch] {
        assert!(trips.contains(&rule), "no {rule:?} trip");
    }
    for p in [
        Purpose::StopLoss,
        Purpose::TakeProfit,
        Purpose::TrailingStop,
        Purpose::Flatten,
    ] {
        assert!(exits.contains(&p), "no {p:?} exit");
    }
}

proptest! {
    /// The fast multiply agrees with the saturating one everywhere: operands inside and
    /// outside 64 bits, and products that saturate.
    #[test]
    fn sat_mul_is_saturating_mul(
        a in prop_oneof![any::<i64>().prop_map(Money::from), any::<i128>()],
        b in prop_oneof![any::<i64>().prop_map(Money::from), any::<i128>()],
    ) {
        prop_assert_eq!(sat_mul(a, b), a.saturating_mul(b));
    }
}
