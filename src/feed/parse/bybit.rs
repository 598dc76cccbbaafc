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
//!   3·10⁻⁸ over a million trades). `cross_seq` is no id: several trades share one. Any other
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
use super::{int, req};
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

/// A non-negative decimal from a JSON string or number.
fn num(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    let t = req(v, name)?.as_text().ok_or(ParseError::Invalid(name))?;
    decimal(t, name)
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
        let id_value = req(t.id, "trade_id")?;
        let trade_id = trade_id(id_value).ok_or(ParseError::Invalid("trade_id"))?;
        // A folded UUID carries no order: the arbiter dedupes such ids by set, not sequence.
        let flags = if id_value.as_u64().is_some() {
            0
        } else {
            Trade::UNORDERED_ID
        };
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
            flags,
            anomalies: 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::parse::JsonError;

    fn any(_: &[u8]) -> Option<InstrumentId> {
        Some(InstrumentId(3))
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut any, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    // Real lines: cryptofeed BYBIT.ws.26.0 / ws.25.0 (v2, 2021-04-17) and the nautilus v5
    // XRPUSDT orderbook.500 dump (2024-12-01).
    const V2_TRADE_INVERSE: &str = r#"{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677791918,"timestamp":"2021-04-17T16:43:11.000Z","symbol":"BTCUSD","side":"Buy","size":4000,"price":60623,"tick_direction":"ZeroPlusTick","trade_id":"b258713a-7b69-55e3-bfc0-c0e23b595e2b","cross_seq":5938956667}]}"#;
    const V2_TRADE_LINEAR: &str = r#"{"topic":"trade.BCHUSDT","data":[{"symbol":"BCHUSDT","tick_direction":"MinusTick","price":"1053.90","size":0.14,"timestamp":"2021-04-17T16:43:05.000Z","trade_time_ms":"1618677785116","side":"Buy","trade_id":"01cacfe9-8d1c-5ee4-995d-d79a43f955a6"},{"symbol":"BCHUSDT","tick_direction":"PlusTick","price":"1054.45","size":0.82,"timestamp":"2021-04-17T16:43:05.000Z","trade_time_ms":"1618677785948","side":"Sell","trade_id":"a6492be8-54bb-55b2-8b46-69ad3c70a3b5"}]}"#;
    const V2_DELTA: &str = r#"{"topic":"orderBookL2_25.ADAUSDT","type":"delta","data":{"delete":[{"price":"1.3844","symbol":"ADAUSDT","id":"13844","side":"Buy"}],"update":[],"insert":[{"price":"1.3861","symbol":"ADAUSDT","id":"13861","side":"Buy","size":949}]},"cross_seq":"916953324","timestamp_e6":"1618677788242338"}"#;
    const V2_SNAPSHOT: &str = r#"{"topic":"orderBookL2_25.EOSUSD","type":"snapshot","data":[{"price":"7.943","symbol":"EOSUSD","id":79430,"side":"Buy","size":154219},{"price":"7.972","symbol":"EOSUSD","id":79720,"side":"Sell","size":138299}],"cross_seq":1225777224,"timestamp_e6":1618677786558146}"#;
    const V2_REPLY: &str = r#"{"success":true,"ret_msg":"","conn_id":"38cf0ac3-af67-483c-9bbc-b57d45910ecb","request":{"op":"subscribe","args":["trade.BCHUSDT"]}}"#;
    const V5_BOOK: &str = r#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011204990,"data":{"s":"XRPUSDT","b":[["1.9147","90"],["1.9108","43"]],"a":[["1.9538","3615"],["1.9542","15435"]],"u":20254913,"seq":130020250880},"cts":1733011204981}"#;
    // Shapes of the current v5 API (Bybit documentation examples).
    const V5_TRADE: &str = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1709891679005,"data":[{"T":1709891679000,"s":"BTCUSDT","S":"Buy","v":"0.010","p":"27451.00","L":"PlusTick","i":"9dc75fca-4bdd-4773-9f78-6f5d7ab2a110","BT":false}]}"#;
    const V5_TICKER: &str = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"17216.00","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#;
    const V5_KLINE: &str = r#"{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}"#;

    #[test]
    fn v2_inverse_trade_with_numbers_and_uuid() {
        let (kind, ev) = run(V2_TRADE_INVERSE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        let want = Trade {
            instrument: InstrumentId(3),
            trade_id: 0xb258_713a_7b69_55e3 ^ 0xbfc0_c0e2_3b59_5e2b,
            price: Price(6_062_300_000_000),
            qty: Qty(400_000_000_000),
            trade_ns: 1_618_677_791_918_000_000,
            event_ns: 1_618_677_791_918_000_000,
            buyer_is_maker: false,
            source: 0,
            flags: Trade::UNORDERED_ID,
            anomalies: 0,
        };
        assert_eq!(ev, vec![Event::Trade(want)]);
    }

    #[test]
    fn v2_linear_trades_with_strings() {
        let (kind, ev) = run(V2_TRADE_LINEAR.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        assert_eq!(ev.len(), 2);
        let Event::Trade(t) = ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(t.price, Price(105_445_000_000));
        assert_eq!(t.qty, Qty(82_000_000));
        assert!(t.buyer_is_maker, "Sell aggressor");
        assert_eq!(t.trade_ns, 1_618_677_785_948_000_000);
    }

    #[test]
    fn trade_ids() {
        let id = |s: &str| trade_id(Value::Str(s.as_bytes()));
        assert_eq!(id("2290000000061666327"), Some(2_290_000_000_061_666_327));
        assert_eq!(trade_id(Value::Num(b"42")), Some(42));
        let a = id("9dc75fca-4bdd-4773-9f78-6f5d7ab2a110").unwrap();
        assert_eq!(a, 0x9dc7_5fca_4bdd_4773 ^ 0x9f78_6f5d_7ab2_a110);
        // Case does not matter: the same id from two connections folds the same way.
        assert_eq!(id("9DC75FCA-4BDD-4773-9F78-6F5D7AB2A110"), Some(a));
        for bad in [
            "",
            "9dc75fca4bdd47739f786f5d7ab2a110",
            "9dc75fca-4bdd-4773-9f78-6f5d7ab2a11g",
            "9dc75fca-4bdd-4773-9f78_6f5d7ab2a110",
            "+dc75fca-4bdd-4773-9f78-6f5d7ab2a110",
            "18446744073709551616",
            "-1",
        ] {
            assert_eq!(id(bad), None, "{bad}");
        }
        assert_eq!(trade_id(Value::Num(b"1.5")), None);
    }

    #[test]
    fn v5_trade_uses_message_ts() {
        let (kind, ev) = run(V5_TRADE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        let Event::Trade(t) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(t.trade_ns, 1_709_891_679_000_000_000);
        assert_eq!(t.event_ns, 1_709_891_679_005_000_000);
        assert_eq!((t.price, t.qty), (Price(2_745_100_000_000), Qty(1_000_000)));
        assert!(!t.buyer_is_maker);
    }

    #[test]
    fn v2_books() {
        let (kind, ev) = run(V2_DELTA.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(
            ev,
            vec![
                Event::BookBegin(BookUpdate {
                    instrument: Some(InstrumentId(3)),
                    snapshot: false,
                    first_id: 916_953_324,
                    last_id: 916_953_324,
                    prev_id: None,
                    event_ns: 1_618_677_788_242_338_000,
                }),
                Event::Level {
                    side: Side::Buy,
                    price: Price(138_440_000),
                    qty: Qty(0)
                },
                Event::Level {
                    side: Side::Buy,
                    price: Price(138_610_000),
                    qty: Qty(94_900_000_000)
                },
                Event::BookEnd,
            ]
        );
        let (kind, ev) = run(V2_SNAPSHOT.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert_eq!(ev.len(), 4);
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(797_200_000),
                qty: Qty(13_829_900_000_000)
            }
        );
        // USDT contracts wrap the snapshot as {"order_book":[...]}.
        let wrapped = V2_SNAPSHOT
            .replace(r#""data":["#, r#""data":{"order_book":["#)
            .replace(r#"}],"cross_seq""#, r#"}]},"cross_seq""#);
        assert_eq!(run(wrapped.as_bytes()), run(V2_SNAPSHOT.as_bytes()));
        // A delete without its price cannot be applied without per-id state: skipped whole.
        let priceless = V2_DELTA.replace(r#""price":"1.3844","#, "");
        assert_eq!(
            run(priceless.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::Unsupported), vec![]))
        );
    }

    #[test]
    fn v5_book() {
        let (kind, ev) = run(V5_BOOK.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 6);
        assert_eq!(
            ev[0],
            Event::BookBegin(BookUpdate {
                instrument: Some(InstrumentId(3)),
                snapshot: false,
                first_id: 20_254_913,
                last_id: 20_254_913,
                prev_id: None,
                event_ns: 1_733_011_204_990_000_000,
            })
        );
        assert_eq!(
            ev[3],
            Event::Level {
                side: Side::Sell,
                price: Price(195_380_000),
                qty: Qty(361_500_000_000)
            }
        );
        let snap = V5_BOOK.replace("delta", "snapshot");
        assert_eq!(run(snap.as_bytes()).unwrap().0, MsgKind::Snapshot);
    }

    #[test]
    fn v5_ticker_and_kline() {
        let (kind, ev) = run(V5_TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        let Event::Quote(q) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(q.update_id, 24_987_956_059);
        assert_eq!(
            (q.bid_px, q.ask_qty),
            (Price(1_721_550_000_000), Qty(8_302_000_000))
        );
        // A linear delta that changed only the bid: not a whole quote.
        let half = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"17215.50","bid1Size":"84.489"},"cs":24987956060,"ts":1673272861687}"#;
        assert_eq!(
            run(half.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::Unsupported), vec![]))
        );
        let (kind, ev) = run(V5_KLINE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Kline);
        let Event::Kline(k) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((k.interval_s, k.closed, k.trades), (300, false, 0));
        assert_eq!(k.close, Price(1_667_700_000_000));
        assert_eq!(k.event_ns, 1_672_324_988_882_000_000);
    }

    #[test]
    fn control_messages() {
        let table: &[(&str, SkipKind)] = &[
            (V2_REPLY, SkipKind::Response),
            (
                r#"{"success":true,"ret_msg":"","conn_id":"c","req_id":"sub-1","op":"subscribe"}"#,
                SkipKind::Response,
            ),
            (
                r#"{"success":true,"ret_msg":"pong","conn_id":"c","request":{"op":"ping","args":null}}"#,
                SkipKind::Heartbeat,
            ),
            (
                r#"{"op":"pong","args":["1675418560633"],"conn_id":"c"}"#,
                SkipKind::Heartbeat,
            ),
            (
                r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"c","op":"subscribe"}"#,
                SkipKind::Status,
            ),
            (
                r#"{"topic":"liquidation.BTCUSDT","data":{}}"#,
                SkipKind::Unsupported,
            ),
            (r#"{"topic":"somethingNew.X","data":{}}"#, SkipKind::Unknown),
        ];
        for &(msg, kind) in table {
            assert_eq!(
                run(msg.as_bytes()),
                Ok((MsgKind::Skipped(kind), vec![])),
                "{msg}"
            );
        }
        let mut ours = |s: &[u8]| (s == b"ETHUSDT").then_some(InstrumentId(1));
        assert_eq!(
            Parser.parse(V5_TRADE.as_bytes(), &mut ours, &mut |_| {}),
            Ok(MsgKind::Skipped(SkipKind::OtherInstrument))
        );
    }

    #[test]
    fn malformed_is_an_error() {
        let sub = |from: &str, to: &str, base: &str| base.replacen(from, to, 1);
        let table: Vec<(String, ParseError)> = vec![
            (V5_BOOK[..80].to_string(), ParseError::Json(JsonError::Eof)),
            (r#"{"hello":1}"#.into(), ParseError::Unrecognised),
            (
                sub(
                    "\"topic\":\"trade.BTCUSD\"",
                    "\"topic\":7",
                    V2_TRADE_INVERSE,
                ),
                ParseError::Invalid("topic"),
            ),
            (
                sub("\"side\":\"Buy\"", "\"side\":\"buy\"", V2_TRADE_INVERSE),
                ParseError::Invalid("side"),
            ),
            (
                sub("\"price\":60623", "\"price\":-60623", V2_TRADE_INVERSE),
                ParseError::Invalid("price"),
            ),
            (
                sub("\"price\":60623,", "", V2_TRADE_INVERSE),
                ParseError::Missing("price"),
            ),
            (
                sub("b258713a-", "b258713a", V2_TRADE_INVERSE),
                ParseError::Invalid("trade_id"),
            ),
            (
                sub("1618677791918", "99999999999999999", V2_TRADE_INVERSE),
                ParseError::Invalid("trade_time_ms"),
            ),
            (
                sub("\"data\":[", "\"data\":[7,", V2_TRADE_INVERSE),
                ParseError::Invalid("data"),
            ),
            (
                sub("\"type\":\"delta\"", "\"type\":\"diff\"", V2_DELTA),
                ParseError::Invalid("type"),
            ),
            (
                sub("\"cross_seq\":\"916953324\",", "", V2_DELTA),
                ParseError::Missing("cross_seq"),
            ),
            (
                sub("\"update\":[],", "", V2_DELTA),
                ParseError::Missing("update"),
            ),
            (
                sub("\"size\":949", "\"size\":\"x\"", V2_DELTA),
                ParseError::Invalid("size"),
            ),
            (
                sub("[\"1.9147\",\"90\"]", "[\"1.9147\"]", V5_BOOK),
                ParseError::Invalid("b"),
            ),
            (
                sub("[\"1.9147\",\"90\"]", "[\"1.9147\",\"90\",\"1\"]", V5_BOOK),
                ParseError::Invalid("b"),
            ),
            (
                sub("\"u\":20254913,", "", V5_BOOK),
                ParseError::Missing("u"),
            ),
            (
                sub("\"ts\":1733011204990,", "", V5_BOOK),
                ParseError::Missing("ts"),
            ),
            (
                sub("\"bid1Size\":\"84.489\"", "\"bid1Size\":true", V5_TICKER),
                ParseError::Invalid("bid1Size"),
            ),
            (
                sub("\"end\":1672325099999", "\"end\":1", V5_KLINE),
                ParseError::Invalid("end"),
            ),
            (
                sub("\"confirm\":false", "\"confirm\":0", V5_KLINE),
                ParseError::Invalid("confirm"),
            ),
            (
                sub("\"success\":true", "\"success\":1", V2_REPLY),
                ParseError::Invalid("success"),
            ),
        ];
        for (msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..6, pos in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
            let base = [V2_TRADE_INVERSE, V2_TRADE_LINEAR, V2_DELTA, V5_BOOK, V5_TICKER, V5_KLINE][which].as_bytes();
            let mut m = base.to_vec();
            let pos = pos % m.len();
            m[pos] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut.min(m.len())]);
            let _ = run(&base[..cut.min(base.len())]);
        }
    }
}
