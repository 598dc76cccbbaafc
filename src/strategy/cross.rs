//! Moving-average cross: the reference strategies `sma_cross` and `ema_cross`.
//!
//! **Idea.** The simplest trend follower, here so results can be compared with other
//! backtesters trade by trade: when the fast average of the close crosses above the slow one,
//! close any position and go long with all the equity; when it crosses below, close any
//! position and go short (or stay flat with `allow_short = false`).
//!
//! **Exactly backtesting.py's `SmaCross`.** A cross is its `crossover`: up when the fast
//! average was strictly below the slow one on the previous candle and is strictly above it
//! now (a tie on either candle is no cross), down the other way round. Each cross acts,
//! whatever the position: a cross up while already long (the down-cross before it was
//! swallowed by a tie) closes the long and opens a new one, re-sized. The strategy emits
//! its intents itself (no scoring, no noise gates, no host sizing): a market IOC `close` of
//! the whole net position, then a market IOC `open` of
//!
//! ```text
//! qty = the most whole lots (whole units with whole_units = true) whose cost at the last
//!       trade price is strictly below fraction × equity
//! ```
//!
//! with equity marked at that price (what backtesting.py sizes with after the close fills at
//! the same price). In bar mode with `--fill next-open` a candle closes on the next bar's
//! open trade, so the price, the equity and the fills are all that open, as in
//! backtesting.py with `trade_on_close = False`.
//!
//! It acts on candles of `resolution` (default: every resolution the host gives it, so
//! configure one). The position it reads is the filled net position: with order latency, a
//! cross arriving before the previous cross's orders filled sees the old position.
//!
//! State: two averages and the last gap per instrument × resolution, and the last trade
//! price per instrument, allocated in `reserve`; nothing after.

use serde::Deserialize;

use super::api::{Ctx, PortfolioView, Strategy};
use super::builtin::{slot, SLOTS_PER_INSTRUMENT};
use super::config::{invalid, StrategyConfigError};
use crate::core::order::{Purpose, TimeInForce};
use crate::core::{OrderType, Price, Qty, Resolution, Side, Trade};
use crate::indicators::ema::Ema;
use crate::indicators::Sma;

/// 10⁻⁸ scale of prices and quantities.
const SCALE: i128 = 100_000_000;
/// `fraction` is kept in millionths.
const PPM: i128 = 1_000_000;

/// Cross parameters (`sma_cross = { fast = 10, slow = 20 }`, same for `ema_cross`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossConfig {
    /// Fast period. Default 10.
    #[serde(default = "default_fast")]
    pub fast: usize,
    /// Slow period (more than `fast`). Default 20.
    #[serde(default = "default_slow")]
    pub slow: usize,
    /// Share of equity each entry may cost, (0, 1]. Default 1 (backtesting.py's `buy()`).
    #[serde(default = "default_fraction")]
    pub fraction: f64,
    /// Enter in whole units of the base asset (backtesting.py's sizing). Default false
    /// (whole lots of the instrument).
    #[serde(default)]
    pub whole_units: bool,
    /// The only resolution it acts on (`"1m"`, …); default every one it is given.
    #[serde(default)]
    pub resolution: Option<String>,
}

fn default_fast() -> usize {
    10
}
fn default_slow() -> usize {
    20
}
fn default_fraction() -> f64 {
    1.0
}

impl Default for CrossConfig {
    fn default() -> Self {
        Self {
            fast: default_fast(),
            slow: default_slow(),
            fraction: default_fraction(),
            whole_units: false,
            resolution: None,
        }
    }
}

impl CrossConfig {
    /// Checks ranges; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<(), StrategyConfigError> {
        if self.fast == 0 || self.slow <= self.fast {
            return Err(invalid(format!("{key}.slow"), "need 0 < fast < slow"));
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(invalid(format!("{key}.fraction"), "need 0 < fraction <= 1"));
        }
        if let Some(r) = &self.resolution {
            if Resolution::parse(r).is_none() {
                return Err(invalid(
                    format!("{key}.resolution"),
                    format!("`{r}` is not 1s, 1m, 5m, 1h or 1d"),
                ));
            }
        }
        Ok(())
    }
}

/// Which average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// Simple.
    Sma,
    /// Exponential (seeded with the SMA of its first `period` values, as TA-Lib does).
    Ema,
}

#[derive(Clone, Debug)]
enum Pair {
    Sma(Sma, Sma),
    Ema(Ema, Ema),
}

impl Pair {
    #[inline]
    fn update(&mut self, x: f64) -> Option<(f64, f64)> {
        match self {
            Pair::Sma(f, s) => {
                let (a, b) = (f.update(x), s.update(x));
                Some((a?, b?))
            }
            Pair::Ema(f, s) => {
                let (a, b) = (f.update(x), s.update(x));
                Some((a?, b?))
            }
        }
    }
}

#[derive(Clone, Debug)]
struct State {
    pair: Pair,
    /// fast − slow on the previous ready candle.
    prev: Option<f64>,
}

/// The cross strategy (see the module docs).
#[derive(Clone, Debug)]
pub struct Cross {
    cfg: CrossConfig,
    average: Average,
    allow_short: bool,
    fraction_ppm: i128,
    resolution: Option<Resolution>,
    state: Vec<State>,
    /// Last trade price per instrument (0 before the first).
    last_price: Vec<i64>,
}

impl Cross {
    /// With `cfg` (validated); `allow_short` from the strategy's entry.
    pub fn new(cfg: CrossConfig, average: Average, allow_short: bool) -> Self {
        let fraction_ppm = ((cfg.fraction * PPM as f64).round() as i128).clamp(1, PPM);
        let resolution = cfg.resolution.as_deref().and_then(Resolution::parse);
        Self {
            cfg,
            average,
            allow_short,
            fraction_ppm,
            resolution,
            state: Vec::new(),
            last_price: Vec::new(),
        }
    }

    /// The entry size at `price` with `equity` (both 10⁻⁸): the most whole `unit`s whose
    /// cost is strictly below `fraction` × equity. 0 when nothing fits.
    fn entry_qty(&self, equity: i64, price: i64, lot: i64) -> i64 {
        if equity <= 0 || price <= 0 {
            return 0;
        }
        let lot = i128::from(lot.max(1));
        let unit = if self.cfg.whole_units {
            // A whole unit, rounded up to whole lots.
            (SCALE + lot - 1) / lot * lot
        } else {
            lot
        };
        // Budget at 10⁻¹⁶ (price × qty scale): equity × fraction.
        let budget = i128::from(equity) * SCALE * self.fraction_ppm / PPM;
        let price = i128::from(price);
        let units = budget / (price * unit);
        let units = if units * price * unit == budget {
            units - 1
        } else {
            units
        };
        i64::try_from((units.max(0)) * unit).unwrap_or(0)
    }

    /// Closes any position, then opens `side` (a sell only with shorts allowed).
    fn act<P: PortfolioView + ?Sized>(&self, ctx: &mut Ctx<'_, P>, side: Side, price: i64) {
        let pos = ctx.position().qty.0;
        if pos != 0 {
            let close = ctx.intent(
                if pos > 0 { Side::Sell } else { Side::Buy },
                OrderType::Market,
                Price(price),
                Qty(pos.saturating_abs()),
                TimeInForce::Ioc,
                Purpose::Close,
            );
            ctx.emit(close);
        }
        if side == Side::Sell && !self.allow_short {
            return;
        }
        // Equity marked at `price`: after the close fills there, the same (less its fee).
        let lot = ctx.instrument_spec().lot;
        let qty = self.entry_qty(ctx.portfolio().equity(), price, lot);
        if qty > 0 {
            let open = ctx.intent(
                side,
                OrderType::Market,
                Price(price),
                Qty(qty),
                TimeInForce::Ioc,
                Purpose::Open,
            );
            ctx.emit(open);
        }
    }
}

impl Strategy for Cross {
    fn name(&self) -> &str {
        match self.average {
            Average::Sma => "sma_cross",
            Average::Ema => "ema_cross",
        }
    }

    fn reserve(&mut self, instruments: usize) {
        let pair = match self.average {
            Average::Sma => Pair::Sma(Sma::new(self.cfg.fast), Sma::new(self.cfg.slow)),
            Average::Ema => Pair::Ema(Ema::new(self.cfg.fast), Ema::new(self.cfg.slow)),
        };
        let s = State { pair, prev: None };
        self.state = vec![s; instruments * SLOTS_PER_INSTRUMENT];
        self.last_price = vec![0; instruments];
    }

    #[inline]
    fn on_trade<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, trade: &Trade) {
        if let Some(p) = self.last_price.get_mut(ctx.instrument().index()) {
            *p = trade.price.0;
        }
    }

    #[inline]
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        if self.resolution.is_some_and(|r| r != resolution) {
            return None;
        }
        let candle = *ctx.candle(resolution)?;
        let close = ctx.frame(resolution)?.bar().close;
        let s = self
            .state
            .get_mut(slot(ctx.instrument().index(), resolution))?;
        let (fast, slow) = s.pair.update(close)?;
        let d = fast - slow;
        let side = match s.prev {
            Some(p) if p < 0.0 && d > 0.0 => Some(Side::Buy),
            Some(p) if p > 0.0 && d < 0.0 => Some(Side::Sell),
            _ => None,
        };
        s.prev = Some(d);
        if let Some(side) = side {
            let last = self
                .last_price
                .get(ctx.instrument().index())
                .copied()
                .unwrap_or(0);
            let price = if last > 0 { last } else { candle.close.0 };
            self.act(ctx, side, price);
        }
        // The intents went out directly; the host has nothing to score.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::{Frame, IntentBuffer, Portfolio, Position};
    use super::super::builtin::testkit::from_closes;
    use super::super::host::Track;
    use super::*;
    use crate::core::order::OrderIntent;
    use crate::core::{Instrument, InstrumentId, Symbol};

    /// Runs `s` over `closes` with `pf`; returns the intents per candle.
    fn drive(s: &mut Cross, closes: &[f64], pf: &mut Portfolio) -> Vec<Vec<OrderIntent>> {
        s.reserve(1);
        let inst = Instrument {
            symbol: Symbol::new(b"TEST").unwrap(),
            tick: 1,
            lot: 1_000,
        };
        let mut track = Track::new(20, 50);
        let mut frames: [Option<Frame>; 5] = [None; 5];
        let mut out = Vec::new();
        for c in from_closes(closes, 1.0) {
            frames[Resolution::M1.index()] = Some(track.update(&c));
            let mut buf = IntentBuffer::new();
            let mut ctx = Ctx::new(InstrumentId(0), &inst, 0, 0, &frames, None, &*pf, &mut buf);
            assert_eq!(s.on_candle(&mut ctx, Resolution::M1), None);
            let mut got = Vec::new();
            buf.drain(|i| got.push(i));
            // Fill everything at the close.
            for i in &got {
                pf.apply_fill(InstrumentId(0), i.side, i.price, i.qty);
            }
            out.push(got);
        }
        out
    }

    #[test]
    fn acts_on_every_strict_cross_and_closes_first() {
        let mut s = Cross::new(
            CrossConfig {
                fast: 2,
                slow: 3,
                ..CrossConfig::default()
            },
            Average::Sma,
            true,
        );
        let mut pf = Portfolio::new(1, 1_000 * 100_000_000);
        // Falling, flat, rising, falling again.
        let closes = [10.0, 9.0, 8.0, 8.0, 8.0, 9.0, 11.0, 13.0, 12.0, 9.0, 7.0];
        let out = drive(&mut s, &closes, &mut pf);
        let acted: Vec<(usize, Vec<(Side, Purpose)>)> = out
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, v)| (i, v.iter().map(|x| (x.side, x.purpose)).collect()))
            .collect();
        // fast − slow goes −, 0, 0 (ties: no cross), +: the rise "through" equality is no
        // cross (backtesting.py needs prev < 0 strictly); the final fall is a cross down.
        assert_eq!(acted.len(), 1, "{acted:?}");
        assert_eq!(acted[0].1, vec![(Side::Sell, Purpose::Open)]);
        // All equity at the price: 1000 / 9 → 111.11 units in lots of 10⁻⁵.
        let open = out[acted[0].0][0];
        assert_eq!(open.price, Price(900_000_000));
        assert_eq!(open.qty, Qty(11_111_111_000));
        assert!(pf.position(InstrumentId(0)).qty.0 < 0);
    }

    #[test]
    fn a_same_direction_cross_closes_and_reopens() {
        // Long already (a swallowed cross); a cross up closes it and opens again.
        let mut s = Cross::new(
            CrossConfig {
                fast: 2,
                slow: 3,
                whole_units: true,
                ..CrossConfig::default()
            },
            Average::Sma,
            false,
        );
        let mut pf = Portfolio::new(1, 1_000 * 100_000_000);
        pf.set_position(
            InstrumentId(0),
            Position {
                qty: Qty(5 * 100_000_000),
                avg_price: Price(900_000_000),
            },
        );
        let closes = [10.0, 9.0, 8.0, 9.0, 12.0];
        let out = drive(&mut s, &closes, &mut pf);
        let v: Vec<&OrderIntent> = out.iter().flatten().collect();
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(
            (v[0].side, v[0].purpose, v[0].qty),
            (Side::Sell, Purpose::Close, Qty(500_000_000))
        );
        assert_eq!((v[1].side, v[1].purpose), (Side::Buy, Purpose::Open));
        // Whole units, strictly below equity: 1000 / 12 = 83.3 → 83.
        assert_eq!(v[1].qty, Qty(83 * 100_000_000));
    }

    #[test]
    fn sizing_stays_strictly_below_the_budget() {
        let s = Cross::new(
            CrossConfig {
                whole_units: true,
                ..CrossConfig::default()
            },
            Average::Sma,
            true,
        );
        let u = 100_000_000i64;
        // 10 000 / 100 is exactly 100 units: backtesting.py buys 99.
        assert_eq!(s.entry_qty(10_000 * u, 100 * u, 1_000), 99 * u);
        assert_eq!(s.entry_qty(10_000 * u, 101 * u, 1_000), 99 * u);
        assert_eq!(s.entry_qty(10_000 * u, 20_000 * u, 1_000), 0);
        assert_eq!(s.entry_qty(-5, 100 * u, 1_000), 0);
        let half = Cross::new(
            CrossConfig {
                fraction: 0.5,
                ..CrossConfig::default()
            },
            Average::Sma,
            true,
        );
        assert_eq!(half.entry_qty(10_000 * u, 3 * u, 1_000), 166_666_666_000);
    }

    #[test]
    fn sma_and_ema_both_cross_up_on_a_turn() {
        let mut closes: Vec<f64> = (0..30).map(|i| 100.0 - f64::from(i)).collect();
        closes.extend((0..30).map(|i| 70.0 + 2.0 * f64::from(i)));
        for avg in [Average::Sma, Average::Ema] {
            let mut s = Cross::new(
                CrossConfig {
                    fast: 3,
                    slow: 8,
                    ..CrossConfig::default()
                },
                avg,
                true,
            );
            let mut pf = Portfolio::new(1, 1_000 * 100_000_000);
            let out = drive(&mut s, &closes, &mut pf);
            let first = out.iter().position(|v| !v.is_empty()).unwrap();
            assert!(first > 30, "{avg:?} crossed up at {first}");
            assert_eq!(out[first][0].side, Side::Buy, "{avg:?}");
            assert!(pf.position(InstrumentId(0)).qty.0 > 0, "{avg:?}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |c: CrossConfig| c.validate("sma_cross").is_err();
        assert!(bad(CrossConfig {
            fraction: 0.0,
            ..CrossConfig::default()
        }));
        assert!(bad(CrossConfig {
            fraction: 1.5,
            ..CrossConfig::default()
        }));
        assert!(bad(CrossConfig {
            resolution: Some("2m".into()),
            ..CrossConfig::default()
        }));
        assert!(bad(CrossConfig {
            fast: 20,
            slow: 20,
            ..CrossConfig::default()
        }));
    }
}
