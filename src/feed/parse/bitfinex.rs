//! Bitfinex WebSocket v2 public messages → [`Event`]s.
//!
//! Events are objects; data frames are arrays on a channel id that only the `subscribed` event
//! ties to a channel kind and a symbol, so this parser keeps a small fixed table:
//!
//! ```text
//! {"event":"subscribed","channel":"trades","chanId":117757,"symbol":"tREQUSD","pair":"REQUSD"}
//! [117757,[[658414592,1617617932920,-359.41744067,0.15187],..],17]     trade snapshot
//! [146481,"te",[658733916,1617643611128,0.7574881,230890],394]         trade executed
//! [146481,"tu",[658733916,1617643611128,0.7574881,230890],395]         same trade, confirmed
//! [146470,[0.98,47.914412330000005,0.999,439.44108081,0,0,0.999,0.1,0.999,0.999],1]  ticker
//! [146462,[[0.98,1,0.2049334],[0.97009,1,0.0252],..],1]               book (P0) snapshot
//! [146462,[0.94885,0,1],4158]                                          book update
//! [146462,"hb",2914]                                                   heartbeat
//! ```
//!
//! A trailing integer after the payload is the sequence number (`conf` flag `SEQ_ALL`) or a
//! timestamp (flag `TIMESTAMP`); up to two are accepted and not used.
//!
//! * `te` → a trade `[ID, MTS, AMOUNT, PRICE]`: AMOUNT < 0 means the aggressor sold
//!   (`buyer_is_maker`), qty = |AMOUNT|. `tu` is the same trade again once settled (same id):
//!   it is checked and `Skipped(History)`, so each trade is emitted once, at the earliest
//!   (`te`). The trade snapshot sent on subscribe → `Skipped(History)`.
//! * ticker `[BID, BID_SIZE, ASK, ASK_SIZE, ..]` (10 numbers) → a quote (no update id or time).
//! * book (precision `P0`..`P4`): `[PRICE, COUNT, AMOUNT]` levels; AMOUNT > 0 bid, < 0 ask;
//!   qty = |AMOUNT|, or 0 (delete) when COUNT is 0. A list of levels is a snapshot, a single
//!   level a diff. No per-book sequence ids: `first_id = last_id = 0`.
//! * raw books (`prec` `R0`: individual orders `[ORDER_ID, PRICE, AMOUNT]`, PRICE 0 = the order
//!   left) → `Skipped(Unsupported)`: turning orders into price levels needs per-order state
//!   (each order's price and amount, to know which level a cancel or amend changes), which is
//!   unbounded in size and is not kept here.
//! * candles, status and funding (`f..`) channels → `Skipped(Unsupported)`; checksums (`cs`)
//!   → `Skipped(Unsupported)`.
//! * data on a channel id no `subscribed` event named (the subscription predates the capture
//!   or the connection) → `Skipped(Unknown)`: it cannot be interpreted, and is counted as an
//!   anomaly. Heartbeats are recognised on any channel.
//! * events: `subscribed` / `unsubscribed` (table updated), `conf`, `auth` and `info` →
//!   Response, except `info` with a `code` (reconnect / maintenance notices) → Status; `error`
//!   → Status; `pong` → Heartbeat; others → Unknown.
//!
//! The channel table holds [`MAX_CHANNELS`] entries with symbols of up to [`SYMBOL_CAP`] bytes,
//! fixed arrays allocated with the parser. Bitfinex allows 30 subscriptions per connection; a
//! subscription beyond the table's size replaces the oldest entry. A longer symbol is refused.
//! Call `reset` (via `VenueParser::reset`) on reconnect: channel ids are per connection.
//!
//! Numbers are JSON numbers printed from IEEE doubles, so sums come with binary noise
//! (`47.914412330000005`); see [`float_decimal`] for how they are read exactly.
//! Zero-copy, zero allocation, no panic on any input.

use super::json::{self, Value};
use super::req;
use super::{ms_to_ns, BookUpdate, Event, MsgKind, ParseError, SkipKind, SymbolResolver};
use crate::core::{BookTicker, InstrumentId, Price, Qty, Side, Trade};

/// Channels remembered per connection.
pub const MAX_CHANNELS: usize = 64;
/// Longest symbol kept (`tTESTBTC:TESTUSD` is 16).
pub const SYMBOL_CAP: usize = 32;

/// What a channel id carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChanKind {
    Trades,
    Ticker,
    /// Aggregated price levels (`P0`..`P4`).
    Book,
    /// Individual orders (`R0`).
    RawBook,
    /// Known but not decoded (candles, status, funding).
    Unsupported,
    /// A channel name this parser does not know.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Chan {
    id: u64,
    kind: ChanKind,
    sym: [u8; SYMBOL_CAP],
    sym_len: u8,
}

impl Chan {
    fn symbol(&self) -> &[u8] {
        self.sym.get(..usize::from(self.sym_len)).unwrap_or(&[])
    }
}

/// Fixed-size channel id table.
#[derive(Debug)]
struct Channels {
    slots: [Option<Chan>; MAX_CHANNELS],
    /// Next slot to replace when all are taken.
    next: usize,
}

impl Default for Channels {
    fn default() -> Self {
        Self {
            slots: [None; MAX_CHANNELS],
            next: 0,
        }
    }
}

impl Channels {
    fn find(&self, id: u64) -> Option<&Chan> {
        self.slots.iter().flatten().find(|c| c.id == id)
    }

    fn insert(&mut self, chan: Chan) {
        let slot = match self
            .slots
            .iter()
            .position(|s| s.is_some_and(|c| c.id == chan.id))
            .or_else(|| self.slots.iter().position(Option::is_none))
        {
            Some(i) => i,
            None => {
                let i = self.next % MAX_CHANNELS;
                self.next = (i + 1) % MAX_CHANNELS;
                i
            }
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(chan);
        }
    }

    fn remove(&mut self, id: u64) {
        for s in &mut self.slots {
            if s.is_some_and(|c| c.id == id) {
                *s = None;
            }
        }
    }
}

/// Bitfinex parser: remembers `chanId` → channel kind and symbol from `subscribed` events.
#[derive(Default, Debug)]
pub struct Parser {
    chans: Channels,
}

/// Reads a decimal that Bitfinex printed from an IEEE double, exactly, at 10⁻⁸ scale.
///
/// Text with at most 8 decimals is taken as written. Longer text is binary noise from the
/// venue's float arithmetic (`47.914412330000005` is 47.91441233 plus 5·10⁻¹⁵) and is rounded
/// to the nearest 10⁻⁸ only when it is such noise: at most 17 significant digits (the most a
/// double's shortest form has), and a rounding error of at most 2⁻⁴⁰ of the value (a few
/// thousand ulps) and under 10⁻⁹ (a tenth of the last kept decimal, so a genuine 9th
/// decimal, a tie or a near-tie is never rounded). Anything else is refused. Integer
/// arithmetic only.
pub fn float_decimal(text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    if let Some(v) = crate::core::num::parse_scaled_text(text) {
        return Ok(v);
    }
    rounded(text).ok_or(ParseError::Invalid(field))
}

fn rounded(text: &[u8]) -> Option<i64> {
    let (neg, rest) = match text.split_first() {
        Some((b'-', r)) => (true, r),
        _ => (false, text),
    };
    let (mant, exp) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (rest.get(..i)?, exponent(rest.get(i + 1..)?)?),
        None => (rest, 0),
    };
    let mut m: u64 = 0;
    let mut sig = 0u32;
    let mut frac = 0i32;
    let mut seen_dot = false;
    for &b in mant {
        match b {
            b'0'..=b'9' => {
                if seen_dot {
                    frac = frac.saturating_add(1);
                }
                if m == 0 && b == b'0' {
                    continue;
                }
                sig += 1;
                if sig > 17 {
                    return None;
                }
                m = m * 10 + u64::from(b - b'0');
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if m == 0 {
        return None;
    }
    // value = m · 10^(exp − frac); at 10⁻⁸ scale, m · 10^(exp − frac + 8).
    let shift = exp.saturating_sub(frac).saturating_add(8);
    if !(-30..0).contains(&shift) {
        return None;
    }
    let div = 10u128.pow(shift.unsigned_abs());
    let m = u128::from(m);
    let (q, r) = (m / div, m % div);
    let (q, err) = if 2 * r >= div {
        (q + 1, div - r)
    } else {
        (q, r)
    };
    // Noise: within 2⁻⁴⁰ of the value (a few thousand ulps) and a tenth of the last decimal
    // kept (so a tie, or anything near one, is never guessed at).
    if err << 40 > m || err * 10 >= div {
        return None;
    }
    let v = i64::try_from(q).ok()?;
    Some(if neg { -v } else { v })
}

fn exponent(t: &[u8]) -> Option<i32> {
    let (neg, digits) = match t.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let e = digits
        .iter()
        .fold(0i32, |a, &b| a * 10 + i32::from(b - b'0'));
    Some(if neg { -e } else { e })
}

/// A signed decimal from a JSON number.
fn signed(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    match req(v, name)? {
        Value::Num(n) => float_decimal(n, name),
        _ => Err(ParseError::Invalid(name)),
    }
}

/// A non-negative decimal from a JSON number.
fn unsigned(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    let x = signed(v, name)?;
    if x < 0 {
        return Err(ParseError::Invalid(name));
    }
    Ok(x)
}

fn int(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    match req(v, name)? {
        n @ Value::Num(_) => n.as_u64().ok_or(ParseError::Invalid(name)),
        _ => Err(ParseError::Invalid(name)),
    }
}

/// The first `N` elements of the array slice `a` and the element count.
fn elements<const N: usize>(a: &[u8]) -> Result<([Option<Value<'_>>; N], usize), ParseError> {
    let mut vals = [None; N];
    let mut n = 0usize;
    json::for_each_element(a, |x| {
        if let Some(slot) = vals.get_mut(n) {
            *slot = Some(x);
        }
        n += 1;
    })?;
    Ok((vals, n))
}

#[derive(Default)]
struct EventFields<'a> {
    event: Option<Value<'a>>,
    channel: Option<Value<'a>>,
    chan_id: Option<Value<'a>>,
    symbol: Option<Value<'a>>,
    prec: Option<Value<'a>>,
    code: Option<Value<'a>>,
}

/// A trade `[ID, MTS, AMOUNT, PRICE]`.
fn trade(v: Option<Value<'_>>, instrument: InstrumentId) -> Result<Trade, ParseError> {
    let Value::Array(a) = req(v, "trade")? else {
        return Err(ParseError::Invalid("trade"));
    };
    let (e, n) = elements::<4>(a)?;
    if n != 4 {
        return Err(ParseError::Invalid("trade"));
    }
    let trade_id = int(e[0], "trade.id")?;
    let trade_ns = ms_to_ns(int(e[1], "trade.mts")?, "trade.mts")?;
    let amount = signed(e[2], "trade.amount")?;
    let price = unsigned(e[3], "trade.price")?;
    if amount == 0 {
        return Err(ParseError::Invalid("trade.amount"));
    }
    if price == 0 {
        return Err(ParseError::Invalid("trade.price"));
    }
    let qty = amount
        .checked_abs()
        .ok_or(ParseError::Invalid("trade.amount"))?;
    Ok(Trade {
        instrument,
        trade_id,
        price: Price(price),
        qty: Qty(qty),
        trade_ns,
        event_ns: trade_ns,
        buyer_is_maker: amount < 0,
        source: 0,
        flags: 0,
        anomalies: 0,
    })
}

/// A book level `[PRICE, COUNT, AMOUNT]` from its array slice.
fn level(a: &[u8]) -> Result<Event, ParseError> {
    let (e, n) = elements::<3>(a)?;
    if n != 3 {
        return Err(ParseError::Invalid("book.level"));
    }
    let price = unsigned(e[0], "book.price")?;
    if price == 0 {
        return Err(ParseError::Invalid("book.price"));
    }
    let count = int(e[1], "book.count")?;
    let amount = signed(e[2], "book.amount")?;
    let side = match amount {
        0 => return Err(ParseError::Invalid("book.amount")),
        a if a > 0 => Side::Buy,
        _ => Side::Sell,
    };
    let qty = if count == 0 {
        0
    } else {
        amount
            .checked_abs()
            .ok_or(ParseError::Invalid("book.amount"))?
    };
    Ok(Event::Level {
        side,
        price: Price(price),
        qty: Qty(qty),
    })
}

impl Parser {
    /// Parses one Bitfinex message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let first = buf
            .iter()
            .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
        match first {
            Some(b'[') => self.data(buf, resolve, out),
            Some(b'{') => self.event(buf),
            _ => {
                json::parse_value(buf)?;
                Err(ParseError::Unrecognised)
            }
        }
    }

    fn event(&mut self, buf: &[u8]) -> Result<MsgKind, ParseError> {
        let mut f = EventFields::default();
        json::for_each_member(buf, |k, v| match k {
            b"event" => f.event = Some(v),
            b"channel" => f.channel = Some(v),
            b"chanId" => f.chan_id = Some(v),
            b"symbol" => f.symbol = Some(v),
            b"prec" => f.prec = Some(v),
            b"code" => f.code = Some(v),
            _ => {}
        })?;
        let event = req(f.event, "event")?
            .as_str()
            .ok_or(ParseError::Invalid("event"))?;
        let kind = match event {
            b"subscribed" => {
                self.subscribed(&f)?;
                SkipKind::Response
            }
            b"unsubscribed" => {
                self.chans.remove(int(f.chan_id, "chanId")?);
                SkipKind::Response
            }
            b"info" if f.code.is_some() => SkipKind::Status,
            b"info" | b"conf" | b"auth" => SkipKind::Response,
            b"error" => SkipKind::Status,
            b"pong" => SkipKind::Heartbeat,
            _ => SkipKind::Unknown,
        };
        Ok(MsgKind::Skipped(kind))
    }

    fn subscribed(&mut self, f: &EventFields<'_>) -> Result<(), ParseError> {
        let channel = req(f.channel, "channel")?
            .as_str()
            .ok_or(ParseError::Invalid("channel"))?;
        let id = int(f.chan_id, "chanId")?;
        let mut kind = match channel {
            b"trades" => ChanKind::Trades,
            b"ticker" => ChanKind::Ticker,
            b"book" => match f.prec {
                // P0 is the documented default precision.
                None | Some(Value::Str(b"P0" | b"P1" | b"P2" | b"P3" | b"P4")) => ChanKind::Book,
                Some(Value::Str(b"R0")) => ChanKind::RawBook,
                Some(_) => return Err(ParseError::Invalid("prec")),
            },
            b"candles" | b"status" => ChanKind::Unsupported,
            _ => ChanKind::Unknown,
        };
        let mut sym = [0u8; SYMBOL_CAP];
        let mut sym_len = 0u8;
        if matches!(kind, ChanKind::Trades | ChanKind::Ticker | ChanKind::Book) {
            let s = req(f.symbol, "symbol")?
                .as_str()
                .ok_or(ParseError::Invalid("symbol"))?;
            if s.is_empty() || s.len() > SYMBOL_CAP || s.contains(&b'\\') {
                return Err(ParseError::Invalid("symbol"));
            }
            if s.first() == Some(&b'f') {
                // Funding: different array layouts, not traded here.
                kind = ChanKind::Unsupported;
            }
            if let Some(dst) = sym.get_mut(..s.len()) {
                dst.copy_from_slice(s);
            }
            sym_len = u8::try_from(s.len()).map_err(|_| ParseError::Invalid("symbol"))?;
        }
        self.chans.insert(Chan {
            id,
            kind,
            sym,
            sym_len,
        });
        Ok(())
    }

    fn data(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let (e, n) = elements::<6>(buf)?;
        if n < 2 {
            return Err(ParseError::Unrecognised);
        }
        let id = int(e[0], "chanId")?;
        // Where the trailing sequence number / timestamp starts.
        let (payload, tail) = match req(e[1], "payload")? {
            Value::Str(b"te" | b"tu" | b"fte" | b"ftu") => (e[2], 3),
            Value::Str(b"cs") => (None, 3),
            Value::Str(b"hb") => (None, 2),
            Value::Str(_) => return Ok(MsgKind::Skipped(SkipKind::Unknown)),
            v @ Value::Array(_) => (Some(v), 2),
            _ => return Err(ParseError::Invalid("payload")),
        };
        if n > tail + 2 {
            return Err(ParseError::Unrecognised);
        }
        for i in tail..n {
            int(e.get(i).copied().flatten(), "seq")?;
        }
        match e[1] {
            Some(Value::Str(b"hb")) => return Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
            Some(Value::Str(b"cs")) => {
                // A signed 32-bit book checksum; not verified.
                req(e[2], "checksum")?
                    .as_i64()
                    .ok_or(ParseError::Invalid("checksum"))?;
                return Ok(MsgKind::Skipped(SkipKind::Unsupported));
            }
            _ => {}
        }
        let chan = self.chans.find(id).copied();
        let Some(chan) = chan else {
            return Ok(MsgKind::Skipped(SkipKind::Unknown));
        };
        match (e[1], chan.kind) {
            (_, ChanKind::Unsupported) => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
            (_, ChanKind::Unknown) => Ok(MsgKind::Skipped(SkipKind::Unknown)),
            (Some(Value::Str(b"te")), ChanKind::Trades) => {
                let t = trade(payload, InstrumentId(0))?;
                let Some(instrument) = resolve.resolve(chan.symbol()) else {
                    return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
                };
                out(Event::Trade(Trade { instrument, ..t }));
                Ok(MsgKind::Trades)
            }
            (Some(Value::Str(b"tu")), ChanKind::Trades) => {
                trade(payload, InstrumentId(0))?;
                Ok(MsgKind::Skipped(SkipKind::History))
            }
            (Some(Value::Str(_)), _) => Err(ParseError::Invalid("chanId")),
            (_, ChanKind::RawBook) => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
            (_, ChanKind::Trades) => {
                // The trade snapshot replayed on subscribe: a list of trades.
                let Some(Value::Array(a)) = payload else {
                    return Err(ParseError::Invalid("payload"));
                };
                let mut res = Ok(());
                json::for_each_element(a, |t| {
                    if res.is_ok() {
                        res = trade(Some(t), InstrumentId(0)).map(|_| ());
                    }
                })?;
                res?;
                Ok(MsgKind::Skipped(SkipKind::History))
            }
            (_, ChanKind::Ticker) => {
                let Some(Value::Array(a)) = payload else {
                    return Err(ParseError::Invalid("payload"));
                };
                // BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE,
                // VOLUME, HIGH, LOW: any other length is another layout.
                let (t, n) = elements::<4>(a)?;
                if n != 10 {
                    return Err(ParseError::Invalid("ticker"));
                }
                let bid_px = Price(unsigned(t[0], "ticker.bid")?);
                let bid_qty = Qty(unsigned(t[1], "ticker.bid_size")?);
                let ask_px = Price(unsigned(t[2], "ticker.ask")?);
                let ask_qty = Qty(unsigned(t[3], "ticker.ask_size")?);
                let Some(instrument) = resolve.resolve(chan.symbol()) else {
                    return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
                };
                out(Event::Quote(BookTicker {
                    instrument,
                    update_id: 0,
                    bid_px,
                    bid_qty,
                    ask_px,
                    ask_qty,
                    event_ns: 0,
                    source: 0,
                }));
                Ok(MsgKind::Quote)
            }
            (_, ChanKind::Book) => book(payload, chan.symbol(), resolve, out),
        }
    }
}

fn book(
    payload: Option<Value<'_>>,
    sym: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let Some(Value::Array(a)) = payload else {
        return Err(ParseError::Invalid("payload"));
    };
    let (first, _) = elements::<1>(a)?;
    // A list of levels (or an empty list) is a snapshot; numbers are one level.
    let snapshot = !matches!(first[0], Some(Value::Num(_)));
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(Event::BookBegin(BookUpdate {
        instrument: Some(instrument),
        snapshot,
        first_id: 0,
        last_id: 0,
        prev_id: None,
        event_ns: 0,
    }));
    if snapshot {
        let mut res = Ok(());
        json::for_each_element(a, |lv| {
            if res.is_ok() {
                res = match lv {
                    Value::Array(l) => level(l).map(&mut *out),
                    _ => Err(ParseError::Invalid("book.level")),
                };
            }
        })?;
        res?;
    } else {
        out(level(a)?);
    }
    out(Event::BookEnd);
    Ok(if snapshot {
        MsgKind::Snapshot
    } else {
        MsgKind::Depth
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::parse::JsonError;

    fn ids(sym: &[u8]) -> Option<InstrumentId> {
        match sym {
            b"tETHJPY" => Some(InstrumentId(0)),
            b"tETH2X:ETH" => Some(InstrumentId(1)),
            b"tBTCUSD" => Some(InstrumentId(2)),
            _ => None,
        }
    }

    // Real lines (cryptofeed BITFINEX-58bafb.0 and the nautilus R0 capture).
    const SUB_TRADES: &str = r#"{"event":"subscribed","channel":"trades","chanId":146481,"symbol":"tETHJPY","pair":"ETHJPY"}"#;
    const SUB_TICKER: &str = r#"{"event":"subscribed","channel":"ticker","chanId":146470,"symbol":"tETH2X:ETH","pair":"ETH2X:ETH"}"#;
    const SUB_BOOK: &str = r#"{"event":"subscribed","channel":"book","chanId":146462,"symbol":"tETH2X:ETH","prec":"P0","freq":"F0","len":"100","pair":"ETH2X:ETH"}"#;
    const SUB_RAW: &str = r#"{"event":"subscribed","channel":"book","chanId":8047,"symbol":"tBTCUSD","prec":"R0","freq":"F0","len":"25","pair":"BTCUSD"}"#;
    const TE: &str = r#"[146481,"te",[658733916,1617643611128,0.7574881,230890],394]"#;
    const TU: &str = r#"[146481,"tu",[658733916,1617643611128,0.7574881,230890],395]"#;
    const TRADE_SNAP: &str = r#"[146481,[[658733912,1617643606120,1.1487,230890],[658733886,1617643567386,-3,231022.7389094]],17]"#;
    const TICKER: &str =
        r#"[146470,[0.98,47.914412330000005,0.999,439.44108081,0,0,0.999,0.1,0.999,0.999],1]"#;
    const BOOK_SNAP: &str = r#"[146462,[[0.98,1,0.2049334],[0.97009,1,0.0252],[1.05,2,-3.5]],2]"#;
    const BOOK_UPD: &str = r#"[146462,[0.94885,0,1],4158]"#;
    const HB: &str = r#"[146462,"hb",2914]"#;
    const RAW_UPD: &str = r#"[8047,[60504617884,60977,-0.00212042]]"#;

    fn parser() -> Parser {
        let mut p = Parser::default();
        for s in [SUB_TRADES, SUB_TICKER, SUB_BOOK, SUB_RAW] {
            assert_eq!(
                p.parse(s.as_bytes(), &mut ids, &mut |_| panic!()),
                Ok(MsgKind::Skipped(SkipKind::Response))
            );
        }
        p
    }

    fn run(p: &mut Parser, msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = p.parse(msg, &mut ids, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    #[test]
    fn float_noise_is_read_exactly() {
        let f = |s: &str| float_decimal(s.as_bytes(), "x").ok();
        assert_eq!(f("47.914412330000005"), Some(4_791_441_233));
        assert_eq!(f("124002.31246870998"), Some(12_400_231_246_871));
        assert_eq!(f("86.2067634199999"), Some(8_620_676_342));
        assert_eq!(f("1.7023900800000002"), Some(170_239_008));
        assert_eq!(f("0.30000000000000004"), Some(30_000_000));
        assert_eq!(f("-0.30000000000000004"), Some(-30_000_000));
        // Too far from a value with 8 decimals to be noise, or a tie.
        assert_eq!(f("0.00000000999999999"), None);
        assert_eq!(f("18046.103952765"), None);
        assert_eq!(f("18046.1039527649"), None);
        assert_eq!(f("8374.061812459"), None);
        assert_eq!(f("8374.0618124591"), Some(837_406_181_246));
        assert_eq!(f("4.9e-7"), Some(49));
        assert_eq!(f("230850"), Some(23_085_000_000_000));
        // Genuine extra precision, or too many digits to be a double: refused.
        assert_eq!(f("0.123456789"), None);
        assert_eq!(f("1e-9"), None);
        assert_eq!(f("47.9144123300000051"), None);
        assert_eq!(f("99999999999.5"), None);
        assert_eq!(f("1e400"), None);
        assert_eq!(f("abc"), None);
    }

    #[test]
    fn trades_te_tu_and_snapshot() {
        let mut p = parser();
        let want = Trade {
            instrument: InstrumentId(0),
            trade_id: 658_733_916,
            price: Price(23_089_000_000_000),
            qty: Qty(75_748_810),
            trade_ns: 1_617_643_611_128_000_000,
            event_ns: 1_617_643_611_128_000_000,
            buyer_is_maker: false,
            source: 0,
            flags: 0,
            anomalies: 0,
        };
        assert_eq!(
            run(&mut p, TE.as_bytes()),
            Ok((MsgKind::Trades, vec![Event::Trade(want)]))
        );
        let sold = TE.replace(",0.7574881,", ",-0.7574881,");
        assert_eq!(
            run(&mut p, sold.as_bytes()),
            Ok((
                MsgKind::Trades,
                vec![Event::Trade(Trade {
                    buyer_is_maker: true,
                    ..want
                })]
            ))
        );
        assert_eq!(
            run(&mut p, TU.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::History), vec![]))
        );
        assert_eq!(
            run(&mut p, TRADE_SNAP.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::History), vec![]))
        );
        // Without the sequence number (conf flags off).
        let bare = TE.replace("],394]", "]]");
        assert_eq!(
            run(&mut p, bare.as_bytes()),
            Ok((MsgKind::Trades, vec![Event::Trade(want)]))
        );
    }

    #[test]
    fn ticker_quote() {
        let mut p = parser();
        assert_eq!(
            run(&mut p, TICKER.as_bytes()),
            Ok((
                MsgKind::Quote,
                vec![Event::Quote(BookTicker {
                    instrument: InstrumentId(1),
                    update_id: 0,
                    bid_px: Price(98_000_000),
                    bid_qty: Qty(4_791_441_233),
                    ask_px: Price(99_900_000),
                    ask_qty: Qty(43_944_108_081),
                    event_ns: 0,
                    source: 0,
                })]
            ))
        );
    }

    #[test]
    fn book_snapshot_and_update() {
        let mut p = parser();
        let (kind, ev) = run(&mut p, BOOK_SNAP.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert_eq!(ev.len(), 5);
        assert!(matches!(
            ev[0],
            Event::BookBegin(BookUpdate {
                snapshot: true,
                instrument: Some(InstrumentId(1)),
                first_id: 0,
                last_id: 0,
                prev_id: None,
                event_ns: 0
            })
        ));
        assert_eq!(
            ev[1],
            Event::Level {
                side: Side::Buy,
                price: Price(98_000_000),
                qty: Qty(20_493_340)
            }
        );
        assert_eq!(
            ev[3],
            Event::Level {
                side: Side::Sell,
                price: Price(105_000_000),
                qty: Qty(350_000_000)
            }
        );
        // COUNT 0 deletes; AMOUNT 1 says the bid side.
        let (kind, ev) = run(&mut p, BOOK_UPD.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(
            ev[1],
            Event::Level {
                side: Side::Buy,
                price: Price(94_885_000),
                qty: Qty(0)
            }
        );
        let (kind, ev) = run(&mut p, br#"[146462,[]]"#).unwrap();
        assert_eq!((kind, ev.len()), (MsgKind::Snapshot, 2));
    }

    #[test]
    fn skipped_types() {
        let mut p = parser();
        let table: &[(&str, SkipKind)] = &[
            (HB, SkipKind::Heartbeat),
            (r#"[999,"hb"]"#, SkipKind::Heartbeat),
            (RAW_UPD, SkipKind::Unsupported),
            (
                r#"[8047,[[60504777678,60945,0.246386],[60504484135,60941,0.0002]]]"#,
                SkipKind::Unsupported,
            ),
            (r#"[999,[1,2,3]]"#, SkipKind::Unknown),
            (r#"[999,"te",[1,2,3,4]]"#, SkipKind::Unknown),
            (r#"[146462,"cs",-1234567,9]"#, SkipKind::Unsupported),
            (
                r#"{"event":"info","version":2,"serverId":"08c3ea49-017b-4265-959a-aef128755661","platform":{"status":1}}"#,
                SkipKind::Response,
            ),
            (
                r#"{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}"#,
                SkipKind::Status,
            ),
            (
                r#"{"event":"conf","status":"OK","flags":65536}"#,
                SkipKind::Response,
            ),
            (
                r#"{"event":"error","msg":"symbol: invalid","code":10300}"#,
                SkipKind::Status,
            ),
            (r#"{"event":"pong","cid":1}"#, SkipKind::Heartbeat),
            (r#"{"event":"novel"}"#, SkipKind::Unknown),
        ];
        for (msg, kind) in table {
            assert_eq!(
                run(&mut p, msg.as_bytes()),
                Ok((MsgKind::Skipped(*kind), vec![])),
                "{msg}"
            );
        }
        // Funding and candles channels are recognised, not decoded.
        for sub in [
            r#"{"event":"subscribed","channel":"trades","chanId":5,"symbol":"fUSD"}"#,
            r#"{"event":"subscribed","channel":"candles","chanId":6,"key":"trade:1m:tBTCUSD"}"#,
        ] {
            run(&mut p, sub.as_bytes()).unwrap();
        }
        assert_eq!(
            run(&mut p, br#"[5,"fte",[1,2,3,4,5]]"#),
            Ok((MsgKind::Skipped(SkipKind::Unsupported), vec![]))
        );
        assert_eq!(
            run(&mut p, br#"[6,[1,2,3,4,5,6]]"#),
            Ok((MsgKind::Skipped(SkipKind::Unsupported), vec![]))
        );
        // Other instruments, and an unsubscribed channel.
        let mut other = |s: &[u8]| (s == b"tXYZ").then_some(InstrumentId(9));
        assert_eq!(
            p.parse(TE.as_bytes(), &mut other, &mut |_| panic!()),
            Ok(MsgKind::Skipped(SkipKind::OtherInstrument))
        );
        run(
            &mut p,
            br#"{"event":"unsubscribed","status":"OK","chanId":146481}"#,
        )
        .unwrap();
        assert_eq!(
            run(&mut p, TE.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::Unknown), vec![]))
        );
    }

    #[test]
    fn table_is_bounded_and_reusable() {
        let mut p = Parser::default();
        for id in 0..200u64 {
            let sub = format!(
                r#"{{"event":"subscribed","channel":"trades","chanId":{id},"symbol":"tETHJPY"}}"#
            );
            run(&mut p, sub.as_bytes()).unwrap();
        }
        // The newest 64 are known.
        let te = |id: u64| format!(r#"[{id},"te",[1,1617643611128,1,2]]"#);
        assert_eq!(run(&mut p, te(199).as_bytes()).unwrap().0, MsgKind::Trades);
        assert_eq!(run(&mut p, te(136).as_bytes()).unwrap().0, MsgKind::Trades);
        assert_eq!(
            run(&mut p, te(135).as_bytes()).unwrap().0,
            MsgKind::Skipped(SkipKind::Unknown)
        );
        let long = format!(
            r#"{{"event":"subscribed","channel":"trades","chanId":1,"symbol":"t{}"}}"#,
            "X".repeat(40)
        );
        assert_eq!(
            run(&mut p, long.as_bytes()),
            Err(ParseError::Invalid("symbol"))
        );
    }

    #[test]
    fn malformed_is_an_error() {
        let mut p = parser();
        let table: &[(String, ParseError)] = &[
            (TE[..30].to_string(), ParseError::Json(JsonError::Eof)),
            (
                TE.replace("230890", "-230890"),
                ParseError::Invalid("trade.price"),
            ),
            (
                TE.replace("230890", "0"),
                ParseError::Invalid("trade.price"),
            ),
            (
                TE.replace("0.7574881", "0"),
                ParseError::Invalid("trade.amount"),
            ),
            (
                TE.replace("0.7574881", r#""0.7574881""#),
                ParseError::Invalid("trade.amount"),
            ),
            (
                TE.replace("0.7574881", "0.123456789"),
                ParseError::Invalid("trade.amount"),
            ),
            (TE.replace(",230890]", "]"), ParseError::Invalid("trade")),
            (
                TE.replace("1617643611128", "-1"),
                ParseError::Invalid("trade.mts"),
            ),
            (
                TE.replace("1617643611128", "99999999999999999"),
                ParseError::Invalid("trade.mts"),
            ),
            (TE.replace(",394]", r#","x"]"#), ParseError::Invalid("seq")),
            (TE.replace(",394]", ",1,2,3]"), ParseError::Unrecognised),
            (TE.replace("146481", "-5"), ParseError::Invalid("chanId")),
            (TE.replace(r#""te","#, ""), ParseError::Invalid("trade")),
            (
                TE.replace("146481", "146470"),
                ParseError::Invalid("chanId"),
            ),
            (
                TICKER.replace("0.98,47.914412330000005,0.999,", "0.98,"),
                ParseError::Invalid("ticker"),
            ),
            (
                TICKER.replace("0.999,439", "-0.999,439"),
                ParseError::Invalid("ticker.ask"),
            ),
            (
                TICKER.replace("[0.98,", "[null,"),
                ParseError::Invalid("ticker.bid"),
            ),
            (
                BOOK_UPD.replace(",0,1]", ",0,0]"),
                ParseError::Invalid("book.amount"),
            ),
            (
                BOOK_UPD.replace(",0,1]", ",1.5,1]"),
                ParseError::Invalid("book.count"),
            ),
            (
                BOOK_UPD.replace(",0,1]", ",0]"),
                ParseError::Invalid("book.level"),
            ),
            (
                BOOK_UPD.replace("0.94885", "0"),
                ParseError::Invalid("book.price"),
            ),
            (
                BOOK_SNAP.replace("[0.97009,1,0.0252]", "7"),
                ParseError::Invalid("book.level"),
            ),
            (
                TRADE_SNAP.replace("1.1487", "\"x\""),
                ParseError::Invalid("trade.amount"),
            ),
            (r#"[146481]"#.to_string(), ParseError::Unrecognised),
            (r#"[146481,{}]"#.to_string(), ParseError::Invalid("payload")),
            (
                r#"{"event":"subscribed","channel":"trades","chanId":"x","symbol":"tA"}"#
                    .to_string(),
                ParseError::Invalid("chanId"),
            ),
            (
                r#"{"event":"subscribed","channel":"trades","chanId":1}"#.to_string(),
                ParseError::Missing("symbol"),
            ),
            (
                r#"{"event":"subscribed","channel":"book","chanId":1,"symbol":"tA","prec":"Q9"}"#
                    .to_string(),
                ParseError::Invalid("prec"),
            ),
            (
                r#"{"event":"subscribed","channel":"trades","chanId":1,"symbol":"t\/A"}"#
                    .to_string(),
                ParseError::Invalid("symbol"),
            ),
            (r#"{"chanId":1}"#.to_string(), ParseError::Missing("event")),
            (r#""hb""#.to_string(), ParseError::Unrecognised),
        ];
        for (msg, want) in table {
            assert_eq!(run(&mut p, msg.as_bytes()), Err(*want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..7, pos in 0usize..4096, byte in proptest::num::u8::ANY, cut in 0usize..4096) {
            let mut p = parser();
            let base = [TE, TICKER, BOOK_SNAP, BOOK_UPD, TRADE_SNAP, SUB_BOOK, RAW_UPD][which].as_bytes();
            let mut m = base.to_vec();
            let at = pos % m.len();
            m[at] = byte;
            let _ = run(&mut p, &m);
            let _ = run(&mut p, &m[..cut % m.len()]);
        }
    }
}
