//! Momentum: an EMA cross confirmed by MACD.
//!
//! **Idea.** A trend shows as a fast EMA above (below) a slow one; the gap, measured in ATRs,
//! says how strong it is. The MACD histogram (12, 26, 9: the indicator row's) says whether
//! the move is still accelerating in that direction; without that confirmation the trend
//! is likely tiring and the signal is scaled down (by default to 0).
//!
//! `raw = tanh(((fast − slow) / ATR14) / gap_atr)`, times `unconfirmed` when the MACD
//! histogram's sign differs from the gap's. It is a level, not a cross event: it holds
//! while the trend holds, and the host's hysteresis decides when a weakening trend exits.
//!
//! State: two EMAs per instrument × resolution, allocated in `reserve`; nothing after.

use serde::Deserialize;

use super::api::{col, sign, unit, Ctx, PortfolioView, Strategy};
use super::builtin::{slot, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;
use crate::indicators::ema::Ema;

/// Momentum parameters.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentumConfig {
    /// Fast EMA period. Default 12.
    #[serde(default = "default_fast")]
    pub fast: usize,
    /// Slow EMA period (more than `fast`). Default 26.
    #[serde(default = "default_slow")]
    pub slow: usize,
    /// EMA gap, in ATRs, that maps to tanh(1) ≈ 0.76. Default 0.5.
    #[serde(default = "default_gap_atr")]
    pub gap_atr: f64,
    /// Factor on the signal when MACD does not confirm it, in [0, 1]. Default 0.
    #[serde(default)]
    pub unconfirmed: f64,
}

fn default_fast() -> usize {
    12
}
fn default_slow() -> usize {
    26
}
fn default_gap_atr() -> f64 {
    0.5
}

impl Default for MomentumConfig {
    fn default() -> Self {
        Self {
            fast: default_fast(),
            slow: default_slow(),
            gap_atr: default_gap_atr(),
            unconfirmed: 0.0,
        }
    }
}

impl MomentumConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.fast == 0 || self.slow <= self.fast {
            return Err(invalid(format!("{key}.slow"), "need 0 < fast < slow"));
        }
        if !(self.gap_atr.is_finite() && self.gap_atr > 0.0) {
            return Err(invalid(format!("{key}.gap_atr"), "must be > 0"));
        }
        if !(0.0..=1.0).contains(&self.unconfirmed) {
            return Err(invalid(format!("{key}.unconfirmed"), "must be in [0, 1]"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct Emas {
    fast: Ema,
    slow: Ema,
}

/// The momentum strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct Momentum {
    cfg: MomentumConfig,
    state: Vec<Emas>,
}

impl Momentum {
    /// With `cfg` (validated).
    pub fn new(cfg: MomentumConfig) -> Self {
        Self {
            cfg,
            state: Vec::new(),
        }
    }
}

impl Strategy for Momentum {
    fn name(&self) -> &str {
        "momentum"
    }

    fn reserve(&mut self, instruments: usize) {
        let e = Emas {
            fast: Ema::new(self.cfg.fast),
            slow: Ema::new(self.cfg.slow),
        };
        self.state = vec![e; instruments * SLOTS_PER_INSTRUMENT];
    }

    #[inline]
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        let frame = ctx.frame(resolution)?;
        let s = self
            .state
            .get_mut(slot(ctx.instrument().index(), resolution))?;
        let close = frame.bar().close;
        let fast = s.fast.update(close);
        let slow = s.slow.update(close);
        let (fast, slow) = (fast?, slow?);
        let atr = frame.value(col::ATR_14)?;
        let hist = frame.value(col::MACD_HIST)?;
        if atr <= 0.0 {
            return Some(0.0);
        }
        let gap = (fast - slow) / atr;
        let strength = (gap / self.cfg.gap_atr).tanh();
        let confirmed = sign(hist) == sign(gap);
        Some(unit(if confirmed {
            strength
        } else {
            strength * self.cfg.unconfirmed
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::testkit;
    use super::*;

    fn closes(n: usize, f: impl Fn(usize) -> f64) -> Vec<f64> {
        (0..n).map(f).collect()
    }

    #[test]
    fn uptrend_is_long_downtrend_short_and_flat_is_neutral() {
        // Accelerating up: the gap widens and the MACD histogram stays positive.
        let up = testkit::from_closes(&closes(80, |i| 100.0 + (i * i) as f64 * 0.01), 10.0);
        let sig = testkit::run(&mut Momentum::new(MomentumConfig::default()), &up);
        assert!(
            sig[..25].iter().all(Option::is_none),
            "not ready before MACD"
        );
        let last = sig.last().unwrap().unwrap();
        assert!(last > 0.5, "{last}");

        let down = testkit::from_closes(&closes(80, |i| 200.0 - (i * i) as f64 * 0.01), 10.0);
        let last = testkit::run(&mut Momentum::new(MomentumConfig::default()), &down)
            .last()
            .unwrap()
            .unwrap();
        assert!(last < -0.5, "{last}");

        let flat = testkit::from_closes(&closes(80, |i| 100.0 + (i % 2) as f64 * 0.2), 10.0);
        let last = testkit::run(&mut Momentum::new(MomentumConfig::default()), &flat)
            .last()
            .unwrap()
            .unwrap();
        assert!(last.abs() < 0.2, "{last}");
    }

    #[test]
    fn macd_must_confirm() {
        // Up a long way, then a pause: fast > slow still, but the histogram turns negative.
        let mut c = closes(60, |i| 100.0 + i as f64);
        c.extend(closes(12, |i| 159.0 - i as f64 * 0.8));
        let candles = testkit::from_closes(&c, 10.0);
        let strict = testkit::run(&mut Momentum::new(MomentumConfig::default()), &candles);
        let lax = testkit::run(
            &mut Momentum::new(MomentumConfig {
                unconfirmed: 0.5,
                ..MomentumConfig::default()
            }),
            &candles,
        );
        let (s, l) = (
            strict.last().unwrap().unwrap(),
            lax.last().unwrap().unwrap(),
        );
        assert_eq!(s, 0.0, "unconfirmed up-gap is silenced");
        assert!(l > 0.0 && l <= 0.5, "{l}");
    }

    #[test]
    fn config_is_checked() {
        let bad = MomentumConfig {
            slow: 5,
            fast: 5,
            ..MomentumConfig::default()
        };
        assert!(bad.validate("m").is_err());
        assert!(MomentumConfig::default().validate("m").is_ok());
        let parsed: MomentumConfig = toml::from_str("fast = 5\nslow = 20").unwrap();
        assert_eq!((parsed.fast, parsed.slow, parsed.gap_atr), (5, 20, 0.5));
        assert!(toml::from_str::<MomentumConfig>("fats = 5").is_err());
    }
}
