//! Exponential moving average, TA-Lib compatible (`TA_EMA`).
//!
//! TA-Lib seeds the EMA with the simple average of the first `period` values (summed in
//! order, then divided) and then steps `ema = fma(x - ema, k, ema)` with `k = 2 / (period + 1)`:
//! TA-Lib 0.8 calls C's `fma`, a single rounding, on every CPU, and [`f64::mul_add`] is the
//! same correctly rounded operation. The first output is at the `period`-th input. O(1) per
//! update, no allocation.

use super::indicator::close_indicator;

/// Incremental EMA.
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    period: usize,
    k: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

impl Ema {
    /// A new EMA. `period` of 0 is treated as 1.
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            k: 2.0 / (period as f64 + 1.0),
            count: 0,
            seed_sum: 0.0,
            value: 0.0,
        }
    }

    /// Feeds one value; returns the EMA once ready.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.count = self.count.saturating_add(1);
        if self.count < self.period {
            self.seed_sum += x;
            return None;
        }
        self.value = self.step(x);
        Some(self.value)
    }

    /// The value after `x`, given that `count` already includes `x` and is at least `period`.
    #[inline]
    fn step(&self, x: f64) -> f64 {
        if self.count == self.period {
            (self.seed_sum + x) / self.period as f64
        } else {
            (x - self.value).mul_add(self.k, self.value)
        }
    }

    /// What [`update`](Self::update) would return for `x`, without changing state.
    #[inline]
    pub fn preview(&self, x: f64) -> Option<f64> {
        let mut next = *self;
        next.update(x)
    }

    /// True once `period` values were seen.
    pub fn is_ready(&self) -> bool {
        self.count >= self.period
    }

    /// The current value, once ready.
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then_some(self.value)
    }

    /// Values seen.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

close_indicator!(Ema, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn matches_talib_seeding() {
        // TA-Lib EMA(3) of 1..=6: first output at index 2 = mean(1,2,3) = 2, then k = 0.5.
        let mut e = Ema::new(3);
        let got: Vec<Option<f64>> = (1..=6).map(|x| e.update(f64::from(x))).collect();
        assert_eq!(
            got,
            vec![None, None, Some(2.0), Some(3.0), Some(4.0), Some(5.0)]
        );
        assert!(e.is_ready());
        e.reset();
        assert!(!e.is_ready());
        assert_eq!(e.count(), 0);
    }

    #[test]
    fn known_values_period_10() {
        // Reference computed by hand from the recurrence on a fixed series.
        let xs = [
            22.27, 22.19, 22.08, 22.17, 22.18, 22.13, 22.23, 22.43, 22.24, 22.29, 22.15, 22.39,
        ];
        let mut e = Ema::new(10);
        let mut last = None;
        for x in xs {
            last = e.update(x);
        }
        let seed: f64 = xs[..10].iter().sum::<f64>() / 10.0;
        let k = 2.0 / 11.0;
        let v1 = seed + k * (xs[10] - seed);
        let v2 = v1 + k * (xs[11] - v1);
        assert!((last.unwrap() - v2).abs() < 1e-12);
        assert!((seed - 22.221).abs() < 1e-9);
    }

    #[test]
    fn step_is_fused_like_talib() {
        // One rounding: fma(x - ema, k, ema), not (x - ema) * k + ema.
        let mut e = Ema::new(2);
        e.update(1.0);
        e.update(2.0);
        let k = 2.0 / 3.0;
        let x = 0.1;
        assert_eq!(e.update(x), Some((x - 1.5f64).mul_add(k, 1.5)));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for p in [1, 3, 26] {
            testkit::check_contract(Ema::new(p), &bars);
            testkit::check_hostile_input(Ema::new(p));
        }
    }
}
