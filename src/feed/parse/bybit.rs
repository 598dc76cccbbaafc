//! Bybit public market messages (legacy v2 `realtime`/`realtime_public` and v5) → [`Event`]s.
//!
//! ```text
//! v2 {"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,"timestamp":"2021-04-17T16:43:06.000Z",
//!      "symbol":"BTCUSD","side":"Sell","size":4,"price":60621.5,"tick_direction":"PlusTick",
//!      "trade_id":"5ffb8b77-900c-507d-97a2-0922557ffe54","cross_seq":5938955347}]}
//! v2 {"topic":"orderBookL2_25.EOSUSD","type":"delta","data":{"delete":[],"update":[{"price":"7.971",
//!      "symbol":"EOSUSD","id":79710,"side":"Buy","size":47766}],"insert":[],"transactTimeE6":0},
//!      "cross_seq":1225777225,"timestamp_e6":1618677786598877}
//! v5 {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1709891679005,"data":[{"T":1709891679000,
//!      "s":"BTCUSDT","S":"Buy","v":"0.010","p":"27451.00","i":"9dc75fca-…","BT":false}]}
//! v5 {"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200693,"data":{"s":"XRPUSDT",
//!      "b":[["1.9531","6198"]],"a":[["1.9535","8415"]],"u":20254870,"seq":130020239261},"cts":…}
//! ```
//!
//! Decoded:
//!
//! * **Trades** (`trade.*` v2, `publicTrade.*` v5). Each array entry is one trade; the v2 long
//!   names and the v5 short names are aliases of each other (`trade_time_ms`/`T`,
//!   `symbol`/`s`, `side`/`S`, `size`/`v`, `price`/`p`, `trade_id`/`i`), so one entry decoder
//!   serves both. `side` is the aggressor. Numbers may be JSON strings or numbers (v2 inverse
//!   sends `"price":60621.5`); they are scaled exactly either way.
//! * **Trade ids.** Bybit trade ids are strings: decimal digits on v5 spot, UUIDs on v2 and on
//!   v5 derivatives. A decimal id is used as is. A UUID (canonical 8-4-4-4-12 hex, either case)
//!   becomes the XOR of its two 64-bit halves: a pure function of the id, so the same trade
//!   seen on two connections (A/B lines) gets the same `u64`, and unique in practice (the
//!   UUIDs are v4/v5, ≥ 122 random bits; 64 folded bits collide with odds ≈ n²/2⁶⁵, about
//!   10⁻⁹ over a million trades). `cross_seq` is no id: several trades share one. Any other
//!   id text is refused. Folded ids are **not ordered**: consumers must not treat
//!   `id <= last` as a duplicate or `id != last + 1` as a gap for Bybit UUID trades.
//! * **v5 order book** (`orderbook.N.*`): `type` snapshot/delta → [`Event::BookBegin`] with
//!   `first_id = last_id = u` and the message `ts`, then `b` / `a` levels (qty = new total, 0 =
//!   delete), [`Event::BookEnd`]. Deltas carry `u = previous u + 1`; a snapshot with `u = 1`
//!   means the venue's book service restarted (the book must be rebuilt from it).
//! * **v2 order book** (`orderBookL2_25.*`, `orderBook_200.100ms.*`): a snapshot (an entry array,
//!   or `{"order_book":[…]}` on USDT contracts) or a delta of `delete` / `update` / `insert`
//!   entries keyed by level id. Every entry in the real captures carries its `price`, so levels
//!   are emitted directly (deletes as qty 0) with `first_id = last_id = cross_seq` and
//!   `timestamp_e6`. A delta with a delete that lacks `price` (older inverse feeds) could only
//!   be applied through per-id state; rather than keep an unbounded id → price table, such a
//!   message is `Skipped(Unsupported)` whole, and the book must be resynchronised from the next
//!   snapshot.
//! * **v5 tickers** (`tickers.*`) → [`Event::Quote`] when `bid1Price`, `bid1Size`, `ask1Price`
//!   and `ask1Size` are all present and non-empty (`update_id` = `cs`, 0 without). Linear
//!   deltas send only the fields that changed and spot tickers carry no book at all; those are
//!   `Skipped(Unsupported)` (a half quote cannot be completed without per-symbol state; use
//!   `orderbook.1` for a stream of BBOs).
//! * **v5 kline** (`kline.N.*`) → [`Event::Kline`], symbol from the topic.
//!
//! Subscription replies (`{"success":..,"ret_msg":..}` with `request` (v2) or `op` (v5)) are
//! `Skipped(Response)` (a failed one `Skipped(Status)`); pongs are `Skipped(Heartbeat)`;
//! liquidations, instrument info, v2 klines, insurance are `Skipped(Unsupported)`; other topics
//! `Skipped(Unknown)`. Trade history replayed on subscribe cannot be told from live trades in
//! these formats and is decoded as trades.
//!
//! Zero-copy, zero allocation, no panic on any input.

use super::json::{self, Value};
use super::{
    decimal, ms_to_ns, BookUpdate, Event, Kline, MsgKind, ParseError, SkipKind, SymbolResolver,
};
use crate::core::{BookTicker, InstrumentId, Price, Qty, Side, Trade};

/// Bybit parser (stateless; a struct for the common parser shape).
#[derive(Default, Debug)]
pub struct Parser;

#[derive(Default)]
struct Envelope<'a> {
    topic: Option<Value<'a>>,
    kind: Option<Value<'a>>,
    data: Option<Value<'a>>,
    ts: Option<Value<'a>>,
    cs: Option<Value<'a>>,
    cross_seq: Option<Value<'a>>,
    timestamp_e6: Option<Value<'a>>,
    success: Option<Value<'a>>,
    ret_msg: Option<Value<'a>>,
    op: Option<Value<'a>>,
}

fn collect(buf: &[u8]) -> Result<Envelope<'_>, ParseError> {
    let mut f = Envelope::default();
    json::for_each_member(buf, |k, v| match k {
        b"topic" => f.topic = Some(v),
        b"type" => f.kind = Some(v),
        b"data" => f.data = Some(v),
        b"ts" => f.ts = Some(v),
        b"cs" => f.cs = Some(v),
        b"cross_seq" => f.cross_seq = Some(v),
        b"timestamp_e6" => f.timestamp_e6 = Some(v),
        b"success" => f.success = Some(v),
        b"ret_msg" => f.ret_msg = Some(v),
        b"op" => f.op = Some(v),
        _ => {}
    })?;
    Ok(f)
}

fn req<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<Value<'a>, ParseError> {
    v.ok_or(ParseError::Missing(name))
}

/// A non-negative decimal from a JSON string or number.
fn num(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    let t = req(v, name)?.as_text().ok_or(ParseError::Invalid(name))?;
    decimal(t, name)
}

fn int(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    req(v, name)?.as_u64().ok_or(ParseError::Invalid(name))
}

fn ms(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    ms_to_ns(int(v, name)?, name)
}

fn opt_ms(v: Option<Value<'_>>, name: &'static str) -> Result<Option<u64>, ParseError> {
    match v {
        Some(v) => Ok(Some(ms_to_ns(
            v.as_u64().ok_or(ParseError::Invalid(name))?,
            name,
        )?)),
        None => Ok(None),
    }
}

fn string<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    req(v, name)?.as_str().ok_or(ParseError::Invalid(name))
}

/// `Buy` / `Sell`.
fn side(v: Option<Value<'_>>, name: &'static str) -> Result<Side, ParseError> {
    match string(v, name)? {
        b"Buy" => Ok(Side::Buy),
        b"Sell" => Ok(Side::Sell),
        _ => Err(ParseError::Invalid(name)),
    }
}

/// `snapshot` → true, `delta` → false.
fn snapshot_flag(v: Option<Value<'_>>) -> Result<bool, ParseError> {
    match string(v, "type")? {
        b"snapshot" => Ok(true),
        b"delta" => Ok(false),
        _ => Err(ParseError::Invalid("type")),
    }
}

/// The text after the last `.` of a topic (`orderBookL2_25.BTCUSD` → `BTCUSD`).
fn topic_symbol(topic: &[u8]) -> &[u8] {
    match topic.iter().rposition(|&b| b == b'.') {
        Some(i) => topic.get(i + 1..).unwrap_or(&[]),
        None => &[],
    }
}

/// A Bybit trade id as a `u64`: decimal ids as they are, canonical UUIDs folded (XOR of the two
/// 64-bit halves); see the module docs.
pub fn trade_id(v: Value<'_>) -> Option<u64> {
    match v {
        Value::Num(_) => v.as_u64(),
        Value::Str(s) => v.as_u64().or_else(|| uuid_fold(s)),
        _ => None,
    }
}

fn uuid_fold(s: &[u8]) -> Option<u64> {
    if s.len() != 36 {
        return None;
    }
    let mut x: u128 = 0;
    for (i, &b) in s.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let d = (b as char).to_digit(16)?;
        x = (x << 4) | u128::from(d);
    }
    Some(((x >> 64) as u64) ^ (x as u64))
}

/// Runs `f` on each element of an already-validated array, stopping at the first error.
fn each<'a>(
    arr: &'a [u8],
    mut f: impl FnMut(Value<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut err = None;
    json::for_each_element(arr, |v| {
        if err.is_none() {
            if let Err(e) = f(v) {
                err = Some(e);
            }
        }
    })?;
    err.map_or(Ok(()), Err)
}

fn array<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    match req(v, name)? {
        Value::Array(a) => Ok(a),
        _ => Err(ParseError::Invalid(name)),
    }
}

fn object<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    match req(v, name)? {
        Value::Object(o) => Ok(o),
        _ => Err(ParseError::Invalid(name)),
    }
}

impl Parser {
    /// Parses one Bybit message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let env = collect(buf)?;
        let Some(topic) = env.topic else {
            return control(&env);
        };
        let topic = topic.as_str().ok_or(ParseError::Invalid("topic"))?;
        let prefix = match topic.iter().position(|&b| b == b'.') {
            Some(i) => topic.get(..i).unwrap_or(topic),
            None => topic,
        };
        match prefix {
            b"publicTrade" | b"trade" => trades(&env, resolve, out),
            b"orderbook" => book_v5(&env, resolve, out),
            b"orderBookL2_25" | b"orderBook_200" => {
                book_v2(&env, topic_symbol(topic), resolve, out)
            }
            b"tickers" => ticker(&env, resolve, out),
            b"kline" => kline(&env, topic_symbol(topic), resolve, out),
            b"liquidation" | b"allLiquidation" | b"instrument_info" | b"klineV2" | b"candle"
            | b"insurance" | b"tickers_lt" | b"kline_lt" | b"lt" => {
                Ok(MsgKind::Skipped(SkipKind::Unsupported))
            }
            _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
        }
    }
}

/// Messages without a topic: subscription replies and pongs.
fn control(env: &Envelope<'_>) -> Result<MsgKind, ParseError> {
    let op = match env.op {
        Some(v) => Some(v.as_str().ok_or(ParseError::Invalid("op"))?),
        None => None,
    };
    let ping = matches!(op, Some(b"ping" | b"pong"));
    match env.success {
        Some(v) => {
            let ok = v.as_bool().ok_or(ParseError::Invalid("success"))?;
            let pong = env.ret_msg.and_then(|m| m.as_str()) == Some(b"pong");
            if ping || pong {
                Ok(MsgKind::Skipped(SkipKind::Heartbeat))
            } else if ok {
                Ok(MsgKind::Skipped(SkipKind::Response))
            } else {
                Ok(MsgKind::Skipped(SkipKind::Status))
            }
        }
        None => match op {
            _ if ping => Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
            Some(b"subscribe" | b"unsubscribe" | b"auth") => {
                Ok(MsgKind::Skipped(SkipKind::Response))
            }
            Some(_) => Ok(MsgKind::Skipped(SkipKind::Unknown)),
            None => Err(ParseError::Unrecognised),
        },
    }
}

fn trades(
    env: &Envelope<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let arr = array(env.data, "data")?;
    let event_ns = opt_ms(env.ts, "ts")?;
    let mut emitted = 0u32;
    let mut other = 0u32;
    // One-entry cache: every trade of a message names the same symbol.
    let mut last: Option<(&[u8], Option<InstrumentId>)> = None;
    each(arr, |v| {
        let Value::Object(obj) = v else {
            return Err(ParseError::Invalid("data"));
        };
        #[derive(Default)]
        struct T<'a> {
            time: Option<Value<'a>>,
            sym: Option<Value<'a>>,
            side: Option<Value<'a>>,
            size: Option<Value<'a>>,
            price: Option<Value<'a>>,
            id: Option<Value<'a>>,
        }
        let mut t = T::default();
        json::for_each_member(obj, |k, v| match k {
            b"T" | b"trade_time_ms" => t.time = Some(v),
            b"s" | b"symbol" => t.sym = Some(v),
            b"S" | b"side" => t.side = Some(v),
            b"v" | b"size" => t.size = Some(v),
            b"p" | b"price" => t.price = Some(v),
            b"i" | b"trade_id" => t.id = Some(v),
            _ => {}
        })?;
        let sym = string(t.sym, "symbol")?;
        let trade_ns = ms(t.time, "trade_time_ms")?;
        let aggressor = side(t.side, "side")?;
        let qty = num(t.size, "size")?;
        let price = num(t.price, "price")?;
        let trade_id = trade_id(req(t.id, "trade_id")?).ok_or(ParseError::Invalid("trade_id"))?;
        let instrument = match last {
            Some((s, id)) if s == sym => id,
            _ => {
                let id = resolve.resolve(sym);
                last = Some((sym, id));
                id
            }
        };
        let Some(instrument) = instrument else {
            other += 1;
            return Ok(());
        };
        emitted += 1;
        out(Event::Trade(Trade {
            instrument,
            trade_id,
            price: Price(price),
            qty: Qty(qty),
            trade_ns,
            event_ns: event_ns.unwrap_or(trade_ns),
            buyer_is_maker: aggressor == Side::Sell,
            source: 0,
            flags: 0,
        }));
        Ok(())
    })?;
    Ok(if emitted > 0 {
        MsgKind::Trades
    } else if other > 0 {
        MsgKind::Skipped(SkipKind::OtherInstrument)
    } else {
        MsgKind::Skipped(SkipKind::Unsupported)
    })
}

/// Emits every `["price","size"]` pair of a v5 book side.
fn pair_levels(
    arr: &[u8],
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    each(arr, |lv| {
        let Value::Array(pair) = lv else {
            return Err(ParseError::Invalid(name));
        };
        let mut n = 0usize;
        let mut px = None;
        let mut q = None;
        json::for_each_element(pair, |x| {
            match n {
                0 => px = x.as_str(),
                1 => q = x.as_str(),
                _ => {}
            }
            n += 1;
        })?;
        match (px, q) {
            (Some(px), Some(q)) if n == 2 => {
                let price = Price(decimal(px, name)?);
                let qty = Qty(decimal(q, name)?);
                out(Event::Level { side, price, qty });
                Ok(())
            }
            _ => Err(ParseError::Invalid(name)),
        }
    })
}

fn book_v5(
    env: &Envelope<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let snapshot = snapshot_flag(env.kind)?;
    let event_ns = ms(env.ts, "ts")?;
    let obj = object(env.data, "data")?;
    let (mut s, mut b, mut a, mut u) = (None, None, None, None);
    json::for_each_member(obj, |k, v| match k {
        b"s" => s = Some(v),
        b"b" => b = Some(v),
        b"a" => a = Some(v),
        b"u" => u = Some(v),
        _ => {}
    })?;
    let sym = string(s, "s")?;
    let update_id = int(u, "u")?;
    let bids = array(b, "b")?;
    let asks = array(a, "a")?;
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(Event::BookBegin(BookUpdate {
        instrument: Some(instrument),
        snapshot,
        first_id: update_id,
        last_id: update_id,
        prev_id: None,
        event_ns,
    }));
    pair_levels(bids, "b", Side::Buy, out)?;
    pair_levels(asks, "a", Side::Sell, out)?;
    out(Event::BookEnd);
    Ok(if snapshot {
        MsgKind::Snapshot
    } else {
        MsgKind::Depth
    })
}

/// One v2 book entry (`{"price":"7.971","symbol":"EOSUSD","id":79710,"side":"Buy","size":47766}`)
/// → a level; `delete` entries carry no size and become qty 0.
fn v2_level(v: Value<'_>, delete: bool, out: &mut impl FnMut(Event)) -> Result<(), ParseError> {
    let Value::Object(obj) = v else {
        return Err(ParseError::Invalid("data"));
    };
    let (mut price, mut sd, mut size) = (None, None, None);
    json::for_each_member(obj, |k, v| match k {
        b"price" => price = Some(v),
        b"side" => sd = Some(v),
        b"size" => size = Some(v),
        _ => {}
    })?;
    let price = Price(num(price, "price")?);
    let side = side(sd, "side")?;
    let qty = if delete {
        Qty(0)
    } else {
        Qty(num(size, "size")?)
    };
    out(Event::Level { side, price, qty });
    Ok(())
}

fn book_v2(
    env: &Envelope<'_>,
    sym: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let snapshot = snapshot_flag(env.kind)?;
    let seq = int(env.cross_seq, "cross_seq")?;
    let event_ns = int(env.timestamp_e6, "timestamp_e6")?
        .checked_mul(1000)
        .ok_or(ParseError::Invalid("timestamp_e6"))?;
    let header = |instrument| {
        Event::BookBegin(BookUpdate {
            instrument: Some(instrument),
            snapshot,
            first_id: seq,
            last_id: seq,
            prev_id: None,
            event_ns,
        })
    };
    if snapshot {
        let entries = match req(env.data, "data")? {
            Value::Array(a) => a,
            Value::Object(o) => {
                let mut book = None;
                json::for_each_member(o, |k, v| {
                    if k == b"order_book" {
                        book = Some(v);
                    }
                })?;
                array(book, "order_book")?
            }
            _ => return Err(ParseError::Invalid("data")),
        };
        let Some(instrument) = resolve.resolve(sym) else {
            return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
        };
        out(header(instrument));
        each(entries, |v| v2_level(v, false, out))?;
        out(Event::BookEnd);
        return Ok(MsgKind::Snapshot);
    }
    let obj = object(env.data, "data")?;
    let (mut del, mut upd, mut ins) = (None, None, None);
    json::for_each_member(obj, |k, v| match k {
        b"delete" => del = Some(v),
        b"update" => upd = Some(v),
        b"insert" => ins = Some(v),
        _ => {}
    })?;
    let del = array(del, "delete")?;
    let upd = array(upd, "update")?;
    let ins = array(ins, "insert")?;
    // A delete without a price cannot become a level without per-id state (module docs).
    let mut priceless = false;
    each(del, |v| {
        let Value::Object(o) = v else {
            return Err(ParseError::Invalid("delete"));
        };
        let mut has_price = false;
        json::for_each_member(o, |k, _| has_price |= k == b"price")?;
        priceless |= !has_price;
        Ok(())
    })?;
    if priceless {
        return Ok(MsgKind::Skipped(SkipKind::Unsupported));
    }
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(header(instrument));
    each(del, |v| v2_level(v, true, out))?;
    each(upd, |v| v2_level(v, false, out))?;
    each(ins, |v| v2_level(v, false, out))?;
    out(Event::BookEnd);
    Ok(MsgKind::Depth)
}

fn ticker(
    env: &Envelope<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let obj = object(env.data, "data")?;
    let (mut sym, mut bp, mut bq, mut ap, mut aq) = (None, None, None, None, None);
    json::for_each_member(obj, |k, v| match k {
        b"symbol" => sym = Some(v),
        b"bid1Price" => bp = Some(v),
        b"bid1Size" => bq = Some(v),
        b"ask1Price" => ap = Some(v),
        b"ask1Size" => aq = Some(v),
        _ => {}
    })?;
    let sym = string(sym, "symbol")?;
    // Absent or empty: that side did not change (linear deltas) or does not exist.
    let field = |v: Option<Value<'_>>, name: &'static str| -> Result<Option<i64>, ParseError> {
        match v {
            None => Ok(None),
            Some(v) => match v.as_text().ok_or(ParseError::Invalid(name))? {
                b"" => Ok(None),
                t => decimal(t, name).map(Some),
            },
        }
    };
    let bid_px = field(bp, "bid1Price")?;
    let bid_qty = field(bq, "bid1Size")?;
    let ask_px = field(ap, "ask1Price")?;
    let ask_qty = field(aq, "ask1Size")?;
    let update_id = match env.cs {
        Some(v) => v.as_u64().ok_or(ParseError::Invalid("cs"))?,
        None => 0,
    };
    let event_ns = opt_ms(env.ts, "ts")?.unwrap_or(0);
    let (Some(bid_px), Some(bid_qty), Some(ask_px), Some(ask_qty)) =
        (bid_px, bid_qty, ask_px, ask_qty)
    else {
        return Ok(MsgKind::Skipped(SkipKind::Unsupported));
    };
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(Event::Quote(BookTicker {
        instrument,
        update_id,
        bid_px: Price(bid_px),
        bid_qty: Qty(bid_qty),
        ask_px: Price(ask_px),
        ask_qty: Qty(ask_qty),
        event_ns,
        source: 0,
    }));
    Ok(MsgKind::Quote)
}

fn kline(
    env: &Envelope<'_>,
    sym: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let arr = array(env.data, "data")?;
    let ts = opt_ms(env.ts, "ts")?;
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut emitted = 0u32;
    each(arr, |v| {
        let Value::Object(obj) = v else {
            return Err(ParseError::Invalid("data"));
        };
        #[derive(Default)]
        struct K<'a> {
            start: Option<Value<'a>>,
            end: Option<Value<'a>>,
            open: Option<Value<'a>>,
            high: Option<Value<'a>>,
            low: Option<Value<'a>>,
            close: Option<Value<'a>>,
            volume: Option<Value<'a>>,
            confirm: Option<Value<'a>>,
            timestamp: Option<Value<'a>>,
        }
        let mut k = K::default();
        json::for_each_member(obj, |key, v| match key {
            b"start" => k.start = Some(v),
            b"end" => k.end = Some(v),
            b"open" => k.open = Some(v),
            b"high" => k.high = Some(v),
            b"low" => k.low = Some(v),
            b"close" => k.close = Some(v),
            b"volume" => k.volume = Some(v),
            b"confirm" => k.confirm = Some(v),
            b"timestamp" => k.timestamp = Some(v),
            _ => {}
        })?;
        let start = int(k.start, "start")?;
        let end = int(k.end, "end")?;
        // `end` is the interval's last millisecond.
        let interval_s = end
            .checked_sub(start)
            .and_then(|d| d.checked_add(1))
            .and_then(|d| u32::try_from(d / 1000).ok())
            .ok_or(ParseError::Invalid("end"))?;
        let kl = Kline {
            instrument,
            interval_s,
            open_ns: ms_to_ns(start, "start")?,
            open: Price(num(k.open, "open")?),
            high: Price(num(k.high, "high")?),
            low: Price(num(k.low, "low")?),
            close: Price(num(k.close, "close")?),
            volume: Qty(num(k.volume, "volume")?),
            trades: 0,
            closed: req(k.confirm, "confirm")?
                .as_bool()
                .ok_or(ParseError::Invalid("confirm"))?,
            event_ns: match opt_ms(k.timestamp, "timestamp")? {
                Some(t) => t,
                None => ts.unwrap_or(0),
            },
        };
        emitted += 1;
        out(Event::Kline(kl));
        Ok(())
    })?;
    Ok(if emitted > 0 {
        MsgKind::Kline
    } else {
        MsgKind::Skipped(SkipKind::Unsupported)
    })
}
