//! Average directional index, TA-Lib compatible (`TA_ADX`).
//!
//! Per bar: +DM = high − previous high and −DM = previous low − low, only the larger one
//! counting (and only when positive); true range as in [`true_range`]. Wilder sums: the first
//! `period − 1` bars after the first are summed plainly, then each bar does
//! `s = s − s / period + x` (TA-Lib's order). From bar `period` on, ±DI = `(±DM / TR) · 100`
//! and DX = `(|−DI − +DI| / (−DI + +DI)) · 100`, skipped when TR ≤ 0 or the DI sum is within
//! 10⁻¹⁴ of 0. ADX starts as the sum of the first `period` DX over `period` (first output at
//! bar `2 · period − 1`, 27 for 14), then `adx = (adx · (period − 1) + dx) / period`.
//! O(1), no allocation.

use super::atr::true_range;
use super::indicator::bar_indicator;
use super::Bar;

/// Incremental ADX.
#[derive(Clone, Copy, Debug)]
pub struct Adx {
    period: usize,
    n: f64,
    keep: f64,
    count: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    adx: f64,
}

impl Adx {
    /// A new ADX over `period` bars (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            n: period as f64,
            keep: (period - 1) as f64,
            count: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            adx: 0.0,
        }
    }

    /// Feeds one bar; returns the ADX once `2 · period − 1` bars followed the first.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        self.count = self.count.saturating_add(1);
        let steps = self.count - 1;
        let up = bar.high - self.prev_high;
        let down = self.prev_low - bar.low;
        let tr = true_range(bar.high, bar.low, self.prev_close);
        self.prev_high = bar.high;
        self.prev_low = bar.low;
        self.prev_close = bar.close;
        if steps == 0 {
            return None;
        }
        if steps >= self.period {
            self.minus_dm -= self.minus_dm / self.n;
            self.plus_dm -= self.plus_dm / self.n;
        }
        if down > 0.0 && up < down {
            self.minus_dm += down;
        } else if up > 0.0 && up > down {
            self.plus_dm += up;
        }
        if steps < self.period {
            self.tr += tr;
            return None;
        }
        self.tr = self.tr - self.tr / self.n + tr;
        let dx = self.dx();
        let last_seed = 2 * self.period - 1;
        if steps < last_seed {
            // Until the first output, `adx` holds the running sum of DX.
            self.adx += dx.unwrap_or(0.0);
            None
        } else if steps == last_seed {
            self.adx = (self.adx + dx.unwrap_or(0.0)) / self.n;
            Some(self.adx)
        } else {
            if let Some(dx) = dx {
                self.adx = (self.adx * self.keep + dx) / self.n;
            }
            Some(self.adx)
        }
    }

    /// DX from the current Wilder sums, when defined.
    #[inline]
    fn dx(&self) -> Option<f64> {
        if self.tr > 0.0 {
            let minus_di = (self.minus_dm / self.tr) * 100.0;
            let plus_di = (self.plus_dm / self.tr) * 100.0;
            let sum = minus_di + plus_di;
            let negligible = sum > -1e-14 && sum < 1e-14;
            (!negligible).then(|| ((minus_di - plus_di).abs() / sum) * 100.0)
        } else {
            None
        }
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<f64> {
        let mut next = *self;
        next.update(bar)
    }

    /// True once the first ADX was produced.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.count >= 2 * self.period
    }

    /// The last ADX, once ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then_some(self.adx)
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

bar_indicator!(Adx, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn steady_uptrend_reads_100() {
        // Every bar makes a higher high and a higher low: only +DM, so DX = 100 throughout.
        let mut a = Adx::new(3);
        let out: Vec<_> = (0..10)
            .map(|i| {
                let p = 100.0 + i as f64;
                a.update(&Bar {
                    high: p + 1.0,
                    low: p - 1.0,
                    close: p,
                    ..Bar::default()
                })
            })
            .collect();
        assert!(out[..5].iter().all(Option::is_none));
        assert_eq!(out[5], Some(100.0));
        assert_eq!(out[9], Some(100.0));
    }

    #[test]
    fn first_output_at_2p_minus_1() {
        let bars = testkit::bars(40);
        let mut a = Adx::new(14);
        assert_eq!(bars.iter().position(|b| a.update(b).is_some()), Some(27));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        for p in [1, 2, 14] {
            testkit::check_contract(Adx::new(p), &bars);
            testkit::check_hostile_input(Adx::new(p));
        }
    }
}
