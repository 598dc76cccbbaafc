//! Slow stochastic oscillator, TA-Lib compatible (`TA_STOCH` with SMA smoothing).
//!
//! fast %K = `((close − lowest low) / (highest high − lowest low)) · 100` over the last
//! `fast_k` bars, and 0 when the range is negligible (`|range| ≤ 10⁻¹⁴ · (|highest| +
//! |lowest|)`, TA-Lib 0.8's test); slow %K = SMA(`slow_k`) of fast %K; slow %D = SMA(`slow_d`)
//! of slow %K, both [`Sma`]s with TA-Lib's running totals. First output at bar
//! `fast_k + slow_k + slow_d − 3` (8 for 5/3/3). The highest high and lowest low come from
//! monotonic deques: amortized O(1), no scan of the window, no allocation after `new`.

use super::indicator::bar_indicator;
use super::sma::Sma;
use super::window::{RollingMax, RollingMin};
use super::Bar;

/// One stochastic output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StochValue {
    /// Slow %K.
    pub k: f64,
    /// Slow %D.
    pub d: f64,
}

/// Incremental slow stochastic.
#[derive(Clone, Debug)]
pub struct Stoch {
    highest: RollingMax,
    lowest: RollingMin,
    slow_k: Sma,
    slow_d: Sma,
    fast_k: usize,
    count: usize,
    value: Option<StochValue>,
}

/// fast %K from the close and the window's extremes.
#[inline]
fn fast_k(close: f64, highest: f64, lowest: f64) -> f64 {
    let range = highest - lowest;
    if (highest.abs() + lowest.abs()) * 1e-14 >= range.abs() {
        0.0
    } else {
        ((close - lowest) / range) * 100.0
    }
}

impl Stoch {
    /// Becomes a copy of `other` without allocating.
    pub fn copy_from(&mut self, other: &Self) {
        self.highest.copy_from(&other.highest);
        self.lowest.copy_from(&other.lowest);
        self.slow_k.copy_from(&other.slow_k);
        self.slow_d.copy_from(&other.slow_d);
        self.fast_k = other.fast_k;
        self.count = other.count;
        self.value = other.value;
    }

    /// STOCH(fast_k, slow_k, slow_d) with SMA smoothing (0s are treated as 1); TA-Lib's
    /// defaults are (5, 3, 3).
    pub fn new(fast_k: usize, slow_k: usize, slow_d: usize) -> Self {
        let fast_k = fast_k.max(1);
        Self {
            highest: RollingMax::new(fast_k),
            lowest: RollingMin::new(fast_k),
            slow_k: Sma::new(slow_k),
            slow_d: Sma::new(slow_d),
            fast_k,
            count: 0,
            value: None,
        }
    }

    /// Feeds one bar; returns slow %K and %D once both exist.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<StochValue> {
        self.count = self.count.saturating_add(1);
        let highest = self.highest.push(bar.high);
        let lowest = self.lowest.push(bar.low);
        if self.count < self.fast_k {
            return None;
        }
        let k = self.slow_k.update(fast_k(bar.close, highest, lowest))?;
        let d = self.slow_d.update(k)?;
        let value = StochValue { k, d };
        self.value = Some(value);
        Some(value)
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<StochValue> {
        if self.count.saturating_add(1) < self.fast_k {
            return None;
        }
        let highest = self.highest.peek_push(bar.high);
        let lowest = self.lowest.peek_push(bar.low);
        let k = self.slow_k.preview(fast_k(bar.close, highest, lowest))?;
        let d = self.slow_d.preview(k)?;
        Some(StochValue { k, d })
    }

    /// True once the first output was produced.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// The last output, once ready.
    #[inline]
    pub fn value(&self) -> Option<StochValue> {
        self.value
    }

    /// Back to the state of `new`, keeping every buffer.
    pub fn reset(&mut self) {
        self.highest.clear();
        self.lowest.clear();
        self.slow_k.reset();
        self.slow_d.reset();
        self.count = 0;
        self.value = None;
    }
}

bar_indicator!(Stoch, StochValue);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    fn bar(high: f64, low: f64, close: f64) -> Bar {
        Bar {
            high,
            low,
            close,
            ..Bar::default()
        }
    }

    #[test]
    fn fast_stochastic_with_no_smoothing() {
        let mut s = Stoch::new(3, 1, 1);
        assert_eq!(s.update(&bar(10.0, 8.0, 9.0)), None);
        assert_eq!(s.update(&bar(12.0, 9.0, 11.0)), None);
        // highest 12, lowest 8: (10 - 8) / 4 * 100 = 50.
        assert_eq!(
            s.update(&bar(11.0, 9.0, 10.0)),
            Some(StochValue { k: 50.0, d: 50.0 })
        );
        // Window now bars 2..4: highest 12, lowest 9.
        assert_eq!(
            s.update(&bar(10.0, 9.5, 12.0)),
            Some(StochValue { k: 100.0, d: 100.0 })
        );
        // A flat window reads 0.
        let mut f = Stoch::new(2, 1, 1);
        f.update(&bar(5.0, 5.0, 5.0));
        assert_eq!(
            f.update(&bar(5.0, 5.0, 5.0)),
            Some(StochValue { k: 0.0, d: 0.0 })
        );
    }

    #[test]
    fn first_output_at_eight() {
        let bars = testkit::bars(20);
        let mut s = Stoch::new(5, 3, 3);
        let first = bars.iter().position(|b| s.update(b).is_some());
        assert_eq!(first, Some(8));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for (a, b, c) in [(1, 1, 1), (5, 3, 3), (14, 1, 5)] {
            testkit::check_contract(Stoch::new(a, b, c), &bars);
            testkit::check_hostile_input(Stoch::new(a, b, c));
        }
    }
}
