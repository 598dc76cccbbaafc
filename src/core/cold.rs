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
        /// Instrument, if known.
        instrument: Option<InstrumentId>,
        /// Source message index.
        seq: u64,
        /// What was expected (id, sequence, price...), kind-specific.
        expected: i64,
        /// What arrived.
        got: i64,
    },
    /// A message that failed to parse.
    Malformed {
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
