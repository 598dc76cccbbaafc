//! OKX v5 reference decoder (simd-json DOM), written from OKX's WebSocket API documentation and
//! the decisions documented in `src/feed/parse/okx.rs`: the symbol is `arg.instId` (read as part
//! of one flat object with the envelope, as tickwire does); book levels are bids then asks;
//! one-sided tickers carry no quote; `books5` / `bbo-tbt` are snapshots; candles keep month and
//! year intervals out.
use std::collections::HashMap;

use super::simd::{self, V};
use super::{Ref, Reference};

#[derive(Default)]
pub struct Decoder;

type Map<'a, 'v> = HashMap<&'a str, &'a V<'v>>;

fn need_str<'a>(m: &Map<'a, '_>, key: &str) -> Result<&'a str, String> {
    simd::str_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not a string"))
}

fn need_ms(m: &Map, key: &str) -> Result<u64, String> {
    let ms = simd::u64_of(simd::need(m, key)?).ok_or_else(|| format!("{key} not an integer"))?;
    simd::ms_ns(ms, key)
}

fn dec(m: &Map, key: &str) -> Result<i64, String> {
    simd::decimal_str(simd::need(m, key)?, key)
}

/// Seconds per candle for `candle<N><unit>[utc]`: `Ok(Some(s))`, `Ok(None)` for months and
/// years (valid, not decoded), `Err` for anything else (unknown channel: also nothing decoded).
fn candle_seconds(channel: &str) -> Result<Option<u32>, ()> {
    let spec = channel.strip_prefix("candle").ok_or(())?;
    let spec = spec.strip_suffix("utc").unwrap_or(spec);
    let split = spec
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(spec.len());
    let (n, unit) = spec.split_at(split);
    if n.is_empty() || n.len() > 4 {
        return Err(());
    }
    let n: u32 = n.parse().map_err(|_| ())?;
    let per: u32 = match unit {
        "s" => 1,
        "m" => 60,
        "H" => 3600,
        "D" => 86400,
        "W" => 7 * 86400,
        "M" | "Y" => return Ok(None),
        _ => return Err(()),
    };
    match n.checked_mul(per) {
        Some(s) if s > 0 => Ok(Some(s)),
        _ => Err(()),
    }
}

fn entry_inst(e: &Map, inst: &str) -> Result<(), String> {
    match e.get("instId") {
        None => Ok(()),
        Some(v) if simd::str_of(v) == Some(inst) => Ok(()),
        Some(_) => Err("entry instId differs from arg.instId".into()),
    }
}

fn book_side(v: &V, key: &str, bid: bool, out: &mut Vec<(bool, i64, i64)>) -> Result<(), String> {
    for l in simd::elements(v).ok_or_else(|| format!("{key} not an array"))? {
        match simd::elements(l) {
            Some([p, q, ..]) => {
                out.push((bid, simd::decimal_str(p, key)?, simd::decimal_str(q, key)?))
            }
            _ => return Err(format!("{key}: level is not [px, sz, ...]")),
        }
    }
    Ok(())
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        if line == b"pong" {
            return Ok(vec![]);
        }
        let mut buf = line.to_vec();
        let root = simd::parse(&mut buf)?;
        let top = simd::members(&root).ok_or("not an object")?;
        let mut m: Map = HashMap::new();
        for (k, v) in top {
            match (k, simd::members(v)) {
                ("arg", Some(inner)) => {
                    for (ik, iv) in inner {
                        m.insert(ik, iv);
                    }
                }
                _ => {
                    m.insert(k, v);
                }
            }
        }
        if m.contains_key("arg") {
            return Err("arg is not an object".into());
        }
        if let Some(e) = m.get("event") {
            simd::str_of(e).ok_or("event not a string")?;
            return Ok(vec![]);
        }
        let data = simd::need(&m, "data").map_err(|_| "unrecognised".to_string())?;
        let channel = need_str(&m, "channel")?;
        let is_book = channel == "bbo-tbt" || channel.starts_with("books");
        let candle = if channel.starts_with("candle") {
            match candle_seconds(channel) {
                Ok(Some(s)) => Some(s),
                _ => return Ok(vec![]),
            }
        } else {
            None
        };
        let trades = channel == "trades" || channel == "trades-all";
        let tickers = channel == "tickers";
        if !(is_book || trades || tickers || candle.is_some()) {
            return Ok(vec![]);
        }
        let mut snapshot = false;
        if is_book {
            snapshot = match m.get("action") {
                Some(a) => match simd::str_of(a) {
                    Some("snapshot") => true,
                    Some("update") => false,
                    _ => return Err("bad action".into()),
                },
                None if channel == "books5" || channel == "bbo-tbt" => true,
                None => return Err("missing action".into()),
            };
        }
        let inst = need_str(&m, "instId")?;
        let entries = simd::elements(data).ok_or("data not an array")?;
        let mut out = Vec::new();
        for entry in entries {
            if candle.is_some() {
                let row = simd::elements(entry).ok_or("candle not an array")?;
                let at = |i: usize| {
                    row.get(i)
                        .ok_or_else(|| format!("candle field {i} missing"))
                };
                if let Some(c) = row.get(8) {
                    match simd::str_of(c) {
                        Some("0" | "1") => {}
                        _ => return Err("bad confirm".into()),
                    }
                }
                let open_ms = simd::u64_of(at(0)?).ok_or("candle ts")?;
                let open_ns = simd::ms_ns(open_ms, "ts")?;
                for i in 1..=5 {
                    simd::decimal_str(at(i)?, "candle")?;
                }
                out.push(Ref::Kline {
                    symbol: inst.to_string(),
                    open_ns,
                    close: simd::decimal_str(at(4)?, "c")?,
                });
                continue;
            }
            let e = simd::fields(entry).ok_or("entry not an object")?;
            if trades {
                entry_inst(&e, inst)?;
                let id = simd::u64_of(simd::need(&e, "tradeId")?).ok_or("tradeId")?;
                let price = dec(&e, "px")?;
                let qty = dec(&e, "sz")?;
                let sell = match need_str(&e, "side")? {
                    "buy" => false,
                    "sell" => true,
                    s => return Err(format!("side {s}")),
                };
                let time_ns = need_ms(&e, "ts")?;
                out.push(Ref::Trade {
                    symbol: inst.to_string(),
                    id,
                    price,
                    qty,
                    time_ns,
                    sell,
                });
            } else if tickers {
                entry_inst(&e, inst)?;
                let f = ["bidPx", "bidSz", "askPx", "askSz"];
                let mut texts = Vec::new();
                for k in f {
                    texts.push(need_str(&e, k)?);
                }
                need_ms(&e, "ts")?;
                if texts.iter().any(|t| t.is_empty()) {
                    continue;
                }
                out.push(Ref::Quote {
                    symbol: inst.to_string(),
                    bid: dec(&e, "bidPx")?,
                    bid_qty: dec(&e, "bidSz")?,
                    ask: dec(&e, "askPx")?,
                    ask_qty: dec(&e, "askSz")?,
                });
            } else {
                need_ms(&e, "ts")?;
                if let Some(s) = e.get("seqId") {
                    simd::u64_of(s).ok_or("seqId")?;
                }
                for k in ["prevSeqId", "checksum"] {
                    if let Some(v) = e.get(k) {
                        simd::i64_of(v).ok_or_else(|| format!("{k} not an integer"))?;
                    }
                }
                let mut levels = Vec::new();
                book_side(simd::need(&e, "bids")?, "bids", true, &mut levels)?;
                book_side(simd::need(&e, "asks")?, "asks", false, &mut levels)?;
                out.push(Ref::Book {
                    symbol: Some(inst.to_string()),
                    snapshot,
                    levels,
                });
            }
        }
        Ok(out)
    }
}
