//! The input every indicator and candle pattern reads: one candle as `f64`s.
//!
//! Prices and quantities are exact scaled integers everywhere money is involved; indicators
//! are signals, computed in `f64` like TA-Lib so their values can be compared with it. A
//! decimal price `p` held as the integer `p × 10⁸` converts with one correctly rounded
//! division, which gives exactly the double that parsing the decimal text gives.

use crate::core::Candle;

/// One candle for the indicators and patterns.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bar {
    /// Open time, ns since the epoch (UTC).
    pub open_ns: u64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Base volume.
    pub volume: f64,
}

impl Bar {
    /// The bar of a candle.
    #[inline]
    pub fn of(c: &Candle) -> Self {
        Self {
            open_ns: c.open_ns,
            open: c.open.to_f64(),
            high: c.high.to_f64(),
            low: c.low.to_f64(),
            close: c.close.to_f64(),
            volume: c.volume.to_f64(),
        }
    }
}
