//! Binance spot / futures market messages → [`Payload`]s.
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
//! Depth updates, REST depth snapshots, subscription replies and other event types are
//! recognised and reported as [`Parsed::Skipped`] with their type, never as errors. Anything that
//! is not valid JSON, or lacks a field a trade or quote needs, is [`ParseError`].
//!
//! Zero-copy (fields are borrowed slices of the input), zero allocation, no panic on any input.

use super::json::{self, JsonError, Value};
use crate::core::{BookTicker, InstrumentId, Price, Qty, Trade};

/// Message types recognised but not turned into events (yet). Fixed names: they key
/// `summary.json`'s `messages.skipped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    /// `depthUpdate` diff.
    DepthUpdate,
    /// REST `/depth` snapshot (`lastUpdateId`).
    DepthSnapshot,
    /// `aggTrade`.
    AggTrade,
    /// `kline`.
    Kline,
    /// 24h ticker family.
    Ticker24h,
    /// Subscription reply (`{"result":null,"id":1}`).
    Response,
    /// A symbol outside this lane or not in the instrument table.
    OtherInstrument,
    /// Any other event type.
    Other,
}

impl SkipKind {
    /// Every kind, for report tables.
    pub const ALL: [SkipKind; 8] = [
        SkipKind::DepthUpdate,
        SkipKind::DepthSnapshot,
        SkipKind::AggTrade,
        SkipKind::Kline,
        SkipKind::Ticker24h,
        SkipKind::Response,
        SkipKind::OtherInstrument,
        SkipKind::Other,
    ];

    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            SkipKind::DepthUpdate => "depthUpdate",
            SkipKind::DepthSnapshot => "depth_snapshot",
            SkipKind::AggTrade => "aggTrade",
            SkipKind::Kline => "kline",
            SkipKind::Ticker24h => "24hrTicker",
            SkipKind::Response => "response",
            SkipKind::OtherInstrument => "other_instrument",
            SkipKind::Other => "other",
        }
    }

    /// Dense index.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid JSON.
    Json(JsonError),
    /// A field the message type needs is missing.
    Missing(&'static str),
    /// A field has the wrong type or an unparseable value.
    Invalid(&'static str),
    /// Neither a known event nor a recognisable message.
    Unrecognised,
}

/// What a message turned into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A trade.
    Trade(Trade),
    /// Best bid/ask.
    BookTicker(BookTicker),
    /// Recognised, deliberately not turned into an event.
    Skipped(SkipKind),
}

/// Resolves a symbol to an instrument id: `None` means "not ours" (skipped, not an error).
pub trait SymbolResolver {
    /// Looks up (or registers) the symbol.
    fn resolve(&mut self, symbol: &[u8]) -> Option<InstrumentId>;
}

impl<F: FnMut(&[u8]) -> Option<InstrumentId>> SymbolResolver for F {
    fn resolve(&mut self, symbol: &[u8]) -> Option<InstrumentId> {
        self(symbol)
    }
}

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
    b: Option<Value<'a>>,
    big_b: Option<Value<'a>>,
    a: Option<Value<'a>>,
    big_a: Option<Value<'a>>,
    last_update_id: bool,
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
        b"b" => f.b = Some(v),
        b"B" => f.big_b = Some(v),
        b"a" => f.a = Some(v),
        b"A" => f.big_a = Some(v),
        b"lastUpdateId" => f.last_update_id = true,
        b"result" | b"id" => f.result_or_id = true,
        b"data" => f.data = Some(v),
        b"stream" => f.stream = true,
        _ => {}
    })
    .map_err(ParseError::Json)?;
    Ok(f)
}

fn req<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<Value<'a>, ParseError> {
    v.ok_or(ParseError::Missing(name))
}

fn price(v: Option<Value<'_>>, name: &'static str) -> Result<Price, ParseError> {
    let s = req(v, name)?.as_str().ok_or(ParseError::Invalid(name))?;
    let p = Price::parse(s).map_err(|_| ParseError::Invalid(name))?;
    if p.0 < 0 {
        return Err(ParseError::Invalid(name));
    }
    Ok(p)
}

fn qty(v: Option<Value<'_>>, name: &'static str) -> Result<Qty, ParseError> {
    let s = req(v, name)?.as_str().ok_or(ParseError::Invalid(name))?;
    let q = Qty::parse(s).map_err(|_| ParseError::Invalid(name))?;
    if q.0 < 0 {
        return Err(ParseError::Invalid(name));
    }
    Ok(q)
}

fn int(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    req(v, name)?.as_u64().ok_or(ParseError::Invalid(name))
}

fn ms_to_ns(ms: u64, name: &'static str) -> Result<u64, ParseError> {
    ms.checked_mul(1_000_000).ok_or(ParseError::Invalid(name))
}

/// Parses one Binance message. `resolve` maps the symbol to an instrument.
pub fn parse(buf: &[u8], resolve: &mut impl SymbolResolver) -> Result<Parsed, ParseError> {
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
            } else if f.last_update_id {
                return Ok(Parsed::Skipped(SkipKind::DepthSnapshot));
            } else if f.result_or_id {
                return Ok(Parsed::Skipped(SkipKind::Response));
            } else {
                return Err(ParseError::Unrecognised);
            }
        }
    };
    match kind {
        b"trade" => {
            let symbol = req(f.s, "s")?.as_str().ok_or(ParseError::Invalid("s"))?;
            let trade_id = int(f.t, "t")?;
            let price = price(f.p, "p")?;
            let qty = qty(f.q, "q")?;
            let trade_ms = int(f.big_t, "T")?;
            let event_ms = int(f.big_e, "E")?;
            let buyer_is_maker = req(f.m, "m")?.as_bool().ok_or(ParseError::Invalid("m"))?;
            let Some(instrument) = resolve.resolve(symbol) else {
                return Ok(Parsed::Skipped(SkipKind::OtherInstrument));
            };
            Ok(Parsed::Trade(Trade {
                instrument,
                trade_id,
                price,
                qty,
                trade_ns: ms_to_ns(trade_ms, "T")?,
                event_ns: ms_to_ns(event_ms, "E")?,
                buyer_is_maker,
            }))
        }
        b"bookTicker" => {
            let symbol = req(f.s, "s")?.as_str().ok_or(ParseError::Invalid("s"))?;
            let update_id = int(f.u, "u")?;
            let bid_px = price(f.b, "b")?;
            let bid_qty = qty(f.big_b, "B")?;
            let ask_px = price(f.a, "a")?;
            let ask_qty = qty(f.big_a, "A")?;
            let event_ns = match f.big_e {
                Some(v) => ms_to_ns(v.as_u64().ok_or(ParseError::Invalid("E"))?, "E")?,
                None => 0,
            };
            let Some(instrument) = resolve.resolve(symbol) else {
                return Ok(Parsed::Skipped(SkipKind::OtherInstrument));
            };
            Ok(Parsed::BookTicker(BookTicker {
                instrument,
                update_id,
                bid_px,
                bid_qty,
                ask_px,
                ask_qty,
                event_ns,
            }))
        }
        b"depthUpdate" => Ok(Parsed::Skipped(SkipKind::DepthUpdate)),
        b"aggTrade" => Ok(Parsed::Skipped(SkipKind::AggTrade)),
        b"kline" | b"continuous_kline" => Ok(Parsed::Skipped(SkipKind::Kline)),
        b"24hrTicker" | b"24hrMiniTicker" => Ok(Parsed::Skipped(SkipKind::Ticker24h)),
        _ => Ok(Parsed::Skipped(SkipKind::Other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc(sym: &[u8]) -> Option<InstrumentId> {
        (sym == b"BTCUSDT").then_some(InstrumentId(0))
    }

    const TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
    const BOOK: &str = r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;

    #[test]
    fn trade_combined_and_raw() {
        let want = Parsed::Trade(Trade {
            instrument: InstrumentId(0),
            trade_id: 3_735_683_259,
            price: Price(6_183_763_000_000),
            qty: Qty(2_000_000),
            trade_ns: 1_723_161_255_342_000_000,
            event_ns: 1_723_161_255_343_000_000,
            buyer_is_maker: true,
        });
        assert_eq!(parse(TRADE.as_bytes(), &mut btc), Ok(want));
        let raw = &TRADE[TRADE.find("{\"e\"").unwrap()..TRADE.len() - 1];
        assert!(raw.starts_with("{\"e\""), "{raw}");
        assert_eq!(parse(raw.as_bytes(), &mut btc), Ok(want));
    }

    #[test]
    fn book_ticker() {
        let got = parse(BOOK.as_bytes(), &mut btc).unwrap();
        let Parsed::BookTicker(b) = got else {
            panic!("{got:?}")
        };
        assert_eq!(b.update_id, 50_093_239_212);
        assert_eq!(b.bid_px, Price(6_183_763_000_000));
        assert_eq!(b.ask_qty, Qty(154_698_000));
        assert_eq!(b.event_ns, 0);
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (
                r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[["1.0","2.0"]]}}"#,
                SkipKind::DepthUpdate,
            ),
            (
                r#"{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],"asks":[]}"#,
                SkipKind::DepthSnapshot,
            ),
            (r#"{"result":null,"id":1}"#, SkipKind::Response),
            (
                r#"{"e":"aggTrade","E":1,"s":"BTCUSDT"}"#,
                SkipKind::AggTrade,
            ),
            (r#"{"e":"somethingNew"}"#, SkipKind::Other),
            (
                r#"{"e":"trade","E":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","T":1,"m":false}"#,
                SkipKind::OtherInstrument,
            ),
        ];
        for &(msg, kind) in table {
            assert_eq!(
                parse(msg.as_bytes(), &mut btc),
                Ok(Parsed::Skipped(kind)),
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
            assert_eq!(parse(msg.as_bytes(), &mut btc), Err(want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(pos in 0usize..TRADE.len(), byte in proptest::num::u8::ANY, cut in 0usize..TRADE.len()) {
            let mut m = TRADE.as_bytes().to_vec();
            m[pos] = byte;
            let _ = parse(&m, &mut btc);
            let _ = parse(&m[..cut], &mut btc);
        }
    }
}
