//! Binance reference decoder (simd-json DOM), written from Binance's stream documentation:
//! `trade`, `aggTrade`, `bookTicker` (with or without `e`), `depthUpdate`, `kline` /
//! `continuous_kline`, the REST `/depth` snapshot (`lastUpdateId`, names no symbol) and the
//! `{"result":null,"id":1}` reply. The combined-stream wrapper `{"stream":..,"data":{..}}` is
//! read as one flat object (wrapper members and `data`'s members together, in document order,
//! the last repeated key winning), which is how tickwire reads it.
use std::collections::HashMap;

use super::simd::{self, V};
use super::{Ref, Reference};

#[derive(Default)]
pub struct Decoder;

type Map<'a, 'v> = HashMap<&'a str, &'a V<'v>>;

fn sym(m: &Map, key: &str) -> Result<String, String> {
    simd::str_of(simd::need(m, key)?)
        .map(str::to_string)
        .ok_or_else(|| format!("{key} not a string"))
}

fn uint(m: &Map, key: &str) -> Result<u64, String> {
    simd::u64_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not an unsigned integer"))
}

fn time(m: &Map, key: &str) -> Result<u64, String> {
    simd::ms_ns(uint(m, key)?, key)
}

fn px(m: &Map, key: &str) -> Result<i64, String> {
    simd::decimal_str(simd::need(m, key)?, key)
}

fn flag(m: &Map, key: &str) -> Result<bool, String> {
    simd::bool_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not a bool"))
}

/// `[["price","qty"], …]`, each level exactly two decimal strings.
fn side(m: &Map, key: &str, bid: bool, out: &mut Vec<(bool, i64, i64)>) -> Result<(), String> {
    let levels = simd::elements(simd::need(m, key)?).ok_or(format!("{key} not an array"))?;
    for l in levels {
        match simd::elements(l) {
            Some([p, q]) => out.push((bid, simd::decimal_str(p, key)?, simd::decimal_str(q, key)?)),
            _ => return Err(format!("{key}: level is not a [price, qty] pair")),
        }
    }
    Ok(())
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        let mut buf = line.to_vec();
        let root = simd::parse(&mut buf)?;
        let top = simd::members(&root).ok_or("not an object")?;
        let mut m: Map = HashMap::new();
        for (k, v) in top {
            // An object under `data` is read in place; anything else keeps its key.
            if let (Some(inner), "data") = (simd::members(v), k) {
                for (ik, iv) in inner {
                    m.insert(ik, iv);
                }
            } else {
                m.insert(k, v);
            }
        }
        // A stream wrapper whose `data` is not an object.
        if m.contains_key("stream") && m.contains_key("data") {
            return Err("data is not an object".into());
        }
        let kind = match m.get("e") {
            Some(e) => simd::str_of(e).ok_or("e not a string")?.to_string(),
            None if m.contains_key("u") && m.contains_key("b") && m.contains_key("a") => {
                "bookTicker".to_string()
            }
            None if m.contains_key("lastUpdateId") => {
                uint(&m, "lastUpdateId")?;
                if let Some(e) = m.get("E") {
                    simd::ms_ns(simd::u64_of(e).ok_or("E")?, "E")?;
                }
                let mut levels = Vec::new();
                side(&m, "bids", true, &mut levels)?;
                side(&m, "asks", false, &mut levels)?;
                return Ok(vec![Ref::Book {
                    symbol: None,
                    snapshot: true,
                    levels,
                }]);
            }
            None if m.contains_key("result") || m.contains_key("id") => return Ok(vec![]),
            None => return Err("unrecognised".into()),
        };
        match kind.as_str() {
            "trade" | "aggTrade" => {
                let symbol = sym(&m, "s")?;
                let id = uint(&m, if kind == "aggTrade" { "a" } else { "t" })?;
                let price = px(&m, "p")?;
                let qty = px(&m, "q")?;
                let time_ns = time(&m, "T")?;
                time(&m, "E")?;
                let sell = flag(&m, "m")?;
                Ok(vec![Ref::Trade {
                    symbol,
                    id,
                    price,
                    qty,
                    time_ns,
                    sell,
                }])
            }
            "bookTicker" => {
                let symbol = sym(&m, "s")?;
                uint(&m, "u")?;
                let q = Ref::Quote {
                    symbol,
                    bid: px(&m, "b")?,
                    bid_qty: px(&m, "B")?,
                    ask: px(&m, "a")?,
                    ask_qty: px(&m, "A")?,
                };
                if m.contains_key("E") {
                    time(&m, "E")?;
                }
                Ok(vec![q])
            }
            "depthUpdate" => {
                let symbol = sym(&m, "s")?;
                uint(&m, "U")?;
                uint(&m, "u")?;
                if m.contains_key("pu") {
                    uint(&m, "pu")?;
                }
                time(&m, "E")?;
                let mut levels = Vec::new();
                side(&m, "b", true, &mut levels)?;
                side(&m, "a", false, &mut levels)?;
                Ok(vec![Ref::Book {
                    symbol: Some(symbol),
                    snapshot: false,
                    levels,
                }])
            }
            "kline" | "continuous_kline" => {
                time(&m, "E")?;
                let k = simd::fields(simd::need(&m, "k")?).ok_or("k not an object")?;
                let symbol = match k.get("s") {
                    Some(_) => sym(&k, "s")?,
                    None => sym(&m, "s")?,
                };
                let open_ns = time(&k, "t")?;
                let close_ns = time(&k, "T")?;
                let span_ms = close_ns
                    .checked_sub(open_ns)
                    .ok_or("kline closes before it opens")?
                    / 1_000_000;
                u32::try_from((span_ms + 1) / 1000).map_err(|_| "interval too long")?;
                for f in ["o", "h", "l", "v"] {
                    px(&k, f)?;
                }
                let close = px(&k, "c")?;
                uint(&k, "n")?;
                flag(&k, "x")?;
                Ok(vec![Ref::Kline {
                    symbol,
                    open_ns,
                    close,
                }])
            }
            "24hrTicker" | "24hrMiniTicker" | "markPriceUpdate" | "forceOrder"
            | "indexPriceUpdate" | "contractInfo" => Ok(vec![]),
            _ => Ok(vec![]),
        }
    }
}
