//! Indicators and candle patterns: O(1) incremental updates per candle, equal to TA-Lib.
//!
//! The indicator types ([`IndicatorSet`] holds TA-Lib's defaults of all of them) are usable
//! on their own. The stage keeps, per instrument × built resolution, an [`IndicatorSet`], a
//! [`crate::patterns::PatternSet`] and the EMA pair the EMA-cross strategy reads, and after
//! every candle (passed on first) emits an [`IndicatorUpdate`]:
//!
//! * a closed candle updates them (the state before is kept);
//! * a revision of the last closed candle (a late trade, see [`crate::candles`]) rewinds to
//!   that kept state and applies the revised candle instead, so the values are what they would
//!   have been had the trade come in time; a revision of an older candle is counted only;
//! * a live candle ([`crate::core::Candle::FLAG_LIVE`]) gives previews (what the values would
//!   be if it closed now) without changing state.
//!
//! State is a fixed table allocated at start; nothing allocates after.

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
use crate::core::{Candle, Envelope, IndicatorUpdate, Payload, Resolution, Sink};
use crate::patterns::PatternSet;
use ema::Ema;

const COL_RSI: usize = 3;
const COL_MACD_HIST: usize = 6;
const COL_ATR: usize = 10;
const COL_ADX: usize = 14;

/// Everything the stage keeps for one instrument at one resolution.
#[derive(Clone)]
struct Track {
    set: IndicatorSet,
    patterns: PatternSet,
    fast: Ema,
    slow: Ema,
}

impl Track {
    fn copy_from(&mut self, o: &Track) {
        self.set.copy_from(&o.set);
        self.patterns = o.patterns;
        self.fast = o.fast;
        self.slow = o.slow;
    }
}

struct Slot {
    cur: Track,
    /// The state before the last closed candle was applied.
    prev: Track,
    /// Open time of the last closed candle applied.
    last_open_ns: Option<u64>,
}

/// After a panic on a candle: the slot's state before that candle is still in `prev` (kept
/// for revisions, written before the update starts), so the state is restored exactly and
/// the candle can be applied again. A live candle changes no state.
impl crate::core::health::Recover for Indicators {
    fn recover(&mut self, poison: &Envelope) -> bool {
        if let Payload::Candle(c) = poison.payload {
            if c.flags & Candle::FLAG_LIVE == 0 {
                if let Some(slot) = self.slot_of(&c).and_then(|i| self.slots.get_mut(i)) {
                    if slot.last_open_ns == Some(c.open_ns) {
                        let Slot { cur, prev, .. } = slot;
                        cur.copy_from(prev);
                    }
                }
            }
        }
        true
    }
}

/// Packs pattern outputs: bit `2k` when pattern `k` is bullish (> 0), bit `2k + 1` when it is
/// bearish (< 0), `k` in [`crate::patterns::COLUMNS`] order.
pub fn pack_patterns(p: &[i32; 12]) -> u32 {
    let mut bits = 0u32;
    for (k, &v) in p.iter().enumerate() {
        if v > 0 {
            bits |= 1 << (2 * k);
        } else if v < 0 {
            bits |= 1 << (2 * k + 1);
        }
    }
    bits
}

/// The indicator stage.
pub struct Indicators {
    resolutions: Vec<Resolution>,
    slots: Vec<Slot>,
    stats: Arc<LaneStats>,
}

impl Indicators {
    /// State for up to `instruments` instruments at each of `resolutions`; `fast`/`slow` are
    /// the EMA-cross strategy's periods.
    pub fn new(
        instruments: usize,
        resolutions: &[Resolution],
        fast: usize,
        slow: usize,
        stats: Arc<LaneStats>,
    ) -> Self {
        let track = Track {
            set: IndicatorSet::new(),
            patterns: PatternSet::new(),
            fast: Ema::new(fast),
            slow: Ema::new(slow),
        };
        Self {
            resolutions: resolutions.to_vec(),
            slots: (0..instruments * resolutions.len())
                .map(|_| Slot {
                    cur: track.clone(),
                    prev: track.clone(),
                    last_open_ns: None,
                })
                .collect(),
            stats,
        }
    }

    /// The slot of `c`, if the stage keeps one for it.
    fn slot_of(&self, c: &Candle) -> Option<usize> {
        let ri = self.resolutions.iter().position(|&r| r == c.resolution)?;
        Some(c.instrument.index() * self.resolutions.len() + ri)
    }

    /// Passes the event on; after a candle, emits its indicator values.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        out.forward(env);
        let Payload::Candle(c) = env.payload else {
            return;
        };
        let Some(slot) = self.slot_of(&c).and_then(|i| self.slots.get_mut(i)) else {
            return;
        };
        let bar = Bar::of(&c);
        let live = c.flags & Candle::FLAG_LIVE != 0;
        let (row, pats, fast, slow) = if live {
            let t = &slot.cur;
            (
                t.set.preview(&bar),
                t.patterns.preview(&bar),
                t.fast.preview(bar.close),
                t.slow.preview(bar.close),
            )
        } else {
            if c.revision == 0 {
                slot.prev.copy_from(&slot.cur);
                slot.last_open_ns = Some(c.open_ns);
            } else if slot.last_open_ns == Some(c.open_ns) {
                slot.cur.copy_from(&slot.prev);
                self.stats.strategy.indicator_rewinds.inc();
            } else {
                // An older candle: later ones were applied on top of it already.
                self.stats.strategy.indicator_stale_revisions.inc();
                return;
            }
            let t = &mut slot.cur;
            (
                t.set.update(&bar),
                t.patterns.update(&bar),
                t.fast.update(bar.close),
                t.slow.update(bar.close),
            )
        };
        self.stats.strategy.indicator_updates.inc();
        let v = |i: usize| row.values[i].unwrap_or(f64::NAN);
        out.emit(Envelope {
            payload: Payload::Indicator(IndicatorUpdate {
                instrument: c.instrument,
                resolution: c.resolution,
                live,
                revision: c.revision,
                patterns: pack_patterns(&pats),
                open_ns: c.open_ns,
                close: c.close,
                ema_fast: fast.unwrap_or(f64::NAN),
                ema_slow: slow.unwrap_or(f64::NAN),
                rsi: v(COL_RSI),
                macd_hist: v(COL_MACD_HIST),
                atr: v(COL_ATR),
                adx: v(COL_ADX),
            }),
            ..*env
        });
    }
}

#[cfg(test)]
mod stage_tests;

#[cfg(test)]
#[test]
fn column_positions() {
    assert_eq!(COLUMNS[COL_RSI], "rsi_14");
    assert_eq!(COLUMNS[COL_MACD_HIST], "macd_hist");
    assert_eq!(COLUMNS[COL_ATR], "atr_14");
    assert_eq!(COLUMNS[COL_ADX], "adx_14");
}
