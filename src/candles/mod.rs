//! Trades → OHLCV candles at every configured resolution, UTC-aligned, in exchange time.
//!
//! Each trade updates one open bucket per resolution directly (not a cascade of closed
//! candles), so a coarse candle closes on the first trade of its next bucket, not one fine
//! candle later. Buckets without trades emit nothing. A trade older than its open bucket is a
//! late trade: counted, flagged on the candle, journaled, not applied (revisions come later).
//! Every input event is passed on after the candles it closed, so downstream sees a candle
//! before the trade that closed it.
//!
//! State is a fixed table of instruments × resolutions allocated at start; nothing allocates
//! after.

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{Candle, Envelope, InstrumentId, Payload, Price, Qty, Resolution, Sink, Trade};

#[derive(Clone, Copy)]
struct Builder {
    open: Option<Candle>,
}

/// The candle stage.
pub struct Candles {
    resolutions: Vec<Resolution>,
    /// `instrument * resolutions.len() + r`.
    builders: Vec<Builder>,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl Candles {
    /// Candles for up to `instruments` instruments at `resolutions`.
    pub fn new(
        instruments: usize,
        resolutions: &[Resolution],
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        Self {
            resolutions: resolutions.to_vec(),
            builders: vec![Builder { open: None }; instruments * resolutions.len()],
            stats,
            cold,
        }
    }

    fn start(t: &Trade, r: Resolution, open_ns: u64) -> Candle {
        Candle {
            instrument: t.instrument,
            resolution: r,
            open_ns,
            open: t.price,
            high: t.price,
            low: t.price,
            close: t.price,
            volume: t.qty,
            quote_volume: quote(t.price, t.qty),
            trades: 1,
            first_trade_id: t.trade_id,
            last_trade_id: t.trade_id,
            flags: 0,
        }
    }

    /// Updates candles with a trade; emits closed candles, then the event itself.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        if let Payload::Trade(t) = env.payload {
            self.on_trade(env, &t, out);
        }
        out.emit(*env);
    }

    fn on_trade(&mut self, env: &Envelope, t: &Trade, out: &mut impl Sink<Envelope>) {
        let n = self.resolutions.len();
        let base = t.instrument.index() * n;
        for (ri, &r) in self.resolutions.iter().enumerate() {
            let Some(b) = self.builders.get_mut(base + ri) else {
                return;
            };
            let open_ns = t.trade_ns - t.trade_ns % r.nanos();
            match &mut b.open {
                None => b.open = Some(Self::start(t, r, open_ns)),
                Some(c) if open_ns == c.open_ns => {
                    if t.trade_id != c.last_trade_id.wrapping_add(1) {
                        c.flags |= Candle::FLAG_GAP;
                    }
                    c.high = c.high.max(t.price);
                    c.low = c.low.min(t.price);
                    c.close = t.price;
                    c.volume = Qty(c.volume.0.saturating_add(t.qty.0));
                    c.quote_volume = c.quote_volume.saturating_add(quote(t.price, t.qty));
                    c.trades = c.trades.saturating_add(1);
                    c.last_trade_id = t.trade_id;
                }
                Some(c) if open_ns > c.open_ns => {
                    let closed = *c;
                    *c = Self::start(t, r, open_ns);
                    self.stats.candles.closed[r.index()].inc();
                    out.emit(Envelope {
                        payload: Payload::Candle(closed),
                        ..*env
                    });
                }
                Some(c) => {
                    c.flags |= Candle::FLAG_LATE;
                    if ri == 0 {
                        self.stats.candles.late.inc();
                        self.cold.send(
                            ColdRecord::Anomaly {
                                source: crate::core::cold::NO_SOURCE,
                                market_ns: env.market_ns,
                                kind: AnomalyKind::LateTrade,
                                instrument: Some(t.instrument),
                                seq: env.seq,
                                expected: c.open_ns as i64,
                                got: t.trade_ns as i64,
                            },
                            &self.stats.cold_drops[2],
                        );
                    }
                }
            }
        }
    }

    /// The open (unfinished) candle of an instrument at a resolution, if any.
    pub fn open_candle(&self, id: InstrumentId, r: Resolution) -> Option<Candle> {
        let ri = self.resolutions.iter().position(|&x| x == r)?;
        self.builders
            .get(id.index() * self.resolutions.len() + ri)?
            .open
    }
}

fn quote(p: Price, q: Qty) -> i64 {
    let v = crate::core::num::notional(p, q);
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::channel;

    fn trade(id: u64, ms: u64, px: i64, qty: i64) -> Envelope {
        Envelope {
            ingress_ns: 0,
            stamp_ns: 0,
            recv_ns: 0,
            market_ns: ms * 1_000_000,
            seq: id,
            payload: Payload::Trade(Trade {
                instrument: InstrumentId(0),
                trade_id: id,
                price: Price(px),
                qty: Qty(qty),
                trade_ns: ms * 1_000_000,
                event_ns: ms * 1_000_000,
                buyer_is_maker: false,
                source: 0,
                flags: 0,
            }),
        }
    }

    fn candles(out: &[Envelope]) -> Vec<Candle> {
        out.iter()
            .filter_map(|e| match e.payload {
                Payload::Candle(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn aggregates_and_closes_on_the_next_bucket() {
        let stats = Arc::new(LaneStats::default());
        let (tx, _rx) = channel(64).unwrap();
        let mut c = Candles::new(
            1,
            &[Resolution::S1, Resolution::M1],
            stats.clone(),
            ColdTx::new(tx),
        );
        let mut out = Vec::new();
        c.on_event(&trade(1, 60_000, 100, 1), &mut out);
        c.on_event(&trade(2, 60_500, 105, 2), &mut out);
        c.on_event(&trade(3, 60_900, 95, 3), &mut out);
        c.on_event(&trade(4, 61_000, 101, 4), &mut out);
        let got = candles(&out);
        assert_eq!(got.len(), 1);
        let k = got[0];
        assert_eq!(
            (k.open, k.high, k.low, k.close),
            (Price(100), Price(105), Price(95), Price(95))
        );
        assert_eq!(k.volume, Qty(6));
        assert_eq!(k.trades, 3);
        assert_eq!(k.open_ns, 60_000_000_000);
        assert_eq!(k.flags, 0);
        // The candle comes before the trade that closed it.
        assert!(matches!(out[3].payload, Payload::Candle(_)));
        assert!(matches!(out[4].payload, Payload::Trade(_)));
        // Next minute: the 1s and the 1m close together.
        c.on_event(&trade(7, 120_000, 110, 1), &mut out);
        let got = candles(&out);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].resolution, Resolution::M1);
        assert_eq!(got[2].trades, 4);
        assert_eq!(got[2].close, Price(101));
        assert_eq!(got[1].flags, 0);
        assert_eq!(stats.candles_closed(Resolution::S1), 2);
        assert_eq!(stats.candles_closed(Resolution::M1), 1);
    }

    #[test]
    fn late_trades_are_flagged_not_applied() {
        let stats = Arc::new(LaneStats::default());
        let (tx, mut rx) = channel(64).unwrap();
        let mut c = Candles::new(1, &[Resolution::S1], stats.clone(), ColdTx::new(tx));
        let mut out = Vec::new();
        c.on_event(&trade(1, 2_000, 100, 1), &mut out);
        c.on_event(&trade(2, 1_500, 1, 1), &mut out);
        let open = c.open_candle(InstrumentId(0), Resolution::S1).unwrap();
        assert_eq!(open.low, Price(100));
        assert_eq!(open.flags & Candle::FLAG_LATE, Candle::FLAG_LATE);
        assert_eq!(stats.candles.late.get(), 1);
        assert!(rx.try_pop().is_some());
    }

    #[test]
    fn unknown_instrument_is_ignored_not_a_panic() {
        let stats = Arc::new(LaneStats::default());
        let (tx, _rx) = channel(2).unwrap();
        let mut c = Candles::new(1, &[Resolution::S1], stats, ColdTx::new(tx));
        let mut e = trade(1, 1, 1, 1);
        if let Payload::Trade(t) = &mut e.payload {
            t.instrument = InstrumentId(9);
        }
        let mut out = Vec::new();
        c.on_event(&e, &mut out);
        assert_eq!(out.len(), 1);
    }
}
