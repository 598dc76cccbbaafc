//! OKX v5 public market messages → [`Event`]s.
//!
//! ```text
//! {"arg":{"channel":"trades","instId":"BTC-USD-220527"},"data":[{"instId":"BTC-USD-220527",
//!   "tradeId":"7849","px":"30218.8","sz":"1","side":"buy","ts":"1652459199958"}]}
//! {"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":
//!   [["30249.4","0","0","0"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464",
//!   "checksum":-914047754}]}
//! ```
//!
//! Decoded, one event (or one book update) per `data` entry:
//!
//! * `trades` / `trades-all` → [`Event::Trade`] (`tradeId` digits, `side` = aggressor, `ts` ms
//!   as a string). OKX's aggregated `trades` entries may carry `count`; the id is then the
//!   aggregate's, and ids are not contiguous (flags stay 0).
//! * `tickers` → [`Event::Quote`] (`bidPx`/`bidSz`/`askPx`/`askSz`, `update_id` 0: OKX tickers
//!   carry no sequence). An entry with an empty side (`"bidPx":""`, an option nobody bids for)
//!   is not a quote and is left out; a message left with none is `Skipped(Unsupported)`.
//! * `books`, `books5`, `books-l2-tbt`, `books50-l2-tbt`, `bbo-tbt` → [`Event::BookBegin`] /
//!   [`Event::Level`]s (bids, then asks; `[px, sz, liquidated, orders]`, qty = new total, 0 =
//!   delete) / [`Event::BookEnd`]. `action` snapshot/update; `books5` and `bbo-tbt` send no
//!   action and are full snapshots of their depth each time. `first_id = last_id = seqId`
//!   when sent (0 otherwise), `prev_id = prevSeqId` when sent and ≥ 0 (a snapshot's is −1).
//!   `checksum` (CRC32 of the top 25 levels, needs the whole book) is type-checked only; the
//!   captures' checksums were verified offline.
//! * `candle<N><unit>[utc]` (`candle1m`, `candle1H`, `candle1Dutc`) → [`Event::Kline`]; month
//!   and year candles (no fixed length) are `Skipped(Unsupported)`.
//!
//! `{"event":"subscribe"|"unsubscribe"|"login"}` → `Skipped(Response)`; `{"event":"error"}`,
//! `notice` and connection-count events → `Skipped(Status)`; other events → `Skipped(Unknown)`;
//! the plain-text keep-alive reply `pong` (not JSON) → `Skipped(Heartbeat)`. Funding, mark,
//! index, open-interest and similar channels → `Skipped(Unsupported)`; unknown channels →
//! `Skipped(Unknown)`.
//!
//! The symbol is the subscription's `arg.instId`; an entry naming another `instId` is an error.
//! Zero-copy, zero allocation, no panic on any input.

use super::json::{self, Value};
use super::{
    decimal, ms_to_ns, BookUpdate, Event, Kline, MsgKind, ParseError, SkipKind, SymbolResolver,
};
use super::{int, req};
use crate::core::{BookTicker, Price, Qty, Side, Trade};

/// OKX parser (stateless; a struct for the common parser shape).
#[derive(Default, Debug)]
pub struct Parser;

#[derive(Default)]
struct Envelope<'a> {
    channel: Option<Value<'a>>,
    inst_id: Option<Value<'a>>,
    event: Option<Value<'a>>,
    action: Option<Value<'a>>,
    data: Option<Value<'a>>,
    arg: Option<Value<'a>>,
}

fn collect(buf: &[u8]) -> Result<Envelope<'_>, ParseError> {
    let mut f = Envelope::default();
    // `arg` (an object) is walked in the same pass: its keys (`channel`, `instId`, `instType`)
    // never collide with the envelope's (`arg`, `action`, `data`, `event`, `code`, `msg`).
    json::for_each_member_flat(buf, b"arg", |k, v| match k {
        b"channel" => f.channel = Some(v),
        b"instId" => f.inst_id = Some(v),
        b"event" => f.event = Some(v),
        b"action" => f.action = Some(v),
        b"data" => f.data = Some(v),
        b"arg" => f.arg = Some(v),
        _ => {}
    })?;
    Ok(f)
}

fn string<'a>(v: Option<Value<'a>>, name: &'static str) -> Result<&'a [u8], ParseError> {
    req(v, name)?.as_str().ok_or(ParseError::Invalid(name))
}

fn num(v: Option<Value<'_>>, name: &'static str) -> Result<i64, ParseError> {
    decimal(string(v, name)?, name)
}

fn ms(v: Option<Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    ms_to_ns(int(v, name)?, name)
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

/// An entry's own `instId`, when it sends one, must be the subscription's.
fn same_inst(entry: Option<Value<'_>>, inst: &[u8]) -> Result<(), ParseError> {
    match entry {
        None => Ok(()),
        Some(v) if v.as_str() == Some(inst) => Ok(()),
        Some(_) => Err(ParseError::Invalid("instId")),
    }
}

impl Parser {
    /// Parses one OKX message; see the module docs.
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        if buf == b"pong" {
            return Ok(MsgKind::Skipped(SkipKind::Heartbeat));
        }
        let env = collect(buf)?;
        if env.arg.is_some() {
            // Present but not an object (an object is walked in place).
            return Err(ParseError::Invalid("arg"));
        }
        if let Some(event) = env.event {
            return match event.as_str().ok_or(ParseError::Invalid("event"))? {
                b"subscribe" | b"unsubscribe" | b"login" => {
                    Ok(MsgKind::Skipped(SkipKind::Response))
                }
                b"error" | b"notice" | b"channel-conn-count" | b"channel-conn-count-error" => {
                    Ok(MsgKind::Skipped(SkipKind::Status))
                }
                _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
            };
        }
        if env.data.is_none() {
            return Err(ParseError::Unrecognised);
        }
        let channel = string(env.channel, "channel")?;
        match channel {
            b"trades" | b"trades-all" => trades(&env, resolve, out),
            b"tickers" => tickers(&env, resolve, out),
            b"bbo-tbt" => book(&env, true, resolve, out),
            b"books5" => book(&env, true, resolve, out),
            c if c.starts_with(b"books") => book(&env, false, resolve, out),
            c if c.starts_with(b"candle") => match interval_s(c) {
                Interval::Seconds(s) => candles(&env, s, resolve, out),
                Interval::Unfixed => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
                Interval::Unknown => Ok(MsgKind::Skipped(SkipKind::Unknown)),
            },
            b"funding-rate"
            | b"open-interest"
            | b"price-limit"
            | b"opt-summary"
            | b"estimated-price"
            | b"liquidation-orders"
            | b"index-tickers"
            | b"status"
            | b"instruments"
            | b"block-tickers"
            | b"public-block-trades"
            | b"public-struc-block-trades"
            | b"adl-warning"
            | b"economic-calendar" => Ok(MsgKind::Skipped(SkipKind::Unsupported)),
            c if c.starts_with(b"mark-price") || c.starts_with(b"index-candle") => {
                Ok(MsgKind::Skipped(SkipKind::Unsupported))
            }
            _ => Ok(MsgKind::Skipped(SkipKind::Unknown)),
        }
    }
}

fn trades(
    env: &Envelope<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let inst = string(env.inst_id, "instId")?;
    let arr = array(env.data, "data")?;
    let Some(instrument) = resolve.resolve(inst) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut emitted = 0u32;
    each(arr, |v| {
        let Value::Object(obj) = v else {
            return Err(ParseError::Invalid("data"));
        };
        let (mut id, mut px, mut sz, mut side, mut ts, mut iid) =
            (None, None, None, None, None, None);
        json::for_each_member(obj, |k, v| match k {
            b"tradeId" => id = Some(v),
            b"px" => px = Some(v),
            b"sz" => sz = Some(v),
            b"side" => side = Some(v),
            b"ts" => ts = Some(v),
            b"instId" => iid = Some(v),
            _ => {}
        })?;
        same_inst(iid, inst)?;
        let trade_id = int(id, "tradeId")?;
        let price = Price(num(px, "px")?);
        let qty = Qty(num(sz, "sz")?);
        let buyer_is_maker = match string(side, "side")? {
            b"buy" => false,
            b"sell" => true,
            _ => return Err(ParseError::Invalid("side")),
        };
        let trade_ns = ms(ts, "ts")?;
        emitted += 1;
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
        Ok(())
    })?;
    Ok(if emitted > 0 {
        MsgKind::Trades
    } else {
        MsgKind::Skipped(SkipKind::Unsupported)
    })
}

fn tickers(
    env: &Envelope<'_>,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let inst = string(env.inst_id, "instId")?;
    let arr = array(env.data, "data")?;
    let Some(instrument) = resolve.resolve(inst) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut emitted = 0u32;
    each(arr, |v| {
        let Value::Object(obj) = v else {
            return Err(ParseError::Invalid("data"));
        };
        let (mut bp, mut bq, mut ap, mut aq, mut ts, mut iid) =
            (None, None, None, None, None, None);
        json::for_each_member(obj, |k, v| match k {
            b"bidPx" => bp = Some(v),
            b"bidSz" => bq = Some(v),
            b"askPx" => ap = Some(v),
            b"askSz" => aq = Some(v),
            b"ts" => ts = Some(v),
            b"instId" => iid = Some(v),
            _ => {}
        })?;
        same_inst(iid, inst)?;
        let bp = string(bp, "bidPx")?;
        let bq = string(bq, "bidSz")?;
        let ap = string(ap, "askPx")?;
        let aq = string(aq, "askSz")?;
        let event_ns = ms(ts, "ts")?;
        if bp.is_empty() || bq.is_empty() || ap.is_empty() || aq.is_empty() {
            // One side of the book is empty: no quote.
            return Ok(());
        }
        let q = BookTicker {
            instrument,
            update_id: 0,
            bid_px: Price(decimal(bp, "bidPx")?),
            bid_qty: Qty(decimal(bq, "bidSz")?),
            ask_px: Price(decimal(ap, "askPx")?),
            ask_qty: Qty(decimal(aq, "askSz")?),
            event_ns,
            source: 0,
        };
        emitted += 1;
        out(Event::Quote(q));
        Ok(())
    })?;
    Ok(if emitted > 0 {
        MsgKind::Quote
    } else {
        MsgKind::Skipped(SkipKind::Unsupported)
    })
}

/// Emits every `[px, sz, …]` level of a book side (OKX sends `[px, sz, liquidated, orders]`).
fn levels(
    arr: &[u8],
    name: &'static str,
    side: Side,
    out: &mut impl FnMut(Event),
) -> Result<(), ParseError> {
    each(arr, |lv| {
        let Value::Array(level) = lv else {
            return Err(ParseError::Invalid(name));
        };
        let mut n = 0usize;
        let mut px = None;
        let mut q = None;
        json::for_each_element(level, |x| {
            match n {
                0 => px = x.as_str(),
                1 => q = x.as_str(),
                _ => {}
            }
            n += 1;
        })?;
        match (px, q) {
            (Some(px), Some(q)) => {
                let price = Price(decimal(px, name)?);
                let qty = Qty(decimal(q, name)?);
                out(Event::Level { side, price, qty });
                Ok(())
            }
            _ => Err(ParseError::Invalid(name)),
        }
    })
}

fn book(
    env: &Envelope<'_>,
    always_snapshot: bool,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let snapshot = match env.action {
        Some(v) => match v.as_str() {
            Some(b"snapshot") => true,
            Some(b"update") => false,
            _ => return Err(ParseError::Invalid("action")),
        },
        None if always_snapshot => true,
        None => return Err(ParseError::Missing("action")),
    };
    let inst = string(env.inst_id, "instId")?;
    let arr = array(env.data, "data")?;
    let Some(instrument) = resolve.resolve(inst) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut emitted = 0u32;
    each(arr, |v| {
        let Value::Object(obj) = v else {
            return Err(ParseError::Invalid("data"));
        };
        let (mut asks, mut bids, mut ts, mut seq, mut prev, mut checksum) =
            (None, None, None, None, None, None);
        json::for_each_member(obj, |k, v| match k {
            b"asks" => asks = Some(v),
            b"bids" => bids = Some(v),
            b"ts" => ts = Some(v),
            b"seqId" => seq = Some(v),
            b"prevSeqId" => prev = Some(v),
            b"checksum" => checksum = Some(v),
            _ => {}
        })?;
        let bids = array(bids, "bids")?;
        let asks = array(asks, "asks")?;
        let event_ns = ms(ts, "ts")?;
        let seq = match seq {
            Some(v) => v.as_u64().ok_or(ParseError::Invalid("seqId"))?,
            None => 0,
        };
        let prev_id = match prev {
            Some(v) => {
                let p = v.as_i64().ok_or(ParseError::Invalid("prevSeqId"))?;
                u64::try_from(p).ok()
            }
            None => None,
        };
        if let Some(c) = checksum {
            c.as_i64().ok_or(ParseError::Invalid("checksum"))?;
        }
        out(Event::BookBegin(BookUpdate {
            instrument: Some(instrument),
            snapshot,
            first_id: seq,
            last_id: seq,
            prev_id,
            event_ns,
        }));
        levels(bids, "bids", Side::Buy, out)?;
        levels(asks, "asks", Side::Sell, out)?;
        out(Event::BookEnd);
        emitted += 1;
        Ok(())
    })?;
    Ok(match (emitted, snapshot) {
        (0, _) => MsgKind::Skipped(SkipKind::Unsupported),
        (_, true) => MsgKind::Snapshot,
        (_, false) => MsgKind::Depth,
    })
}

enum Interval {
    Seconds(u32),
    /// Months and years.
    Unfixed,
    Unknown,
}

/// `candle1m` → 60 s, `candle4H` → 14 400 s, `candle1Dutc` → 86 400 s.
fn interval_s(channel: &[u8]) -> Interval {
    let spec = channel.strip_prefix(b"candle").unwrap_or(&[]);
    let spec = spec.strip_suffix(b"utc").unwrap_or(spec);
    let digits = spec.iter().take_while(|b| b.is_ascii_digit()).count();
    let (n, unit) = spec.split_at(digits);
    if n.is_empty() || n.len() > 4 {
        return Interval::Unknown;
    }
    let n = n.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    let per = match unit {
        b"s" => 1,
        b"m" => 60,
        b"H" => 3_600,
        b"D" => 86_400,
        b"W" => 604_800,
        b"M" | b"Y" => return Interval::Unfixed,
        _ => return Interval::Unknown,
    };
    match n.checked_mul(per) {
        Some(s) if s > 0 => Interval::Seconds(s),
        _ => Interval::Unknown,
    }
}

fn candles(
    env: &Envelope<'_>,
    interval_s: u32,
    resolve: &mut impl SymbolResolver,
    out: &mut impl FnMut(Event),
) -> Result<MsgKind, ParseError> {
    let inst = string(env.inst_id, "instId")?;
    let arr = array(env.data, "data")?;
    let Some(instrument) = resolve.resolve(inst) else {
        return Ok(MsgKind::Skipped(SkipKind::OtherInstrument));
    };
    let mut emitted = 0u32;
    each(arr, |v| {
        let Value::Array(row) = v else {
            return Err(ParseError::Invalid("data"));
        };
        // [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]
        let mut f: [Option<Value<'_>>; 9] = [None; 9];
        let mut n = 0usize;
        json::for_each_element(row, |x| {
            if let Some(slot) = f.get_mut(n) {
                *slot = Some(x);
            }
            n += 1;
        })?;
        let closed = match f[8] {
            None => false,
            Some(v) => match v.as_str() {
                Some(b"0") => false,
                Some(b"1") => true,
                _ => return Err(ParseError::Invalid("confirm")),
            },
        };
        let kl = Kline {
            instrument,
            interval_s,
            open_ns: ms(f[0], "ts")?,
            open: Price(num(f[1], "o")?),
            high: Price(num(f[2], "h")?),
            low: Price(num(f[3], "l")?),
            close: Price(num(f[4], "c")?),
            volume: Qty(num(f[5], "vol")?),
            trades: 0,
            closed,
            event_ns: 0,
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
    use crate::core::InstrumentId;
    use crate::feed::parse::JsonError;

    fn any(_: &[u8]) -> Option<InstrumentId> {
        Some(InstrumentId(5))
    }

    fn run(msg: &[u8]) -> Result<(MsgKind, Vec<Event>), ParseError> {
        let mut events = Vec::new();
        let kind = Parser.parse(msg, &mut any, &mut |e| events.push(e))?;
        Ok((kind, events))
    }

    // Real lines: cryptofeed OKX.ws.1.0 captures (2021-07-22, 2022-02-27, 2022-05-13).
    const TRADE: &str = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]}"#;
    const TICKER: &str = r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}"#;
    const ONE_SIDED: &str = r#"{"arg":{"channel":"tickers","instId":"ETH-USD-220624-20000-C"},"data":[{"instType":"OPTION","instId":"ETH-USD-220624-20000-C","last":"0.0025","lastSz":"0","askPx":"0.002","askSz":"20","bidPx":"","bidSz":"","open24h":"0.0025","high24h":"0.0025","low24h":"0.0025","sodUtc0":"0.0025","sodUtc8":"0.0025","volCcy24h":"0","vol24h":"0","ts":"1646003643199"}]}"#;
    const BOOK_UPDATE: &str = r#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]}"#;
    const BOOK_SNAPSHOT: &str = r#"{"arg":{"channel":"books-l2-tbt","instId":"BTC-USD-210924-42000-P"},"action":"snapshot","data":[{"asks":[["0.3415","5","0","1"],["0.342","300","0","1"],["0.3425","301","0","1"],["0.3445","305","0","1"]],"bids":[["0.335","5","0","1"],["0.3345","300","0","1"],["0.334","301","0","1"],["0.3295","305","0","1"],["0.0005","10","0","1"]],"ts":"1626995750044","checksum":-1431042442}]}"#;
    const SUBSCRIBED: &str =
        r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USD-220527"}}"#;
    // Shapes of the current API (OKX documentation examples).
    const CANDLE: &str = r#"{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","1"]]}"#;
    const BBO: &str = r#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","seqId":123456}]}"#;

    #[test]
    fn trade() {
        let want = Event::Trade(Trade {
            instrument: InstrumentId(5),
            trade_id: 338_476_307,
            price: Price(3_023_600_000_000),
            qty: Qty(20_000),
            trade_ns: 1_652_459_224_818_000_000,
            event_ns: 1_652_459_224_818_000_000,
            buyer_is_maker: false,
            source: 0,
            flags: 0,
            anomalies: 0,
        });
        assert_eq!(run(TRADE.as_bytes()), Ok((MsgKind::Trades, vec![want])));
        let sell = TRADE.replace("\"buy\"", "\"sell\"");
        let Event::Trade(t) = run(sell.as_bytes()).unwrap().1[0] else {
            panic!()
        };
        assert!(t.buyer_is_maker);
    }

    #[test]
    fn tickers() {
        let (kind, ev) = run(TICKER.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Quote);
        assert_eq!(
            ev,
            vec![Event::Quote(BookTicker {
                instrument: InstrumentId(5),
                update_id: 0,
                bid_px: Price(3_022_860_000_000),
                bid_qty: Qty(23_393_000),
                ask_px: Price(3_022_870_000_000),
                ask_qty: Qty(155_896_972),
                event_ns: 1_652_459_224_956_000_000,
                source: 0,
            })]
        );
        assert_eq!(
            run(ONE_SIDED.as_bytes()),
            Ok((MsgKind::Skipped(SkipKind::Unsupported), vec![]))
        );
    }

    #[test]
    fn books() {
        let (kind, ev) = run(BOOK_UPDATE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Depth);
        assert_eq!(ev.len(), 6);
        assert_eq!(
            ev[0],
            Event::BookBegin(BookUpdate {
                instrument: Some(InstrumentId(5)),
                snapshot: false,
                first_id: 0,
                last_id: 0,
                prev_id: None,
                event_ns: 1_652_459_225_464_000_000,
            })
        );
        // Bids first, then asks.
        assert_eq!(
            ev[1],
            Event::Level {
                side: Side::Buy,
                price: Price(3_018_260_000_000),
                qty: Qty(45_200_000_000)
            }
        );
        assert_eq!(
            ev[2],
            Event::Level {
                side: Side::Sell,
                price: Price(3_024_940_000_000),
                qty: Qty(0)
            }
        );
        assert_eq!(ev[5], Event::BookEnd);
        let (kind, ev) = run(BOOK_SNAPSHOT.as_bytes()).unwrap();
        assert_eq!((kind, ev.len()), (MsgKind::Snapshot, 11));
        // Sequence ids of the current API.
        let seq = BOOK_UPDATE.replace(
            "\"checksum\":-914047754",
            "\"checksum\":-914047754,\"prevSeqId\":41,\"seqId\":42",
        );
        let Event::BookBegin(b) = run(seq.as_bytes()).unwrap().1[0] else {
            panic!()
        };
        assert_eq!((b.first_id, b.last_id, b.prev_id), (42, 42, Some(41)));
        let first = seq.replace("\"prevSeqId\":41", "\"prevSeqId\":-1");
        let Event::BookBegin(b) = run(first.as_bytes()).unwrap().1[0] else {
            panic!()
        };
        assert_eq!(b.prev_id, None);
        // bbo-tbt and books5 carry no action: snapshots of their depth.
        let (kind, ev) = run(BBO.as_bytes()).unwrap();
        assert_eq!((kind, ev.len()), (MsgKind::Snapshot, 4));
    }

    #[test]
    fn candles() {
        let (kind, ev) = run(CANDLE.as_bytes()).unwrap();
        assert_eq!(kind, MsgKind::Kline);
        let Event::Kline(k) = ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!((k.interval_s, k.closed), (86_400, true));
        assert_eq!(k.open_ns, 1_597_026_383_085_000_000);
        assert_eq!(k.close, Price(854_826_000_000));
        assert_eq!(k.volume, Qty(4_524_700_000_000));
        for (c, s) in [
            ("candle1m", 60),
            ("candle4H", 14_400),
            ("candle1Dutc", 86_400),
        ] {
            assert!(
                matches!(interval_s(c.as_bytes()), Interval::Seconds(x) if x == s),
                "{c}"
            );
        }
        assert!(matches!(interval_s(b"candle1M"), Interval::Unfixed));
        for c in ["candle", "candleX", "candle1", "candle99999m", "candle0m"] {
            assert!(matches!(interval_s(c.as_bytes()), Interval::Unknown), "{c}");
        }
    }

    #[test]
    fn skipped_types() {
        let table: &[(&str, SkipKind)] = &[
            (SUBSCRIBED, SkipKind::Response),
            (
                r#"{"event":"error","code":"60012","msg":"Invalid request"}"#,
                SkipKind::Status,
            ),
            ("pong", SkipKind::Heartbeat),
            (
                r#"{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[]}"#,
                SkipKind::Unsupported,
            ),
            (
                r#"{"arg":{"channel":"candle1M","instId":"BTC-USDT"},"data":[]}"#,
                SkipKind::Unsupported,
            ),
            (
                r#"{"arg":{"channel":"brandNew","instId":"BTC-USDT"},"data":[]}"#,
                SkipKind::Unknown,
            ),
            (r#"{"event":"brandNew"}"#, SkipKind::Unknown),
        ];
        for &(msg, kind) in table {
            assert_eq!(
                run(msg.as_bytes()),
                Ok((MsgKind::Skipped(kind), vec![])),
                "{msg}"
            );
        }
        let mut other = |_: &[u8]| None;
        assert_eq!(
            Parser.parse(TRADE.as_bytes(), &mut other, &mut |_| {}),
            Ok(MsgKind::Skipped(SkipKind::OtherInstrument))
        );
    }

    #[test]
    fn malformed_is_an_error() {
        let sub = |from: &str, to: &str, base: &str| base.replacen(from, to, 1);
        let table: Vec<(String, ParseError)> = vec![
            (TRADE[..70].to_string(), ParseError::Json(JsonError::Eof)),
            ("pong ".into(), ParseError::Json(JsonError::NotObject)),
            (r#"{"hello":1}"#.into(), ParseError::Unrecognised),
            (r#"{"arg":[],"data":[]}"#.into(), ParseError::Invalid("arg")),
            (r#"{"event":1}"#.into(), ParseError::Invalid("event")),
            (
                sub("\"channel\":\"trades\",", "", TRADE),
                ParseError::Missing("channel"),
            ),
            (
                sub(",\"instId\":\"BTC-USDT\"}", "}", TRADE),
                ParseError::Missing("instId"),
            ),
            (
                sub(
                    "{\"instId\":\"BTC-USDT\",",
                    "{\"instId\":\"ETH-USDT\",",
                    TRADE,
                ),
                ParseError::Invalid("instId"),
            ),
            (
                sub("338476307", "33847630x", TRADE),
                ParseError::Invalid("tradeId"),
            ),
            (sub("\"30236\"", "30236", TRADE), ParseError::Invalid("px")),
            // Digits past 10⁻⁸ (ELON-USDT ticks in 10⁻¹¹) are refused, never rounded.
            (
                sub("\"30236\"", "\"0.00000074528\"", TRADE),
                ParseError::Unrepresentable("px"),
            ),
            (
                sub("\"buy\"", "\"BUY\"", TRADE),
                ParseError::Invalid("side"),
            ),
            (
                sub(",\"ts\":\"1652459224818\"", "", TRADE),
                ParseError::Missing("ts"),
            ),
            (
                sub("\"data\":[", "\"data\":{},\"x\":[", TRADE),
                ParseError::Invalid("data"),
            ),
            (
                sub("\"bidSz\":\"0.23393\"", "\"bidSz\":0.23393", TICKER),
                ParseError::Invalid("bidSz"),
            ),
            (
                sub("\"action\":\"update\",", "", BOOK_UPDATE),
                ParseError::Missing("action"),
            ),
            (
                sub("\"update\"", "\"partial\"", BOOK_UPDATE),
                ParseError::Invalid("action"),
            ),
            (
                sub(
                    "[\"30182.6\",\"452\",\"0\",\"1\"]",
                    "[\"30182.6\"]",
                    BOOK_UPDATE,
                ),
                ParseError::Invalid("bids"),
            ),
            (
                sub("\"checksum\":-914047754", "\"checksum\":\"x\"", BOOK_UPDATE),
                ParseError::Invalid("checksum"),
            ),
            (
                sub(",\"ts\":\"1652459225464\"", "", BOOK_UPDATE),
                ParseError::Missing("ts"),
            ),
            (
                sub("\"1\"]]}", "\"2\"]]}", CANDLE),
                ParseError::Invalid("confirm"),
            ),
            (
                sub(
                    ",\"45247\",\"529.5858061\",\"5529.5858061\",\"1\"",
                    "",
                    CANDLE,
                ),
                ParseError::Missing("vol"),
            ),
        ];
        for (msg, want) in table {
            assert_eq!(run(msg.as_bytes()), Err(want), "{msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(which in 0usize..6, pos in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
            let base = [TRADE, TICKER, BOOK_UPDATE, BOOK_SNAPSHOT, CANDLE, BBO][which].as_bytes();
            let mut m = base.to_vec();
            let pos = pos % m.len();
            m[pos] = byte;
            let _ = run(&m);
            let _ = run(&m[..cut.min(m.len())]);
            let _ = run(&base[..cut.min(base.len())]);
        }
    }
}
