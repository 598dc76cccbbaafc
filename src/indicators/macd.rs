//! MACD, TA-Lib compatible (`TA_MACD`).
//!
//! MACD line = EMA(fast) − EMA(slow) of the closes, signal = EMA(signal) of the MACD line,
//! histogram = MACD − signal. TA-Lib aligns the two EMAs so their first outputs land on the
//! same input (`slow − 1`): the fast EMA is seeded with the average of the `fast` closes
//! ending there, not of the first `fast` closes, so it ignores the first `slow − fast` inputs.
//! The signal EMA is seeded by its first `signal` MACD values; the first output is at input
//! `slow + signal − 2` (33 for 12/26/9). O(1), no allocation.

use super::ema::Ema;
use super::indicator::close_indicator;

/// One MACD output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MacdValue {
    /// EMA(fast) − EMA(slow).
    pub macd: f64,
    /// EMA(signal) of the MACD line.
    pub signal: f64,
    /// MACD − signal.
    pub hist: f64,
}

/// Incremental MACD.
#[derive(Clone, Copy, Debug)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    skip: usize,
    count: usize,
    value: Option<MacdValue>,
}

impl Macd {
    /// A new MACD(fast, slow, signal); like TA-Lib, swaps fast and slow if fast is the slower.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        let (fast, slow) = (fast.max(1).min(slow.max(1)), fast.max(slow).max(1));
        Self {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            signal: Ema::new(signal),
            skip: slow - fast,
            count: 0,
            value: None,
        }
    }

    /// Feeds one close; returns MACD, signal and histogram once all three exist.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<MacdValue> {
        self.count = self.count.saturating_add(1);
        let slow = self.slow.update(x);
        if self.count <= self.skip {
            return None;
        }
        let fast = self.fast.update(x)?;
        let macd = fast - slow?;
        let signal = self.signal.update(macd)?;
        let value = MacdValue {
            macd,
            signal,
            hist: macd - signal,
        };
        self.value = Some(value);
        Some(value)
    }

    /// What [`update`](Self::update) would return for `x`, without changing state.
    #[inline]
    pub fn preview(&self, x: f64) -> Option<MacdValue> {
        let mut next = *self;
        next.update(x)
    }

    /// The slow EMA: seeded from the first input, so it is TA-Lib's `EMA(slow)` as well.
    #[inline]
    pub fn slow(&self) -> &Ema {
        &self.slow
    }

    /// The fast EMA (seeded `slow − fast` inputs late, so not TA-Lib's `EMA(fast)`).
    #[inline]
    pub fn fast(&self) -> &Ema {
        &self.fast
    }

    /// True once the first output was produced.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// The last output, once ready.
    #[inline]
    pub fn value(&self) -> Option<MacdValue> {
        self.value
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.count = 0;
        self.value = None;
    }
}

close_indicator!(Macd, MacdValue);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn first_output_at_slow_plus_signal_minus_two() {
        let mut m = Macd::new(12, 26, 9);
        let first = (0..100)
            .map(|i| m.update(100.0 + (i as f64 * 0.7).sin()))
            .position(|v| v.is_some());
        assert_eq!(first, Some(33));
    }

    #[test]
    fn fast_ema_is_seeded_at_the_slow_lookback() {
        // fast 2, slow 4, signal 1: the fast seed is mean(x[2], x[3]), not mean(x[0], x[1]).
        let xs = [1.0, 100.0, 3.0, 5.0, 8.0];
        let mut m = Macd::new(2, 4, 1);
        let out: Vec<_> = xs.iter().map(|&x| m.update(x)).collect();
        let slow = (1.0 + 100.0 + 3.0 + 5.0) / 4.0;
        let fast = (3.0 + 5.0) / 2.0;
        let v = out[3].unwrap();
        assert_eq!(v.macd, fast - slow);
        assert_eq!(v.signal, v.macd);
        assert_eq!(v.hist, 0.0);
        assert!(out[..3].iter().all(Option::is_none));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        testkit::check_contract(Macd::new(12, 26, 9), &bars);
        testkit::check_contract(Macd::new(26, 12, 1), &bars);
        testkit::check_hostile_input(Macd::new(12, 26, 9));
    }
}
