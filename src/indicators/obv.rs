//! On-balance volume, TA-Lib compatible (`TA_OBV`).
//!
//! Starts at the first bar's volume; after that adds the volume when the close rises, subtracts
//! it when the close falls, and keeps it when the close is unchanged. Output from the first
//! bar. O(1), no allocation.

use super::indicator::bar_indicator;
use super::Bar;

/// Incremental OBV.
#[derive(Clone, Copy, Debug, Default)]
pub struct Obv {
    started: bool,
    prev_close: f64,
    value: f64,
}

impl Obv {
    /// A new OBV.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one bar; returns the OBV (from the first bar on).
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        if !self.started {
            self.started = true;
            self.value = bar.volume;
        } else if bar.close > self.prev_close {
            self.value += bar.volume;
        } else if bar.close < self.prev_close {
            self.value -= bar.volume;
        }
        self.prev_close = bar.close;
        Some(self.value)
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<f64> {
        let mut next = *self;
        next.update(bar)
    }

    /// True after the first bar.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.started
    }

    /// The current OBV, once ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.started.then_some(self.value)
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

bar_indicator!(Obv, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn known_values() {
        let mut o = Obv::new();
        let b = |close: f64, volume: f64| Bar {
            close,
            volume,
            ..Bar::default()
        };
        assert_eq!(o.update(&b(10.0, 5.0)), Some(5.0));
        assert_eq!(o.update(&b(11.0, 2.0)), Some(7.0));
        assert_eq!(o.update(&b(11.0, 9.0)), Some(7.0));
        assert_eq!(o.update(&b(10.0, 3.0)), Some(4.0));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        testkit::check_contract(Obv::new(), &bars);
        testkit::check_hostile_input(Obv::new());
    }
}
