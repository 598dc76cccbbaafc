//! Live counters shared between hot stages and the cold thread.
//!
//! Each counter has exactly one writer (the stage that owns it), so an increment is a relaxed
//! load and store — a plain `mov` on x86, no locked instruction — and readers on the cold
//! thread see a value at most a few nanoseconds old. Counters of one stage sit together on
//! their own cache lines so stages on different cores never false-share.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::event::Resolution;

/// A single-writer monotone counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning stage may call this.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A single-writer gauge holding a signed value.
#[derive(Default, Debug)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value. Only the owning stage may call this.
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Current value.
    #[inline]
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Anomaly categories (DESIGN.md). Dense, fixed names: they key `summary.json`'s `anomalies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Trade ids or sequence numbers skipped.
    Gap,
    /// A message seen before.
    Duplicate,
    /// Older than what was already passed on.
    OutOfOrder,
    /// Price jump beyond the configured threshold.
    Spike,
    /// No message for too long.
    Stale,
    /// Best bid at or above best ask.
    CrossedBook,
    /// Sources disagree.
    Divergence,
    /// Not parseable.
    Malformed,
    /// A trade older than an already-closed candle.
    LateTrade,
    /// An execution report that does not fit the order's state.
    OrderState,
}

impl AnomalyKind {
    /// Every kind.
    pub const ALL: [AnomalyKind; 10] = [
        AnomalyKind::Gap,
        AnomalyKind::Duplicate,
        AnomalyKind::OutOfOrder,
        AnomalyKind::Spike,
        AnomalyKind::Stale,
        AnomalyKind::CrossedBook,
        AnomalyKind::Divergence,
        AnomalyKind::Malformed,
        AnomalyKind::LateTrade,
        AnomalyKind::OrderState,
    ];

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Gap => "gap",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::OutOfOrder => "out_of_order",
            AnomalyKind::Spike => "spike",
            AnomalyKind::Stale => "stale",
            AnomalyKind::CrossedBook => "crossed_book",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::Malformed => "malformed",
            AnomalyKind::LateTrade => "late_trade",
            AnomalyKind::OrderState => "order_state",
        }
    }

    /// Dense index.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Number of `SkipKind`s the parser reports (kept in sync by a test in `feed`).
pub const SKIP_KINDS: usize = 7;

/// Counters of the parse stage (and its source).
#[derive(Default, Debug)]
pub struct ParseStats {
    /// Raw messages taken from the source.
    pub received: Counter,
    /// Messages turned into events.
    pub parsed: Counter,
    /// Messages refused as malformed.
    pub malformed: Counter,
    /// Recognised but skipped, by kind.
    pub skipped: [Counter; SKIP_KINDS],
    /// Trades emitted.
    pub trades: Counter,
    /// Book tickers emitted.
    pub book_tickers: Counter,
    /// Instruments auto-registered.
    pub instruments_added: Counter,
    /// True once the source is exhausted or stopped.
    pub source_done: Counter,
}

/// Counters of the arbiter.
#[derive(Default, Debug)]
pub struct ArbiterStats {
    /// Events passed on.
    pub passed: Counter,
    /// Events dropped (duplicates, stale quotes).
    pub dropped: Counter,
    /// Anomalies by kind.
    pub anomalies: [Counter; 10],
}

/// Counters of the candle stage.
#[derive(Default, Debug)]
pub struct CandleStats {
    /// Candles closed, by resolution index.
    pub closed: [Counter; 5],
    /// Trades older than their candle.
    pub late: Counter,
}

/// Counters of indicators and signals.
#[derive(Default, Debug)]
pub struct StrategyStats {
    /// Indicator updates.
    pub indicator_updates: Counter,
    /// Signals emitted.
    pub signals: Counter,
}

/// Counters of risk + orders.
#[derive(Default, Debug)]
pub struct RiskStats {
    /// Orders sent to the venue.
    pub orders: Counter,
    /// Orders refused by risk.
    pub rejected: Counter,
    /// Fills applied.
    pub fills: Counter,
    /// Execution reports that did not fit the order state.
    pub bad_reports: Counter,
    /// Realized PnL, quote at 10⁻⁸.
    pub realized: Gauge,
    /// Fees paid, quote at 10⁻⁸.
    pub fees: Gauge,
    /// Unrealized PnL at the last mark, quote at 10⁻⁸.
    pub unrealized: Gauge,
}

/// Counters of the venue.
#[derive(Default, Debug)]
pub struct VenueStats {
    /// Orders received.
    pub orders: Counter,
    /// Fills sent back.
    pub fills: Counter,
    /// Orders the venue rejected.
    pub rejected: Counter,
}

/// All counters of one lane, one padded block per stage.
#[derive(Default, Debug)]
pub struct LaneStats {
    /// Parse.
    pub parse: CachePadded<ParseStats>,
    /// Arbiter.
    pub arbiter: CachePadded<ArbiterStats>,
    /// Candles.
    pub candles: CachePadded<CandleStats>,
    /// Indicators and signals.
    pub strategy: CachePadded<StrategyStats>,
    /// Risk and orders.
    pub risk: CachePadded<RiskStats>,
    /// Venue.
    pub venue: CachePadded<VenueStats>,
    /// Cold records dropped because a cold ring was full, per stage index.
    pub cold_drops: [Counter; 7],
}

impl LaneStats {
    /// Candles closed at a resolution.
    pub fn candles_closed(&self, r: Resolution) -> u64 {
        self.candles.closed[r.index()].get()
    }
}
