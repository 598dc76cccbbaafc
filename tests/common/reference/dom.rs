//! Small helpers over simd-json's borrowed DOM for the Coinbase, Kraken, Bitstamp and Bitfinex
//! reference decoders. Written apart from tickwire's parsers: values come from simd-json's own
//! number and string decoding (floats as `f64`), times from a separate RFC 3339 reader.

use simd_json::{BorrowedValue as V, StaticNode};

pub type R<T> = Result<T, String>;

/// The DOM of one line (simd-json parses in place, so on a copy).
pub fn with_dom<T>(line: &[u8], f: impl FnOnce(&V<'_>) -> R<T>) -> R<T> {
    let mut buf = line.to_vec();
    let v = simd_json::to_borrowed_value(&mut buf).map_err(|e| format!("json: {e}"))?;
    f(&v)
}

/// Member `key` of an object; with duplicate keys the last one wins (as in tickwire's walker).
pub fn get<'v, 'a>(v: &'v V<'a>, key: &str) -> Option<&'v V<'a>> {
    match v {
        V::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_ref() == key)
            .last()
            .map(|(_, v)| v),
        _ => None,
    }
}

pub fn field<'v, 'a>(v: &'v V<'a>, key: &str) -> R<&'v V<'a>> {
    get(v, key).ok_or_else(|| format!("missing {key}"))
}

pub fn is_object(v: &V<'_>) -> bool {
    matches!(v, V::Object(_))
}

pub fn string<'v>(v: &'v V<'_>) -> R<&'v str> {
    match v {
        V::String(s) => Ok(s.as_ref()),
        other => Err(format!("not a string: {other:?}")),
    }
}

pub fn str_field<'v>(v: &'v V<'_>, key: &str) -> R<&'v str> {
    string(field(v, key)?).map_err(|e| format!("{key}: {e}"))
}

pub fn array<'v, 'a>(v: &'v V<'a>) -> R<&'v [V<'a>]> {
    match v {
        V::Array(a) => Ok(a.as_slice()),
        other => Err(format!("not an array: {other:?}")),
    }
}

/// A non-negative integer: a JSON integer, or a string of digits.
pub fn uint(v: &V<'_>) -> R<u64> {
    match v {
        V::Static(StaticNode::U64(u)) => Ok(*u),
        V::Static(StaticNode::I64(i)) if *i >= 0 => Ok(*i as u64),
        V::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|e| format!("{s}: {e}"))
        }
        other => Err(format!("not an unsigned integer: {other:?}")),
    }
}

/// A JSON number as decimal text (floats in their shortest round-trip form).
pub fn number_text(v: &V<'_>) -> R<String> {
    match v {
        V::Static(StaticNode::U64(u)) => Ok(u.to_string()),
        V::Static(StaticNode::I64(i)) => Ok(i.to_string()),
        V::Static(StaticNode::F64(f)) => Ok(format!("{f}")),
        other => Err(format!("not a number: {other:?}")),
    }
}

/// A signed decimal at 1e-8 from a string or a number, exactly.
pub fn signed_dec(v: &V<'_>) -> R<i64> {
    match v {
        V::String(s) => super::scaled(s),
        _ => super::scaled(&number_text(v)?),
    }
}

/// A non-negative decimal from a string or a number.
pub fn dec(v: &V<'_>) -> R<i64> {
    let x = signed_dec(v)?;
    if x < 0 {
        return Err(format!("negative {x}"));
    }
    Ok(x)
}

/// A signed decimal from a number printed from a double: exact when it has at most 8
/// decimals, else rounded to 8 decimals when the rounding changes it by at most 2^-40 of the
/// value and at most 1e-9 (binary noise such as 47.914412330000005).
pub fn float_dec(v: &V<'_>) -> R<i64> {
    let f = match v {
        V::Static(StaticNode::F64(f)) => *f,
        V::Static(_) => return signed_dec(v),
        other => return Err(format!("not a number: {other:?}")),
    };
    if let Ok(x) = super::scaled(&format!("{f}")) {
        return Ok(x);
    }
    let r = format!("{f:.8}");
    let back: f64 = r.parse().map_err(|e| format!("{r}: {e}"))?;
    // The same bounds as tickwire's (2^-40 of the value, 1e-9), widened by a few ulps for this
    // float arithmetic: where the two disagree, tickwire is the stricter.
    let err = (f - back).abs();
    let slack = 4.0 * f.abs() * f64::EPSILON;
    if err <= f.abs() * 2f64.powi(-40) + slack && err <= 1e-9 + slack {
        super::scaled(&r)
    } else {
        Err(format!("{f} has more than 8 decimals"))
    }
}

/// Decimal seconds (`"1617666461.465618"`) to ns.
pub fn seconds_ns(s: &str) -> R<u64> {
    let x = super::scaled(s)?;
    u64::try_from(x)
        .ok()
        .and_then(|x| x.checked_mul(10))
        .ok_or_else(|| format!("bad seconds {s}"))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days from 1970-01-01 to the first of month `m` of year `y` (days past a month's end run on
/// into the next month, as tickwire's reader does).
fn days_to_month(y: i64, m: u32) -> i64 {
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let mut days = 0i64;
    if y >= 1970 {
        for yy in 1970..y {
            days += if is_leap(yy) { 366 } else { 365 };
        }
    } else {
        for yy in y..1970 {
            days -= if is_leap(yy) { 366 } else { 365 };
        }
    }
    days + CUM[(m - 1) as usize] + i64::from(m > 2 && is_leap(y))
}

/// RFC 3339 UTC (`2021-04-17T16:43:37.089723Z`, `T`/`t`/space, any fraction length with the
/// first 9 digits used, `Z`/`z`/`+00:00`) to ns since the epoch.
pub fn rfc3339_ns(s: &str) -> R<u64> {
    let bad = || format!("bad time {s:?}");
    let digits = |t: &str| -> R<u64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u64>().map_err(|_| bad())
    };
    if !s.is_ascii() || s.len() < 20 {
        return Err(bad());
    }
    let (date, rest) = s.split_at(10);
    let (sep, rest) = rest.split_at(1);
    if !matches!(sep, "T" | "t" | " ") {
        return Err(bad());
    }
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let (y, mo, d) = (digits(parts[0])?, digits(parts[1])?, digits(parts[2])?);
    let (clock, rest) = rest.split_at(8);
    let hms: Vec<&str> = clock.split(':').collect();
    if hms.len() != 3 || hms.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let (h, mi, sec) = (digits(hms[0])?, digits(hms[1])?, digits(hms[2])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return Err(bad());
            }
            let mut f: String = r[..n].chars().take(9).collect();
            while f.len() < 9 {
                f.push('0');
            }
            (digits(&f)?, &r[n..])
        }
        None => (0, rest),
    };
    if !matches!(zone, "Z" | "z" | "+00:00") {
        return Err(bad());
    }
    let days = days_to_month(y as i64, mo as u32) + d as i64 - 1;
    if days < 0 {
        return Err(bad());
    }
    let secs = days as u64 * 86_400 + h * 3_600 + mi * 60 + sec;
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac))
        .ok_or_else(bad)
}

#[test]
fn rfc3339_matches_known_instants() {
    assert_eq!(
        rfc3339_ns("2021-04-17T16:43:37.089723Z"),
        Ok(1_618_677_817_089_723_000)
    );
    assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(
        rfc3339_ns("2024-02-29 23:59:60.1234567891+00:00"),
        Ok(1_709_251_200_123_456_789)
    );
    assert!(rfc3339_ns("2021-13-17T16:43:37Z").is_err());
    assert!(rfc3339_ns("1969-12-31T23:59:59Z").is_err());
}
