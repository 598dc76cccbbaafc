//! Bitstamp WebSocket v2 market messages → [`Event`]s.
//!
//! ```text
//! {"data":{"timestamp":"1618677691","microtimestamp":"1618677691471830","bids":[],
//!   "asks":[["60567.75","0.00000000"],["60576.78","0.34836429"]]},
//!   "channel":"diff_order_book_btcusd","event":"data"}
//! {"data":{"id":216000477,"timestamp":"1641343699","amount":0.0792,"amount_str":"0.07920000",
//!   "price":3805.44,"price_str":"3805.44","type":0,"microtimestamp":"1641343699596000",
//!   "buy_order_id":1443875737346049,"sell_order_id":1443875731320832},
//!   "channel":"live_trades_ethusd","event":"trade"}
//! ```
//!
//! The instrument is the channel name after its prefix (`btcusd`), passed to the resolver as is.
//!
//! * `event:"data"` on `diff_order_book_<pair>` → a book diff (bids, then asks; amount 0
//!   deletes), on `order_book_<pair>` → a snapshot (each message is the whole top of book).
//!   Bitstamp books carry no sequence ids (`first_id = last_id = 0`); the event time is
//!   `microtimestamp` (µs), or `timestamp` (s) when that is absent. `detail_order_book_` and
//!   `live_orders_` (order-level data) → `Skipped(Unsupported)`.
//! * `event:"trade"` on `live_trades_<pair>` → a trade: `price_str`/`amount_str` when present
//!   (exact strings), else the numbers `price`/`amount`; `type` 0 = the aggressor bought,
//!   1 = sold; time from `microtimestamp` (or `timestamp`).
//! * `bts:subscription_succeeded` / `bts:unsubscription_succeeded` → Response,
//!   `bts:heartbeat` → Heartbeat, `bts:request_reconnect` and `bts:error` → Status, order
//!   events (`order_created` ..) → Unsupported, anything else → Unknown.
//!
//! Zero-copy, zero allocation, no panic on any input.

use super::json::{self, Value};
use super::req;
use super::{decimal, BookUpdate, Event, MsgKind, ParseError, SkipKind, SymbolResolver};
use crate::core::{Price, Qty, Side, Trade};

/// Bitstamp parser (stateless).
#[derive(Default, Debug)]
pub struct Parser;

#[derive(Default)]
struct Fields<'a> {
    event: Option<Value<'a>>,
    channel: Option<Value<'a>>,
    data: Option<Value<'a>>,
    timestamp: Option<Value<'a>>,
    microtimestamp: Option<Value<'a>>,
    bids: Option<Value<'a>>,
    asks: Option<Value<'a>>,
    id: Option<Value<'a>>,
    amount: Option<Value<'a>>,
    amount_str: Option<Value<'a>>,
    price: Option<Value<'a>>,
    price_str: Option<Value<'a>>,
    kind: Option<Value<'a>>,
}

fn collect(buf: &[u8]) -> Result<Fields<'_>, ParseError> {
    let mut f = Fields::default();
    // `data`'s members are walked in the same pass; its keys never collide with the
    // envelope's (`event`, `channel`, `data`).
    json::for_each_member_flat(buf, b"data", |k, v| match k {
        b"event" => f.event = Some(v),
        b"channel" => f.channel = Some(v),
        b"data" => f.data = Some(v),
        b"timestamp" => f.timestamp = Some(v),
        b"microtimestamp" => f.microtimestamp = Some(v),
        b"bids" => f.bids = Some(v),
        b"asks" => f.asks = Some(v),
        b"id" => f.id = Some(v),
        b"amount" => f.amount = Some(v),
        b"amount_str" => f.amount_str = Some(v),
        b"price" => f.price = Some(v),
        b"price_str" => f.price_str = Some(v),
        b"type" => f.kind = Some(v),
        _ => {}
    })?;
    Ok(f)
}

fn text<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    req(v, name)?.as_str().ok_or(ParseError::Invalid(name))
}

/// Event time: `microtimestamp` (µs, a string of digits), else `timestamp` (s).
fn event_ns(f: &Fields<'_>) -> Result<u64, ParseError> {
    if let Some(v) = f.microtimestamp {
        let us = v.as_u64().ok_or(ParseError::Invalid("microtimestamp"))?;
        return us
            .checked_mul(1000)
            .ok_or(ParseError::Invalid("microtimestamp"));
    }
    let s = req(f.timestamp, "microtimestamp")?
        .as_u64()
        .ok_or(ParseError::Invalid("timestamp"))?;
    s.checked_mul(1_000_000_000)
        .ok_or(ParseError::Invalid("timestamp"))
}

/// The `_str` form when present, else the number.
fn exact(
    s: Option<Value<'_>>,
    n: Option<Value<'_>>,
    name: &'static str,
) -> Result<i64, ParseError> {
    match (s, n) {
        (Some(v), _) => decimal(v.as_str().ok_or(ParseError::Invalid(name))?, name),
        (None, Some(Value::Num(t))) => decimal(t, name),
        (None, Some(_)) => Err(ParseError::Invalid(name)),
        (None, None) => Err(ParseError::Missing(name)),
    }
}

/// The pair after a channel prefix: non-empty, no escapes.
fn pair<'a>(channel: &'a [u8], prefix: &[u8]) -> Result<&'a [u8], ParseError> {
    match channel.strip_prefix(prefix) {
        Some(p) if !p.is_empty() && !p.contains(&b'\\') => Ok(p),
        _ => Err(ParseError::Invalid("channel")),
    }
}

fn levels(
    v: Option<Value<'_>>,
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Value::Array(arr) = req(v, name)? else {
        return Err(ParseError::Invalid(name));
    };
    let mut res = Ok(());
    json::for_each_element(arr, |lv| {
        if res.is_ok() {
            res = level(lv, name, side, out);
        }
    })?;
    res
}

fn level(
    lv: Value<'_>,
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Value::Array(pair) = lv else {
        return Err(ParseError::Invalid(name));
    };
    let mut e = [None; 2];
    let mut n = 0usize;
    json::for_each_element(pair, |x| {
        if let Some(slot) = e.get_mut(n) {
            *slot = Some(x);
        }
        n += 1;
    })?;
    if n != 2 {
        return Err(ParseError::Invalid(name));
    }
    let price = decimal(text(e[0], name)?, name)?;
    if price == 0 {
        return Err(ParseError::Invalid(name));
    }
    let qty = decimal(text(e[1], name)?, name)?;
    out(Event::Level {
        side,
        price: Price(price),
        qty: Qty(qty),
    });
    Ok(())
}

impl Parser {
    /// Parses one Bitstamp message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let f = collect(buf)?;
        let event = text(f.event, "event")?;
        match event {
            b"data" | b"trade" => {}
            b"bts:subscription_succeeded" | b"bts:unsubscription_succeeded" => {
                return Ok(MsgKind::Skipped(SkipKind::Response))
            }
            b"bts:heartbeat" => return Ok(MsgKind::Skipped(SkipKind::Heartbeat)),
            b"bts:request_reconnect" | b"bts:error" => {
                return Ok(MsgKind::Skipped(SkipKind::Status))
            }
            b"order_created" | b"order_changed" | b"order_deleted" => {
                return Ok(MsgKind::Skipped(SkipKind::Unsupported))
            }
            _ => return Ok(MsgKind::Skipped(SkipKind::Unknown)),
        }
        if f.data.is_some() {
            // `data` present but not an object (an object is walked in place).
            return Err(ParseError::Invalid("data"));
        }
        let channel = text(f.channel, "channel")?;
        if event == b"trade" {
            if !channel.starts_with(b"live_trades_") {
                return Ok(MsgKind::Skipped(SkipKind::Unknown));
            }
            return trade(&f, pair(channel, b"live_trades_")?, resolve, out);
        }
        let (sym, snapshot) = if channel.starts_with(b"diff_order_book_") {
            (pair(channel, b"diff_order_book_")?, false)
        } else if channel.starts_with(b"order_book_") {
            (pair(channel, b"order_book_")?, true)
        } else if channel.starts_with(b"detail_order_book_") || channel.starts_with(b"live_orders_")
        {
            return Ok(MsgKind::Skipped(SkipKind::Unsupported));
        } else {
            return Ok(MsgKind::Skipped(SkipKind::Unknown));
        };
        let event_ns = event_ns(&f)?;
        let Some(instrument) = resolve.resolve(sym) else {
            return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
        };
        out(Event::BookBegin(BookUpdate {
            instrument: Some(instrument),
            snapshot,
            first_id: 0,
            last_id: 0,
            prev_id: None,
            event_ns,
        }));
        levels(f.bids, "bids", Side::Buy, out)?;
        levels(f.asks, "asks", Side::Sell, out)?;
        out(Event::BookEnd);
        Ok(if snapshot {
            MsgKind::Snapshot
        } else {
            MsgKind::Depth
        })
    }
}

fn trade(
    f: &Fields<'_>,
    sym: &[u8],
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let trade_id = req(f.id, "id")?.as_u64().ok_or(ParseError::Invalid("id"))?;
    let price = exact(f.price_str, f.price, "price")?;
    let qty = exact(f.amount_str, f.amount, "amount")?;
    if price == 0 {
        return Err(ParseError::Invalid("price"));
    }
    if qty == 0 {
        return Err(ParseError::Invalid("amount"));
    }
    let buyer_is_maker = match req(f.kind, "type")? {
        Value::Num(b"0") => false,
        Value::Num(b"1") => true,
        _ => return Err(ParseError::Invalid("type")),
    };
    let trade_ns = event_ns(f)?;
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
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
    Ok(MsgKind::Trades)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::InstrumentId;
    use crate::feed::parse::JsonError;

    fn ids(sym: &[u8]) -> Option<InstrumentId> {
        match sym {
            b"btcusd" => Some(InstrumentId(0)),
            b"ethusd" => Some(InstrumentId(1)),
            b"ltcusd" => Some(InstrumentId(2)),
            _ => None,
        }
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut ids, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    // Real lines (cryptofeed BITSTAMP captures).
    const DIFF: &str = r#"{"data":{"timestamp":"1618677691","microtimestamp":"1618677691591574","bids":[["309.68","0.00000000"],["305.41","0.00000000"]],"asks":[]},"channel":"diff_order_book_ltcusd","event":"data"}"#;
    const TRADE: &str = r#"{"data":{"id":216000477,"timestamp":"1641343699","amount":0.0792,"amount_str":"0.07920000","price":3805.44,"price_str":"3805.44","type":0,"microtimestamp":"1641343699596000","buy_order_id":1443875737346049,"sell_order_id":1443875731320832},"channel":"live_trades_ethusd","event":"trade"}"#;
    const SUBSCRIBED: &str =
        r#"{"event":"bts:subscription_succeeded","channel":"diff_order_book_xlmeur","data":{}}"#;
    // Documented shape of the order_book channel.
    const SNAPSHOT: &str = r#"{"data":{"timestamp":"1618677691","microtimestamp":"1618677691471830","bids":[["60500.00","0.5"]],"asks":[["60567.75","1.25"]]},"channel":"order_book_btcusd","event":"data"}"#;

    #[test]
    fn diff_book() {
        let (kind, ev) = run(DIFF.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(
            ev,
            vec![
                Event::BookBegin(BookUpdate {
                    instrument: Some(InstrumentId(2)),
                    snapshot: false,
                    first_id: 0,
                    last_id: 0,
                    prev_id: None,
                    event_ns: 1_618_677_691_591_574_000,
                }),
                Event::Level {
                    side: Side::Buy,
                    price: Price(30_968_000_000),
                    qty: Qty(0)
                },
                Event::Level {
                    side: Side::Buy,
                    price: Price(30_541_000_000),
                    qty: Qty(0)
                },
                Event::BookEnd,
            ]
        );
        let (kind, ev) = run(SNAPSHOT.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert!(matches!(
            ev[0],
            Event::BookBegin(BookUpdate { snapshot: true, .. })
        ));
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(6_056_775_000_000),
                qty: Qty(125_000_000)
            }
        );
    }

    #[test]
    fn live_trade() {
        let want = Trade {
            instrument: InstrumentId(1),
            trade_id: 216_000_477,
            price: Price(380_544_000_000),
            qty: Qty(7_920_000),
            trade_ns: 1_641_343_699_596_000_000,
            event_ns: 1_641_343_699_596_000_000,
            buyer_is_maker: false,
            source: 0,
            flags: 0,
            anomalies: 0,
        };
        assert_eq!(
            run(TRADE.as_bytes()),
            Ok((MsgKind::Trades, vec![Event::Trade(want)]))
        );
        let sold = TRADE.replace(r#""type":0"#, r#""type":1"#);
        assert_eq!(
            run(sold.as_bytes()),
            Ok((
                MsgKind::Trades,
                vec![Event::Trade(Trade {
                    buyer_is_maker: true,
                    ..want
                })]
            ))
        );
        // Without the `_str` forms the numbers are used, exactly.
        let numbers = TRADE
            .replace(r#""amount_str":"0.07920000","#, "")
            .replace(r#""price_str":"3805.44","#, "");
        assert_eq!(
            run(numbers.as_bytes()),
            Ok((MsgKind::Trades, vec![Event::Trade(want)]))
        );
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (SUBSCRIBED, SkipKind::Response),
            (
                r#"{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}"#,
                SkipKind::Heartbeat,
            ),
            (
                r#"{"event":"bts:request_reconnect","channel":"","data":""}"#,
                SkipKind::Status,
            ),
            (
                r#"{"event":"order_created","channel":"live_orders_btcusd","data":{"id":1}}"#,
                SkipKind::Unsupported,
            ),
            (
                r#"{"event":"data","channel":"detail_order_book_btcusd","data":{"bids":[]}}"#,
                SkipKind::Unsupported,
            ),
            (
                r#"{"event":"data","channel":"something_else","data":{}}"#,
                SkipKind::Unknown,
            ),
            (
                r#"{"event":"brand_new","channel":"x","data":{}}"#,
                SkipKind::Unknown,
            ),
            (
                &DIFF.replace("ltcusd", "dogeusd"),
                SkipKind::OtherInstrument,
            ),
            (
                &TRADE.replace("ethusd", "dogeusd"),
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
            (DIFF[..60].to_string(), ParseError::Json(JsonError::Eof)),
            (
                DIFF.replace(r#""309.68""#, "309.68"),
                ParseError::Invalid("bids"),
            ),
            (
                DIFF.replace(r#""309.68""#, r#""-309.68""#),
                ParseError::Invalid("bids"),
            ),
            (
                DIFF.replace(r#""309.68""#, r#""0""#),
                ParseError::Invalid("bids"),
            ),
            (
                DIFF.replace(r#","0.00000000"],["305"#, r#"],["305"#),
                ParseError::Invalid("bids"),
            ),
            (
                DIFF.replace(r#","asks":[]"#, ""),
                ParseError::Missing("asks"),
            ),
            (
                DIFF.replace(r#""1618677691591574""#, r#""soon""#),
                ParseError::Invalid("microtimestamp"),
            ),
            (
                DIFF.replace(
                    r#""timestamp":"1618677691","microtimestamp":"1618677691591574","#,
                    "",
                ),
                ParseError::Missing("microtimestamp"),
            ),
            (
                DIFF.replace("diff_order_book_ltcusd", "diff_order_book_"),
                ParseError::Invalid("channel"),
            ),
            (
                DIFF.replace(r#""event":"data""#, r#""event":5"#),
                ParseError::Invalid("event"),
            ),
            (
                r#"{"event":"data","channel":"diff_order_book_btcusd","data":[1]}"#.to_string(),
                ParseError::Invalid("data"),
            ),
            (
                TRADE.replace(r#""type":0"#, r#""type":2"#),
                ParseError::Invalid("type"),
            ),
            (
                TRADE.replace(r#""type":0"#, r#""type":"0""#),
                ParseError::Invalid("type"),
            ),
            (
                TRADE.replace(r#""id":216000477,"#, ""),
                ParseError::Missing("id"),
            ),
            (
                TRADE.replace(r#""3805.44""#, "3805.44"),
                ParseError::Invalid("price"),
            ),
            (
                TRADE.replace(r#""0.07920000""#, r#""0""#),
                ParseError::Invalid("amount"),
            ),
            (
                TRADE
                    .replace(r#""amount_str":"0.07920000","#, "")
                    .replace("0.0792,", r#""0.0792","#),
                ParseError::Invalid("amount"),
            ),
            (
                r#"{"channel":"x","data":{}}"#.to_string(),
                ParseError::Missing("event"),
            ),
            (r#"[1]"#.to_string(), ParseError::Json(JsonError::NotObject)),
        ];
        for (msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(*want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..3, pos in 0usize..4096, byte in proptest::num::u8::ANY, cut in 0usize..4096) {
            let base = [DIFF, TRADE, SNAPSHOT][which].as_bytes();
            let mut m = base.to_vec();
            let at = pos % m.len();
            m[at] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut % m.len()]);
        }
    }
}
