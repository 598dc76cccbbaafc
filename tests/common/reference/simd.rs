//! DOM helpers for the reference decoders, over simd-json's `BorrowedValue`: a different JSON
//! parser from tickwire's walker, so the two only agree when both read the bytes the same way.
//!
//! Conventions shared with tickwire (and asserted by the differential tests):
//! * a key that appears twice in one object: the **last** one counts (simd-json keeps both
//!   entries and `get` would return the first, so objects are read through [`fields`]);
//! * decimals come from JSON strings, or from JSON numbers through their shortest round-trip
//!   text. A number whose shortest text has 16 or more significant digits may not be the text
//!   that was sent (f64 holds ~15.9 digits), so it is refused with an error starting
//!   [`IMPRECISE`]: the differential tests treat that as a licensed difference, not a mismatch.
#![allow(dead_code)]

use std::collections::HashMap;

pub use simd_json::BorrowedValue as V;
use simd_json::StaticNode;

/// Prefix of the error for a number simd-json cannot give back exactly.
pub const IMPRECISE: &str = "imprecise number";

/// Error for a well-formed decimal with non-zero digits past the 8th decimal place: valid
/// venue data (ELON-USDT ticks in 10⁻¹¹) that tickwire's fixed 10⁻⁸ scale cannot hold, which
/// it refuses rather than round (`core::num`).
pub const BEYOND_SCALE: &str = "beyond the 1e-8 scale";

/// Scaled decimal, naming [`BEYOND_SCALE`] when that is why the text does not fit.
fn scaled_or_why(t: &str, what: &str) -> Result<i64, String> {
    super::scaled(t).map_err(|e| {
        let digits = t.strip_prefix('-').unwrap_or(t);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let plain = !int.is_empty()
            && int.len() <= 11
            && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
        if plain && frac.trim_end_matches('0').len() > 8 {
            format!("{what}: {BEYOND_SCALE}: {t}")
        } else {
            format!("{what}: {e}")
        }
    })
}

/// Parses a copy of `line` (simd-json parses in place).
pub fn parse(buf: &mut [u8]) -> Result<V<'_>, String> {
    simd_json::to_borrowed_value(buf).map_err(|e| format!("invalid JSON: {e}"))
}

/// An object's members, the last of a repeated key winning; `None` if not an object.
pub fn fields<'a, 'v>(v: &'a V<'v>) -> Option<HashMap<&'a str, &'a V<'v>>> {
    match v {
        V::Object(o) => {
            let mut m = HashMap::new();
            for (k, val) in o.iter() {
                m.insert(k.as_ref(), val);
            }
            Some(m)
        }
        _ => None,
    }
}

/// An object's members in document order (for flattening a wrapper into one map).
pub fn members<'a, 'v>(v: &'a V<'v>) -> Option<Vec<(&'a str, &'a V<'v>)>> {
    match v {
        V::Object(o) => Some(o.iter().map(|(k, v)| (k.as_ref(), v)).collect()),
        _ => None,
    }
}

/// The elements, if an array.
pub fn elements<'a, 'v>(v: &'a V<'v>) -> Option<&'a [V<'v>]> {
    match v {
        V::Array(a) => Some(a.as_slice()),
        _ => None,
    }
}

/// The string, if a string.
pub fn str_of<'a>(v: &'a V<'_>) -> Option<&'a str> {
    match v {
        V::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

/// The boolean, if one.
pub fn bool_of(v: &V<'_>) -> Option<bool> {
    match v {
        V::Static(StaticNode::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// A non-negative integer from a JSON integer or from a string of 1..=20 decimal digits.
pub fn u64_of(v: &V<'_>) -> Option<u64> {
    match v {
        V::Static(StaticNode::U64(n)) => Some(*n),
        V::Static(StaticNode::I64(n)) => u64::try_from(*n).ok(),
        V::String(s) => {
            let s: &str = s.as_ref();
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

/// A signed integer from a JSON integer or a string of digits with an optional `-`.
pub fn i64_of(v: &V<'_>) -> Option<i64> {
    match v {
        V::Static(StaticNode::I64(n)) => Some(*n),
        V::Static(StaticNode::U64(n)) => i64::try_from(*n).ok(),
        V::String(s) => {
            let s: &str = s.as_ref();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

/// Decimal text of a JSON string or number; numbers that f64 may not have kept exactly are an
/// [`IMPRECISE`] error.
pub fn text_of(v: &V<'_>) -> Result<String, String> {
    match v {
        V::String(s) => Ok(s.to_string()),
        V::Static(StaticNode::I64(n)) => Ok(n.to_string()),
        V::Static(StaticNode::U64(n)) => Ok(n.to_string()),
        V::Static(StaticNode::F64(f)) => {
            let t = format!("{f}");
            let sig = t
                .bytes()
                .filter(u8::is_ascii_digit)
                .skip_while(|&b| b == b'0')
                .count();
            // Trailing zeros of an integer-valued float are not significant either.
            let trailing = if t.contains('.') {
                0
            } else {
                t.bytes().rev().take_while(|&b| b == b'0').count()
            };
            if sig.saturating_sub(trailing) >= 16 {
                return Err(format!("{IMPRECISE}: {t}"));
            }
            Ok(t)
        }
        _ => Err("not a number or string".into()),
    }
}

/// Exact scaled decimal (10⁻⁸ units) of a string or number, refusing negatives.
pub fn decimal_of(v: &V<'_>, what: &str) -> Result<i64, String> {
    let t = text_of(v).map_err(|e| format!("{what}: {e}"))?;
    let x = scaled_or_why(&t, what)?;
    if x < 0 {
        return Err(format!("{what}: negative"));
    }
    Ok(x)
}

/// Exact scaled decimal of a JSON **string** only, refusing negatives.
pub fn decimal_str(v: &V<'_>, what: &str) -> Result<i64, String> {
    let s = str_of(v).ok_or_else(|| format!("{what}: not a string"))?;
    let x = scaled_or_why(s, what)?;
    if x < 0 {
        return Err(format!("{what}: negative"));
    }
    Ok(x)
}

/// Milliseconds → ns, refusing overflow.
pub fn ms_ns(ms: u64, what: &str) -> Result<u64, String> {
    ms.checked_mul(1_000_000)
        .ok_or_else(|| format!("{what}: time overflows"))
}

/// Field lookup that names what is missing.
pub fn need<'a, 'v>(m: &HashMap<&str, &'a V<'v>>, key: &str) -> Result<&'a V<'v>, String> {
    m.get(key).copied().ok_or_else(|| format!("missing {key}"))
}
