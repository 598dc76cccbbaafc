//! Binance public-data CSV rows (data.binance.vision) → [`Event`]s, for replay and backtest.
//!
//! Formats, one row per line, with or without a header line:
//!
//! ```text
//! trades     id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]      (spot 7, futures 6)
//! aggTrades  agg_id,price,qty,first_id,last_id,time,is_buyer_maker[,is_best_match] (8 / 7)
//! klines     open_time,open,high,low,close,volume,close_time,quote_volume,count,
//!            taker_buy_volume,taker_buy_quote_volume,ignore                  (12)
//! ```
//!
//! Times are milliseconds, or microseconds (Binance switched spot files to µs in 2025), told
//! apart by magnitude; RFC 3339 text times are accepted too. The files carry no symbol: it
//! comes from the file name (`BTCUSDT-trades-2024-01-01.csv`). A header line (any row whose
//! first field is not a number) is `Skipped(Response)`. Zero allocation, no panic.
//!
//! **Candle files with a header** (`tickwire candles` output, exports from other tools): a
//! header naming `open_time` (or `timestamp`, `time`, `date`, `datetime`), `open`, `high`,
//! `low`, `close` and `volume`, in any order among up to 64 columns, switches the parser to
//! those columns: each row is then a [`Kline`] whatever the file name says. Its open time is
//! ms / µs since the epoch or ISO 8601 (`2025-08-01 00:00:00+00:00`, `2021-12-31
//! 23:01:00.000000`, `2017-08-16`; UTC when no zone is given). Such files carry no interval:
//! `interval_s` is 0 and `event_ns` the open time.

use super::{decimal, Event, Kline, MsgKind, ParseError, SkipKind, SymbolResolver};
use crate::core::{Price, Qty, Symbol, Trade};

/// Which file layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvKind {
    /// Raw trades.
    Trades,
    /// Aggregate trades.
    AggTrades,
    /// Klines (candles).
    Klines,
    /// Decide from the column count of the first data row (6/7 trades, 8 aggTrades, 12
    /// klines); 7 columns are read as spot trades.
    Detect,
}

impl CsvKind {
    /// From a Binance public-data file name: `-aggTrades-`, `-trades-`, or an interval
    /// (`-1m-`, `-1h-`, ...) for klines.
    pub fn from_file_name(name: &str) -> Self {
        if name.contains("aggTrades") {
            CsvKind::AggTrades
        } else if name.contains("trades") {
            CsvKind::Trades
        } else if [
            "-1s-", "-1m-", "-3m-", "-5m-", "-15m-", "-30m-", "-1h-", "-2h-", "-4h-", "-6h-",
            "-8h-", "-12h-", "-1d-", "_1m_", "_1h_", "_1d_",
        ]
        .iter()
        .any(|k| name.contains(k))
        {
            CsvKind::Klines
        } else {
            CsvKind::Detect
        }
    }
}

/// Most columns a candle file with a header may have.
const MAX_CANDLE_COLUMNS: usize = 64;

/// Where a candle file's fields are: time, open, high, low, close, volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CandleLayout([u8; 6]);

impl CandleLayout {
    /// From a header row, if it names every field.
    fn of_header(row: &[u8]) -> Option<Self> {
        let mut at = [u8::MAX; 6];
        for (i, field) in row.split(|&b| b == b',').enumerate() {
            if i >= MAX_CANDLE_COLUMNS {
                return None;
            }
            let f = trim(field);
            let f = f
                .strip_prefix(b"\"")
                .and_then(|x| x.strip_suffix(b"\""))
                .unwrap_or(f);
            let slot = [
                &[
                    &b"open_time"[..],
                    b"timestamp",
                    b"time",
                    b"date",
                    b"datetime",
                ][..],
                &[b"open"],
                &[b"high"],
                &[b"low"],
                &[b"close"],
                &[b"volume"],
            ]
            .iter()
            .position(|names| names.iter().any(|n| f.eq_ignore_ascii_case(n)));
            if let Some(k) = slot {
                if at[k] == u8::MAX {
                    at[k] = i as u8;
                }
            }
        }
        at.iter().all(|&i| i != u8::MAX).then_some(Self(at))
    }
}

/// Parser for one file's rows.
#[derive(Debug, Clone)]
pub struct Parser {
    kind: CsvKind,
    symbol: Symbol,
    /// Set by a candle header (see the module docs).
    candles: Option<CandleLayout>,
    /// The instrument the file's symbol resolved to (a file holds one symbol; resolving it
    /// again for every row would look it up millions of times).
    instrument: Option<crate::core::InstrumentId>,
}

impl Parser {
    /// Rows of `kind` for `symbol`.
    pub fn new(kind: CsvKind, symbol: Symbol) -> Self {
        Self {
            kind,
            symbol,
            candles: None,
            instrument: None,
        }
    }

    /// The instrument of this file's rows (resolved once, then kept).
    #[inline]
    fn instrument(
        &mut self,
        resolve: &mut impl SymbolResolver,
    ) -> Option<crate::core::InstrumentId> {
        if self.instrument.is_none() {
            self.instrument = resolve.resolve(self.symbol.as_bytes());
        }
        self.instrument
    }

    /// The common row, parsed in one pass: a trades (`Trades`, or `Detect` with 6 or 7
    /// columns) or aggTrades row of plain digits, decimals of at most 8 places and
    /// `true`/`false`. Anything else (spaces, exponents, RFC 3339 times, headers, errors)
    /// returns `None` and takes the general path, which decides exactly as before.
    #[inline]
    fn fast_trade(&self, buf: &[u8]) -> Option<Trade> {
        let agg = match self.kind {
            CsvKind::Trades | CsvKind::Detect => false,
            CsvKind::AggTrades => true,
            CsvKind::Klines => return None,
        };
        let mut f = Cursor { buf, pos: 0 };
        let trade_id = f.uint()?;
        let price = f.decimal()?;
        let qty = f.decimal()?;
        f.skip()?;
        if agg {
            f.skip()?;
        }
        let trade_ns = scale_time(f.uint()?)?;
        let buyer_is_maker = f.boolean()?;
        // An optional is_best_match, then the end of the row.
        if !f.done() {
            f.boolean()?;
            if !f.done() {
                return None;
            }
        }
        Some(Trade {
            instrument: self.instrument?,
            trade_id,
            price: Price(price),
            qty: Qty(qty),
            trade_ns,
            event_ns: trade_ns,
            buyer_is_maker,
            source: 0,
            flags: if agg { Trade::AGGREGATED } else { 0 },
            anomalies: 0,
        })
    }

    /// A row of a candle file whose header set `lay`.
    fn candle_row(
        &mut self,
        lay: CandleLayout,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let mut cols: [&[u8]; 6] = [&[]; 6];
        let mut seen = 0u8;
        for (i, field) in buf.split(|&b| b == b',').enumerate() {
            if i >= MAX_CANDLE_COLUMNS {
                return Err(ParseError::Invalid("column count"));
            }
            for (k, &at) in lay.0.iter().enumerate() {
                if usize::from(at) == i {
                    let f = trim(field);
                    cols[k] = f
                        .strip_prefix(b"\"")
                        .and_then(|x| x.strip_suffix(b"\""))
                        .unwrap_or(f);
                    seen |= 1 << k;
                }
            }
        }
        if seen != 0b11_1111 {
            return Err(ParseError::Invalid("column count"));
        }
        let Some(instrument) = self.instrument(resolve) else {
            return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
        };
        let open_ns = candle_time_ns(cols[0])?;
        out(Event::Kline(Kline {
            instrument,
            interval_s: 0,
            open_ns,
            open: Price(decimal(cols[1], "open")?),
            high: Price(decimal(cols[2], "high")?),
            low: Price(decimal(cols[3], "low")?),
            close: Price(decimal(cols[4], "close")?),
            volume: Qty(decimal(volume_digits(cols[5]), "volume")?),
            trades: 0,
            closed: true,
            event_ns: open_ns,
        }));
        Ok(MsgKind::Kline)
    }

    /// The symbol Binance public-data file names start with (`BTCUSDT-trades-...` →
    /// `BTCUSDT`; COIN-M's `BTCUSD_PERP-aggTrades-...` → `BTCUSD_PERP`); `None` if the name has
    /// no such prefix.
    pub fn symbol_from_file_name(name: &str) -> Option<Symbol> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let word = base.split(['-', '.']).next()?;
        let caps = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        // An underscore joins a COIN-M contract's parts (`BTCUSD_PERP`, `ETHUSD_240927`:
        // upper case and digits on both sides); otherwise it ends the symbol.
        let prefix = match word.split_once('_') {
            Some((head, tail)) if caps(head) && caps(tail) => word,
            Some((head, _)) => head,
            None => word,
        };
        // Exchange symbols are upper case (`btcusdt_trades.csv` is BTCUSDT's).
        let upper = prefix.to_ascii_uppercase();
        (!upper.is_empty()
            && upper
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| Symbol::new(upper.as_bytes()))
        .flatten()
    }

    /// The row as a trade when it is the common case [`Parser::parse`] reads in one pass
    /// (a trades or aggTrades row once the symbol is resolved); `None` sends it down the
    /// general path, which decides everything else exactly as `parse` does.
    #[inline]
    pub fn quick_trade(&self, buf: &[u8]) -> Option<Trade> {
        if self.candles.is_some() {
            return None;
        }
        self.fast_trade(buf)
    }

    /// Parses one row.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        if let Some(lay) = self.candles {
            return self.candle_row(lay, buf, resolve, out);
        }
        if self.instrument.is_some() {
            if let Some(t) = self.fast_trade(buf) {
                out(Event::Trade(t));
                return Ok(MsgKind::Trades);
            }
        }
        self.parse_general(buf, resolve, out)
    }

    /// Every row the one-pass reader does not take (and the first, which resolves the
    /// symbol).
    fn parse_general(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let first_field = trim(buf.split(|&b| b == b',').next().unwrap_or(&[]));
        if first_field.first().is_some_and(|b| !b.is_ascii_digit()) {
            if let Some(lay) = CandleLayout::of_header(buf) {
                self.candles = Some(lay);
                return Ok(MsgKind::Skipped(SkipKind::Response));
            }
        }
        let mut cols: [&[u8]; 12] = [&[]; 12];
        let mut n = 0usize;
        for field in buf.split(|&b| b == b',') {
            if n == cols.len() {
                return Err(ParseError::Invalid("column count"));
            }
            cols[n] = trim(field);
            n += 1;
        }
        let first = cols[0];
        if first.is_empty() {
            return Err(ParseError::Missing("first column"));
        }
        if !first[0].is_ascii_digit() {
            // A header row names its columns; anything else is garbage.
            return if first
                .iter()
                .all(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b' ')
            {
                Ok(MsgKind::Skipped(SkipKind::Response))
            } else {
                Err(ParseError::Invalid("first column"))
            };
        }
        let kind = match self.kind {
            CsvKind::Detect => match n {
                6 | 7 => CsvKind::Trades,
                8 => CsvKind::AggTrades,
                12 => CsvKind::Klines,
                _ => return Err(ParseError::Invalid("column count")),
            },
            k => k,
        };
        let Some(instrument) = self.instrument(resolve) else {
            return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
        };
        match kind {
            CsvKind::Trades | CsvKind::AggTrades => {
                let agg = kind == CsvKind::AggTrades;
                let (time_col, maker_col) = if agg { (5, 6) } else { (4, 5) };
                if n <= maker_col {
                    return Err(ParseError::Invalid("column count"));
                }
                let trade_id = uint(cols[0], "id")?;
                let price = Price(decimal(cols[1], "price")?);
                let qty = Qty(decimal(cols[2], "qty")?);
                let trade_ns = time_ns(cols[time_col], "time")?;
                let buyer_is_maker = boolean(cols[maker_col], "is_buyer_maker")?;
                out(Event::Trade(Trade {
                    instrument,
                    trade_id,
                    price,
                    qty,
                    trade_ns,
                    event_ns: trade_ns,
                    buyer_is_maker,
                    source: 0,
                    flags: if agg { Trade::AGGREGATED } else { 0 },
                    anomalies: 0,
                }));
                Ok(MsgKind::Trades)
            }
            CsvKind::Klines | CsvKind::Detect => {
                if n < 9 {
                    return Err(ParseError::Invalid("column count"));
                }
                let open_ns = time_ns(cols[0], "open_time")?;
                let close_ns = time_ns(cols[6], "close_time")?;
                if close_ns < open_ns {
                    return Err(ParseError::Invalid("close_time"));
                }
                // The close time is the interval's last millisecond (or microsecond).
                let interval_s = (close_ns - open_ns + 1_000_000) / 1_000_000_000;
                out(Event::Kline(Kline {
                    instrument,
                    interval_s: u32::try_from(interval_s)
                        .map_err(|_| ParseError::Invalid("close_time"))?,
                    open_ns,
                    open: Price(decimal(cols[1], "open")?),
                    high: Price(decimal(cols[2], "high")?),
                    low: Price(decimal(cols[3], "low")?),
                    close: Price(decimal(cols[4], "close")?),
                    volume: Qty(decimal(cols[5], "volume")?),
                    trades: uint(cols[8], "count")?,
                    closed: true,
                    event_ns: close_ns,
                }));
                Ok(MsgKind::Kline)
            }
        }
    }
}

/// A one-pass reader of a row's comma-separated fields: each method reads one field and
/// the comma after it (or the end of the row), or gives up with `None`.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// True once every field was read.
    #[inline]
    fn done(&self) -> bool {
        self.pos > self.buf.len()
    }

    /// Steps over the comma ending a field (or the end of the row).
    #[inline]
    fn end_field(&mut self) -> Option<()> {
        match self.buf.get(self.pos) {
            Some(b',') | None => {
                self.pos += 1;
                Some(())
            }
            Some(_) => None,
        }
    }

    /// A run of digits: its value (wrapping past 19 digits) and its length. Eight at a time
    /// while they last (ids and times have 10 to 19), then one by one.
    #[inline]
    fn digits(&mut self) -> (u64, usize) {
        let start = self.pos;
        let mut v = 0u64;
        while let Some(d) = self.buf.get(self.pos..).and_then(eight_digits) {
            v = v.wrapping_mul(100_000_000).wrapping_add(d);
            self.pos += 8;
        }
        while let Some(&c) = self.buf.get(self.pos) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            self.pos += 1;
        }
        (v, self.pos - start)
    }

    /// Plain digits (1..=19).
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let (v, n) = self.digits();
        if n == 0 || n > 19 {
            return None;
        }
        self.end_field()?;
        Some(v)
    }

    /// `digits[.digits]`: at most 10 integer digits and 8 significant decimals (zeros past
    /// the 8th are fine), at 10⁻⁸.
    #[inline]
    fn decimal(&mut self) -> Option<i64> {
        let (int, n) = self.digits();
        if n == 0 || n > 10 {
            return None;
        }
        let mut frac = 0u64;
        let mut places = 0u32;
        if self.buf.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            // Binance writes eight places: one step.
            if let Some(d) = self.buf.get(self.pos..).and_then(eight_digits) {
                frac = d;
                places = 8;
                self.pos += 8;
            }
            while let Some(&c) = self.buf.get(self.pos) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                if places < 8 {
                    frac = frac * 10 + u64::from(d);
                    places += 1;
                } else if d != 0 {
                    return None;
                }
                self.pos += 1;
            }
        }
        self.end_field()?;
        let v = int * 100_000_000 + frac * 10u64.pow(8 - places);
        i64::try_from(v).ok()
    }

    /// Any field.
    #[inline]
    fn skip(&mut self) -> Option<()> {
        let rest = self.buf.get(self.pos..)?;
        let n = memchr::memchr(b',', rest).unwrap_or(rest.len());
        self.pos += n;
        self.end_field()
    }

    /// `True`, `true`, `False` or `false`.
    #[inline]
    fn boolean(&mut self) -> Option<bool> {
        let rest = self.buf.get(self.pos..)?;
        let (v, n) = match rest.first()? {
            b'T' | b't' if rest.get(1..4) == Some(b"rue") => (true, 4),
            b'F' | b'f' if rest.get(1..5) == Some(b"alse") => (false, 5),
            _ => return None,
        };
        self.pos += n;
        self.end_field()?;
        Some(v)
    }
}

/// The value of the first eight bytes of `b` if all are ASCII digits (the first the most
/// significant): three multiply-and-shift steps instead of eight.
#[inline]
fn eight_digits(b: &[u8]) -> Option<u64> {
    let v = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    // Each byte 0x30..=0x39: high nibble 3, low nibble at most 9.
    let low = v & 0x0F0F_0F0F_0F0F_0F0F;
    if v & 0xF0F0_F0F0_F0F0_F0F0 != 0x3030_3030_3030_3030
        || (low + 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 != 0
    {
        return None;
    }
    let v = (low.wrapping_mul(10 * 256 + 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100 * 65_536 + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    Some(v.wrapping_mul(10_000 * (1 << 32) + 1) >> 32)
}

/// Epoch ms, µs or ns by magnitude (as [`time_ns`]).
#[inline]
fn scale_time(v: u64) -> Option<u64> {
    if v >= 100_000_000_000_000_000 {
        Some(v)
    } else if v >= 100_000_000_000_000 {
        v.checked_mul(1_000)
    } else {
        v.checked_mul(1_000_000)
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

fn uint(b: &[u8], field: &'static str) -> Result<u64, ParseError> {
    if b.is_empty() || b.len() > 20 {
        return Err(ParseError::Invalid(field));
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return Err(ParseError::Invalid(field));
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(ParseError::Invalid(field))?;
    }
    Ok(v)
}

fn boolean(b: &[u8], field: &'static str) -> Result<bool, ParseError> {
    match b {
        b"True" | b"true" | b"TRUE" | b"1" => Ok(true),
        b"False" | b"false" | b"FALSE" | b"0" => Ok(false),
        _ => Err(ParseError::Invalid(field)),
    }
}

/// Epoch milliseconds, microseconds or nanoseconds (by magnitude: anything at or after
/// 1973-03 in µs is ≥ 1e14; ms stay below that until the year 5138), or RFC 3339 text.
fn time_ns(b: &[u8], field: &'static str) -> Result<u64, ParseError> {
    if b.len() >= 20 && b.get(4) == Some(&b'-') {
        return super::rfc3339_ns(b, field);
    }
    let v = uint(b, field)?;
    let ns = if v >= 100_000_000_000_000_000 {
        Some(v)
    } else if v >= 100_000_000_000_000 {
        v.checked_mul(1_000)
    } else {
        v.checked_mul(1_000_000)
    };
    ns.ok_or(ParseError::Invalid(field))
}

/// A candle file's volume with digits past 10⁻⁸ dropped: exports written through floats
/// carry noise (`218102.59507500002`) the 10⁻⁸ scale cannot hold, and a bar's volume
/// never prices an order.
fn volume_digits(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == b'.') {
        Some(dot) if b.len() > dot + 9 && b[dot + 1..].iter().all(u8::is_ascii_digit) => {
            &b[..dot + 9]
        }
        _ => b,
    }
}

/// A candle file's open time: what [`time_ns`] reads, or ISO 8601 without a zone (UTC) or
/// a bare date (`2017-08-16`, midnight UTC). No allocation.
fn candle_time_ns(b: &[u8]) -> Result<u64, ParseError> {
    const FIELD: &str = "open_time";
    if b.get(4) != Some(&b'-') {
        return time_ns(b, FIELD);
    }
    let mut buf = [0u8; 48];
    let n = b.len();
    if n + 10 > buf.len() {
        return Err(ParseError::Invalid(FIELD));
    }
    buf[..n].copy_from_slice(b);
    let len = if n == 10 {
        buf[10..20].copy_from_slice(b"T00:00:00Z");
        20
    } else {
        let zoned = n > 19 && {
            let tail = &b[19..];
            tail.ends_with(b"Z")
                || tail.ends_with(b"z")
                || tail.contains(&b'+')
                || tail.contains(&b'-')
        };
        if zoned {
            n
        } else {
            buf[n] = b'Z';
            n + 1
        }
    };
    crate::core::clock::parse_rfc3339_ns(&buf[..len]).ok_or(ParseError::Invalid(FIELD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::InstrumentId;

    fn run(kind: CsvKind, row: &str) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut p = Parser::new(kind, Symbol::new(b"BTCUSDT").unwrap());
        let mut ev = Vec::new();
        let k = p.parse(
            row.as_bytes(),
            &mut |_: &[u8]| Some(InstrumentId(3)),
            &mut |e| ev.push(e),
        )?;
        Ok((k, ev))
    }

    fn trade(kind: CsvKind, row: &str) -> Trade {
        match run(kind, row) {
            Ok((MsgKind::Trades, ev)) => match ev[0] {
                Event::Trade(t) => t,
                e => panic!("{e:?}"),
            },
            other => panic!("{row}: {other:?}"),
        }
    }

    #[test]
    fn trades_in_ms_and_us_agree() {
        let ms = trade(
            CsvKind::Trades,
            "3735683259,61837.63000000,0.02000000,1236.75260000,1723161255342,True,True",
        );
        let us = trade(
            CsvKind::Trades,
            "3735683259,61837.63,0.02,1236.7526,1723161255342000,true,true\r",
        );
        assert_eq!(ms, us);
        assert_eq!(ms.trade_ns, 1_723_161_255_342_000_000);
        assert_eq!(ms.price, Price(6_183_763_000_000));
        assert!(ms.buyer_is_maker);
        assert_eq!(ms.instrument, InstrumentId(3));
        // Futures trades have six columns.
        let fut = trade(
            CsvKind::Detect,
            "5266583935,61837.6,0.002,123.6752,1723161255342,false",
        );
        assert_eq!((fut.trade_id, fut.buyer_is_maker), (5_266_583_935, false));
    }

    proptest::proptest! {
        /// The one-pass reader takes a row only when the general path reads the same trade
        /// from it.
        #[test]
        fn one_pass_rows_agree_with_the_general_path(
            id in proptest::prop_oneof![proptest::strategy::Just(String::new()), "[0-9]{1,21}"],
            price in "[0-9]{0,11}(\\.[0-9]{0,10})?",
            qty in "[0-9]{1,4}(\\.[0-9]{0,10})?",
            quote in "[0-9.]{0,8}",
            extra in "[0-9]{0,3}",
            time in "[0-9]{10,19}",
            maker in "(True|true|False|false|TRUE|1| true)",
            best in proptest::option::of("(True|false|x)"),
            agg in proptest::bool::ANY,
        ) {
            let mut row = format!("{id},{price},{qty},{quote},");
            if agg {
                row.push_str(&format!("{extra},"));
            }
            row.push_str(&format!("{time},{maker}"));
            if let Some(b) = best {
                row.push(',');
                row.push_str(&b);
            }
            let kind = if agg { CsvKind::AggTrades } else { CsvKind::Trades };
            let mut p = Parser::new(kind, Symbol::new(b"BTCUSDT").unwrap());
            p.instrument = Some(InstrumentId(3));
            if let Some(fast) = p.fast_trade(row.as_bytes()) {
                let mut ev = Vec::new();
                let k = p.parse_general(
                    row.as_bytes(),
                    &mut |_: &[u8]| Some(InstrumentId(3)),
                    &mut |e| ev.push(e),
                );
                proptest::prop_assert_eq!(k, Ok(MsgKind::Trades), "{}", row);
                proptest::prop_assert_eq!(ev, vec![Event::Trade(fast)], "{}", row);
            }
        }
    }

    #[test]
    fn eight_digits_at_once() {
        assert_eq!(eight_digits(b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(b"00000001xyz"), Some(1));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        for bad in [
            &b"1234567"[..],
            b"1234567a",
            b"/2345678",
            b":2345678",
            b"1234 678",
        ] {
            assert_eq!(eight_digits(bad), None, "{bad:?}");
        }
        for k in [0u64, 7, 10_000_000, 31_415_926, 98_765_432] {
            assert_eq!(eight_digits(format!("{k:08}").as_bytes()), Some(k));
        }
    }

    #[test]
    fn the_one_pass_reader_takes_real_rows() {
        for (kind, row) in [
            (CsvKind::Trades, "3735683259,61837.63000000,0.02000000,1236.7526000000000000,1723161255342,True,True"),
            (CsvKind::Detect, "5266583935,61837.6,0.002,123.6752,1723161255342,false"),
            (CsvKind::AggTrades, "26129,0.01633102,4.70443515,27781,27781,1498793709153,true,true"),
        ] {
            let mut p = Parser::new(kind, Symbol::new(b"BTCUSDT").unwrap());
            p.instrument = Some(InstrumentId(3));
            let fast = p.fast_trade(row.as_bytes()).expect(row);
            let mut ev = Vec::new();
            p.parse_general(row.as_bytes(), &mut |_: &[u8]| Some(InstrumentId(3)), &mut |e| {
                ev.push(e)
            })
            .unwrap();
            assert_eq!(ev, vec![Event::Trade(fast)], "{row}");
        }
        // Not for it: spaces, exponents, klines, a missing field.
        let mut p = Parser::new(CsvKind::Trades, Symbol::new(b"BTCUSDT").unwrap());
        p.instrument = Some(InstrumentId(3));
        for row in [
            "1, 2.0,1,1,1723161255342,true",
            "1,2e3,1,1,1723161255342,true",
            "1,2,1,1,1723161255342",
        ] {
            assert!(p.fast_trade(row.as_bytes()).is_none(), "{row}");
        }
    }

    #[test]
    fn candle_files_with_a_header() {
        let mut p = Parser::new(CsvKind::Detect, Symbol::new(b"BTCUSDT").unwrap());
        let mut ev = Vec::new();
        let rows = |p: &mut Parser, row: &str, ev: &mut Vec<Event>| {
            p.parse(
                row.as_bytes(),
                &mut |_: &[u8]| Some(InstrumentId(1)),
                &mut |e| ev.push(e),
            )
        };
        // The talib fixtures' layout: ms open time, OHLCV, then 28 more columns.
        let mut header = String::from("open_time,open,high,low,close,volume");
        for k in 0..28 {
            header.push_str(&format!(",x{k}"));
        }
        assert_eq!(
            rows(&mut p, &header, &mut ev),
            Ok(MsgKind::Skipped(SkipKind::Response))
        );
        let mut row = String::from("1754006400000,115764.07,115764.08,115704.78,115729.0,11.87539");
        row.push_str(&",1".repeat(28));
        assert_eq!(rows(&mut p, &row, &mut ev), Ok(MsgKind::Kline));
        let Event::Kline(k) = ev[0] else { panic!() };
        assert_eq!(k.open_ns, 1_754_006_400_000_000_000);
        assert_eq!(
            (k.open, k.close),
            (Price(11_576_407_000_000), Price(11_572_900_000_000))
        );
        assert_eq!(k.volume, Qty(1_187_539_000));
        let mut noisy = String::from("1754006460000,1,1,1,1,218102.59507500002");
        noisy.push_str(&",1".repeat(28));
        assert_eq!(rows(&mut p, &noisy, &mut ev), Ok(MsgKind::Kline));
        let Event::Kline(k) = ev[1] else { panic!() };
        assert_eq!(k.volume, Qty(21_810_259_507_500));
        assert!(rows(&mut p, "1754006400000,1,2", &mut ev).is_err());

        // Columns in another order, ISO times without a zone, bare dates.
        for (header, row, ns) in [
            (
                "timestamp,open,high,low,close,volume",
                "2021-12-31 23:01:00.000000,46319.0,46385.0,46319.0,46377.0,2300413.7295",
                1_640_991_660_000_000_000u64,
            ),
            (
                "date,open,high,low,close,volume",
                "2017-08-16,4261.48,4485.39,4200.74,4285.08,795.150377",
                1_502_841_600_000_000_000,
            ),
            (
                "volume,close,low,high,open,open_time",
                "1,2,3,4,5,2025-08-01 00:00:00+00:00",
                1_754_006_400_000_000_000,
            ),
        ] {
            let mut p = Parser::new(CsvKind::Trades, Symbol::new(b"BTCUSDT").unwrap());
            let mut ev = Vec::new();
            rows(&mut p, header, &mut ev).unwrap();
            assert_eq!(rows(&mut p, row, &mut ev), Ok(MsgKind::Kline), "{row}");
            let Event::Kline(k) = ev[0] else { panic!() };
            assert_eq!(k.open_ns, ns, "{row}");
        }
        let mut p = Parser::new(CsvKind::Trades, Symbol::new(b"BTCUSDT").unwrap());
        rows(&mut p, "volume,close,low,high,open,open_time", &mut ev).unwrap();
        assert_eq!((p.candles.unwrap().0)[0], 5);
    }

    #[test]
    fn agg_trades_and_klines() {
        let a = trade(
            CsvKind::AggTrades,
            "26129,0.01633102,4.70443515,27781,27781,1498793709153,true,true",
        );
        assert_eq!((a.trade_id, a.flags), (26129, Trade::AGGREGATED));
        let (k, ev) = run(
            CsvKind::Klines,
            "1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,1.03547608,79,19523.00000000,0.55694227,0",
        )
        .unwrap();
        assert_eq!(k, MsgKind::Kline);
        let Event::Kline(kl) = ev[0] else { panic!() };
        assert_eq!((kl.interval_s, kl.trades, kl.close), (60, 79, Price(2854)));
        let (k, _) = run(CsvKind::Klines, "2025-08-01 00:00:00+00:00,115764.07,115764.08,115704.78,115729.0,11.87539,2025-08-01 00:00:59.999000+00:00,1374354.6403012,1421,3.66465,424075.0494376,0").unwrap();
        assert_eq!(k, MsgKind::Kline);
    }

    #[test]
    fn headers_skip_and_garbage_fails() {
        assert_eq!(
            run(
                CsvKind::Trades,
                "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
            ),
            Ok((MsgKind::Skipped(SkipKind::Response), vec![]))
        );
        for bad in [
            "",
            "1,2",
            "x1,2,3,4,5,6,7",
            "1,abc,1,1,1,true,true",
            "1,1,1,1,1,maybe,true",
            "1,-1,1,1,1,true,true",
            "1,1,1,1,99999999999999999999999,true,true",
            "1,2,3,4,5,6,7,8,9,10,11,12,13",
        ] {
            assert!(run(CsvKind::Trades, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn symbol_from_names() {
        let s = Parser::symbol_from_file_name("data/BTCUSDT-trades-2024-01-01.zip").unwrap();
        assert_eq!(s.as_bytes(), b"BTCUSDT");
        for (name, want) in [
            ("BTCUSD_PERP-aggTrades-2024-08-08.zip", "BTCUSD_PERP"),
            ("ETHUSD_240927-trades-2024-08.zip", "ETHUSD_240927"),
            ("btcusdt_trades.csv", "BTCUSDT"),
            ("nautilus_binance_BTCUSDT_trades.csv", "NAUTILUS"),
            ("BTCUSDT_TRADES.csv", "BTCUSDT_TRADES"),
        ] {
            let s = Parser::symbol_from_file_name(name).unwrap();
            assert_eq!(s.as_bytes(), want.as_bytes(), "{name}");
        }
        assert_eq!(
            CsvKind::from_file_name("BTCUSDT-aggTrades-2024-01.zip"),
            CsvKind::AggTrades
        );
        assert_eq!(
            CsvKind::from_file_name("ADABTC-1m-2021-11-27.csv"),
            CsvKind::Klines
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(row in "[0-9a-zA-Z,. :+-]{0,120}") {
            let _ = run(CsvKind::Detect, &row);
            let _ = run(CsvKind::Klines, &row);
        }
    }
}
