//! Bitfinex reference decoder: remembers channel ids from `subscribed` events in a map.
//!
//! `te` is the trade (`tu`, its confirmation, carries nothing new); trade snapshots, raw (R0)
//! books, funding, candles and data on unknown channel ids carry nothing.
use std::collections::HashMap;

use super::dom::{self, array, field, get, str_field, uint, with_dom, R};
use super::{Ref, Reference};
use simd_json::{BorrowedValue as V, StaticNode};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Trades,
    Ticker,
    Book,
    Other,
}

#[derive(Default)]
pub struct Decoder {
    chans: HashMap<u64, (Kind, String)>,
}

fn positive(v: &V<'_>) -> R<i64> {
    let x = dom::float_dec(v)?;
    if x < 0 {
        return Err(format!("negative {x}"));
    }
    Ok(x)
}

fn int(v: &V<'_>) -> R<u64> {
    match v {
        V::Static(StaticNode::U64(_) | StaticNode::I64(_)) => uint(v),
        other => Err(format!("not an integer: {other:?}")),
    }
}

fn level(v: &V<'_>) -> R<(bool, i64, i64)> {
    match array(v)? {
        [p, c, a] => {
            let price = positive(p)?;
            let count = int(c)?;
            let amount = dom::float_dec(a)?;
            if amount == 0 {
                return Err("zero amount".into());
            }
            let qty = if count == 0 { 0 } else { amount.abs() };
            Ok((amount > 0, price, qty))
        }
        other => Err(format!("level {other:?}")),
    }
}

fn trade(v: &V<'_>, symbol: &str) -> R<Ref> {
    match array(v)? {
        [id, mts, amount, price] => {
            let amount = dom::float_dec(amount)?;
            if amount == 0 {
                return Err("zero amount".into());
            }
            Ok(Ref::Trade {
                symbol: symbol.to_string(),
                id: int(id)?,
                price: positive(price)?,
                qty: amount.abs(),
                time_ns: int(mts)?.checked_mul(1_000_000).ok_or("mts overflow")?,
                sell: amount < 0,
            })
        }
        other => Err(format!("trade {other:?}")),
    }
}

impl Decoder {
    fn event(&mut self, v: &V<'_>) -> R<Vec<Ref>> {
        match str_field(v, "event")? {
            "subscribed" => {
                let id = int(field(v, "chanId")?)?;
                let kind = match str_field(v, "channel")? {
                    "trades" => Kind::Trades,
                    "ticker" => Kind::Ticker,
                    "book" => match get(v, "prec").map(dom::string).transpose()? {
                        None | Some("P0" | "P1" | "P2" | "P3" | "P4") => Kind::Book,
                        Some("R0") => Kind::Other,
                        Some(p) => return Err(format!("prec {p}")),
                    },
                    _ => Kind::Other,
                };
                let symbol = if kind == Kind::Other {
                    String::new()
                } else {
                    str_field(v, "symbol")?.to_string()
                };
                let kind = if symbol.starts_with('f') {
                    Kind::Other
                } else {
                    kind
                };
                self.chans.insert(id, (kind, symbol));
            }
            "unsubscribed" => {
                self.chans.remove(&int(field(v, "chanId")?)?);
            }
            _ => {}
        }
        Ok(vec![])
    }

    fn data(&mut self, a: &[V<'_>]) -> R<Vec<Ref>> {
        if a.len() < 2 {
            return Err("short frame".into());
        }
        let id = int(&a[0])?;
        // After the payload: up to two integers (sequence number, timestamp).
        let payload_end = match &a[1] {
            V::String(s) if matches!(s.as_ref(), "te" | "tu" | "fte" | "ftu" | "cs") => 3,
            _ => 2,
        };
        let tail = a.get(payload_end..).unwrap_or(&[]);
        if tail.len() > 2 {
            return Err("long frame".into());
        }
        for t in tail {
            int(t)?;
        }
        let chan = self.chans.get(&id).cloned();
        match &a[1] {
            V::String(s) => match s.as_ref() {
                "te" | "tu" => {
                    let Some((kind, symbol)) = chan else {
                        return Ok(vec![]);
                    };
                    match kind {
                        Kind::Trades => {
                            let t = trade(a.get(2).ok_or("no trade")?, &symbol)?;
                            Ok(if s == "te" { vec![t] } else { vec![] })
                        }
                        Kind::Other => Ok(vec![]),
                        _ => Err("trade on a non-trade channel".into()),
                    }
                }
                // hb, cs, fte/ftu and unknown strings.
                _ => Ok(vec![]),
            },
            V::Array(payload) => {
                let Some((kind, symbol)) = chan else {
                    return Ok(vec![]);
                };
                match kind {
                    Kind::Trades => {
                        for t in payload.iter() {
                            trade(t, &symbol)?;
                        }
                        Ok(vec![])
                    }
                    Kind::Ticker => match payload.as_slice() {
                        [bid, bid_qty, ask, ask_qty, _, _, _, _, _, _] => Ok(vec![Ref::Quote {
                            symbol,
                            bid: positive(bid)?,
                            bid_qty: positive(bid_qty)?,
                            ask: positive(ask)?,
                            ask_qty: positive(ask_qty)?,
                        }]),
                        other => Err(format!("ticker {other:?}")),
                    },
                    Kind::Book => {
                        let snapshot = !matches!(payload.first(), Some(V::Static(_)));
                        let levels = if snapshot {
                            payload.iter().map(level).collect::<R<Vec<_>>>()?
                        } else {
                            vec![level(&a[1])?]
                        };
                        Ok(vec![Ref::Book {
                            symbol: Some(symbol),
                            snapshot,
                            levels,
                        }])
                    }
                    Kind::Other => Ok(vec![]),
                }
            }
            other => Err(format!("payload {other:?}")),
        }
    }
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        with_dom(line, |v| match v {
            V::Object(_) => self.event(v),
            V::Array(a) => self.data(a),
            _ => Err("not an array or object".into()),
        })
    }
}
