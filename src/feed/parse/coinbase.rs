//! Coinbase market messages → [`Event`]s: the legacy Pro / Exchange feed and Advanced Trade.
//!
//! Legacy feed (`ws-feed.pro.coinbase.com`, `ws-feed.exchange.coinbase.com`), keyed by `type`:
//!
//! ```text
//! {"type":"match","trade_id":280232,"maker_order_id":"..","taker_order_id":"..","side":"sell",
//!   "size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,
//!   "time":"2021-04-17T16:43:37.089723Z"}
//! {"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775",..,
//!   "best_bid":"14.7550","best_ask":"14.8060","time":"2021-04-17T16:43:30.244075Z",..}
//! {"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"],..],"bids":[..]}
//! {"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],
//!   "time":"2021-04-17T16:43:37.075687Z"}
//! ```
//!
//! * `match` and `last_match` (the latest trade, sent once on subscribe) are trades. `side` is
//!   the **maker's** side: `"sell"` means a resting sell was hit, so the aggressor bought
//!   (`buyer_is_maker = false`); `"buy"` means the aggressor sold (`buyer_is_maker = true`).
//! * `ticker` is a quote: `best_bid`/`best_ask`, sizes from `best_bid_size`/`best_ask_size`
//!   when present (the 2021 feed has none: quantity 0), `update_id` = `sequence`, event time
//!   from `time` when present.
//! * `snapshot` is a full book (bids then asks), `l2update` a diff (`changes` in order, each
//!   `[side, price, new_size]`, size 0 deletes). The level2 channel has no sequence ids:
//!   `first_id = last_id = 0`.
//! * `subscriptions` → `Skipped(Response)`, `heartbeat` → `Skipped(Heartbeat)`, `status` and
//!   `error` → `Skipped(Status)` (an error reply means a subscription or the connection is not
//!   what was asked for: it is counted apart from routine acknowledgements), full-channel order
//!   messages (`received`, `open`, `done`, `change`, `activate`) → `Skipped(Unsupported)`,
//!   any other `type` → `Skipped(Unknown)`.
//!
//! Advanced Trade (`advanced-trade-ws.coinbase.com`), keyed by `channel`, data in `events[]`:
//!
//! * `market_trades`: `events[].trades[]` (`trade_id` as a string, `side` `BUY`/`SELL`, read
//!   as the maker's side like the legacy feed: Coinbase's Advanced Trade reference does not
//!   say which side it is, and the maker reading is the one other adapters document; no real
//!   capture exists to check it against). Events of type `snapshot` (recent trades replayed on
//!   subscribe) are skipped: a message holding only those is `Skipped(History)`.
//! * `ticker` / `ticker_batch`: `events[].tickers[]` → quotes (`best_bid_quantity`,
//!   `best_ask_quantity`; 0 when absent), `update_id` = the envelope's `sequence_num`.
//! * `l2_data`: `events[]` each one book message (`type` `snapshot` or `update`) with
//!   `updates[]` of `{side: bid|offer, price_level, new_quantity}`.
//! * `heartbeats` → Heartbeat, `subscriptions` → Response, `status` → Status, `candles` →
//!   Unsupported, any other channel → Unknown.
//!
//! Prices and sizes must be JSON strings (as Coinbase sends them); a trade with a zero price or
//! size, a level at price zero, or a product id holding an escape is refused. Zero-copy, zero
//! allocation, no panic on any input.

use super::json::{self, Value};
use super::{
    decimal, rfc3339_ns, BookUpdate, Event, MsgKind, ParseError, SkipKind, SymbolResolver,
};
use super::{int, req};
use crate::core::{BookTicker, Price, Qty, Side, Trade};

/// Coinbase parser (stateless).
#[derive(Default, Debug)]
pub struct Parser;

#[derive(Default)]
struct Fields<'a> {
    kind: Option<Value<'a>>,
    channel: Option<Value<'a>>,
    product_id: Option<Value<'a>>,
    trade_id: Option<Value<'a>>,
    side: Option<Value<'a>>,
    size: Option<Value<'a>>,
    price: Option<Value<'a>>,
    time: Option<Value<'a>>,
    sequence: Option<Value<'a>>,
    best_bid: Option<Value<'a>>,
    best_ask: Option<Value<'a>>,
    best_bid_size: Option<Value<'a>>,
    best_ask_size: Option<Value<'a>>,
    bids: Option<Value<'a>>,
    asks: Option<Value<'a>>,
    changes: Option<Value<'a>>,
    events: Option<Value<'a>>,
    timestamp: Option<Value<'a>>,
    sequence_num: Option<Value<'a>>,
}

fn collect(buf: &[u8]) -> Result<Fields<'_>, ParseError> {
    let mut f = Fields::default();
    json::for_each_member(buf, |k, v| match k {
        b"type" => f.kind = Some(v),
        b"channel" => f.channel = Some(v),
        b"product_id" => f.product_id = Some(v),
        b"trade_id" => f.trade_id = Some(v),
        b"side" => f.side = Some(v),
        b"size" => f.size = Some(v),
        b"price" => f.price = Some(v),
        b"time" => f.time = Some(v),
        b"sequence" => f.sequence = Some(v),
        b"best_bid" => f.best_bid = Some(v),
        b"best_ask" => f.best_ask = Some(v),
        b"best_bid_size" => f.best_bid_size = Some(v),
        b"best_ask_size" => f.best_ask_size = Some(v),
        b"bids" => f.bids = Some(v),
        b"asks" => f.asks = Some(v),
        b"changes" => f.changes = Some(v),
        b"events" => f.events = Some(v),
        b"timestamp" => f.timestamp = Some(v),
        b"sequence_num" => f.sequence_num = Some(v),
        _ => {}
    })?;
    Ok(f)
}

fn text<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    req(v, name)?.as_str().ok_or(ParseError::Invalid(name))
}

fn price(v: Option<Value<'_>>, name: &'static str) -> Result<Price, ParseError> {
    Ok(Price(decimal(text(v, name)?, name)?))
}

fn qty(v: Option<Value<'_>>, name: &'static str) -> Result<Qty, ParseError> {
    Ok(Qty(decimal(text(v, name)?, name)?))
}

/// A quantity that may be absent (0 then).
fn opt_qty(v: Option<Value<'_>>, name: &'static str) -> Result<Qty, ParseError> {
    match v {
        Some(_) => qty(v, name),
        None => Ok(Qty(0)),
    }
}

fn time(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    rfc3339_ns(text(v, name)?, name)
}

fn opt_time(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    match v {
        Some(_) => time(v, name),
        None => Ok(0),
    }
}

/// A product id: a non-empty string without escapes (raw bytes go to the resolver).
fn product<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    let s = text(v, name)?;
    if s.is_empty() || s.contains(&b'\\') {
        return Err(ParseError::Invalid(name));
    }
    Ok(s)
}

/// Calls `f` for each element of the array `arr`; the first error is returned (the walk goes
/// on validating the JSON but `f` is not called again).
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

/// A level price: positive.
fn level_price(v: Option<Value<'_>>, name: &'static str) -> Result<Price, ParseError> {
    let p = price(v, name)?;
    if p.0 == 0 {
        return Err(ParseError::Invalid(name));
    }
    Ok(p)
}

/// Emits each `[price, size]` of a snapshot side.
fn snapshot_side(
    v: Option<Value<'_>>,
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    each(req(v, name)?, name, |lv| {
        let (e, n) = elements::<2>(lv, name)?;
        if n != 2 {
            return Err(ParseError::Invalid(name));
        }
        let price = level_price(e[0], name)?;
        let qty = qty(e[1], name)?;
        out(Event::Level { side, price, qty });
        Ok(())
    })
}

fn maker_side(v: Option<Value<'_>>, name: &'static str) -> Result<bool, ParseError> {
    // The maker's side: a resting buy was hit, so the buyer is the maker.
    match text(v, name)? {
        b"buy" | b"BUY" => Ok(true),
        b"sell" | b"SELL" => Ok(false),
        _ => Err(ParseError::Invalid(name)),
    }
}

fn book_begin(instrument: crate::core::InstrumentId, snapshot: bool, event_ns: u64) -> Event {
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
    /// Parses one Coinbase message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let f = collect(buf)?;
        if let Some(t) = f.kind {
            let t = t.as_str().ok_or(ParseError::Invalid("type"))?;
            return legacy(t, &f, resolve, out);
        }
        if let Some(c) = f.channel {
            let c = c.as_str().ok_or(ParseError::Invalid("channel"))?;
            return advanced(c, &f, resolve, out);
        }
        Err(ParseError::Unrecognised)
    }
}

fn legacy(
    kind: &[u8],
    f: &Fields<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    match kind {
        b"match" | b"last_match" => {
            let sym = product(f.product_id, "product_id")?;
            let trade_id = int(f.trade_id, "trade_id")?;
            let price = price(f.price, "price")?;
            let qty = qty(f.size, "size")?;
            if price.0 == 0 {
                return Err(ParseError::Invalid("price"));
            }
            if qty.0 == 0 {
                return Err(ParseError::Invalid("size"));
            }
            let trade_ns = time(f.time, "time")?;
            let buyer_is_maker = maker_side(f.side, "side")?;
            let Some(instrument) = resolve.resolve(sym) else {
                return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
            };
            out(Event::Trade(Trade {
                instrument,
                trade_id,
                price,
                qty,
                trade_ns,
                event_ns: trade_ns,
                buyer_is_maker,
                source: 0,
                flags: 0,
                anomalies: 0,
            }));
            Ok(MsgKind::Trades)
        }
        b"ticker" => {
            let sym = product(f.product_id, "product_id")?;
            let update_id = int(f.sequence, "sequence")?;
            let bid_px = price(f.best_bid, "best_bid")?;
            let ask_px = price(f.best_ask, "best_ask")?;
            let bid_qty = opt_qty(f.best_bid_size, "best_bid_size")?;
            let ask_qty = opt_qty(f.best_ask_size, "best_ask_size")?;
            let event_ns = opt_time(f.time, "time")?;
            let Some(instrument) = resolve.resolve(sym) else {
                return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
            };
            out(Event::Quote(BookTicker {
                instrument,
                update_id,
                bid_px,
                bid_qty,
                ask_px,
                ask_qty,
                event_ns,
                source: 0,
            }));
            Ok(MsgKind::Quote)
        }
        b"snapshot" => {
            let sym = product(f.product_id, "product_id")?;
            let event_ns = opt_time(f.time, "time")?;
            let Some(instrument) = resolve.resolve(sym) else {
                return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
            };
            out(book_begin(instrument, true, event_ns));
            snapshot_side(f.bids, "bids", Side::Buy, out)?;
            snapshot_side(f.asks, "asks", Side::Sell, out)?;
            out(Event::BookEnd);
            Ok(MsgKind::Snapshot)
        }
        b"l2update" => {
            let sym = product(f.product_id, "product_id")?;
            let event_ns = opt_time(f.time, "time")?;
            let Some(instrument) = resolve.resolve(sym) else {
                return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
            };
            out(book_begin(instrument, false, event_ns));
            each(req(f.changes, "changes")?, "changes", |c| {
                let (e, n) = elements::<3>(c, "changes")?;
                if n != 3 {
                    return Err(ParseError::Invalid("changes"));
                }
                let side = match text(e[0], "changes")? {
                    b"buy" => Side::Buy,
                    b"sell" => Side::Sell,
                    _ => return Err(ParseError::Invalid("changes")),
                };
                let price = level_price(e[1], "changes")?;
                let qty = qty(e[2], "changes")?;
                out(Event::Level { side, price, qty });
                Ok(())
            })?;
            out(Event::BookEnd);
            Ok(MsgKind::Depth)
        }
        b"subscriptions" => Ok(MsgKind::Skipped(SkipKind::Response)),
        b"heartbeat" => Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
        b"error" | b"status" => Ok(MsgKind::Skipped(SkipKind::Status)),
        b"received" | b"open" | b"done" | b"change" | b"activate" => {
            Ok(MsgKind::Skipped(SkipKind::Unsupported))
        }
        _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
    }
}

/// What an Advanced Trade message produced, for its overall kind.
#[derive(Default)]
struct Tally {
    emitted: usize,
    other: usize,
    history: usize,
}

impl Tally {
    fn kind(&self, data: MsgKind) -> MsgKind {
        if self.emitted > 0 {
            data
        } else if self.other > 0 {
            MsgKind::Skipped(SkipKind::OtherInstrument)
        } else if self.history > 0 {
            MsgKind::Skipped(SkipKind::History)
        } else {
            // A data message with no items at all.
            MsgKind::Skipped(SkipKind::Unknown)
        }
    }
}

fn advanced(
    channel: &[u8],
    f: &Fields<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    match channel {
        b"market_trades" => {
            let event_ns = time(f.timestamp, "timestamp")?;
            let mut tally = Tally::default();
            each(req(f.events, "events")?, "events", |ev| {
                let Value::Object(o) = ev else {
                    return Err(ParseError::Invalid("events"));
                };
                let (mut kind, mut trades) = (None, None);
                json::for_each_member(o, |k, v| match k {
                    b"type" => kind = Some(v),
                    b"trades" => trades = Some(v),
                    _ => {}
                })?;
                match text(kind, "events.type")? {
                    b"snapshot" => {
                        tally.history += 1;
                        return Ok(());
                    }
                    b"update" => {}
                    _ => return Err(ParseError::Invalid("events.type")),
                }
                each(req(trades, "trades")?, "trades", |t| {
                    at_trade(t, event_ns, &mut tally, resolve, out)
                })
            })?;
            Ok(tally.kind(MsgKind::Trades))
        }
        b"ticker" | b"ticker_batch" => {
            let event_ns = time(f.timestamp, "timestamp")?;
            let update_id = int(f.sequence_num, "sequence_num")?;
            let mut tally = Tally::default();
            each(req(f.events, "events")?, "events", |ev| {
                let Value::Object(o) = ev else {
                    return Err(ParseError::Invalid("events"));
                };
                let mut tickers = None;
                json::for_each_member(o, |k, v| {
                    if k == b"tickers" {
                        tickers = Some(v);
                    }
                })?;
                each(req(tickers, "tickers")?, "tickers", |t| {
                    at_ticker(t, update_id, event_ns, &mut tally, resolve, out)
                })
            })?;
            Ok(tally.kind(MsgKind::Quote))
        }
        b"l2_data" => {
            let event_ns = time(f.timestamp, "timestamp")?;
            let mut tally = Tally::default();
            let mut snapshots = 0usize;
            each(req(f.events, "events")?, "events", |ev| {
                let Value::Object(o) = ev else {
                    return Err(ParseError::Invalid("events"));
                };
                let (mut kind, mut pid, mut updates) = (None, None, None);
                json::for_each_member(o, |k, v| match k {
                    b"type" => kind = Some(v),
                    b"product_id" => pid = Some(v),
                    b"updates" => updates = Some(v),
                    _ => {}
                })?;
                let snapshot = match text(kind, "events.type")? {
                    b"snapshot" => true,
                    b"update" => false,
                    _ => return Err(ParseError::Invalid("events.type")),
                };
                let sym = product(pid, "product_id")?;
                let updates = req(updates, "updates")?;
                let Some(instrument) = resolve.resolve(sym) else {
                    tally.other += 1;
                    return Ok(());
                };
                tally.emitted += 1;
                snapshots += usize::from(snapshot);
                out(book_begin(instrument, snapshot, event_ns));
                each(updates, "updates", |u| at_level(u, out))?;
                out(Event::BookEnd);
                Ok(())
            })?;
            let data = if snapshots > 0 {
                MsgKind::Snapshot
            } else {
                MsgKind::Depth
            };
            Ok(tally.kind(data))
        }
        b"heartbeats" => Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
        b"subscriptions" => Ok(MsgKind::Skipped(SkipKind::Response)),
        b"status" => Ok(MsgKind::Skipped(SkipKind::Status)),
        b"candles" => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
        _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
    }
}

fn at_trade(
    t: Value<'_>,
    event_ns: u64,
    tally: &mut Tally,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Value::Object(o) = t else {
        return Err(ParseError::Invalid("trades"));
    };
    let mut f = Fields::default();
    json::for_each_member(o, |k, v| match k {
        b"trade_id" => f.trade_id = Some(v),
        b"product_id" => f.product_id = Some(v),
        b"price" => f.price = Some(v),
        b"size" => f.size = Some(v),
        b"side" => f.side = Some(v),
        b"time" => f.time = Some(v),
        _ => {}
    })?;
    let sym = product(f.product_id, "product_id")?;
    let trade_id = int(f.trade_id, "trade_id")?;
    let price = price(f.price, "price")?;
    let qty = qty(f.size, "size")?;
    if price.0 == 0 {
        return Err(ParseError::Invalid("price"));
    }
    if qty.0 == 0 {
        return Err(ParseError::Invalid("size"));
    }
    let trade_ns = time(f.time, "time")?;
    let buyer_is_maker = maker_side(f.side, "side")?;
    let Some(instrument) = resolve.resolve(sym) else {
        tally.other += 1;
        return Ok(());
    };
    tally.emitted += 1;
    out(Event::Trade(Trade {
        instrument,
        trade_id,
        price,
        qty,
        trade_ns,
        event_ns,
        buyer_is_maker,
        source: 0,
        flags: 0,
        anomalies: 0,
    }));
    Ok(())
}

fn at_ticker(
    t: Value<'_>,
    update_id: u64,
    event_ns: u64,
    tally: &mut Tally,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Value::Object(o) = t else {
        return Err(ParseError::Invalid("tickers"));
    };
    let mut f = Fields::default();
    json::for_each_member(o, |k, v| match k {
        b"product_id" => f.product_id = Some(v),
        b"best_bid" => f.best_bid = Some(v),
        b"best_ask" => f.best_ask = Some(v),
        b"best_bid_quantity" => f.best_bid_size = Some(v),
        b"best_ask_quantity" => f.best_ask_size = Some(v),
        _ => {}
    })?;
    let sym = product(f.product_id, "product_id")?;
    let bid_px = price(f.best_bid, "best_bid")?;
    let ask_px = price(f.best_ask, "best_ask")?;
    let bid_qty = opt_qty(f.best_bid_size, "best_bid_quantity")?;
    let ask_qty = opt_qty(f.best_ask_size, "best_ask_quantity")?;
    let Some(instrument) = resolve.resolve(sym) else {
        tally.other += 1;
        return Ok(());
    };
    tally.emitted += 1;
    out(Event::Quote(BookTicker {
        instrument,
        update_id,
        bid_px,
        bid_qty,
        ask_px,
        ask_qty,
        event_ns,
        source: 0,
    }));
    Ok(())
}

fn at_level(u: Value<'_>, out: &mut impl FnMut(Event)) -> Result<(), ParseError> {
    let Value::Object(o) = u else {
        return Err(ParseError::Invalid("updates"));
    };
    let (mut side, mut px, mut q) = (None, None, None);
    json::for_each_member(o, |k, v| match k {
        b"side" => side = Some(v),
        b"price_level" => px = Some(v),
        b"new_quantity" => q = Some(v),
        _ => {}
    })?;
    let side = match text(side, "updates.side")? {
        b"bid" => Side::Buy,
        b"offer" | b"ask" => Side::Sell,
        _ => return Err(ParseError::Invalid("updates.side")),
    };
    let price = level_price(px, "price_level")?;
    let qty = qty(q, "new_quantity")?;
    out(Event::Level { side, price, qty });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::InstrumentId;
    use crate::feed::parse::JsonError;

    fn ids(sym: &[u8]) -> Option<InstrumentId> {
        match sym {
            b"SKL-BTC" => Some(InstrumentId(0)),
            b"BAND-GBP" => Some(InstrumentId(1)),
            b"BTC-USD" => Some(InstrumentId(2)),
            b"ETH-USD" => Some(InstrumentId(3)),
            b"SKL-GBP" => Some(InstrumentId(4)),
            _ => None,
        }
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut ids, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    // Real lines from cryptofeed_COINBASE.ws.28.0_20210417.
    const MATCH: &str = r#"{"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}"#;
    const LAST_MATCH: &str = r#"{"type":"last_match","trade_id":82007,"maker_order_id":"9d2861bd-1703-47f2-a7f4-7723565a7f5c","taker_order_id":"dd068ce5-f175-4396-bae1-a1db56d209f5","side":"buy","size":"1008.2","price":"0.5752","product_id":"SKL-GBP","sequence":27883326,"time":"2021-04-17T16:43:29.571587Z"}"#;
    const TICKER: &str = r#"{"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775","open_24h":"14.6647","volume_24h":"94381.28000000","low_24h":"14.3691","high_24h":"16.55","volume_30d":"2295579.57000000","best_bid":"14.7550","best_ask":"14.8060","side":"buy","time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"}"#;
    const L2UPDATE: &str = r#"{"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],"time":"2021-04-17T16:43:37.075687Z"}"#;
    const SUBSCRIPTIONS: &str = r#"{"type":"subscriptions","channels":[{"name":"level2","product_ids":["BAND-GBP","BAND-BTC","YFI-BTC","NU-GBP","CRV-EUR","SKL-GBP","SKL-USD","SKL-BTC","NMR-EUR","DASH-BTC"]}]}"#;
    // A real snapshot, cut to two levels a side.
    const SNAPSHOT: &str = r#"{"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"],["14.8069","12.49"]],"bids":[["14.7550","3.50"],["14.7000","0.10"]]}"#;
    // Advanced Trade shapes (documentation examples, not captures).
    const AT_TRADES: &str = r#"{"channel":"market_trades","client_id":"","timestamp":"2026-04-07T14:30:02.789012Z","sequence_num":5,"events":[{"type":"update","trades":[{"trade_id":"995098700","product_id":"BTC-USD","price":"68900.50","size":"0.00150000","side":"BUY","time":"2026-04-07T14:30:02.789012Z"},{"trade_id":"995098701","product_id":"BTC-USD","price":"68900.00","size":"0.05000000","side":"SELL","time":"2026-04-07T14:30:02.800000Z"}]}]}"#;
    const AT_TICKER: &str = r#"{"channel":"ticker","client_id":"","timestamp":"2026-04-07T14:30:03.000000Z","sequence_num":12,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"68900.50","best_bid":"68900.00","best_bid_quantity":"1.50000000","best_ask":"68901.00","best_ask_quantity":"0.50000000"}]}]}"#;
    const AT_L2: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2026-04-07T14:30:01.456789Z","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68900.00","new_quantity":"2.00000000"},{"side":"offer","event_time":"2026-04-07T14:30:01.456789Z","price_level":"68901.00","new_quantity":"0.00000000"}]}]}"#;

    #[test]
    fn match_and_last_match() {
        let want = Event::Trade(Trade {
            instrument: InstrumentId(0),
            trade_id: 280_232,
            price: Price(1305),
            qty: Qty(98_500_000_000),
            trade_ns: 1_618_677_817_089_723_000,
            event_ns: 1_618_677_817_089_723_000,
            // Maker sold: the aggressor bought.
            buyer_is_maker: false,
            source: 0,
            flags: 0,
            anomalies: 0,
        });
        assert_eq!(run(MATCH.as_bytes()), Ok((MsgKind::Trades, vec![want])));
        let (kind, ev) = run(LAST_MATCH.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        let Event::Trade(t) = ev[0] else {
            panic!("{ev:?}")
        };
        assert!(t.buyer_is_maker, "maker bought: the aggressor sold");
        assert_eq!(
            (t.trade_id, t.price, t.instrument),
            (82_007, Price(57_520_000), InstrumentId(4))
        );
    }

    #[test]
    fn ticker_is_a_quote() {
        let (kind, ev) = run(TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        assert_eq!(
            ev,
            vec![Event::Quote(BookTicker {
                instrument: InstrumentId(1),
                update_id: 333_938_798,
                bid_px: Price(1_475_500_000),
                bid_qty: Qty(0),
                ask_px: Price(1_480_600_000),
                ask_qty: Qty(0),
                event_ns: 1_618_677_810_244_075_000,
                source: 0,
            })]
        );
        let sized = TICKER.replace(r#""best_bid":"#, r#""best_bid_size":"2.5","best_bid":"#);
        let (_, ev) = run(sized.as_bytes()).unwrap();
        assert!(matches!(ev[0], Event::Quote(q) if q.bid_qty == Qty(250_000_000)));
    }

    #[test]
    fn book_snapshot_and_update() {
        let (kind, ev) = run(SNAPSHOT.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert_eq!(ev.len(), 6);
        assert!(matches!(
            ev[0],
            Event::BookBegin(BookUpdate {
                snapshot: true,
                instrument: Some(InstrumentId(1)),
                first_id: 0,
                last_id: 0,
                prev_id: None,
                ..
            })
        ));
        // Bids first, then asks.
        assert_eq!(
            ev[1],
            Event::Level {
                side: Side::Buy,
                price: Price(1_475_500_000),
                qty: Qty(350_000_000)
            }
        );
        assert_eq!(
            ev[3],
            Event::Level {
                side: Side::Sell,
                price: Price(1_480_240_000),
                qty: Qty(1_277_000_000)
            }
        );
        assert_eq!(ev[5], Event::BookEnd);

        let (kind, ev) = run(L2UPDATE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(
            ev,
            vec![
                Event::BookBegin(BookUpdate {
                    instrument: Some(InstrumentId(0)),
                    snapshot: false,
                    first_id: 0,
                    last_id: 0,
                    prev_id: None,
                    event_ns: 1_618_677_817_075_687_000,
                }),
                Event::Level {
                    side: Side::Sell,
                    price: Price(1306),
                    qty: Qty(66_050_000_000)
                },
                Event::BookEnd,
            ]
        );
    }

    #[test]
    fn advanced_trade() {
        let (kind, ev) = run(AT_TRADES.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        assert_eq!(ev.len(), 2);
        let (Event::Trade(a), Event::Trade(b)) = (ev[0], ev[1]) else {
            panic!("{ev:?}")
        };
        assert_eq!((a.trade_id, a.buyer_is_maker), (995_098_700, true));
        assert_eq!((b.trade_id, b.buyer_is_maker), (995_098_701, false));
        assert_eq!(a.event_ns, 1_775_572_202_789_012_000);
        let snap = AT_TRADES.replace(r#""type":"update""#, r#""type":"snapshot""#);
        assert_eq!(
            run(snap.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::History), vec![]))
        );

        let (kind, ev) = run(AT_TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        let Event::Quote(q) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (q.update_id, q.bid_qty, q.ask_px),
            (12, Qty(150_000_000), Price(6_890_100_000_000))
        );

        let (kind, ev) = run(AT_L2.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 4);
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(6_890_100_000_000),
                qty: Qty(0)
            }
        );
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (SUBSCRIPTIONS, SkipKind::Response),
            (
                r#"{"type":"heartbeat","last_trade_id":1,"product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37Z"}"#,
                SkipKind::Heartbeat,
            ),
            (
                r#"{"type":"error","message":"Failed to subscribe","reason":"x"}"#,
                SkipKind::Status,
            ),
            (
                r#"{"type":"received","order_id":"x"}"#,
                SkipKind::Unsupported,
            ),
            (r#"{"type":"somethingNew"}"#, SkipKind::Unknown),
            (
                &MATCH.replace("SKL-BTC", "DOGE-USD"),
                SkipKind::OtherInstrument,
            ),
            (
                r#"{"channel":"heartbeats","client_id":"","timestamp":"2026-04-07T14:30:10.000000Z","sequence_num":0,"events":[{"current_time":"x","heartbeat_counter":42}]}"#,
                SkipKind::Heartbeat,
            ),
            (
                r#"{"channel":"subscriptions","events":[{"subscriptions":{"level2":["BTC-USD"]}}]}"#,
                SkipKind::Response,
            ),
            (
                &AT_TRADES.replace("BTC-USD", "DOGE-USD"),
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
            (MATCH[..80].to_string(), ParseError::Json(JsonError::Eof)),
            (
                MATCH.replace(r#""price":"0.00001305","#, ""),
                ParseError::Missing("price"),
            ),
            (
                MATCH.replace(r#""0.00001305""#, "0.00001305"),
                ParseError::Invalid("price"),
            ),
            (
                MATCH.replace(r#""0.00001305""#, r#""-0.00001305""#),
                ParseError::Invalid("price"),
            ),
            (
                MATCH.replace(r#""0.00001305""#, r#""0""#),
                ParseError::Invalid("price"),
            ),
            (
                MATCH.replace(r#""985""#, r#""1e-9""#),
                ParseError::Unrepresentable("size"),
            ),
            (
                MATCH.replace("280232", "-1"),
                ParseError::Invalid("trade_id"),
            ),
            (
                MATCH.replace(r#""sell""#, r#""short""#),
                ParseError::Invalid("side"),
            ),
            (
                MATCH.replace("2021-04-17T", "2021-13-17T"),
                ParseError::Invalid("time"),
            ),
            (
                MATCH.replace(r#""SKL-BTC""#, r#""SKL\/BTC""#),
                ParseError::Invalid("product_id"),
            ),
            (
                MATCH.replace(r#""SKL-BTC""#, "7"),
                ParseError::Invalid("product_id"),
            ),
            (
                TICKER.replace(r#""sequence":333938798,"#, ""),
                ParseError::Missing("sequence"),
            ),
            (
                TICKER.replace(r#""14.8060""#, "null"),
                ParseError::Invalid("best_ask"),
            ),
            (
                L2UPDATE.replace(r#"["sell","#, r#"["bid","#),
                ParseError::Invalid("changes"),
            ),
            (
                L2UPDATE.replace(r#","660.5"]"#, "]"),
                ParseError::Invalid("changes"),
            ),
            (
                L2UPDATE.replace(r#""660.5""#, r#""660.5","1""#),
                ParseError::Invalid("changes"),
            ),
            (
                L2UPDATE
                    .replace(r#"[["sell""#, r#"{"a":["sell""#)
                    .replace("]],", "]},"),
                ParseError::Invalid("changes"),
            ),
            (
                SNAPSHOT.replace(r#""3.50""#, "3.50"),
                ParseError::Invalid("bids"),
            ),
            (
                SNAPSHOT.replace(r#","bids":[["14.7550","3.50"],["14.7000","0.10"]]"#, ""),
                ParseError::Missing("bids"),
            ),
            (r#"{"type":7}"#.to_string(), ParseError::Invalid("type")),
            (r#"{"hello":"world"}"#.to_string(), ParseError::Unrecognised),
            (
                r#"[1,2]"#.to_string(),
                ParseError::Json(JsonError::NotObject),
            ),
            (
                AT_TRADES.replace(r#""995098700""#, r#""x1""#),
                ParseError::Invalid("trade_id"),
            ),
            (
                AT_TRADES.replace(r#""timestamp":"2026-04-07T14:30:02.789012Z","#, ""),
                ParseError::Missing("timestamp"),
            ),
            (
                AT_TRADES.replace(r#""type":"update""#, r#""type":"weird""#),
                ParseError::Invalid("events.type"),
            ),
            (
                AT_TICKER.replace(r#""sequence_num":12,"#, ""),
                ParseError::Missing("sequence_num"),
            ),
            (
                AT_L2.replace(r#""offer""#, r#""sell""#),
                ParseError::Invalid("updates.side"),
            ),
        ];
        for (msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(*want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..5, pos in 0usize..4096, byte in proptest::num::u8::ANY, cut in 0usize..4096) {
            let base = [MATCH, TICKER, L2UPDATE, SNAPSHOT, AT_TRADES][which].as_bytes();
            let mut m = base.to_vec();
            let at = pos % m.len();
            m[at] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut % m.len()]);
        }
    }
}
