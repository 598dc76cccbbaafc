//! Records hot stages hand to the cold thread, and the never-blocking handle they use.
//!
//! Every record is fixed-size and `Copy`; a stage pushes it onto its own SPSC cold ring with
//! `try_push`. A full ring drops the record and counts the drop — the hot path never waits for
//! the disk. The cold thread turns records into `journal.md`, CSV rows and log lines.

use super::event::{ExecReport, OrderRequest, RejectReason};
use super::instrument::InstrumentId;
use super::num::Qty;
use super::stats::{AnomalyKind, Counter};
use crate::ring::Producer;

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
    /// An order as the venue edge saw it: sent, or refused by risk.
    Order {
        /// Market time.
        market_ns: u64,
        /// The order.
        order: OrderRequest,
        /// `None` when sent; the reason when refused by risk.
        rejected: Option<RejectReason>,
    },
    /// An execution report from the venue.
    Exec {
        /// The report.
        report: ExecReport,
        /// The order's quantity, so a partial fill is not reported as filled.
        order_qty: Qty,
    },
    /// Account snapshot for `equity.csv`.
    Equity {
        /// Market time.
        market_ns: u64,
        /// Cash, quote at 10⁻⁸.
        cash: i64,
        /// Marked value of positions, quote at 10⁻⁸.
        position_value: i64,
    },
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
}

impl ColdTx {
    /// Wraps a ring producer.
    pub fn new(ring: Producer<ColdRecord>) -> Self {
        Self { ring }
    }

    /// Pushes a record, or counts it in `drop_counter` if the ring is full.
    #[inline]
    pub fn send(&mut self, rec: ColdRecord, drop_counter: &Counter) {
        if self.ring.try_push(rec).is_err() {
            drop_counter.inc();
        }
    }
}
