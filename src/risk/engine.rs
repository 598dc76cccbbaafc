//! The risk engine: consulted before every order, never bypassable.
//!
//! It owns the pre-trade verdict ([`RiskEngine::check`]), the account as the fills make it
//! (positions, cost basis, realized PnL, fees and cash, exact to 10⁻¹⁶ of the quote
//! currency), the open orders and the quantity each side has in flight, the marks (last trade
//! per instrument), the equity peak and the day's starting equity, the kill switch, and the
//! per-position stop-loss, take-profit and trailing stop. It is driven by plain method calls
//! on one thread:
//!
//! ```text
//!  on_trade(instrument, price, market_ns, out)   marks, equity, loss checks, stops → out
//!  check(&intent, now_ns) -> Verdict              every rule, in the order below
//!  on_order_sent(&venue_order)                    an accepted intent left with its id
//!  on_execution(&execution)                       acks, fills, cancels from the venue
//! ```
//!
//! Contract: every intent the engine emits through `out` goes through [`RiskEngine::check`]
//! like any other, and every accepted intent is reported with [`RiskEngine::on_order_sent`]
//! before the next `check`, so an order in flight always counts.
//!
//! # Rules, in the order `check` applies them
//!
//! The first rule that fails decides; its `limit` and `value` are in the verdict (money at
//! 10⁻⁸ of quote rounded up, so a refused value always shows above its limit).
//!
//! | # | rule | applies to | refused when (`limit`, `value`) |
//! |---|------|------------|---------------------------------|
//! | 1 | [`RiskRule::NoMarket`] | all | instrument unknown (instrument count, index) |
//! | 2 | [`RiskRule::KillSwitch`] | opening | the kill switch is on (the numbers that tripped it) |
//! | 3 | [`RiskRule::MinSize`] | all | qty ≤ 0 or not a whole number of lots (lot, qty) |
//! | 4 | [`RiskRule::NoMarket`] | all | no trade seen yet for the instrument (0, 0) |
//! | 5 | [`RiskRule::PriceBand`] | all | \|price − last\| > band (bps, bps rounded up) |
//! | 6 | [`RiskRule::MaxOrderQty`] | opening | qty > max order qty (qty, qty) |
//! | 7 | [`RiskRule::MaxOrderNotional`] | opening | price × qty > limit (quote, quote) |
//! | 8 | [`RiskRule::MaxPosition`] | protective | not reduce-only: qty + working on its side > \|position\| (\|position\|, that sum) |
//! | 9 | [`RiskRule::MaxPosition`] | opening | \|position + working on its side + qty\| > max (qty, qty) |
//! | 10 | [`RiskRule::MaxGrossExposure`] | opening | worst-case Σ \|value\| after it > limit (quote, quote) |
//! | 11 | [`RiskRule::MaxNetExposure`] | opening | worst-case \|Σ value\| after it > limit (quote, quote) |
//! | 12 | [`RiskRule::MaxOpenOrders`] | all | open orders + 1 > limit (count, count) |
//! | 13 | [`RiskRule::OrderRate`] | open, close | the limit-th last accepted order < 1 s ago (per s, limit + 1) |
//!
//! "Opening" is [`Purpose::Open`], and also a strategy's [`Purpose::Close`] that is not
//! reduce-only against the net position: with several strategies on one instrument, closing
//! one strategy's long while another is short adds exposure, so it faces every opening rule
//! (the kill switch included). A reduce-only close, and every protective purpose, skips the
//! size, notional, position and exposure limits *because* it only reduces; a protective
//! intent that is not reduce-only is refused by rule 8, so a mislabelled exit can never add
//! risk. The price band still applies (a fat-fingered close is still a
//! fat finger; the engine's own exits use the last trade, so they always pass). The
//! protective purposes (stop-loss, take-profit, trailing stop, flatten) are never refused by
//! the order rate, though they count in its window, and may use a reserve of one open-order
//! slot per instrument beyond `max_open_orders`: the limit that would refuse them protects
//! against exactly the failure they are closing.
//!
//! Exposure is marked at each instrument's last trade and counts orders in flight: each
//! instrument is valued at the worse of "every working buy fills" and "every working sell
//! fills", so gross is Σ max(\|(pos + buys) × mark\|, \|(pos − sells) × mark\|) and net the
//! larger magnitude of Σ (pos + buys) × mark and Σ (pos − sells) × mark.
//!
//! # Kill switch
//!
//! After each trade, equity (cash + Σ position × mark) is compared with the day's start
//! (00:00 UTC, market time) and with its peak: a fall beyond `daily_loss`, then beyond
//! `max_drawdown`, trips it; so does [`RiskEngine::trip_kill`]. A trip records a
//! [`KillState`] and a [`Breach`], requests the cancel of every open order (except the
//! engine's own exits in flight, which only reduce) and, with `flatten_on_kill`, emits one
//! market [`Purpose::Flatten`] intent per position for the part not already covered by a
//! working order on the reducing side. While it is on, openings are refused, closes pass, and
//! each trade re-flattens what is left once no exit of the engine's is in flight.
//! [`RiskEngine::reset_kill`] releases it and re-bases the peak and the day's start at the
//! current equity (otherwise the next trade would trip it again).
//!
//! # Stops
//!
//! On each trade for an instrument with a position and no engine exit in flight: stop-loss
//! (`stop_loss_bps` against the average entry), then trailing stop (`trailing_stop_bps`
//! from the best trade price since entry), then take-profit; the first hit emits one market
//! IOC exit for the uncovered, lot-rounded position. Nothing more is emitted for that
//! instrument until that exit is refused by `check` or finishes at the venue.
//!
//! # Never
//!
//! Nothing here allocates after [`RiskEngine::new`] (`tests/risk_alloc.rs` proves it),
//! takes a lock, reads a clock or panics on any input: arithmetic is in `i128`, saturating
//! where an input could be absurd, and running totals wrap (exact whenever the true total
//! fits, which a real book always does). Same inputs, same outputs.

mod limits;
mod orders;
mod position;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use limits::{
    Drawdown, InstrumentLimits, RawInstrumentLimits, RawRiskLimits, RiskLimits, RiskLimitsError,
    BPS, MAX_TABLE,
};

use crate::core::event::{OrderType, Side};
use crate::core::instrument::{Instrument, InstrumentId};
use crate::core::num::{Price, Qty, SCALE};
use crate::core::order::{
    ExecType, Execution, OrderIntent, Purpose, RiskRule, TimeInForce, VenueCancel, VenueOrder,
    Verdict,
};
use crate::core::sink::Sink;

use orders::{OpenOrder, OpenOrders, RateWindow};
use position::{Change, Position};

/// Quote currency at 10⁻¹⁶: a price times a quantity, never rounded.
pub type Money = i128;

/// [`Money`] per 10⁻⁸ unit: multiply a 10⁻⁸ amount (a fee, a limit) by it.
pub const MONEY_PER_UNIT: Money = SCALE as Money;

/// The strategy index the engine's own intents carry.
pub const RISK_STRATEGY: u8 = u8::MAX;

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// What a [`Breach`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreachKind {
    /// `check` refused an intent.
    Rejected {
        /// The intent's strategy.
        strategy: u8,
        /// The intent's purpose.
        purpose: Purpose,
    },
    /// The kill switch tripped.
    KillSwitch,
}

/// "The numbers that tripped it": one per rejection and per kill-switch trip, for the
/// cold-side journal. Money at 10⁻⁸ of quote, rounded up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breach {
    /// The rule.
    pub rule: RiskRule,
    /// Its configured bound.
    pub limit: i64,
    /// The value that broke it.
    pub value: i64,
    /// The instrument (for a trip, the one whose trade tripped it; none for an operator's).
    pub instrument: Option<InstrumentId>,
    /// Market time.
    pub market_ns: u64,
    /// Rejection or trip.
    pub kind: BreachKind,
}

/// Why, when and by how much the kill switch is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillState {
    /// [`RiskRule::DailyLoss`], [`RiskRule::MaxDrawdown`], or [`RiskRule::KillSwitch`] for an
    /// operator's trip or the configured hold.
    pub rule: RiskRule,
    /// The limit (0 for an operator's trip).
    pub limit: i64,
    /// The value that broke it (0 for an operator's trip).
    pub value: i64,
    /// The instrument whose trade tripped it.
    pub instrument: Option<InstrumentId>,
    /// Market time of the trip (0 for the configured hold).
    pub market_ns: u64,
}

/// What the engine asks the blotter to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskAction {
    /// Cancel a working order (kill switch).
    Cancel(VenueCancel),
    /// Send an exit: stop-loss, take-profit, trailing stop or flatten; market, IOC,
    /// reduce-only, strategy [`RISK_STRATEGY`]. It goes through `check` like any intent.
    Submit(OrderIntent),
}

/// Why an execution was not applied (it is counted in [`RiskCounters::refused_executions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecRefused {
    /// No open order with that client id.
    UnknownOrder,
    /// Instrument or side differ from the order's.
    Mismatch,
    /// A fill with quantity or price ≤ 0.
    BadFill,
    /// A fill larger than the order's working quantity.
    Overfill,
    /// The position would not fit an `i64`.
    Overflow,
}

/// Why a sent order was not recorded (counted in [`RiskCounters::refused_orders`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRefused {
    /// Instrument not known at `new`.
    UnknownInstrument,
    /// Quantity ≤ 0, or the side's working total would overflow.
    BadQty,
    /// The client id is already working.
    Duplicate,
    /// The open-order table is full.
    TableFull,
}

/// Running counts, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskCounters {
    /// Intents checked.
    pub checks: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected.
    pub rejected: u64,
    /// Executions applied.
    pub executions: u64,
    /// Executions refused (unknown order, mismatch, overfill...).
    pub refused_executions: u64,
    /// Sent orders refused by [`RiskEngine::on_order_sent`].
    pub refused_orders: u64,
    /// Trades ignored (unknown instrument, price ≤ 0).
    pub bad_trades: u64,
    /// Exit intents emitted.
    pub exits: u64,
    /// Cancels emitted.
    pub cancels: u64,
    /// Kill-switch trips.
    pub kill_trips: u64,
}

/// Where the engine's own exit for an instrument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Idle,
    /// Emitted, not yet sent.
    Emitted,
    /// Sent with this client id.
    Working(u64),
}

/// One instrument's limits, market, position, in-flight quantities and cached exposure.
#[derive(Clone, Copy, Debug)]
struct Holding {
    lot: i64,
    max_position: i64,
    max_order_qty: i64,
    /// Last trade price; 0 = none yet.
    mark: i64,
    pos: Position,
    buy_working: i64,
    sell_working: i64,
    /// pos × mark.
    value: Money,
    /// (pos + buys) × mark.
    upper: Money,
    /// (pos − sells) × mark.
    lower: Money,
    /// max(|upper|, |lower|).
    gross: Money,
    /// Best trade price since entry (highest long, lowest short).
    best: i64,
    exit: Exit,
}

fn abs(x: Money) -> Money {
    x.checked_abs().unwrap_or(Money::MAX)
}

/// `a × b`, saturated. When both fit in 64 bits the product fits in 128 and is one widening
/// multiply; a checked 128-bit multiply is a library call, and this runs several times on
/// every trade.
#[inline]
fn sat_mul(a: Money, b: Money) -> Money {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(x), Ok(y)) => Money::from(x) * Money::from(y),
        _ => a.saturating_mul(b),
    }
}

/// Books a fill of `q` at `px` (fee `fee`, 10⁻⁸ quote) into a holding: its position and best
/// price move; returns (realized PnL it made, cash it cost including the fee).
fn book(
    h: &mut Holding,
    side: Side,
    px: i64,
    q: i64,
    fee: i64,
) -> Result<(Money, Money), ExecRefused> {
    let sign = side.sign();
    if h.pos.after(sign, q).is_none() {
        return Err(ExecRefused::Overflow);
    }
    let realized = h.pos.realized;
    match h.pos.fill(sign, px, q) {
        Change::Entered => h.best = px,
        Change::Flat => h.best = 0,
        Change::Kept => {}
    }
    let paid = Money::from(sign) * Money::from(px) * Money::from(q);
    Ok((
        h.pos.realized.wrapping_sub(realized),
        paid.wrapping_add(units(fee)),
    ))
}

fn units(v: i64) -> Money {
    Money::from(v) * MONEY_PER_UNIT
}

/// ⌈a / b⌉ for b > 0, saturated to `i64`.
fn ceil_div(a: Money, b: Money) -> i64 {
    if b <= 0 {
        return i64::MAX;
    }
    let q = a.div_euclid(b) + Money::from(a.rem_euclid(b) != 0);
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// [`Money`] as 10⁻⁸ units, rounded up.
fn ceil_units(m: Money) -> i64 {
    ceil_div(m, MONEY_PER_UNIT)
}

fn reject(rule: RiskRule, limit: i64, value: i64) -> Verdict {
    Verdict::Reject { rule, limit, value }
}

fn is_protective(p: Purpose) -> bool {
    !matches!(p, Purpose::Open | Purpose::Close)
}

/// The risk engine. `B` receives every [`Breach`]; see the module docs for the contract.
pub struct RiskEngine<B: Sink<Breach>> {
    limits: RiskLimits,
    holdings: Box<[Holding]>,
    orders: OpenOrders,
    rate: RateWindow,
    /// Initial equity − Σ signed fill value − fees.
    cash: Money,
    /// Σ pos × mark.
    value: Money,
    gross: Money,
    upper: Money,
    lower: Money,
    realized: Money,
    fees: Money,
    peak: Money,
    day: Option<u64>,
    day_start: Money,
    kill: Option<KillState>,
    /// The health monitor's throttle (see [`RiskEngine::set_throttle`]).
    throttled: bool,
    counters: RiskCounters,
    breaches: B,
}

impl<B: Sink<Breach>> RiskEngine<B> {
    /// An engine for `instruments` (slot `k` is `InstrumentId(k)`), allocating every table
    /// now: one slot per instrument, `max_open_orders` + one per instrument open orders,
    /// `max_orders_per_sec` rate entries. Fails when the limits do not validate, a
    /// per-instrument override names no instrument, or there are more than 65536 instruments.
    pub fn new(
        instruments: &[Instrument],
        limits: RiskLimits,
        breaches: B,
    ) -> Result<Self, RiskLimitsError> {
        limits.validate()?;
        if instruments.len() > usize::from(u16::MAX) + 1 {
            return Err(RiskLimitsError::Invalid {
                key: "instruments".into(),
                message: "more than 65536".into(),
            });
        }
        for il in &limits.instruments {
            if !instruments.iter().any(|i| i.symbol == il.symbol) {
                return Err(RiskLimitsError::Invalid {
                    key: "instruments".into(),
                    message: format!("`{}` is not a known instrument", il.symbol.as_str()),
                });
            }
        }
        let holdings = instruments
            .iter()
            .map(|ins| {
                let own = limits.instruments.iter().find(|il| il.symbol == ins.symbol);
                Holding {
                    lot: ins.lot.max(1),
                    max_position: own.map_or(limits.max_position, |o| o.max_position).0,
                    max_order_qty: own.map_or(limits.max_order_qty, |o| o.max_order_qty).0,
                    mark: 0,
                    pos: Position::default(),
                    buy_working: 0,
                    sell_working: 0,
                    value: 0,
                    upper: 0,
                    lower: 0,
                    gross: 0,
                    best: 0,
                    exit: Exit::Idle,
                }
            })
            .collect();
        let initial = units(limits.initial_equity);
        let kill = limits.kill_switch.then_some(KillState {
            rule: RiskRule::KillSwitch,
            limit: 0,
            value: 0,
            instrument: None,
            market_ns: 0,
        });
        Ok(Self {
            orders: OpenOrders::new(limits.max_open_orders as usize + instruments.len()),
            rate: RateWindow::new(limits.max_orders_per_sec as usize),
            limits,
            holdings,
            cash: initial,
            value: 0,
            gross: 0,
            upper: 0,
            lower: 0,
            realized: 0,
            fees: 0,
            peak: initial,
            day: None,
            day_start: initial,
            kill,
            throttled: false,
            counters: RiskCounters::default(),
            breaches,
        })
    }

    // ------------------------------------------------------------------ pre-trade

    /// The verdict on `intent` at market time `now_ns`: every rule in the order of the
    /// module docs. An acceptance is recorded in the order-rate window; a rejection goes to
    /// the breach sink (and, for the engine's own exit, lets it be emitted again later).
    pub fn check(&mut self, intent: &OrderIntent, now_ns: u64) -> Verdict {
        self.counters.checks += 1;
        let verdict = self.evaluate(intent, now_ns);
        match verdict {
            Verdict::Accept => {
                self.counters.accepted += 1;
                self.rate.record(now_ns);
            }
            Verdict::Reject { rule, limit, value } => {
                self.counters.rejected += 1;
                if intent.strategy == RISK_STRATEGY && is_protective(intent.purpose) {
                    if let Some(h) = self.holdings.get_mut(intent.instrument.index()) {
                        if h.exit == Exit::Emitted {
                            h.exit = Exit::Idle;
                        }
                    }
                }
                self.breaches.emit(Breach {
                    rule,
                    limit,
                    value,
                    instrument: Some(intent.instrument),
                    market_ns: now_ns,
                    kind: BreachKind::Rejected {
                        strategy: intent.strategy,
                        purpose: intent.purpose,
                    },
                });
            }
        }
        verdict
    }

    fn evaluate(&self, it: &OrderIntent, now_ns: u64) -> Verdict {
        let n = self.holdings.len();
        let Some(h) = self.holdings.get(it.instrument.index()) else {
            return reject(RiskRule::NoMarket, n as i64, i64::from(it.instrument.0));
        };
        // A strategy's close that is not reduce-only against the net position (another
        // strategy holds the other side) adds exposure: it faces every opening rule.
        let opening =
            it.purpose.is_opening() || (it.purpose == Purpose::Close && !Self::reduce_only(h, it));
        if opening {
            if let Some(k) = self.kill {
                return reject(RiskRule::KillSwitch, k.limit, k.value);
            }
            if self.throttled {
                return reject(RiskRule::Throttled, 0, 0);
            }
        }
        let q = it.qty.0;
        if q <= 0 || q % h.lot != 0 {
            return reject(RiskRule::MinSize, h.lot, q);
        }
        if h.mark <= 0 {
            return reject(RiskRule::NoMarket, 0, 0);
        }
        let mark = Money::from(h.mark);
        let band = self.limits.price_band_bps;
        let off = abs(Money::from(it.price.0) - mark).saturating_mul(Money::from(BPS));
        if off > Money::from(band) * mark {
            return reject(RiskRule::PriceBand, band, ceil_div(off, mark));
        }
        if opening {
            if q > h.max_order_qty {
                return reject(RiskRule::MaxOrderQty, h.max_order_qty, q);
            }
            let notional = Money::from(it.price.0) * Money::from(q);
            let max = self.limits.max_order_notional;
            if notional > units(max) {
                return reject(RiskRule::MaxOrderNotional, max, ceil_units(notional));
            }
            // Where the position ends if this and every working order on its side fill.
            let (mut upper, mut lower) = (h.upper, h.lower);
            let projected = match it.side {
                Side::Buy => Money::from(h.pos.qty) + Money::from(h.buy_working) + Money::from(q),
                Side::Sell => Money::from(h.pos.qty) - Money::from(h.sell_working) - Money::from(q),
            };
            let reach = abs(projected);
            if reach > Money::from(h.max_position) {
                let value = i64::try_from(reach).unwrap_or(i64::MAX);
                return reject(RiskRule::MaxPosition, h.max_position, value);
            }
            match it.side {
                Side::Buy => upper = projected.saturating_mul(mark),
                Side::Sell => lower = projected.saturating_mul(mark),
            }
            let gross = self
                .gross
                .wrapping_sub(h.gross)
                .wrapping_add(abs(upper).max(abs(lower)));
            let max = self.limits.max_gross_exposure;
            if gross > units(max) {
                return reject(RiskRule::MaxGrossExposure, max, ceil_units(gross));
            }
            let up = self.upper.wrapping_sub(h.upper).wrapping_add(upper);
            let down = self.lower.wrapping_sub(h.lower).wrapping_add(lower);
            let net = abs(up).max(abs(down));
            let max = self.limits.max_net_exposure;
            if net > units(max) {
                return reject(RiskRule::MaxNetExposure, max, ceil_units(net));
            }
        } else {
            // Reduce-only: this and every working order on its side together must not
            // exceed the position on the other side.
            let (reducible, working) = match it.side {
                Side::Sell => (h.pos.qty.max(0), h.sell_working),
                Side::Buy => (h.pos.qty.min(0).saturating_neg(), h.buy_working),
            };
            let total = working.saturating_add(q);
            if total > reducible {
                return reject(RiskRule::MaxPosition, reducible, total);
            }
        }
        let protective = is_protective(it.purpose);
        let cap = if protective {
            self.orders.capacity()
        } else {
            self.limits.max_open_orders as usize
        };
        if self.orders.len() >= cap {
            return reject(
                RiskRule::MaxOpenOrders,
                cap as i64,
                self.orders.len() as i64 + 1,
            );
        }
        if !protective && self.rate.is_full(now_ns) {
            let max = i64::from(self.limits.max_orders_per_sec);
            return reject(RiskRule::OrderRate, max, max + 1);
        }
        Verdict::Accept
    }

    /// True when `it` and every working order on its side together do not exceed the
    /// position on the other side.
    fn reduce_only(h: &Holding, it: &OrderIntent) -> bool {
        let (reducible, working) = match it.side {
            Side::Sell => (h.pos.qty.max(0), h.sell_working),
            Side::Buy => (h.pos.qty.min(0).saturating_neg(), h.buy_working),
        };
        working.saturating_add(it.qty.0) <= reducible
    }

    // ------------------------------------------------------------------ orders and fills

    /// Records an order sent for an accepted intent: it joins the open orders and its
    /// quantity the working total of its side. An order the engine cannot record is refused
    /// and counted.
    pub fn on_order_sent(&mut self, order: &VenueOrder) -> Result<(), OrderRefused> {
        let r = self.record_order(order);
        if r.is_err() {
            self.counters.refused_orders += 1;
        }
        r
    }

    fn record_order(&mut self, order: &VenueOrder) -> Result<(), OrderRefused> {
        let it = &order.intent;
        let i = it.instrument.index();
        let h = self
            .holdings
            .get_mut(i)
            .ok_or(OrderRefused::UnknownInstrument)?;
        if it.qty.0 <= 0 {
            return Err(OrderRefused::BadQty);
        }
        if self.orders.find(order.client_order_id).is_some() {
            return Err(OrderRefused::Duplicate);
        }
        let working = match it.side {
            Side::Buy => &mut h.buy_working,
            Side::Sell => &mut h.sell_working,
        };
        let total = working.checked_add(it.qty.0).ok_or(OrderRefused::BadQty)?;
        let inserted = self.orders.insert(OpenOrder {
            id: order.client_order_id,
            instrument: i,
            side: it.side,
            purpose: it.purpose,
            strategy: it.strategy,
            leaves: it.qty.0,
            cancel_requested: false,
        });
        if !inserted {
            return Err(OrderRefused::TableFull);
        }
        *working = total;
        if it.strategy == RISK_STRATEGY && is_protective(it.purpose) && h.exit == Exit::Emitted {
            h.exit = Exit::Working(order.client_order_id);
        }
        self.refresh(i);
        Ok(())
    }

    /// Applies a venue report to an order the engine knows: a fill moves the position, cash,
    /// realized PnL and fees and releases its quantity from the working total; a cancel,
    /// reject or expiry (or a fill reporting nothing left) releases the rest and closes the
    /// order. Anything else (unknown id, wrong instrument or side, a fill above the working
    /// quantity) is refused, counted, and changes nothing.
    pub fn on_execution(&mut self, e: &Execution) -> Result<(), ExecRefused> {
        let r = self.apply(e);
        match r {
            Ok(()) => self.counters.executions += 1,
            Err(_) => self.counters.refused_executions += 1,
        }
        r
    }

    fn apply(&mut self, e: &Execution) -> Result<(), ExecRefused> {
        let at = self
            .orders
            .find(e.client_order_id)
            .ok_or(ExecRefused::UnknownOrder)?;
        let Some(o) = self.orders.get_mut(at) else {
            return Err(ExecRefused::UnknownOrder);
        };
        let i = o.instrument;
        if i != e.instrument.index() || o.side != e.side {
            return Err(ExecRefused::Mismatch);
        }
        let Some(h) = self.holdings.get_mut(i) else {
            return Err(ExecRefused::Mismatch);
        };
        let done = match e.exec {
            ExecType::Ack => return Ok(()),
            ExecType::Cancelled | ExecType::Rejected(_) | ExecType::Expired => true,
            ExecType::Fill => {
                let (q, px) = (e.qty.0, e.price.0);
                if q <= 0 || px <= 0 {
                    return Err(ExecRefused::BadFill);
                }
                if q > o.leaves {
                    return Err(ExecRefused::Overfill);
                }
                let booked = book(h, e.side, px, q, e.fee)?;
                self.realized = self.realized.wrapping_add(booked.0);
                self.cash = self.cash.wrapping_sub(booked.1);
                self.fees = self.fees.wrapping_add(units(e.fee));
                match e.side {
                    Side::Buy => h.buy_working -= q,
                    Side::Sell => h.sell_working -= q,
                }
                o.leaves -= q;
                o.leaves == 0 || e.leaves.0 <= 0
            }
        };
        if done {
            if let Some(gone) = self.orders.remove(at) {
                match gone.side {
                    Side::Buy => h.buy_working -= gone.leaves,
                    Side::Sell => h.sell_working -= gone.leaves,
                }
                if h.exit == Exit::Working(gone.id) {
                    h.exit = Exit::Idle;
                }
            }
        }
        self.refresh(i);
        self.peak = self.peak.max(self.equity());
        Ok(())
    }

    /// Books a fill from an earlier run (read back from the order journal at a restart):
    /// position, cash, realized PnL and fees move as they did then; no order is involved, so
    /// no working quantity changes. The mark becomes the fill's price until a trade moves it.
    pub fn restore_fill(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: Qty,
        fee: i64,
    ) -> Result<(), ExecRefused> {
        let i = instrument.index();
        let (px, q) = (price.0, qty.0);
        if q <= 0 || px <= 0 {
            return Err(ExecRefused::BadFill);
        }
        let Some(h) = self.holdings.get_mut(i) else {
            return Err(ExecRefused::Mismatch);
        };
        let booked = book(h, side, px, q, fee)?;
        h.mark = px;
        self.realized = self.realized.wrapping_add(booked.0);
        self.cash = self.cash.wrapping_sub(booked.1);
        self.fees = self.fees.wrapping_add(units(fee));
        self.refresh(i);
        self.peak = self.peak.max(self.equity());
        Ok(())
    }

    // ------------------------------------------------------------------ market

    /// A trade at `price` on `instrument`: rolls the day at 00:00 UTC, moves the mark,
    /// equity and peak, then checks the daily loss and the drawdown (tripping the kill
    /// switch), then flattens (kill switch on, `flatten_on_kill`) or runs the instrument's
    /// stops. Exits and cancels go to `out`. A trade for an unknown instrument or at a price
    /// ≤ 0 is counted and ignored.
    pub fn on_trade(
        &mut self,
        instrument: InstrumentId,
        price: Price,
        market_ns: u64,
        out: &mut impl Sink<RiskAction>,
    ) {
        let i = instrument.index();
        if i >= self.holdings.len() || price.0 <= 0 {
            self.counters.bad_trades += 1;
            return;
        }
        // A new day begins at the next multiple of DAY_NS (a division only then).
        if self
            .day
            .is_none_or(|d| market_ns >= d.saturating_add(1).saturating_mul(DAY_NS))
        {
            self.day = Some(market_ns / DAY_NS);
            self.day_start = self.equity();
        }
        let h = &mut self.holdings[i];
        h.mark = price.0;
        if h.pos.qty > 0 {
            h.best = h.best.max(price.0);
        } else if h.pos.qty < 0 {
            h.best = h.best.min(price.0);
        }
        self.refresh(i);
        let equity = self.equity();
        self.peak = self.peak.max(equity);
        if self.kill.is_none() {
            self.check_losses(equity, instrument, market_ns, out);
        }
        if self.kill.is_some() && self.limits.flatten_on_kill {
            self.exit(i, Purpose::Flatten, market_ns, out);
        } else {
            self.stops(i, market_ns, out);
        }
    }

    fn check_losses(
        &mut self,
        equity: Money,
        instrument: InstrumentId,
        now_ns: u64,
        out: &mut impl Sink<RiskAction>,
    ) {
        let loss = self.day_start.saturating_sub(equity);
        let max = self.limits.daily_loss;
        if loss > units(max) {
            let state = KillState {
                rule: RiskRule::DailyLoss,
                limit: max,
                value: ceil_units(loss),
                instrument: Some(instrument),
                market_ns: now_ns,
            };
            self.trip(state, out);
            return;
        }
        let down = self.peak.saturating_sub(equity);
        // The value is only worked out (a division) when the limit is broken.
        let (tripped, limit) = match self.limits.max_drawdown {
            Drawdown::Bps(b) => (
                sat_mul(down, Money::from(BPS)) > sat_mul(Money::from(b), self.peak),
                b,
            ),
            Drawdown::Absolute(a) => (down > units(a), a),
        };
        if tripped {
            let value = match self.limits.max_drawdown {
                Drawdown::Bps(_) => ceil_div(down.saturating_mul(Money::from(BPS)), self.peak),
                Drawdown::Absolute(_) => ceil_units(down),
            };
            let state = KillState {
                rule: RiskRule::MaxDrawdown,
                limit,
                value,
                instrument: Some(instrument),
                market_ns: now_ns,
            };
            self.trip(state, out);
        }
    }

    /// An operator's trip: the kill switch goes on with [`RiskRule::KillSwitch`], cancels and
    /// flattens as for a loss. `false` if it was already on.
    pub fn trip_kill(&mut self, now_ns: u64, out: &mut impl Sink<RiskAction>) -> bool {
        if self.kill.is_some() {
            return false;
        }
        let state = KillState {
            rule: RiskRule::KillSwitch,
            limit: 0,
            value: 0,
            instrument: None,
            market_ns: now_ns,
        };
        self.trip(state, out);
        true
    }

    /// Releases the kill switch and re-bases the equity peak and the day's start at the
    /// current equity. Returns what had tripped it.
    pub fn reset_kill(&mut self) -> Option<KillState> {
        let was = self.kill.take();
        if was.is_some() {
            let equity = self.equity();
            self.peak = equity;
            self.day_start = equity;
        }
        was
    }

    fn trip(&mut self, state: KillState, out: &mut impl Sink<RiskAction>) {
        self.kill = Some(state);
        self.counters.kill_trips += 1;
        self.breaches.emit(Breach {
            rule: state.rule,
            limit: state.limit,
            value: state.value,
            instrument: state.instrument,
            market_ns: state.market_ns,
            kind: BreachKind::KillSwitch,
        });
        for o in self.orders.iter_mut() {
            let own_exit = o.strategy == RISK_STRATEGY && is_protective(o.purpose);
            if o.cancel_requested || own_exit {
                continue;
            }
            o.cancel_requested = true;
            self.counters.cancels += 1;
            out.emit(RiskAction::Cancel(VenueCancel {
                client_order_id: o.id,
                instrument: InstrumentId(o.instrument as u16),
                sent_ns: state.market_ns,
            }));
        }
        if self.limits.flatten_on_kill {
            for i in 0..self.holdings.len() {
                self.exit(i, Purpose::Flatten, state.market_ns, out);
            }
        }
    }

    fn stops(&mut self, i: usize, now_ns: u64, out: &mut impl Sink<RiskAction>) {
        let l = &self.limits;
        let (sl, tp, ts) = (l.stop_loss_bps, l.take_profit_bps, l.trailing_stop_bps);
        let h = &self.holdings[i];
        if h.pos.qty == 0 || h.exit != Exit::Idle || (sl | tp | ts) == 0 {
            return;
        }
        let long = h.pos.qty > 0;
        let bps = Money::from(BPS);
        let mark = Money::from(h.mark);
        // Against the average entry without dividing: price × |qty| vs |cost| × (1 ± bps).
        let at = mark
            .saturating_mul(Money::from(h.pos.qty.unsigned_abs()))
            .saturating_mul(bps);
        let cost = abs(h.pos.cost);
        let below = |b: i64| at <= cost.saturating_mul(bps - Money::from(b));
        let above = |b: i64| at >= cost.saturating_mul(bps + Money::from(b));
        let best = Money::from(h.best);
        let trail = if long {
            mark * bps <= best * (bps - Money::from(ts))
        } else {
            mark * bps >= best * (bps + Money::from(ts))
        };
        let purpose = if sl > 0 && (if long { below(sl) } else { above(sl) }) {
            Purpose::StopLoss
        } else if ts > 0 && trail {
            Purpose::TrailingStop
        } else if tp > 0 && (if long { above(tp) } else { below(tp) }) {
            Purpose::TakeProfit
        } else {
            return;
        };
        self.exit(i, purpose, now_ns, out);
    }

    /// Emits a market IOC exit for the part of instrument `i`'s position no working order
    /// already reduces, rounded down to lots, unless an exit of the engine's is in flight.
    fn exit(&mut self, i: usize, purpose: Purpose, now_ns: u64, out: &mut impl Sink<RiskAction>) {
        let Some(h) = self.holdings.get_mut(i) else {
            return;
        };
        if h.pos.qty == 0 || h.exit != Exit::Idle || h.mark <= 0 {
            return;
        }
        let (side, uncovered) = if h.pos.qty > 0 {
            (Side::Sell, h.pos.qty.saturating_sub(h.sell_working))
        } else {
            (
                Side::Buy,
                h.pos.qty.saturating_neg().saturating_sub(h.buy_working),
            )
        };
        let qty = uncovered / h.lot * h.lot;
        if qty <= 0 {
            return;
        }
        h.exit = Exit::Emitted;
        self.counters.exits += 1;
        out.emit(RiskAction::Submit(OrderIntent {
            instrument: InstrumentId(i as u16),
            strategy: RISK_STRATEGY,
            side,
            order_type: OrderType::Market,
            price: Price(h.mark),
            qty: Qty(qty),
            tif: TimeInForce::Ioc,
            purpose,
            decided_ns: now_ns,
        }));
    }

    // ------------------------------------------------------------------ bookkeeping

    /// Recomputes instrument `i`'s value and worst-case exposure and moves the totals by the
    /// difference (wrapping: exact whenever the true totals fit).
    fn refresh(&mut self, i: usize) {
        let h = &mut self.holdings[i];
        let mark = Money::from(h.mark);
        let q = Money::from(h.pos.qty);
        let value = q * mark;
        let upper = sat_mul(q + Money::from(h.buy_working), mark);
        let lower = sat_mul(q - Money::from(h.sell_working), mark);
        let gross = abs(upper).max(abs(lower));
        self.value = self.value.wrapping_sub(h.value).wrapping_add(value);
        self.upper = self.upper.wrapping_sub(h.upper).wrapping_add(upper);
        self.lower = self.lower.wrapping_sub(h.lower).wrapping_add(lower);
        self.gross = self.gross.wrapping_sub(h.gross).wrapping_add(gross);
        (h.value, h.upper, h.lower, h.gross) = (value, upper, lower, gross);
    }

    /// Cash + Σ position × mark.
    pub fn equity(&self) -> Money {
        self.cash.saturating_add(self.value)
    }

    /// Throttles (or stops throttling): while on, every opening intent is refused
    /// ([`RiskRule::Throttled`]); closes and protective exits still go.
    pub fn set_throttle(&mut self, on: bool) {
        self.throttled = on;
    }

    /// Whether opening intents are refused by the throttle.
    pub fn throttled(&self) -> bool {
        self.throttled
    }

    /// The read-only view strategies get.
    pub fn view(&self) -> RiskView<'_> {
        RiskView {
            holdings: &self.holdings,
            cash: self.cash,
            equity: self.equity(),
            peak: self.peak,
            realized: self.realized,
            fees: self.fees,
            gross: self.gross,
            net: abs(self.upper).max(abs(self.lower)),
            kill: self.kill,
        }
    }

    /// Running counts.
    pub fn counters(&self) -> RiskCounters {
        self.counters
    }

    /// Orders working now.
    pub fn open_orders(&self) -> usize {
        self.orders.len()
    }

    /// The limits it was built with.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// The breach sink.
    pub fn breaches(&self) -> &B {
        &self.breaches
    }

    /// The breach sink, mutably (to drain it).
    pub fn breaches_mut(&mut self) -> &mut B {
        &mut self.breaches
    }
}

/// What a strategy may read of the risk engine: positions, equity, drawdown, kill switch.
/// Borrowed, so it never goes stale and never allocates.
#[derive(Clone, Copy)]
pub struct RiskView<'a> {
    holdings: &'a [Holding],
    cash: Money,
    equity: Money,
    peak: Money,
    realized: Money,
    fees: Money,
    gross: Money,
    net: Money,
    kill: Option<KillState>,
}

impl RiskView<'_> {
    /// Instruments known.
    pub fn instruments(&self) -> usize {
        self.holdings.len()
    }

    /// Signed position (0 for an unknown instrument).
    pub fn position(&self, id: InstrumentId) -> Qty {
        Qty(self.holdings.get(id.index()).map_or(0, |h| h.pos.qty))
    }

    /// Average entry price, rounded toward zero; `None` when flat.
    pub fn avg_price(&self, id: InstrumentId) -> Option<Price> {
        self.holdings
            .get(id.index())
            .and_then(|h| h.pos.avg_price())
            .map(Price)
    }

    /// Last trade price; `None` before the first.
    pub fn mark(&self, id: InstrumentId) -> Option<Price> {
        self.holdings
            .get(id.index())
            .map(|h| Price(h.mark))
            .filter(|p| p.0 > 0)
    }

    /// Quantity working on the buy and on the sell side.
    pub fn working(&self, id: InstrumentId) -> (Qty, Qty) {
        self.holdings.get(id.index()).map_or((Qty(0), Qty(0)), |h| {
            (Qty(h.buy_working), Qty(h.sell_working))
        })
    }

    /// Unrealized PnL of one position at its mark.
    pub fn unrealized(&self, id: InstrumentId) -> Money {
        self.holdings
            .get(id.index())
            .map_or(0, |h| h.value.wrapping_sub(h.pos.cost))
    }

    /// Realized PnL of one instrument, before fees.
    pub fn realized_of(&self, id: InstrumentId) -> Money {
        self.holdings.get(id.index()).map_or(0, |h| h.pos.realized)
    }

    /// Cash: initial equity − Σ signed fill value − fees.
    pub fn cash(&self) -> Money {
        self.cash
    }

    /// Cash + Σ position × mark.
    pub fn equity(&self) -> Money {
        self.equity
    }

    /// Highest equity seen (re-based by a kill-switch reset).
    pub fn peak(&self) -> Money {
        self.peak
    }

    /// Peak − equity.
    pub fn drawdown(&self) -> Money {
        self.peak.saturating_sub(self.equity)
    }

    /// Drawdown in bps of the peak, rounded up.
    pub fn drawdown_bps(&self) -> i64 {
        ceil_div(self.drawdown().saturating_mul(Money::from(BPS)), self.peak)
    }

    /// Realized PnL before fees, all instruments.
    pub fn realized(&self) -> Money {
        self.realized
    }

    /// Fees paid (negative: rebates earned).
    pub fn fees(&self) -> Money {
        self.fees
    }

    /// Worst-case gross exposure, counting working orders.
    pub fn gross_exposure(&self) -> Money {
        self.gross
    }

    /// Worst-case net exposure magnitude, counting working orders.
    pub fn net_exposure(&self) -> Money {
        self.net
    }

    /// Is the kill switch on?
    pub fn kill_switch(&self) -> bool {
        self.kill.is_some()
    }

    /// Why and when it tripped.
    pub fn kill(&self) -> Option<KillState> {
        self.kill
    }
}
