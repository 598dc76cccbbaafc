//! Running sums of one candle length over the `P` candles before a candle, kept the way
//! TA-Lib keeps them so the doubles (and so every borderline comparison) are TA-Lib's.
//!
//! TA-Lib sums a window once, oldest candle first from 0.0, at the first candle it outputs
//! for, then moves it one candle at a time with `sum += (entering − leaving)`. Floating-point
//! addition is not associative, so a window that was moved there holds a slightly different
//! double from the same window summed afresh: a running sum is known by its length, its
//! period and the candle it was first summed at (its *birth*), and two patterns share one
//! only when all three agree. A [`Trails`] holds the sums of one length and period born at
//! consecutive candles. Never allocates.

use super::candle::{RangeType, Recent};

/// `N` running sums of `range` over `P` candles, born at candles `first_birth`,
/// `first_birth + 1`, …, each with its last three values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trails<const N: usize, const P: usize> {
    range: RangeType,
    first_birth: u64,
    /// `sums[j][k]`: sum `j`'s window before candle `anchor − k`, `anchor` being the candle
    /// the last [`Trails::advance`] was given.
    sums: [[f64; 3]; N],
    /// `sums ÷ P`, divided once here rather than in every pattern that reads it.
    means: [[f64; 3]; N],
}

impl<const N: usize, const P: usize> Trails<N, P> {
    /// Sums of `range` over `P` candles (1..[`Recent::CAPACITY`]) born at `first_birth` ≥
    /// `P` and the `N − 1` candles after it.
    pub const fn new(range: RangeType, first_birth: u64) -> Self {
        assert!(P >= 1 && P < Recent::CAPACITY && first_birth >= P as u64);
        Self {
            range,
            first_birth,
            sums: [[0.0; 3]; N],
            means: [[0.0; 3]; N],
        }
    }

    /// The length these sums add up.
    pub fn range(&self) -> RangeType {
        self.range
    }

    /// Moves every born window to the `P` candles before candle index `anchor`; `recent`
    /// must end with candle `anchor − 1`. A sum not yet born is left alone.
    ///
    /// One departure from TA-Lib: a sum that is no longer finite (a NaN or infinite price
    /// entered the window, or the sum overflowed) is summed afresh from the window, so it
    /// heals once the bad candle has left. TA-Lib would carry the NaN for ever (and report no
    /// pattern again); on finite prices that never overflow the two agree.
    #[inline]
    pub fn advance(&mut self, recent: &Recent, anchor: u64) {
        let entering = self.range.of(recent.back(0));
        let leaving = self.range.of(recent.back(P));
        for j in 0..N {
            let birth = self.first_birth + j as u64;
            if anchor < birth {
                break;
            }
            let moved = self.sums[j][0] + (entering - leaving);
            let sum = if anchor > birth && moved.is_finite() {
                moved
            } else {
                self.fresh(recent)
            };
            let (s, m) = (&mut self.sums[j], &mut self.means[j]);
            *s = [sum, s[0], s[1]];
            *m = [sum / P as f64, m[0], m[1]];
        }
    }

    /// The sum born at `birth`, over the window before the candle `back` (0..3) places
    /// before the anchor.
    #[cfg(test)]
    pub fn sum(&self, birth: u64, back: usize) -> f64 {
        self.sums[(birth - self.first_birth) as usize][back]
    }

    /// The same ÷ `P`.
    #[inline]
    pub fn mean(&self, birth: u64, back: usize) -> f64 {
        self.means[(birth - self.first_birth) as usize][back]
    }

    /// Oldest first, from 0.0, as TA-Lib's first sum.
    fn fresh(&self, recent: &Recent) -> f64 {
        let mut s = 0.0;
        for k in (0..P).rev() {
            s += self.range.of(recent.back(k));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::candle::Ohlc;
    use super::*;

    fn bar(range: f64) -> Ohlc {
        Ohlc {
            open: 0.0,
            high: range,
            low: 0.0,
            close: 0.0,
        }
    }

    fn feed<const N: usize, const P: usize>(t: &mut Trails<N, P>, xs: &[f64]) {
        let mut r = Recent::new();
        for (i, x) in xs.iter().enumerate() {
            r.push(bar(*x));
            t.advance(&r, i as u64 + 1);
        }
    }

    #[test]
    fn sums_the_window_before_the_anchor() {
        let mut t = Trails::<2, 3>::new(RangeType::HighLow, 4);
        feed(&mut t, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        // Anchor 8: candles 5, 6, 7 have ranges 6, 7, 8.
        assert_eq!(t.sum(4, 0), 21.0);
        assert_eq!(t.sum(4, 1), 18.0);
        assert_eq!(t.sum(5, 2), 15.0);
        assert_eq!(t.mean(5, 0), 7.0);
    }

    #[test]
    fn moving_and_fresh_sums_differ_like_talib() {
        // 0.1 + 0.1 + 0.7 summed afresh is 0.8999999999999999; moved there from 0.1, 0.1,
        // 0.1 it is 0.9. Each sum keeps the double of its own history, as TA-Lib does.
        let mut t = Trails::<2, 3>::new(RangeType::HighLow, 3);
        feed(&mut t, &[0.1, 0.1, 0.1, 0.7]);
        assert_eq!(t.sum(3, 0), ((0.1 + 0.1) + 0.1) + (0.7 - 0.1));
        assert_eq!(t.sum(3, 0), 0.9);
        assert_eq!(t.sum(4, 0), (0.1 + 0.1) + 0.7);
        assert_ne!(t.sum(3, 0), t.sum(4, 0));
    }

    #[test]
    fn heals_after_a_nan() {
        let mut t = Trails::<1, 2>::new(RangeType::HighLow, 2);
        feed(&mut t, &[1.0, 1.0, f64::NAN, 1.0, 1.0, 1.0]);
        assert_eq!(t.sum(2, 0), 2.0);
    }
}
