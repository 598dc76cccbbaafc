//! Breakout: a Donchian channel or volatility breakout, confirmed by volume.
//!
//! **Idea.** A close beyond the highest high (lowest low) of the previous `channel` candles,
//! or a close-to-close move of more than `atr_mult` ATRs, starts a new leg, but only if
//! participation backs it: the candle's volume must be at least `volume_mult` × the mean
//! volume of the previous `volume_period` candles. A confirmed breakout fires a [`Pulse`]
//! (strength 0.5 + 0.5 × min(1, distance beyond the channel in ATRs), 1 for a volatility
//! breakout) that fades over `decay_bars` candles. Under it, a continuous "channel
//! position" term (−1 at the channel low, +1 at its high) lets slower resolutions that
//! trade near their own channel edge agree:
//!
//! `raw = clamp(pulse + channel_weight × channel_position)`.
//!
//! State: a rolling max, a rolling min and a volume SMA per instrument × resolution,
//! allocated in `reserve`.

use serde::Deserialize;

use super::api::{col, sign, unit, Ctx, PortfolioView, Strategy};
use super::builtin::{slot, Pulse, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;
use crate::indicators::{RollingMax, RollingMin, Sma};

/// Breakout parameters.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakoutConfig {
    /// Donchian channel length in candles (the current candle excluded). Default 20.
    #[serde(default = "default_channel")]
    pub channel: usize,
    /// Candles in the volume mean (the current candle excluded). Default 20.
    #[serde(default = "default_volume_period")]
    pub volume_period: usize,
    /// Volume at least this multiple of its mean confirms. Default 1.5.
    #[serde(default = "default_volume_mult")]
    pub volume_mult: f64,
    /// A close-to-close move of at least this many ATRs is a volatility breakout; 0 turns
    /// it off. Default 2.
    #[serde(default = "default_atr_mult")]
    pub atr_mult: f64,
    /// Candles a breakout signal fades over. Default 3.
    #[serde(default = "default_decay_bars")]
    pub decay_bars: u32,
    /// Weight of the continuous channel-position term, in [0, 1]. Default 0.3.
    #[serde(default = "default_channel_weight")]
    pub channel_weight: f64,
}

fn default_channel() -> usize {
    20
}
fn default_volume_period() -> usize {
    20
}
fn default_volume_mult() -> f64 {
    1.5
}
fn default_atr_mult() -> f64 {
    2.0
}
fn default_decay_bars() -> u32 {
    3
}
fn default_channel_weight() -> f64 {
    0.3
}

impl Default for BreakoutConfig {
    fn default() -> Self {
        Self {
            channel: default_channel(),
            volume_period: default_volume_period(),
            volume_mult: default_volume_mult(),
            atr_mult: default_atr_mult(),
            decay_bars: default_decay_bars(),
            channel_weight: default_channel_weight(),
        }
    }
}

impl BreakoutConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.channel < 2 || self.volume_period == 0 {
            return Err(invalid(
                format!("{key}.channel"),
                "need channel >= 2 and volume_period >= 1",
            ));
        }
        if !(self.volume_mult.is_finite() && self.volume_mult >= 0.0) {
            return Err(invalid(format!("{key}.volume_mult"), "must be >= 0"));
        }
        if !(self.atr_mult.is_finite() && self.atr_mult >= 0.0) {
            return Err(invalid(format!("{key}.atr_mult"), "must be >= 0"));
        }
        if self.decay_bars == 0 {
            return Err(invalid(format!("{key}.decay_bars"), "must be >= 1"));
        }
        if !(0.0..=1.0).contains(&self.channel_weight) {
            return Err(invalid(
                format!("{key}.channel_weight"),
                "must be in [0, 1]",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct State {
    high: RollingMax,
    low: RollingMin,
    volume: Sma,
    seen: usize,
    prev_close: f64,
    pulse: Pulse,
}

/// The breakout strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct Breakout {
    cfg: BreakoutConfig,
    state: Vec<State>,
}

impl Breakout {
    /// With `cfg` (validated).
    pub fn new(cfg: BreakoutConfig) -> Self {
        Self {
            cfg,
            state: Vec::new(),
        }
    }
}

impl Strategy for Breakout {
    fn name(&self) -> &str {
        "breakout"
    }

    fn reserve(&mut self, instruments: usize) {
        let s = State {
            high: RollingMax::new(self.cfg.channel),
            low: RollingMin::new(self.cfg.channel),
            volume: Sma::new(self.cfg.volume_period),
            seen: 0,
            prev_close: f64::NAN,
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
        let bar = frame.bar();
        // The channel and the volume mean of the candles before this one.
        let full = s.seen >= cfg.channel;
        let (top, bottom) = (s.high.current(), s.low.current());
        let volume_mean = s.volume.value();
        let prev_close = s.prev_close;
        s.high.push(bar.high);
        s.low.push(bar.low);
        s.volume.update(bar.volume);
        s.seen = s.seen.saturating_add(1);
        s.prev_close = bar.close;
        s.pulse.age();

        let (top, bottom) = (top?, bottom?);
        let atr = frame.value(col::ATR_14)?;
        if !full || atr <= 0.0 {
            return None;
        }
        let volume_ok = volume_mean.is_some_and(|m| m > 0.0 && bar.volume >= cfg.volume_mult * m);
        let move_atr = (bar.close - prev_close) / atr;
        let volatility = cfg.atr_mult > 0.0 && move_atr.abs() >= cfg.atr_mult;
        if volume_ok {
            if bar.close > top {
                s.pulse.fire(
                    0.5 + 0.5 * ((bar.close - top) / atr).min(1.0),
                    cfg.decay_bars,
                );
            } else if bar.close < bottom {
                s.pulse.fire(
                    -0.5 - 0.5 * ((bottom - bar.close) / atr).min(1.0),
                    cfg.decay_bars,
                );
            } else if volatility {
                s.pulse.fire(sign(move_atr), cfg.decay_bars);
            }
        }
        let half = 0.5 * (top - bottom);
        let position = if half > 0.0 {
            unit((bar.close - 0.5 * (top + bottom)) / half)
        } else {
            0.0
        };
        Some(unit(s.pulse.current() + cfg.channel_weight * position))
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::testkit::{self, candle};
    use super::*;

    /// 30 candles ranging 99.5 … 100.5, then one closing at `close` with `volume`.
    fn range_then(close: f64, volume: f64) -> Vec<crate::core::Candle> {
        let mut v: Vec<_> = (0..30)
            .map(|i| {
                let c = 100.0 + if i % 2 == 0 { 0.2 } else { -0.2 };
                candle(i, 100.0, 100.5, 99.5, c, 10.0)
            })
            .collect();
        v.push(candle(
            30,
            100.0,
            close.max(100.0) + 0.1,
            close.min(100.0) - 0.1,
            close,
            volume,
        ));
        v.push(candle(31, close, close + 0.1, close - 0.1, close, 10.0));
        v
    }

    fn run(candles: &[crate::core::Candle], cfg: BreakoutConfig) -> Vec<Option<f64>> {
        testkit::run(&mut Breakout::new(cfg), candles)
    }

    #[test]
    fn volume_confirmed_channel_break_fires_and_fades() {
        let cfg = BreakoutConfig {
            channel_weight: 0.0,
            atr_mult: 0.0,
            ..BreakoutConfig::default()
        };
        let sig = run(&range_then(101.5, 30.0), cfg.clone());
        assert!(sig[..20].iter().all(Option::is_none));
        assert_eq!(sig[29], Some(0.0));
        let fire = sig[30].unwrap();
        assert!(fire > 0.5, "{fire}");
        let next = sig[31].unwrap();
        assert!(next > 0.0 && next < fire, "fades: {next}");

        let down = run(&range_then(98.5, 30.0), cfg.clone());
        assert!(down[30].unwrap() < -0.5);
    }

    #[test]
    fn a_break_on_thin_volume_is_ignored() {
        let cfg = BreakoutConfig {
            channel_weight: 0.0,
            ..BreakoutConfig::default()
        };
        let sig = run(&range_then(101.5, 12.0), cfg);
        assert_eq!(sig[30], Some(0.0));
    }

    #[test]
    fn channel_position_is_continuous() {
        let sig = run(&range_then(100.4, 10.0), BreakoutConfig::default());
        let v = sig[30].unwrap();
        assert!(v > 0.2 && v <= 0.3, "{v}");
    }

    #[test]
    fn config_is_checked() {
        let bad = BreakoutConfig {
            channel: 1,
            ..BreakoutConfig::default()
        };
        assert!(bad.validate("b").is_err());
        assert!(BreakoutConfig::default().validate("b").is_ok());
    }
}
