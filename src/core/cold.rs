//! Records hot stages hand to the cold thread, and the never-blocking handle they use.
//!
//! Every record is fixed-size and `Copy`; a stage pushes it onto its own SPSC cold ring with
//! `try_push`. A full ring drops the record and counts the drop — the hot path never waits for
//! the disk. The cold thread turns records into `journal.md`, CSV rows and log lines.

use super::instrument::InstrumentId;
use super::num::{Price, Qty};
use super::order::{Execution, OrderIntent, OrderTransition, Purpose, RiskRule, Verdict};
use super::stats::{AnomalyKind, Counter};
use crate::ring::{Producer, WaitStrategy, Waiter};

/// One thing worth writing down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColdRecord {
    /// A data anomaly.
    Anomaly {
        /// Market time.
        market_ns: u64,
        /// Category.
        kind: AnomalyKind,
        /// Source (feed line / replay file) it was seen on; [`NO_SOURCE`] when it concerns the
        /// merged stream as a whole.
        source: u8,
        /// Instrument, if known.
        instrument: Option<InstrumentId>,
        /// Source message index.
        seq: u64,
        /// What was expected (id, sequence, price...), kind-specific.
        expected: i64,
        /// What arrived.
        got: i64,
    },
    /// A connection or redundancy event of one source.
    Feed {
        /// Source (feed line).
        source: u8,
        /// Wall-clock time.
        wall_ns: u64,
        /// What happened.
        event: FeedEvent,
    },
    /// A message that failed to parse.
    Malformed {
        /// Source (feed line / replay file).
        source: u8,
        /// Source message index.
        seq: u64,
        /// Receive time.
        recv_ns: u64,
        /// Short reason (static text).
        reason: &'static str,
        /// Field at fault, if known.
        field: &'static str,
    },
    /// One strategy's decision: its score, the score's parts and what it did.
    Decision(DecisionRecord),
    /// The risk engine's verdict on one intent. An intent a decision emitted follows that
    /// decision's record; `decision` says so.
    Verdict(VerdictRecord),
    /// An order changed state (one `orders.csv` row).
    Order {
        /// The transition.
        t: OrderTransition,
        /// What the order was for.
        purpose: Purpose,
        /// Which strategy (or [`RISK_STRATEGY`](crate::risk::engine::RISK_STRATEGY)).
        strategy: u8,
    },
    /// A fill (one `fills.csv` row).
    Fill(Execution),
    /// A risk limit was hit: an intent refused, or the kill switch tripped.
    Breach {
        /// The rule.
        rule: RiskRule,
        /// Its bound.
        limit: i64,
        /// The value that broke it.
        value: i64,
        /// The instrument concerned.
        instrument: Option<InstrumentId>,
        /// Market time.
        market_ns: u64,
        /// True for a kill-switch trip, false for a refused intent.
        kill: bool,
    },
    /// A retry or replacement of an accepted order that the risk engine refused; not sent.
    RefusedReplacement {
        /// The order's client id.
        client_order_id: u64,
        /// The verdict.
        verdict: Verdict,
        /// Market time.
        market_ns: u64,
    },
    /// The first and last trade of an instrument the trader saw (end of run; buy-and-hold).
    Marks {
        /// Instrument.
        instrument: InstrumentId,
        /// Market time of the first trade.
        first_ns: u64,
        /// Its price.
        first: Price,
        /// Market time of the last trade.
        last_ns: u64,
        /// Its price.
        last: Price,
    },
    /// An instrument's last trade price at an account snapshot (a backtest's price chart).
    Price {
        /// Instrument.
        instrument: InstrumentId,
        /// Market time of that trade.
        market_ns: u64,
        /// Its price.
        price: Price,
    },
    /// Account snapshot of one lane for `equity.csv` (quote at 10⁻⁸).
    Equity {
        /// Market time.
        market_ns: u64,
        /// Cash + positions at their marks.
        equity: i64,
        /// Cash.
        cash: i64,
        /// Positions at their marks.
        position_value: i64,
    },
}

/// A decision, compact for the cold ring (the strategy host's `Decision` has `f64`s and
/// options; the journal prints four digits). NaN means "not known".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionRecord {
    /// Market time of the decision.
    pub market_ns: u64,
    /// The deciding close.
    pub price: Price,
    /// Quantity of the opening intent (0 when none).
    pub qty: Qty,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy index.
    pub strategy: u8,
    /// Position after it: +1, 0, −1.
    pub position: i8,
    /// Index into the host's `Action::ALL`.
    pub action: u8,
    /// Index into `Suppression::ALL`; `u8::MAX` when nothing held it back.
    pub suppressed: u8,
    /// Intents it emitted.
    pub intents: u8,
    /// The score in [-1, 1].
    pub score: f32,
    /// Entry threshold in force.
    pub threshold: f32,
    /// Exit threshold in force.
    pub exit_threshold: f32,
    /// Raw signal per resolution index.
    pub raw: [f32; 5],
    /// Weighted consensus.
    pub strength: f32,
    /// Alignment across resolutions.
    pub alignment: f32,
    /// Volume credit.
    pub volume: f32,
    /// Volatility credit.
    pub volatility: f32,
    /// Confidence.
    pub confidence: f32,
    /// Volume over its rolling mean.
    pub volume_ratio: f32,
    /// ATR over its rolling mean.
    pub atr_ratio: f32,
}

/// The risk verdict on one intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictRecord {
    /// Market time of the check.
    pub market_ns: u64,
    /// The intent.
    pub intent: OrderIntent,
    /// Accept, or the rule with its numbers.
    pub verdict: Verdict,
    /// The order's client id when accepted and taken by the blotter (0 otherwise).
    pub client_order_id: u64,
    /// True when it belongs to the decision record just before it.
    pub decision: bool,
}

/// No particular source.
pub const NO_SOURCE: u8 = u8::MAX;

/// Connection and redundancy events, journaled as they happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedEvent {
    /// A connection attempt started.
    Connecting {
        /// Attempt number since the last healthy connection.
        attempt: u32,
    },
    /// Connected and subscribed.
    Connected {
        /// Connection number.
        conn: u32,
    },
    /// A connection ended.
    Disconnected {
        /// Connection number.
        conn: u32,
        /// Why (static text).
        reason: &'static str,
    },
    /// No message for too long: the connection is being replaced.
    Stale {
        /// Connection number.
        conn: u32,
        /// Silence so far.
        silent_ms: u64,
    },
    /// Waiting before the next attempt.
    BackingOff {
        /// Delay.
        ms: u64,
    },
    /// A planned replacement connection was opened beside an old one.
    RotationStarted {
        /// The connection being replaced.
        old: u32,
    },
    /// The replacement delivered data; the old connection was closed.
    RotationDone {
        /// Old connection.
        old: u32,
        /// New connection.
        new: u32,
    },
    /// The arbiter switched an instrument to this backup source.
    Failover {
        /// Instrument.
        instrument: InstrumentId,
        /// How long the primaries had been silent.
        silent_ms: u64,
    },
    /// The arbiter switched an instrument back to its primary sources (this one).
    Failback {
        /// Instrument.
        instrument: InstrumentId,
    },
}

/// A stage's end of its cold ring. `send` never blocks and never allocates.
pub struct ColdTx {
    ring: Producer<ColdRecord>,
    /// Lossless: wait for room instead of dropping (see [`ColdTx::lossless`]).
    wait: Option<Waiter>,
}

impl ColdTx {
    /// Wraps a ring producer.
    pub fn new(ring: Producer<ColdRecord>) -> Self {
        Self { ring, wait: None }
    }

    /// With `on`, a full ring makes [`ColdTx::send`] wait (spin, then yield) until the cold
    /// thread has made room, instead of dropping the record. For backtests, whose market
    /// time is virtual: a dropped fill would be a wrong report, a wait costs nothing real.
    /// Live runs keep the default: the hot thread never waits for the cold one.
    pub fn lossless(mut self, on: bool) -> Self {
        self.wait = on.then(|| Waiter::new(WaitStrategy::SpinThenYield { spins: 256 }));
        self
    }

    /// Pushes a record; if the ring is full, waits for room (lossless) or counts it in
    /// `drop_counter`. A record the cold thread can no longer take is counted too.
    #[inline]
    pub fn send(&mut self, rec: ColdRecord, drop_counter: &Counter) {
        if let Err(rec) = self.ring.try_push(rec) {
            match &mut self.wait {
                Some(w) => {
                    if self.ring.push_wait(rec, w).is_err() {
                        drop_counter.inc();
                    }
                    w.reset();
                }
                None => drop_counter.inc(),
            }
        }
    }
}
