//! The strategy API: what user code implements ([`Strategy`]) and what it is handed on every
//! call ([`Ctx`]): the instrument's latest closed [`Frame`] per resolution (candle, indicator
//! row, pattern outputs, volume and ATR regime), a read-only [`PortfolioView`], the last
//! [`BookTicker`], and a fixed-capacity [`IntentBuffer`] to emit [`OrderIntent`]s into.
//!
//! A strategy has two ways to act:
//!
//! * return a **raw signal** in [-1, 1] from [`Strategy::on_candle`]; the
//!   [`StrategyHost`](super::host::StrategyHost) scores it across resolutions, filters noise,
//!   sizes it and emits the intents (the built-in strategies work this way);
//! * **emit intents itself** through [`Ctx::emit`] from any callback; they go out unchanged
//!   (no scoring, no suppression, no sizing).
//!
//! Nothing here allocates: frames are `Copy`, the intent buffer is a fixed array, and the
//! portfolio is a trait the caller implements over its own state. Methods are generic over the
//! portfolio type, so dispatch is static (no `dyn` on the hot path).

use crate::core::order::{OrderIntent, Purpose, TimeInForce};
use crate::core::{
    BookTicker, Candle, Instrument, InstrumentId, OrderType, Price, Qty, Resolution, Side, Trade,
};
use crate::indicators::{Bar, IndicatorRow};

/// Positions in [`IndicatorRow::values`] (the order of [`crate::indicators::COLUMNS`]).
pub mod col {
    /// SMA 20.
    pub const SMA_20: usize = 0;
    /// EMA 12.
    pub const EMA_12: usize = 1;
    /// EMA 26.
    pub const EMA_26: usize = 2;
    /// RSI 14.
    pub const RSI_14: usize = 3;
    /// MACD line (12, 26).
    pub const MACD: usize = 4;
    /// MACD signal line (9).
    pub const MACD_SIGNAL: usize = 5;
    /// MACD histogram.
    pub const MACD_HIST: usize = 6;
    /// Upper Bollinger band (20, 2).
    pub const BB_UPPER: usize = 7;
    /// Middle Bollinger band.
    pub const BB_MIDDLE: usize = 8;
    /// Lower Bollinger band.
    pub const BB_LOWER: usize = 9;
    /// ATR 14.
    pub const ATR_14: usize = 10;
    /// Stochastic %K (5, 3, 3).
    pub const STOCH_K: usize = 11;
    /// Stochastic %D.
    pub const STOCH_D: usize = 12;
    /// On-balance volume.
    pub const OBV: usize = 13;
    /// ADX 14.
    pub const ADX_14: usize = 14;
    /// Session VWAP.
    pub const VWAP: usize = 15;
}

/// Positions in [`Frame::patterns`] (the order of [`crate::patterns::COLUMNS`]).
pub mod pat {
    /// Doji (+100 when present: not directional).
    pub const DOJI: usize = 0;
    /// Hammer (+100).
    pub const HAMMER: usize = 1;
    /// Hanging man (−100).
    pub const HANGING_MAN: usize = 2;
    /// Shooting star (−100).
    pub const SHOOTING_STAR: usize = 3;
    /// Inverted hammer (+100).
    pub const INVERTED_HAMMER: usize = 4;
    /// Engulfing (±100, ±80).
    pub const ENGULFING: usize = 5;
    /// Harami (±100, ±80).
    pub const HARAMI: usize = 6;
    /// Morning star (+100).
    pub const MORNING_STAR: usize = 7;
    /// Evening star (−100).
    pub const EVENING_STAR: usize = 8;
    /// Three white soldiers (+100).
    pub const THREE_WHITE_SOLDIERS: usize = 9;
    /// Three black crows (−100).
    pub const THREE_BLACK_CROWS: usize = 10;
    /// Marubozu (±100).
    pub const MARUBOZU: usize = 11;
}

/// One closed candle at one resolution, with everything the host computed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// The candle.
    pub candle: Candle,
    /// The 16 indicator columns after it (see [`col`]); `None` while warming up.
    pub row: IndicatorRow,
    /// The 12 pattern outputs at it (see [`pat`]).
    pub patterns: [i32; 12],
    /// Its volume ÷ the mean volume of the previous `regime.volume_period` candles; `None`
    /// while warming up or when that mean is 0.
    pub volume_ratio: Option<f64>,
    /// ATR 14 ÷ the mean ATR of the previous `regime.atr_period` candles (the volatility
    /// regime: above 1 more volatile than usual); `None` while warming up.
    pub atr_ratio: Option<f64>,
    /// Candles this resolution's track has seen, this one included.
    pub count: u64,
}

impl Frame {
    /// The value of indicator column `column` (see [`col`]), if ready.
    #[inline]
    pub fn value(&self, column: usize) -> Option<f64> {
        self.row.values.get(column).copied().flatten()
    }

    /// Pattern output `k` (see [`pat`]); 0 for an unknown index.
    #[inline]
    pub fn pattern(&self, k: usize) -> i32 {
        self.patterns.get(k).copied().unwrap_or(0)
    }

    /// The candle as `f64`s (indicators are signals; money stays exact elsewhere).
    #[inline]
    pub fn bar(&self) -> Bar {
        Bar::of(&self.candle)
    }
}

/// A net position as the portfolio sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed quantity (10⁻⁸): positive long, negative short.
    pub qty: Qty,
    /// Average entry price of the open quantity; 0 when flat.
    pub avg_price: Price,
}

/// Read-only portfolio and risk state, as strategies may see it. The risk engine implements
/// it over its own state; [`Portfolio`] is a small stand-alone implementation.
pub trait PortfolioView {
    /// The net position in `instrument` (flat for an unknown one).
    fn position(&self, instrument: InstrumentId) -> Position;
    /// Account equity, quote currency at 10⁻⁸.
    fn equity(&self) -> i64;
    /// True while the kill switch refuses new risk.
    fn kill_switch(&self) -> bool;
    /// Factor (≥ 1) on every entry threshold: the health monitor's breach policy widens
    /// them while it throttles, so only stronger signals open positions. 1 by default.
    fn entry_scale(&self) -> f64 {
        1.0
    }
}

/// A fixed-capacity [`PortfolioView`]: positions per instrument (allocated in `new`), equity
/// and the kill switch, updated by [`Portfolio::apply_fill`] in exact integer arithmetic.
#[derive(Clone, Debug)]
pub struct Portfolio {
    positions: Vec<Position>,
    equity: i64,
    kill_switch: bool,
    entry_scale: f64,
}

impl Portfolio {
    /// Flat in `instruments` instruments with `equity` (quote at 10⁻⁸).
    pub fn new(instruments: usize, equity: i64) -> Self {
        Self {
            positions: vec![Position::default(); instruments],
            equity,
            kill_switch: false,
            entry_scale: 1.0,
        }
    }

    /// Sets the factor on entry thresholds (see [`PortfolioView::entry_scale`]; below 1
    /// counts as 1).
    pub fn set_entry_scale(&mut self, scale: f64) {
        self.entry_scale = if scale > 1.0 { scale } else { 1.0 };
    }

    /// Sets the equity.
    pub fn set_equity(&mut self, equity: i64) {
        self.equity = equity;
    }

    /// Engages or releases the kill switch.
    pub fn set_kill_switch(&mut self, on: bool) {
        self.kill_switch = on;
    }

    /// Sets a position outright (ignored for an unknown instrument).
    pub fn set_position(&mut self, instrument: InstrumentId, position: Position) {
        if let Some(p) = self.positions.get_mut(instrument.index()) {
            *p = position;
        }
    }

    /// Applies a fill: adding to a position moves its average price (rounded toward zero),
    /// reducing keeps it, crossing through flat starts again at the fill price.
    pub fn apply_fill(&mut self, instrument: InstrumentId, side: Side, price: Price, qty: Qty) {
        let Some(p) = self.positions.get_mut(instrument.index()) else {
            return;
        };
        let old = i128::from(p.qty.0);
        let delta = i128::from(side.sign()) * i128::from(qty.0.max(0));
        let new = old + delta;
        let avg = if old == 0 || (old > 0) != (new > 0) || new == 0 {
            // Opened from flat, crossed through zero, or closed.
            if new == 0 {
                0
            } else {
                i128::from(price.0)
            }
        } else if old.signum() == delta.signum() {
            (i128::from(p.avg_price.0) * old.abs() + i128::from(price.0) * delta.abs()) / new.abs()
        } else {
            i128::from(p.avg_price.0)
        };
        p.qty = Qty(clamp_i64(new));
        p.avg_price = Price(clamp_i64(avg));
    }
}

impl PortfolioView for Portfolio {
    fn position(&self, instrument: InstrumentId) -> Position {
        self.positions
            .get(instrument.index())
            .copied()
            .unwrap_or_default()
    }
    fn equity(&self) -> i64 {
        self.equity
    }
    fn kill_switch(&self) -> bool {
        self.kill_switch
    }
    fn entry_scale(&self) -> f64 {
        self.entry_scale
    }
}

/// Saturates an `i128` into an `i64`.
#[inline]
pub(crate) fn clamp_i64(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// An execution attributed to a strategy: what the blotter hands back to the host
/// (it maps the venue's client order id to the intent; [`crate::core::order::Execution`]
/// carries neither the strategy nor the purpose).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The strategy whose intent filled.
    pub strategy: u8,
    /// Side.
    pub side: Side,
    /// The intent's purpose.
    pub purpose: Purpose,
    /// Fill price.
    pub price: Price,
    /// Filled quantity (this fill).
    pub qty: Qty,
    /// Market time of the fill.
    pub market_ns: u64,
}

/// Intents one callback may emit.
pub const INTENT_CAPACITY: usize = 8;

/// A fixed-capacity buffer of intents: a callback's output, drained by the host after it.
#[derive(Clone, Debug)]
pub struct IntentBuffer {
    items: [Option<OrderIntent>; INTENT_CAPACITY],
    len: usize,
    dropped: u64,
}

impl Default for IntentBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl IntentBuffer {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            items: [None; INTENT_CAPACITY],
            len: 0,
            dropped: 0,
        }
    }

    /// Appends; hands the intent back (and counts it as dropped) when full.
    #[inline]
    pub fn push(&mut self, intent: OrderIntent) -> Result<(), OrderIntent> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(intent);
                self.len += 1;
                Ok(())
            }
            None => {
                self.dropped += 1;
                Err(intent)
            }
        }
    }

    /// Intents held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when none are held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Intents refused because the buffer was full, since `new`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The intents held, in emission order.
    pub fn iter(&self) -> impl Iterator<Item = &OrderIntent> {
        self.items[..self.len].iter().flatten()
    }

    /// Hands every intent to `f` in emission order and empties the buffer; returns how many.
    #[inline]
    pub fn drain(&mut self, mut f: impl FnMut(OrderIntent)) -> usize {
        let n = self.len;
        for slot in &mut self.items[..n] {
            if let Some(i) = slot.take() {
                f(i);
            }
        }
        self.len = 0;
        n
    }
}

/// What a strategy callback sees: one instrument's state, read-only, plus an intent buffer.
pub struct Ctx<'a, P: ?Sized> {
    instrument: &'a Instrument,
    id: InstrumentId,
    strategy: u8,
    market_ns: u64,
    frames: &'a [Option<Frame>; 5],
    book: Option<&'a BookTicker>,
    portfolio: &'a P,
    intents: &'a mut IntentBuffer,
}

impl<'a, P: PortfolioView + ?Sized> Ctx<'a, P> {
    /// A context (the host builds them; public so a strategy can be tested on its own).
    /// `frames` is indexed by [`Resolution::index`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: InstrumentId,
        instrument: &'a Instrument,
        strategy: u8,
        market_ns: u64,
        frames: &'a [Option<Frame>; 5],
        book: Option<&'a BookTicker>,
        portfolio: &'a P,
        intents: &'a mut IntentBuffer,
    ) -> Self {
        Self {
            instrument,
            id,
            strategy,
            market_ns,
            frames,
            book,
            portfolio,
            intents,
        }
    }

    /// The instrument.
    #[inline]
    pub fn instrument(&self) -> InstrumentId {
        self.id
    }

    /// Its static facts (tick, lot).
    #[inline]
    pub fn instrument_spec(&self) -> &Instrument {
        self.instrument
    }

    /// This strategy's index in the host.
    #[inline]
    pub fn strategy(&self) -> u8 {
        self.strategy
    }

    /// Market time of the event being handled.
    #[inline]
    pub fn market_ns(&self) -> u64 {
        self.market_ns
    }

    /// The latest closed frame at `resolution`, if the host tracks it and one has closed.
    #[inline]
    pub fn frame(&self, resolution: Resolution) -> Option<&Frame> {
        self.frames[resolution.index()].as_ref()
    }

    /// The latest closed candle at `resolution`.
    #[inline]
    pub fn candle(&self, resolution: Resolution) -> Option<&Candle> {
        self.frame(resolution).map(|f| &f.candle)
    }

    /// The indicator row after the latest closed candle at `resolution`.
    #[inline]
    pub fn row(&self, resolution: Resolution) -> Option<&IndicatorRow> {
        self.frame(resolution).map(|f| &f.row)
    }

    /// The last best bid/ask seen for the instrument.
    #[inline]
    pub fn book(&self) -> Option<&BookTicker> {
        self.book
    }

    /// The portfolio.
    #[inline]
    pub fn portfolio(&self) -> &P {
        self.portfolio
    }

    /// The instrument's net position (all strategies together).
    #[inline]
    pub fn position(&self) -> Position {
        self.portfolio.position(self.id)
    }

    /// An intent for this instrument and strategy, decided now.
    #[inline]
    pub fn intent(
        &self,
        side: Side,
        order_type: OrderType,
        price: Price,
        qty: Qty,
        tif: TimeInForce,
        purpose: Purpose,
    ) -> OrderIntent {
        OrderIntent {
            instrument: self.id,
            strategy: self.strategy,
            side,
            order_type,
            price,
            qty,
            tif,
            purpose,
            decided_ns: self.market_ns,
        }
    }

    /// Emits an intent as is (no scoring, suppression or sizing); false (counted) when this
    /// callback already emitted [`INTENT_CAPACITY`].
    #[inline]
    pub fn emit(&mut self, intent: OrderIntent) -> bool {
        self.intents.push(intent).is_ok()
    }
}

/// A trading strategy. Every method runs on the hot path: no allocation, no lock, no panic.
/// State per instrument is allocated in [`Strategy::reserve`], before any event.
pub trait Strategy {
    /// Short name for reports.
    fn name(&self) -> &str;

    /// Allocates state for `instruments` instruments (cold path; called once by the host).
    fn reserve(&mut self, instruments: usize) {
        let _ = instruments;
    }

    /// A candle closed at `resolution` (`ctx.frame(resolution)` holds it and the indicators
    /// after it). Returns the raw signal at that resolution: −1 (short) ..= +1 (long), 0
    /// neutral, `None` while not ready. Values outside [-1, 1] are clamped and NaN is `None`.
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64>;

    /// A public trade.
    fn on_trade<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, trade: &Trade) {
        let _ = (ctx, trade);
    }

    /// A best bid/ask update.
    fn on_book_ticker<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        book: &BookTicker,
    ) {
        let _ = (ctx, book);
    }

    /// One of this strategy's intents (part) filled.
    fn on_fill<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, fill: &Fill) {
        let _ = (ctx, fill);
    }

    /// A timer tick (called per instrument).
    fn on_timer<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, now_ns: u64) {
        let _ = (ctx, now_ns);
    }
}

/// The custom-strategy slot of a host that runs built-ins only: it has no values.
#[derive(Clone, Copy, Debug)]
pub enum NoCustom {}

impl Strategy for NoCustom {
    fn name(&self) -> &str {
        match *self {}
    }
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        _ctx: &mut Ctx<'_, P>,
        _resolution: Resolution,
    ) -> Option<f64> {
        match *self {}
    }
}

/// `x` clamped to [-1, 1], NaN → 0.
#[inline]
pub fn unit(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-1.0, 1.0)
    }
}

/// −1, 0 or +1 (0 for NaN and ±0).
#[inline]
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Symbol;

    #[test]
    fn column_constants_name_the_right_columns() {
        use crate::indicators::COLUMNS;
        assert_eq!(COLUMNS[col::SMA_20], "sma_20");
        assert_eq!(COLUMNS[col::EMA_26], "ema_26");
        assert_eq!(COLUMNS[col::RSI_14], "rsi_14");
        assert_eq!(COLUMNS[col::MACD_HIST], "macd_hist");
        assert_eq!(COLUMNS[col::BB_LOWER], "bb_lower");
        assert_eq!(COLUMNS[col::ATR_14], "atr_14");
        assert_eq!(COLUMNS[col::ADX_14], "adx_14");
        assert_eq!(COLUMNS[col::VWAP], "vwap");
        let p = crate::patterns::COLUMNS;
        assert_eq!(p[pat::DOJI], "cdl_doji");
        assert_eq!(p[pat::ENGULFING], "cdl_engulfing");
        assert_eq!(p[pat::THREE_BLACK_CROWS], "cdl_3blackcrows");
        assert_eq!(p[pat::MARUBOZU], "cdl_marubozu");
    }

    #[test]
    fn intent_buffer_is_bounded_and_drains_in_order() {
        let inst = Instrument {
            symbol: Symbol::new(b"BTCUSDT").unwrap(),
            tick: 1_000_000,
            lot: 1_000,
        };
        let frames = [None; 5];
        let pf = Portfolio::new(1, 0);
        let mut buf = IntentBuffer::new();
        let mut ctx = Ctx::new(InstrumentId(0), &inst, 3, 7, &frames, None, &pf, &mut buf);
        for q in 0..INTENT_CAPACITY as i64 + 2 {
            let i = ctx.intent(
                Side::Buy,
                OrderType::Market,
                Price(1),
                Qty(q),
                TimeInForce::Ioc,
                Purpose::Open,
            );
            assert_eq!(ctx.emit(i), q < INTENT_CAPACITY as i64);
        }
        assert_eq!(buf.len(), INTENT_CAPACITY);
        assert_eq!(buf.dropped(), 2);
        let mut got = Vec::new();
        assert_eq!(buf.drain(|i| got.push(i)), INTENT_CAPACITY);
        assert!(buf.is_empty());
        assert_eq!(got[3].qty, Qty(3));
        assert_eq!((got[0].strategy, got[0].decided_ns), (3, 7));
    }

    #[test]
    fn portfolio_averages_exactly() {
        let id = InstrumentId(0);
        let mut p = Portfolio::new(1, 1_000);
        p.apply_fill(id, Side::Buy, Price(100), Qty(2));
        p.apply_fill(id, Side::Buy, Price(103), Qty(1));
        assert_eq!(p.position(id).qty, Qty(3));
        assert_eq!(p.position(id).avg_price, Price(101));
        p.apply_fill(id, Side::Sell, Price(200), Qty(1));
        assert_eq!(p.position(id).avg_price, Price(101));
        p.apply_fill(id, Side::Sell, Price(90), Qty(4));
        assert_eq!(
            p.position(id),
            Position {
                qty: Qty(-2),
                avg_price: Price(90)
            }
        );
        p.apply_fill(id, Side::Buy, Price(1), Qty(2));
        assert_eq!(p.position(id), Position::default());
        assert_eq!(p.position(InstrumentId(9)), Position::default());
        p.apply_fill(InstrumentId(9), Side::Buy, Price(1), Qty(1));
    }

    #[test]
    fn unit_and_sign() {
        assert_eq!(unit(f64::NAN), 0.0);
        assert_eq!(unit(3.0), 1.0);
        assert_eq!(unit(-0.5), -0.5);
        assert_eq!(sign(f64::NAN), 0.0);
        assert_eq!(sign(-2.0), -1.0);
    }
}
