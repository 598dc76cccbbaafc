//! The built-in strategies behind one enum, so the host dispatches them statically, and the
//! small [`Pulse`] the event-driven ones share.

use super::api::{unit, Ctx, Fill, PortfolioView, Strategy};
use super::breakout::{Breakout, BreakoutConfig};
use super::cross::{Average, Cross, CrossConfig};
use super::momentum::{Momentum, MomentumConfig};
use super::pattern::{CandlePattern, PatternConfig};
use super::reversal::{Reversal, ReversalConfig};
use crate::core::{Resolution, Trade};

/// Per-instrument × resolution state slots a built-in strategy keeps (one per
/// [`Resolution::index`]).
pub(crate) const SLOTS_PER_INSTRUMENT: usize = Resolution::ALL.len();

/// The slot of `instrument` at `resolution` in a built-in strategy's state table.
#[inline]
pub(crate) fn slot(instrument: usize, resolution: Resolution) -> usize {
    instrument * SLOTS_PER_INSTRUMENT + resolution.index()
}

/// An event that fades: fired with a direction and a strength, then worth
/// `strength × (1 − age / bars)` for `bars` candles (the firing one is age 0), then 0.
/// Events are instants; a fading value lets the score see them for a few candles and lets
/// slower resolutions' signals line up with them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pulse {
    value: f64,
    age: u32,
    bars: u32,
}

impl Pulse {
    /// Fires `value` (its sign is the direction) fading over `bars` candles (0 is treated as 1).
    #[inline]
    pub fn fire(&mut self, value: f64, bars: u32) {
        self.value = unit(value);
        self.age = 0;
        self.bars = bars.max(1);
    }

    /// Stops it.
    #[inline]
    pub fn cancel(&mut self) {
        self.value = 0.0;
    }

    /// The direction it points in: −1, 0 or +1.
    #[inline]
    pub fn direction(&self) -> f64 {
        if self.current() == 0.0 {
            0.0
        } else {
            super::api::sign(self.value)
        }
    }

    /// Its value now.
    #[inline]
    pub fn current(&self) -> f64 {
        if self.age >= self.bars {
            0.0
        } else {
            self.value * (1.0 - f64::from(self.age) / f64::from(self.bars))
        }
    }

    /// One candle later.
    #[inline]
    pub fn age(&mut self) {
        self.age = self.age.saturating_add(1);
    }
}

/// A validated built-in strategy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum BuiltinSpec {
    /// See [`Momentum`].
    Momentum(MomentumConfig),
    /// See [`Reversal`].
    Reversal(ReversalConfig),
    /// See [`Breakout`].
    Breakout(BreakoutConfig),
    /// See [`CandlePattern`].
    Pattern(PatternConfig),
    /// SMA cross (reference).
    SmaCross(CrossConfig),
    /// EMA cross (reference).
    EmaCross(CrossConfig),
}

impl BuiltinSpec {
    /// The kind's name: `momentum`, `reversal`, `breakout` or `pattern`.
    pub fn kind(&self) -> &'static str {
        match self {
            BuiltinSpec::Momentum(_) => "momentum",
            BuiltinSpec::Reversal(_) => "reversal",
            BuiltinSpec::Breakout(_) => "breakout",
            BuiltinSpec::Pattern(_) => "pattern",
            BuiltinSpec::SmaCross(_) => "sma_cross",
            BuiltinSpec::EmaCross(_) => "ema_cross",
        }
    }
}

/// One of the built-in strategies.
#[derive(Clone, Debug)]
pub enum Builtin {
    /// EMA cross with MACD confirmation.
    Momentum(Momentum),
    /// RSI extremes with Bollinger re-entry.
    Reversal(Reversal),
    /// Donchian / volatility breakout with volume confirmation.
    Breakout(Breakout),
    /// Candle patterns with a trend filter.
    Pattern(CandlePattern),
    /// SMA or EMA cross.
    Cross(Cross),
}

impl Builtin {
    /// The strategy `spec` describes (no state yet: see [`Strategy::reserve`]).
    pub fn new(spec: &BuiltinSpec, allow_short: bool) -> Self {
        match spec {
            BuiltinSpec::Momentum(c) => Builtin::Momentum(Momentum::new(c.clone())),
            BuiltinSpec::Reversal(c) => Builtin::Reversal(Reversal::new(c.clone())),
            BuiltinSpec::Breakout(c) => Builtin::Breakout(Breakout::new(c.clone())),
            BuiltinSpec::Pattern(c) => Builtin::Pattern(CandlePattern::new(c.clone())),
            BuiltinSpec::SmaCross(c) => {
                Builtin::Cross(Cross::new(c.clone(), Average::Sma, allow_short))
            }
            BuiltinSpec::EmaCross(c) => {
                Builtin::Cross(Cross::new(c.clone(), Average::Ema, allow_short))
            }
        }
    }
}

impl Strategy for Builtin {
    fn name(&self) -> &str {
        match self {
            Builtin::Momentum(s) => s.name(),
            Builtin::Reversal(s) => s.name(),
            Builtin::Breakout(s) => s.name(),
            Builtin::Pattern(s) => s.name(),
            Builtin::Cross(s) => s.name(),
        }
    }

    fn reserve(&mut self, instruments: usize) {
        match self {
            Builtin::Momentum(s) => s.reserve(instruments),
            Builtin::Reversal(s) => s.reserve(instruments),
            Builtin::Breakout(s) => s.reserve(instruments),
            Builtin::Pattern(s) => s.reserve(instruments),
            Builtin::Cross(s) => s.reserve(instruments),
        }
    }

    #[inline]
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        match self {
            Builtin::Momentum(s) => s.on_candle(ctx, resolution),
            Builtin::Reversal(s) => s.on_candle(ctx, resolution),
            Builtin::Breakout(s) => s.on_candle(ctx, resolution),
            Builtin::Pattern(s) => s.on_candle(ctx, resolution),
            Builtin::Cross(s) => s.on_candle(ctx, resolution),
        }
    }

    #[inline]
    fn on_trade<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, trade: &Trade) {
        if let Builtin::Cross(s) = self {
            s.on_trade(ctx, trade);
        }
    }

    fn on_fill<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, fill: &Fill) {
        match self {
            Builtin::Momentum(s) => s.on_fill(ctx, fill),
            Builtin::Reversal(s) => s.on_fill(ctx, fill),
            Builtin::Breakout(s) => s.on_fill(ctx, fill),
            Builtin::Pattern(s) => s.on_fill(ctx, fill),
            Builtin::Cross(s) => s.on_fill(ctx, fill),
        }
    }
}

/// Test helpers shared by the strategies' unit tests: a one-instrument host-less harness
/// that feeds hand-made candles through a real indicator track.
#[cfg(test)]
pub(crate) mod testkit {
    use super::super::api::{Ctx, Frame, IntentBuffer, Portfolio, Strategy};
    use super::super::host::Track;
    use crate::core::{Candle, Instrument, InstrumentId, Price, Qty, Resolution, Symbol};

    /// A candle at minute `i` (prices in whole quote units).
    pub fn candle(i: u64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Candle {
        let px = |x: f64| Price((x * 1e8).round() as i64);
        Candle {
            instrument: InstrumentId(0),
            resolution: Resolution::M1,
            open_ns: 1_700_000_000_000_000_000 + i * Resolution::M1.nanos(),
            open: px(open),
            high: px(high),
            low: px(low),
            close: px(close),
            volume: Qty((volume * 1e8).round() as i64),
            quote_volume: 0,
            trades: 1,
            sources: 1,
            taker_buy_volume: Qty(0),
            anomalies: 0,
            revision: 0,
            flags: 0,
        }
    }

    /// Candles from closes: open at the previous close, a small wick, constant volume.
    pub fn from_closes(closes: &[f64], volume: f64) -> Vec<Candle> {
        let mut prev = closes.first().copied().unwrap_or(100.0);
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let o = prev;
                prev = c;
                candle(i as u64, o, o.max(c) + 0.1, o.min(c) - 0.1, c, volume)
            })
            .collect()
    }

    /// The pattern outputs of each candle.
    pub fn patterns(candles: &[Candle]) -> Vec<[i32; 12]> {
        let mut track = Track::new(20, 50);
        candles.iter().map(|c| track.update(c).patterns).collect()
    }

    /// Feeds `candles` at 1m to `s`; returns its raw signal after each.
    pub fn run<S: Strategy>(s: &mut S, candles: &[Candle]) -> Vec<Option<f64>> {
        s.reserve(1);
        let inst = Instrument {
            symbol: Symbol::new(b"TEST").unwrap(),
            tick: 1,
            lot: 1,
        };
        let mut track = Track::new(20, 50);
        let pf = Portfolio::new(1, 0);
        let mut buf = IntentBuffer::new();
        let mut frames: [Option<Frame>; 5] = [None; 5];
        candles
            .iter()
            .map(|c| {
                frames[Resolution::M1.index()] = Some(track.update(c));
                let mut ctx = Ctx::new(InstrumentId(0), &inst, 0, 0, &frames, None, &pf, &mut buf);
                s.on_candle(&mut ctx, Resolution::M1)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulse_fades_linearly() {
        let mut p = Pulse::default();
        assert_eq!(p.current(), 0.0);
        p.fire(-0.8, 4);
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(p.current());
            p.age();
        }
        for (g, want) in got.iter().zip([-0.8, -0.6, -0.4, -0.2, 0.0]) {
            assert!((g - want).abs() < 1e-12, "{got:?}");
        }
        p.fire(2.0, 0);
        assert_eq!(p.current(), 1.0);
        assert_eq!(p.direction(), 1.0);
        p.cancel();
        assert_eq!(p.direction(), 0.0);
    }
}
