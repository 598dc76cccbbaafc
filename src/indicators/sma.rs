//! Simple moving average, TA-Lib compatible (`TA_SMA`).
//!
//! TA-Lib keeps a running total: it adds the new value, divides by the period for the output,
//! then subtracts the oldest value of the window. The total drifts by rounding, and so does
//! TA-Lib's, so the same order of operations gives the same doubles. The first output is at
//! the `period`-th input. O(1) per update; the window is allocated in `new` and never again.

use super::indicator::close_indicator;
use super::window::Window;

/// Incremental SMA.
#[derive(Clone, Debug)]
pub struct Sma {
    window: Window,
    period: f64,
    total: f64,
    value: f64,
}

impl Sma {
    /// Becomes a copy of `other` without allocating.
    pub fn copy_from(&mut self, other: &Self) {
        self.window.copy_from(&other.window);
        self.period = other.period;
        self.total = other.total;
        self.value = other.value;
    }

    /// A new SMA over `period` values (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let window = Window::new(period);
        Self {
            period: window.capacity() as f64,
            window,
            total: 0.0,
            value: 0.0,
        }
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Feeds one value; returns the average once `period` values were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        // What falls out here was subtracted from the total one update ago.
        self.window.push(x);
        self.total += x;
        if !self.window.is_full() {
            return None;
        }
        self.value = self.total / self.period;
        // The window is never empty after a push.
        self.total -= self.window.oldest().unwrap_or(x);
        Some(self.value)
    }

    /// What [`update`](Self::update) would return for `x`, without changing state.
    #[inline]
    pub fn preview(&self, x: f64) -> Option<f64> {
        (self.window.len() + 1 >= self.window.capacity()).then(|| (self.total + x) / self.period)
    }

    /// True once `period` values were seen.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.window.is_full()
    }

    /// The last average, once ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then_some(self.value)
    }

    /// The values in the current window, oldest first (after an update: the last `period`).
    #[inline]
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Back to the state of `new`, keeping the window's storage.
    pub fn reset(&mut self) {
        self.window.clear();
        self.total = 0.0;
        self.value = 0.0;
    }
}

close_indicator!(Sma, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn known_values() {
        let mut s = Sma::new(3);
        let got: Vec<_> = [1.0, 2.0, 3.0, 4.0, 8.0].map(|x| s.update(x)).to_vec();
        assert_eq!(got, vec![None, None, Some(2.0), Some(3.0), Some(5.0)]);
        let mut one = Sma::new(0);
        assert_eq!(one.update(7.5), Some(7.5));
        assert_eq!(one.update(-1.0), Some(-1.0));
    }

    #[test]
    fn running_total_order_matches_talib() {
        // total += x; out = total / n; total -= oldest — not a fresh sum each time.
        let xs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
        let mut s = Sma::new(3);
        let mut total = 0.0;
        for (i, &x) in xs.iter().enumerate() {
            total += x;
            let want = (i >= 2).then(|| {
                let v = total / 3.0;
                total -= xs[i - 2];
                v
            });
            assert_eq!(s.update(x), want);
        }
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for p in [1, 2, 20] {
            testkit::check_contract(Sma::new(p), &bars);
            testkit::check_hostile_input(Sma::new(p));
        }
    }
}
