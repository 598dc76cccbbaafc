//! The risk engine's limits, in two steps: [`RawRiskLimits`] is the TOML table as written
//! (unknown keys refused, money and quantities as decimal strings), [`RiskLimits`] the
//! validated, typed limits the engine is built from. Decimals are parsed exactly with
//! [`parse_scaled_text`]; no float ever touches a limit.
//!
//! Cold path only: this module allocates freely and runs before the engine is built.

use serde::Deserialize;

use crate::core::num::{parse_scaled_text, Qty};
use crate::core::Symbol;

/// Basis points in one.
pub const BPS: i64 = 10_000;

/// The most orders per second and open orders a limit may ask for: the engine allocates a
/// slot for each at start.
pub const MAX_TABLE: u32 = 1 << 16;

/// A configuration error, naming the key at fault. Cold path.
#[derive(Debug, thiserror::Error)]
pub enum RiskLimitsError {
    /// TOML syntax or schema error (unknown key, wrong type); the message names the key.
    #[error("risk limits: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("risk limits: {key}: {message}")]
    Invalid {
        /// Key, dotted for per-instrument entries.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> RiskLimitsError {
    RiskLimitsError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// How far equity may fall from its peak before the kill switch trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drawdown {
    /// A fraction of the peak, in basis points (1..=10000).
    Bps(i64),
    /// An amount of quote currency at 10⁻⁸.
    Absolute(i64),
}

/// Position and order-size limits for one instrument, overriding the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstrumentLimits {
    /// Exchange symbol the entry applies to.
    pub symbol: Symbol,
    /// Largest |position|, counting every working order on the side that grows it.
    pub max_position: Qty,
    /// Largest quantity of one opening order.
    pub max_order_qty: Qty,
}

/// Validated limits. Money is quote currency at 10⁻⁸ (`i64`), quantities [`Qty`], ratios
/// basis points. Build it with [`RiskLimits::from_toml`], [`RiskLimits::from_raw`] or
/// [`RiskLimits::default`] and adjust fields; [`RiskLimits::validate`] runs again when the
/// engine is built, so hand-made limits are checked too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskLimits {
    /// Default largest |position| per instrument (base quantity), counting working orders.
    pub max_position: Qty,
    /// Default largest quantity of one opening order.
    pub max_order_qty: Qty,
    /// Per-instrument overrides of the two above, matched by symbol.
    pub instruments: Vec<InstrumentLimits>,
    /// Largest notional of one opening order (at its limit or reference price).
    pub max_order_notional: i64,
    /// Largest Σ |position value| (marked at each instrument's last trade), counting working
    /// orders.
    pub max_gross_exposure: i64,
    /// Largest |Σ position value|, counting working orders.
    pub max_net_exposure: i64,
    /// Largest distance of an order's price from the last trade, in bps of the last trade.
    pub price_band_bps: i64,
    /// Most orders accepted in any one second of market time.
    pub max_orders_per_sec: u32,
    /// Most orders working at once (strategy orders; the engine's own exits use a reserve).
    pub max_open_orders: u32,
    /// Largest fall of equity since 00:00 UTC (market time) before the kill switch trips.
    pub daily_loss: i64,
    /// Largest fall of equity from its peak before the kill switch trips.
    pub max_drawdown: Drawdown,
    /// Stop-loss distance from the average entry, in bps; 0 = off.
    pub stop_loss_bps: i64,
    /// Take-profit distance from the average entry, in bps; 0 = off.
    pub take_profit_bps: i64,
    /// Trailing-stop distance from the best trade price since entry, in bps; 0 = off.
    pub trailing_stop_bps: i64,
    /// Flatten every position with market orders when the kill switch trips.
    pub flatten_on_kill: bool,
    /// Start with the kill switch on (an operator's hold); [`super::RiskEngine::reset_kill`]
    /// releases it.
    pub kill_switch: bool,
    /// Equity (cash) at start.
    pub initial_equity: i64,
}

impl Default for RiskLimits {
    /// The documented defaults of [`RawRiskLimits`].
    fn default() -> Self {
        // The raw defaults are constants that validate; a failure here is a bug caught by the
        // `defaults_validate` test, and falling back keeps `default()` panic-free regardless.
        Self::from_raw(&RawRiskLimits::default()).unwrap_or(Self {
            max_position: Qty(0),
            max_order_qty: Qty(0),
            instruments: Vec::new(),
            max_order_notional: 0,
            max_gross_exposure: 0,
            max_net_exposure: 0,
            price_band_bps: 0,
            max_orders_per_sec: 1,
            max_open_orders: 1,
            daily_loss: 0,
            max_drawdown: Drawdown::Absolute(0),
            stop_loss_bps: 0,
            take_profit_bps: 0,
            trailing_stop_bps: 0,
            flatten_on_kill: true,
            kill_switch: true,
            initial_equity: 0,
        })
    }
}

/// Per-instrument override as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstrumentLimits {
    /// Exchange symbol, e.g. `"BTCUSDT"`.
    pub symbol: String,
    /// Overrides `max_position`.
    pub max_position: Option<String>,
    /// Overrides `max_order_qty`.
    pub max_order_qty: Option<String>,
}

/// The limits as written in TOML. Every key is optional; the defaults are given per field.
///
/// ```toml
/// max_position = "0.5"          # base qty per instrument
/// max_order_notional = "10000"  # quote
/// max_drawdown_bps = 500        # or max_drawdown = "2500" (quote), not both
/// stop_loss_bps = 150
/// [[instruments]]
/// symbol = "ETHUSDT"
/// max_position = "8"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRiskLimits {
    /// Default `"1"`.
    #[serde(default = "d_max_position")]
    pub max_position: String,
    /// Default `"0.1"`.
    #[serde(default = "d_max_order_qty")]
    pub max_order_qty: String,
    /// Default none.
    #[serde(default)]
    pub instruments: Vec<RawInstrumentLimits>,
    /// Default `"10000"`.
    #[serde(default = "d_max_order_notional")]
    pub max_order_notional: String,
    /// Default `"100000"`.
    #[serde(default = "d_max_gross_exposure")]
    pub max_gross_exposure: String,
    /// Default `"50000"`.
    #[serde(default = "d_max_net_exposure")]
    pub max_net_exposure: String,
    /// Default 500 (5 %).
    #[serde(default = "d_price_band_bps")]
    pub price_band_bps: u32,
    /// Default 20.
    #[serde(default = "d_max_orders_per_sec")]
    pub max_orders_per_sec: u32,
    /// Default 64.
    #[serde(default = "d_max_open_orders")]
    pub max_open_orders: u32,
    /// Default `"2000"`.
    #[serde(default = "d_daily_loss")]
    pub daily_loss: String,
    /// Absolute drawdown limit (quote). Exclusive with `max_drawdown_bps`.
    #[serde(default)]
    pub max_drawdown: Option<String>,
    /// Drawdown limit in bps of the peak. Default 1000 (10 %) when neither key is given.
    #[serde(default)]
    pub max_drawdown_bps: Option<u32>,
    /// Default 0 (off).
    #[serde(default)]
    pub stop_loss_bps: u32,
    /// Default 0 (off).
    #[serde(default)]
    pub take_profit_bps: u32,
    /// Default 0 (off).
    #[serde(default)]
    pub trailing_stop_bps: u32,
    /// Default `true`.
    #[serde(default = "d_true")]
    pub flatten_on_kill: bool,
    /// Default `false`.
    #[serde(default)]
    pub kill_switch: bool,
    /// Default `"100000"`.
    #[serde(default = "d_initial_equity")]
    pub initial_equity: String,
}

impl Default for RawRiskLimits {
    fn default() -> Self {
        Self {
            max_position: d_max_position(),
            max_order_qty: d_max_order_qty(),
            instruments: Vec::new(),
            max_order_notional: d_max_order_notional(),
            max_gross_exposure: d_max_gross_exposure(),
            max_net_exposure: d_max_net_exposure(),
            price_band_bps: d_price_band_bps(),
            max_orders_per_sec: d_max_orders_per_sec(),
            max_open_orders: d_max_open_orders(),
            daily_loss: d_daily_loss(),
            max_drawdown: None,
            max_drawdown_bps: None,
            stop_loss_bps: 0,
            take_profit_bps: 0,
            trailing_stop_bps: 0,
            flatten_on_kill: true,
            kill_switch: false,
            initial_equity: d_initial_equity(),
        }
    }
}

fn d_max_position() -> String {
    "1".into()
}
fn d_max_order_qty() -> String {
    "0.1".into()
}
fn d_max_order_notional() -> String {
    "10000".into()
}
fn d_max_gross_exposure() -> String {
    "100000".into()
}
fn d_max_net_exposure() -> String {
    "50000".into()
}
fn d_price_band_bps() -> u32 {
    500
}
fn d_max_orders_per_sec() -> u32 {
    20
}
fn d_max_open_orders() -> u32 {
    64
}
fn d_daily_loss() -> String {
    "2000".into()
}
fn d_true() -> bool {
    true
}
fn d_initial_equity() -> String {
    "100000".into()
}

fn positive(key: &str, s: &str) -> Result<i64, RiskLimitsError> {
    match parse_scaled_text(s.trim().as_bytes()) {
        Some(v) if v > 0 => Ok(v),
        Some(_) => Err(invalid(key, format!("`{s}` must be greater than 0"))),
        None => Err(invalid(
            key,
            format!("`{s}` is not an exact decimal with at most 8 places"),
        )),
    }
}

impl RiskLimits {
    /// Parses a TOML table (unknown keys refused) and validates it.
    pub fn from_toml(text: &str) -> Result<Self, RiskLimitsError> {
        let raw: RawRiskLimits =
            toml::from_str(text).map_err(|e| RiskLimitsError::Parse(e.to_string()))?;
        Self::from_raw(&raw)
    }

    /// Parses the decimals of `raw` exactly and validates the result.
    pub fn from_raw(raw: &RawRiskLimits) -> Result<Self, RiskLimitsError> {
        let max_drawdown = match (&raw.max_drawdown, raw.max_drawdown_bps) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "max_drawdown",
                    "give max_drawdown (quote) or max_drawdown_bps, not both",
                ))
            }
            (Some(abs), None) => Drawdown::Absolute(positive("max_drawdown", abs)?),
            (None, Some(bps)) => Drawdown::Bps(i64::from(bps)),
            (None, None) => Drawdown::Bps(1_000),
        };
        let max_position = Qty(positive("max_position", &raw.max_position)?);
        let max_order_qty = Qty(positive("max_order_qty", &raw.max_order_qty)?);
        let mut instruments = Vec::with_capacity(raw.instruments.len());
        for (k, ri) in raw.instruments.iter().enumerate() {
            let key = |f: &str| format!("instruments[{k}].{f}");
            let symbol = Symbol::new(ri.symbol.as_bytes()).ok_or_else(|| {
                invalid(key("symbol"), format!("`{}` is not a symbol", ri.symbol))
            })?;
            let qty = |f: &str, v: &Option<String>, d: Qty| match v {
                Some(s) => positive(&key(f), s).map(Qty),
                None => Ok(d),
            };
            instruments.push(InstrumentLimits {
                symbol,
                max_position: qty("max_position", &ri.max_position, max_position)?,
                max_order_qty: qty("max_order_qty", &ri.max_order_qty, max_order_qty)?,
            });
        }
        let limits = Self {
            max_position,
            max_order_qty,
            instruments,
            max_order_notional: positive("max_order_notional", &raw.max_order_notional)?,
            max_gross_exposure: positive("max_gross_exposure", &raw.max_gross_exposure)?,
            max_net_exposure: positive("max_net_exposure", &raw.max_net_exposure)?,
            price_band_bps: i64::from(raw.price_band_bps),
            max_orders_per_sec: raw.max_orders_per_sec,
            max_open_orders: raw.max_open_orders,
            daily_loss: positive("daily_loss", &raw.daily_loss)?,
            max_drawdown,
            stop_loss_bps: i64::from(raw.stop_loss_bps),
            take_profit_bps: i64::from(raw.take_profit_bps),
            trailing_stop_bps: i64::from(raw.trailing_stop_bps),
            flatten_on_kill: raw.flatten_on_kill,
            kill_switch: raw.kill_switch,
            initial_equity: positive("initial_equity", &raw.initial_equity)?,
        };
        limits.validate()?;
        Ok(limits)
    }

    /// Checks ranges and consistency: every money limit and quantity > 0, the band in
    /// 1..=10000 bps, stops in 0..10000 bps, the drawdown in 1..=10000 bps or > 0, table
    /// sizes in 1..=[`MAX_TABLE`], no symbol given twice.
    pub fn validate(&self) -> Result<(), RiskLimitsError> {
        let pos = |key: &str, v: i64| {
            if v > 0 {
                Ok(())
            } else {
                Err(invalid(key, format!("{v} must be greater than 0")))
            }
        };
        pos("max_position", self.max_position.0)?;
        pos("max_order_qty", self.max_order_qty.0)?;
        pos("max_order_notional", self.max_order_notional)?;
        pos("max_gross_exposure", self.max_gross_exposure)?;
        pos("max_net_exposure", self.max_net_exposure)?;
        pos("daily_loss", self.daily_loss)?;
        pos("initial_equity", self.initial_equity)?;
        for (k, il) in self.instruments.iter().enumerate() {
            pos(&format!("instruments[{k}].max_position"), il.max_position.0)?;
            pos(
                &format!("instruments[{k}].max_order_qty"),
                il.max_order_qty.0,
            )?;
            if self.instruments[..k].iter().any(|o| o.symbol == il.symbol) {
                return Err(invalid(
                    format!("instruments[{k}].symbol"),
                    format!("`{}` is given twice", il.symbol.as_str()),
                ));
            }
        }
        if !(1..=BPS).contains(&self.price_band_bps) {
            return Err(invalid("price_band_bps", "must be between 1 and 10000"));
        }
        for (key, v) in [
            ("stop_loss_bps", self.stop_loss_bps),
            ("take_profit_bps", self.take_profit_bps),
            ("trailing_stop_bps", self.trailing_stop_bps),
        ] {
            if !(0..BPS).contains(&v) {
                return Err(invalid(key, "must be between 0 (off) and 9999"));
            }
        }
        match self.max_drawdown {
            Drawdown::Bps(b) if !(1..=BPS).contains(&b) => {
                return Err(invalid("max_drawdown_bps", "must be between 1 and 10000"))
            }
            Drawdown::Absolute(a) => pos("max_drawdown", a)?,
            Drawdown::Bps(_) => {}
        }
        for (key, v) in [
            ("max_orders_per_sec", self.max_orders_per_sec),
            ("max_open_orders", self.max_open_orders),
        ] {
            if !(1..=MAX_TABLE).contains(&v) {
                return Err(invalid(key, format!("must be between 1 and {MAX_TABLE}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::num::SCALE;

    #[test]
    fn defaults_validate() {
        let l = RiskLimits::default();
        assert_eq!(l, RiskLimits::from_toml("").unwrap());
        assert_eq!(l.max_position, Qty(SCALE));
        assert_eq!(l.max_order_qty, Qty(SCALE / 10));
        assert_eq!(l.max_drawdown, Drawdown::Bps(1_000));
        assert!(l.flatten_on_kill && !l.kill_switch);
        assert_eq!(l.initial_equity, 100_000 * SCALE);
    }

    #[test]
    fn parses_exactly_and_overrides_per_symbol() {
        let l = RiskLimits::from_toml(
            "max_order_notional = \"2500.5\"\nmax_drawdown = \"1e3\"\nstop_loss_bps = 150\n\
             [[instruments]]\nsymbol = \"ETHUSDT\"\nmax_position = \"8\"\n",
        )
        .unwrap();
        assert_eq!(l.max_order_notional, 250_050_000_000);
        assert_eq!(l.max_drawdown, Drawdown::Absolute(1_000 * SCALE));
        assert_eq!(l.stop_loss_bps, 150);
        assert_eq!(l.instruments[0].symbol.as_str(), "ETHUSDT");
        assert_eq!(l.instruments[0].max_position, Qty(8 * SCALE));
        assert_eq!(l.instruments[0].max_order_qty, l.max_order_qty);
    }

    #[test]
    fn refuses_bad_tables() {
        let cases: &[(&str, &str)] = &[
            ("max_positon = \"1\"", "max_positon"),
            ("max_position = \"0\"", "max_position"),
            ("max_position = \"-1\"", "max_position"),
            ("max_order_qty = \"0.000000001\"", "max_order_qty"),
            ("daily_loss = \"abc\"", "daily_loss"),
            ("max_drawdown = \"5\"\nmax_drawdown_bps = 5", "max_drawdown"),
            ("max_drawdown_bps = 0", "max_drawdown_bps"),
            ("price_band_bps = 0", "price_band_bps"),
            ("stop_loss_bps = 10000", "stop_loss_bps"),
            ("max_open_orders = 0", "max_open_orders"),
            ("max_orders_per_sec = 70000", "max_orders_per_sec"),
            (
                "[[instruments]]\nsymbol = \"A\"\n[[instruments]]\nsymbol = \"A\"",
                "instruments[1].symbol",
            ),
            (
                "[[instruments]]\nsymbol = \"A\"\nmax_pos = \"1\"",
                "max_pos",
            ),
        ];
        for (text, key) in cases {
            let e = RiskLimits::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?}: {e}");
        }
    }
}
