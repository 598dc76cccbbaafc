//! The one owner of time.
//!
//! Three clocks exist in tickwire:
//! - **exchange time**: stamped by the venue, carried in events (`exchange_ns`);
//! - **receive time**: wall-clock nanoseconds since the Unix epoch, stamped by the source;
//! - **stage stamps**: a monotonic nanosecond counter used only to measure latency.
//!
//! [`mono_ns`] reads the CPU's invariant TSC through `quanta` (calibrated against
//! `CLOCK_MONOTONIC` at start; ~10 ns a read on this VM against ~25 ns for `Instant::now`, which
//! matters at one read per stage per message). Where the TSC is not usable quanta falls back to
//! the OS clock by itself. Backtests run on market time carried in the events, never on these.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Mono {
    clock: quanta::Clock,
    anchor: quanta::Instant,
}

static MONO: OnceLock<Mono> = OnceLock::new();

fn mono() -> &'static Mono {
    MONO.get_or_init(|| {
        let clock = quanta::Clock::new();
        let anchor = clock.now();
        Mono { clock, anchor }
    })
}

/// Calibrates the clock and pins the anchor. Call once at start, before any hot thread runs,
/// so the hot path never takes the one-time initialisation branch (it allocates).
pub fn init() {
    let _ = mono();
}

/// Monotonic nanoseconds since [`init`]. For latency only: comparable across threads of one
/// process, meaningless across processes.
#[inline]
pub fn mono_ns() -> u64 {
    let m = mono();
    // Saturates rather than panics if a clock ever misbehaves; u64 ns covers 584 years.
    m.clock.now().saturating_duration_since(m.anchor).as_nanos() as u64
}

/// Wall-clock nanoseconds since the Unix epoch (receive time). 0 if the clock is before 1970.
#[inline]
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second) of `secs` since the Unix epoch, UTC.
fn utc_parts(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    (y, mo, d, sod / 3600, (sod / 60) % 60, sod % 60)
}

/// ISO 8601 UTC with milliseconds (`2024-08-08T23:54:15.342Z`) for reports. Cold path only.
pub fn iso8601_ms(ns: u64) -> String {
    let ms_total = ns / 1_000_000;
    let (y, mo, d, h, mi, s) = utc_parts(ms_total / 1000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        ms_total % 1000
    )
}

/// Compact UTC stamp for directory names: `20240808T235415Z`.
pub fn compact_utc(ns: u64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(ns / 1_000_000_000);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Parses an RFC 3339 UTC timestamp (`2021-04-17T16:43:37.123456Z`, 0 to 9 fraction digits,
/// `Z` or `+00:00`) into ns since the epoch. `None` on anything else. No allocation.
pub fn parse_rfc3339_ns(t: &[u8]) -> Option<u64> {
    fn num(t: &[u8], a: usize, b: usize) -> Option<u64> {
        let s = t.get(a..b)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            s.iter()
                .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
        )
    }
    if t.len() < 20 || t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b't' | b' ') {
        return None;
    }
    if t[13] != b':' || t[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(t, 0, 4)?, num(t, 5, 7)?, num(t, 8, 10)?);
    let (h, mi, s) = (num(t, 11, 13)?, num(t, 14, 16)?, num(t, 17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0u64;
    if t.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = t.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 9 {
                frac_ns = frac_ns * 10 + u64::from(c - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            frac_ns *= 10;
        }
    }
    match &t[i..] {
        b"Z" | b"z" | b"+00:00" => {}
        _ => return None,
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    if days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_known_values() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601_ms(1_723_161_255_342_000_000),
            "2024-08-08T23:54:15.342Z"
        );
        assert_eq!(
            iso8601_ms(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(compact_utc(1_723_161_255_342_000_000), "20240808T235415Z");
    }

    #[test]
    fn rfc3339_round_trips_known_values() {
        assert_eq!(
            parse_rfc3339_ns(b"2024-08-08T23:54:15.342Z"),
            Some(1_723_161_255_342_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns(b"2021-04-17T16:43:37.123456789Z"),
            Some(1_618_677_817_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_ns(b"2000-02-29T00:00:00+00:00"),
            Some(951_782_400_000_000_000)
        );
        for bad in [
            &b"2021-04-17T16:43:37."[..],
            b"2021-13-01T00:00:00Z",
            b"garbage",
            b"2021-04-17T16:43:37+01:00",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None);
        }
        for ns in [0u64, 951_782_400_000_000_000, 1_723_161_255_342_000_000] {
            let iso = iso8601_ms(ns);
            assert_eq!(parse_rfc3339_ns(iso.as_bytes()), Some(ns));
        }
    }

    #[test]
    fn mono_is_monotonic() {
        init();
        let a = mono_ns();
        let b = mono_ns();
        assert!(b >= a);
    }
}
