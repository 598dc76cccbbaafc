//! The user data stream: Binance's `executionReport`, `outboundAccountPosition`,
//! `balanceUpdate` and `listenKeyExpired` events, mapped onto the engine's order reports.
//!
//! - `x` (execution type) → [`ExecType`]: `NEW` → ack; `TRADE` → fill of `l` at `L`, maker
//!   when `m`; `CANCELED` → cancelled (the order is `C`, the cancel request `c`); `REJECTED` →
//!   rejected; `EXPIRED` and `TRADE_PREVENTION` → expired. `REPLACED` (an amend) is reported as
//!   an ack.
//! - `leaves` is `q − z` (order quantity minus cumulative filled), exact.
//! - The fee `n` is in asset `N`: kept as is when `N` is the quote asset, valued at the fill
//!   price when it is the base asset, and reported apart (not converted) in any other asset
//!   (BNB): [`UserEvent::Fill`] carries it.
//! - Client order ids: the engine's `u64` ids go out as `tw-<id>` (Binance allows
//!   `[.A-Za-z0-9:/_-]{1,36}`); reports on ids not of that form belong to someone else (an
//!   order placed by hand) and are told apart, not dropped.

use crate::core::num::parse_scaled;
use crate::core::order::{ExecType, Execution, Liquidity, VenueReject};
use crate::core::{InstrumentId, Price, Qty, Side};

/// The client order id sent for engine id `id`.
pub fn client_id_text(id: u64) -> String {
    format!("tw-{id}")
}

/// The engine id in a client order id, if it is one of ours.
pub fn client_id_of(text: &str) -> Option<u64> {
    text.strip_prefix("tw-")?.parse().ok()
}

/// What an instrument's symbol means to the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolInfo {
    /// Engine instrument.
    pub instrument: InstrumentId,
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset (`USDT`).
    pub quote: String,
}

/// One balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    /// Asset.
    pub asset: String,
    /// Free, 10⁻⁸.
    pub free: i64,
    /// Locked in orders, 10⁻⁸.
    pub locked: i64,
}

/// A user data stream event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserEvent {
    /// An engine order's report (`fee_other`: a fee in an asset that is neither base nor
    /// quote, e.g. BNB: (asset, amount 10⁻⁸)).
    Report {
        /// The report.
        exec: Execution,
        /// Venue order id.
        order_id: u64,
        /// Cumulative filled quantity.
        cum_qty: Qty,
        /// Fee in another asset.
        fee_other: Option<(String, i64)>,
        /// Venue status text (`X`).
        status: String,
    },
    /// A report on an order the engine did not place (its client id is not ours).
    Foreign {
        /// Symbol.
        symbol: String,
        /// Client id.
        client_id: String,
        /// Execution type.
        exec_type: String,
    },
    /// Balances that changed.
    Balances(Vec<Balance>),
    /// A deposit, withdrawal or transfer: (asset, delta 10⁻⁸).
    BalanceDelta(String, i64),
    /// The listen key expired: the stream must be opened again.
    ListenKeyExpired,
    /// Anything else (ignored).
    Other(String),
}

fn dec(v: &serde_json::Value, k: &str) -> Result<i64, String> {
    let t = v[k]
        .as_str()
        .ok_or_else(|| format!("field `{k}` missing or not a string"))?;
    parse_scaled(t.as_bytes()).map_err(|_| format!("field `{k}` = {t:?} is not a decimal"))
}

/// Parses one stream message (the bare event, or the `{"stream":…,"data":…}` /
/// `{"event":…}` wrappers). `symbol` resolves the engine's instruments.
pub fn parse(
    text: &[u8],
    symbol: impl Fn(&str) -> Option<SymbolInfo>,
) -> Result<UserEvent, String> {
    let root: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
    let v = if root.get("data").is_some() {
        &root["data"]
    } else if root.get("event").is_some() {
        &root["event"]
    } else {
        &root
    };
    let e = v["e"].as_str().unwrap_or("");
    match e {
        "executionReport" => {
            let sym = v["s"].as_str().ok_or("executionReport without `s`")?;
            let x = v["x"].as_str().ok_or("executionReport without `x`")?;
            let c = v["c"].as_str().unwrap_or("");
            let orig = v["C"].as_str().unwrap_or("");
            // A cancel's report names the cancel request in `c` and the order in `C`.
            let cid_text = if x == "CANCELED" && !orig.is_empty() {
                orig
            } else {
                c
            };
            let (Some(id), Some(info)) = (client_id_of(cid_text), symbol(sym)) else {
                return Ok(UserEvent::Foreign {
                    symbol: sym.to_string(),
                    client_id: cid_text.to_string(),
                    exec_type: x.to_string(),
                });
            };
            let side = match v["S"].as_str() {
                Some("BUY") => Side::Buy,
                Some("SELL") => Side::Sell,
                s => return Err(format!("executionReport side {s:?}")),
            };
            let q = dec(v, "q")?;
            let z = dec(v, "z")?;
            let (l, px) = (dec(v, "l")?, dec(v, "L")?);
            let exec = match x {
                "NEW" | "REPLACED" => ExecType::Ack,
                "TRADE" => ExecType::Fill,
                "CANCELED" => ExecType::Cancelled,
                "REJECTED" => ExecType::Rejected(match v["r"].as_str().unwrap_or("") {
                    "ORDER_WOULD_IMMEDIATELY_MATCH_AND_TAKE" | "WOULD_TAKE" => {
                        VenueReject::WouldCross
                    }
                    "UNKNOWN_ORDER" => VenueReject::UnknownOrder,
                    _ => VenueReject::Other,
                }),
                "EXPIRED" | "TRADE_PREVENTION" => ExecType::Expired,
                other => return Ok(UserEvent::Other(format!("executionReport x={other}"))),
            };
            let (mut fee, mut fee_other) = (0i64, None);
            if exec == ExecType::Fill {
                let n = v["n"]
                    .as_str()
                    .map(|t| parse_scaled(t.as_bytes()))
                    .transpose()
                    .map_err(|_| "field `n` is not a decimal".to_string())?
                    .unwrap_or(0);
                let asset = v["N"].as_str().unwrap_or("");
                if n != 0 {
                    if asset == info.quote {
                        fee = n;
                    } else if asset == info.base {
                        // Base units × price, rounded half away from zero to 10⁻⁸.
                        let f = i128::from(n) * i128::from(px);
                        let r = (f + f.signum() * 50_000_000) / 100_000_000;
                        fee = i64::try_from(r).map_err(|_| "fee out of range".to_string())?;
                    } else {
                        fee_other = Some((asset.to_string(), n));
                    }
                }
            }
            let market_ms = v["T"].as_u64().or_else(|| v["E"].as_u64()).unwrap_or(0);
            Ok(UserEvent::Report {
                exec: Execution {
                    client_order_id: id,
                    instrument: info.instrument,
                    side,
                    exec,
                    price: if exec == ExecType::Fill {
                        Price(px)
                    } else {
                        Price::ZERO
                    },
                    qty: if exec == ExecType::Fill {
                        Qty(l)
                    } else {
                        Qty::ZERO
                    },
                    leaves: Qty(if ends_order(exec) { 0 } else { (q - z).max(0) }),
                    fee,
                    liquidity: if v["m"].as_bool() == Some(true) {
                        Liquidity::Maker
                    } else {
                        Liquidity::Taker
                    },
                    market_ns: market_ms.saturating_mul(1_000_000),
                },
                order_id: v["i"].as_u64().unwrap_or(0),
                cum_qty: Qty(z),
                fee_other,
                status: v["X"].as_str().unwrap_or("").to_string(),
            })
        }
        "outboundAccountPosition" => {
            let mut out = Vec::new();
            for b in v["B"]
                .as_array()
                .ok_or("outboundAccountPosition without `B`")?
            {
                out.push(Balance {
                    asset: b["a"].as_str().unwrap_or("").to_string(),
                    free: dec(b, "f")?,
                    locked: dec(b, "l")?,
                });
            }
            Ok(UserEvent::Balances(out))
        }
        "balanceUpdate" => Ok(UserEvent::BalanceDelta(
            v["a"].as_str().unwrap_or("").to_string(),
            dec(v, "d")?,
        )),
        "listenKeyExpired" | "eventStreamTerminated" => Ok(UserEvent::ListenKeyExpired),
        other => Ok(UserEvent::Other(other.to_string())),
    }
}

/// Nothing stays working after a report of this kind.
fn ends_order(e: ExecType) -> bool {
    matches!(
        e,
        ExecType::Cancelled | ExecType::Rejected(_) | ExecType::Expired
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth() -> impl Fn(&str) -> Option<SymbolInfo> {
        |s: &str| {
            (s == "ETHBTC").then(|| SymbolInfo {
                instrument: InstrumentId(3),
                base: "ETH".into(),
                quote: "BTC".into(),
            })
        }
    }

    /// Binance's documented `executionReport` (user data stream docs), with our client id.
    const NEW: &str = r#"{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"tw-17","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}"#;

    #[test]
    fn a_new_order_is_an_ack_with_everything_left() {
        let UserEvent::Report {
            exec,
            order_id,
            status,
            ..
        } = parse(NEW.as_bytes(), eth()).unwrap()
        else {
            panic!()
        };
        assert_eq!(exec.exec, ExecType::Ack);
        assert_eq!(exec.client_order_id, 17);
        assert_eq!(exec.instrument, InstrumentId(3));
        assert_eq!(exec.leaves, Qty(100_000_000));
        assert_eq!(exec.market_ns, 1_499_405_658_657_000_000);
        assert_eq!((order_id, status.as_str()), (4_293_153, "NEW"));
    }

    #[test]
    fn fills_carry_price_quantity_fee_and_liquidity() {
        let t = NEW
            .replace(
                r#""x":"NEW","X":"NEW""#,
                r#""x":"TRADE","X":"PARTIALLY_FILLED""#,
            )
            .replace(
                r#""l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null"#,
                r#""l":"0.40000000","z":"0.40000000","L":"0.10264410","n":"0.00004106","N":"BTC""#,
            )
            .replace(r#""m":false"#, r#""m":true"#);
        let UserEvent::Report {
            exec,
            cum_qty,
            fee_other,
            ..
        } = parse(t.as_bytes(), eth()).unwrap()
        else {
            panic!()
        };
        assert_eq!(exec.exec, ExecType::Fill);
        assert_eq!(
            (exec.price, exec.qty, exec.leaves),
            (Price(10_264_410), Qty(40_000_000), Qty(60_000_000))
        );
        assert_eq!(
            (exec.fee, exec.liquidity, cum_qty, fee_other),
            (4_106, Liquidity::Maker, Qty(40_000_000), None)
        );
        // A fee in the base asset is valued at the fill price; in BNB it is kept apart.
        let base = t.replace(
            r#""n":"0.00004106","N":"BTC""#,
            r#""n":"0.00040000","N":"ETH""#,
        );
        let UserEvent::Report { exec, .. } = parse(base.as_bytes(), eth()).unwrap() else {
            panic!()
        };
        assert_eq!(exec.fee, 4_106); // 0.0004 ETH × 0.1026441 BTC = 0.00004105764 → 0.00004106
        let bnb = t.replace(r#""N":"BTC""#, r#""N":"BNB""#);
        let UserEvent::Report {
            exec, fee_other, ..
        } = parse(bnb.as_bytes(), eth()).unwrap()
        else {
            panic!()
        };
        assert_eq!((exec.fee, fee_other), (0, Some(("BNB".into(), 4_106))));
    }

    #[test]
    fn cancels_rejects_foreign_orders_and_account_events() {
        let c = NEW
            .replace(r#""c":"tw-17""#, r#""c":"cancel-abc""#)
            .replace(r#""C":"""#, r#""C":"tw-17""#)
            .replace(r#""x":"NEW","X":"NEW""#, r#""x":"CANCELED","X":"CANCELED""#);
        let UserEvent::Report { exec, .. } = parse(c.as_bytes(), eth()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (exec.exec, exec.client_order_id, exec.leaves),
            (ExecType::Cancelled, 17, Qty::ZERO)
        );
        let r = NEW
            .replace(r#""x":"NEW","X":"NEW""#, r#""x":"REJECTED","X":"REJECTED""#)
            .replace(
                r#""r":"NONE""#,
                r#""r":"ORDER_WOULD_IMMEDIATELY_MATCH_AND_TAKE""#,
            );
        let UserEvent::Report { exec, .. } = parse(r.as_bytes(), eth()).unwrap() else {
            panic!()
        };
        assert_eq!(exec.exec, ExecType::Rejected(VenueReject::WouldCross));
        let f = NEW.replace(r#""c":"tw-17""#, r#""c":"web_abc""#);
        assert!(matches!(
            parse(f.as_bytes(), eth()).unwrap(),
            UserEvent::Foreign { .. }
        ));
        let p = r#"{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}"#;
        assert_eq!(
            parse(p.as_bytes(), eth()).unwrap(),
            UserEvent::Balances(vec![Balance {
                asset: "ETH".into(),
                free: 1_000_000_000_000,
                locked: 0
            }])
        );
        let d = r#"{"e":"balanceUpdate","E":1573200697110,"a":"BTC","d":"100.00000000","T":1573200697068}"#;
        assert_eq!(
            parse(d.as_bytes(), eth()).unwrap(),
            UserEvent::BalanceDelta("BTC".into(), 10_000_000_000)
        );
        let wrapped = format!(r#"{{"subscriptionId":0,"event":{p}}}"#);
        assert!(matches!(
            parse(wrapped.as_bytes(), eth()).unwrap(),
            UserEvent::Balances(_)
        ));
        assert_eq!(
            parse(br#"{"e":"listenKeyExpired","E":1}"#, eth()).unwrap(),
            UserEvent::ListenKeyExpired
        );
        for bad in [
            &b"{"[..],
            br#"{"e":"executionReport"}"#,
            br#"{"e":"outboundAccountPosition","B":[{"a":"X","f":"abc","l":"0"}]}"#,
        ] {
            assert!(parse(bad, eth()).is_err());
        }
        assert_eq!(client_id_of(&client_id_text(u64::MAX)), Some(u64::MAX));
        assert!(client_id_text(u64::MAX).len() <= 36);
    }
}
