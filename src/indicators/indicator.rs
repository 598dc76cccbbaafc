//! The contract every incremental indicator keeps, so tests, benches and the
//! [`IndicatorSet`](super::IndicatorSet) can treat them alike.
//!
//! Each indicator also has inherent methods with its natural input (a close, or a whole
//! bar); this trait feeds them from a [`Bar`].

use super::Bar;

/// An incremental indicator over closed bars.
///
/// Every implementation is O(1) per update and allocates nothing after `new`.
pub trait Indicator {
    /// What one update produces.
    type Output: Copy + PartialEq + std::fmt::Debug;

    /// Feeds one closed bar; returns the output from the bar where TA-Lib has its first one.
    fn update_bar(&mut self, bar: &Bar) -> Option<Self::Output>;

    /// What [`update_bar`](Self::update_bar) would return for `bar`, without changing any
    /// state: the value for a live, not yet closed bar.
    fn preview_bar(&self, bar: &Bar) -> Option<Self::Output>;

    /// True once updates produce outputs.
    fn is_ready(&self) -> bool;

    /// The output of the last update, once ready.
    fn value(&self) -> Option<Self::Output>;

    /// Back to the state of `new`, keeping every buffer.
    fn reset(&mut self);
}

/// Implements [`Indicator`] for a type whose inherent `update`/`preview` take the bar's close.
macro_rules! close_indicator {
    ($t:ty, $out:ty) => {
        impl $crate::indicators::Indicator for $t {
            type Output = $out;
            #[inline]
            fn update_bar(&mut self, bar: &$crate::indicators::Bar) -> Option<$out> {
                self.update(bar.close)
            }
            #[inline]
            fn preview_bar(&self, bar: &$crate::indicators::Bar) -> Option<$out> {
                self.preview(bar.close)
            }
            fn is_ready(&self) -> bool {
                <$t>::is_ready(self)
            }
            fn value(&self) -> Option<$out> {
                <$t>::value(self)
            }
            fn reset(&mut self) {
                <$t>::reset(self)
            }
        }
    };
}

/// Implements [`Indicator`] for a type whose inherent `update`/`preview` take a `&Bar`.
macro_rules! bar_indicator {
    ($t:ty, $out:ty) => {
        impl $crate::indicators::Indicator for $t {
            type Output = $out;
            #[inline]
            fn update_bar(&mut self, bar: &$crate::indicators::Bar) -> Option<$out> {
                self.update(bar)
            }
            #[inline]
            fn preview_bar(&self, bar: &$crate::indicators::Bar) -> Option<$out> {
                self.preview(bar)
            }
            fn is_ready(&self) -> bool {
                <$t>::is_ready(self)
            }
            fn value(&self) -> Option<$out> {
                <$t>::value(self)
            }
            fn reset(&mut self) {
                <$t>::reset(self)
            }
        }
    };
}

pub(crate) use {bar_indicator, close_indicator};

/// Shared checks for the unit tests beside each indicator.
#[cfg(test)]
pub(crate) mod testkit {
    use super::{Bar, Indicator};

    /// A deterministic, jumpy but realistic bar series (BTC-like prices, ties, flat bars,
    /// zero-volume bars, day changes).
    pub fn bars(n: usize) -> Vec<Bar> {
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut close = 65_000.0_f64;
        (0..n)
            .map(|i| {
                let r = next();
                let step = ((r % 2001) as f64 - 1000.0) / 100.0;
                let open = close;
                // Every 17th bar repeats the close exactly; every 23rd is flat.
                close = if i % 17 == 0 { open } else { open + step };
                let (hi, lo) = if i % 23 == 0 {
                    (open, open)
                } else {
                    let w = ((r >> 20) % 500) as f64 / 100.0;
                    (open.max(close) + w, open.min(close) - w / 2.0)
                };
                let close = if i % 23 == 0 { open } else { close };
                let volume = if i % 11 == 0 {
                    0.0
                } else {
                    ((r >> 40) % 1000) as f64 / 7.0
                };
                Bar {
                    open_ns: 1_700_000_000_000_000_000 + i as u64 * 3_600_000_000_000,
                    open,
                    high: hi,
                    low: lo,
                    close,
                    volume,
                }
            })
            .collect()
    }

    /// preview == the next update; reset replays the same outputs; readiness agrees with
    /// the outputs.
    pub fn check_contract<I: Indicator>(mut ind: I, bars: &[Bar]) {
        assert!(!ind.is_ready());
        assert_eq!(ind.value(), None);
        let mut first = Vec::with_capacity(bars.len());
        for b in bars {
            let p = ind.preview_bar(b);
            let u = ind.update_bar(b);
            assert_eq!(p, u, "preview differs from update at {b:?}");
            assert_eq!(ind.is_ready(), u.is_some());
            assert_eq!(ind.value(), u);
            first.push(u);
        }
        assert!(first.iter().any(Option::is_some), "never ready");
        ind.reset();
        assert!(!ind.is_ready());
        assert_eq!(ind.value(), None);
        for (b, want) in bars.iter().zip(&first) {
            assert_eq!(ind.update_bar(b), *want, "differs after reset");
        }
    }

    /// NaN, infinities, zero and negative volume, and inverted bars do not panic.
    pub fn check_hostile_input<I: Indicator>(mut ind: I) {
        let good = bars(60);
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, 1e300];
        for (i, b) in good.iter().enumerate() {
            let mut b = *b;
            let x = specials[i % specials.len()];
            match i % 5 {
                0 => b.close = x,
                1 => b.high = x,
                2 => b.low = x,
                3 => b.volume = x,
                _ => std::mem::swap(&mut b.high, &mut b.low),
            }
            let _ = ind.preview_bar(&b);
            let _ = ind.update_bar(&b);
            let _ = ind.value();
        }
        ind.reset();
        for b in &good {
            let _ = ind.update_bar(b);
        }
    }
}
