//! Relative strength index with Wilder's smoothing, TA-Lib compatible (`TA_RSI`).
//!
//! Each change `d = close - previous close` splits into `gain = d if d > 0 else 0` and
//! `loss = gain - d`. The first averages are the sums over the first `period` changes times
//! `1 / period`; after that TA-Lib 0.8 steps `avg = (avg * (period - 1) + x) * (1 / period)`
//! (a multiply by the reciprocal, not a division). RSI = `(avg_gain / (avg_gain + avg_loss)) *
//! 100`, and 0 when that sum is not positive. First output at input `period` (0-based).
//! O(1), no allocation.

use super::indicator::close_indicator;

/// Incremental RSI.
#[derive(Clone, Copy, Debug)]
pub struct Rsi {
    period: usize,
    inv: f64,
    keep: f64,
    count: usize,
    prev: f64,
    gain: f64,
    loss: f64,
    value: f64,
}

impl Rsi {
    /// A new RSI over `period` changes (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            inv: 1.0 / period as f64,
            keep: (period - 1) as f64,
            count: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
            value: 0.0,
        }
    }

    /// Feeds one close; returns the RSI once `period` changes were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.count = self.count.saturating_add(1);
        let changes = self.count - 1;
        let d = x - self.prev;
        self.prev = x;
        if changes == 0 {
            return None;
        }
        let gain = if 0.0 < d { d } else { 0.0 };
        let loss = gain - d;
        if changes < self.period {
            self.gain += gain;
            self.loss += loss;
            return None;
        }
        if changes == self.period {
            self.gain = (self.gain + gain) * self.inv;
            self.loss = (self.loss + loss) * self.inv;
        } else {
            self.gain = (self.gain * self.keep + gain) * self.inv;
            self.loss = (self.loss * self.keep + loss) * self.inv;
        }
        let sum = self.gain + self.loss;
        self.value = if sum > 0.0 {
            (self.gain / sum) * 100.0
        } else {
            0.0
        };
        Some(self.value)
    }

    /// What [`update`](Self::update) would return for `x`, without changing state.
    #[inline]
    pub fn preview(&self, x: f64) -> Option<f64> {
        let mut next = *self;
        next.update(x)
    }

    /// True once `period` changes were seen.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.count > self.period
    }

    /// The last RSI, once ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then_some(self.value)
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

close_indicator!(Rsi, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn known_values() {
        // period 2: changes +1, -1 -> avg gain 0.5, avg loss 0.5 -> 50.
        let mut r = Rsi::new(2);
        assert_eq!(r.update(10.0), None);
        assert_eq!(r.update(11.0), None);
        assert_eq!(r.update(10.0), Some(50.0));
        // +2: gain (0.5 + 2) / 2 = 1.25, loss 0.25 -> 100 * 1.25 / 1.5.
        assert_eq!(r.update(12.0), Some((1.25 / 1.5) * 100.0));
    }

    #[test]
    fn flat_prices_give_zero() {
        let mut r = Rsi::new(3);
        let out: Vec<_> = (0..6).map(|_| r.update(5.0)).collect();
        assert_eq!(out[3..], [Some(0.0); 3]);
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for p in [1, 2, 14] {
            testkit::check_contract(Rsi::new(p), &bars);
            testkit::check_hostile_input(Rsi::new(p));
        }
    }
}
