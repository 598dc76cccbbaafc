//! The arbiter: one clean, ordered stream per instrument.
//!
//! For now a single source per instrument passes through, with per-instrument checks: trade
//! ids must increase (a repeat is a duplicate and is dropped; a jump is a gap and is flagged),
//! book updates must not go backwards (an older `u` is out of order and dropped), and a book
//! whose bid is at or above its ask is flagged as crossed. Redundant A/B lines and backup
//! venues merge here later.
//!
//! State is one fixed-size row per instrument, allocated at start; nothing allocates after.

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{Envelope, InstrumentId, Payload, Sink};

#[derive(Clone, Copy, Default)]
struct Seen {
    last_trade_id: Option<u64>,
    last_update_id: Option<u64>,
}

/// The arbiter stage.
pub struct Arbiter {
    seen: Vec<Seen>,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl Arbiter {
    /// State for up to `instruments` instruments.
    pub fn new(instruments: usize, stats: Arc<LaneStats>, cold: ColdTx) -> Self {
        Self {
            seen: vec![Seen::default(); instruments],
            stats,
            cold,
        }
    }

    fn flag(
        &mut self,
        env: &Envelope,
        kind: AnomalyKind,
        id: InstrumentId,
        expected: u64,
        got: u64,
    ) {
        self.stats.arbiter.anomalies[kind.index()].inc();
        self.cold.send(
            ColdRecord::Anomaly {
                source: crate::core::cold::NO_SOURCE,
                market_ns: env.market_ns,
                kind,
                instrument: Some(id),
                seq: env.seq,
                expected: expected as i64,
                got: got as i64,
            },
            &self.stats.cold_drops[1],
        );
    }

    /// Checks one event; passes it on unless it is a duplicate or stale.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        let pass = match env.payload {
            Payload::Trade(t) => match self.seen.get(t.instrument.index()).copied() {
                None => true,
                Some(seen) => match seen.last_trade_id {
                    Some(last) if t.trade_id <= last => {
                        self.flag(
                            env,
                            AnomalyKind::Duplicate,
                            t.instrument,
                            last.saturating_add(1),
                            t.trade_id,
                        );
                        false
                    }
                    last => {
                        if let Some(last) = last {
                            if t.trade_id > last.saturating_add(1) {
                                self.flag(
                                    env,
                                    AnomalyKind::Gap,
                                    t.instrument,
                                    last.saturating_add(1),
                                    t.trade_id,
                                );
                            }
                        }
                        self.seen[t.instrument.index()].last_trade_id = Some(t.trade_id);
                        true
                    }
                },
            },
            Payload::BookTicker(b) => match self.seen.get(b.instrument.index()).copied() {
                None => true,
                Some(seen) => match seen.last_update_id {
                    Some(last) if b.update_id < last => {
                        self.flag(
                            env,
                            AnomalyKind::OutOfOrder,
                            b.instrument,
                            last,
                            b.update_id,
                        );
                        false
                    }
                    _ => {
                        if b.bid_px >= b.ask_px && b.ask_px.0 > 0 {
                            self.flag(
                                env,
                                AnomalyKind::CrossedBook,
                                b.instrument,
                                b.ask_px.0 as u64,
                                b.bid_px.0 as u64,
                            );
                        }
                        self.seen[b.instrument.index()].last_update_id = Some(b.update_id);
                        true
                    }
                },
            },
            _ => true,
        };
        if pass {
            self.stats.arbiter.passed.inc();
            out.emit(*env);
        } else {
            self.stats.arbiter.dropped.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{BookTicker, Price, Qty, Trade};
    use crate::ring::channel;

    fn trade(id: u64) -> Envelope {
        Envelope {
            ingress_ns: 0,
            stamp_ns: 0,
            recv_ns: 0,
            market_ns: 0,
            seq: id,
            payload: Payload::Trade(Trade {
                instrument: InstrumentId(0),
                trade_id: id,
                price: Price(1),
                qty: Qty(1),
                trade_ns: 0,
                event_ns: 0,
                buyer_is_maker: false,
                source: 0,
                flags: 0,
            }),
        }
    }

    fn book(u: u64, bid: i64, ask: i64) -> Envelope {
        let mut e = trade(0);
        e.payload = Payload::BookTicker(BookTicker {
            instrument: InstrumentId(0),
            update_id: u,
            bid_px: Price(bid),
            bid_qty: Qty(1),
            ask_px: Price(ask),
            ask_qty: Qty(1),
            source: 0,
            event_ns: 0,
        });
        e
    }

    #[test]
    fn drops_duplicates_flags_gaps_and_crossed_books() {
        let stats = Arc::new(LaneStats::default());
        let (tx, mut rx) = channel(64).unwrap();
        let mut a = Arbiter::new(4, stats.clone(), ColdTx::new(tx));
        let mut out = Vec::new();
        for id in [1, 2, 2, 1, 5, 6] {
            a.on_event(&trade(id), &mut out);
        }
        a.on_event(&book(10, 1, 2), &mut out);
        a.on_event(&book(9, 1, 2), &mut out);
        a.on_event(&book(11, 3, 2), &mut out);
        assert_eq!(out.len(), 4 + 2);
        let a_st = &stats.arbiter;
        assert_eq!(a_st.anomalies[AnomalyKind::Duplicate.index()].get(), 2);
        assert_eq!(a_st.anomalies[AnomalyKind::Gap.index()].get(), 1);
        assert_eq!(a_st.anomalies[AnomalyKind::OutOfOrder.index()].get(), 1);
        assert_eq!(a_st.anomalies[AnomalyKind::CrossedBook.index()].get(), 1);
        assert_eq!(a_st.dropped.get(), 3);
        let mut recs = 0;
        while rx.try_pop().is_some() {
            recs += 1;
        }
        assert_eq!(recs, 5);
    }
}
