//! `tickwire indicators`: a candle CSV in, one row per candle out with every indicator and
//! candle pattern, computed by the engine's own [`IndicatorSet`] and [`PatternSet`].
//!
//! Input: a CSV whose header names `open_time,open,high,low,close,volume` (in any order;
//! `timestamp`, `time` or `date` stand in for `open_time`; extra columns are ignored), or a
//! Binance kline CSV without a header (12 columns). `open_time` is ms since the epoch (µs
//! when it has 16 digits, as Binance's 2025+ spot files), or ISO 8601 (`2025-08-01
//! 00:00:00+00:00`, `2021-12-31T23:01:00.000Z`, `2017-08-16`; UTC when no zone is given).
//! Plain, `.gz`, `.zst` or `.zip`.
//!
//! Output: `open_time` (ms) and the 16 indicator columns, then the 12 pattern columns. A value
//! not yet available is an empty field; numbers are the shortest text that reads back to the
//! same `f64`.

use std::fmt::Write as _;
use std::path::Path;

use super::{format_err, io_err, ToolError};
use crate::core::clock::parse_rfc3339_ns;
use crate::feed::replay::read_all;
use crate::indicators::set::{IndicatorSet, COLUMNS as INDICATOR_COLUMNS};
use crate::indicators::Bar;
use crate::patterns::{PatternSet, COLUMNS as PATTERN_COLUMNS};

/// Parses a candle's open time: ms (13 digits) or µs (16 digits) since the epoch, or ISO 8601
/// (date, or date and time, UTC unless a zone is given). Returns ns.
pub fn parse_open_time(text: &str) -> Option<u64> {
    let t = text.trim().trim_matches('"');
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let v: u64 = t.parse().ok()?;
        return if t.len() >= 16 {
            v.checked_mul(1_000)
        } else {
            v.checked_mul(1_000_000)
        };
    }
    let mut s = t.to_string();
    if s.len() == 10 {
        s.push_str("T00:00:00");
    }
    let has_zone = s.len() > 19
        && (s.ends_with('Z') || s.ends_with('z') || {
            let tail = s.get(19..).unwrap_or("");
            tail.contains('+') || tail.contains('-')
        });
    if !has_zone {
        s.push('Z');
    }
    parse_rfc3339_ns(s.as_bytes())
}

/// Column positions of the inputs.
struct Layout {
    time: usize,
    ohlcv: [usize; 5],
    header: bool,
}

fn layout(first: &str) -> Option<Layout> {
    let cols: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
    if let Some(time) = find(&["open_time", "timestamp", "time", "date", "datetime"]) {
        let mut ohlcv = [0; 5];
        for (slot, name) in ohlcv
            .iter_mut()
            .zip(["open", "high", "low", "close", "volume"])
        {
            *slot = find(&[name])?;
        }
        return Some(Layout {
            time,
            ohlcv,
            header: true,
        });
    }
    // No header: a Binance kline row (open_time, o, h, l, c, v, close_time, …).
    (cols.len() >= 6 && parse_open_time(&cols[0]).is_some()).then_some(Layout {
        time: 0,
        ohlcv: [1, 2, 3, 4, 5],
        header: false,
    })
}

/// What `indicators` did.
#[derive(Debug, Default)]
pub struct IndicatorsReport {
    /// Rows written.
    pub rows: usize,
    /// Rows whose open_time is not after the previous row's (kept, in file order).
    pub unordered: usize,
}

/// Reads candles from `input` and writes the indicator and pattern table to `out`.
pub fn indicators(input: &Path, out: &Path) -> Result<IndicatorsReport, ToolError> {
    let bytes = read_all(input).map_err(io_err(input))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| format_err(input, "not UTF-8 text"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.clone().next() else {
        return Err(format_err(input, "empty file"));
    };
    let lay = layout(first).ok_or_else(|| {
        format_err(
            input,
            "no header with open_time,open,high,low,close,volume, and not a Binance kline CSV",
        )
    })?;
    if lay.header {
        lines.next();
    }
    let mut set = IndicatorSet::new();
    let mut pats = PatternSet::new();
    let mut w = String::with_capacity(text.len() * 3);
    w.push_str("open_time");
    for c in INDICATOR_COLUMNS.iter().chain(PATTERN_COLUMNS.iter()) {
        w.push(',');
        w.push_str(c);
    }
    w.push('\n');
    let mut rows = 0;
    let mut unordered = 0;
    let mut last_ns = None;
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').collect();
        let bad = |what: &str| format_err(input, format!("line {}: {what}", n + 1));
        let cell = |i: usize| f.get(i).map(|s| s.trim().trim_matches('"'));
        let ns = cell(lay.time)
            .and_then(parse_open_time)
            .ok_or_else(|| bad("unreadable open_time"))?;
        if last_ns.is_some_and(|l| ns <= l) {
            // Real exports have them (duplicated or mislabelled rows); the rows are taken in
            // file order, as TA-Lib takes an array, and counted.
            unordered += 1;
        }
        last_ns = Some(ns);
        let mut v = [0.0f64; 5];
        for (k, &i) in lay.ohlcv.iter().enumerate() {
            v[k] = cell(i)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad("a price or volume is not a number"))?;
        }
        let bar = Bar {
            open_ns: ns,
            open: v[0],
            high: v[1],
            low: v[2],
            close: v[3],
            volume: v[4],
        };
        let row = set.update(&bar);
        let p = pats.update(&bar);
        let _ = write!(w, "{}", ns / 1_000_000);
        for x in row.values {
            w.push(',');
            if let Some(x) = x {
                let _ = write!(w, "{x}");
            }
        }
        for x in p {
            let _ = write!(w, ",{x}");
        }
        w.push('\n');
        rows += 1;
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    std::fs::write(out, w).map_err(io_err(out))?;
    Ok(IndicatorsReport { rows, unordered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_times_in_every_documented_form() {
        let ms = 1_754_006_400_000u64 * 1_000_000;
        for t in [
            "1754006400000",
            "1754006400000000",
            "2025-08-01 00:00:00+00:00",
            "2025-08-01T00:00:00Z",
            "2025-08-01 00:00:00.000000",
            "2025-08-01",
        ] {
            assert_eq!(parse_open_time(t), Some(ms), "{t}");
        }
        assert_eq!(parse_open_time("yesterday"), None);
        assert_eq!(parse_open_time(""), None);
    }

    #[test]
    fn layouts() {
        let l = layout("date,symbol,open,high,low,close,volume_btc,volume").unwrap();
        assert_eq!((l.time, l.ohlcv, l.header), (0, [2, 3, 4, 5, 7], true));
        let l = layout("1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.2,1637971259999,1.03,79,19523,0.55,0").unwrap();
        assert!(!l.header);
        assert!(layout("a,b,c").is_none());
    }
}
