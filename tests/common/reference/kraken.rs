//! Kraken reference decoder: v1 (arrays and `event` objects) and v2 (`channel` objects).
//!
//! v1 trades have no id: the documented derivation is `time_µs * 1024 + index in message`
//! (or the 7th element when Kraken sends its own id).
use super::dom::{self, array, dec, field, get, str_field, uint, with_dom, R};
use super::{Ref, Reference};
use simd_json::BorrowedValue as V;

#[derive(Default)]
pub struct Decoder;

fn v1_trades(payload: &V<'_>, pair: &str) -> R<Vec<Ref>> {
    let mut out = Vec::new();
    for (i, t) in array(payload)?.iter().enumerate() {
        let e = array(t)?;
        if e.len() != 6 && e.len() != 7 {
            return Err(format!("trade {e:?}"));
        }
        let time_ns = dom::seconds_ns(dom::string(&e[2])?)?;
        let sell = match dom::string(&e[3])? {
            "s" => true,
            "b" => false,
            s => return Err(format!("trade side {s}")),
        };
        let id = match e.get(6) {
            Some(v) => uint(v)?,
            None => {
                if i >= 1024 {
                    return Err("too many trades".into());
                }
                (time_ns / 1000)
                    .checked_mul(1024)
                    .and_then(|x| x.checked_add(i as u64))
                    .ok_or("id overflow")?
            }
        };
        out.push(Ref::Trade {
            symbol: pair.to_string(),
            id,
            price: dec(&e[0])?,
            qty: dec(&e[1])?,
            time_ns,
            sell,
        });
    }
    if out.is_empty() {
        return Err("no trades".into());
    }
    Ok(out)
}

/// `[price, wholeLotVolume, lotVolume]` → (price, lotVolume).
fn top(v: &V<'_>, key: &str) -> R<(i64, i64)> {
    match array(field(v, key)?)? {
        [p, _, q] => Ok((dec(p)?, dec(q)?)),
        other => Err(format!("{key} {other:?}")),
    }
}

fn v1_levels(p: &V<'_>, key: &str, is_bid: bool, levels: &mut Vec<(bool, i64, i64)>) -> R<()> {
    let Some(side) = get(p, key) else {
        return Ok(());
    };
    for lv in array(side)? {
        let e = array(lv)?;
        let ok_len = match e {
            [_, _, _] => true,
            [_, _, _, r] => dom::string(r)? == "r",
            _ => false,
        };
        if !ok_len {
            return Err(format!("level {e:?}"));
        }
        dom::seconds_ns(dom::string(&e[2])?)?;
        levels.push((is_bid, dec(&e[0])?, dec(&e[1])?));
    }
    Ok(())
}

fn v1_book(payloads: &[V<'_>], pair: &str) -> R<Vec<Ref>> {
    let has = |p: &V<'_>, k: &str| get(p, k).is_some();
    let snapshot = has(&payloads[0], "as") || has(&payloads[0], "bs");
    let mut levels = Vec::new();
    for p in payloads {
        if !dom::is_object(p) {
            return Err("book payload".into());
        }
        let snap = has(p, "as") || has(p, "bs");
        let diff = has(p, "a") || has(p, "b");
        if snap == diff || snap != snapshot {
            return Err("book payload keys".into());
        }
        let (a, b) = if snapshot { ("as", "bs") } else { ("a", "b") };
        v1_levels(p, a, false, &mut levels)?;
        v1_levels(p, b, true, &mut levels)?;
    }
    Ok(vec![Ref::Book {
        symbol: Some(pair.to_string()),
        snapshot,
        levels,
    }])
}

fn v1(arr: &[V<'_>]) -> R<Vec<Ref>> {
    if arr.len() != 4 && arr.len() != 5 {
        return Err("v1 frame length".into());
    }
    uint(&arr[0])?;
    let name = dom::string(&arr[arr.len() - 2])?;
    let pair = dom::string(&arr[arr.len() - 1])?;
    let payloads = &arr[1..arr.len() - 2];
    if name == "book" || name.starts_with("book-") {
        return v1_book(payloads, pair);
    }
    if payloads.len() != 1 {
        return Err("two payloads outside a book".into());
    }
    match name {
        "trade" => v1_trades(&payloads[0], pair),
        "ticker" => {
            let (ask, ask_qty) = top(&payloads[0], "a")?;
            let (bid, bid_qty) = top(&payloads[0], "b")?;
            Ok(vec![Ref::Quote {
                symbol: pair.to_string(),
                bid,
                bid_qty,
                ask,
                ask_qty,
            }])
        }
        _ => Ok(vec![]),
    }
}

fn opt_time(v: &V<'_>) -> R<()> {
    if let Some(t) = get(v, "timestamp") {
        dom::rfc3339_ns(dom::string(t)?)?;
    }
    Ok(())
}

fn v2_levels(d: &V<'_>, key: &str, is_bid: bool, levels: &mut Vec<(bool, i64, i64)>) -> R<()> {
    if let Some(side) = get(d, key) {
        for lv in array(side)? {
            levels.push((is_bid, dec(field(lv, "price")?)?, dec(field(lv, "qty")?)?));
        }
    }
    Ok(())
}

fn v2(channel: &str, v: &V<'_>) -> R<Vec<Ref>> {
    let snapshot = || -> R<bool> {
        match str_field(v, "type")? {
            "snapshot" => Ok(true),
            "update" => Ok(false),
            t => Err(format!("type {t}")),
        }
    };
    let mut out = Vec::new();
    match channel {
        "trade" => {
            if snapshot()? {
                return Ok(out);
            }
            for t in array(field(v, "data")?)? {
                let sell = match str_field(t, "side")? {
                    "sell" => true,
                    "buy" => false,
                    s => return Err(format!("side {s}")),
                };
                out.push(Ref::Trade {
                    symbol: str_field(t, "symbol")?.to_string(),
                    id: uint(field(t, "trade_id")?)?,
                    price: dec(field(t, "price")?)?,
                    qty: dec(field(t, "qty")?)?,
                    time_ns: dom::rfc3339_ns(str_field(t, "timestamp")?)?,
                    sell,
                });
            }
        }
        "ticker" => {
            for t in array(field(v, "data")?)? {
                opt_time(t)?;
                out.push(Ref::Quote {
                    symbol: str_field(t, "symbol")?.to_string(),
                    bid: dec(field(t, "bid")?)?,
                    bid_qty: dec(field(t, "bid_qty")?)?,
                    ask: dec(field(t, "ask")?)?,
                    ask_qty: dec(field(t, "ask_qty")?)?,
                });
            }
        }
        "book" => {
            let snapshot = snapshot()?;
            for d in array(field(v, "data")?)? {
                if get(d, "bids").is_none() && get(d, "asks").is_none() {
                    return Err("book without sides".into());
                }
                opt_time(d)?;
                let mut levels = Vec::new();
                v2_levels(d, "bids", true, &mut levels)?;
                v2_levels(d, "asks", false, &mut levels)?;
                out.push(Ref::Book {
                    symbol: Some(str_field(d, "symbol")?.to_string()),
                    snapshot,
                    levels,
                });
            }
        }
        // heartbeat, status, ohlc, instrument, level3, unknown channels.
        _ => {}
    }
    Ok(out)
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        with_dom(line, |v| match v {
            V::Array(a) => v1(a),
            V::Object(_) => {
                if let Some(e) = get(v, "event") {
                    dom::string(e)?;
                    return Ok(vec![]);
                }
                if let Some(c) = get(v, "channel") {
                    return v2(dom::string(c)?, v);
                }
                if let Some(m) = get(v, "method") {
                    dom::string(m)?;
                    return Ok(vec![]);
                }
                Err("unrecognised object".into())
            }
            _ => Err("not an array or object".into()),
        })
    }
}
