//! Candle patterns, TA-Lib compatible: twelve of TA-Lib's `CDL*` functions with its default
//! candle settings, updated one closed candle at a time.
//!
//! [`PatternSet::update`] takes a [`Bar`] and returns the twelve pattern values in
//! [`COLUMNS`] order, each what TA-Lib 0.6+ returns at that candle for the whole series so far:
//! +100 bullish, −100 bearish, ±80 for engulfing and harami whose bodies share an edge, 0
//! otherwise (and 0 before the pattern's [`LOOKBACK`]).
//!
//! Exactness: every average ("long body", "very short shadow", "near" …) is TA-Lib's running
//! window sum, kept with TA-Lib's order of floating-point operations (see `trail.rs`), so
//! the borderline comparisons come out as TA-Lib's; on the reference series every value
//! agrees (`tests/talib_patterns.rs`).
//!
//! Cost: the state is fixed-size (the last 16 candles and nine running sums), built in
//! [`PatternSet::new`]; an update is O(1) and never allocates. No input panics: NaN or infinite
//! prices make comparisons false (no pattern) until the bad candle has left every window.
//! This module owns pattern recognition only; it never reads a clock, logs or trades.

mod candle;
mod trail;

use crate::indicators::Bar;
use candle::{
    real_body_gap_down, real_body_gap_up, Ohlc, RangeType, Recent, Setting, BODY_DOJI, BODY_LONG,
    BODY_SHORT, FAR, NEAR, SHADOW_LONG_FACTOR, SHADOW_VERY_SHORT,
};
use trail::Trails;

/// Output names, in the order of [`PatternSet::update`]'s array.
pub const COLUMNS: [&str; 12] = [
    "cdl_doji",
    "cdl_hammer",
    "cdl_hangingman",
    "cdl_shootingstar",
    "cdl_invertedhammer",
    "cdl_engulfing",
    "cdl_harami",
    "cdl_morningstar",
    "cdl_eveningstar",
    "cdl_3whitesoldiers",
    "cdl_3blackcrows",
    "cdl_marubozu",
];

/// TA-Lib's lookback per pattern, in [`COLUMNS`] order: the first candle index (from 0) a
/// pattern can be non-zero at; the longest settings period plus the pattern's candles − 1.
pub const LOOKBACK: [u64; 12] = [10, 11, 11, 11, 11, 2, 11, 12, 12, 12, 13, 10];

/// How far the third candle of a morning or evening star must close into the first one's
/// real body (TA-Lib's default `optInPenetration`).
pub const STAR_PENETRATION: f64 = 0.3;

const DOJI: usize = 0;
const HAMMER: usize = 1;
const HANGING_MAN: usize = 2;
const SHOOTING_STAR: usize = 3;
const INVERTED_HAMMER: usize = 4;
const ENGULFING: usize = 5;
const HARAMI: usize = 6;
const MORNING_STAR: usize = 7;
const EVENING_STAR: usize = 8;
const THREE_WHITE_SOLDIERS: usize = 9;
const THREE_BLACK_CROWS: usize = 10;
const MARUBOZU: usize = 11;

const MAX_LOOKBACK: u64 = 13;

/// The twelve patterns over one candle series.
///
/// ```
/// use tickwire::indicators::Bar;
/// use tickwire::patterns::{PatternSet, COLUMNS};
///
/// let mut p = PatternSet::new();
/// let bar = Bar { open: 100.0, high: 101.0, low: 99.0, close: 100.5, ..Bar::default() };
/// let out = p.update(&bar);
/// assert_eq!(out, [0; 12]); // nothing before the lookbacks
/// assert_eq!(COLUMNS[5], "cdl_engulfing");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PatternSet {
    recent: Recent,
    /// Candles seen, which is the index the next candle will have.
    seen: u64,
    /// Real-body sums over 10 candles, born at candles 10, 11, 12.
    body10: Trails<3, 10>,
    /// High−low sums over 10 candles, born at candles 10, 11, 12, 13.
    range10: Trails<4, 10>,
    /// High−low sums over 5 candles, born at candles 10, 11.
    range5: Trails<2, 5>,
}

impl Default for PatternSet {
    fn default() -> Self {
        Self::new()
    }
}

impl PatternSet {
    /// Output names, in output order (the same as [`COLUMNS`]).
    pub const COLUMNS: [&'static str; 12] = COLUMNS;

    /// A set that has seen no candle.
    pub const fn new() -> Self {
        // A sum's birth is a pattern's lookback minus how many candles before the current
        // one its window is anchored (see `avg`); these births cover all twelve patterns.
        use RangeType::{HighLow, RealBody};
        Self {
            recent: Recent::new(),
            seen: 0,
            body10: Trails::new(RealBody, 10),
            range10: Trails::new(HighLow, 10),
            range5: Trails::new(HighLow, 10),
        }
    }

    /// Feeds one closed candle; returns the patterns at it, in [`COLUMNS`] order.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> [i32; 12] {
        let out = self.preview(bar);
        self.push(bar);
        out
    }

    /// What [`Self::update`] would return for `bar`, leaving the state as it is (for a
    /// candle still forming).
    #[inline]
    pub fn preview(&self, bar: &Bar) -> [i32; 12] {
        let c = Ohlc::of(bar);
        let n = self.seen;
        let mut out = [0; 12];
        let on = |p: usize| n >= LOOKBACK[p];
        if on(DOJI) {
            out[DOJI] = self.doji(&c);
        }
        if on(HAMMER) {
            out[HAMMER] = self.hammer(&c);
            out[HANGING_MAN] = self.hanging_man(&c);
            out[SHOOTING_STAR] = self.shooting_star(&c);
            out[INVERTED_HAMMER] = self.inverted_hammer(&c);
            out[HARAMI] = self.harami(&c);
        }
        if on(ENGULFING) {
            out[ENGULFING] = self.engulfing(&c);
        }
        if on(MORNING_STAR) {
            out[MORNING_STAR] = self.morning_star(&c);
            out[EVENING_STAR] = self.evening_star(&c);
            out[THREE_WHITE_SOLDIERS] = self.three_white_soldiers(&c);
        }
        if on(THREE_BLACK_CROWS) {
            out[THREE_BLACK_CROWS] = self.three_black_crows(&c);
        }
        if on(MARUBOZU) {
            out[MARUBOZU] = self.marubozu(&c);
        }
        out
    }

    /// True once every pattern has been evaluated (after the 14th candle).
    pub fn is_ready(&self) -> bool {
        self.seen > MAX_LOOKBACK
    }

    /// Candles seen.
    pub fn count(&self) -> u64 {
        self.seen
    }

    /// Back to the state of [`Self::new`].
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    fn push(&mut self, bar: &Bar) {
        self.recent.push(Ohlc::of(bar));
        self.seen = self.seen.saturating_add(1);
        self.body10.advance(&self.recent, self.seen);
        self.range10.advance(&self.recent, self.seen);
        self.range5.advance(&self.recent, self.seen);
    }

    /// The candle `k` places before the current one (1 = the previous candle).
    #[inline]
    fn before(&self, k: usize) -> &Ohlc {
        self.recent.back(k - 1)
    }

    /// `setting`'s average for the candle `back` places before the current one, as a
    /// pattern with lookback `lookback` sees it: TA-Lib first sums that window at the
    /// pattern's first output, so the sum used is the one born `back` candles earlier.
    #[inline]
    fn avg(&self, setting: Setting, lookback: u64, back: usize) -> f64 {
        let birth = lookback - back as u64;
        let (range, mean) = match (setting.range, setting.period) {
            (RangeType::RealBody, 10) => (self.body10.range(), self.body10.mean(birth, back)),
            (RangeType::HighLow, 10) => (self.range10.range(), self.range10.mean(birth, back)),
            (_, period) => {
                debug_assert_eq!(period, 5);
                (self.range5.range(), self.range5.mean(birth, back))
            }
        };
        debug_assert_eq!(range, setting.range);
        setting.average(mean)
    }

    /// CDLDOJI: a real body no longer than a tenth of the average high−low range.
    fn doji(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[DOJI];
        score(c.real_body() <= self.avg(BODY_DOJI, L, 0), 100)
    }

    /// A short body, a lower shadow longer than the body and almost no upper shadow.
    fn hammer_shaped(&self, c: &Ohlc, l: u64) -> bool {
        (c.real_body() < self.avg(BODY_SHORT, l, 0))
            & (c.lower_shadow() > SHADOW_LONG_FACTOR * c.real_body())
            & (c.upper_shadow() < self.avg(SHADOW_VERY_SHORT, l, 0))
    }

    /// A short body, an upper shadow longer than the body and almost no lower shadow.
    fn star_shaped(&self, c: &Ohlc, l: u64) -> bool {
        (c.real_body() < self.avg(BODY_SHORT, l, 0))
            & (c.upper_shadow() > SHADOW_LONG_FACTOR * c.real_body())
            & (c.lower_shadow() < self.avg(SHADOW_VERY_SHORT, l, 0))
    }

    /// CDLHAMMER: hammer-shaped, its body at or near (within "near" of) the previous low.
    fn hammer(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[HAMMER];
        let p = self.before(1);
        let low_down = c.body_bottom() <= p.low + self.avg(NEAR, L, 1);
        score(self.hammer_shaped(c, L) & low_down, 100)
    }

    /// CDLHANGINGMAN: hammer-shaped, its body at or above (within "near" of) the previous
    /// high.
    fn hanging_man(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[HANGING_MAN];
        let p = self.before(1);
        let high_up = c.body_bottom() >= p.high - self.avg(NEAR, L, 1);
        score(self.hammer_shaped(c, L) & high_up, -100)
    }

    /// CDLSHOOTINGSTAR: star-shaped, its body gapping up from the previous body.
    fn shooting_star(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[SHOOTING_STAR];
        score(
            self.star_shaped(c, L) & real_body_gap_up(c, self.before(1)),
            -100,
        )
    }

    /// CDLINVERTEDHAMMER: star-shaped, its body gapping down from the previous body.
    fn inverted_hammer(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[INVERTED_HAMMER];
        score(
            self.star_shaped(c, L) & real_body_gap_down(c, self.before(1)),
            100,
        )
    }

    /// CDLENGULFING: opposite colours, the current body covering the previous one (one end
    /// may be equal, not both); ±80 when an end is equal, in the current candle's colour.
    fn engulfing(&self, c: &Ohlc) -> i32 {
        let p = self.before(1);
        let white_engulfs = c.is_white()
            & !p.is_white()
            & (((c.close >= p.open) & (c.open < p.close))
                | ((c.close > p.open) & (c.open <= p.close)));
        let black_engulfs = !c.is_white()
            & p.is_white()
            & (((c.open >= p.close) & (c.close < p.open))
                | ((c.open > p.close) & (c.close <= p.open)));
        let clear = (c.open != p.close) & (c.close != p.open);
        score(
            white_engulfs | black_engulfs,
            c.color() * (80 + score(clear, 20)),
        )
    }

    /// CDLHARAMI: a long body, then a short one inside it; ±100 strictly inside, ±80 when
    /// an end is shared, against the first candle's colour.
    fn harami(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[HARAMI];
        let p = self.before(1);
        let sizes = (p.real_body() > self.avg(BODY_LONG, L, 1))
            & (c.real_body() <= self.avg(BODY_SHORT, L, 0));
        let inside = (c.body_top() < p.body_top()) & (c.body_bottom() > p.body_bottom());
        let within = (c.body_top() <= p.body_top()) & (c.body_bottom() >= p.body_bottom());
        // `inside` implies `within`: 20 + 80 or 80.
        score(sizes, -p.color() * (score(inside, 20) + score(within, 80)))
    }

    /// A long first body, a short second one, a third longer than short.
    fn star_bodies(&self, c: &Ohlc, l: u64) -> bool {
        (self.before(2).real_body() > self.avg(BODY_LONG, l, 2))
            & (self.before(1).real_body() <= self.avg(BODY_SHORT, l, 1))
            & (c.real_body() > self.avg(BODY_SHORT, l, 0))
    }

    /// CDLMORNINGSTAR: long black, a short body gapping down below it, then a white candle
    /// closing more than [`STAR_PENETRATION`] into the first body.
    fn morning_star(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[MORNING_STAR];
        let (first, star) = (self.before(2), self.before(1));
        let hit = self.star_bodies(c, L)
            & !first.is_white()
            & real_body_gap_down(star, first)
            & c.is_white()
            & (c.close > first.close + first.real_body() * STAR_PENETRATION);
        score(hit, 100)
    }

    /// CDLEVENINGSTAR: long white, a short body gapping up above it, then a black candle
    /// closing more than [`STAR_PENETRATION`] into the first body.
    fn evening_star(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[EVENING_STAR];
        let (first, star) = (self.before(2), self.before(1));
        let hit = self.star_bodies(c, L)
            & first.is_white()
            & real_body_gap_up(star, first)
            & !c.is_white()
            & (c.close < first.close - first.real_body() * STAR_PENETRATION);
        score(hit, -100)
    }

    /// CDL3WHITESOLDIERS: three white candles with very short upper shadows and higher
    /// closes, each opening above the previous open and at most "near" above its close, none
    /// "far" shorter than the one before, the last not short.
    fn three_white_soldiers(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[THREE_WHITE_SOLDIERS];
        let (c2, c1) = (self.before(2), self.before(1));
        let white_and_shaven = |x: &Ohlc, back: usize| {
            x.is_white() & (x.upper_shadow() < self.avg(SHADOW_VERY_SHORT, L, back))
        };
        let steps_up = |prev: &Ohlc, x: &Ohlc, back_prev: usize| {
            (x.open > prev.open)
                & (x.open <= prev.close + self.avg(NEAR, L, back_prev))
                & (x.real_body() > prev.real_body() - self.avg(FAR, L, back_prev))
        };
        let hit = white_and_shaven(c2, 2)
            & white_and_shaven(c1, 1)
            & white_and_shaven(c, 0)
            & (c.close > c1.close)
            & (c1.close > c2.close)
            & steps_up(c2, c1, 2)
            & steps_up(c1, c, 1)
            & (c.real_body() > self.avg(BODY_SHORT, L, 0));
        score(hit, 100)
    }

    /// CDL3BLACKCROWS: after a white candle, three black candles with very short lower
    /// shadows and lower closes, each opening inside the previous black body, the first
    /// closing under the white candle's high.
    fn three_black_crows(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[THREE_BLACK_CROWS];
        let (w, c2, c1) = (self.before(3), self.before(2), self.before(1));
        let black_and_shaven = |x: &Ohlc, back: usize| {
            !x.is_white() & (x.lower_shadow() < self.avg(SHADOW_VERY_SHORT, L, back))
        };
        let opens_inside = |prev: &Ohlc, x: &Ohlc| (x.open < prev.open) & (x.open > prev.close);
        let hit = w.is_white()
            & black_and_shaven(c2, 2)
            & black_and_shaven(c1, 1)
            & black_and_shaven(c, 0)
            & opens_inside(c2, c1)
            & opens_inside(c1, c)
            & (w.high > c2.close)
            & (c2.close > c1.close)
            & (c1.close > c.close);
        score(hit, -100)
    }

    /// CDLMARUBOZU: a long body with very short shadows at both ends, in its colour.
    fn marubozu(&self, c: &Ohlc) -> i32 {
        const L: u64 = LOOKBACK[MARUBOZU];
        let very_short = self.avg(SHADOW_VERY_SHORT, L, 0);
        let hit = (c.real_body() > self.avg(BODY_LONG, L, 0))
            & (c.upper_shadow() < very_short)
            & (c.lower_shadow() < very_short);
        score(hit, c.color() * 100)
    }
}

/// `value` when `hit`, else 0. Patterns evaluate every condition with `&` rather than `&&`
/// and score arithmetically: the conditions are a few dozen comparisons with no side
/// effects, far cheaper than the branch mispredictions short-circuiting costs on real data.
#[inline]
fn score(hit: bool, value: i32) -> i32 {
    i32::from(hit) * value
}

#[cfg(test)]
mod tests;
