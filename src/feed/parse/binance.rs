//! Binance spot / USD-M / COIN-M market messages → [`Event`]s.
//!
//! Accepts the raw form and the combined-stream form:
//!
//! ```text
//! {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,
//!   "p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}
//! {"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",
//!   "B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}
//! ```
//!
//! Decoded: `trade`, `aggTrade` (flagged [`Trade::AGGREGATED`]), `bookTicker`, `kline`,
//! `depthUpdate` (levels, with `U`/`u`/`pu` for continuity) and the REST `/depth` snapshot
//! (`lastUpdateId`, which names no symbol). Subscription replies are `Skipped(Response)`; 24h
//! tickers, mark prices and liquidations are `Skipped(Unsupported)`; any other `e` is
//! `Skipped(Unknown)`. Anything that is not valid JSON, or lacks a field its type needs, is a
//! [`ParseError`].
//!
//! Zero-copy (fields are borrowed slices of the input), zero allocation, no panic on any input.

use super::json::{self, Value};
use super::{
    decimal, ms_to_ns, BookUpdate, Event, Kline, MsgKind, ParseError, SkipKind, SymbolResolver,
};
use super::{int, req};
use crate::core::{BookTicker, Price, Qty, Side, Trade};

/// Binance parser (stateless; a struct for the common parser shape).
#[derive(Default, Debug)]
pub struct Parser;

#[derive(Default)]
struct Fields<'a> {
    e: Option<Value<'a>>,
    big_e: Option<Value<'a>>,
    s: Option<Value<'a>>,
    t: Option<Value<'a>>,
    p: Option<Value<'a>>,
    q: Option<Value<'a>>,
    big_t: Option<Value<'a>>,
    m: Option<Value<'a>>,
    u: Option<Value<'a>>,
    big_u: Option<Value<'a>>,
    pu: Option<Value<'a>>,
    b: Option<Value<'a>>,
    big_b: Option<Value<'a>>,
    a: Option<Value<'a>>,
    big_a: Option<Value<'a>>,
    k: Option<Value<'a>>,
    last_update_id: Option<Value<'a>>,
    bids: Option<Value<'a>>,
    asks: Option<Value<'a>>,
    result_or_id: bool,
    data: Option<Value<'a>>,
    stream: bool,
}

fn collect(buf: &[u8]) -> Result<Fields<'_>, ParseError> {
    let mut f = Fields::default();
    // The combined-stream wrapper's `data` object is walked in the same pass; its keys never
    // collide with the wrapper's (`stream`, `data`).
    json::for_each_member_flat(buf, b"data", |k, v| match k {
        b"e" => f.e = Some(v),
        b"E" => f.big_e = Some(v),
        b"s" => f.s = Some(v),
        b"t" => f.t = Some(v),
        b"p" => f.p = Some(v),
        b"q" => f.q = Some(v),
        b"T" => f.big_t = Some(v),
        b"m" => f.m = Some(v),
        b"u" => f.u = Some(v),
        b"U" => f.big_u = Some(v),
        b"pu" => f.pu = Some(v),
        b"b" => f.b = Some(v),
        b"B" => f.big_b = Some(v),
        b"a" => f.a = Some(v),
        b"A" => f.big_a = Some(v),
        b"k" => f.k = Some(v),
        b"lastUpdateId" => f.last_update_id = Some(v),
        b"bids" => f.bids = Some(v),
        b"asks" => f.asks = Some(v),
        b"result" | b"id" => f.result_or_id = true,
        b"data" => f.data = Some(v),
        b"stream" => f.stream = true,
        _ => {}
    })?;
    Ok(f)
}

fn price(v: Option<Value<'_>>, name: &'static str) -> Result<Price, ParseError> {
    let s = req(v, name)?.as_str().ok_or(ParseError::Invalid(name))?;
    Ok(Price(decimal(s, name)?))
}

fn qty(v: Option<Value<'_>>, name: &'static str) -> Result<Qty, ParseError> {
    let s = req(v, name)?.as_str().ok_or(ParseError::Invalid(name))?;
    Ok(Qty(decimal(s, name)?))
}

fn time(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    ms_to_ns(int(v, name)?, name)
}

fn opt_time(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    match v {
        Some(v) => ms_to_ns(v.as_u64().ok_or(ParseError::Invalid(name))?, name),
        None => Ok(0),
    }
}

fn symbol<'a>(v: Option<Value<'a>>) -> Result<&'a [u8], ParseError> {
    req(v, "s")?.as_str().ok_or(ParseError::Invalid("s"))
}

/// Emits every `["price","qty"]` pair of a depth side. Levels are validated whole before the
/// caller commits (a bad level fails the message).
fn levels(
    side_value: Option<Value<'_>>,
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    let Value::Array(arr) = req(side_value, name)? else {
        return Err(ParseError::Invalid(name));
    };
    let mut err = None;
    json::for_each_element(arr, |lv| {
        if err.is_some() {
            return;
        }
        let Value::Array(pair) = lv else {
            err = Some(ParseError::Invalid(name));
            return;
        };
        let mut i = 0;
        let mut px = None;
        let mut q = None;
        let walked = json::for_each_element(pair, |x| {
            match i {
                0 => px = x.as_str(),
                1 => q = x.as_str(),
                _ => {}
            }
            i += 1;
        });
        let level = walked.ok().and_then(|_| {
            let price = decimal(px?, name).ok()?;
            let qty = decimal(q?, name).ok()?;
            Some(Event::Level {
                side,
                price: Price(price),
                qty: Qty(qty),
            })
        });
        match level {
            Some(l) if i == 2 => out(l),
            _ => err = Some(ParseError::Invalid(name)),
        }
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl Parser {
    /// Parses one Binance message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        let f = collect(buf)?;
        if f.stream && f.data.is_some() {
            // `data` present but not an object (an object would have been walked in place).
            return Err(ParseError::Invalid("data"));
        }
        let kind: &[u8] = match f.e {
            Some(Value::Str(e)) => e,
            Some(_) => return Err(ParseError::Invalid("e")),
            None => {
                if f.u.is_some() && f.b.is_some() && f.a.is_some() {
                    b"bookTicker"
                } else if f.last_update_id.is_some() {
                    return snapshot(&f, out);
                } else if f.result_or_id {
                    return Ok(MsgKind::Skipped(SkipKind::Response));
                } else {
                    return Err(ParseError::Unrecognised);
                }
            }
        };
        match kind {
            b"trade" | b"aggTrade" => {
                let agg = kind == b"aggTrade";
                let sym = symbol(f.s)?;
                let trade_id = if agg { int(f.a, "a")? } else { int(f.t, "t")? };
                let price = price(f.p, "p")?;
                let qty = qty(f.q, "q")?;
                let trade_ns = time(f.big_t, "T")?;
                let event_ns = time(f.big_e, "E")?;
                let buyer_is_maker = req(f.m, "m")?.as_bool().ok_or(ParseError::Invalid("m"))?;
                let Some(instrument) = resolve.resolve(sym) else {
                    return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
                };
                out(Event::Trade(Trade {
                    instrument,
                    trade_id,
                    price,
                    qty,
                    trade_ns,
                    event_ns,
                    buyer_is_maker,
                    source: 0,
                    flags: if agg { Trade::AGGREGATED } else { 0 },
                    anomalies: 0,
                }));
                Ok(MsgKind::Trades)
            }
            b"bookTicker" => {
                let sym = symbol(f.s)?;
                let update_id = int(f.u, "u")?;
                let bid_px = price(f.b, "b")?;
                let bid_qty = qty(f.big_b, "B")?;
                let ask_px = price(f.a, "a")?;
                let ask_qty = qty(f.big_a, "A")?;
                let event_ns = opt_time(f.big_e, "E")?;
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
            b"depthUpdate" => {
                let sym = symbol(f.s)?;
                let first_id = int(f.big_u, "U")?;
                let last_id = int(f.u, "u")?;
                let prev_id = match f.pu {
                    Some(v) => Some(v.as_u64().ok_or(ParseError::Invalid("pu"))?),
                    None => None,
                };
                let event_ns = time(f.big_e, "E")?;
                let Some(instrument) = resolve.resolve(sym) else {
                    return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
                };
                out(Event::BookBegin(BookUpdate {
                    instrument: Some(instrument),
                    snapshot: false,
                    first_id,
                    last_id,
                    prev_id,
                    event_ns,
                }));
                levels(f.b, "b", Side::Buy, out)?;
                levels(f.a, "a", Side::Sell, out)?;
                out(Event::BookEnd);
                Ok(MsgKind::Depth)
            }
            b"kline" | b"continuous_kline" => {
                let event_ns = time(f.big_e, "E")?;
                let Value::Object(k) = req(f.k, "k")? else {
                    return Err(ParseError::Invalid("k"));
                };
                kline(k, f.s, event_ns, resolve, out)
            }
            b"24hrTicker" | b"24hrMiniTicker" | b"markPriceUpdate" | b"forceOrder"
            | b"indexPriceUpdate" | b"contractInfo" => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
            _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
        }
    }
}

fn snapshot(f: &Fields<'_>, out: &mut impl FnMut(Event)) -> Result<MsgKind, ParseError> {
    let last_id = int(f.last_update_id, "lastUpdateId")?;
    let event_ns = opt_time(f.big_e, "E")?;
    out(Event::BookBegin(BookUpdate {
        instrument: None,
        snapshot: true,
        first_id: last_id,
        last_id,
        prev_id: None,
        event_ns,
    }));
    levels(f.bids, "bids", Side::Buy, out)?;
    levels(f.asks, "asks", Side::Sell, out)?;
    out(Event::BookEnd);
    Ok(MsgKind::Snapshot)
}

fn kline(
    k: &[u8],
    outer_symbol: Option<Value<'_>>,
    event_ns: u64,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    #[derive(Default)]
    struct K<'a> {
        t: Option<Value<'a>>,
        big_t: Option<Value<'a>>,
        s: Option<Value<'a>>,
        o: Option<Value<'a>>,
        h: Option<Value<'a>>,
        l: Option<Value<'a>>,
        c: Option<Value<'a>>,
        v: Option<Value<'a>>,
        n: Option<Value<'a>>,
        x: Option<Value<'a>>,
    }
    let mut kf = K::default();
    json::for_each_member(k, |key, v| match key {
        b"t" => kf.t = Some(v),
        b"T" => kf.big_t = Some(v),
        b"s" => kf.s = Some(v),
        b"o" => kf.o = Some(v),
        b"h" => kf.h = Some(v),
        b"l" => kf.l = Some(v),
        b"c" => kf.c = Some(v),
        b"v" => kf.v = Some(v),
        b"n" => kf.n = Some(v),
        b"x" => kf.x = Some(v),
        _ => {}
    })?;
    // Continuous klines name the pair outside `k` (`ps`); plain klines name the symbol in both.
    let sym = symbol(kf.s.or(outer_symbol))?;
    let open_ns = time(kf.t, "k.t")?;
    let close_ns = time(kf.big_t, "k.T")?;
    if close_ns < open_ns {
        return Err(ParseError::Invalid("k.T"));
    }
    // Binance's close time is the last millisecond of the interval.
    let interval_s = ((close_ns - open_ns) / 1_000_000 + 1) / 1000;
    let kl = Kline {
        instrument: crate::core::InstrumentId(0),
        interval_s: u32::try_from(interval_s).map_err(|_| ParseError::Invalid("k.T"))?,
        open_ns,
        open: price(kf.o, "k.o")?,
        high: price(kf.h, "k.h")?,
        low: price(kf.l, "k.l")?,
        close: price(kf.c, "k.c")?,
        volume: qty(kf.v, "k.v")?,
        trades: int(kf.n, "k.n")?,
        closed: req(kf.x, "k.x")?
            .as_bool()
            .ok_or(ParseError::Invalid("k.x"))?,
        event_ns,
    };
    let Some(instrument) = resolve.resolve(sym) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    out(Event::Kline(Kline { instrument, ..kl }));
    Ok(MsgKind::Kline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::InstrumentId;
    use crate::feed::parse::JsonError;

    fn btc(sym: &[u8]) -> Option<InstrumentId> {
        (sym == b"BTCUSDT").then_some(InstrumentId(0))
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut btc, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    const TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
    const BOOK: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;

    #[test]
    fn trade_combined_and_raw() {
        let want = Event::Trade(Trade {
            instrument: InstrumentId(0),
            trade_id: 3_735_683_259,
            price: Price(6_183_763_000_000),
            qty: Qty(2_000_000),
            trade_ns: 1_723_161_255_342_000_000,
            event_ns: 1_723_161_255_343_000_000,
            buyer_is_maker: true,
            source: 0,
            flags: 0,
            anomalies: 0,
        });
        assert_eq!(run(TRADE.as_bytes()), Ok((MsgKind::Trades, vec![want])));
        let raw = &TRADE[TRADE.find("{\"e\"").unwrap()..TRADE.len() - 1];
        assert!(raw.starts_with("{\"e\""), "{raw}");
        assert_eq!(run(raw.as_bytes()), Ok((MsgKind::Trades, vec![want])));
    }

    #[test]
    fn agg_trade_is_flagged() {
        let msg = br#"{"e":"aggTrade","E":1626916400000,"s":"BTCUSDT","a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1626916399999,"m":true}"#;
        let (kind, ev) = run(msg).unwrap();
        assert_eq!(kind, MsgKind::Trades);
        let Event::Trade(t) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((t.trade_id, t.flags), (26129, Trade::AGGREGATED));
        assert_eq!(t.qty, Qty(470_443_515));
    }

    #[test]
    fn book_ticker() {
        let (kind, ev) = run(BOOK.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        let Event::Quote(b) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(b.update_id, 50_093_239_212);
        assert_eq!(b.bid_px, Price(6_183_763_000_000));
        assert_eq!(b.ask_qty, Qty(154_698_000));
        assert_eq!(b.event_ns, 0);
    }

    #[test]
    fn depth_update_and_snapshot() {
        let msg = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["58710.20","0.014"]],"a":[["61510.90","0.000"],["61511.00","1"]]}}"#;
        let (kind, ev) = run(msg).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 5);
        assert_eq!(
            ev[0],
            Event::BookBegin(BookUpdate {
                instrument: Some(InstrumentId(0)),
                snapshot: false,
                first_id: 10,
                last_id: 12,
                prev_id: Some(9),
                event_ns: 1_723_161_256_299_000_000,
            })
        );
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(6_151_090_000_000),
                qty: Qty(0)
            }
        );
        assert_eq!(ev[4], Event::BookEnd);
        let snap =
            br#"{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],"asks":[]}"#;
        let (kind, ev) = run(snap).unwrap();
        assert_eq!(kind, MsgKind::Snapshot);
        assert!(matches!(
            ev[0],
            Event::BookBegin(BookUpdate {
                instrument: None,
                snapshot: true,
                last_id: 50093239218,
                ..
            })
        ));
        assert_eq!(ev.len(), 3);
        // A level that is not a [price, qty] pair fails the whole message.
        for bad in [
            &br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#[..],
            br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","2","3"]],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[[1,"2"]],"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":{},"a":[]}"#,
            br#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","-2"]],"a":[]}"#,
        ] {
            assert!(run(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn kline() {
        let msg = br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1618677403016,"s":"BTCUSDT","k":{"t":1618677360000,"T":1618677419999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}"#;
        let (kind, ev) = run(msg).unwrap();
        assert_eq!(kind, MsgKind::Kline);
        let Event::Kline(k) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((k.interval_s, k.trades, k.closed), (60, 100, false));
        assert_eq!(k.high, Price(250_000));
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (r#"{"result":null,"id":1}"#, SkipKind::Response),
            (
                r#"{"e":"24hrTicker","E":1,"s":"BTCUSDT"}"#,
                SkipKind::Unsupported,
            ),
            (r#"{"e":"somethingNew"}"#, SkipKind::Unknown),
            (
                r#"{"e":"trade","E":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","T":1,"m":false}"#,
                SkipKind::OtherInstrument,
            ),
        ];
        for &(msg, kind) in table {
            assert_eq!(
                run(msg.as_bytes()),
                Ok((MsgKind::Skipped(kind), vec![])),
                "{msg}"
            );
        }
    }

    #[test]
    fn malformed_is_an_error() {
        let table: &[(&str, ParseError)] = &[
            (&TRADE[..60], ParseError::Json(JsonError::Eof)),
            (
                r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1}"#,
                ParseError::Missing("m"),
            ),
            (
                r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":1.5,"q":"1","T":1,"m":true}"#,
                ParseError::Invalid("p"),
            ),
            (
                r#"{"e":"trade","E":1,"s":"BTCUSDT","t":-1,"p":"1","q":"1","T":1,"m":true}"#,
                ParseError::Invalid("t"),
            ),
            (
                r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"-1","q":"1","T":1,"m":true}"#,
                ParseError::Invalid("p"),
            ),
            (
                r#"{"e":"trade","E":99999999999999999,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true}"#,
                ParseError::Invalid("E"),
            ),
            (
                r#"{"u":1,"s":"BTCUSDT","b":"1","B":"x","a":"2","A":"1"}"#,
                ParseError::Invalid("B"),
            ),
            (r#"{"stream":"x","data":[1]}"#, ParseError::Invalid("data")),
            (r#"{"e":7}"#, ParseError::Invalid("e")),
            (r#"{"hello":"world"}"#, ParseError::Unrecognised),
        ];
        for &(msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(pos in 0usize..TRADE.len(), byte in proptest::num::u8::ANY, cut in 0usize..TRADE.len()) {
            let mut m = TRADE.as_bytes().to_vec();
            m[pos] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut]);
        }
    }
}
