//! Kraken spot WebSocket v1 and v2 market messages → [`Event`]s. The version is told by shape:
//! v1 data frames are arrays, v1 events objects with `event`; v2 frames are objects with
//! `channel` (data) or `method` (request replies).
//!
//! v1 data, `[channelID, payload.., channelName, pair]`:
//!
//! ```text
//! [321,[["58721.20000","0.02798644","1617666461.465618","s","m",""],..],"trade","XBT/USD"]
//! [2500,{"a":["0.000023630",7289,"7289.86759215"],"b":["0.000023610",1173,"1173.0"],..},
//!   "ticker","ALGO/XBT"]
//! [320,{"as":[["58729.40000","0.45000000","1617666423.606671"],..],"bs":[..]},"book-1000","XBT/USD"]
//! [320,{"a":[["61308.5","0.0","1617666539.868687"],["61800.0","1.486","1617648977.752138","r"]]},
//!   {"b":[["56123.4","0.06137256","1617666539.870272"]],"c":"1768150633"},"book-1000","XBT/USD"]
//! ```
//!
//! * `trade`: each `[price, volume, time, side, orderType, misc]` is a trade; `side` is the
//!   aggressor's (`"s"` → `buyer_is_maker`). **v1 trades carry no id**, so one is derived:
//!   `trade_id = time_µs × 1024 + index` (index = position in the message, < 1024). Ids are
//!   deterministic, increase with time, and are unique within a message; two trades of one
//!   instrument share an id only if they fall in the same microsecond *and* arrive in different
//!   messages at the same index (Kraken sends one taker order's fills in one message, so this
//!   needs two taker orders matched within the same µs). A message with more than 1024 trades
//!   is refused rather than given colliding ids. They overflow u64 after the year 2540. When
//!   Kraken appends a 7th element (its `trade_id`, added to v1 in 2023) that id is used instead.
//! * `ticker`: `a`/`b` = `[price, wholeLotVolume, lotVolume]` → a quote (qty = lotVolume; no
//!   update id or event time in v1).
//! * `book-N`: `as`/`bs` is a snapshot, `a`/`b` a diff; a diff may carry both sides in two
//!   payload objects. Levels `[price, volume, timestamp]` with an optional 4th `"r"`
//!   (republished after a depth-truncation) are emitted asks first, then bids, in message
//!   order; volume 0 deletes. The checksum `c` is not verified. No message time: `event_ns` 0
//!   (level timestamps are each level's own last change).
//! * `spread` and `ohlc-*` → `Skipped(Unsupported)`; another channel name → `Skipped(Unknown)`.
//!
//! v1 events: `heartbeat` and `pong` → Heartbeat, `systemStatus` → Status,
//! `subscriptionStatus` → Response (with `"status":"error"` → Status, as all venue errors),
//! `error` → Status, others → Unknown.
//!
//! v2 (`{"channel":..,"type":"snapshot"|"update","data":[..]}`, numbers as JSON numbers):
//! `trade` updates → trades (`trade_id`, `side` = aggressor, RFC 3339 `timestamp`); the trade
//! snapshot replayed on subscribe → `Skipped(History)`; `ticker` → quotes; `book` → one book
//! message per `data` element (bids, then asks), snapshot or diff by `type`; `heartbeat` →
//! Heartbeat, `status` → Status, `ohlc`/`instrument`/`level3` → Unsupported. Replies
//! (`{"method":..}`): `pong` → Heartbeat, `"success":false` → Status, others → Response.
//!
//! Prices and volumes are strings in v1 and numbers in v2, exactly as Kraken sends them; a
//! trade with a zero price or volume, a level at price zero, or a pair holding an escape is
//! refused. Zero-copy, zero allocation, no panic on any input.

use super::json::{self, Value};
use super::req;
use super::{
    decimal, rfc3339_ns, seconds_text_ns, BookUpdate, Event, MsgKind, ParseError, SkipKind,
    SymbolResolver,
};
use crate::core::{BookTicker, InstrumentId, Price, Qty, Side, Trade};

/// Kraken parser (stateless: v1 data frames name their pair).
#[derive(Default, Debug)]
pub struct Parser;

/// Most v1 trades in one message before ids would collide (see the module docs).
const TRADES_PER_MESSAGE: u64 = 1024;

fn text<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    req(v, name)?.as_str().ok_or(ParseError::Invalid(name))
}

/// A non-negative decimal sent as a string (v1).
fn str_dec(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    decimal(text(v, name)?, name)
}

/// A non-negative decimal sent as a JSON number (v2).
fn num_dec(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    match req(v, name)? {
        Value::Num(n) => decimal(n, name),
        _ => Err(ParseError::Invalid(name)),
    }
}

/// A pair / symbol: non-empty, no escapes (raw bytes go to the resolver).
fn symbol<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    let s = text(v, name)?;
    if s.is_empty() || s.contains(&b'\\') {
        return Err(ParseError::Invalid(name));
    }
    Ok(s)
}

fn each<'a>(
    arr: Value<'a>,
    name: &'static str,
    mut f: impl FnMut(Value<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let Value::Array(a) = arr else {
        return Err(ParseError::Invalid(name));
    };
    let mut res = Ok(());
    json::for_each_element(a, |v| {
        if res.is_ok() {
            res = f(v);
        }
    })?;
    res
}

/// The first `N` elements of the array `v` and the element count.
fn elements<'a, const N: usize>(
    v: Value<'a>,
    name: &'static str,
) -> Result<([Option<Value<'a>>; N], usize), ParseError> {
    let Value::Array(a) = v else {
        return Err(ParseError::Invalid(name));
    };
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

fn book_begin(instrument: InstrumentId, snapshot: bool, event_ns: u64) -> Event {
    Event::BookBegin(BookUpdate {
        instrument: Some(instrument),
        snapshot,
        first_id: 0,
        last_id: 0,
        prev_id: None,
        event_ns,
    })
}

impl Parser {
    /// Parses one Kraken message (v1 or v2); see the module docs.
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
            Some(b'[') => v1_data(buf, resolve, out),
            Some(b'{') => object(buf, resolve, out),
            _ => {
                json::parse_value(buf)?;
                Err(ParseError::Unrecognised)
            }
        }
    }
}

fn v1_data(
    buf: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let mut vals: [Option<Value<'_>>; 5] = [None; 5];
    let mut n = 0usize;
    json::for_each_element(buf, |v| {
        if let Some(slot) = vals.get_mut(n) {
            *slot = Some(v);
        }
        n += 1;
    })?;
    if !(4..=5).contains(&n) {
        return Err(ParseError::Unrecognised);
    }
    req(vals[0], "channelID")?
        .as_u64()
        .ok_or(ParseError::Invalid("channelID"))?;
    let at = |i: usize| vals.get(i).copied().flatten();
    let name = text(at(n - 2), "channelName")?;
    let pair = symbol(at(n - 1), "pair")?;
    let payload = req(vals[1], "payload")?;
    let second = if n == 5 { vals[2] } else { None };
    let is_book = name == b"book" || name.starts_with(b"book-");
    if second.is_some() && !is_book {
        return Err(ParseError::Unrecognised);
    }
    if is_book {
        return v1_book(payload, second, pair, resolve, out);
    }
    match name {
        b"trade" => v1_trades(payload, pair, resolve, out),
        b"ticker" => v1_ticker(payload, pair, resolve, out),
        b"spread" => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
        _ if name.starts_with(b"ohlc") => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
        _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
    }
}

fn v1_trades(
    payload: Value<'_>,
    pair: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let Some(instrument) = resolve.resolve(pair) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut index = 0u64;
    each(payload, "trade", |t| {
        let (e, n) = elements::<7>(t, "trade")?;
        if !(6..=7).contains(&n) {
            return Err(ParseError::Invalid("trade"));
        }
        let price = str_dec(e[0], "trade.price")?;
        let qty = str_dec(e[1], "trade.volume")?;
        if price == 0 {
            return Err(ParseError::Invalid("trade.price"));
        }
        if qty == 0 {
            return Err(ParseError::Invalid("trade.volume"));
        }
        let trade_ns = seconds_text_ns(text(e[2], "trade.time")?, "trade.time")?;
        let buyer_is_maker = match text(e[3], "trade.side")? {
            b"b" => false,
            b"s" => true,
            _ => return Err(ParseError::Invalid("trade.side")),
        };
        text(e[4], "trade.orderType")?;
        text(e[5], "trade.misc")?;
        let trade_id = if n == 7 {
            req(e[6], "trade.id")?
                .as_u64()
                .ok_or(ParseError::Invalid("trade.id"))?
        } else {
            if index >= TRADES_PER_MESSAGE {
                return Err(ParseError::Invalid("trade"));
            }
            (trade_ns / 1000)
                .checked_mul(TRADES_PER_MESSAGE)
                .and_then(|v| v.checked_add(index))
                .ok_or(ParseError::Invalid("trade.time"))?
        };
        index += 1;
        out(Event::Trade(Trade {
            instrument,
            trade_id,
            price: Price(price),
            qty: Qty(qty),
            trade_ns,
            event_ns: trade_ns,
            buyer_is_maker,
            source: 0,
            flags: 0,
            anomalies: 0,
        }));
        Ok(())
    })?;
    if index == 0 {
        return Err(ParseError::Invalid("trade"));
    }
    Ok(MsgKind::Trades)
}

/// `[price, wholeLotVolume, lotVolume]` → (price, lotVolume).
fn v1_top(v: Option<Value<'_>>, name: &'static str) -> Result<(Price, Qty), ParseError> {
    let (e, n) = elements::<3>(req(v, name)?, name)?;
    if n != 3 {
        return Err(ParseError::Invalid(name));
    }
    Ok((Price(str_dec(e[0], name)?), Qty(str_dec(e[2], name)?)))
}

fn v1_ticker(
    payload: Value<'_>,
    pair: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let Value::Object(o) = payload else {
        return Err(ParseError::Invalid("ticker"));
    };
    let (mut a, mut b) = (None, None);
    json::for_each_member(o, |k, v| match k {
        b"a" => a = Some(v),
        b"b" => b = Some(v),
        _ => {}
    })?;
    let (ask_px, ask_qty) = v1_top(a, "a")?;
    let (bid_px, bid_qty) = v1_top(b, "b")?;
    let Some(instrument) = resolve.resolve(pair) else {
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

#[derive(Default, Clone, Copy)]
struct BookPayload<'a> {
    snap_asks: Option<Value<'a>>,
    snap_bids: Option<Value<'a>>,
    asks: Option<Value<'a>>,
    bids: Option<Value<'a>>,
}

impl<'a> BookPayload<'a> {
    fn read(v: Value<'a>) -> Result<Self, ParseError> {
        let Value::Object(o) = v else {
            return Err(ParseError::Invalid("book"));
        };
        let mut p = BookPayload::default();
        json::for_each_member(o, |k, v| match k {
            b"as" => p.snap_asks = Some(v),
            b"bs" => p.snap_bids = Some(v),
            b"a" => p.asks = Some(v),
            b"b" => p.bids = Some(v),
            _ => {}
        })?;
        let snap = p.snap_asks.is_some() || p.snap_bids.is_some();
        let diff = p.asks.is_some() || p.bids.is_some();
        if snap == diff {
            // Neither (no levels at all) or both kinds mixed.
            return Err(ParseError::Invalid("book"));
        }
        Ok(p)
    }

    fn snapshot(&self) -> bool {
        self.snap_asks.is_some() || self.snap_bids.is_some()
    }
}

fn v1_levels(
    v: Option<Value<'_>>,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Some(v) = v else {
        return Ok(());
    };
    each(v, "book", |lv| {
        let (e, n) = elements::<4>(lv, "book.level")?;
        match n {
            3 => {}
            4 if text(e[3], "book.level")? == b"r" => {}
            _ => return Err(ParseError::Invalid("book.level")),
        }
        let price = str_dec(e[0], "book.price")?;
        if price == 0 {
            return Err(ParseError::Invalid("book.price"));
        }
        let qty = str_dec(e[1], "book.volume")?;
        seconds_text_ns(text(e[2], "book.timestamp")?, "book.timestamp")?;
        out(Event::Level {
            side,
            price: Price(price),
            qty: Qty(qty),
        });
        Ok(())
    })
}

fn v1_book(
    first: Value<'_>,
    second: Option<Value<'_>>,
    pair: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let p1 = BookPayload::read(first)?;
    let p2 = match second {
        Some(v) => Some(BookPayload::read(v)?),
        None => None,
    };
    let snapshot = p1.snapshot();
    if p2.is_some_and(|p| snapshot || p.snapshot()) {
        return Err(ParseError::Invalid("book"));
    }
    let Some(instrument) = resolve.resolve(pair) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(book_begin(instrument, snapshot, 0));
    for p in [Some(p1), p2].into_iter().flatten() {
        if snapshot {
            v1_levels(p.snap_asks, Side::Sell, out)?;
            v1_levels(p.snap_bids, Side::Buy, out)?;
        } else {
            v1_levels(p.asks, Side::Sell, out)?;
            v1_levels(p.bids, Side::Buy, out)?;
        }
    }
    out(Event::BookEnd);
    Ok(if snapshot {
        MsgKind::Snapshot
    } else {
        MsgKind::Depth
    })
}

#[derive(Default)]
struct Top<'a> {
    event: Option<Value<'a>>,
    channel: Option<Value<'a>>,
    method: Option<Value<'a>>,
    kind: Option<Value<'a>>,
    data: Option<Value<'a>>,
    status: Option<Value<'a>>,
    success: Option<Value<'a>>,
}

fn object(
    buf: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let mut f = Top::default();
    json::for_each_member(buf, |k, v| match k {
        b"event" => f.event = Some(v),
        b"channel" => f.channel = Some(v),
        b"method" => f.method = Some(v),
        b"type" => f.kind = Some(v),
        b"data" => f.data = Some(v),
        b"status" => f.status = Some(v),
        b"success" => f.success = Some(v),
        _ => {}
    })?;
    if let Some(e) = f.event {
        let e = e.as_str().ok_or(ParseError::Invalid("event"))?;
        return Ok(MsgKind::Skipped(match e {
            b"heartbeat" | b"pong" => SkipKind::Heartbeat,
            b"systemStatus" | b"error" => SkipKind::Status,
            b"subscriptionStatus" => match f.status {
                Some(Value::Str(b"error")) => SkipKind::Status,
                _ => SkipKind::Response,
            },
            _ => SkipKind::Unknown,
        }));
    }
    if let Some(c) = f.channel {
        let c = c.as_str().ok_or(ParseError::Invalid("channel"))?;
        return v2(c, &f, resolve, out);
    }
    if let Some(m) = f.method {
        let m = m.as_str().ok_or(ParseError::Invalid("method"))?;
        if m == b"pong" {
            return Ok(MsgKind::Skipped(SkipKind::Heartbeat));
        }
        let ok = match f.success {
            Some(v) => v.as_bool().ok_or(ParseError::Invalid("success"))?,
            None => true,
        };
        return Ok(MsgKind::Skipped(if ok {
            SkipKind::Response
        } else {
            SkipKind::Status
        }));
    }
    Err(ParseError::Unrecognised)
}

/// What a v2 message produced, for its overall kind.
#[derive(Default)]
struct Tally {
    emitted: usize,
    other: usize,
}

impl Tally {
    fn kind(&self, data: MsgKind) -> MsgKind {
        if self.emitted > 0 {
            data
        } else if self.other > 0 {
            MsgKind::Skipped(SkipKind::OtherInstrument)
        } else {
            MsgKind::Skipped(SkipKind::Unknown)
        }
    }
}

fn snapshot_type(v: Option<Value<'_>>) -> Result<bool, ParseError> {
    match text(v, "type")? {
        b"snapshot" => Ok(true),
        b"update" => Ok(false),
        _ => Err(ParseError::Invalid("type")),
    }
}

fn v2(
    channel: &[u8],
    f: &Top<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    match channel {
        b"trade" => {
            if snapshot_type(f.kind)? {
                return Ok(MsgKind::Skipped(SkipKind::History));
            }
            let mut tally = Tally::default();
            each(req(f.data, "data")?, "data", |t| {
                v2_trade(t, &mut tally, resolve, out)
            })?;
            Ok(tally.kind(MsgKind::Trades))
        }
        b"ticker" => {
            let mut tally = Tally::default();
            each(req(f.data, "data")?, "data", |t| {
                v2_ticker(t, &mut tally, resolve, out)
            })?;
            Ok(tally.kind(MsgKind::Quote))
        }
        b"book" => {
            let snapshot = snapshot_type(f.kind)?;
            let mut tally = Tally::default();
            each(req(f.data, "data")?, "data", |b| {
                v2_book(b, snapshot, &mut tally, resolve, out)
            })?;
            Ok(tally.kind(if snapshot {
                MsgKind::Snapshot
            } else {
                MsgKind::Depth
            }))
        }
        b"heartbeat" => Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
        b"status" => Ok(MsgKind::Skipped(SkipKind::Status)),
        b"ohlc" | b"instrument" | b"level3" => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
        _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
    }
}

#[derive(Default)]
struct V2<'a> {
    symbol: Option<Value<'a>>,
    side: Option<Value<'a>>,
    price: Option<Value<'a>>,
    qty: Option<Value<'a>>,
    trade_id: Option<Value<'a>>,
    timestamp: Option<Value<'a>>,
    bid: Option<Value<'a>>,
    bid_qty: Option<Value<'a>>,
    ask: Option<Value<'a>>,
    ask_qty: Option<Value<'a>>,
    bids: Option<Value<'a>>,
    asks: Option<Value<'a>>,
}

fn v2_fields(v: Value<'_>) -> Result<V2<'_>, ParseError> {
    let Value::Object(o) = v else {
        return Err(ParseError::Invalid("data"));
    };
    let mut f = V2::default();
    json::for_each_member(o, |k, v| match k {
        b"symbol" => f.symbol = Some(v),
        b"side" => f.side = Some(v),
        b"price" => f.price = Some(v),
        b"qty" => f.qty = Some(v),
        b"trade_id" => f.trade_id = Some(v),
        b"timestamp" => f.timestamp = Some(v),
        b"bid" => f.bid = Some(v),
        b"bid_qty" => f.bid_qty = Some(v),
        b"ask" => f.ask = Some(v),
        b"ask_qty" => f.ask_qty = Some(v),
        b"bids" => f.bids = Some(v),
        b"asks" => f.asks = Some(v),
        _ => {}
    })?;
    Ok(f)
}

fn opt_time(v: Option<Value<'_>>) -> Result<u64, ParseError> {
    match v {
        Some(_) => rfc3339_ns(text(v, "timestamp")?, "timestamp"),
        None => Ok(0),
    }
}

fn v2_trade(
    t: Value<'_>,
    tally: &mut Tally,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let f = v2_fields(t)?;
    let sym = symbol(f.symbol, "symbol")?;
    let buyer_is_maker = match text(f.side, "side")? {
        b"buy" => false,
        b"sell" => true,
        _ => return Err(ParseError::Invalid("side")),
    };
    let price = num_dec(f.price, "price")?;
    let qty = num_dec(f.qty, "qty")?;
    if price == 0 {
        return Err(ParseError::Invalid("price"));
    }
    if qty == 0 {
        return Err(ParseError::Invalid("qty"));
    }
    let trade_id = req(f.trade_id, "trade_id")?
        .as_u64()
        .ok_or(ParseError::Invalid("trade_id"))?;
    let trade_ns = rfc3339_ns(text(f.timestamp, "timestamp")?, "timestamp")?;
    let Some(instrument) = resolve.resolve(sym) else {
        tally.other += 1;
        return Ok(());
    };
    tally.emitted += 1;
    out(Event::Trade(Trade {
        instrument,
        trade_id,
        price: Price(price),
        qty: Qty(qty),
        trade_ns,
        event_ns: trade_ns,
        buyer_is_maker,
        source: 0,
        flags: 0,
        anomalies: 0,
    }));
    Ok(())
}

fn v2_ticker(
    t: Value<'_>,
    tally: &mut Tally,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let f = v2_fields(t)?;
    let sym = symbol(f.symbol, "symbol")?;
    let bid_px = Price(num_dec(f.bid, "bid")?);
    let bid_qty = Qty(num_dec(f.bid_qty, "bid_qty")?);
    let ask_px = Price(num_dec(f.ask, "ask")?);
    let ask_qty = Qty(num_dec(f.ask_qty, "ask_qty")?);
    let event_ns = opt_time(f.timestamp)?;
    let Some(instrument) = resolve.resolve(sym) else {
        tally.other += 1;
        return Ok(());
    };
    tally.emitted += 1;
    out(Event::Quote(BookTicker {
        instrument,
        update_id: 0,
        bid_px,
        bid_qty,
        ask_px,
        ask_qty,
        event_ns,
        source: 0,
    }));
    Ok(())
}

fn v2_levels(
    v: Option<Value<'_>>,
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Some(v) = v else {
        return Ok(());
    };
    each(v, name, |lv| {
        let Value::Object(o) = lv else {
            return Err(ParseError::Invalid(name));
        };
        let (mut px, mut q) = (None, None);
        json::for_each_member(o, |k, v| match k {
            b"price" => px = Some(v),
            b"qty" => q = Some(v),
            _ => {}
        })?;
        let price = num_dec(px, name)?;
        if price == 0 {
            return Err(ParseError::Invalid(name));
        }
        let qty = num_dec(q, name)?;
        out(Event::Level {
            side,
            price: Price(price),
            qty: Qty(qty),
        });
        Ok(())
    })
}

fn v2_book(
    b: Value<'_>,
    snapshot: bool,
    tally: &mut Tally,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let f = v2_fields(b)?;
    let sym = symbol(f.symbol, "symbol")?;
    if f.bids.is_none() && f.asks.is_none() {
        return Err(ParseError::Missing("bids"));
    }
    let event_ns = opt_time(f.timestamp)?;
    let Some(instrument) = resolve.resolve(sym) else {
        tally.other += 1;
        return Ok(());
    };
    tally.emitted += 1;
    out(book_begin(instrument, snapshot, event_ns));
    v2_levels(f.bids, "bids", Side::Buy, out)?;
    v2_levels(f.asks, "asks", Side::Sell, out)?;
    out(Event::BookEnd);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::parse::JsonError;

    fn ids(sym: &[u8]) -> Option<InstrumentId> {
        match sym {
            b"XBT/USD" => Some(InstrumentId(0)),
            b"ALGO/XBT" => Some(InstrumentId(1)),
            b"BTC/USD" => Some(InstrumentId(2)),
            b"SC/EUR" => Some(InstrumentId(3)),
            _ => None,
        }
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut ids, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    // Real v1 lines (cryptofeed KRAKEN captures, 2021).
    const TRADES: &str = r#"[321,[["58721.20000","0.00320000","1617666496.195841","s","l",""],["58721.20000","0.13018300","1617666496.197169","s","l",""],["58721.20000","0.04542805","1617666496.198453","s","l",""]],"trade","XBT/USD"]"#;
    const TICKER: &str = r#"[2500,{"a":["0.000023630",7289,"7289.86759215"],"b":["0.000023610",1173,"1173.00000000"],"c":["0.000023620","25.10303887"],"v":["1124742.64341766","1125291.62001353"],"p":["0.000023449","0.000023449"],"t":[1283,1292],"l":["0.000022220","0.000022220"],"h":["0.000025000","0.000025000"],"o":["0.000022580","0.000022500"]},"ticker","ALGO/XBT"]"#;
    const BOOK_R: &str = r#"[320,{"b":[["58719.70000","0.00000000","1617666423.693648"],["55225.00000","0.50000000","1617640142.435065","r"]],"c":"226497374"},"book-1000","XBT/USD"]"#;
    const BOOK_TWO: &str = r#"[1920,{"a":[["0.042990","364630.28272081","1618678145.920470"]]},{"b":[["0.042990","0.00000000","1618678145.920708"]],"c":"4105471083"},"book-1000","SC/EUR"]"#;
    // A real snapshot, cut to one level a side.
    const BOOK_SNAP: &str = r#"[320,{"as":[["58729.40000","0.45000000","1617666423.606671"]],"bs":[["58729.30000","0.01000000","1617666423.600000"]]},"book-1000","XBT/USD"]"#;
    const SUB: &str = r#"{"channelID":321,"channelName":"trade","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"name":"trade"}}"#;
    const STATUS: &str = r#"{"connectionID":13935949241502919679,"event":"systemStatus","status":"online","version":"1.8.3"}"#;
    // v2 shapes (documentation examples).
    const V2_TRADE: &str = r#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":105944.20,"qty":0.00027625,"ord_type":"limit","trade_id":10218208,"timestamp":"2023-10-06T17:35:55.440295Z"},{"symbol":"BTC/USD","side":"sell","price":105910.50,"qty":0.00012460,"ord_type":"market","trade_id":10218209,"timestamp":"2023-10-06T17:35:56.123456Z"}]}"#;
    const V2_TICKER: &str = r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":105944.20,"bid_qty":2.5,"ask":105944.30,"ask_qty":3.2,"last":105899.40,"volume":163.28908096,"timestamp":"2022-12-25T09:30:59.123456Z"}]}"#;
    const V2_BOOK: &str = r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":105944.20,"qty":0.250}],"asks":[{"price":105946.9,"qty":0}],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

    #[test]
    fn v1_trades_get_derived_ids() {
        let (kind, ev) = run(TRADES.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        assert_eq!(ev.len(), 3);
        let Event::Trade(t) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            t,
            Trade {
                instrument: InstrumentId(0),
                trade_id: 1_617_666_496_195_841 * 1024,
                price: Price(5_872_120_000_000),
                qty: Qty(320_000),
                trade_ns: 1_617_666_496_195_841_000,
                event_ns: 1_617_666_496_195_841_000,
                buyer_is_maker: true,
                source: 0,
                flags: 0,
                anomalies: 0,
            }
        );
        let Event::Trade(t2) = ev[2] else {
            panic!("{ev:?}")
        };
        assert_eq!(t2.trade_id, 1_617_666_496_198_453 * 1024 + 2);
        // Same microsecond twice in one message: still distinct, increasing ids.
        let same = TRADES.replace("1617666496.197169", "1617666496.195841");
        let (_, ev) = run(same.as_bytes()).unwrap();
        let ids: Vec<u64> = ev
            .iter()
            .map(|e| match e {
                Event::Trade(t) => t.trade_id,
                _ => panic!(),
            })
            .collect();
        assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
        // A 7th element is Kraken's own trade id.
        let with_id = TRADES.replace(r#""s","l",""]"#, r#""s","l","",77]"#);
        let (_, ev) = run(with_id.as_bytes()).unwrap();
        assert!(matches!(ev[1], Event::Trade(t) if t.trade_id == 77 && t.buyer_is_maker));
    }

    #[test]
    fn v1_ticker() {
        let (kind, ev) = run(TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        assert_eq!(
            ev,
            vec![Event::Quote(BookTicker {
                instrument: InstrumentId(1),
                update_id: 0,
                bid_px: Price(2361),
                bid_qty: Qty(117_300_000_000),
                ask_px: Price(2363),
                ask_qty: Qty(728_986_759_215),
                event_ns: 0,
                source: 0,
            })]
        );
    }

    #[test]
    fn v1_books() {
        let (kind, ev) = run(BOOK_R.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 4);
        assert_eq!(
            ev[1],
            Event::Level {
                side: Side::Buy,
                price: Price(5_871_970_000_000),
                qty: Qty(0)
            }
        );
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Buy,
                price: Price(5_522_500_000_000),
                qty: Qty(50_000_000)
            }
        );
        let (kind, ev) = run(BOOK_TWO.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 4);
        assert!(matches!(
            ev[1],
            Event::Level {
                side: Side::Sell,
                ..
            }
        ));
        assert!(matches!(
            ev[2],
            Event::Level {
                side: Side::Buy,
                qty: Qty(0),
                ..
            }
        ));
        let (kind, ev) = run(BOOK_SNAP.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert!(matches!(
            ev[0],
            Event::BookBegin(BookUpdate {
                snapshot: true,
                instrument: Some(InstrumentId(0)),
                first_id: 0,
                last_id: 0,
                prev_id: None,
                event_ns: 0
            })
        ));
        assert!(matches!(
            ev[1],
            Event::Level {
                side: Side::Sell,
                ..
            }
        ));
        assert!(matches!(
            ev[2],
            Event::Level {
                side: Side::Buy,
                ..
            }
        ));
    }

    #[test]
    fn v2_messages() {
        let (kind, ev) = run(V2_TRADE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        let (Event::Trade(a), Event::Trade(b)) = (ev[0], ev[1]) else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (a.trade_id, a.buyer_is_maker, a.price, a.qty),
            (10_218_208, false, Price(10_594_420_000_000), Qty(27_625))
        );
        assert_eq!((b.trade_id, b.buyer_is_maker), (10_218_209, true));
        let snap = V2_TRADE.replace(r#""type":"update""#, r#""type":"snapshot""#);
        assert_eq!(
            run(snap.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::History), vec![]))
        );

        let (kind, ev) = run(V2_TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        assert!(
            matches!(ev[0], Event::Quote(q) if q.ask_qty == Qty(320_000_000) && q.event_ns == 1_671_960_659_123_456_000)
        );

        let (kind, ev) = run(V2_BOOK.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 4);
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(10_594_690_000_000),
                qty: Qty(0)
            }
        );
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (r#"{"event":"heartbeat"}"#, SkipKind::Heartbeat),
            (STATUS, SkipKind::Status),
            (SUB, SkipKind::Response),
            (
                r#"{"errorMessage":"Subscription depth not supported","event":"subscriptionStatus","pair":"XBT/USD","status":"error"}"#,
                SkipKind::Status,
            ),
            (r#"{"event":"somethingNew"}"#, SkipKind::Unknown),
            (
                r#"[42,["1","2","3","4","5"],"spread","XBT/USD"]"#,
                SkipKind::Unsupported,
            ),
            (r#"[42,{},"newthing","XBT/USD"]"#, SkipKind::Unknown),
            (
                &TRADES.replace("XBT/USD", "DOGE/USD"),
                SkipKind::OtherInstrument,
            ),
            (r#"{"channel":"heartbeat"}"#, SkipKind::Heartbeat),
            (
                r#"{"channel":"status","type":"update","data":[{"system":"online"}]}"#,
                SkipKind::Status,
            ),
            (
                r#"{"method":"subscribe","result":{"channel":"ticker","symbol":"BTC/USD","snapshot":true},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":1}"#,
                SkipKind::Response,
            ),
            (
                r#"{"method":"subscribe","error":"Currency pair not supported","success":false}"#,
                SkipKind::Status,
            ),
            (r#"{"method":"pong","req_id":1}"#, SkipKind::Heartbeat),
            (
                r#"{"channel":"ohlc","type":"update","data":[]}"#,
                SkipKind::Unsupported,
            ),
            (
                &V2_TRADE.replace("BTC/USD", "DOGE/USD"),
                SkipKind::OtherInstrument,
            ),
        ];
        for (msg, kind) in table {
            assert_eq!(
                run(msg.as_bytes()),
                Ok((MsgKind::Skipped(*kind), vec![])),
                "{msg}"
            );
        }
    }

    #[test]
    fn malformed_is_an_error() {
        let table: &[(String, ParseError)] = &[
            (TRADES[..70].to_string(), ParseError::Json(JsonError::Eof)),
            (
                TRADES.replacen(r#""58721.20000""#, "58721.2", 1),
                ParseError::Invalid("trade.price"),
            ),
            (
                TRADES.replacen(r#""58721.20000""#, r#""-58721.2""#, 1),
                ParseError::Invalid("trade.price"),
            ),
            (
                TRADES.replacen(r#""0.00320000""#, r#""0""#, 1),
                ParseError::Invalid("trade.volume"),
            ),
            (
                TRADES.replacen(r#""1617666496.195841""#, r#""yesterday""#, 1),
                ParseError::Invalid("trade.time"),
            ),
            (
                TRADES.replacen(r#""s","l""#, r#""x","l""#, 1),
                ParseError::Invalid("trade.side"),
            ),
            (
                TRADES.replacen(r#","l","""#, "", 1),
                ParseError::Invalid("trade"),
            ),
            (
                TRADES.replace(r#""XBT/USD""#, r#""XBT\/USD""#),
                ParseError::Invalid("pair"),
            ),
            (
                TRADES.replace("321,", "-1,"),
                ParseError::Invalid("channelID"),
            ),
            (TRADES.replace(r#""trade","#, ""), ParseError::Unrecognised),
            (
                r#"[321,[],"trade","XBT/USD"]"#.to_string(),
                ParseError::Invalid("trade"),
            ),
            (
                TICKER.replace(r#""a":["0.000023630",7289,"7289.86759215"],"#, ""),
                ParseError::Missing("a"),
            ),
            (
                TICKER.replace(r#",7289,"7289.86759215""#, ""),
                ParseError::Invalid("a"),
            ),
            (
                BOOK_R.replace(r#","r"]"#, r#","x"]"#),
                ParseError::Invalid("book.level"),
            ),
            (
                BOOK_R.replace(r#""0.50000000""#, r#""half""#),
                ParseError::Invalid("book.volume"),
            ),
            (
                BOOK_R.replace(r#""55225.00000""#, r#""0""#),
                ParseError::Invalid("book.price"),
            ),
            (
                BOOK_R.replace(r#""1617640142.435065""#, "1617640142.435065"),
                ParseError::Invalid("book.timestamp"),
            ),
            (
                BOOK_R.replace(r#"{"b":"#, r#"{"c2":"#),
                ParseError::Invalid("book"),
            ),
            (
                BOOK_SNAP.replace(r#""bs":"#, r#""b":"#),
                ParseError::Invalid("book"),
            ),
            (
                BOOK_TWO.replace(r#"{"a":"#, r#"{"as":"#),
                ParseError::Invalid("book"),
            ),
            (
                V2_TRADE.replace("105944.20", r#""105944.20""#),
                ParseError::Invalid("price"),
            ),
            (
                V2_TRADE.replace("105944.20", "-105944.20"),
                ParseError::Invalid("price"),
            ),
            (
                V2_TRADE.replace(r#""trade_id":10218208,"#, ""),
                ParseError::Missing("trade_id"),
            ),
            (
                V2_TRADE.replace(r#""type":"update""#, r#""type":"delta""#),
                ParseError::Invalid("type"),
            ),
            (
                V2_TRADE.replace(r#""buy""#, r#""long""#),
                ParseError::Invalid("side"),
            ),
            (
                V2_TICKER.replace(r#""bid_qty":2.5,"#, ""),
                ParseError::Missing("bid_qty"),
            ),
            (
                V2_BOOK.replace(r#""qty":0.250"#, r#""qty":1e-9"#),
                ParseError::Unrepresentable("bids"),
            ),
            (
                V2_BOOK.replace(r#""data":["#, r#""data":[7,"#),
                ParseError::Invalid("data"),
            ),
            (r#"{"hello":"world"}"#.to_string(), ParseError::Unrecognised),
            (r#""heartbeat""#.to_string(), ParseError::Unrecognised),
            (r#"{"event":1}"#.to_string(), ParseError::Invalid("event")),
        ];
        for (msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(*want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..6, pos in 0usize..4096, byte in proptest::num::u8::ANY, cut in 0usize..4096) {
            let base = [TRADES, TICKER, BOOK_R, BOOK_TWO, V2_TRADE, V2_BOOK][which].as_bytes();
            let mut m = base.to_vec();
            let at = pos % m.len();
            m[at] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut % m.len()]);
        }
    }
}
