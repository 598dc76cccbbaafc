//! The order lifecycle: client ids, a checked state machine, timeouts and fallbacks, and a
//! journal of every transition.
//!
//! [`Blotter`] owns every order from the moment an accepted [`OrderIntent`] is submitted
//! until the venue says it is done. It is driven by plain calls (`submit`, `cancel`,
//! `on_execution`, `on_quote`, `on_timer`) that take the market time and a [`Sink`] of
//! [`OrderEvent`]s: orders and cancels for the venue ([`Routed`], [`RoutedCancel`]) and one
//! [`OrderTransition`] per state change for the cold side's `orders.csv` and `journal.md`. It
//! never reads a clock, never blocks and never allocates after [`Blotter::new`]: the
//! order table, the free list, the per-instrument counters and the quotes are sized there.
//! It never panics on any report: a report that does not fit is refused with a [`Refusal`],
//! counted, and leaves every order as it was. It must never import another stage. (A blotter
//! is the trading desk's word for the record of every order and its state.)
//!
//! # States
//!
//! ```text
//!  New ──► Sent ──► Acked ──► PartiallyFilled ──┐
//!   │       │         │         │     ▲         │ another part fill
//!   │       │         │         │     └─────────┘
//!   │       │         └─────────┴──► Filled | Cancelled | Expired
//!   │       ├──► PartiallyFilled | Filled   (a fill before the ack implies the ack)
//!   │       └──► Cancelled | Rejected | Expired
//!   └──► Cancelled                          (a waiting retry withdrawn, never sent)
//! ```
//!
//! `Filled`, `Cancelled`, `Rejected` and `Expired` are terminal. [`OrderStatus::can_move_to`]
//! is the whole edge list. `New` is visible only for a retry waiting out its backoff;
//! `submit` goes straight to `Sent`.
//!
//! # Which reports are accepted (idempotency)
//!
//! * The venue's cumulative fill is the truth: for a `Fill`, `cumulative = qty − leaves` (so a
//!   venue must report the rest of an IOC as a separate `Cancelled`, not by zeroing `leaves`
//!   on the fill). A fill whose cumulative is not above what is already applied is a
//!   [`Refusal::Duplicate`]; so a fill applied twice, or an older fill arriving after a newer
//!   one, changes nothing. A newer cumulative is applied whole (a missed fill in between is
//!   counted in [`OrderCounters::fill_gaps`]; [`Applied::fill`] is the quantity that really
//!   moved). A fill larger than the quantity left is a [`Refusal::Overfill`].
//! * An ack, cancel, expiry or reject that would move an order to the state it is already in
//!   (or, for an ack, past it) is a [`Refusal::Duplicate`]; anything else on a terminal order is
//!   [`Refusal::Stale`] (a fill there with a new cumulative is [`Refusal::LateFill`]).
//! * A `Rejected` for an order the venue has acked refers to our cancel (the venue already
//!   holds the order): with a cancel pending it clears it ([`OrderCounters::cancel_rejects`]),
//!   otherwise it is [`Refusal::Illegal`].
//!
//! So the same report applied twice changes nothing the second time.
//!
//! # Client order ids
//!
//! `epoch << 48 | sequence << 16 | slot`: the `epoch` is a constructor argument (bump it per
//! run, persisted or derived from the start time, so no id of an earlier run comes back), the
//! 32-bit sequence counts every order this run in creation order (retries and replacements are
//! new orders with new ids) and the low 16 bits are the table slot, which makes a lookup one
//! index and a compare. Ids grow strictly and are never reused; after 2³² − 1 orders `submit`
//! refuses with [`SubmitError::IdsExhausted`].
//!
//! # Timeouts and fallbacks (see [`OrderPolicy`])
//!
//! * No ack within `ack_timeout_ms`: the order is treated as lost and cancelled (never resent;
//!   a venue that never had it answers the cancel with a reject, which ends it as `Rejected`).
//! * A cancel not answered within `cancel_timeout_ms` is sent again (cancels are idempotent at
//!   a venue); the order stays live, and counts as in flight, until the venue answers.
//! * A resting limit order (GTC or post-only) still working `fallback_after_ms` after it was
//!   sent is cancelled; on the venue's `Cancelled`, what is left (after any fill that raced the
//!   cancel) is re-sent as a limit at the touch (`reprice`), or as an IOC market order
//!   (`to_market`), or not at all (`cancel`). Replacing only after the cancel is confirmed
//!   means the two can never both fill.
//! * `Rejected(Unavailable)` on a sent order is retried as a new order after an exponential
//!   backoff, up to `max_retries`, then sent once to `backup_venue` (with its own retry
//!   budget), then given up (journaled as `gave_up`). Any other reject is final, and so is any
//!   reject of an order we were already cancelling.
//!
//! [`Blotter::cancel`] and [`Blotter::latest`] follow an order to its live
//! replacement, so a caller can keep using the id `submit` returned.

use serde::Deserialize;

use crate::core::order::{
    ExecType, Execution, OrderIntent, Purpose, TimeInForce, VenueCancel, VenueOrder, VenueReject,
};
use crate::core::{InstrumentId, OrderType, Price, Qty, Side, Sink};

#[cfg(test)]
mod tests;

/// Largest table: the slot index lives in the low 16 bits of a client order id.
pub const MAX_CAPACITY: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 16;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const SEQ_SHIFT: u32 = SLOT_BITS;
const EPOCH_SHIFT: u32 = 48;
const MAX_SEQ: u64 = u32::MAX as u64;
const NEVER: u64 = u64::MAX;
const NS_PER_MS: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Policy

/// What to do with a resting limit order that is still (partly) unfilled after
/// `fallback_after_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Cancel it and re-send the rest as a limit at the same side's touch (buy at the best
    /// bid, sell at the best ask), at most `max_reprices` times, then cancel.
    Reprice,
    /// Cancel it and re-send the rest as an IOC market order.
    ToMarket,
    /// Cancel it.
    Cancel,
}

impl Fallback {
    /// Snake-case name, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Reprice => "reprice",
            Fallback::ToMarket => "to_market",
            Fallback::Cancel => "cancel",
        }
    }
}

/// Order timeouts and fallbacks, as written in the config (`[orders]`); unknown keys are
/// refused. Validate it into [`OrderRules`] before anything runs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderPolicy {
    /// No ack within this long: cancel the order as lost. Default 2000.
    pub ack_timeout_ms: u64,
    /// A cancel unanswered this long is sent again. Default 2000.
    pub cancel_timeout_ms: u64,
    /// What happens to a resting limit order after `fallback_after_ms`. Default `cancel`.
    pub fallback: Fallback,
    /// How long a limit order may rest (from when it was sent); 0 turns fallbacks off.
    /// Default 30000.
    pub fallback_after_ms: u64,
    /// Most reprices of one order chain before the fallback cancels instead. Default 3.
    pub max_reprices: u8,
    /// Retries after `Rejected(Unavailable)`, per venue. Default 3.
    pub max_retries: u8,
    /// First retry delay; each further retry doubles it. Default 100.
    pub retry_backoff_ms: u64,
    /// Longest retry delay. Default 2000.
    pub retry_backoff_max_ms: u64,
    /// Venue index orders go to first. Default 0.
    pub primary_venue: u8,
    /// Venue index to route to once the primary's retries are spent; none by default.
    pub backup_venue: Option<u8>,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        Self {
            ack_timeout_ms: 2_000,
            cancel_timeout_ms: 2_000,
            fallback: Fallback::Cancel,
            fallback_after_ms: 30_000,
            max_reprices: 3,
            max_retries: 3,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 2_000,
            primary_venue: 0,
            backup_venue: None,
        }
    }
}

/// A policy that cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A duration that must be positive is 0.
    #[error("orders.{0} must be > 0")]
    Zero(&'static str),
    /// A duration too long to hold in nanoseconds.
    #[error("orders.{0} is too large")]
    TooLarge(&'static str),
    /// `retry_backoff_max_ms` below `retry_backoff_ms`.
    #[error("orders.retry_backoff_max_ms must be >= orders.retry_backoff_ms")]
    BackoffOrder,
    /// The backup venue is the primary.
    #[error("orders.backup_venue must differ from orders.primary_venue")]
    BackupIsPrimary,
}

/// A validated [`OrderPolicy`], in nanoseconds; the only way to build an [`Blotter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRules {
    ack_timeout_ns: u64,
    cancel_timeout_ns: u64,
    fallback: Option<(Fallback, u64)>,
    max_reprices: u8,
    max_retries: u8,
    backoff_ns: u64,
    backoff_max_ns: u64,
    primary_venue: u8,
    backup_venue: Option<u8>,
}

fn ms_to_ns(ms: u64, name: &'static str) -> Result<u64, PolicyError> {
    ms.checked_mul(NS_PER_MS).ok_or(PolicyError::TooLarge(name))
}

impl OrderPolicy {
    /// Checks every bound and converts to nanoseconds.
    pub fn validate(&self) -> Result<OrderRules, PolicyError> {
        if self.ack_timeout_ms == 0 {
            return Err(PolicyError::Zero("ack_timeout_ms"));
        }
        if self.cancel_timeout_ms == 0 {
            return Err(PolicyError::Zero("cancel_timeout_ms"));
        }
        if self.retry_backoff_ms == 0 {
            return Err(PolicyError::Zero("retry_backoff_ms"));
        }
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            return Err(PolicyError::BackoffOrder);
        }
        if self.backup_venue == Some(self.primary_venue) {
            return Err(PolicyError::BackupIsPrimary);
        }
        let after = ms_to_ns(self.fallback_after_ms, "fallback_after_ms")?;
        Ok(OrderRules {
            ack_timeout_ns: ms_to_ns(self.ack_timeout_ms, "ack_timeout_ms")?,
            cancel_timeout_ns: ms_to_ns(self.cancel_timeout_ms, "cancel_timeout_ms")?,
            fallback: (after > 0).then_some((self.fallback, after)),
            max_reprices: self.max_reprices,
            max_retries: self.max_retries,
            backoff_ns: ms_to_ns(self.retry_backoff_ms, "retry_backoff_ms")?,
            backoff_max_ns: ms_to_ns(self.retry_backoff_max_ms, "retry_backoff_max_ms")?,
            primary_venue: self.primary_venue,
            backup_venue: self.backup_venue,
        })
    }
}

impl Default for OrderRules {
    fn default() -> Self {
        OrderPolicy::default()
            .validate()
            .expect("the default order policy is valid")
    }
}

impl OrderRules {
    /// Delay before retry number `attempt` (1-based): backoff × 2^(attempt−1), capped.
    pub fn backoff_ns(&self, attempt: u8) -> u64 {
        let shift = u32::from(attempt.saturating_sub(1)).min(62);
        self.backoff_ns
            .saturating_mul(1u64 << shift)
            .min(self.backoff_max_ns)
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary of this module

pub use crate::core::order::{OrderStatus, OrderTransition, Reason, Routed, RoutedCancel};

/// Everything the blotter produces, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// Send this order.
    Place(Routed),
    /// Send this cancel.
    Cancel(RoutedCancel),
    /// Journal this transition.
    Transition(OrderTransition),
}

/// Why `submit` refused an intent. Nothing was emitted and nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// Every slot holds a live order.
    Full,
    /// The instrument is beyond the table's instrument count.
    UnknownInstrument,
    /// Quantity ≤ 0.
    InvalidQty,
    /// A limit price ≤ 0 (or a negative market decision price).
    InvalidPrice,
    /// This run has used all 2³² − 1 ids; restart with a new epoch.
    IdsExhausted,
}

impl SubmitError {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitError::Full => "full",
            SubmitError::UnknownInstrument => "unknown_instrument",
            SubmitError::InvalidQty => "invalid_qty",
            SubmitError::InvalidPrice => "invalid_price",
            SubmitError::IdsExhausted => "ids_exhausted",
        }
    }
}

/// Why an execution report was refused. The order is unchanged; the kind is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No order with that id in the table (never issued, or recycled).
    Unknown,
    /// The order has not been sent (a retry waiting out its backoff).
    NotSent,
    /// Instrument or side differ from the order's.
    Mismatch,
    /// Impossible numbers: a fill ≤ 0, `leaves` < 0 or > qty, a fill above its own cumulative.
    Malformed,
    /// Already applied: the state (or cumulative fill) it reports is already reflected.
    Duplicate,
    /// About an order already terminal in another way (an ack after a cancel, …).
    Stale,
    /// A fill with a new cumulative on a cancelled, rejected or expired order.
    LateFill,
    /// A fill larger than the quantity left.
    Overfill,
    /// Not an edge from the current state (a reject of an acked order with no cancel pending).
    Illegal,
}

impl Refusal {
    /// How many kinds.
    pub const COUNT: usize = 9;
    /// Every kind, in [`OrderCounters::refused`] order.
    pub const ALL: [Refusal; Refusal::COUNT] = [
        Refusal::Unknown,
        Refusal::NotSent,
        Refusal::Mismatch,
        Refusal::Malformed,
        Refusal::Duplicate,
        Refusal::Stale,
        Refusal::LateFill,
        Refusal::Overfill,
        Refusal::Illegal,
    ];

    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::NotSent => "not_sent",
            Refusal::Mismatch => "mismatch",
            Refusal::Malformed => "malformed",
            Refusal::Duplicate => "duplicate",
            Refusal::Stale => "stale",
            Refusal::LateFill => "late_fill",
            Refusal::Overfill => "overfill",
            Refusal::Illegal => "illegal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An accepted report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The order's state after it.
    pub status: OrderStatus,
    /// Quantity newly filled by it (0 unless a fill; more than the report's own `qty` when it
    /// also covers a fill that never arrived).
    pub fill: Qty,
}

/// What [`Blotter::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// A cancel went to the venue.
    Requested,
    /// A cancel was already on its way; nothing sent (any planned replacement is dropped).
    AlreadyPending,
    /// The order had not been sent: cancelled here, nothing sent.
    Withdrawn,
    /// The order (and any replacement) is terminal: a no-op, counted.
    Terminal,
    /// No such order: a no-op, counted.
    Unknown,
}

/// Counters, for `summary.json` and the status line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderCounters {
    /// Intents accepted by `submit`.
    pub submitted: u64,
    /// Intents `submit` refused.
    pub submit_refused: u64,
    /// Transitions journaled.
    pub transitions: u64,
    /// Refused reports, by [`Refusal`] (index = position in [`Refusal::ALL`]).
    pub refused: [u64; Refusal::COUNT],
    /// Cancels sent (first sends).
    pub cancels_sent: u64,
    /// Cancels sent again after `cancel_timeout_ms`.
    pub cancel_resends: u64,
    /// `cancel` calls on terminal or unknown orders.
    pub cancel_noops: u64,
    /// Cancels the venue refused (the order stayed working).
    pub cancel_rejects: u64,
    /// Orders not acked in time (and so cancelled).
    pub ack_timeouts: u64,
    /// Retries scheduled after `Rejected(Unavailable)`.
    pub retries: u64,
    /// Orders re-sent to the backup venue.
    pub routed_to_backup: u64,
    /// Orders given up after `Rejected(Unavailable)`.
    pub gave_up: u64,
    /// Replacements sent at the touch.
    pub reprices: u64,
    /// Reprice fallbacks skipped (no quote yet, or already at the touch).
    pub reprice_skipped: u64,
    /// Replacements sent as market orders.
    pub to_market: u64,
    /// Orders cancelled by the `cancel` fallback or at the reprice limit.
    pub fallback_cancels: u64,
    /// Fills whose cumulative skipped a fill never seen.
    pub fill_gaps: u64,
    /// Slots reused for a new order (oldest terminal first).
    pub recycled: u64,
}

impl OrderCounters {
    /// Reports refused for one reason.
    pub fn refused(&self, kind: Refusal) -> u64 {
        self.refused[kind.index()]
    }

    /// Reports refused for any reason.
    pub fn refused_total(&self) -> u64 {
        self.refused.iter().sum()
    }
}

/// A copy of one order's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// Its id.
    pub client_order_id: u64,
    /// The order it retries or replaces (0: none).
    pub parent: u64,
    /// The order that retries or replaces it (0: none).
    pub successor: u64,
    /// What was asked for (`qty` is this order's, the rest of its parent's).
    pub intent: OrderIntent,
    /// Cumulative filled.
    pub filled: Qty,
    /// State.
    pub status: OrderStatus,
    /// Venue index.
    pub venue: u8,
    /// A cancel is on its way.
    pub cancel_pending: bool,
    /// Market time it was (last) sent; 0 if never.
    pub sent_ns: u64,
}

impl OrderView {
    /// Quantity not yet filled while live; 0 once terminal.
    pub fn remaining(&self) -> Qty {
        if self.status.is_terminal() {
            Qty::ZERO
        } else {
            Qty(self.intent.qty.0 - self.filled.0)
        }
    }
}

/// Construction arguments out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// Capacity must be 1..=65536.
    #[error("order capacity {0} out of 1..=65536")]
    Capacity(usize),
    /// Instrument count must be 1..=65536.
    #[error("instrument count {0} out of 1..=65536")]
    Instruments(usize),
}

// ---------------------------------------------------------------------------------------------
// The table

/// Why we are cancelling: decides the reason journaled and whether anything replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CancelCause {
    User,
    AckTimeout,
    Fallback,
    Reprice,
    ToMarket,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// 0: never used.
    id: u64,
    parent: u64,
    successor: u64,
    intent: OrderIntent,
    filled: i64,
    status: OrderStatus,
    venue: u8,
    /// `Rejected(Unavailable)`s of this chain on this venue so far.
    attempt: u8,
    /// Reprices of this chain so far.
    reprices: u8,
    cancel: Option<CancelCause>,
    sent_ns: u64,
    /// Next timer action (send, ack timeout, cancel resend, fallback); `NEVER` for none.
    due_ns: u64,
}

const EMPTY_INTENT: OrderIntent = OrderIntent {
    instrument: InstrumentId(0),
    strategy: 0,
    side: Side::Buy,
    order_type: OrderType::Limit,
    price: Price::ZERO,
    qty: Qty::ZERO,
    tif: TimeInForce::Gtc,
    purpose: Purpose::Open,
    decided_ns: 0,
};

const EMPTY_SLOT: Slot = Slot {
    id: 0,
    parent: 0,
    successor: 0,
    intent: EMPTY_INTENT,
    filled: 0,
    status: OrderStatus::Cancelled,
    venue: 0,
    attempt: 0,
    reprices: 0,
    cancel: None,
    sent_ns: 0,
    due_ns: NEVER,
};

fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// The order table and its state machine. See the module docs.
pub struct Blotter {
    rules: OrderRules,
    slots: Vec<Slot>,
    /// Slots free for a new order, oldest terminal first (a ring of slot indices).
    free: Vec<u16>,
    free_head: usize,
    free_len: usize,
    epoch: u64,
    next_seq: u64,
    live: usize,
    /// Live orders per instrument.
    open: Vec<u32>,
    /// Unfilled quantity of live orders per instrument, `[buy, sell]` (`i128`: no sum of
    /// `i64` quantities can overflow it).
    in_flight: Vec<[i128; 2]>,
    /// Latest `(bid, ask)` per instrument; 0 = unknown.
    quotes: Vec<(Price, Price)>,
    /// No slot is due before this (a lower bound; `on_timer` is O(1) until then).
    next_due: u64,
    counters: OrderCounters,
}

impl Blotter {
    /// A table for `capacity` orders (live and recently finished) over `instruments`
    /// instruments, with ids in `epoch`. Allocates everything it will ever use.
    pub fn new(
        rules: OrderRules,
        capacity: usize,
        instruments: usize,
        epoch: u16,
    ) -> Result<Self, SetupError> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(SetupError::Capacity(capacity));
        }
        if instruments == 0 || instruments > usize::from(u16::MAX) + 1 {
            return Err(SetupError::Instruments(instruments));
        }
        Ok(Self {
            rules,
            slots: vec![EMPTY_SLOT; capacity],
            // Slot indices fit u16: capacity ≤ 65536.
            free: (0..capacity).map(|i| i as u16).collect(),
            free_head: 0,
            free_len: capacity,
            epoch: u64::from(epoch),
            next_seq: 1,
            live: 0,
            open: vec![0; instruments],
            in_flight: vec![[0; 2]; instruments],
            quotes: vec![(Price::ZERO, Price::ZERO); instruments],
            next_due: NEVER,
            counters: OrderCounters::default(),
        })
    }

    /// The rules it runs under.
    pub fn rules(&self) -> &OrderRules {
        &self.rules
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Orders not yet terminal (including retries waiting to be sent).
    pub fn live(&self) -> usize {
        self.live
    }

    /// Counters so far.
    pub fn counters(&self) -> &OrderCounters {
        &self.counters
    }

    /// Earliest market time at which `on_timer` may have something to do (`None`: nothing
    /// pending). May be early, never late.
    pub fn next_due_ns(&self) -> Option<u64> {
        (self.next_due != NEVER).then_some(self.next_due)
    }

    /// State of an order still in the table.
    pub fn state(&self, client_order_id: u64) -> Option<OrderStatus> {
        self.find(client_order_id).map(|i| self.slots[i].status)
    }

    /// A copy of an order's record, if still in the table.
    pub fn order(&self, client_order_id: u64) -> Option<OrderView> {
        self.find(client_order_id).map(|i| self.view(i))
    }

    /// The newest order of `client_order_id`'s chain of retries and replacements still in the
    /// table (itself when it has none).
    pub fn latest(&self, client_order_id: u64) -> Option<u64> {
        self.find(client_order_id)
            .map(|i| self.slots[self.follow(i)].id)
    }

    /// Live orders in `instrument`.
    pub fn open_orders(&self, instrument: InstrumentId) -> usize {
        self.open.get(instrument.index()).map_or(0, |&n| n as usize)
    }

    /// Ids of live orders in `instrument`, in slot order. Scans the table; no allocation.
    pub fn open_ids(&self, instrument: InstrumentId) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .filter(move |s| {
                s.id != 0 && !s.status.is_terminal() && s.intent.instrument == instrument
            })
            .map(|s| s.id)
    }

    /// Unfilled quantity of live orders in `instrument` on `side` (sent, working, or waiting
    /// to be retried): what the risk engine must count as possibly filling.
    pub fn in_flight(&self, instrument: InstrumentId, side: Side) -> Qty {
        self.in_flight
            .get(instrument.index())
            .map_or(Qty::ZERO, |q| {
                let v = q[side_index(side)].clamp(i128::from(i64::MIN), i128::from(i64::MAX));
                Qty(v as i64)
            })
    }

    /// Latest best bid and ask for `instrument` (0 where unknown), for reprices and market
    /// replacements. Non-positive prices are ignored.
    pub fn on_quote(&mut self, instrument: InstrumentId, bid: Price, ask: Price) {
        if let Some(q) = self.quotes.get_mut(instrument.index()) {
            if bid.0 > 0 {
                q.0 = bid;
            }
            if ask.0 > 0 {
                q.1 = ask;
            }
        }
    }

    /// Assigns the next client id to an accepted intent, records New → Sent and emits the
    /// order for the primary venue. Refused (nothing emitted) when the intent is malformed or
    /// every slot is live.
    pub fn submit(
        &mut self,
        intent: OrderIntent,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> Result<u64, SubmitError> {
        let r = self.try_submit(intent, now_ns, out);
        match r {
            Ok(_) => self.counters.submitted += 1,
            Err(_) => self.counters.submit_refused += 1,
        }
        r
    }

    fn try_submit(
        &mut self,
        intent: OrderIntent,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> Result<u64, SubmitError> {
        if intent.instrument.index() >= self.open.len() {
            return Err(SubmitError::UnknownInstrument);
        }
        if intent.qty.0 <= 0 {
            return Err(SubmitError::InvalidQty);
        }
        let bad_price = match intent.order_type {
            OrderType::Limit => intent.price.0 <= 0,
            OrderType::Market => intent.price.0 < 0,
        };
        if bad_price {
            return Err(SubmitError::InvalidPrice);
        }
        let i = self.alloc(intent, 0, self.rules.primary_venue, 0, 0)?;
        self.send(i, Reason::Submit, now_ns, out);
        Ok(self.slots[i].id)
    }

    /// Cancels an order, or its live retry or replacement. A sent order gets a cancel at its
    /// venue (the state moves when the venue answers); an order not yet sent is cancelled
    /// here. A terminal or unknown order is a counted no-op.
    pub fn cancel(
        &mut self,
        client_order_id: u64,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> CancelOutcome {
        let Some(i) = self.find(client_order_id) else {
            self.counters.cancel_noops += 1;
            return CancelOutcome::Unknown;
        };
        let i = self.follow(i);
        let s = self.slots[i];
        if s.status.is_terminal() {
            self.counters.cancel_noops += 1;
            return CancelOutcome::Terminal;
        }
        if s.status == OrderStatus::New {
            self.transition(i, OrderStatus::Cancelled, Reason::Cancel, now_ns, out);
            return CancelOutcome::Withdrawn;
        }
        if s.cancel.is_some() {
            // The caller wants out: whatever replacement was planned is dropped.
            self.slots[i].cancel = Some(CancelCause::User);
            return CancelOutcome::AlreadyPending;
        }
        self.request_cancel(i, CancelCause::User, now_ns, out);
        CancelOutcome::Requested
    }

    /// Applies a venue report. Refused reports change nothing but their counter.
    pub fn on_execution(
        &mut self,
        exec: &Execution,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> Result<Applied, Refusal> {
        let r = self.apply(exec, now_ns, out);
        if let Err(kind) = r {
            self.counters.refused[kind.index()] += 1;
        }
        r
    }

    /// Fires what is due at `now_ns`: sends retries whose backoff is over, cancels orders not
    /// acked in time, re-sends unanswered cancels, and applies the fallback to resting limit
    /// orders. O(1) when nothing is due, one pass over the table otherwise.
    pub fn on_timer(&mut self, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        if now_ns < self.next_due {
            return;
        }
        let mut next = NEVER;
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if s.id == 0 || s.status.is_terminal() {
                continue;
            }
            if s.due_ns != NEVER && s.due_ns <= now_ns {
                // A timer action never creates or frees a slot, so the scan stays valid.
                self.fire(i, now_ns, out);
            }
            next = next.min(self.slots[i].due_ns);
        }
        self.next_due = next;
    }

    // -- internals ----------------------------------------------------------------------

    fn find(&self, id: u64) -> Option<usize> {
        if id == 0 {
            return None;
        }
        let i = (id & SLOT_MASK) as usize;
        match self.slots.get(i) {
            Some(s) if s.id == id => Some(i),
            _ => None,
        }
    }

    /// Follows successors to the newest order of the chain still in the table. Ids grow
    /// along a chain, so it ends; the bound is belt and braces.
    fn follow(&self, mut i: usize) -> usize {
        for _ in 0..self.slots.len() {
            match self.find(self.slots[i].successor) {
                Some(j) => i = j,
                None => break,
            }
        }
        i
    }

    fn view(&self, i: usize) -> OrderView {
        let s = &self.slots[i];
        OrderView {
            client_order_id: s.id,
            parent: s.parent,
            successor: s.successor,
            intent: s.intent,
            filled: Qty(s.filled),
            status: s.status,
            venue: s.venue,
            cancel_pending: s.cancel.is_some(),
            sent_ns: s.sent_ns,
        }
    }

    fn arm(&mut self, i: usize, due_ns: u64) {
        self.slots[i].due_ns = due_ns;
        self.next_due = self.next_due.min(due_ns);
    }

    /// When a working order's fallback fires, counting from `start_ns`.
    fn fallback_due(&self, i: usize, start_ns: u64) -> u64 {
        let s = &self.slots[i];
        match self.rules.fallback {
            Some((_, after))
                if s.intent.order_type == OrderType::Limit && s.intent.tif != TimeInForce::Ioc =>
            {
                start_ns.saturating_add(after)
            }
            _ => NEVER,
        }
    }

    /// Takes the oldest free slot for a new order in state New.
    fn alloc(
        &mut self,
        intent: OrderIntent,
        parent: u64,
        venue: u8,
        attempt: u8,
        reprices: u8,
    ) -> Result<usize, SubmitError> {
        if self.free_len == 0 {
            return Err(SubmitError::Full);
        }
        if self.next_seq > MAX_SEQ {
            return Err(SubmitError::IdsExhausted);
        }
        let i = usize::from(self.free[self.free_head]);
        self.free_head = (self.free_head + 1) % self.free.len();
        self.free_len -= 1;
        if self.slots[i].id != 0 {
            self.counters.recycled += 1;
        }
        let id = (self.epoch << EPOCH_SHIFT) | (self.next_seq << SEQ_SHIFT) | i as u64;
        self.next_seq += 1;
        self.slots[i] = Slot {
            id,
            parent,
            successor: 0,
            intent,
            filled: 0,
            status: OrderStatus::New,
            venue,
            attempt,
            reprices,
            cancel: None,
            sent_ns: 0,
            due_ns: NEVER,
        };
        self.live += 1;
        let inst = intent.instrument.index();
        self.open[inst] += 1;
        self.in_flight[inst][side_index(intent.side)] += i128::from(intent.qty.0);
        Ok(i)
    }

    /// Moves slot `i` to `to`, journals it, and frees the slot if terminal.
    fn transition(
        &mut self,
        i: usize,
        to: OrderStatus,
        reason: Reason,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) {
        let s = &mut self.slots[i];
        let from = s.status;
        debug_assert!(from.can_move_to(to), "{from:?} -> {to:?}");
        s.status = to;
        let record = OrderTransition {
            client_order_id: s.id,
            parent: s.parent,
            venue: s.venue,
            instrument: s.intent.instrument,
            side: s.intent.side,
            order_type: s.intent.order_type,
            price: s.intent.price,
            qty: s.intent.qty,
            filled: Qty(s.filled),
            from,
            to,
            reason,
            market_ns: now_ns,
        };
        if to.is_terminal() {
            let rest = s.intent.qty.0 - s.filled;
            let inst = s.intent.instrument.index();
            let side = side_index(s.intent.side);
            s.due_ns = NEVER;
            s.cancel = None;
            self.in_flight[inst][side] -= i128::from(rest);
            self.open[inst] -= 1;
            self.live -= 1;
            // At most `capacity` slots are ever free, so the ring never overruns.
            let tail = (self.free_head + self.free_len) % self.free.len();
            self.free[tail] = i as u16;
            self.free_len += 1;
        }
        self.counters.transitions += 1;
        out.emit(OrderEvent::Transition(record));
    }

    /// New → Sent: emits the order to its venue and starts the ack timer.
    fn send(&mut self, i: usize, reason: Reason, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        let s = &mut self.slots[i];
        s.sent_ns = now_ns;
        out.emit(OrderEvent::Place(Routed {
            venue: s.venue,
            order: VenueOrder {
                client_order_id: s.id,
                intent: s.intent,
                sent_ns: now_ns,
            },
        }));
        self.arm(i, now_ns.saturating_add(self.rules.ack_timeout_ns));
        self.transition(i, OrderStatus::Sent, reason, now_ns, out);
    }

    fn emit_cancel(&self, i: usize, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        let s = &self.slots[i];
        out.emit(OrderEvent::Cancel(RoutedCancel {
            venue: s.venue,
            cancel: VenueCancel {
                client_order_id: s.id,
                instrument: s.intent.instrument,
                sent_ns: now_ns,
            },
        }));
    }

    fn request_cancel(
        &mut self,
        i: usize,
        cause: CancelCause,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) {
        self.slots[i].cancel = Some(cause);
        self.counters.cancels_sent += 1;
        self.emit_cancel(i, now_ns, out);
        self.arm(i, now_ns.saturating_add(self.rules.cancel_timeout_ns));
    }

    fn fire(&mut self, i: usize, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        let s = self.slots[i];
        if s.cancel.is_some() {
            self.counters.cancel_resends += 1;
            self.emit_cancel(i, now_ns, out);
            self.arm(i, now_ns.saturating_add(self.rules.cancel_timeout_ns));
            return;
        }
        match s.status {
            OrderStatus::New => self.send(i, Reason::Retry, now_ns, out),
            OrderStatus::Sent => {
                self.counters.ack_timeouts += 1;
                self.request_cancel(i, CancelCause::AckTimeout, now_ns, out);
            }
            OrderStatus::Acked | OrderStatus::PartiallyFilled => self.fallback(i, now_ns, out),
            _ => self.slots[i].due_ns = NEVER,
        }
    }

    fn fallback(&mut self, i: usize, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        let Some((mode, after)) = self.rules.fallback else {
            self.slots[i].due_ns = NEVER;
            return;
        };
        let s = self.slots[i];
        match mode {
            Fallback::Cancel => {
                self.counters.fallback_cancels += 1;
                self.request_cancel(i, CancelCause::Fallback, now_ns, out);
            }
            Fallback::ToMarket => self.request_cancel(i, CancelCause::ToMarket, now_ns, out),
            Fallback::Reprice if s.reprices >= self.rules.max_reprices => {
                self.counters.fallback_cancels += 1;
                self.request_cancel(i, CancelCause::Fallback, now_ns, out);
            }
            Fallback::Reprice => match self.touch(s.intent.instrument, s.intent.side) {
                Some(p) if p != s.intent.price => {
                    self.request_cancel(i, CancelCause::Reprice, now_ns, out);
                }
                _ => {
                    self.counters.reprice_skipped += 1;
                    self.arm(i, now_ns.saturating_add(after));
                }
            },
        }
    }

    /// Same-side touch: best bid for a buy, best ask for a sell.
    fn touch(&self, instrument: InstrumentId, side: Side) -> Option<Price> {
        let (bid, ask) = *self.quotes.get(instrument.index())?;
        let p = match side {
            Side::Buy => bid,
            Side::Sell => ask,
        };
        (p.0 > 0).then_some(p)
    }

    fn apply(
        &mut self,
        exec: &Execution,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> Result<Applied, Refusal> {
        use OrderStatus::*;
        let i = self.find(exec.client_order_id).ok_or(Refusal::Unknown)?;
        let s = self.slots[i];
        if s.status == New {
            return Err(Refusal::NotSent);
        }
        if s.intent.instrument != exec.instrument || s.intent.side != exec.side {
            return Err(Refusal::Mismatch);
        }
        let done = |status| {
            Ok(Applied {
                status,
                fill: Qty::ZERO,
            })
        };
        match exec.exec {
            ExecType::Fill => self.fill(i, exec, now_ns, out),
            ExecType::Ack => match s.status {
                Sent => {
                    self.transition(i, Acked, Reason::Ack, now_ns, out);
                    if s.cancel.is_none() {
                        let due = self.fallback_due(i, s.sent_ns);
                        self.arm(i, due);
                    }
                    done(Acked)
                }
                Acked | PartiallyFilled | Filled => Err(Refusal::Duplicate),
                _ => Err(Refusal::Stale),
            },
            ExecType::Cancelled => match s.status {
                Sent | Acked | PartiallyFilled => {
                    self.cancelled(i, now_ns, out);
                    done(Cancelled)
                }
                Cancelled => Err(Refusal::Duplicate),
                _ => Err(Refusal::Stale),
            },
            ExecType::Expired => match s.status {
                Sent | Acked | PartiallyFilled => {
                    self.transition(i, Expired, Reason::Expired, now_ns, out);
                    done(Expired)
                }
                Expired => Err(Refusal::Duplicate),
                _ => Err(Refusal::Stale),
            },
            ExecType::Rejected(why) => match s.status {
                Sent => {
                    self.rejected(i, why, now_ns, out);
                    done(Rejected)
                }
                Acked | PartiallyFilled if s.cancel.is_some() => {
                    // The venue holds the order, so this refuses our cancel. Most likely a
                    // fill is on its way; if not, the fallback clock starts again.
                    self.counters.cancel_rejects += 1;
                    self.slots[i].cancel = None;
                    let due = self.fallback_due(i, now_ns);
                    self.arm(i, due);
                    done(s.status)
                }
                Acked | PartiallyFilled => Err(Refusal::Illegal),
                Rejected => Err(Refusal::Duplicate),
                _ => Err(Refusal::Stale),
            },
        }
    }

    fn fill(
        &mut self,
        i: usize,
        exec: &Execution,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) -> Result<Applied, Refusal> {
        let s = self.slots[i];
        let qty = s.intent.qty.0;
        if exec.qty.0 <= 0 || exec.leaves.0 < 0 || exec.leaves.0 > qty {
            return Err(Refusal::Malformed);
        }
        let cumulative = qty - exec.leaves.0;
        if exec.qty.0 > cumulative {
            return Err(Refusal::Malformed);
        }
        if cumulative <= s.filled {
            return Err(Refusal::Duplicate);
        }
        if s.status.is_terminal() {
            return Err(Refusal::LateFill);
        }
        if exec.qty.0 > qty - s.filled {
            return Err(Refusal::Overfill);
        }
        if cumulative - exec.qty.0 != s.filled {
            self.counters.fill_gaps += 1;
        }
        let delta = cumulative - s.filled;
        self.slots[i].filled = cumulative;
        let side = side_index(s.intent.side);
        self.in_flight[s.intent.instrument.index()][side] -= i128::from(delta);
        let to = if cumulative == qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        self.transition(i, to, Reason::Fill, now_ns, out);
        if s.status == OrderStatus::Sent && to == OrderStatus::PartiallyFilled && s.cancel.is_none()
        {
            // A fill before the ack is the ack: the ack timer gives way to the fallback.
            let due = self.fallback_due(i, s.sent_ns);
            self.arm(i, due);
        }
        Ok(Applied {
            status: to,
            fill: Qty(delta),
        })
    }

    fn cancelled(&mut self, i: usize, now_ns: u64, out: &mut impl Sink<OrderEvent>) {
        let s = self.slots[i];
        let reason = match s.cancel {
            None => Reason::VenueCancel,
            Some(CancelCause::User) => Reason::Cancel,
            Some(CancelCause::AckTimeout) => Reason::AckTimeout,
            Some(CancelCause::Fallback) => Reason::FallbackCancel,
            Some(CancelCause::Reprice) => Reason::Reprice,
            Some(CancelCause::ToMarket) => Reason::ToMarket,
        };
        self.transition(i, OrderStatus::Cancelled, reason, now_ns, out);
        let rest = s.intent.qty.0 - s.filled;
        if rest <= 0 || !matches!(reason, Reason::Reprice | Reason::ToMarket) {
            return;
        }
        let mut intent = s.intent;
        intent.qty = Qty(rest);
        let mut reprices = s.reprices;
        match reason {
            Reason::Reprice => {
                intent.price = self
                    .touch(intent.instrument, intent.side)
                    .unwrap_or(intent.price);
                reprices = reprices.saturating_add(1);
            }
            _ => {
                let opposite = match intent.side {
                    Side::Buy => Side::Sell,
                    Side::Sell => Side::Buy,
                };
                intent.order_type = OrderType::Market;
                intent.tif = TimeInForce::Ioc;
                intent.price = self
                    .touch(intent.instrument, opposite)
                    .unwrap_or(intent.price);
            }
        }
        // Slot `i` was just freed, so a slot is always there; only the id space can run out.
        let Ok(j) = self.alloc(intent, s.id, s.venue, 0, reprices) else {
            self.counters.gave_up += 1;
            return;
        };
        if reason == Reason::Reprice {
            self.counters.reprices += 1;
        } else {
            self.counters.to_market += 1;
        }
        self.link(i, s.id, j);
        self.send(j, reason, now_ns, out);
    }

    /// Records `j` as the successor of `parent` if `parent` is still in slot `i`.
    fn link(&mut self, i: usize, parent: u64, j: usize) {
        let child = self.slots[j].id;
        let p = &mut self.slots[i];
        if p.id == parent {
            p.successor = child;
        }
    }

    fn rejected(
        &mut self,
        i: usize,
        why: VenueReject,
        now_ns: u64,
        out: &mut impl Sink<OrderEvent>,
    ) {
        let s = self.slots[i];
        if why != VenueReject::Unavailable || s.cancel.is_some() {
            self.transition(i, OrderStatus::Rejected, Reason::Rejected(why), now_ns, out);
            return;
        }
        enum Plan {
            Retry(u8),
            Backup(u8),
            GiveUp,
        }
        let attempt = s.attempt.saturating_add(1);
        let plan = if self.next_seq > MAX_SEQ {
            Plan::GiveUp
        } else if attempt <= self.rules.max_retries {
            Plan::Retry(attempt)
        } else {
            match self.rules.backup_venue {
                Some(b) if b != s.venue => Plan::Backup(b),
                _ => Plan::GiveUp,
            }
        };
        let reason = match plan {
            Plan::Retry(_) => Reason::RetryScheduled,
            Plan::Backup(_) => Reason::RoutedToBackup,
            Plan::GiveUp => Reason::GaveUp,
        };
        self.transition(i, OrderStatus::Rejected, reason, now_ns, out);
        match plan {
            Plan::Retry(attempt) => {
                if let Ok(j) = self.alloc(s.intent, s.id, s.venue, attempt, s.reprices) {
                    self.counters.retries += 1;
                    self.link(i, s.id, j);
                    self.arm(j, now_ns.saturating_add(self.rules.backoff_ns(attempt)));
                }
            }
            Plan::Backup(venue) => {
                if let Ok(j) = self.alloc(s.intent, s.id, venue, 0, s.reprices) {
                    self.counters.routed_to_backup += 1;
                    self.link(i, s.id, j);
                    self.send(j, Reason::Backup, now_ns, out);
                }
            }
            Plan::GiveUp => self.counters.gave_up += 1,
        }
    }
}
