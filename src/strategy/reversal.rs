//! Reversal: RSI extremes with a Bollinger band re-entry.
//!
//! **Idea.** A close outside a Bollinger band is a stretch; the close back inside the band,
//! shortly after the RSI was at an extreme, is the stretch snapping back: fade the move
//! toward the middle band. The re-entry fires a [`Pulse`] (strength 0.5 … 1 with the RSI's
//! depth beyond its bound, 10 points = full) that fades over `decay_bars` candles, or stops
//! when the close reaches the middle band (the target). Under it lies a continuous
//! "stretch" term, so slower resolutions that are themselves stretched agree with a faster
//! one's re-entry:
//!
//! `stretch = ½ (−band_position + rsi_pressure)`, `band_position = (close − middle) /
//! (upper − middle)` and `rsi_pressure = (50 − RSI) / (50 − oversold)` (or over
//! `overbought − 50` above 50), each clamped to [-1, 1];
//! `raw = clamp(pulse + stretch_weight × stretch)`.
//!
//! State: an RSI, Bollinger bands and a few scalars per instrument × resolution, allocated
//! in `reserve`.

use serde::Deserialize;

use super::api::{unit, Ctx, PortfolioView, Strategy};
use super::builtin::{slot, Pulse, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;
use crate::indicators::{Bbands, Rsi};

/// Reversal parameters.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversalConfig {
    /// RSI period. Default 14.
    #[serde(default = "default_rsi_period")]
    pub rsi_period: usize,
    /// RSI at or below this is oversold. Default 30.
    #[serde(default = "default_oversold")]
    pub oversold: f64,
    /// RSI at or above this is overbought. Default 70.
    #[serde(default = "default_overbought")]
    pub overbought: f64,
    /// Bollinger period. Default 20.
    #[serde(default = "default_bb_period")]
    pub bb_period: usize,
    /// Bollinger width in standard deviations. Default 2.
    #[serde(default = "default_bb_dev")]
    pub bb_dev: f64,
    /// The RSI extreme must be at most this many candles before the re-entry. Default 3.
    #[serde(default = "default_rsi_lookback")]
    pub rsi_lookback: u32,
    /// Candles a re-entry signal fades over. Default 5.
    #[serde(default = "default_decay_bars")]
    pub decay_bars: u32,
    /// Weight of the continuous stretch term, in [0, 1]. Default 0.5.
    #[serde(default = "default_stretch_weight")]
    pub stretch_weight: f64,
}

fn default_rsi_period() -> usize {
    14
}
fn default_oversold() -> f64 {
    30.0
}
fn default_overbought() -> f64 {
    70.0
}
fn default_bb_period() -> usize {
    20
}
fn default_bb_dev() -> f64 {
    2.0
}
fn default_rsi_lookback() -> u32 {
    3
}
fn default_decay_bars() -> u32 {
    5
}
fn default_stretch_weight() -> f64 {
    0.5
}

impl Default for ReversalConfig {
    fn default() -> Self {
        Self {
            rsi_period: default_rsi_period(),
            oversold: default_oversold(),
            overbought: default_overbought(),
            bb_period: default_bb_period(),
            bb_dev: default_bb_dev(),
            rsi_lookback: default_rsi_lookback(),
            decay_bars: default_decay_bars(),
            stretch_weight: default_stretch_weight(),
        }
    }
}

impl ReversalConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.rsi_period == 0 || self.bb_period < 2 {
            return Err(invalid(
                format!("{key}.rsi_period"),
                "need rsi_period >= 1 and bb_period >= 2",
            ));
        }
        if !(0.0 < self.oversold
            && self.oversold < 50.0
            && 50.0 < self.overbought
            && self.overbought < 100.0)
        {
            return Err(invalid(
                format!("{key}.oversold"),
                "need 0 < oversold < 50 < overbought < 100",
            ));
        }
        if !(self.bb_dev.is_finite() && self.bb_dev > 0.0) {
            return Err(invalid(format!("{key}.bb_dev"), "must be > 0"));
        }
        if self.decay_bars == 0 {
            return Err(invalid(format!("{key}.decay_bars"), "must be >= 1"));
        }
        if !(0.0..=1.0).contains(&self.stretch_weight) {
            return Err(invalid(
                format!("{key}.stretch_weight"),
                "must be in [0, 1]",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct State {
    rsi: Rsi,
    bands: Bbands,
    /// Where the previous close was: −1 below the lower band, +1 above the upper, 0 inside.
    prev_outside: i8,
    /// Candles since the RSI was last oversold / overbought (`u32::MAX`: never).
    oversold_age: u32,
    overbought_age: u32,
    /// Deepest RSI excursion beyond the bound in the current extreme episode (RSI points).
    oversold_depth: f64,
    overbought_depth: f64,
    pulse: Pulse,
}

/// The reversal strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct Reversal {
    cfg: ReversalConfig,
    state: Vec<State>,
}

impl Reversal {
    /// With `cfg` (validated).
    pub fn new(cfg: ReversalConfig) -> Self {
        Self {
            cfg,
            state: Vec::new(),
        }
    }
}

/// RSI points beyond the bound that make a full-strength re-entry.
const FULL_DEPTH: f64 = 10.0;

impl Strategy for Reversal {
    fn name(&self) -> &str {
        "reversal"
    }

    fn reserve(&mut self, instruments: usize) {
        let s = State {
            rsi: Rsi::new(self.cfg.rsi_period),
            bands: Bbands::new(self.cfg.bb_period, self.cfg.bb_dev, self.cfg.bb_dev),
            prev_outside: 0,
            oversold_age: u32::MAX,
            overbought_age: u32::MAX,
            oversold_depth: 0.0,
            overbought_depth: 0.0,
            pulse: Pulse::default(),
        };
        self.state = vec![s; instruments * SLOTS_PER_INSTRUMENT];
    }

    #[inline]
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        let cfg = &self.cfg;
        let frame = ctx.frame(resolution)?;
        let s = self
            .state
            .get_mut(slot(ctx.instrument().index(), resolution))?;
        let close = frame.bar().close;
        let rsi = s.rsi.update(close);
        let bands = s.bands.update(close);
        s.pulse.age();
        s.oversold_age = s.oversold_age.saturating_add(1);
        s.overbought_age = s.overbought_age.saturating_add(1);
        let (rsi, b) = (rsi?, bands?);

        if rsi <= cfg.oversold {
            let fresh = s.oversold_age > cfg.rsi_lookback.saturating_add(1);
            let depth = cfg.oversold - rsi;
            s.oversold_depth = if fresh {
                depth
            } else {
                s.oversold_depth.max(depth)
            };
            s.oversold_age = 0;
        }
        if rsi >= cfg.overbought {
            let fresh = s.overbought_age > cfg.rsi_lookback.saturating_add(1);
            let depth = rsi - cfg.overbought;
            s.overbought_depth = if fresh {
                depth
            } else {
                s.overbought_depth.max(depth)
            };
            s.overbought_age = 0;
        }

        let outside: i8 = if close < b.lower {
            -1
        } else if close > b.upper {
            1
        } else {
            0
        };
        if s.prev_outside == -1 && outside != -1 && s.oversold_age <= cfg.rsi_lookback {
            let strength = 0.5 + 0.5 * (s.oversold_depth / FULL_DEPTH).min(1.0);
            s.pulse.fire(strength, cfg.decay_bars);
        } else if s.prev_outside == 1 && outside != 1 && s.overbought_age <= cfg.rsi_lookback {
            let strength = 0.5 + 0.5 * (s.overbought_depth / FULL_DEPTH).min(1.0);
            s.pulse.fire(-strength, cfg.decay_bars);
        }
        s.prev_outside = outside;
        // Target reached: back at the middle band.
        let d = s.pulse.direction();
        if (d > 0.0 && close >= b.middle) || (d < 0.0 && close <= b.middle) {
            s.pulse.cancel();
        }

        let half = b.upper - b.middle;
        let band_pos = if half > 0.0 {
            unit((close - b.middle) / half)
        } else {
            0.0
        };
        let rsi_pressure = if rsi < 50.0 {
            unit((50.0 - rsi) / (50.0 - cfg.oversold))
        } else {
            -unit((rsi - 50.0) / (cfg.overbought - 50.0))
        };
        let stretch = 0.5 * (rsi_pressure - band_pos);
        Some(unit(s.pulse.current() + cfg.stretch_weight * stretch))
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::testkit;
    use super::*;

    /// Quiet, then a plunge far below the lower band with RSI collapsing, then a bounce.
    fn plunge_and_bounce() -> Vec<f64> {
        let mut c: Vec<f64> = (0..40).map(|i| 100.0 + (i % 3) as f64 * 0.1).collect();
        c.extend([99.0, 97.5, 96.0, 94.0]); // below the lower band, RSI very low
        c.push(97.0); // back inside the band, still under the middle
        c.extend([98.0, 99.5, 100.5]); // up to the middle band

        c
    }

    #[test]
    fn reentry_after_oversold_goes_long_and_stops_at_the_middle() {
        let candles = testkit::from_closes(&plunge_and_bounce(), 10.0);
        let cfg = ReversalConfig {
            stretch_weight: 0.0,
            ..ReversalConfig::default()
        };
        let sig = testkit::run(&mut Reversal::new(cfg), &candles);
        assert!(sig[..19].iter().all(Option::is_none));
        assert!(sig[40..44].iter().all(|s| *s == Some(0.0)), "{sig:?}");
        let fire = sig[44].unwrap();
        assert!(fire >= 0.99, "deep oversold → full strength: {fire}");
        let next = sig[45].unwrap();
        assert!(next > 0.0 && next < fire, "fading: {sig:?}");
        // Middle band reached on a later close (mean ~100): cancelled.
        assert_eq!(sig.last().unwrap().unwrap(), 0.0, "{sig:?}");
    }

    #[test]
    fn mirror_image_goes_short() {
        let closes: Vec<f64> = plunge_and_bounce().iter().map(|c| 200.0 - c).collect();
        let candles = testkit::from_closes(&closes, 10.0);
        let cfg = ReversalConfig {
            stretch_weight: 0.0,
            ..ReversalConfig::default()
        };
        let sig = testkit::run(&mut Reversal::new(cfg), &candles);
        assert!(sig[44].unwrap() <= -0.99, "{sig:?}");
    }

    #[test]
    fn stretch_leans_against_the_move_without_an_event() {
        // A steady slide: no re-entry, but the close sits low in the bands with RSI low.
        let closes: Vec<f64> = (0..50).map(|i| 100.0 - i as f64 * 0.3).collect();
        let candles = testkit::from_closes(&closes, 10.0);
        let sig = testkit::run(&mut Reversal::new(ReversalConfig::default()), &candles);
        let last = sig.last().unwrap().unwrap();
        assert!(last > 0.3 && last <= 0.5, "{last}");
    }

    #[test]
    fn config_is_checked() {
        let bad = ReversalConfig {
            oversold: 60.0,
            ..ReversalConfig::default()
        };
        assert!(bad.validate("r").is_err());
        assert!(ReversalConfig::default().validate("r").is_ok());
        assert!(toml::from_str::<ReversalConfig>("oversould = 1.0").is_err());
    }
}
