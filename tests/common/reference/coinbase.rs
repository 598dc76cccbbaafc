//! Coinbase reference decoder (legacy feed by `type`, Advanced Trade by `channel`).
use super::dom::{self, array, dec, field, get, str_field, uint, with_dom, R};
use super::{Ref, Reference};
use simd_json::BorrowedValue as V;

#[derive(Default)]
pub struct Decoder;

/// `side` is the maker's: a maker buy means the aggressor sold.
fn aggressor_sold(side: &str) -> R<bool> {
    match side {
        "buy" | "BUY" => Ok(true),
        "sell" | "SELL" => Ok(false),
        s => Err(format!("side {s}")),
    }
}

fn trade(t: &V<'_>) -> R<Ref> {
    Ok(Ref::Trade {
        symbol: str_field(t, "product_id")?.to_string(),
        id: uint(field(t, "trade_id")?)?,
        price: dec(field(t, "price")?)?,
        qty: dec(field(t, "size")?)?,
        time_ns: dom::rfc3339_ns(str_field(t, "time")?)?,
        sell: aggressor_sold(str_field(t, "side")?)?,
    })
}

/// A size that may be absent (0).
fn opt_dec(v: &V<'_>, key: &str) -> R<i64> {
    get(v, key).map_or(Ok(0), dec)
}

fn pairs(v: &V<'_>, key: &str, is_bid: bool, levels: &mut Vec<(bool, i64, i64)>) -> R<()> {
    for lv in array(field(v, key)?)? {
        match array(lv)? {
            [p, q] => levels.push((is_bid, dec(p)?, dec(q)?)),
            other => return Err(format!("{key} level {other:?}")),
        }
    }
    Ok(())
}

fn opt_time(v: &V<'_>) -> R<()> {
    if let Some(t) = get(v, "time") {
        dom::rfc3339_ns(dom::string(t)?)?;
    }
    Ok(())
}

fn legacy(kind: &str, v: &V<'_>) -> R<Vec<Ref>> {
    Ok(match kind {
        "match" | "last_match" => vec![trade(v)?],
        "ticker" => {
            uint(field(v, "sequence")?)?;
            opt_time(v)?;
            vec![Ref::Quote {
                symbol: str_field(v, "product_id")?.to_string(),
                bid: dec(field(v, "best_bid")?)?,
                bid_qty: opt_dec(v, "best_bid_size")?,
                ask: dec(field(v, "best_ask")?)?,
                ask_qty: opt_dec(v, "best_ask_size")?,
            }]
        }
        "snapshot" => {
            opt_time(v)?;
            let mut levels = Vec::new();
            pairs(v, "bids", true, &mut levels)?;
            pairs(v, "asks", false, &mut levels)?;
            vec![Ref::Book {
                symbol: Some(str_field(v, "product_id")?.to_string()),
                snapshot: true,
                levels,
            }]
        }
        "l2update" => {
            opt_time(v)?;
            let mut levels = Vec::new();
            for c in array(field(v, "changes")?)? {
                match array(c)? {
                    [side, p, q] => {
                        let is_bid = match dom::string(side)? {
                            "buy" => true,
                            "sell" => false,
                            s => return Err(format!("change side {s}")),
                        };
                        levels.push((is_bid, dec(p)?, dec(q)?));
                    }
                    other => return Err(format!("change {other:?}")),
                }
            }
            vec![Ref::Book {
                symbol: Some(str_field(v, "product_id")?.to_string()),
                snapshot: false,
                levels,
            }]
        }
        // subscriptions, heartbeat, error, status, full-channel order messages, unknown types.
        _ => vec![],
    })
}

fn advanced(channel: &str, v: &V<'_>) -> R<Vec<Ref>> {
    let mut out = Vec::new();
    match channel {
        "market_trades" => {
            dom::rfc3339_ns(str_field(v, "timestamp")?)?;
            for ev in array(field(v, "events")?)? {
                match str_field(ev, "type")? {
                    "snapshot" => {}
                    "update" => {
                        for t in array(field(ev, "trades")?)? {
                            out.push(trade(t)?);
                        }
                    }
                    k => return Err(format!("event type {k}")),
                }
            }
        }
        "ticker" | "ticker_batch" => {
            dom::rfc3339_ns(str_field(v, "timestamp")?)?;
            uint(field(v, "sequence_num")?)?;
            for ev in array(field(v, "events")?)? {
                for t in array(field(ev, "tickers")?)? {
                    out.push(Ref::Quote {
                        symbol: str_field(t, "product_id")?.to_string(),
                        bid: dec(field(t, "best_bid")?)?,
                        bid_qty: opt_dec(t, "best_bid_quantity")?,
                        ask: dec(field(t, "best_ask")?)?,
                        ask_qty: opt_dec(t, "best_ask_quantity")?,
                    });
                }
            }
        }
        "l2_data" => {
            dom::rfc3339_ns(str_field(v, "timestamp")?)?;
            for ev in array(field(v, "events")?)? {
                let snapshot = match str_field(ev, "type")? {
                    "snapshot" => true,
                    "update" => false,
                    k => return Err(format!("event type {k}")),
                };
                let mut levels = Vec::new();
                for u in array(field(ev, "updates")?)? {
                    let is_bid = match str_field(u, "side")? {
                        "bid" => true,
                        "offer" | "ask" => false,
                        s => return Err(format!("update side {s}")),
                    };
                    levels.push((
                        is_bid,
                        dec(field(u, "price_level")?)?,
                        dec(field(u, "new_quantity")?)?,
                    ));
                }
                out.push(Ref::Book {
                    symbol: Some(str_field(ev, "product_id")?.to_string()),
                    snapshot,
                    levels,
                });
            }
        }
        // heartbeats, subscriptions, status, candles, unknown channels.
        _ => {}
    }
    Ok(out)
}

impl Reference for Decoder {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String> {
        with_dom(line, |v| {
            if !dom::is_object(v) {
                return Err("not an object".into());
            }
            if let Some(t) = get(v, "type") {
                return legacy(dom::string(t)?, v);
            }
            if let Some(c) = get(v, "channel") {
                return advanced(dom::string(c)?, v);
            }
            Err("unrecognised".into())
        })
    }
}
