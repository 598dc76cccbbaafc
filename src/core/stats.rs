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
    /// Sets the count (it must not go down). Only the owning stage may call this.
    #[inline]
    pub fn store(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
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
    /// Valid JSON of a message type the venue parser does not know.
    UnknownType,
}

/// Number of anomaly kinds.
pub const ANOMALY_KINDS: usize = 11;

impl AnomalyKind {
    /// Every kind.
    pub const ALL: [AnomalyKind; ANOMALY_KINDS] = [
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
        AnomalyKind::UnknownType,
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
            AnomalyKind::UnknownType => "unknown_type",
        }
    }

    /// Dense index.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Number of `SkipKind`s the parser reports (kept in sync by a test in `feed`).
pub const SKIP_KINDS: usize = 8;

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
    /// Anomalies found while parsing (book sequence gaps, unknown message types), by kind.
    pub anomalies: [Counter; ANOMALY_KINDS],
    /// Events put back into corrected-time order (they overtook an earlier arrival).
    pub reordered: Counter,
    /// Events later than the reorder window (emitted at once, out of order).
    pub reorder_late: Counter,
}

/// Most sources (feed lines, or replay files) one lane tracks separately; later ones share the
/// last slot.
pub const MAX_SOURCES: usize = 64;

/// Counters of one source, written by the parse stage (its thread owns the source).
#[derive(Default, Debug)]
pub struct SourceStats {
    /// Messages received.
    pub messages: Counter,
    /// Bytes received.
    pub bytes: Counter,
    /// Messages refused as malformed.
    pub malformed: Counter,
    /// Recognised but skipped, by kind.
    pub skipped: [Counter; SKIP_KINDS],
    /// Trade messages / trades.
    pub trade_msgs: Counter,
    /// Trades decoded.
    pub trades: Counter,
    /// Quote (ticker / bookTicker) messages.
    pub quotes: Counter,
    /// Depth diff messages.
    pub depth: Counter,
    /// Book snapshot messages.
    pub snapshots: Counter,
    /// Venue candles.
    pub klines: Counter,
    /// Best bid/ask changes derived from the order book (venues without a quote stream).
    pub book_quotes: Counter,
    /// Depth updates that did not follow on from the book's last update id.
    pub book_gaps: Counter,
    /// Depth updates older than the book (dropped).
    pub book_stale: Counter,
    /// Depth messages that found no book to apply to (pool exhausted, or a snapshot naming no
    /// symbol on a source with several books).
    pub book_unplaced: Counter,
    /// Price levels dropped because a book side was full.
    pub book_truncated: Counter,
    /// Wall-clock receive time of the last message (ns).
    pub last_recv_ns: Gauge,
    /// Estimated venue clock offset: receive time minus venue time, low envelope (ns).
    pub clock_offset_ns: Gauge,
    /// Estimated drift of that offset (ns per second of receive time, ×1000 = ppb·1000).
    pub clock_drift_ppb: Gauge,
    /// Smoothed one-way latency above the offset floor (ns).
    pub latency_ns: Gauge,
    /// Connection events (connects, disconnects, stale, rotations), written by live sources.
    pub connects: Counter,
    /// Disconnections of established connections.
    pub disconnects: Counter,
    /// Connection attempts that failed before a connection was established.
    pub connect_failures: Counter,
    /// Stale-stream detections.
    pub stale: Counter,
    /// Protocol errors (bad frames, invalid UTF-8, over-size messages).
    pub protocol_errors: Counter,
    /// 1 while connected (live sources).
    pub connected: Gauge,
}

/// One padded block per source slot.
#[derive(Debug)]
pub struct PerSource<T>(pub [CachePadded<T>; MAX_SOURCES]);

impl<T: Default> Default for PerSource<T> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| CachePadded::new(T::default())))
    }
}

impl<T> PerSource<T> {
    /// The block for source `i` (the last slot for `i ≥ MAX_SOURCES`).
    #[inline]
    pub fn get(&self, i: usize) -> &T {
        &self.0[i.min(MAX_SOURCES - 1)]
    }
}

/// Counters the arbiter keeps per source.
#[derive(Default, Debug)]
pub struct SourceArbStats {
    /// Trades this source delivered first (passed downstream).
    pub first: Counter,
    /// Trades already delivered by another line (A/B redundancy working as intended).
    pub redundant: Counter,
    /// Anomalies attributed to this source, by kind.
    pub anomalies: [Counter; ANOMALY_KINDS],
    /// Last price (trade or mid) seen from this source, 10⁻⁸.
    pub last_price: Gauge,
    /// 1 while this source is the active one for its instruments (primaries normally; a
    /// backup after failover).
    pub active: Gauge,
}

/// Counters of the arbiter.
#[derive(Default, Debug)]
pub struct ArbiterStats {
    /// Events passed on.
    pub passed: Counter,
    /// Events dropped (duplicates, stale quotes).
    pub dropped: Counter,
    /// Anomalies by kind.
    pub anomalies: [Counter; ANOMALY_KINDS],
    /// Failovers to a backup source.
    pub failovers: Counter,
    /// Failbacks to the primary.
    pub failbacks: Counter,
    /// Missing trade ids filled later by another line.
    pub gaps_filled: Counter,
}

/// Counters of the candle stage.
#[derive(Default, Debug)]
pub struct CandleStats {
    /// Candles closed, by resolution index.
    pub closed: [Counter; 5],
    /// Trades too late to apply (beyond the lateness window, or their candle is gone).
    pub late: Counter,
    /// Candles emitted again after a late trade was applied.
    pub revisions: Counter,
    /// Flat candles emitted for buckets without trades.
    pub filled: Counter,
    /// Trades after which the live candles were not emitted (shed under a breach).
    pub live_shed: Counter,
}

/// Counters of indicators and signals.
#[derive(Default, Debug)]
pub struct StrategyStats {
    /// Indicator updates.
    pub indicator_updates: Counter,
    /// Indicator states rewound to apply a revised candle.
    pub indicator_rewinds: Counter,
    /// Revisions of candles older than the last one (not applied to indicators).
    pub indicator_stale_revisions: Counter,
    /// A digest of every closed-candle indicator update the signals stage received, in order
    /// ([`crate::core::IndicatorUpdate::fold`]): equal digests, equal indicator streams.
    pub indicator_digest: Counter,
    /// Decisions that acted (entries, exits, reversals).
    pub signals: Counter,
    /// Decisions taken (one per strategy, instrument and step).
    pub decisions: Counter,
    /// Order intents the strategies emitted.
    pub intents: Counter,
}

/// Counters of risk + orders (the trader stage).
#[derive(Default, Debug)]
pub struct RiskStats {
    /// Intents checked by the risk engine.
    pub checks: Counter,
    /// Orders sent to the venue (first sends, retries and replacements).
    pub orders: Counter,
    /// Intents refused by the risk engine.
    pub rejected: Counter,
    /// Fills applied.
    pub fills: Counter,
    /// Execution reports the order state machine or the risk engine refused.
    pub bad_reports: Counter,
    /// Kill-switch trips.
    pub kill_trips: Counter,
    /// Exits the risk engine sent itself (stops, take-profits, flattening).
    pub risk_exits: Counter,
    /// Retries and replacements the risk engine refused (never sent).
    pub refused_replacements: Counter,
    /// Intents the blotter could not take (table full, bad quantity...).
    pub submit_refused: Counter,
    /// Realized PnL, quote at 10⁻⁸.
    pub realized: Gauge,
    /// Fees paid, quote at 10⁻⁸.
    pub fees: Gauge,
    /// Unrealized PnL at the last mark, quote at 10⁻⁸.
    pub unrealized: Gauge,
    /// Cash, quote at 10⁻⁸.
    pub cash: Gauge,
    /// Equity (cash + positions at their marks), quote at 10⁻⁸.
    pub equity: Gauge,
    /// 1 while the kill switch is on.
    pub kill_switch: Gauge,
    /// 1 while the health monitor throttles opening orders.
    pub throttled: Gauge,
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
    /// Executions the report queue could not hold (must stay 0).
    pub lost_reports: Gauge,
    /// The venue account's cash after its last fill, quote at 10⁻⁸.
    pub cash: Gauge,
    /// The venue account's fees, quote at 10⁻⁸.
    pub fees: Gauge,
    /// The venue account's realized PnL, quote at 10⁻⁸.
    pub realized: Gauge,
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
    /// Per source, written by the parse stage.
    pub sources: PerSource<SourceStats>,
    /// Per source, written by the arbiter.
    pub source_arb: PerSource<SourceArbStats>,
}

impl LaneStats {
    /// Candles closed at a resolution.
    pub fn candles_closed(&self, r: Resolution) -> u64 {
        self.candles.closed[r.index()].get()
    }
}
