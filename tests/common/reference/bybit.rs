//! Bybit reference decoder (simd-json DOM) for the legacy v2 and the v5 public streams, written
//! from Bybit's API documentation and the decisions documented in `src/feed/parse/bybit.rs`:
//! trade entries accept the v2 long and v5 short field names alike; UUID trade ids fold to the
//! XOR of their 64-bit halves; a v2 delta with a price-less delete carries nothing; a v5 ticker
//! is a quote only with all four best bid/ask fields present and non-empty.
use std::collections::HashMap;

use super::simd::{self, V};
use super::{Ref, Reference};

#[derive(Default)]
pub struct Decoder;

type Map<'a, 'v> = HashMap<&'a str, &'a V<'v>>;

fn need_str<'a>(m: &Map<'a, '_>, key: &str) -> Result<&'a str, String> {
    simd::str_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not a string"))
}

fn need_u64(m: &Map, key: &str) -> Result<u64, String> {
    simd::u64_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not an unsigned integer"))
}

fn opt_ms(m: &Map, key: &str) -> Result<Option<u64>, String> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => {
            let ms = simd::u64_of(v).ok_or_else(|| format!("{key} not an unsigned integer"))?;
            simd::ms_ns(ms, key).map(Some)
        }
    }
}

fn is_sell(v: &V) -> Result<bool, String> {
    match simd::str_of(v) {
        Some("Buy") => Ok(false),
        Some("Sell") => Ok(true),
        _ => Err("side is not Buy/Sell".into()),
    }
}

/// Decimal digits as they are; a canonical UUID as the XOR of its two 64-bit halves.
fn trade_id(v: &V) -> Result<u64, String> {
    if let Some(n) = simd::u64_of(v) {
        return Ok(n);
    }
    let s = simd::str_of(v).ok_or("trade id is neither a string nor an integer")?;
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12]
        || !groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!("trade id {s:?} is not decimal or a UUID"));
    }
    let x = u128::from_str_radix(&groups.concat(), 16).map_err(|e| e.to_string())?;
    Ok(((x >> 64) as u64) ^ (x as u64))
}

fn pair_levels(v: &V, key: &str, bid: bool, out: &mut Vec<(bool, i64, i64)>) -> Result<(), String> {
    for l in simd::elements(v).ok_or_else(|| format!("{key} not an array"))? {
        match simd::elements(l) {
            Some([p, q]) => out.push((bid, simd::decimal_str(p, key)?, simd::decimal_str(q, key)?)),
            _ => return Err(format!("{key}: level is not a [price, size] pair")),
        }
    }
    Ok(())
}

/// A v2 book entry → (is_bid, price, size); `delete` entries have size 0.
fn v2_entry(v: &V, delete: bool) -> Result<(bool, i64, i64), String> {
    let e = simd::fields(v).ok_or("book entry not an object")?;
    let price = simd::decimal_of(simd::need(&e, "price")?, "price")?;
    let sell = is_sell(simd::need(&e, "side")?)?;
    let size = if delete {
        0
    } else {
        simd::decimal_of(simd::need(&e, "size")?, "size")?
    };
    Ok((!sell, price, size))
}

fn kind_is_snapshot(m: &Map) -> Result<bool, String> {
    match need_str(m, "type")? {
        "snapshot" => Ok(true),
        "delta" => Ok(false),
        t => Err(format!("type {t}")),
    }
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        let mut buf = line.to_vec();
        let root = simd::parse(&mut buf)?;
        let m = simd::fields(&root).ok_or("not an object")?;
        let Some(topic) = m.get("topic") else {
            // Replies and pongs: valid when they look like one, nothing carried.
            let op = match m.get("op") {
                Some(v) => Some(simd::str_of(v).ok_or("op not a string")?),
                None => None,
            };
            if let Some(s) = m.get("success") {
                simd::bool_of(s).ok_or("success not a bool")?;
                return Ok(vec![]);
            }
            return match op {
                Some(_) => Ok(vec![]),
                None => Err("unrecognised".into()),
            };
        };
        let topic = simd::str_of(topic).ok_or("topic not a string")?;
        let prefix = topic.split('.').next().unwrap_or("");
        let topic_symbol = topic.rsplit_once('.').map(|(_, s)| s).unwrap_or("");
        match prefix {
            "publicTrade" | "trade" => {
                let data = simd::elements(simd::need(&m, "data")?).ok_or("data not an array")?;
                opt_ms(&m, "ts")?;
                let mut out = Vec::new();
                for entry in data {
                    let fields = simd::members(entry).ok_or("trade not an object")?;
                    // v2 and v5 names are aliases; the last one written wins.
                    let mut t: HashMap<&str, &V> = HashMap::new();
                    for (k, v) in fields {
                        let slot = match k {
                            "T" | "trade_time_ms" => "time",
                            "s" | "symbol" => "symbol",
                            "S" | "side" => "side",
                            "v" | "size" => "size",
                            "p" | "price" => "price",
                            "i" | "trade_id" => "id",
                            _ => continue,
                        };
                        t.insert(slot, v);
                    }
                    let symbol = need_str(&t, "symbol")?.to_string();
                    let time_ns = simd::ms_ns(need_u64(&t, "time")?, "time")?;
                    let sell = is_sell(simd::need(&t, "side")?)?;
                    let qty = simd::decimal_of(simd::need(&t, "size")?, "size")?;
                    let price = simd::decimal_of(simd::need(&t, "price")?, "price")?;
                    let id = trade_id(simd::need(&t, "id")?)?;
                    out.push(Ref::Trade {
                        symbol,
                        id,
                        price,
                        qty,
                        time_ns,
                        sell,
                    });
                }
                Ok(out)
            }
            "orderbook" => {
                let snapshot = kind_is_snapshot(&m)?;
                simd::ms_ns(need_u64(&m, "ts")?, "ts")?;
                let d = simd::fields(simd::need(&m, "data")?).ok_or("data not an object")?;
                let symbol = need_str(&d, "s")?.to_string();
                need_u64(&d, "u")?;
                let mut levels = Vec::new();
                pair_levels(simd::need(&d, "b")?, "b", true, &mut levels)?;
                pair_levels(simd::need(&d, "a")?, "a", false, &mut levels)?;
                Ok(vec![Ref::Book {
                    symbol: Some(symbol),
                    snapshot,
                    levels,
                }])
            }
            "orderBookL2_25" | "orderBook_200" => {
                let snapshot = kind_is_snapshot(&m)?;
                need_u64(&m, "cross_seq")?;
                need_u64(&m, "timestamp_e6")?
                    .checked_mul(1000)
                    .ok_or("timestamp_e6 overflows")?;
                let data = simd::need(&m, "data")?;
                let mut levels = Vec::new();
                if snapshot {
                    let entries = match data {
                        V::Array(a) => a.as_slice(),
                        V::Object(_) => {
                            let d = simd::fields(data).ok_or("data")?;
                            simd::elements(simd::need(&d, "order_book")?)
                                .ok_or("order_book not an array")?
                        }
                        _ => return Err("data neither array nor object".into()),
                    };
                    for e in entries {
                        levels.push(v2_entry(e, false)?);
                    }
                } else {
                    let d = simd::fields(data).ok_or("data not an object")?;
                    let list = |k: &str| -> Result<&[V], String> {
                        simd::elements(simd::need(&d, k)?)
                            .ok_or_else(|| format!("{k} not an array"))
                    };
                    let (del, upd, ins) = (list("delete")?, list("update")?, list("insert")?);
                    for e in del {
                        let f = simd::fields(e).ok_or("delete entry not an object")?;
                        if !f.contains_key("price") {
                            return Ok(vec![]);
                        }
                    }
                    for e in del {
                        levels.push(v2_entry(e, true)?);
                    }
                    for e in upd.iter().chain(ins) {
                        levels.push(v2_entry(e, false)?);
                    }
                }
                Ok(vec![Ref::Book {
                    symbol: Some(topic_symbol.to_string()),
                    snapshot,
                    levels,
                }])
            }
            "tickers" => {
                let d = simd::fields(simd::need(&m, "data")?).ok_or("data not an object")?;
                let symbol = need_str(&d, "symbol")?.to_string();
                let side = |k: &str| -> Result<Option<i64>, String> {
                    match d.get(k) {
                        None => Ok(None),
                        Some(v) => {
                            let t = simd::text_of(v)?;
                            if t.is_empty() {
                                return Ok(None);
                            }
                            simd::decimal_of(v, k).map(Some)
                        }
                    }
                };
                let best = (
                    side("bid1Price")?,
                    side("bid1Size")?,
                    side("ask1Price")?,
                    side("ask1Size")?,
                );
                if m.contains_key("cs") {
                    need_u64(&m, "cs")?;
                }
                opt_ms(&m, "ts")?;
                match best {
                    (Some(bid), Some(bid_qty), Some(ask), Some(ask_qty)) => Ok(vec![Ref::Quote {
                        symbol,
                        bid,
                        bid_qty,
                        ask,
                        ask_qty,
                    }]),
                    _ => Ok(vec![]),
                }
            }
            "kline" => {
                let data = simd::elements(simd::need(&m, "data")?).ok_or("data not an array")?;
                opt_ms(&m, "ts")?;
                let mut out = Vec::new();
                for e in data {
                    let k = simd::fields(e).ok_or("kline not an object")?;
                    let start = need_u64(&k, "start")?;
                    let end = need_u64(&k, "end")?;
                    let span = end
                        .checked_sub(start)
                        .and_then(|d| d.checked_add(1))
                        .ok_or("bad kline span")?;
                    u32::try_from(span / 1000).map_err(|_| "kline too long")?;
                    let open_ns = simd::ms_ns(start, "start")?;
                    for f in ["open", "high", "low", "volume"] {
                        simd::decimal_of(simd::need(&k, f)?, f)?;
                    }
                    let close = simd::decimal_of(simd::need(&k, "close")?, "close")?;
                    simd::bool_of(simd::need(&k, "confirm")?).ok_or("confirm not a bool")?;
                    opt_ms(&k, "timestamp")?;
                    out.push(Ref::Kline {
                        symbol: topic_symbol.to_string(),
                        open_ns,
                        close,
                    });
                }
                Ok(out)
            }
            // Known but not decoded, or unknown: valid, nothing carried.
            _ => Ok(vec![]),
        }
    }
}
