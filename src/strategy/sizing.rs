//! Position sizing: how much an entry buys or sells.
//!
//! Modes (per strategy):
//!
//! * `fixed_qty`: `qty` base units;
//! * `fixed_notional`: `notional` quote units at the decision price;
//! * `equity_fraction`: `fraction` of equity, as notional at the decision price;
//! * `vol_target`: risk `risk_fraction` of equity on a move of `atr_multiple` ATRs: `qty =
//!   equity × risk_fraction / (atr_multiple × ATR)`.
//!
//! Then, with `scale_with_score`, times |score|; capped at `max_notional`; rounded **down**
//! to the instrument's lot; refused under one lot ([`SizeError::ZeroQty`]) or under
//! `min_notional` ([`SizeError::MinNotional`]).
//!
//! Exactness: money is integer from end to end. Config fractions and multiples are turned
//! into 10⁻⁸-scaled integers once, at validation. On the hot path `f64` appears only twice,
//! each converted once: |score| → a size fraction in millionths (rounded down), and, for
//! `vol_target`, the ATR (an indicator, `f64`) → a price at 10⁻⁸ (rounded **up**, so the
//! risk is never understated). Everything else is `i128` arithmetic rounded toward zero.

use serde::Deserialize;

use super::api::clamp_i64;
use super::config::{invalid, money, StrategyConfigError};
use crate::core::num::{notional, SCALE};
use crate::core::{Price, Qty};

/// Sizing mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingModeName {
    /// A fixed quantity.
    FixedQty,
    /// A fixed notional.
    FixedNotional,
    /// A fraction of equity.
    EquityFraction,
    /// Volatility targeted (ATR-scaled).
    VolTarget,
}

/// Sizing, as configured. Money is written as decimal strings (`"0.01"`), parsed exactly.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizingConfig {
    /// `fixed_qty`, `fixed_notional`, `equity_fraction` or `vol_target`. Default
    /// `fixed_notional`.
    #[serde(default = "default_mode")]
    pub mode: SizingModeName,
    /// Base quantity for `fixed_qty`.
    #[serde(default)]
    pub qty: Option<String>,
    /// Quote notional for `fixed_notional`. Default `"1000"` in that mode.
    #[serde(default)]
    pub notional: Option<String>,
    /// Fraction of equity for `equity_fraction`, in (0, 1].
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Fraction of equity at risk per ATR move for `vol_target`, in (0, 1].
    #[serde(default)]
    pub risk_fraction: Option<f64>,
    /// ATRs the risk is measured over for `vol_target`. Default 2.
    #[serde(default)]
    pub atr_multiple: Option<f64>,
    /// Resolution whose ATR `vol_target` uses. Default: the host's finest.
    #[serde(default)]
    pub atr_resolution: Option<String>,
    /// Scale the size by |score|. Default true.
    #[serde(default = "default_true")]
    pub scale_with_score: bool,
    /// Smallest order notional, quote (decimal string). Default `"10"`.
    #[serde(default = "default_min_notional")]
    pub min_notional: String,
    /// Largest order notional, quote (decimal string). Default: none.
    #[serde(default)]
    pub max_notional: Option<String>,
}

fn default_mode() -> SizingModeName {
    SizingModeName::FixedNotional
}
fn default_true() -> bool {
    true
}
fn default_min_notional() -> String {
    "10".to_string()
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            mode: default_mode(),
            qty: None,
            notional: None,
            fraction: None,
            risk_fraction: None,
            atr_multiple: None,
            atr_resolution: None,
            scale_with_score: true,
            min_notional: default_min_notional(),
            max_notional: None,
        }
    }
}

/// A validated sizing mode; every number is an integer at 10⁻⁸.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizingMode {
    /// Quantity.
    FixedQty(i64),
    /// Quote notional.
    FixedNotional(i64),
    /// Fraction of equity.
    EquityFraction(i64),
    /// Fraction of equity at risk over `atr_multiple` ATRs.
    VolTarget {
        /// Fraction of equity.
        risk_fraction: i64,
        /// ATR multiple.
        atr_multiple: i64,
    },
}

/// Validated sizing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizingSpec {
    /// Mode.
    pub mode: SizingMode,
    /// Scale by |score|.
    pub scale_with_score: bool,
    /// Minimum notional (quote, 10⁻⁸).
    pub min_notional: i64,
    /// Maximum notional (quote, 10⁻⁸), if any.
    pub max_notional: Option<i64>,
    /// The resolution whose ATR `vol_target` reads.
    pub atr_resolution: crate::core::Resolution,
}

/// A config fraction as an integer at 10⁻⁸, rounded to nearest (cold path).
fn scaled_fraction(
    key: &str,
    x: Option<f64>,
    lo_open: f64,
    hi: f64,
) -> Result<i64, StrategyConfigError> {
    let x = x.ok_or_else(|| invalid(key, "required in this mode"))?;
    if !(x.is_finite() && x > lo_open && x <= hi) {
        return Err(invalid(key, format!("must be in ({lo_open}, {hi}]")));
    }
    let v = (x * SCALE as f64).round() as i64;
    if v <= 0 {
        return Err(invalid(key, "below 10⁻⁸"));
    }
    Ok(v)
}

impl SizingConfig {
    /// Validates; `finest` is the host's finest resolution, `host` all of them.
    pub fn validate(
        &self,
        key: &str,
        host: &[crate::core::Resolution],
    ) -> Result<SizingSpec, StrategyConfigError> {
        let unused = |name: &str, set: bool| {
            if set {
                Err(invalid(format!("{key}.{name}"), "not used by this mode"))
            } else {
                Ok(())
            }
        };
        let m = self.mode;
        unused("qty", self.qty.is_some() && m != SizingModeName::FixedQty)?;
        unused(
            "notional",
            self.notional.is_some() && m != SizingModeName::FixedNotional,
        )?;
        unused(
            "fraction",
            self.fraction.is_some() && m != SizingModeName::EquityFraction,
        )?;
        let vt = m == SizingModeName::VolTarget;
        unused("risk_fraction", self.risk_fraction.is_some() && !vt)?;
        unused("atr_multiple", self.atr_multiple.is_some() && !vt)?;
        unused("atr_resolution", self.atr_resolution.is_some() && !vt)?;
        let positive = |name: &str, s: &str| {
            let k = format!("{key}.{name}");
            match money(&k, s)? {
                v if v > 0 => Ok(v),
                _ => Err(invalid(k, "must be > 0")),
            }
        };
        let mode = match m {
            SizingModeName::FixedQty => SizingMode::FixedQty(positive(
                "qty",
                self.qty
                    .as_deref()
                    .ok_or_else(|| invalid(format!("{key}.qty"), "required in this mode"))?,
            )?),
            SizingModeName::FixedNotional => SizingMode::FixedNotional(positive(
                "notional",
                self.notional.as_deref().unwrap_or("1000"),
            )?),
            SizingModeName::EquityFraction => SizingMode::EquityFraction(scaled_fraction(
                &format!("{key}.fraction"),
                self.fraction,
                0.0,
                1.0,
            )?),
            SizingModeName::VolTarget => SizingMode::VolTarget {
                risk_fraction: scaled_fraction(
                    &format!("{key}.risk_fraction"),
                    self.risk_fraction,
                    0.0,
                    1.0,
                )?,
                atr_multiple: scaled_fraction(
                    &format!("{key}.atr_multiple"),
                    Some(self.atr_multiple.unwrap_or(2.0)),
                    0.0,
                    1000.0,
                )?,
            },
        };
        let finest = host.first().copied().unwrap_or(crate::core::Resolution::M1);
        let atr_resolution = match &self.atr_resolution {
            None => finest,
            Some(l) => crate::core::Resolution::parse(l)
                .filter(|r| host.contains(r))
                .ok_or_else(|| {
                    invalid(
                        format!("{key}.atr_resolution"),
                        "not one of the host's resolutions",
                    )
                })?,
        };
        let min_notional = money(&format!("{key}.min_notional"), &self.min_notional)?;
        if min_notional < 0 {
            return Err(invalid(format!("{key}.min_notional"), "must be >= 0"));
        }
        let max_notional = match &self.max_notional {
            None => None,
            Some(s) => Some(positive("max_notional", s)?),
        };
        if max_notional.is_some_and(|m| m < min_notional) {
            return Err(invalid(format!("{key}.max_notional"), "below min_notional"));
        }
        Ok(SizingSpec {
            mode,
            scale_with_score: self.scale_with_score,
            min_notional,
            max_notional,
            atr_resolution,
        })
    }
}

/// Why an entry got no size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// Under one lot after rounding down (also: no price, no equity, no ATR).
    ZeroQty,
    /// Notional under the minimum.
    MinNotional,
}

/// One million: the size fraction's unit.
const PPM: i128 = 1_000_000;

/// |score| as millionths, rounded down (the one `f64` → integer step of the score).
#[inline]
pub fn score_ppm(score: f64) -> i128 {
    let f = score.abs();
    if f.is_nan() {
        return 0;
    }
    // `as` saturates; f ≤ 1 keeps it in range anyway.
    (f.min(1.0) * PPM as f64).floor() as i128
}

/// An ATR as a price at 10⁻⁸, rounded up; `None` unless finite and positive.
#[inline]
pub fn atr_price(atr: f64) -> Option<i128> {
    let v = (atr * SCALE as f64).ceil();
    (atr.is_finite() && (1.0..9.0e18).contains(&v)).then_some(v as i128)
}

/// The entry quantity for `score` at `price`, rounded down to `lot`.
#[inline]
pub fn size(
    spec: &SizingSpec,
    score: f64,
    price: Price,
    lot: i64,
    equity: i64,
    atr: Option<f64>,
) -> Result<Qty, SizeError> {
    let px = i128::from(price.0);
    if px <= 0 {
        return Err(SizeError::ZeroQty);
    }
    let scale = i128::from(SCALE);
    let equity = i128::from(equity.max(0));
    // Base quantity at 10⁻⁸.
    let base: i128 = match spec.mode {
        SizingMode::FixedQty(q) => i128::from(q),
        SizingMode::FixedNotional(n) => i128::from(n) * scale / px,
        // equity × f / 10⁸ is the notional; × 10⁸ / price is the quantity.
        SizingMode::EquityFraction(f) => equity * i128::from(f) / px,
        SizingMode::VolTarget {
            risk_fraction,
            atr_multiple,
        } => {
            let atr = atr.and_then(atr_price).ok_or(SizeError::ZeroQty)?;
            let budget = equity * i128::from(risk_fraction) / scale;
            let stop = (atr * i128::from(atr_multiple) / scale).max(1);
            budget * scale / stop
        }
    };
    let mut qty = if spec.scale_with_score {
        base * score_ppm(score) / PPM
    } else {
        base
    };
    if let Some(max) = spec.max_notional {
        qty = qty.min(i128::from(max) * scale / px);
    }
    let lot = i128::from(lot.max(1));
    qty -= qty % lot;
    if qty <= 0 {
        return Err(SizeError::ZeroQty);
    }
    let qty = Qty(clamp_i64(qty));
    if notional(price, qty) < i128::from(spec.min_notional) {
        return Err(SizeError::MinNotional);
    }
    Ok(qty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Resolution;

    const R: [Resolution; 3] = [Resolution::M1, Resolution::M5, Resolution::H1];
    /// 1.0 at 10⁻⁸.
    const ONE: i64 = SCALE;

    fn spec(toml_text: &str) -> SizingSpec {
        toml::from_str::<SizingConfig>(toml_text)
            .unwrap()
            .validate("sizing", &R)
            .unwrap()
    }

    /// BTC-like: price 60 000.00, lot 0.00001.
    const PX: Price = Price(60_000 * ONE);
    const LOT: i64 = 1_000;

    #[test]
    fn fixed_qty_rounds_down_to_lots() {
        let s = spec("mode = 'fixed_qty'\nqty = '0.0123456'\nscale_with_score = false");
        assert_eq!(s.mode, SizingMode::FixedQty(1_234_560));
        assert_eq!(size(&s, 0.9, PX, LOT, 0, None), Ok(Qty(1_234_000)));
        let scaled = spec("mode = 'fixed_qty'\nqty = '0.01'");
        // 0.01 × 0.5 = 0.005.
        assert_eq!(size(&scaled, -0.5, PX, LOT, 0, None), Ok(Qty(500_000)));
        // 0.01 × 0.00001 is under one lot.
        assert_eq!(
            size(&scaled, 0.00001, PX, LOT, 0, None),
            Err(SizeError::ZeroQty)
        );
    }

    #[test]
    fn fixed_notional() {
        let s = spec("mode = 'fixed_notional'\nnotional = '1000'\nscale_with_score = false");
        // 1000 / 60000 = 0.0166666… → 0.01666 in lots of 0.00001.
        assert_eq!(size(&s, 1.0, PX, LOT, 0, None), Ok(Qty(1_666_000)));
        assert_eq!(
            spec("").mode,
            SizingMode::FixedNotional(1000 * ONE),
            "the default"
        );
        let half = spec("notional = '1000'");
        assert_eq!(size(&half, 0.5, PX, LOT, 0, None), Ok(Qty(833_000)));
    }

    #[test]
    fn equity_fraction() {
        let s = spec("mode = 'equity_fraction'\nfraction = 0.02\nscale_with_score = false");
        assert_eq!(s.mode, SizingMode::EquityFraction(2_000_000));
        // 2 % of 100 000 = 2000 → 2000 / 60000 = 0.0333333 → 0.03333.
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, None),
            Ok(Qty(3_333_000))
        );
        assert_eq!(size(&s, 1.0, PX, LOT, 0, None), Err(SizeError::ZeroQty));
        assert_eq!(size(&s, 1.0, PX, LOT, -5, None), Err(SizeError::ZeroQty));
    }

    #[test]
    fn vol_target() {
        let s = spec("mode = 'vol_target'\nrisk_fraction = 0.01\natr_multiple = 2.0\nscale_with_score = false");
        // Risk 1 % of 100 000 = 1000 over 2 × ATR 50 = 100 → 10 BTC.
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, Some(50.0)),
            Ok(Qty(10 * ONE))
        );
        // A wider ATR, a smaller size; an ATR with a fraction of 10⁻⁸ rounds up.
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, Some(100.0)),
            Ok(Qty(5 * ONE))
        );
        assert_eq!(atr_price(1.000000001), Some(100_000_001));
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, None),
            Err(SizeError::ZeroQty)
        );
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, Some(f64::NAN)),
            Err(SizeError::ZeroQty)
        );
        assert_eq!(
            size(&s, 1.0, PX, LOT, 100_000 * ONE, Some(-1.0)),
            Err(SizeError::ZeroQty)
        );
        assert_eq!(s.atr_resolution, Resolution::M1);
    }

    #[test]
    fn min_and_max_notional() {
        let s = spec(
            "mode = 'fixed_qty'\nqty = '0.0001'\nmin_notional = '10'\nscale_with_score = false",
        );
        // 0.0001 × 60000 = 6 < 10.
        assert_eq!(size(&s, 1.0, PX, LOT, 0, None), Err(SizeError::MinNotional));
        assert_eq!(
            size(&s, 1.0, Price(200_000 * ONE), LOT, 0, None),
            Ok(Qty(10_000))
        );
        let capped =
            spec("mode = 'fixed_qty'\nqty = '1'\nmax_notional = '6000'\nscale_with_score = false");
        assert_eq!(size(&capped, 1.0, PX, LOT, 0, None), Ok(Qty(10_000_000)));
        assert_eq!(
            size(&capped, 1.0, Price(0), LOT, 0, None),
            Err(SizeError::ZeroQty)
        );
        // A degenerate lot of 0 counts as 1 (10⁻⁸).
        assert_eq!(size(&capped, 1.0, PX, 0, 0, None), Ok(Qty(10_000_000)));
    }

    #[test]
    fn score_fraction_is_floored_once() {
        assert_eq!(score_ppm(0.1234567), 123_456);
        assert_eq!(score_ppm(-2.0), 1_000_000);
        assert_eq!(score_ppm(f64::NAN), 0);
    }

    #[test]
    fn config_is_checked() {
        let bad = |t: &str| {
            toml::from_str::<SizingConfig>(t)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate("s", &R).map_err(|e| e.to_string()))
                .unwrap_err()
        };
        assert!(bad("mode = 'fixed_qty'").contains("s.qty"));
        assert!(bad("mode = 'fixed_qty'\nqty = '0.1'\nfraction = 0.1").contains("s.fraction"));
        assert!(bad("mode = 'equity_fraction'\nfraction = 1.5").contains("s.fraction"));
        assert!(bad("mode = 'fixed_qty'\nqty = '0.000000001'").contains("s.qty"));
        assert!(
            bad("mode = 'vol_target'\nrisk_fraction = 0.01\natr_resolution = '1d'")
                .contains("atr_resolution")
        );
        assert!(
            bad("mode = 'fixed_notional'\nmin_notional = '10'\nmax_notional = '5'")
                .contains("max_notional")
        );
        assert!(bad("mode = 'martingale'").contains("unknown variant"));
        assert!(bad("qtty = '1'").contains("unknown field"));
    }
}
