//! A deterministic paper exchange: order and market-data latency, a touch-and-ladder taker
//! model, queue-aware maker fills, exact fees and exact accounting, all keyed by market time.
//!
//! [`PaperExchange`] owns one simulated matching engine per instrument of the table it is built
//! with: the last book ticker, the orders resting there, the orders and cancels on the wire, the
//! reports on their way back and the account. It is driven by plain calls — market data
//! ([`PaperExchange::on_book_ticker`], [`PaperExchange::on_trade`]), orders
//! ([`PaperExchange::submit`], [`PaperExchange::cancel`]) and time ([`PaperExchange::on_time`])
//! — and hands [`Execution`]s to a [`Sink`]. It never reads the wall clock, never allocates
//! after [`PaperExchange::new`], takes no lock and does not panic on any input, so the same
//! calls give the same executions.
//!
//! # Time and latency
//!
//! The exchange clock is the largest market time it has been shown: a book ticker's
//! `event_ns` (0, as Binance spot sends, means "now"), a trade's `trade_ns`, or `on_time`. It
//! never runs backwards; an event stamped earlier is applied at the current time.
//!
//! An order (or cancel) with `sent_ns = s` reaches the matching engine at
//! `s + md_latency_ms + order_latency_ms`: the strategy decided on data `md_latency_ms` old, so
//! it really left at `s + md_latency_ms`, and the wire took `order_latency_ms`. It matches
//! against the book as of that arrival: every market event stamped at or after the arrival is
//! applied after it, every earlier one before. The wire is FIFO (a message never overtakes one
//! sent before it), and a message that would arrive in the past arrives now. Every report
//! travels back with the same `order_latency_ms`: it reaches the sink once the clock passes
//! `market_ns + order_latency_ms`, where `market_ns` is when it happened at the venue.
//!
//! # Taker model
//!
//! The book is the last book ticker seen for the instrument: the touch (best price and its
//! size `S`) and, behind it, `depth_touches` synthetic levels, each `S` deep, the `k`-th priced
//! `slippage_bps_per_touch × k` worse than the touch, rounded to the instrument's tick against
//! the taker (up for a buy, down for a sell). A market order, or a limit that crosses when it
//! arrives, walks that ladder: the first `S` at the touch, the next `S` one step worse, and so
//! on, stopping at the limit price, at the end of the ladder, or at a sell level that would be
//! priced at or below 0. Each price level walked is one `Fill` (taker). What a market or IOC
//! order could not fill is `Cancelled`; what a GTC limit could not fill rests at its limit with
//! no queue ahead (it is now the best price). Liquidity taken stays taken until the next book
//! ticker for the instrument, so two orders cannot both eat the same displayed size.
//! A market order with nothing to take is `Rejected(NoLiquidity)`; a post-only order that would
//! cross (a post-only market order always would) is `Rejected(WouldCross)`. "Crosses" is
//! measured against the next untaken ladder price.
//!
//! # Maker model
//!
//! Own resting orders are not in the public book and never trade with each other; only public
//! trades fill them, at their own price, as maker. Each order keeps the public queue ahead of
//! it at its price: the touch size when it arrived if it joined the touch, 0 if it improved
//! the touch, unknown if it arrived behind the touch (it becomes the touch size the first time
//! a book ticker shows its price as the touch, and 0 once the touch is worse than its price). A
//! book ticker showing its price at the touch with less size caps the queue at that size (the
//! people ahead cannot be more than are displayed). A trade then fills resting orders in price
//! then time priority out of the trade's quantity (the sum of the fills never exceeds it):
//! - a trade strictly through an order's price (a buy below a resting buy, either aggressor)
//!   fills it up to the quantity left, and empties its queue;
//! - a trade at the order's price whose aggressor is on the other side (a seller hitting
//!   bids, for a resting buy) first eats the queue ahead; what exceeds the queue ahead, less
//!   what earlier own orders at the same price still hold, fills it.
//!
//! Book tickers never fill a resting order, even one the public book has crossed: only prints
//! do (conservative — the crossing side usually prints through it anyway).
//!
//! # Fees
//!
//! `fee = price × qty × bps / 10⁴`, computed exactly from the raw 10⁻⁸ integers (no notional
//! rounding first) and rounded once, half away from zero, to 10⁻⁸ quote. Maker bps may be
//! negative (a rebate: a negative fee).
//!
//! # Accounting
//!
//! One quote currency across instruments. Money in the [`Account`] is `i128` at 10⁻¹⁶ quote
//! ([`MONEY_SCALE`], the scale of a raw price × quantity), so nothing is ever rounded: cash
//! moves by exactly `−side × price × qty − fee` per fill. Positions carry an average-cost basis;
//! reducing a position realizes `proceeds − released cost`, where the released cost is the
//! basis pro rata (rounded toward zero at 10⁻¹⁶, and exactly the whole basis when the
//! position closes), so `equity == initial cash + realized + unrealized − fees` holds exactly.
//! The mark is the latest of the last trade price and the last book mid (rounded down).
//! Values beyond ±1.7 × 10²² quote saturate instead of wrapping.
//!
//! # Capacity
//!
//! Resting orders, messages on the wire and reports on their way back live in tables sized at
//! [`PaperExchange::new`]. A full resting table rejects an order that could rest (a GTC or
//! post-only limit) with `Rejected(Unavailable)` when it arrives; a full wire rejects an order
//! at once with `Rejected(Unavailable)` (and refuses a cancel with [`WireFull`]). The return
//! wire holds `4 × (resting + in_transit) + 64` reports; when it is full the oldest report is
//! delivered early (counted in [`PaperStats::early_reports`]) rather than lost.
//!
//! # Non-fill reports
//!
//! `Ack`, `Cancelled` and `Rejected` carry price 0, qty 0, fee 0 and `Liquidity::Taker`. A
//! cancel for an order the venue does not hold is answered `Rejected(UnknownOrder)` with the
//! cancel's id and instrument and, since the venue cannot know it, side `Buy`; `UnknownOrder`
//! only ever answers a cancel. A new order whose id is already resting is `Rejected(Other)`, as
//! is one for an instrument outside the table, with a quantity that is not a positive whole
//! number of lots, or a limit price that is not a positive whole number of ticks.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::core::num::{parse_scaled, SCALE};
use crate::core::order::{
    ExecType, Execution, Liquidity, TimeInForce, VenueCancel, VenueOrder, VenueReject,
};
use crate::core::{
    BookTicker, InstrumentId, InstrumentTable, OrderType, Price, Qty, Side, Sink, Trade,
};

#[cfg(test)]
mod tests;

const NS_PER_MS: u64 = 1_000_000;
/// bps at 10⁻⁸ → a fraction: 10⁴ × 10⁸.
const BPS_DENOM: i128 = 10_000 * SCALE as i128;
/// Scale of [`Account`] money: quote currency at 10⁻¹⁶, the scale of a raw price × quantity.
pub const MONEY_SCALE: i128 = SCALE as i128 * SCALE as i128;
const MAX_LATENCY_MS: u64 = 60_000;
const MAX_BPS: i64 = 10_000 * SCALE;
const MAX_DEPTH_TOUCHES: u32 = 1_000;

// ---------------------------------------------------------------- config

/// A decimal at 10⁻⁸ scale, read exactly from a string (`"-0.25"`) or an integer (`3`). A
/// float (`0.25`) is refused: it would not stay exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal8(pub i64);

impl Decimal8 {
    /// A whole number.
    pub const fn units(v: i64) -> Self {
        Self(v * SCALE)
    }
}

impl<'de> Deserialize<'de> for Decimal8 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Decimal8;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"-0.25\", or an integer")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Decimal8, E> {
                parse_scaled(s.trim().as_bytes())
                    .map(Decimal8)
                    .map_err(|e| E::custom(format!("{s:?}: {e}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal8, E> {
                v.checked_mul(SCALE)
                    .map(Decimal8)
                    .ok_or_else(|| E::custom(format!("{v} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal8, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal8, E> {
                Err(E::custom(format!(
                    "{v}: write decimals as strings (\"{v}\") so they stay exact"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// How the paper exchange behaves (TOML table, unknown keys refused). Every field has a
/// default; [`PaperSpec::validate`] checks the ranges.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperSpec {
    /// One-way wire time, ms of market time: an order or cancel reaches the matching engine
    /// this long after it left, and each report comes back as long after it happened.
    /// Default 5; at most 60 000.
    pub order_latency_ms: u64,
    /// Age of the market data the strategy decided on, ms: an order stamped `sent_ns` really
    /// left at `sent_ns + md_latency_ms`. Default 5; at most 60 000.
    pub md_latency_ms: u64,
    /// Maker fee in bps (negative = rebate). Default `"10"` (Binance spot, regular tier);
    /// within ±10 000.
    pub maker_fee_bps: Decimal8,
    /// Taker fee in bps. Default `"10"`; within 0..=10 000.
    pub taker_fee_bps: Decimal8,
    /// How much worse each synthetic level behind the touch is priced, in bps of the touch
    /// price per touch size walked. Default `"1"`; within 0..=10 000.
    pub slippage_bps_per_touch: Decimal8,
    /// Synthetic levels behind the touch, each the touch size deep: a taker can fill at most
    /// `(1 + depth_touches) × touch size` per book ticker. Default 10; at most 1 000.
    pub depth_touches: u32,
    /// Cash at the start, quote currency. Default `"0"`.
    pub initial_cash: Decimal8,
    /// For an instrument that never had a book ticker (trade-only data: Binance trades
    /// CSVs, a trades-only capture), each trade stands for the book: bid = ask = its price,
    /// with unlimited size, so market orders fill at the last trade price (after the
    /// latency). Default true. Applied by the pipeline's venue stage.
    pub book_from_trades: bool,
}

impl Default for PaperSpec {
    fn default() -> Self {
        Self {
            order_latency_ms: 5,
            md_latency_ms: 5,
            maker_fee_bps: Decimal8::units(10),
            taker_fee_bps: Decimal8::units(10),
            slippage_bps_per_touch: Decimal8::units(1),
            depth_touches: 10,
            initial_cash: Decimal8(0),
            book_from_trades: true,
        }
    }
}

/// A paper spec that could not be read or is out of range (cold path).
#[derive(Debug, thiserror::Error)]
pub enum PaperSpecError {
    /// Not valid TOML for a [`PaperSpec`] (unknown key, float decimal, wrong type).
    #[error("paper spec: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value outside its allowed range.
    #[error("paper spec: {field} = {value} is outside {range}")]
    OutOfRange {
        /// The key.
        field: &'static str,
        /// The value as given (10⁻⁸ scaled integers for decimals).
        value: i64,
        /// The allowed range, in words.
        range: &'static str,
    },
}

impl PaperSpec {
    /// Parses a TOML table and validates it.
    pub fn from_toml(text: &str) -> Result<Self, PaperSpecError> {
        let spec: Self = toml::from_str(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every range; [`PaperExchange::new`] calls it.
    pub fn validate(&self) -> Result<(), PaperSpecError> {
        fn check(
            field: &'static str,
            value: i64,
            ok: bool,
            range: &'static str,
        ) -> Result<(), PaperSpecError> {
            if ok {
                Ok(())
            } else {
                Err(PaperSpecError::OutOfRange {
                    field,
                    value,
                    range,
                })
            }
        }
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        check(
            "order_latency_ms",
            ms(self.order_latency_ms),
            self.order_latency_ms <= MAX_LATENCY_MS,
            "0..=60000",
        )?;
        check(
            "md_latency_ms",
            ms(self.md_latency_ms),
            self.md_latency_ms <= MAX_LATENCY_MS,
            "0..=60000",
        )?;
        check(
            "maker_fee_bps",
            self.maker_fee_bps.0,
            (-MAX_BPS..=MAX_BPS).contains(&self.maker_fee_bps.0),
            "-10000..=10000 bps",
        )?;
        check(
            "taker_fee_bps",
            self.taker_fee_bps.0,
            (0..=MAX_BPS).contains(&self.taker_fee_bps.0),
            "0..=10000 bps",
        )?;
        check(
            "slippage_bps_per_touch",
            self.slippage_bps_per_touch.0,
            (0..=MAX_BPS).contains(&self.slippage_bps_per_touch.0),
            "0..=10000 bps",
        )?;
        check(
            "depth_touches",
            i64::from(self.depth_touches),
            self.depth_touches <= MAX_DEPTH_TOUCHES,
            "0..=1000",
        )
    }
}

// ---------------------------------------------------------------- money

/// Fee for a fill, quote at 10⁻⁸: `price × qty × bps / 10⁴` from the exact raw product, rounded
/// once, half away from zero. `bps` is at 10⁻⁸ scale (10 bps = `10 × 10⁸`); a negative `bps` is
/// a rebate. Exact for any price and quantity and |bps| ≤ 10 000; saturates beyond `i64`.
pub fn fee_for(price: Price, qty: Qty, bps: i64) -> i64 {
    // price × qty (10⁻¹⁶) × bps (10⁻⁸) / 10⁴ → 10⁻⁸ quote: divide by 10²⁰, in two pieces so
    // that no step overflows: n = a·10²⁰ + r, fee = a·b + r·b / 10²⁰.
    const D: u128 = 100_000_000_000_000_000_000;
    let negative = (price.0 < 0) ^ (qty.0 < 0) ^ (bps < 0);
    let n = u128::from(price.0.unsigned_abs()) * u128::from(qty.0.unsigned_abs());
    let b = u128::from(bps.unsigned_abs());
    // Below 10⁴ quote of notional `a` is 0: skip a 128-bit division (they cost ~30 ns).
    let (a, r) = if n < D { (0, n) } else { (n / D, n % D) };
    let whole = a.checked_mul(b);
    let part = r.checked_mul(b).map(|rb| {
        let q = rb / D;
        let rem = rb - q * D;
        q + u128::from(rem >= D - rem)
    });
    let mag = match (whole, part) {
        (Some(w), Some(p)) => w.saturating_add(p),
        _ => u128::MAX,
    };
    let mag = i64::try_from(mag).unwrap_or(i64::MAX);
    if negative {
        -mag
    } else {
        mag
    }
}

/// Rounds [`MONEY_SCALE`] money (10⁻¹⁶) to 10⁻⁸, half away from zero, for display.
pub fn money_to_e8(v: i128) -> i128 {
    crate::core::num::round_e16_to_e8(v)
}

/// `a × b / c` toward zero, `c > 0`; if the product would overflow, `a / c × b` (coarser, never
/// wrong in sign).
fn mul_div(a: i128, b: i128, c: i128) -> i128 {
    match a.checked_mul(b) {
        Some(p) => p / c,
        None => (a / c).saturating_mul(b),
    }
}

/// One instrument's position, average-cost basis and PnL. Money at [`MONEY_SCALE`] (10⁻¹⁶).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// Signed base quantity (+ long, − short).
    pub qty: Qty,
    /// Signed cost basis of the open position (Σ side × price × qty of the open part); its
    /// sign follows `qty`.
    pub cost: i128,
    /// Realized PnL before fees.
    pub realized: i128,
    /// Fees paid (negative = net rebate).
    pub fees: i128,
    /// Mark price for unrealized PnL: the latest of the last trade and the last book mid.
    pub mark: Price,
    /// Fills applied.
    pub fills: u64,
}

impl Position {
    /// Average entry price (half away from zero), `None` when flat.
    pub fn avg_entry(&self) -> Option<Price> {
        if self.qty.0 == 0 {
            return None;
        }
        let (c, q) = (
            self.cost.unsigned_abs(),
            u128::from(self.qty.0.unsigned_abs()),
        );
        let avg = c.saturating_add(q / 2) / q;
        Some(Price(i64::try_from(avg).unwrap_or(i64::MAX)))
    }

    /// Value of the position at the mark.
    pub fn market_value(&self) -> i128 {
        i128::from(self.qty.0) * i128::from(self.mark.0)
    }

    /// Unrealized PnL at the mark: market value − cost basis.
    pub fn unrealized(&self) -> i128 {
        self.market_value().saturating_sub(self.cost)
    }
}

/// The paper account: cash, fees and one [`Position`] per instrument. Money at [`MONEY_SCALE`]
/// (10⁻¹⁶ quote), exact. Read it through [`PaperExchange::account`].
#[derive(Debug)]
pub struct Account {
    initial_cash: i128,
    cash: i128,
    fees: i128,
    positions: Box<[Position]>,
}

impl Account {
    /// Cash at the start.
    pub fn initial_cash(&self) -> i128 {
        self.initial_cash
    }

    /// Cash now: initial + Σ (−side × price × qty) − Σ fees.
    pub fn cash(&self) -> i128 {
        self.cash
    }

    /// All fees paid (negative = net rebate).
    pub fn fees(&self) -> i128 {
        self.fees
    }

    /// Every instrument's position, indexed by [`InstrumentId::index`].
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// One instrument's position.
    pub fn position(&self, id: InstrumentId) -> Option<&Position> {
        self.positions.get(id.index())
    }

    /// Σ realized PnL (before fees).
    pub fn realized(&self) -> i128 {
        self.positions
            .iter()
            .fold(0i128, |a, p| a.saturating_add(p.realized))
    }

    /// Σ unrealized PnL at the marks.
    pub fn unrealized(&self) -> i128 {
        self.positions
            .iter()
            .fold(0i128, |a, p| a.saturating_add(p.unrealized()))
    }

    /// Cash + Σ position × mark; equal to initial + realized + unrealized − fees.
    pub fn equity(&self) -> i128 {
        self.positions
            .iter()
            .fold(self.cash, |a, p| a.saturating_add(p.market_value()))
    }

    fn apply(&mut self, idx: usize, side: Side, price: Price, qty: Qty, fee: i64) {
        let s = i128::from(side.sign());
        let px = i128::from(price.0);
        let q = i128::from(qty.0);
        // |price × qty| < 2¹²⁶: no overflow.
        let fee16 = i128::from(fee) * i128::from(SCALE);
        self.cash = self.cash.saturating_sub(s * px * q).saturating_sub(fee16);
        self.fees = self.fees.saturating_add(fee16);
        let Some(p) = self.positions.get_mut(idx) else {
            return;
        };
        p.fees = p.fees.saturating_add(fee16);
        p.fills += 1;
        let mut pos = i128::from(p.qty.0);
        let closing = if pos == 0 || pos.signum() == s {
            0
        } else {
            q.min(pos.abs())
        };
        if closing > 0 {
            let released = if closing == pos.abs() {
                p.cost
            } else {
                mul_div(p.cost, closing, pos.abs())
            };
            // realized += proceeds of the closing part − the basis it releases.
            p.realized = p
                .realized
                .saturating_sub(s * px * closing)
                .saturating_sub(released);
            p.cost = p.cost.saturating_sub(released);
            pos += s * closing;
        }
        let opening = q - closing;
        if opening > 0 {
            p.cost = p.cost.saturating_add(s * px * opening);
            pos += s * opening;
        }
        p.qty = Qty(pos.clamp(i128::from(i64::MIN + 1), i128::from(i64::MAX)) as i64);
    }
}

// ---------------------------------------------------------------- fixed tables

/// A fixed-capacity FIFO of `Copy` values; never allocates after `new`. Its room is
/// reserved, not filled: pages nobody writes are never touched (a backtest's limits reserve
/// tens of megabytes that a run mostly never uses).
struct Fifo<T: Copy> {
    items: std::collections::VecDeque<T>,
    cap: usize,
}

impl<T: Copy> Fifo<T> {
    fn new(cap: usize) -> Self {
        Self {
            items: std::collections::VecDeque::with_capacity(cap.max(1)),
            cap,
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn push(&mut self, v: T) -> Result<(), T> {
        if self.items.len() >= self.cap {
            return Err(v);
        }
        // Within the reserved room: never reallocates.
        self.items.push_back(v);
        Ok(())
    }

    fn front(&self) -> Option<T> {
        self.items.front().copied()
    }

    fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// See [`crate::core::sink::Fifo::prefault`].
    fn prefault(&mut self, fill: T) {
        if self.items.is_empty() {
            self.items.resize(self.items.capacity(), fill);
            self.items.clear();
        }
    }
}

#[derive(Clone, Copy)]
enum Message {
    Order(VenueOrder),
    Cancel(VenueCancel),
}

#[derive(Clone, Copy)]
struct InTransit {
    arrive_ns: u64,
    msg: Message,
}

#[derive(Clone, Copy)]
struct Outgoing {
    due_ns: u64,
    exec: Execution,
}

/// The cancel could not be sent: the wire's in-transit table is full. Hands the cancel back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFull(pub VenueCancel);

/// An order resting at the paper venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Client order id.
    pub client_order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Original quantity.
    pub qty: Qty,
    /// Quantity still working.
    pub leaves: Qty,
    /// Public quantity ahead of it at its price; `None` while unknown (it rests behind the
    /// touch and its level has not been seen).
    pub queue_ahead: Option<Qty>,
    /// Market time it reached the matching engine.
    pub arrived_ns: u64,
    seq: u64,
}

impl RestingOrder {
    /// Sort key: instrument, side, price priority (best first), time priority.
    fn key(&self) -> (u16, u8, i64, u64) {
        let (s, p) = match self.side {
            Side::Buy => (0, -self.price.0),
            Side::Sell => (1, self.price.0),
        };
        (self.instrument.0, s, p, self.seq)
    }
}

fn side_ix(side: Side) -> u8 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// Is `px` worse than `limit` for a taker on `side`?
fn worse(side: Side, px: Price, limit: Price) -> bool {
    match side {
        Side::Buy => px > limit,
        Side::Sell => px < limit,
    }
}

#[derive(Clone, Copy, Default)]
struct Market {
    tick: i64,
    lot: i64,
    bid: Price,
    bid_qty: Qty,
    ask: Price,
    ask_qty: Qty,
    /// Quantity our takers consumed from each side since the last book ticker.
    bid_taken: i128,
    ask_taken: i128,
}

/// Counters, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaperStats {
    /// Orders that reached the matching engine.
    pub orders: u64,
    /// Cancels that reached the matching engine.
    pub cancels: u64,
    /// Fills.
    pub fills: u64,
    /// Orders rejected (any reason, including a full wire).
    pub rejects: u64,
    /// Reports delivered before their latency ran out because the return wire was full.
    pub early_reports: u64,
}

#[derive(Clone, Copy)]
struct OrderRef {
    id: u64,
    instrument: InstrumentId,
    side: Side,
}

impl OrderRef {
    fn of(o: &VenueOrder) -> Self {
        Self {
            id: o.client_order_id,
            instrument: o.intent.instrument,
            side: o.intent.side,
        }
    }

    fn report(self, exec: ExecType, leaves: i64, at: u64) -> Execution {
        Execution {
            client_order_id: self.id,
            instrument: self.instrument,
            side: self.side,
            exec,
            price: Price::ZERO,
            qty: Qty::ZERO,
            leaves: Qty(leaves),
            fee: 0,
            liquidity: Liquidity::Taker,
            market_ns: at,
        }
    }
}

// ---------------------------------------------------------------- the exchange

/// The deterministic paper exchange; see the module docs for the model.
pub struct PaperExchange {
    /// sent → arrival at the matching engine.
    entry_delay_ns: u64,
    /// event at the venue → report at the strategy.
    report_delay_ns: u64,
    maker_bps: i64,
    taker_bps: i64,
    slippage_bps: i64,
    depth: i128,
    markets: Box<[Market]>,
    /// Sorted by [`RestingOrder::key`]; capacity reserved at `new`, never exceeded.
    resting: Vec<RestingOrder>,
    resting_cap: usize,
    wire: Fifo<InTransit>,
    outbox: Fifo<Outgoing>,
    account: Account,
    now: u64,
    last_arrival: u64,
    seq: u64,
    stats: PaperStats,
}

impl PaperExchange {
    /// An exchange for the instruments published in `instruments` now (their ticks and lots
    /// are copied), holding at most `resting` resting orders and `in_transit` orders and
    /// cancels on the wire. Everything it will ever use is allocated here.
    pub fn new(
        spec: &PaperSpec,
        instruments: &InstrumentTable,
        resting: usize,
        in_transit: usize,
    ) -> Result<Self, PaperSpecError> {
        spec.validate()?;
        let markets: Box<[Market]> = (0..instruments.len())
            .map(|i| {
                let inst = instruments.get(InstrumentId(i as u16));
                Market {
                    tick: inst.map_or(0, |x| x.tick),
                    lot: inst.map_or(0, |x| x.lot),
                    ..Market::default()
                }
            })
            .collect();
        let n = markets.len();
        let ms = |v: u64| v.saturating_mul(NS_PER_MS);
        let outbox_cap = resting
            .saturating_add(in_transit)
            .saturating_mul(4)
            .saturating_add(64);
        let initial_cash = i128::from(spec.initial_cash.0) * i128::from(SCALE);
        Ok(Self {
            entry_delay_ns: ms(spec.md_latency_ms).saturating_add(ms(spec.order_latency_ms)),
            report_delay_ns: ms(spec.order_latency_ms),
            maker_bps: spec.maker_fee_bps.0,
            taker_bps: spec.taker_fee_bps.0,
            slippage_bps: spec.slippage_bps_per_touch.0,
            depth: i128::from(spec.depth_touches),
            markets,
            resting: Vec::with_capacity(resting),
            resting_cap: resting,
            wire: Fifo::new(in_transit),
            outbox: Fifo::new(outbox_cap),
            account: Account {
                initial_cash,
                cash: initial_cash,
                fees: 0,
                positions: vec![Position::default(); n].into_boxed_slice(),
            },
            now: 0,
            last_arrival: 0,
            seq: 0,
            stats: PaperStats::default(),
        })
    }

    /// The exchange clock (market ns).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The account, read-only.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Orders resting now, in instrument, side, price and time priority.
    pub fn resting(&self) -> &[RestingOrder] {
        &self.resting
    }

    /// Writes the wire and outbox queues through (see [`crate::core::sink::Fifo::prefault`]).
    pub fn prefault(&mut self) {
        let blank = VenueCancel {
            client_order_id: 0,
            instrument: InstrumentId(0),
            sent_ns: 0,
        };
        self.wire.prefault(InTransit {
            arrive_ns: 0,
            msg: Message::Cancel(blank),
        });
        self.outbox.prefault(Outgoing {
            due_ns: 0,
            exec: Execution::BLANK,
        });
    }

    /// Orders and cancels on the wire, not yet at the matching engine.
    pub fn in_transit(&self) -> usize {
        self.wire.len()
    }

    /// Reports on their way back, not yet delivered.
    pub fn reports_in_flight(&self) -> usize {
        self.outbox.len()
    }

    /// Counters.
    pub fn stats(&self) -> PaperStats {
        self.stats
    }

    /// Sends an order. It reaches the matching engine after the latency; if the wire is full
    /// it is rejected at once with `Rejected(Unavailable)`.
    pub fn submit(&mut self, order: &VenueOrder, out: &mut impl Sink<Execution>) {
        let arrive = self.arrival(order.sent_ns);
        if arrive <= self.now && self.wire.len() == 0 {
            // No latency and nothing ahead of it on the wire: match it now.
            self.last_arrival = arrive;
            self.arrive_order(order, arrive, out);
            return self.flush(out);
        }
        let msg = InTransit {
            arrive_ns: arrive,
            msg: Message::Order(*order),
        };
        if self.wire.push(msg).is_err() {
            self.stats.rejects += 1;
            out.emit(OrderRef::of(order).report(
                ExecType::Rejected(VenueReject::Unavailable),
                0,
                self.now,
            ));
            return;
        }
        self.last_arrival = arrive;
        self.advance(self.now, out);
    }

    /// Sends a cancel, answered after the latency (`Cancelled`, or `Rejected(UnknownOrder)`
    /// if the order is not resting when it arrives). A full wire refuses it: nothing is sent
    /// and the cancel comes back in the error.
    pub fn cancel(
        &mut self,
        cancel: &VenueCancel,
        out: &mut impl Sink<Execution>,
    ) -> Result<(), WireFull> {
        let arrive = self.arrival(cancel.sent_ns);
        if arrive <= self.now && self.wire.len() == 0 {
            self.last_arrival = arrive;
            self.arrive_cancel(cancel, arrive, out);
            self.flush(out);
            return Ok(());
        }
        let msg = InTransit {
            arrive_ns: arrive,
            msg: Message::Cancel(*cancel),
        };
        if self.wire.push(msg).is_err() {
            return Err(WireFull(*cancel));
        }
        self.last_arrival = arrive;
        self.advance(self.now, out);
        Ok(())
    }

    /// Moves the clock to `now_ns` (if later): orders and cancels that arrived by then are
    /// matched, reports due by then are delivered.
    pub fn on_time(&mut self, now_ns: u64, out: &mut impl Sink<Execution>) {
        self.advance(now_ns, out);
    }

    /// A new top of book. Orders that arrived before it are matched first, against the book
    /// it replaces.
    pub fn on_book_ticker(&mut self, b: &BookTicker, out: &mut impl Sink<Execution>) {
        let t = if b.event_ns == 0 {
            self.now
        } else {
            b.event_ns
        };
        self.advance(t, out);
        let idx = b.instrument.index();
        let Some(m) = self.markets.get_mut(idx) else {
            return;
        };
        m.bid = b.bid_px;
        m.bid_qty = b.bid_qty;
        m.ask = b.ask_px;
        m.ask_qty = b.ask_qty;
        m.bid_taken = 0;
        m.ask_taken = 0;
        let bid_live = b.bid_px.0 > 0 && b.bid_qty.0 > 0;
        let ask_live = b.ask_px.0 > 0 && b.ask_qty.0 > 0;
        if bid_live && ask_live {
            let mid = (i128::from(b.bid_px.0) + i128::from(b.ask_px.0)) / 2;
            if let Some(p) = self.account.positions.get_mut(idx) {
                p.mark = Price(mid as i64);
            }
        }
        // Queues: the people ahead are at most the displayed size; a touch worse than the
        // order's price means nobody is ahead any more.
        for (side, px, qty, live) in [
            (Side::Buy, b.bid_px, b.bid_qty, bid_live),
            (Side::Sell, b.ask_px, b.ask_qty, ask_live),
        ] {
            let (lo, hi) = self.range(b.instrument, side);
            for r in &mut self.resting[lo..hi] {
                // `worse` for a taker on `side` is better for a maker there: the touch is
                // behind the order.
                if !live || worse(side, r.price, px) {
                    r.queue_ahead = Some(Qty::ZERO);
                } else if r.price == px {
                    let cap = qty.0.max(0);
                    r.queue_ahead = Some(Qty(r.queue_ahead.map_or(cap, |a| a.0.min(cap))));
                }
            }
        }
    }

    /// A trade that also stands for the book (trade-only data): exactly
    /// [`PaperExchange::on_book_ticker`] with bid = ask = its price and `depth` on each side,
    /// then [`PaperExchange::on_trade`]. With nothing on the wire, nothing resting and no
    /// report waiting (most trades of a backtest) that is only a new clock, book and mark,
    /// done here without the matching passes.
    pub fn on_trade_as_book(&mut self, t: &Trade, depth: Qty, out: &mut impl Sink<Execution>) {
        let idx = t.instrument.index();
        let quiet = self.wire.len() == 0 && self.outbox.len() == 0 && self.resting.is_empty();
        if !quiet || idx >= self.markets.len() || t.price.0 <= 0 || t.qty.0 <= 0 {
            let book = BookTicker {
                instrument: t.instrument,
                update_id: t.trade_id,
                bid_px: t.price,
                bid_qty: depth,
                ask_px: t.price,
                ask_qty: depth,
                event_ns: 0,
                source: t.source,
            };
            self.on_book_ticker(&book, out);
            return self.on_trade(t, out);
        }
        let at = match (t.trade_ns, t.event_ns) {
            (0, 0) => self.now,
            (0, e) => e,
            (tn, _) => tn,
        };
        self.now = self.now.max(at);
        let m = &mut self.markets[idx];
        (m.bid, m.bid_qty, m.ask, m.ask_qty) = (t.price, depth, t.price, depth);
        (m.bid_taken, m.ask_taken) = (0, 0);
        if let Some(p) = self.account.positions.get_mut(idx) {
            p.mark = t.price;
        }
    }

    /// A public trade: orders that arrived before it are matched first; then it fills resting
    /// orders it prints through or whose queue it clears.
    pub fn on_trade(&mut self, t: &Trade, out: &mut impl Sink<Execution>) {
        let at = match (t.trade_ns, t.event_ns) {
            (0, 0) => self.now,
            (0, e) => e,
            (tn, _) => tn,
        };
        self.advance(at, out);
        let at = self.now;
        let idx = t.instrument.index();
        if idx >= self.markets.len() || t.price.0 <= 0 || t.qty.0 <= 0 {
            return;
        }
        if let Some(p) = self.account.positions.get_mut(idx) {
            p.mark = t.price;
        }
        let aggressor = t.aggressor();
        let (rem, buys_done) =
            self.match_side(t, Side::Buy, aggressor == Side::Sell, t.qty.0, at, out);
        let (_, sells_done) = self.match_side(t, Side::Sell, aggressor == Side::Buy, rem, at, out);
        if buys_done || sells_done {
            self.resting.retain(|r| r.leaves.0 > 0);
        }
        self.flush(out);
    }

    // ------------------------------------------------------------ internals

    fn arrival(&self, sent_ns: u64) -> u64 {
        sent_ns
            .saturating_add(self.entry_delay_ns)
            .max(self.now)
            .max(self.last_arrival)
    }

    fn advance(&mut self, t: u64, out: &mut impl Sink<Execution>) {
        self.now = self.now.max(t);
        while let Some(m) = self.wire.front() {
            if m.arrive_ns > self.now {
                break;
            }
            self.wire.pop();
            match m.msg {
                Message::Order(o) => self.arrive_order(&o, m.arrive_ns, out),
                Message::Cancel(c) => self.arrive_cancel(&c, m.arrive_ns, out),
            }
        }
        self.flush(out);
    }

    fn flush(&mut self, out: &mut impl Sink<Execution>) {
        while let Some(r) = self.outbox.front() {
            if r.due_ns > self.now {
                break;
            }
            self.outbox.pop();
            out.emit(r.exec);
        }
    }

    fn report(&mut self, exec: Execution, out: &mut impl Sink<Execution>) {
        let due_ns = exec.market_ns.saturating_add(self.report_delay_ns);
        if due_ns <= self.now && self.outbox.len() == 0 {
            // Due already and nothing ahead of it: the same order as queueing it, cheaper.
            out.emit(exec);
            return;
        }
        let item = Outgoing { due_ns, exec };
        if let Err(item) = self.outbox.push(item) {
            // Full: deliver the oldest early rather than lose anything.
            if let Some(old) = self.outbox.pop() {
                self.stats.early_reports += 1;
                out.emit(old.exec);
            }
            if let Err(item) = self.outbox.push(item) {
                out.emit(item.exec);
            }
        }
    }

    fn reject(&mut self, o: OrderRef, why: VenueReject, at: u64, out: &mut impl Sink<Execution>) {
        self.stats.rejects += 1;
        self.report(o.report(ExecType::Rejected(why), 0, at), out);
    }

    /// Range of `resting` holding `instrument`'s orders on `side`.
    fn range(&self, instrument: InstrumentId, side: Side) -> (usize, usize) {
        let k = (instrument.0, side_ix(side));
        let lo = self
            .resting
            .partition_point(|r| (r.instrument.0, side_ix(r.side)) < k);
        let hi =
            lo + self.resting[lo..].partition_point(|r| (r.instrument.0, side_ix(r.side)) == k);
        (lo, hi)
    }

    /// Price of ladder level `k` behind a touch at `p0` for a taker on `side`, or `None` past
    /// the end of prices.
    fn level_price(&self, p0: Price, k: i128, side: Side, tick: i64) -> Option<Price> {
        if k == 0 {
            return Some(p0);
        }
        let raw = i128::from(p0.0) * k * i128::from(self.slippage_bps);
        let off = (raw + BPS_DENOM - 1) / BPS_DENOM;
        let tick = i128::from(tick.max(1));
        let off = (off + tick - 1) / tick * tick;
        let px = match side {
            Side::Buy => i128::from(p0.0) + off,
            Side::Sell => i128::from(p0.0) - off,
        };
        i64::try_from(px).ok().filter(|&p| p > 0).map(Price)
    }

    /// The next untaken ladder level for a taker on `side`: its price and the room left in it.
    fn next_level(&self, idx: usize, side: Side) -> Option<(Price, i64)> {
        let m = self.markets.get(idx)?;
        let (p0, s, taken) = match side {
            Side::Buy => (m.ask, m.ask_qty.0, m.ask_taken),
            Side::Sell => (m.bid, m.bid_qty.0, m.bid_taken),
        };
        if p0.0 <= 0 || s <= 0 {
            return None;
        }
        let s = i128::from(s);
        if taken < s {
            // Still at the touch: the usual case, without a 128-bit division.
            return Some((p0, (s - taken) as i64));
        }
        let k = taken / s;
        if k > self.depth {
            return None;
        }
        let px = self.level_price(p0, k, side, m.tick)?;
        Some((px, (s - taken % s) as i64))
    }

    fn arrive_order(&mut self, o: &VenueOrder, at: u64, out: &mut impl Sink<Execution>) {
        self.stats.orders += 1;
        let who = OrderRef::of(o);
        let i = o.intent;
        let idx = i.instrument.index();
        let Some(m) = self.markets.get(idx).copied() else {
            return self.reject(who, VenueReject::Other, at, out);
        };
        if i.qty.0 <= 0
            || (m.lot > 0 && i.qty.0 % m.lot != 0)
            || self
                .resting
                .iter()
                .any(|r| r.client_order_id == o.client_order_id)
        {
            return self.reject(who, VenueReject::Other, at, out);
        }
        match i.order_type {
            OrderType::Market => {
                if i.tif == TimeInForce::PostOnly {
                    return self.reject(who, VenueReject::WouldCross, at, out);
                }
                if self.next_level(idx, i.side).is_none() {
                    return self.reject(who, VenueReject::NoLiquidity, at, out);
                }
                self.report(who.report(ExecType::Ack, i.qty.0, at), out);
                let leaves = self.take(who, i.qty.0, None, at, out);
                if leaves > 0 {
                    self.report(who.report(ExecType::Cancelled, 0, at), out);
                }
            }
            OrderType::Limit => {
                if i.price.0 <= 0 || (m.tick > 0 && i.price.0 % m.tick != 0) {
                    return self.reject(who, VenueReject::Other, at, out);
                }
                let crosses = self
                    .next_level(idx, i.side)
                    .is_some_and(|(px, _)| !worse(i.side, px, i.price));
                if crosses && i.tif == TimeInForce::PostOnly {
                    return self.reject(who, VenueReject::WouldCross, at, out);
                }
                if i.tif != TimeInForce::Ioc && self.resting.len() >= self.resting_cap {
                    return self.reject(who, VenueReject::Unavailable, at, out);
                }
                self.report(who.report(ExecType::Ack, i.qty.0, at), out);
                let leaves = if crosses {
                    self.take(who, i.qty.0, Some(i.price), at, out)
                } else {
                    i.qty.0
                };
                if leaves == 0 {
                    return;
                }
                if i.tif == TimeInForce::Ioc {
                    return self.report(who.report(ExecType::Cancelled, 0, at), out);
                }
                let queue_ahead = if crosses {
                    Some(Qty::ZERO)
                } else {
                    Self::queue_on_arrival(&m, i.side, i.price)
                };
                self.seq += 1;
                let r = RestingOrder {
                    client_order_id: o.client_order_id,
                    instrument: i.instrument,
                    side: i.side,
                    price: i.price,
                    qty: i.qty,
                    leaves: Qty(leaves),
                    queue_ahead,
                    arrived_ns: at,
                    seq: self.seq,
                };
                let key = r.key();
                let pos = self.resting.partition_point(|x| x.key() < key);
                // len < resting_cap ≤ capacity (checked above): no reallocation.
                self.resting.insert(pos, r);
            }
        }
    }

    /// Public quantity ahead of a new resting order: the touch size (less what our own takers
    /// took from it) if it joins the touch, 0 if it improves it or that side is empty,
    /// unknown if it is behind the touch.
    fn queue_on_arrival(m: &Market, side: Side, price: Price) -> Option<Qty> {
        let (touch, size, taken) = match side {
            Side::Buy => (m.bid, m.bid_qty.0, m.bid_taken),
            Side::Sell => (m.ask, m.ask_qty.0, m.ask_taken),
        };
        if touch.0 <= 0 || size <= 0 || worse(side, price, touch) {
            // `worse` for a taker on `side` = better for a maker on `side`: it improves.
            Some(Qty::ZERO)
        } else if price == touch {
            Some(Qty((i128::from(size) - taken).max(0) as i64))
        } else {
            None
        }
    }

    /// Walks the ladder for a taker; returns the quantity left.
    fn take(
        &mut self,
        who: OrderRef,
        qty: i64,
        limit: Option<Price>,
        at: u64,
        out: &mut impl Sink<Execution>,
    ) -> i64 {
        let idx = who.instrument.index();
        let mut leaves = qty;
        let (mut run_px, mut run_qty) = (Price::ZERO, 0i64);
        while leaves > 0 {
            let Some((px, room)) = self.next_level(idx, who.side) else {
                break;
            };
            if limit.is_some_and(|l| worse(who.side, px, l)) {
                break;
            }
            if run_qty > 0 && px != run_px {
                self.fill(who, run_px, run_qty, leaves, Liquidity::Taker, at, out);
                run_qty = 0;
            }
            let q = leaves.min(room);
            if let Some(m) = self.markets.get_mut(idx) {
                match who.side {
                    Side::Buy => m.ask_taken += i128::from(q),
                    Side::Sell => m.bid_taken += i128::from(q),
                }
            }
            leaves -= q;
            run_px = px;
            run_qty += q;
        }
        if run_qty > 0 {
            self.fill(who, run_px, run_qty, leaves, Liquidity::Taker, at, out);
        }
        leaves
    }

    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        who: OrderRef,
        price: Price,
        qty: i64,
        leaves: i64,
        liquidity: Liquidity,
        at: u64,
        out: &mut impl Sink<Execution>,
    ) {
        let bps = match liquidity {
            Liquidity::Maker => self.maker_bps,
            Liquidity::Taker => self.taker_bps,
        };
        let fee = fee_for(price, Qty(qty), bps);
        self.account
            .apply(who.instrument.index(), who.side, price, Qty(qty), fee);
        self.stats.fills += 1;
        let mut e = who.report(ExecType::Fill, leaves, at);
        e.price = price;
        e.qty = Qty(qty);
        e.fee = fee;
        e.liquidity = liquidity;
        self.report(e, out);
    }

    /// Fills `side`'s resting orders from trade `t`, out of a budget of `rem`; returns what
    /// is left of the budget and whether an order finished. `queue_counts`: the trade's aggressor is on the other side, so
    /// its volume at an order's price works through that order's queue.
    fn match_side(
        &mut self,
        t: &Trade,
        side: Side,
        queue_counts: bool,
        mut rem: i64,
        at: u64,
        out: &mut impl Sink<Execution>,
    ) -> (i64, bool) {
        let (lo, hi) = self.range(t.instrument, side);
        let mut finished = false;
        let v = i128::from(t.qty.0);
        // Leaves (before this trade) of own orders at the trade price ahead of the current one.
        let mut own_ahead: i128 = 0;
        for i in lo..hi {
            let r = self.resting[i];
            // A print through a resting buy is below its price: the order's price is "worse"
            // (higher) than the print, seen from a buying taker.
            let through = worse(side, r.price, t.price);
            if !through && r.price != t.price {
                break; // sorted best first: every later order is behind the print
            }
            let fill = if through {
                self.resting[i].queue_ahead = Some(Qty::ZERO);
                r.leaves.0.min(rem)
            } else if queue_counts {
                let f = match r.queue_ahead {
                    Some(a) => {
                        let excess = v - i128::from(a.0) - own_ahead;
                        excess.clamp(0, i128::from(r.leaves.0.min(rem))) as i64
                    }
                    None => 0,
                };
                own_ahead += i128::from(r.leaves.0);
                if let Some(a) = r.queue_ahead {
                    self.resting[i].queue_ahead = Some(Qty((a.0 - t.qty.0).max(0)));
                }
                f
            } else {
                0
            };
            if fill > 0 {
                rem -= fill;
                let leaves = r.leaves.0 - fill;
                self.resting[i].leaves = Qty(leaves);
                finished |= leaves == 0;
                let who = OrderRef {
                    id: r.client_order_id,
                    instrument: r.instrument,
                    side,
                };
                self.fill(who, r.price, fill, leaves, Liquidity::Maker, at, out);
            }
        }
        (rem, finished)
    }

    fn arrive_cancel(&mut self, c: &VenueCancel, at: u64, out: &mut impl Sink<Execution>) {
        self.stats.cancels += 1;
        let found = self
            .resting
            .iter()
            .position(|r| r.client_order_id == c.client_order_id && r.instrument == c.instrument);
        match found {
            Some(i) => {
                let r = self.resting.remove(i);
                let who = OrderRef {
                    id: r.client_order_id,
                    instrument: r.instrument,
                    side: r.side,
                };
                self.report(who.report(ExecType::Cancelled, 0, at), out);
            }
            None => {
                let who = OrderRef {
                    id: c.client_order_id,
                    instrument: c.instrument,
                    side: Side::Buy,
                };
                self.report(
                    who.report(ExecType::Rejected(VenueReject::UnknownOrder), 0, at),
                    out,
                );
            }
        }
    }
}
