//! Every indicator at TA-Lib's default parameters, updated together from one bar into one
//! fixed row of 16 columns.
//!
//! Owns one instance of each indicator; allocates their windows in `new` and nothing after.
//! Two columns come from state another indicator already keeps, bit for bit what TA-Lib
//! computes for them: `sma_20` is BBANDS' middle band (TA-Lib's SMA with the same running
//! total), and `ema_26` is MACD's slow EMA (seeded from the first close, like `TA_EMA`).

use super::ema::Ema;
use super::{Adx, Atr, Bar, Bbands, Indicator, Macd, Obv, Rsi, SessionVwap, Stoch};

/// Column names of an [`IndicatorRow`], in order.
pub const COLUMNS: [&str; 16] = [
    "sma_20",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "stoch_k",
    "stoch_d",
    "obv",
    "adx_14",
    "vwap",
];

/// One bar's indicator values, in [`COLUMNS`] order; `None` where TA-Lib has no value yet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IndicatorRow {
    /// The values, in [`COLUMNS`] order.
    pub values: [Option<f64>; 16],
}

impl IndicatorRow {
    /// Column names, in order (the same as [`COLUMNS`]).
    pub const COLUMNS: [&'static str; 16] = COLUMNS;

    /// The value of the column named `name`; `None` for an unknown name or no value.
    pub fn get(&self, name: &str) -> Option<f64> {
        let i = COLUMNS.iter().position(|c| *c == name)?;
        self.values[i]
    }
}

/// All 16 columns: SMA 20, EMA 12 and 26, RSI 14, MACD (12, 26, 9), BBANDS (20, 2, 2),
/// ATR 14, STOCH (5, 3, 3), OBV, ADX 14 and the session VWAP.
#[derive(Clone, Debug)]
pub struct IndicatorSet {
    ema_12: Ema,
    rsi_14: Rsi,
    macd: Macd,
    bbands: Bbands,
    atr_14: Atr,
    stoch: Stoch,
    obv: Obv,
    adx_14: Adx,
    vwap: SessionVwap,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        Self::new()
    }
}

impl IndicatorSet {
    /// Becomes a copy of `other` without allocating: a stage keeps the state before each
    /// update so a revised candle can replace the last one.
    pub fn copy_from(&mut self, other: &Self) {
        self.ema_12 = other.ema_12;
        self.rsi_14 = other.rsi_14;
        self.macd = other.macd;
        self.bbands.copy_from(&other.bbands);
        self.atr_14 = other.atr_14;
        self.stoch.copy_from(&other.stoch);
        self.obv = other.obv;
        self.adx_14 = other.adx_14;
        self.vwap = other.vwap;
    }

    /// Every indicator at TA-Lib's default parameters.
    pub fn new() -> Self {
        Self {
            ema_12: Ema::new(12),
            rsi_14: Rsi::new(14),
            macd: Macd::new(12, 26, 9),
            bbands: Bbands::new(20, 2.0, 2.0),
            atr_14: Atr::new(14),
            stoch: Stoch::new(5, 3, 3),
            obv: Obv::new(),
            adx_14: Adx::new(14),
            vwap: SessionVwap::new(),
        }
    }

    /// Feeds one closed bar to every indicator.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> IndicatorRow {
        let close = bar.close;
        let macd = self.macd.update(close);
        row(
            self.bbands.update(close),
            self.ema_12.update(close),
            self.macd.slow().value(),
            self.rsi_14.update(close),
            macd,
            self.atr_14.update(bar),
            self.stoch.update(bar),
            self.obv.update(bar),
            self.adx_14.update(bar),
            self.vwap.update(bar),
        )
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state: the
    /// row for a live, not yet closed bar.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> IndicatorRow {
        let close = bar.close;
        let mut macd = self.macd;
        let macd_value = macd.update(close);
        row(
            self.bbands.preview(close),
            self.ema_12.preview(close),
            macd.slow().value(),
            self.rsi_14.preview(close),
            macd_value,
            self.atr_14.preview(bar),
            self.stoch.preview(bar),
            self.obv.preview(bar),
            self.adx_14.preview(bar),
            self.vwap.preview(bar),
        )
    }

    /// True once every column has a value (MACD, the last, from the 34th bar; the VWAP
    /// while its session has volume).
    pub fn is_ready(&self) -> bool {
        self.ema_12.is_ready()
            && self.rsi_14.is_ready()
            && self.macd.is_ready()
            && self.bbands.is_ready()
            && self.atr_14.is_ready()
            && self.stoch.is_ready()
            && self.obv.is_ready()
            && self.adx_14.is_ready()
            && self.vwap.is_ready()
    }

    /// The row of the last update.
    pub fn value(&self) -> IndicatorRow {
        row(
            self.bbands.value(),
            self.ema_12.value(),
            self.macd.slow().value(),
            self.rsi_14.value(),
            self.macd.value(),
            self.atr_14.value(),
            self.stoch.value(),
            self.obv.value(),
            self.adx_14.value(),
            self.vwap.value(),
        )
    }

    /// Back to the state of `new`, keeping every buffer.
    pub fn reset(&mut self) {
        self.ema_12.reset();
        self.rsi_14.reset();
        self.macd.reset();
        self.bbands.reset();
        self.atr_14.reset();
        self.stoch.reset();
        self.obv.reset();
        self.adx_14.reset();
        self.vwap.reset();
    }
}

/// Lays the outputs out in [`COLUMNS`] order.
#[allow(clippy::too_many_arguments)]
#[inline]
fn row(
    bbands: Option<super::Bands>,
    ema_12: Option<f64>,
    ema_26: Option<f64>,
    rsi_14: Option<f64>,
    macd: Option<super::MacdValue>,
    atr_14: Option<f64>,
    stoch: Option<super::StochValue>,
    obv: Option<f64>,
    adx_14: Option<f64>,
    vwap: Option<f64>,
) -> IndicatorRow {
    IndicatorRow {
        values: [
            bbands.map(|b| b.middle),
            ema_12,
            ema_26,
            rsi_14,
            macd.map(|m| m.macd),
            macd.map(|m| m.signal),
            macd.map(|m| m.hist),
            bbands.map(|b| b.upper),
            bbands.map(|b| b.middle),
            bbands.map(|b| b.lower),
            atr_14,
            stoch.map(|s| s.k),
            stoch.map(|s| s.d),
            obv,
            adx_14,
            vwap,
        ],
    }
}

impl Indicator for IndicatorSet {
    type Output = IndicatorRow;
    #[inline]
    fn update_bar(&mut self, bar: &Bar) -> Option<IndicatorRow> {
        Some(self.update(bar))
    }
    #[inline]
    fn preview_bar(&self, bar: &Bar) -> Option<IndicatorRow> {
        Some(IndicatorSet::preview(self, bar))
    }
    fn is_ready(&self) -> bool {
        IndicatorSet::is_ready(self)
    }
    fn value(&self) -> Option<IndicatorRow> {
        Some(IndicatorSet::value(self))
    }
    fn reset(&mut self) {
        IndicatorSet::reset(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    #[test]
    fn preview_equals_update_and_reset_replays() {
        let bars = testkit::bars(500);
        let mut set = IndicatorSet::new();
        let mut rows = Vec::with_capacity(bars.len());
        for b in &bars {
            let p = set.preview(b);
            let u = set.update(b);
            assert_eq!(p, u);
            assert_eq!(set.value(), u);
            rows.push(u);
        }
        assert!(rows[33].values[4].is_some() && rows[32].values[4].is_none());
        set.reset();
        assert!(!set.is_ready());
        for (b, want) in bars.iter().zip(&rows) {
            assert_eq!(set.update(b), *want);
        }
    }

    #[test]
    fn sma_and_middle_band_agree_and_names_resolve() {
        let mut set = IndicatorSet::new();
        let mut last = IndicatorRow::default();
        for b in &testkit::bars(40) {
            last = set.update(b);
        }
        assert_eq!(last.get("sma_20"), last.get("bb_middle"));
        assert!(last.get("adx_14").is_some());
        assert_eq!(last.get("nope"), None);
        assert_eq!(IndicatorRow::COLUMNS.len(), 16);
    }

    #[test]
    fn hostile_input() {
        testkit::check_hostile_input(IndicatorSet::new());
    }
}
