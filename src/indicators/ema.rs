//! Exponential moving average, TA-Lib compatible.
//!
//! TA-Lib seeds the EMA with the simple average of the first `period` values and then applies
//! `ema += k * (x - ema)` with `k = 2 / (period + 1)`; the first output is at the `period`-th
//! input. O(1) per update, no allocation.

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
        if self.count == self.period {
            self.value = (self.seed_sum + x) / self.period as f64;
        } else {
            self.value += self.k * (x - self.value);
        }
        Some(self.value)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
