//! Candle patterns with a trend filter.
//!
//! **Idea.** A candle pattern alone is a weak, noisy hint; one that points the way of an
//! established trend (a hammer or a bullish engulfing in an uptrend, a shooting star in a
//! downtrend) marks the end of a pullback, and is worth following. The trend is the side of
//! the close relative to an EMA of `trend_period`, and it counts only while ADX 14 is at
//! least `adx_min` (a market that trends at all).
//!
//! `vote = clamp(Σ pattern / 100)` over the eleven directional patterns (the doji has no
//! direction and is left out); a vote with the trend's sign fires a [`Pulse`] of `vote`,
//! fading over `decay_bars` candles; a vote against the trend is ignored. Under it, a small
//! trend term `trend_weight × trend × min(1, ADX / 50)` (0 when ADX < `adx_min`) lets slower
//! resolutions' trends agree with a faster one's pattern:
//!
//! `raw = clamp(pulse + trend term)`.
//!
//! State: an EMA and a pulse per instrument × resolution, allocated in `reserve`.

use serde::Deserialize;

use super::api::{col, pat, sign, unit, Ctx, PortfolioView, Strategy};
use super::builtin::{slot, Pulse, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;
use crate::indicators::ema::Ema;

/// Pattern-strategy parameters.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// Trend EMA period. Default 50.
    #[serde(default = "default_trend_period")]
    pub trend_period: usize,
    /// ADX 14 at or above this makes the trend count. Default 20.
    #[serde(default = "default_adx_min")]
    pub adx_min: f64,
    /// Candles a pattern signal fades over. Default 3.
    #[serde(default = "default_decay_bars")]
    pub decay_bars: u32,
    /// Weight of the continuous trend term, in [0, 1]. Default 0.3.
    #[serde(default = "default_trend_weight")]
    pub trend_weight: f64,
}

fn default_trend_period() -> usize {
    50
}
fn default_adx_min() -> f64 {
    20.0
}
fn default_decay_bars() -> u32 {
    3
}
fn default_trend_weight() -> f64 {
    0.3
}

impl Default for PatternConfig {
    fn default() -> Self {
        Self {
            trend_period: default_trend_period(),
            adx_min: default_adx_min(),
            decay_bars: default_decay_bars(),
            trend_weight: default_trend_weight(),
        }
    }
}

impl PatternConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.trend_period == 0 {
            return Err(invalid(format!("{key}.trend_period"), "must be >= 1"));
        }
        if !(0.0..=100.0).contains(&self.adx_min) {
            return Err(invalid(format!("{key}.adx_min"), "must be in [0, 100]"));
        }
        if self.decay_bars == 0 {
            return Err(invalid(format!("{key}.decay_bars"), "must be >= 1"));
        }
        if !(0.0..=1.0).contains(&self.trend_weight) {
            return Err(invalid(format!("{key}.trend_weight"), "must be in [0, 1]"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct State {
    trend: Ema,
    pulse: Pulse,
}

/// The candle-pattern strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct CandlePattern {
    cfg: PatternConfig,
    state: Vec<State>,
}

impl CandlePattern {
    /// With `cfg` (validated).
    pub fn new(cfg: PatternConfig) -> Self {
        Self {
            cfg,
            state: Vec::new(),
        }
    }
}

/// ADX at which the trend term is at full weight.
const FULL_ADX: f64 = 50.0;

impl Strategy for CandlePattern {
    fn name(&self) -> &str {
        "pattern"
    }

    fn reserve(&mut self, instruments: usize) {
        let s = State {
            trend: Ema::new(self.cfg.trend_period),
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
        let ema = s.trend.update(close);
        s.pulse.age();
        let (ema, adx) = (ema?, frame.value(col::ADX_14)?);
        let trending = adx >= cfg.adx_min;
        let trend = if trending { sign(close - ema) } else { 0.0 };

        let mut votes = 0.0;
        for (k, &v) in frame.patterns.iter().enumerate() {
            if k != pat::DOJI {
                votes += f64::from(v) / 100.0;
            }
        }
        let vote = unit(votes);
        if vote != 0.0 && sign(vote) == trend {
            s.pulse.fire(vote, cfg.decay_bars);
        }
        let bias = cfg.trend_weight * trend * (adx / FULL_ADX).min(1.0);
        Some(unit(s.pulse.current() + bias))
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::testkit::{self, candle};
    use super::*;
    use crate::core::Candle;

    /// A steady uptrend with a wick every candle (ADX climbs), a small red pullback, then a
    /// big white candle engulfing it.
    fn uptrend_then_engulfing(up: bool) -> Vec<Candle> {
        let d = if up { 1.0 } else { -1.0 };
        let mut v = Vec::new();
        let mut c = 100.0;
        for i in 0..80 {
            let o = c;
            c += d * 0.5;
            v.push(candle(i, o, o.max(c) + 0.2, o.min(c) - 0.2, c, 10.0));
        }
        // Pullback candle against the trend, then an engulfing candle with the trend.
        let o = c;
        c -= d * 0.4;
        v.push(candle(80, o, o.max(c) + 0.05, o.min(c) - 0.05, c, 10.0));
        let (o2, c2) = (c - d * 0.1, o + d * 0.8);
        v.push(candle(
            81,
            o2,
            o2.max(c2) + 0.05,
            o2.min(c2) - 0.05,
            c2,
            10.0,
        ));
        v
    }

    #[test]
    fn engulfing_with_the_trend_fires() {
        let cfg = PatternConfig {
            trend_weight: 0.0,
            ..PatternConfig::default()
        };
        let sig = testkit::run(
            &mut CandlePattern::new(cfg.clone()),
            &uptrend_then_engulfing(true),
        );
        assert!(sig[..40].iter().all(Option::is_none));
        let last = sig.last().unwrap().unwrap();
        assert!(last >= 0.8, "{sig:?}");
        let sig = testkit::run(&mut CandlePattern::new(cfg), &uptrend_then_engulfing(false));
        assert!(sig.last().unwrap().unwrap() <= -0.8);
    }

    #[test]
    fn a_pattern_against_the_trend_is_ignored_and_the_trend_term_leans() {
        // Downtrend, then a bullish engulfing: against the trend.
        let mut v = uptrend_then_engulfing(false);
        let last = *v.last().unwrap();
        let (o, c) = (last.close.to_f64(), last.close.to_f64());
        v.push(candle(82, o + 0.3, o + 0.35, o - 0.3, c - 0.2, 10.0));
        v.push(candle(83, c - 0.3, c + 0.9, c - 0.35, c + 0.8, 10.0));
        let cfg = PatternConfig {
            decay_bars: 1,
            ..PatternConfig::default()
        };
        let pats = testkit::patterns(&v);
        assert!(
            pats.last().unwrap()[pat::ENGULFING] > 0,
            "a bullish engulfing"
        );
        let sig = testkit::run(&mut CandlePattern::new(cfg), &v);
        let x = sig.last().unwrap().unwrap();
        assert!(x < 0.0, "only the downtrend term remains: {x}");
        assert!(x >= -0.3);
    }

    #[test]
    fn config_is_checked() {
        let bad = PatternConfig {
            trend_weight: 2.0,
            ..PatternConfig::default()
        };
        assert!(bad.validate("p").is_err());
        assert!(PatternConfig::default().validate("p").is_ok());
    }
}
