//! Indicators: O(1) incremental updates per closed candle.
//!
//! For each instrument × resolution this stage keeps the EMA pair the EMA-cross strategy
//! reads, and emits an [`IndicatorUpdate`] after every closed candle (the candle itself is
//! passed on first). State is a fixed table allocated at start.

pub mod adx;
pub mod atr;
pub mod bar;
pub mod bbands;
pub mod ema;
pub mod indicator;
pub mod macd;
pub mod obv;
pub mod rsi;
pub mod set;
pub mod sma;
pub mod stoch;
pub mod vwap;
pub mod window;

pub use adx::Adx;
pub use atr::{true_range, Atr};
pub use bar::Bar;
pub use bbands::{Bands, Bbands};
pub use indicator::Indicator;
pub use macd::{Macd, MacdValue};
pub use obv::Obv;
pub use rsi::Rsi;
pub use set::{IndicatorRow, IndicatorSet, COLUMNS};
pub use sma::Sma;
pub use stoch::{Stoch, StochValue};
pub use vwap::{RollingVwap, SessionVwap};
pub use window::{RollingMax, RollingMin, Window};

use std::sync::Arc;

use crate::core::stats::LaneStats;
use crate::core::{Envelope, IndicatorUpdate, Payload, Resolution, Sink};
use ema::Ema;

/// The indicator stage.
pub struct Indicators {
    n_res: usize,
    pairs: Vec<(Ema, Ema)>,
    stats: Arc<LaneStats>,
}

impl Indicators {
    /// EMA(fast)/EMA(slow) for up to `instruments` instruments at every resolution.
    pub fn new(instruments: usize, fast: usize, slow: usize, stats: Arc<LaneStats>) -> Self {
        let n_res = Resolution::ALL.len();
        Self {
            n_res,
            pairs: vec![(Ema::new(fast), Ema::new(slow)); instruments * n_res],
            stats,
        }
    }

    /// Passes the event on; after a candle, emits its indicator values.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        out.emit(*env);
        let Payload::Candle(c) = env.payload else {
            return;
        };
        if c.revision > 0 {
            // A late trade revised a candle the indicators already took: they move on from
            // the first close (state cannot be rewound yet); the revision is counted.
            return;
        }
        let Some((fast, slow)) = self
            .pairs
            .get_mut(c.instrument.index() * self.n_res + c.resolution.index())
        else {
            return;
        };
        let x = c.close.to_f64();
        let ema_fast = fast.update(x);
        let ema_slow = slow.update(x);
        self.stats.strategy.indicator_updates.inc();
        out.emit(Envelope {
            payload: Payload::Indicator(IndicatorUpdate {
                instrument: c.instrument,
                resolution: c.resolution,
                open_ns: c.open_ns,
                close: c.close,
                ema_fast,
                ema_slow,
            }),
            ..*env
        });
    }
}
