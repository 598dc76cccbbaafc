//! Venues. The pipeline's venue stage is the deterministic paper exchange of [`sim`]: it sees
//! the market (trades, best bid/ask) and the orders and cancels the trader routes to it, in
//! one order, and answers with [`Execution`]s, which the stage queues for the trader (on the
//! same thread, or over the one return ring).
//!
//! Market time drives everything: each envelope first moves the exchange clock to its market
//! time, so orders in transit arrive and reports due are delivered exactly as the latency
//! model says, whatever the wall clock or the thread layout.

pub mod binance;
pub mod encode;
pub mod sim;

use std::sync::Arc;

use crate::core::num::e16_to_e8_i64;
use crate::core::order::{ExecType, Execution};
use crate::core::sink::Fifo;
use crate::core::stats::LaneStats;
use crate::core::{Envelope, InstrumentTable, Payload, Qty, Sink};
use sim::{PaperExchange, PaperSpec, PaperSpecError, WireFull};

/// Executions queued for the trader, counted as they are produced.
struct Reports<'a> {
    queue: &'a mut Fifo<Execution>,
    stats: &'a LaneStats,
}

impl Sink<Execution> for Reports<'_> {
    #[inline]
    fn emit(&mut self, e: Execution) {
        match e.exec {
            ExecType::Fill => self.stats.venue.fills.inc(),
            ExecType::Rejected(_) => self.stats.venue.rejected.inc(),
            _ => {}
        }
        self.queue.emit(e);
    }
}

/// The venue stage: the paper exchange and the queue of its reports.
pub struct VenueStage {
    exchange: PaperExchange,
    reports: Fifo<Execution>,
    fills_seen: u64,
    /// Trades stand for the book where no book ticker was ever seen.
    book_from_trades: bool,
    /// Per instrument: a real book ticker has been seen.
    has_book: Vec<bool>,
    stats: Arc<LaneStats>,
}

impl VenueStage {
    /// A paper exchange for the instruments of `table`, with room for `resting` resting
    /// orders and `in_transit` orders and cancels on the wire.
    pub fn new(
        spec: &PaperSpec,
        table: &InstrumentTable,
        resting: usize,
        in_transit: usize,
        stats: Arc<LaneStats>,
    ) -> Result<Self, PaperSpecError> {
        let exchange = PaperExchange::new(spec, table, resting, in_transit)?;
        // Every report the exchange can hold at once, plus the fills of one ladder walk.
        let cap = (resting + in_transit)
            .saturating_mul(4)
            .saturating_add(64 + spec.depth_touches as usize * 2);
        Ok(Self {
            exchange,
            reports: Fifo::with_capacity(cap),
            fills_seen: 0,
            book_from_trades: spec.book_from_trades,
            has_book: vec![false; table.capacity()],
            stats,
        })
    }

    /// Writes its queues through at build, for long runs (see
    /// [`crate::core::sink::Fifo::prefault`]).
    pub fn prefault(&mut self) {
        self.exchange.prefault();
        self.reports.prefault(Execution::BLANK);
    }

    /// Applies one envelope; any executions it causes are queued (see [`VenueStage::pop`]).
    #[inline]
    pub fn on_event(&mut self, env: &Envelope) {
        let mut out = Reports {
            queue: &mut self.reports,
            stats: &self.stats,
        };
        self.exchange.on_time(env.market_ns, &mut out);
        match env.payload {
            Payload::Trade(t) => {
                let booked = self.has_book.get(t.instrument.index()).copied();
                if self.book_from_trades && booked == Some(false) && t.price.0 > 0 {
                    // Half the representable size each side: never walked through.
                    self.exchange
                        .on_trade_as_book(&t, Qty(i64::MAX / 4), &mut out);
                } else {
                    self.exchange.on_trade(&t, &mut out);
                }
            }
            Payload::BookTicker(b) => {
                if let Some(h) = self.has_book.get_mut(b.instrument.index()) {
                    *h = true;
                }
                self.exchange.on_book_ticker(&b, &mut out);
            }
            Payload::Place(r) => {
                self.stats.venue.orders.inc();
                self.exchange.submit(&r.order, &mut out);
            }
            Payload::Cancel(c) => {
                if let Err(WireFull(c)) = self.exchange.cancel(&c.cancel, &mut out) {
                    // The cancel never left; the blotter re-sends it after its timeout.
                    self.stats.venue.rejected.inc();
                    let _ = c;
                }
            }
            _ => {}
        }
        if self.reports.overflows > 0 {
            self.stats
                .venue
                .lost_reports
                .set(self.reports.overflows as i64);
        }
        let fills = self.stats.venue.fills.get();
        if fills != self.fills_seen {
            // The venue's own books, for the reconciliation with the risk engine's.
            self.fills_seen = fills;
            let a = self.exchange.account();
            self.stats.venue.cash.set(e16_to_e8_i64(a.cash()));
            self.stats.venue.fees.set(e16_to_e8_i64(a.fees()));
            self.stats.venue.realized.set(e16_to_e8_i64(a.realized()));
        }
    }

    /// The oldest queued execution.
    #[inline]
    pub fn pop(&mut self) -> Option<Execution> {
        self.reports.pop()
    }

    /// The exchange (its account and counters), read-only.
    pub fn exchange(&self) -> &PaperExchange {
        &self.exchange
    }
}
