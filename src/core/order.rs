//! The trading vocabulary shared by strategies, the risk engine, the blotter and the
//! venues: what a strategy asks for ([`OrderIntent`]), what the risk engine answers
//! ([`Verdict`]), what goes to a venue ([`VenueOrder`], [`VenueCancel`]) and what comes back
//! ([`Execution`]). Every type is `Copy` and fixed-size, so it can travel a ring.
//!
//! Money is exact: prices and quantities are 10⁻⁸ scaled integers ([`Price`], [`Qty`]); fees
//! and cash are 10⁻⁸ quote units in `i64`/`i128`.

use super::event::{OrderType, Side};
use super::instrument::InstrumentId;
use super::num::{push_scaled, Price, Qty};

/// Why an order exists. Opening orders increase exposure; everything else reduces it, and
/// stays allowed when the kill switch refuses new risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A strategy entry: adds to (or opens) a position.
    Open,
    /// A strategy exit: reduces the position.
    Close,
    /// Exit on the position's stop-loss.
    StopLoss,
    /// Exit on the position's take-profit.
    TakeProfit,
    /// Exit on the position's trailing stop.
    TrailingStop,
    /// The kill switch flattening the book.
    Flatten,
}

impl Purpose {
    /// Does it add risk (refused while the kill switch is on)?
    pub fn is_opening(self) -> bool {
        self == Purpose::Open
    }

    /// Snake-case name for CSV and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Open => "open",
            Purpose::Close => "close",
            Purpose::StopLoss => "stop_loss",
            Purpose::TakeProfit => "take_profit",
            Purpose::TrailingStop => "trailing_stop",
            Purpose::Flatten => "flatten",
        }
    }
}

/// How long an order lives at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Until filled or cancelled.
    Gtc,
    /// Fill what crosses now, cancel the rest.
    Ioc,
    /// Rest only: rejected if it would cross (maker only).
    PostOnly,
}

/// What a strategy (or the risk engine's own exits) asks for. The risk engine decides; the
/// blotter turns an accepted intent into a [`VenueOrder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderIntent {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy index in the run's strategy list (`u8::MAX` = the risk engine itself).
    pub strategy: u8,
    /// Side.
    pub side: Side,
    /// Market or limit.
    pub order_type: OrderType,
    /// Limit price; for a market order, the price the decision was made at (the risk
    /// engine's price band and notional checks use it).
    pub price: Price,
    /// Quantity, already a whole number of lots.
    pub qty: Qty,
    /// Lifetime at the venue.
    pub tif: TimeInForce,
    /// Why.
    pub purpose: Purpose,
    /// Market time of the decision.
    pub decided_ns: u64,
}

/// Which risk limit refused an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RiskRule {
    /// Position per instrument.
    MaxPosition,
    /// Gross exposure (Σ |position value|).
    MaxGrossExposure,
    /// Net exposure (|Σ position value|).
    MaxNetExposure,
    /// Notional of one order.
    MaxOrderNotional,
    /// Quantity of one order.
    MaxOrderQty,
    /// Limit price too far from the last trade (fat finger).
    PriceBand,
    /// Orders per second.
    OrderRate,
    /// Open orders.
    MaxOpenOrders,
    /// Daily loss limit (kill switch).
    DailyLoss,
    /// Drawdown from the equity peak (kill switch).
    MaxDrawdown,
    /// The kill switch is on: no new risk.
    KillSwitch,
    /// No last trade price yet for the instrument.
    NoMarket,
    /// Below the instrument's lot size or minimum notional.
    MinSize,
    /// The health monitor is throttling: no new risk until the breach clears.
    Throttled,
}

impl RiskRule {
    /// Snake-case name for CSV and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskRule::MaxPosition => "max_position",
            RiskRule::MaxGrossExposure => "max_gross_exposure",
            RiskRule::MaxNetExposure => "max_net_exposure",
            RiskRule::MaxOrderNotional => "max_order_notional",
            RiskRule::MaxOrderQty => "max_order_qty",
            RiskRule::PriceBand => "price_band",
            RiskRule::OrderRate => "order_rate",
            RiskRule::MaxOpenOrders => "max_open_orders",
            RiskRule::DailyLoss => "daily_loss",
            RiskRule::MaxDrawdown => "max_drawdown",
            RiskRule::KillSwitch => "kill_switch",
            RiskRule::NoMarket => "no_market",
            RiskRule::MinSize => "min_size",
            RiskRule::Throttled => "throttled",
        }
    }
}

/// The risk engine's answer, with the numbers that decided it (10⁻⁸ scaled where money).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Accept,
    /// Refused: `limit` is the configured bound, `value` what the order would have made it.
    Reject {
        /// The rule.
        rule: RiskRule,
        /// The limit.
        limit: i64,
        /// The value that breached it.
        value: i64,
    },
}

/// An order on its way to a venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueOrder {
    /// Client order id: unique within a run, assigned in decision order (deterministic), and
    /// never reused, so a resend after a crash or a retry is recognisable.
    pub client_order_id: u64,
    /// What was accepted.
    pub intent: OrderIntent,
    /// Market time it was sent.
    pub sent_ns: u64,
}

/// A cancel on its way to a venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueCancel {
    /// The order to cancel.
    pub client_order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Market time it was sent.
    pub sent_ns: u64,
}

/// Whether a fill added or took liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    /// Rested in the book and was hit.
    Maker,
    /// Crossed the book.
    Taker,
}

impl Liquidity {
    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Liquidity::Maker => "maker",
            Liquidity::Taker => "taker",
        }
    }
}

/// Why a venue refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VenueReject {
    /// Nothing to trade against (a market order into an empty side).
    NoLiquidity,
    /// A post-only order would have crossed.
    WouldCross,
    /// Unknown order (a cancel for an order the venue does not have).
    UnknownOrder,
    /// The venue is unavailable or throttling.
    Unavailable,
    /// Anything else the venue said no to.
    Other,
}

impl VenueReject {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            VenueReject::NoLiquidity => "no_liquidity",
            VenueReject::WouldCross => "would_cross",
            VenueReject::UnknownOrder => "unknown_order",
            VenueReject::Unavailable => "unavailable",
            VenueReject::Other => "other",
        }
    }
}

/// What happened to an order at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecType {
    /// Accepted and working.
    Ack,
    /// (Part) filled: `Execution::qty` at `Execution::price`.
    Fill,
    /// Cancelled (on request, or the unfilled rest of an IOC).
    Cancelled,
    /// Refused.
    Rejected(VenueReject),
    /// Expired (its time in force ran out).
    Expired,
}

/// A venue's report on one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The order's client id.
    pub client_order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// What happened.
    pub exec: ExecType,
    /// Fill price (fills only).
    pub price: Price,
    /// This fill's quantity (fills only).
    pub qty: Qty,
    /// Quantity still working after this report.
    pub leaves: Qty,
    /// Fee for this fill, quote currency at 10⁻⁸ (negative = rebate).
    pub fee: i64,
    /// Maker or taker (fills only).
    pub liquidity: Liquidity,
    /// Market time at the venue.
    pub market_ns: u64,
}

impl Execution {
    /// A placeholder value (for writing buffers through at build; never reported).
    pub const BLANK: Execution = Execution {
        client_order_id: 0,
        instrument: InstrumentId(0),
        side: Side::Buy,
        exec: ExecType::Ack,
        price: Price::ZERO,
        qty: Qty::ZERO,
        leaves: Qty::ZERO,
        fee: 0,
        liquidity: Liquidity::Taker,
        market_ns: 0,
    };
}

/// An order for venue number `venue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routed {
    /// Venue index (0 = primary by default).
    pub venue: u8,
    /// The order.
    pub order: VenueOrder,
}

/// A cancel for venue number `venue` (always the venue the order went to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutedCancel {
    /// Venue index.
    pub venue: u8,
    /// The cancel.
    pub cancel: VenueCancel,
}

/// Where an order is in its life. Names match the `status` column of `orders.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Created, not yet sent (a retry waiting out its backoff).
    New,
    /// Sent, nothing back yet.
    Sent,
    /// Working at the venue, nothing filled.
    Acked,
    /// Working at the venue, part filled.
    PartiallyFilled,
    /// Completely filled (terminal).
    Filled,
    /// Cancelled, by us or the venue, with part or none filled (terminal).
    Cancelled,
    /// Refused by the venue (terminal).
    Rejected,
    /// Its time in force ran out (terminal).
    Expired,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::New,
        OrderStatus::Sent,
        OrderStatus::Acked,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::Expired,
    ];

    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::Sent => "sent",
            OrderStatus::Acked => "acked",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }

    /// No report can move it any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }

    /// Is `self → to` an edge of the state machine? (`PartiallyFilled → PartiallyFilled` is:
    /// a further partial fill.)
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (New, Sent | Cancelled)
                | (
                    Sent,
                    Acked | PartiallyFilled | Filled | Cancelled | Rejected | Expired
                )
                | (
                    Acked | PartiallyFilled,
                    PartiallyFilled | Filled | Cancelled | Expired
                )
        )
    }
}

/// Why a transition happened (the `reason` column of `orders.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `submit`: New → Sent.
    Submit,
    /// A retry after `Rejected(Unavailable)` leaving its backoff: New → Sent.
    Retry,
    /// Sent to the backup venue after the primary's retries ran out.
    Backup,
    /// Cancelled to reprice, and the replacement's New → Sent.
    Reprice,
    /// Cancelled to go to market, and the market replacement's New → Sent.
    ToMarket,
    /// The venue acked.
    Ack,
    /// A fill.
    Fill,
    /// Cancelled on [`Blotter::cancel`] (or withdrawn before it was sent).
    Cancel,
    /// Cancelled after no ack came within the timeout.
    AckTimeout,
    /// Cancelled by the `cancel` fallback (or a reprice chain at its limit).
    FallbackCancel,
    /// Cancelled by the venue unasked (the rest of an IOC, a venue-side cancel).
    VenueCancel,
    /// Expired at the venue.
    Expired,
    /// A final venue reject.
    Rejected(VenueReject),
    /// `Rejected(Unavailable)`: a retry is scheduled.
    RetryScheduled,
    /// `Rejected(Unavailable)`: retries spent, re-sent to the backup venue.
    RoutedToBackup,
    /// `Rejected(Unavailable)`: retries spent and nowhere else to go.
    GaveUp,
}

impl Reason {
    /// Snake-case name for CSV and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Submit => "submit",
            Reason::Retry => "retry",
            Reason::Backup => "backup",
            Reason::Reprice => "reprice",
            Reason::ToMarket => "to_market",
            Reason::Ack => "ack",
            Reason::Fill => "fill",
            Reason::Cancel => "cancel",
            Reason::AckTimeout => "ack_timeout",
            Reason::FallbackCancel => "fallback_cancel",
            Reason::VenueCancel => "venue_cancel",
            Reason::Expired => "expired",
            Reason::Rejected(r) => r.as_str(),
            Reason::RetryScheduled => "retry_scheduled",
            Reason::RoutedToBackup => "routed_to_backup",
            Reason::GaveUp => "gave_up",
        }
    }
}

/// One state change, for the journal. Every transition is emitted exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderTransition {
    /// The order.
    pub client_order_id: u64,
    /// The order this one retries or replaces (0: none).
    pub parent: u64,
    /// Venue index it was routed to.
    pub venue: u8,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Market or limit.
    pub order_type: OrderType,
    /// Limit price (market orders: the decision price).
    pub price: Price,
    /// Ordered quantity.
    pub qty: Qty,
    /// Cumulative filled quantity after the transition.
    pub filled: Qty,
    /// State before.
    pub from: OrderStatus,
    /// State after.
    pub to: OrderStatus,
    /// Why.
    pub reason: Reason,
    /// Market time of the call that caused it (its `now_ns`).
    pub market_ns: u64,
}

impl OrderTransition {
    /// Header of `orders.csv`.
    pub const CSV_HEADER: &'static str =
        "ts,client_order_id,instrument,side,type,price,qty,status,reason";

    /// Appends one `orders.csv` row (with its newline); `instrument` is the symbol. Cold side
    /// only: it may grow `out`.
    pub fn write_csv(&self, instrument: &str, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(
            out,
            "{},{},{},{},{},",
            self.market_ns,
            self.client_order_id,
            instrument,
            self.side.as_str(),
            self.order_type.as_str()
        );
        push_scaled(out, self.price.0, 0);
        out.push(',');
        push_scaled(out, self.qty.0, 0);
        out.push(',');
        out.push_str(self.to.as_str());
        out.push(',');
        out.push_str(self.reason.as_str());
        out.push('\n');
    }
}

/// A fill read back from the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournaledFill {
    /// Lane.
    pub lane: usize,
    /// Instrument.
    pub instrument: super::InstrumentId,
    /// Side.
    pub side: super::Side,
    /// Price (10⁻⁸).
    pub price: super::Price,
    /// Quantity (10⁻⁸).
    pub qty: super::Qty,
    /// Fee, quote at 10⁻⁸.
    pub fee: i64,
}
