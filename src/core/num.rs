//! Exact money: prices and quantities as scaled integers.
//!
//! Every price and quantity in tickwire is an `i64` count of 10⁻⁸ units (Binance's own
//! precision, a "satoshi"). Decimal strings are parsed digit by digit, never through a binary
//! float, so `"61837.63000000"` becomes exactly `6_183_763_000_000` and formats back to the same
//! string. Notional values (price × quantity) are computed in `i128` at 10⁻¹⁶ scale.
//!
//! This module never allocates on the parse path and never panics on any input.

use std::fmt;

/// Decimal places carried by every [`Price`] and [`Qty`].
pub const SCALE_DECIMALS: u32 = 8;
/// 10^[`SCALE_DECIMALS`]: the integer value of 1.0.
pub const SCALE: i64 = 100_000_000;

/// Why a decimal string was refused. Small and `Copy`: it is produced on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// No digits at all.
    Empty,
    /// A byte that is not a digit, a leading sign or a single dot.
    InvalidChar,
    /// Non-zero digits beyond the 8th decimal: the value cannot be held exactly.
    TooPrecise,
    /// The value does not fit an `i64` at 10⁻⁸ scale.
    Overflow,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalError::Empty => "empty decimal",
            DecimalError::InvalidChar => "invalid character in decimal",
            DecimalError::TooPrecise => "more than 8 significant decimals",
            DecimalError::Overflow => "decimal out of range",
        })
    }
}

impl std::error::Error for DecimalError {}

/// Parses an ASCII decimal (`-12.345`, `0.00100000`, `7`) into an integer at 10⁻⁸ scale.
///
/// Exact: no float is involved. Trailing zeros past the 8th decimal are accepted, other digits
/// there are refused with [`DecimalError::TooPrecise`] rather than rounded away silently.
pub fn parse_scaled(bytes: &[u8]) -> Result<i64, DecimalError> {
    let (neg, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut int_part: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits: u32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i64::from(b - b'0');
                if !seen_dot {
                    int_part = int_part
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(d))
                        .ok_or(DecimalError::Overflow)?;
                } else if frac_digits < SCALE_DECIMALS {
                    frac = frac * 10 + d;
                    frac_digits += 1;
                } else if d != 0 {
                    return Err(DecimalError::TooPrecise);
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(DecimalError::InvalidChar),
        }
    }
    if !seen_digit {
        return Err(DecimalError::Empty);
    }
    // frac_digits <= 8, so the power fits; 10^(8 - frac_digits) scales the fraction up.
    let frac_scaled = frac * 10_i64.pow(SCALE_DECIMALS - frac_digits);
    let value = int_part
        .checked_mul(SCALE)
        .and_then(|v| v.checked_add(frac_scaled))
        .ok_or(DecimalError::Overflow)?;
    Ok(if neg { -value } else { value })
}

/// Like [`parse_scaled`] but also takes the exponent forms a JSON number may use (`1.5e-7`,
/// `2E+3`), still exactly: the mantissa's digits are shifted, never converted through a float.
/// `None` when the text is not a decimal, does not fit, or has non-zero digits past 10⁻⁸.
pub fn parse_scaled_text(text: &[u8]) -> Option<i64> {
    let Some(e) = text.iter().position(|&b| b == b'e' || b == b'E') else {
        return parse_scaled(text).ok();
    };
    let (mant, exp_text) = (&text[..e], &text[e + 1..]);
    let (exp_neg, exp_digits) = match exp_text.first() {
        Some(b'-') => (true, &exp_text[1..]),
        Some(b'+') => (false, &exp_text[1..]),
        _ => (false, exp_text),
    };
    if exp_digits.is_empty() || exp_digits.len() > 4 || !exp_digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let exp = exp_digits
        .iter()
        .fold(0i32, |a, &b| a * 10 + i32::from(b - b'0'));
    let exp = if exp_neg { -exp } else { exp };
    let (neg, digits) = match mant.first() {
        Some(b'-') => (true, &mant[1..]),
        Some(b'+') => (false, &mant[1..]),
        _ => (false, mant),
    };
    let mut m: i128 = 0;
    let mut frac: i32 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
                if m > 10_i128.pow(30) {
                    return None;
                }
                if seen_dot {
                    frac += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    let shift = exp - frac + SCALE_DECIMALS as i32;
    let scaled = if m == 0 {
        0
    } else if shift >= 0 {
        if shift > 38 {
            return None;
        }
        m.checked_mul(10_i128.pow(shift as u32))?
    } else {
        if -shift > 38 {
            return None;
        }
        let div = 10_i128.pow((-shift) as u32);
        if m % div != 0 {
            return None;
        }
        m / div
    };
    let v = i64::try_from(scaled).ok()?;
    Some(if neg { -v } else { v })
}

/// Writes `value` (10⁻⁸ scale) with exactly `decimals` decimals when that is exact, else with as
/// many as needed (up to 8), so no digit is ever lost in a report.
pub fn format_scaled(value: i64, decimals: u32) -> String {
    let mut out = String::with_capacity(24);
    push_scaled(&mut out, value, decimals);
    out
}

/// Appends the decimal form of `value` to `out`; see [`format_scaled`].
pub fn push_scaled(out: &mut String, value: i64, decimals: u32) {
    let decimals = decimals.min(SCALE_DECIMALS);
    let neg = value < 0;
    let abs = value.unsigned_abs();
    let int_part = abs / SCALE as u64;
    let mut frac = abs % SCALE as u64;
    let mut shown = SCALE_DECIMALS;
    while shown > decimals && frac.is_multiple_of(10) {
        frac /= 10;
        shown -= 1;
    }
    if neg {
        out.push('-');
    }
    use fmt::Write;
    let _ = write!(out, "{int_part}");
    if shown > 0 {
        let _ = write!(out, ".{:0width$}", frac, width = shown as usize);
    }
}

/// The decimal digits of `v`, written into the end of `buf` (no allocation, no formatting
/// machinery): for writers on the hot path.
#[inline]
pub fn u64_digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Counts the decimals a tick or lot size needs (0.01 → 2, 1 → 0).
pub fn decimals_of(step: i64) -> u32 {
    let mut d = SCALE_DECIMALS;
    let mut v = step.unsigned_abs();
    if v == 0 {
        return SCALE_DECIMALS;
    }
    while d > 0 && v.is_multiple_of(10) {
        v /= 10;
        d -= 1;
    }
    d
}

macro_rules! scaled_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// Parses an exact decimal string; see [`parse_scaled`].
            pub fn parse(bytes: &[u8]) -> Result<Self, DecimalError> {
                parse_scaled(bytes).map(Self)
            }

            /// The raw integer at 10⁻⁸ scale.
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// Lossy conversion for statistics and plots only; never for an order.
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / SCALE as f64
            }

            /// Decimal string with at least `decimals` places (more only when needed).
            pub fn format(self, decimals: u32) -> String {
                format_scaled(self.0, decimals)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), format_scaled(self.0, 0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_scaled(self.0, 0))
            }
        }
    };
}

scaled_type!(Price, "A price in quote currency at 10⁻⁸ scale.");
scaled_type!(Qty, "A quantity in base currency at 10⁻⁸ scale.");

/// [`round_e16_to_e8`], saturated to `i64` (for gauges and report rows).
pub fn e16_to_e8_i64(v: i128) -> i64 {
    let x = round_e16_to_e8(v);
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// A value at 10⁻¹⁶ (a price × quantity product, exact money) at 10⁻⁸, rounded half away from
/// zero.
pub fn round_e16_to_e8(v: i128) -> i128 {
    let s = i128::from(SCALE);
    let (q, r) = (v / s, v % s);
    if r.abs() >= s - r.abs() {
        q + r.signum()
    } else {
        q
    }
}

/// Notional value of `qty` at `price`, in quote currency at 10⁻⁸ scale, rounded toward zero.
/// Computed in `i128` so no realistic price × quantity can overflow.
pub fn notional(price: Price, qty: Qty) -> i128 {
    i128::from(price.0) * i128::from(qty.0) / i128::from(SCALE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn e16_rounds_half_away_from_zero() {
        use super::round_e16_to_e8 as r;
        let s = 100_000_000i128;
        assert_eq!((r(0), r(s / 2 - 1), r(s / 2), r(3 * s / 2)), (0, 0, 1, 2));
        assert_eq!((r(-(s / 2) + 1), r(-(s / 2)), r(-3 * s / 2)), (0, -1, -2));
    }

    #[test]
    fn exponent_forms_are_exact() {
        assert_eq!(parse_scaled_text(b"1.5e-7"), Some(15));
        assert_eq!(parse_scaled_text(b"2E+3"), Some(2_000 * SCALE));
        assert_eq!(parse_scaled_text(b"-58721.2"), Some(-5_872_120_000_000));
        assert_eq!(parse_scaled_text(b"1e-9"), None, "below 10^-8 is not exact");
        assert_eq!(parse_scaled_text(b"12345678901234567890e-10"), None);
        assert_eq!(parse_scaled_text(b"0e-99"), Some(0));
        assert_eq!(parse_scaled_text(b"1e99"), None);
        assert_eq!(parse_scaled_text(b"1e"), None);
        assert_eq!(parse_scaled_text(b"e5"), None);
        assert_eq!(
            parse_scaled_text(b"12345678901234567800e-10"),
            Some(123_456_789_012_345_678)
        );
    }

    use super::*;

    #[test]
    fn parses_binance_strings_exactly() {
        let table: &[(&str, i64)] = &[
            ("61837.63000000", 6_183_763_000_000),
            ("0.00000001", 1),
            ("0.02000000", 2_000_000),
            ("1", SCALE),
            ("-1.5", -150_000_000),
            ("107821.20000000", 10_782_120_000_000),
            ("0.000000010000", 1),
            (".5", 50_000_000),
            ("5.", 500_000_000),
        ];
        for &(s, want) in table {
            assert_eq!(parse_scaled(s.as_bytes()), Ok(want), "{s}");
        }
    }

    #[test]
    fn refuses_bad_input() {
        let table: &[(&str, DecimalError)] = &[
            ("", DecimalError::Empty),
            ("-", DecimalError::Empty),
            (".", DecimalError::Empty),
            ("1.2.3", DecimalError::InvalidChar),
            ("1e5", DecimalError::InvalidChar),
            ("abc", DecimalError::InvalidChar),
            (" 1", DecimalError::InvalidChar),
            ("0.000000001", DecimalError::TooPrecise),
            ("99999999999999999999", DecimalError::Overflow),
            ("92233720368.54775808", DecimalError::Overflow),
        ];
        for &(s, want) in table {
            assert_eq!(parse_scaled(s.as_bytes()), Err(want), "{s:?}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_scaled(6_183_763_000_000, 8), "61837.63000000");
        assert_eq!(format_scaled(6_183_763_000_000, 2), "61837.63");
        assert_eq!(format_scaled(6_183_763_000_000, 0), "61837.63");
        assert_eq!(format_scaled(-1, 2), "-0.00000001");
        assert_eq!(format_scaled(SCALE, 0), "1");
        assert_eq!(format_scaled(0, 0), "0");
        assert_eq!(decimals_of(1_000_000), 2);
        assert_eq!(decimals_of(SCALE), 0);
        assert_eq!(decimals_of(1), 8);
    }

    #[test]
    fn notional_is_exact() {
        let p = Price(6_183_763_000_000);
        let q = Qty(2_000_000);
        assert_eq!(notional(p, q), 123_675_260_000); // 1236.7526
    }

    proptest::proptest! {
        #[test]
        fn any_scaled_value_round_trips(v in (i64::MIN + 1)..=i64::MAX, d in 0u32..=8) {
            let s = format_scaled(v, d);
            proptest::prop_assert_eq!(parse_scaled(s.as_bytes()), Ok(v));
        }

        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_scaled(&bytes);
        }
    }
}
