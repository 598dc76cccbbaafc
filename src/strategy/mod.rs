//! Strategies: indicator values → signals.
//!
//! The EMA-cross strategy wants to be long when the fast EMA is above the slow one and short
//! (or flat) when below, and says so only when the relation flips. The first ready sample sets
//! the state without a signal: a cross is a change, not a level. State is one row per
//! instrument allocated at start.

pub mod api;
pub mod breakout;
pub mod builtin;
pub mod config;
pub mod host;
pub mod momentum;
pub mod noise;
pub mod pattern;
pub mod reversal;
pub mod scoring;
pub mod sizing;

use std::sync::Arc;

use crate::core::config::EmaCrossSpec;
use crate::core::stats::LaneStats;
use crate::core::{Envelope, Payload, Resolution, Signal, Sink};

/// EMA-cross strategy stage.
pub struct EmaCross {
    enabled: bool,
    resolution: Resolution,
    allow_short: bool,
    /// Signals on market data older than this are warm-up: state updates, no signal.
    live_from_ns: u64,
    /// Last sign of fast − slow per instrument (0 = not ready yet).
    last_sign: Vec<i8>,
    stats: Arc<LaneStats>,
}

impl EmaCross {
    /// For up to `instruments` instruments; no signal before `live_from_ns` (0 = none held back).
    pub fn new(
        instruments: usize,
        spec: &EmaCrossSpec,
        live_from_ns: u64,
        stats: Arc<LaneStats>,
    ) -> Self {
        Self {
            enabled: spec.enabled,
            resolution: spec.resolution,
            allow_short: spec.allow_short,
            live_from_ns,
            last_sign: vec![0; instruments],
            stats,
        }
    }

    /// Passes the event on; on a cross, emits a [`Signal`].
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        out.emit(*env);
        let Payload::Indicator(u) = env.payload else {
            return;
        };
        // Closed candles only: a live preview may still change, and a revision would re-judge
        // a crossing already acted on.
        if !self.enabled || u.resolution != self.resolution || u.live || u.revision > 0 {
            return;
        }
        let (fast, slow) = (u.ema_fast, u.ema_slow);
        if fast.is_nan() || slow.is_nan() {
            return;
        }
        let Some(last) = self.last_sign.get_mut(u.instrument.index()) else {
            return;
        };
        let sign: i8 = if fast > slow {
            1
        } else if fast < slow {
            -1
        } else {
            return; // a tie keeps the previous relation
        };
        let prev = *last;
        *last = sign;
        if prev == 0 || prev == sign || env.market_ns < self.live_from_ns {
            return;
        }
        let direction = if sign < 0 && !self.allow_short {
            0
        } else {
            sign
        };
        self.stats.strategy.signals.inc();
        out.emit(Envelope {
            payload: Payload::Signal(Signal {
                instrument: u.instrument,
                strategy: 0,
                direction,
                ref_price: u.close,
            }),
            ..*env
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{IndicatorUpdate, InstrumentId, Price};

    fn upd(fast: f64, slow: f64) -> Envelope {
        Envelope::at(
            0,
            Payload::Indicator(IndicatorUpdate {
                instrument: InstrumentId(0),
                resolution: Resolution::S1,
                live: false,
                revision: 0,
                patterns: 0,
                open_ns: 0,
                close: Price(1),
                ema_fast: fast,
                ema_slow: slow,
                rsi: f64::NAN,
                macd_hist: f64::NAN,
                atr: f64::NAN,
                adx: f64::NAN,
            }),
        )
    }

    fn signals(allow_short: bool, seq: &[(f64, f64)]) -> Vec<i8> {
        let spec = EmaCrossSpec {
            enabled: true,
            fast: 2,
            slow: 3,
            resolution: Resolution::S1,
            allow_short,
        };
        let mut s = EmaCross::new(1, &spec, 0, Arc::new(LaneStats::default()));
        let mut out = Vec::new();
        for &(f, sl) in seq {
            s.on_event(&upd(f, sl), &mut out);
        }
        out.iter()
            .filter_map(|e| match e.payload {
                Payload::Signal(s) => Some(s.direction),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn signals_on_crosses_only() {
        let seq = [
            (2.0, 1.0),
            (3.0, 1.0),
            (1.0, 2.0),
            (1.0, 2.0),
            (1.0, 1.0),
            (3.0, 2.0),
        ];
        assert_eq!(signals(true, &seq), vec![-1, 1]);
        assert_eq!(signals(false, &seq), vec![0, 1]);
    }
}
