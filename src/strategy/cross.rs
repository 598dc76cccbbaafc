//! Moving-average cross: the reference strategies `sma_cross` and `ema_cross`.
//!
//! **Idea.** The simplest trend follower, here so results can be compared with other
//! backtesters: when the fast average of the close crosses above the slow one, be long; when
//! it crosses below, be short (or flat without shorts).
//!
//! A cross is exactly backtesting.py's `crossover`: up when the fast average was strictly
//! below the slow one on the previous candle and is strictly above it now; down the other way
//! round. The raw signal is 0 from the candle both averages are ready until the first cross,
//! then +1 after a cross up and −1 after a cross down, held until the next cross: a level that
//! only a cross changes, so the host enters on the first cross and reverses on each one after
//! (with its scoring weights at 0 and thresholds at 0.5, as `tickwire backtest --strategy
//! sma_cross` configures it).
//!
//! State: two averages and the last relation per instrument × resolution, allocated in
//! `reserve`; nothing after.

use serde::Deserialize;

use super::api::{Ctx, PortfolioView, Strategy};
use super::builtin::{slot, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;
use crate::indicators::ema::Ema;
use crate::indicators::Sma;

/// Cross parameters (`sma_cross = { fast = 10, slow = 20 }`, same for `ema_cross`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossConfig {
    /// Fast period. Default 10.
    #[serde(default = "default_fast")]
    pub fast: usize,
    /// Slow period (more than `fast`). Default 20.
    #[serde(default = "default_slow")]
    pub slow: usize,
}

fn default_fast() -> usize {
    10
}
fn default_slow() -> usize {
    20
}

impl Default for CrossConfig {
    fn default() -> Self {
        Self {
            fast: default_fast(),
            slow: default_slow(),
        }
    }
}

impl CrossConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.fast == 0 || self.slow <= self.fast {
            return Err(invalid(format!("{key}.slow"), "need 0 < fast < slow"));
        }
        Ok(())
    }
}

/// Which average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// Simple.
    Sma,
    /// Exponential (seeded with the SMA of its first `period` values, as TA-Lib does).
    Ema,
}

#[derive(Clone, Debug)]
enum Pair {
    Sma(Sma, Sma),
    Ema(Ema, Ema),
}

impl Pair {
    #[inline]
    fn update(&mut self, x: f64) -> Option<(f64, f64)> {
        match self {
            Pair::Sma(f, s) => {
                let (a, b) = (f.update(x), s.update(x));
                Some((a?, b?))
            }
            Pair::Ema(f, s) => {
                let (a, b) = (f.update(x), s.update(x));
                Some((a?, b?))
            }
        }
    }
}

#[derive(Clone, Debug)]
struct State {
    pair: Pair,
    /// fast − slow on the previous ready candle.
    prev: Option<f64>,
    /// +1 / −1 after a cross, 0 before the first.
    level: f64,
}

/// The cross strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct Cross {
    cfg: CrossConfig,
    average: Average,
    state: Vec<State>,
}

impl Cross {
    /// With `cfg` (validated).
    pub fn new(cfg: CrossConfig, average: Average) -> Self {
        Self {
            cfg,
            average,
            state: Vec::new(),
        }
    }
}

impl Strategy for Cross {
    fn name(&self) -> &str {
        match self.average {
            Average::Sma => "sma_cross",
            Average::Ema => "ema_cross",
        }
    }

    fn reserve(&mut self, instruments: usize) {
        let pair = match self.average {
            Average::Sma => Pair::Sma(Sma::new(self.cfg.fast), Sma::new(self.cfg.slow)),
            Average::Ema => Pair::Ema(Ema::new(self.cfg.fast), Ema::new(self.cfg.slow)),
        };
        let s = State {
            pair,
            prev: None,
            level: 0.0,
        };
        self.state = vec![s; instruments * SLOTS_PER_INSTRUMENT];
    }

    #[inline]
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        let close = ctx.frame(resolution)?.bar().close;
        let s = self
            .state
            .get_mut(slot(ctx.instrument().index(), resolution))?;
        let (fast, slow) = s.pair.update(close)?;
        let d = fast - slow;
        if let Some(p) = s.prev {
            if p < 0.0 && d > 0.0 {
                s.level = 1.0;
            } else if p > 0.0 && d < 0.0 {
                s.level = -1.0;
            }
        }
        s.prev = Some(d);
        Some(s.level)
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::testkit::{from_closes, run};
    use super::*;

    #[test]
    fn level_changes_only_on_a_strict_cross() {
        let mut s = Cross::new(CrossConfig { fast: 2, slow: 3 }, Average::Sma);
        // Falling, flat, rising, falling again.
        let closes = [10.0, 9.0, 8.0, 8.0, 8.0, 9.0, 11.0, 13.0, 12.0, 9.0, 7.0];
        let out = run(&mut s, &from_closes(&closes, 1.0));
        assert_eq!(out[..2], [None, None], "not ready");
        // From the third candle both averages exist; no cross yet → 0.
        assert_eq!(out[2], Some(0.0));
        // fast − slow: −0.5 (i=2), then 0 on the flat (i=4, tie: no cross), then the rise
        // makes it positive after a tie: backtesting.py needs prev < 0 strictly, so a cross
        // "through" equality is no cross.
        let levels: Vec<f64> = out.iter().flatten().copied().collect();
        assert!(
            levels.contains(&-1.0),
            "the final fall crosses down: {levels:?}"
        );
        assert_eq!(*levels.last().unwrap(), -1.0);
    }

    #[test]
    fn sma_and_ema_both_cross_up_on_a_turn() {
        let mut closes: Vec<f64> = (0..30).map(|i| 100.0 - f64::from(i)).collect();
        closes.extend((0..30).map(|i| 70.0 + 2.0 * f64::from(i)));
        for avg in [Average::Sma, Average::Ema] {
            let mut s = Cross::new(CrossConfig { fast: 3, slow: 8 }, avg);
            let out = run(&mut s, &from_closes(&closes, 1.0));
            assert_eq!(out.last().copied().flatten(), Some(1.0), "{avg:?}");
            let first_up = out.iter().position(|x| *x == Some(1.0)).unwrap();
            assert!(first_up > 30, "{avg:?} crossed up at {first_up}");
        }
    }
}
