//! Average true range with Wilder's smoothing, TA-Lib compatible (`TA_ATR`).
//!
//! True range = max(high − low, |high − previous close|, |low − previous close|), so the
//! first one is at the second bar. ATR starts as the plain average of the first `period`
//! true ranges (summed in order, then divided: first output at bar `period`) and then steps
//! `atr = fma(atr, a, tr · (1 − a))` with `a = (period − 1) / period`, the fused form TA-Lib
//! 0.8 computes. O(1), no allocation.

use super::indicator::bar_indicator;
use super::Bar;

/// The true range of a bar given the previous close.
#[inline]
pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut tr = high - low;
    let up = (high - prev_close).abs();
    if up > tr {
        tr = up;
    }
    let down = (low - prev_close).abs();
    if down > tr {
        tr = down;
    }
    tr
}

/// Incremental ATR.
#[derive(Clone, Copy, Debug)]
pub struct Atr {
    period: usize,
    keep: f64,
    take: f64,
    count: usize,
    prev_close: f64,
    value: f64,
}

impl Atr {
    /// A new ATR over `period` true ranges (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        let keep = (period - 1) as f64 / period as f64;
        Self {
            period,
            keep,
            take: 1.0 - keep,
            count: 0,
            prev_close: 0.0,
            value: 0.0,
        }
    }

    /// Feeds one bar; returns the ATR once `period` true ranges were seen.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        self.count = self.count.saturating_add(1);
        let ranges = self.count - 1;
        let tr = true_range(bar.high, bar.low, self.prev_close);
        self.prev_close = bar.close;
        if ranges == 0 {
            return None;
        }
        // Until the first output, `value` holds the running sum of true ranges.
        if ranges < self.period {
            self.value += tr;
            return None;
        }
        self.value = if ranges == self.period {
            (self.value + tr) / self.period as f64
        } else {
            self.value.mul_add(self.keep, tr * self.take)
        };
        Some(self.value)
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<f64> {
        let mut next = *self;
        next.update(bar)
    }

    /// True once `period` true ranges were seen.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.count > self.period
    }

    /// The last ATR, once ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then_some(self.value)
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

bar_indicator!(Atr, f64);

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
    fn true_range_takes_gaps() {
        assert_eq!(true_range(10.0, 8.0, 9.0), 2.0);
        assert_eq!(true_range(10.0, 8.0, 5.0), 5.0);
        assert_eq!(true_range(10.0, 8.0, 14.0), 6.0);
    }

    #[test]
    fn seed_is_the_mean_of_the_first_ranges() {
        let mut a = Atr::new(2);
        assert_eq!(a.update(&bar(10.0, 9.0, 9.5)), None);
        assert_eq!(a.update(&bar(11.0, 9.0, 10.0)), None); // tr 2
        assert_eq!(a.update(&bar(10.0, 6.0, 7.0)), Some(3.0)); // tr 4
        let keep = 0.5;
        assert_eq!(
            a.update(&bar(8.0, 7.0, 7.5)),
            Some(3.0f64.mul_add(keep, 1.0 * (1.0 - keep)))
        );
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for p in [1, 2, 14] {
            testkit::check_contract(Atr::new(p), &bars);
            testkit::check_hostile_input(Atr::new(p));
        }
    }
}
