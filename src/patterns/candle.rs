//! One candle's geometry as TA-Lib measures it, TA-Lib's candle settings, and the short ring
//! of recent candles the patterns look back on.
//!
//! Owns only arithmetic on four prices; it never allocates and never fails (a NaN price gives
//! NaN lengths, and every comparison with NaN is false).

use crate::indicators::Bar;

/// Open, high, low and close of one candle.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Ohlc {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl Ohlc {
    /// The prices of a bar (volume and time play no part in a pattern).
    #[inline]
    pub fn of(b: &Bar) -> Self {
        Self {
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
        }
    }

    /// White (close ≥ open, a doji counts as white) or black.
    #[inline]
    pub fn is_white(&self) -> bool {
        self.close >= self.open
    }

    /// TA-Lib's candle colour: 1 white, −1 black.
    #[inline]
    pub fn color(&self) -> i32 {
        2 * i32::from(self.is_white()) - 1
    }

    /// |close − open|.
    #[inline]
    pub fn real_body(&self) -> f64 {
        (self.close - self.open).abs()
    }

    /// High − low.
    #[inline]
    pub fn high_low(&self) -> f64 {
        self.high - self.low
    }

    /// The upper end of the real body.
    #[inline]
    pub fn body_top(&self) -> f64 {
        if self.is_white() {
            self.close
        } else {
            self.open
        }
    }

    /// The lower end of the real body.
    #[inline]
    pub fn body_bottom(&self) -> f64 {
        if self.is_white() {
            self.open
        } else {
            self.close
        }
    }

    /// High − top of the real body.
    #[inline]
    pub fn upper_shadow(&self) -> f64 {
        self.high - self.body_top()
    }

    /// Bottom of the real body − low.
    #[inline]
    pub fn lower_shadow(&self) -> f64 {
        self.body_bottom() - self.low
    }
}

/// `later`'s real body lies wholly above `earlier`'s.
#[inline]
pub(crate) fn real_body_gap_up(later: &Ohlc, earlier: &Ohlc) -> bool {
    later.body_bottom() > earlier.body_top()
}

/// `later`'s real body lies wholly below `earlier`'s.
#[inline]
pub(crate) fn real_body_gap_down(later: &Ohlc, earlier: &Ohlc) -> bool {
    later.body_top() < earlier.body_bottom()
}

/// Which length of a candle a setting averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeType {
    /// |close − open|.
    RealBody,
    /// High − low.
    HighLow,
}

impl RangeType {
    /// This length of `c`.
    #[inline]
    pub fn of(self, c: &Ohlc) -> f64 {
        match self {
            Self::RealBody => c.real_body(),
            Self::HighLow => c.high_low(),
        }
    }
}

/// One of TA-Lib's candle settings: "long", "short", "near" … mean `factor` × the average
/// `range` of the `period` candles before the candle being judged (the candle's own `range`
/// when `period` is 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setting {
    pub range: RangeType,
    pub period: usize,
    pub factor: f64,
}

impl Setting {
    /// TA-Lib's average, `factor × (sum ÷ period)` in that order so the doubles are its,
    /// given `sum ÷ period`.
    #[inline]
    pub fn average(&self, mean: f64) -> f64 {
        self.factor * mean
    }
}

// TA-Lib's defaults for the settings these twelve patterns use. ShadowShort and
// ShadowVeryLong (Shadows, 10, 1.0; RealBody, 0, 2.0) and Equal (HighLow, 5, 0.05) are used
// by none of them.

/// A long real body: longer than the average body.
pub(crate) const BODY_LONG: Setting = Setting {
    range: RangeType::RealBody,
    period: 10,
    factor: 1.0,
};
/// A short real body: shorter than the average body.
pub(crate) const BODY_SHORT: Setting = Setting {
    range: RangeType::RealBody,
    period: 10,
    factor: 1.0,
};
/// A doji body: at most a tenth of the average high−low range.
pub(crate) const BODY_DOJI: Setting = Setting {
    range: RangeType::HighLow,
    period: 10,
    factor: 0.1,
};
/// A long shadow: longer than the candle's own real body (period 0).
pub(crate) const SHADOW_LONG_FACTOR: f64 = 1.0;
/// A very short shadow: under a tenth of the average high−low range.
pub(crate) const SHADOW_VERY_SHORT: Setting = Setting {
    range: RangeType::HighLow,
    period: 10,
    factor: 0.1,
};
/// "Near": within a fifth of the average high−low range (5 candles).
pub(crate) const NEAR: Setting = Setting {
    range: RangeType::HighLow,
    period: 5,
    factor: 0.2,
};
/// "Far": more than 0.6 of the average high−low range (5 candles).
pub(crate) const FAR: Setting = Setting {
    range: RangeType::HighLow,
    period: 5,
    factor: 0.6,
};

/// The last [`Recent::CAPACITY`] candles, newest last.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recent {
    ring: [Ohlc; Recent::CAPACITY],
    /// The slot the next candle goes to.
    head: usize,
}

impl Recent {
    /// Enough for the longest look-back: a 10-candle window before a candle plus the candle
    /// leaving it (11), and 3 black crows' four candles.
    pub const CAPACITY: usize = 16;

    /// Empty (all-zero candles, which no pattern reads before its look-back has passed).
    pub const fn new() -> Self {
        Self {
            ring: [Ohlc {
                open: 0.0,
                high: 0.0,
                low: 0.0,
                close: 0.0,
            }; Self::CAPACITY],
            head: 0,
        }
    }

    /// Appends a candle, dropping the oldest.
    #[inline]
    pub fn push(&mut self, c: Ohlc) {
        self.ring[self.head] = c;
        self.head = (self.head + 1) % Self::CAPACITY;
    }

    /// The candle `k` places before the newest (0 = newest); `k` < [`Self::CAPACITY`].
    #[inline]
    pub fn back(&self, k: usize) -> &Ohlc {
        debug_assert!(k < Self::CAPACITY);
        &self.ring[(self.head + 2 * Self::CAPACITY - 1 - k) % Self::CAPACITY]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(open: f64, high: f64, low: f64, close: f64) -> Ohlc {
        Ohlc {
            open,
            high,
            low,
            close,
        }
    }

    #[test]
    fn geometry() {
        let w = c(10.0, 15.0, 8.0, 12.0);
        assert_eq!((w.real_body(), w.high_low()), (2.0, 7.0));
        assert_eq!((w.upper_shadow(), w.lower_shadow()), (3.0, 2.0));
        assert_eq!(w.color(), 1);
        let b = c(12.0, 13.0, 9.0, 10.0);
        assert_eq!((b.body_top(), b.body_bottom()), (12.0, 10.0));
        assert_eq!((b.upper_shadow(), b.lower_shadow()), (1.0, 1.0));
        assert_eq!(b.color(), -1);
        assert_eq!(c(5.0, 6.0, 4.0, 5.0).color(), 1, "a doji is white");
        assert!(real_body_gap_up(&c(13.0, 14.0, 12.0, 14.0), &w));
        assert!(
            !real_body_gap_up(&c(12.0, 14.0, 12.0, 14.0), &w),
            "touching is no gap"
        );
        assert!(real_body_gap_down(&c(9.0, 10.0, 8.0, 8.0), &b));
    }

    #[test]
    fn ring_order() {
        let mut r = Recent::new();
        for i in 0..40 {
            r.push(c(f64::from(i), 0.0, 0.0, 0.0));
        }
        for k in 0..Recent::CAPACITY {
            assert_eq!(r.back(k).open, f64::from(39 - k as i32));
        }
    }
}
