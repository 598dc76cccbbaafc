//! Bitstamp reference decoder (`event` + `channel` + `data`).
use super::dom::{self, array, dec, field, get, str_field, uint, with_dom, R};
use super::{Ref, Reference};
use simd_json::BorrowedValue as V;

#[derive(Default)]
pub struct Decoder;

fn time_ns(d: &V<'_>) -> R<u64> {
    match get(d, "microtimestamp") {
        Some(us) => uint(us)?.checked_mul(1_000).ok_or("µs overflow".into()),
        None => uint(field(d, "timestamp")?)?
            .checked_mul(1_000_000_000)
            .ok_or("s overflow".into()),
    }
}

/// `price_str` if sent, else the number `price`.
fn exact(d: &V<'_>, key: &str) -> R<i64> {
    match get(d, &format!("{key}_str")) {
        Some(s) => dec(s),
        None => dec(field(d, key)?),
    }
}

fn levels(d: &V<'_>, key: &str, is_bid: bool, out: &mut Vec<(bool, i64, i64)>) -> R<()> {
    for lv in array(field(d, key)?)? {
        match array(lv)? {
            [p, q] => out.push((is_bid, dec(p)?, dec(q)?)),
            other => return Err(format!("level {other:?}")),
        }
    }
    Ok(())
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        with_dom(line, |v| {
            if !dom::is_object(v) {
                return Err("not an object".into());
            }
            let event = str_field(v, "event")?;
            if event != "data" && event != "trade" {
                return Ok(vec![]);
            }
            if get(v, "data").is_some_and(|d| !dom::is_object(d)) {
                return Err("data is not an object".into());
            }
            let channel = str_field(v, "channel")?;
            if event == "trade" {
                let Some(pair) = channel.strip_prefix("live_trades_") else {
                    return Ok(vec![]);
                };
                let data = field(v, "data")?;
                let sell = match uint(field(data, "type")?)? {
                    0 => false,
                    1 => true,
                    t => return Err(format!("trade type {t}")),
                };
                return Ok(vec![Ref::Trade {
                    symbol: pair.to_string(),
                    id: uint(field(data, "id")?)?,
                    price: exact(data, "price")?,
                    qty: exact(data, "amount")?,
                    time_ns: time_ns(data)?,
                    sell,
                }]);
            }
            let (pair, snapshot) = if let Some(p) = channel.strip_prefix("diff_order_book_") {
                (p, false)
            } else if let Some(p) = channel.strip_prefix("order_book_") {
                (p, true)
            } else {
                // detail_order_book_, live_orders_, unknown channels.
                return Ok(vec![]);
            };
            if pair.is_empty() {
                return Err("empty pair".into());
            }
            let data = field(v, "data")?;
            time_ns(data)?;
            let mut lv = Vec::new();
            levels(data, "bids", true, &mut lv)?;
            levels(data, "asks", false, &mut lv)?;
            Ok(vec![Ref::Book {
                symbol: Some(pair.to_string()),
                snapshot,
                levels: lv,
            }])
        })
    }
}
