//! Venues. The paper venue simulates a taker on the public book: a market order fills at the
//! best opposite price for up to the displayed quantity, the rest is cancelled (IOC), and the
//! taker fee is charged. Liquidity it took stays taken until the next book update, so two
//! orders cannot both eat the same displayed size.
//!
//! The venue is the last stage and the one place that writes order and fill rows, so their
//! order in `orders.csv` / `fills.csv` is the order the venue saw them in: deterministic for a
//! given input, whatever the topology. Execution reports go back up on the one return ring.

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::num::{notional, SCALE};
use crate::core::stats::LaneStats;
use crate::core::{
    Envelope, ExecKind, ExecReport, OrderRequest, Payload, Price, Qty, RejectReason, Side, Sink,
};

pub mod sim;

#[derive(Clone, Copy, Default)]
struct Top {
    bid: Price,
    bid_qty: Qty,
    ask: Price,
    ask_qty: Qty,
}

/// The paper venue.
pub struct PaperVenue {
    tops: Vec<Top>,
    taker_fee_bps: i64,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl PaperVenue {
    /// For up to `instruments` instruments; fee in basis points at 10⁻⁸ scale.
    pub fn new(
        instruments: usize,
        taker_fee_bps: i64,
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        Self {
            tops: vec![Top::default(); instruments],
            taker_fee_bps,
            stats,
            cold,
        }
    }

    /// Fee for a fill, quote at 10⁻⁸, rounded half up once from the exact product
    /// price × qty × bps (10⁻²⁴ scale). Falls back to rounding the notional first only if that
    /// product would not fit an `i128` (prices and sizes far beyond any market).
    fn fee(&self, price: Price, qty: Qty) -> i64 {
        let exact = i128::from(price.0)
            .checked_mul(i128::from(qty.0))
            .and_then(|pq| pq.checked_mul(i128::from(self.taker_fee_bps)));
        let (raw, denom) = match exact {
            Some(v) => (v, 10_000 * i128::from(SCALE) * i128::from(SCALE)),
            None => (
                notional(price, qty).saturating_mul(i128::from(self.taker_fee_bps)),
                10_000 * i128::from(SCALE),
            ),
        };
        ((raw + denom / 2) / denom).clamp(0, i128::from(i64::MAX)) as i64
    }

    /// Updates the book or executes an order; execution reports go to `reports`.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, reports: &mut impl Sink<ExecReport>) {
        match env.payload {
            Payload::BookTicker(b) => {
                if let Some(t) = self.tops.get_mut(b.instrument.index()) {
                    *t = Top {
                        bid: b.bid_px,
                        bid_qty: b.bid_qty,
                        ask: b.ask_px,
                        ask_qty: b.ask_qty,
                    };
                }
            }
            Payload::Order(o) => self.on_order(env, &o, reports),
            _ => {}
        }
    }

    fn on_order(&mut self, env: &Envelope, o: &OrderRequest, reports: &mut impl Sink<ExecReport>) {
        let drops = &self.stats.cold_drops[6];
        self.cold.send(
            ColdRecord::Order {
                market_ns: env.market_ns,
                order: *o,
                rejected: o.risk_reject,
            },
            drops,
        );
        if o.risk_reject.is_some() {
            return;
        }
        self.stats.venue.orders.inc();
        let top = self
            .tops
            .get(o.instrument.index())
            .copied()
            .unwrap_or_default();
        let (px, avail) = match o.side {
            Side::Buy => (top.ask, top.ask_qty),
            Side::Sell => (top.bid, top.bid_qty),
        };
        let filled = Qty(o.qty.0.min(avail.0).max(0));
        let report = if px.0 <= 0 || filled.0 == 0 {
            self.stats.venue.rejected.inc();
            ExecReport {
                client_order_id: o.client_order_id,
                instrument: o.instrument,
                side: o.side,
                kind: ExecKind::Rejected(RejectReason::NoLiquidity),
                price: Price::ZERO,
                qty: Qty::ZERO,
                fee: 0,
                done: true,
                market_ns: env.market_ns,
            }
        } else {
            if let Some(t) = self.tops.get_mut(o.instrument.index()) {
                match o.side {
                    Side::Buy => t.ask_qty.0 -= filled.0,
                    Side::Sell => t.bid_qty.0 -= filled.0,
                }
            }
            self.stats.venue.fills.inc();
            ExecReport {
                client_order_id: o.client_order_id,
                instrument: o.instrument,
                side: o.side,
                kind: ExecKind::Fill,
                price: px,
                qty: filled,
                fee: self.fee(px, filled),
                done: true,
                market_ns: env.market_ns,
            }
        };
        self.cold.send(
            ColdRecord::Exec {
                report,
                order_qty: o.qty,
            },
            drops,
        );
        reports.emit(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{BookTicker, InstrumentId, OrderType};
    use crate::ring::channel;

    const S: i64 = SCALE;

    fn env(payload: Payload) -> Envelope {
        Envelope::at(5, payload)
    }

    fn order(id: u64, side: Side, qty: i64) -> Envelope {
        env(Payload::Order(OrderRequest {
            client_order_id: id,
            instrument: InstrumentId(0),
            side,
            order_type: OrderType::Market,
            price: Price(0),
            qty: Qty(qty),
            risk_reject: None,
        }))
    }

    #[test]
    fn fills_at_the_touch_takes_liquidity_and_charges_fees() {
        let (tx, _rx) = channel(64).unwrap();
        let mut v = PaperVenue::new(1, 10 * S, Arc::new(LaneStats::default()), ColdTx::new(tx));
        let mut reps = Vec::new();
        v.on_event(&order(1, Side::Buy, S), &mut reps);
        assert_eq!(reps[0].kind, ExecKind::Rejected(RejectReason::NoLiquidity));
        v.on_event(
            &env(Payload::BookTicker(BookTicker {
                instrument: InstrumentId(0),
                update_id: 1,
                bid_px: Price(100 * S),
                bid_qty: Qty(2 * S),
                ask_px: Price(101 * S),
                ask_qty: Qty(S / 2),
                source: 0,
                event_ns: 0,
            })),
            &mut reps,
        );
        v.on_event(&order(2, Side::Buy, S), &mut reps);
        assert_eq!(reps[1].kind, ExecKind::Fill);
        assert_eq!(reps[1].price, Price(101 * S));
        assert_eq!(reps[1].qty, Qty(S / 2), "partial: only the displayed size");
        assert!(reps[1].done);
        // 50.5 notional × 10 bps = 0.0505
        assert_eq!(reps[1].fee, 5_050_000);
        // One rounding from the exact product: 666.9e-8 notional × 7.5 bps = 0.500175e-8 → 1.
        let v2 = PaperVenue::new(
            1,
            75 * S / 10,
            Arc::new(LaneStats::default()),
            ColdTx::new(channel(2).unwrap().0),
        );
        assert_eq!(v2.fee(Price(6669), Qty(S / 10)), 1);
        v.on_event(&order(3, Side::Buy, S), &mut reps);
        assert_eq!(
            reps[2].kind,
            ExecKind::Rejected(RejectReason::NoLiquidity),
            "liquidity was taken"
        );
        v.on_event(&order(4, Side::Sell, S), &mut reps);
        assert_eq!((reps[3].price, reps[3].qty), (Price(100 * S), Qty(S)));
        assert_eq!(reps[3].market_ns, 5);
    }
}
