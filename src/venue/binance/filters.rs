//! Binance's symbol filters (from `GET /api/v3/exchangeInfo`), applied to an order before it
//! is sent, so the venue never rejects an order for its tick, lot or notional.
//!
//! - `PRICE_FILTER`: a price inside `[minPrice, maxPrice]` on the `tickSize` grid. A buy's price
//!   is rounded down to the grid and a sell's up: rounding never makes an order more
//!   aggressive than the strategy asked.
//! - `LOT_SIZE` (limit orders) and `MARKET_LOT_SIZE` (market orders, when its step is set): the
//!   quantity rounded down to `stepSize`, then checked against `minQty` and `maxQty`.
//! - `NOTIONAL` / `MIN_NOTIONAL`: price × quantity at least `minNotional` (and at most
//!   `maxNotional`); a market order is valued at the reference price the caller gives, and
//!   checked only when the filter applies to market orders.
//!
//! Values are exact 10⁻⁸ integers, parsed from the venue's decimal strings; 0 means "not set".

use std::collections::HashMap;

use crate::core::num::parse_scaled;
use crate::core::{OrderType, Side};

/// One symbol's trading rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolRules {
    /// Venue symbol.
    pub symbol: String,
    /// `TRADING`, `BREAK`, `HALT`…
    pub status: String,
    /// Price bounds and grid (10⁻⁸; 0 = not set).
    pub min_price: i64,
    /// Largest price.
    pub max_price: i64,
    /// Price grid.
    pub tick: i64,
    /// Limit-order lot bounds and step.
    pub min_qty: i64,
    /// Largest quantity.
    pub max_qty: i64,
    /// Quantity grid.
    pub step: i64,
    /// Market-order lot (`MARKET_LOT_SIZE`), when set.
    pub market_min_qty: i64,
    /// Largest market quantity.
    pub market_max_qty: i64,
    /// Market quantity grid.
    pub market_step: i64,
    /// Smallest notional (quote at 10⁻⁸).
    pub min_notional: i64,
    /// Largest notional (0 = none).
    pub max_notional: i64,
    /// The minimum applies to market orders.
    pub min_to_market: bool,
    /// The maximum applies to market orders.
    pub max_to_market: bool,
    /// Order types the symbol takes (`LIMIT`, `LIMIT_MAKER`, `MARKET`, …).
    pub order_types: Vec<String>,
}

/// The order as the venue will take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filtered {
    /// Price on the grid (limit orders; 0 for market).
    pub price: i64,
    /// Quantity on the grid.
    pub qty: i64,
}

/// Why an order was refused before sending.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{symbol}: {filter}: {detail}")]
pub struct FilterReject {
    /// Symbol.
    pub symbol: String,
    /// The filter (`PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`, `STATUS`, `ORDER_TYPE`).
    pub filter: &'static str,
    /// What was wrong, with the numbers.
    pub detail: String,
}

fn round_down(v: i64, base: i64, step: i64) -> i64 {
    if step <= 0 {
        return v;
    }
    base + (v - base).div_euclid(step) * step
}

fn round_up(v: i64, base: i64, step: i64) -> i64 {
    if step <= 0 {
        return v;
    }
    let d = round_down(v, base, step);
    if d == v {
        v
    } else {
        d.saturating_add(step)
    }
}

fn dec(v: i64) -> String {
    crate::core::num::format_scaled(v, 8)
}

impl SymbolRules {
    /// Applies the filters to an order: `price` is ignored for market orders, where
    /// `reference` (the last trade or mid) values the notional.
    pub fn apply(
        &self,
        side: Side,
        kind: OrderType,
        price: i64,
        qty: i64,
        reference: i64,
    ) -> Result<Filtered, FilterReject> {
        let no = |filter: &'static str, detail: String| FilterReject {
            symbol: self.symbol.clone(),
            filter,
            detail,
        };
        if self.status != "TRADING" {
            return Err(no(
                "STATUS",
                format!("the symbol is {}, not TRADING", self.status),
            ));
        }
        let type_name = match kind {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
        };
        if !self.order_types.is_empty() && !self.order_types.iter().any(|t| t == type_name) {
            return Err(no(
                "ORDER_TYPE",
                format!("{type_name} orders are not taken"),
            ));
        }
        let market = kind == OrderType::Market;
        let price = if market {
            0
        } else {
            let p = match side {
                Side::Buy => round_down(price, self.min_price, self.tick),
                Side::Sell => round_up(price, self.min_price, self.tick),
            };
            if p <= 0 || (self.min_price > 0 && p < self.min_price) {
                return Err(no(
                    "PRICE_FILTER",
                    format!(
                        "price {} is below the minimum {}",
                        dec(price),
                        dec(self.min_price)
                    ),
                ));
            }
            if self.max_price > 0 && p > self.max_price {
                return Err(no(
                    "PRICE_FILTER",
                    format!(
                        "price {} is above the maximum {}",
                        dec(price),
                        dec(self.max_price)
                    ),
                ));
            }
            p
        };
        let (min_q, max_q, step) = if market && self.market_step > 0 {
            (self.market_min_qty, self.market_max_qty, self.market_step)
        } else {
            (self.min_qty, self.max_qty, self.step)
        };
        let q = round_down(qty, 0, step);
        if q <= 0 || q < min_q {
            return Err(no(
                "LOT_SIZE",
                format!(
                    "quantity {} is below the minimum {} (step {})",
                    dec(qty),
                    dec(min_q),
                    dec(step)
                ),
            ));
        }
        if max_q > 0 && q > max_q {
            return Err(no(
                "LOT_SIZE",
                format!("quantity {} is above the maximum {}", dec(qty), dec(max_q)),
            ));
        }
        let at = if market { reference } else { price };
        let notional = i128::from(at) * i128::from(q) / 100_000_000;
        let check_min = self.min_notional > 0 && (!market || self.min_to_market);
        if check_min && notional < i128::from(self.min_notional) {
            return Err(no(
                "NOTIONAL",
                format!(
                    "notional {} is below the minimum {}",
                    dec(i64::try_from(notional).unwrap_or(i64::MAX)),
                    dec(self.min_notional)
                ),
            ));
        }
        let check_max = self.max_notional > 0 && (!market || self.max_to_market);
        if check_max && notional > i128::from(self.max_notional) {
            return Err(no(
                "NOTIONAL",
                format!(
                    "notional {} is above the maximum {}",
                    dec(i64::try_from(notional).unwrap_or(i64::MAX)),
                    dec(self.max_notional)
                ),
            ));
        }
        Ok(Filtered { price, qty: q })
    }
}

/// A rate limit from `exchangeInfo.rateLimits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// `REQUEST_WEIGHT`, `ORDERS` or `RAW_REQUESTS`.
    pub kind: crate::venue::binance::rate::LimitKind,
    /// Window length, ms.
    pub interval_ms: u64,
    /// Most allowed per window.
    pub limit: u64,
}

/// What `exchangeInfo` says.
#[derive(Clone, Debug, Default)]
pub struct ExchangeInfo {
    /// Rules by venue symbol.
    pub symbols: HashMap<String, SymbolRules>,
    /// Rate limits.
    pub rate_limits: Vec<RateLimitSpec>,
}

/// Interval name and count → ms.
pub fn interval_ms(interval: &str, num: u64) -> Option<u64> {
    let unit = match interval {
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return None,
    };
    num.checked_mul(unit).filter(|v| *v > 0)
}

impl ExchangeInfo {
    /// Parses the `exchangeInfo` document. Unknown filters are ignored; a malformed value is
    /// an error naming the symbol and field.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        use crate::venue::binance::rate::LimitKind;
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("exchangeInfo is not JSON: {e}"))?;
        let mut info = ExchangeInfo::default();
        for l in v["rateLimits"].as_array().into_iter().flatten() {
            let kind = match l["rateLimitType"].as_str() {
                Some("REQUEST_WEIGHT") => LimitKind::RequestWeight,
                Some("ORDERS") => LimitKind::Orders,
                Some("RAW_REQUESTS") => LimitKind::RawRequests,
                _ => continue,
            };
            let ms = interval_ms(
                l["interval"].as_str().unwrap_or(""),
                l["intervalNum"].as_u64().unwrap_or(0),
            )
            .ok_or_else(|| format!("exchangeInfo: rate limit with a bad interval: {l}"))?;
            let limit = l["limit"]
                .as_u64()
                .ok_or_else(|| format!("exchangeInfo: rate limit without a limit: {l}"))?;
            info.rate_limits.push(RateLimitSpec {
                kind,
                interval_ms: ms,
                limit,
            });
        }
        let syms = v["symbols"]
            .as_array()
            .ok_or("exchangeInfo has no `symbols` list")?;
        for s in syms {
            let symbol = s["symbol"]
                .as_str()
                .ok_or("exchangeInfo: a symbol without a name")?
                .to_string();
            let mut r = SymbolRules {
                symbol: symbol.clone(),
                status: s["status"].as_str().unwrap_or("").to_string(),
                order_types: s["orderTypes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect(),
                ..SymbolRules::default()
            };
            for f in s["filters"].as_array().into_iter().flatten() {
                let num = |k: &str| -> Result<i64, String> {
                    match f.get(k).and_then(|x| x.as_str()) {
                        None => Ok(0),
                        Some(t) => parse_scaled(t.as_bytes()).map_err(|_| {
                            format!("exchangeInfo: {symbol} {k} = {t:?} is not a decimal")
                        }),
                    }
                };
                match f["filterType"].as_str() {
                    Some("PRICE_FILTER") => {
                        r.min_price = num("minPrice")?;
                        r.max_price = num("maxPrice")?;
                        r.tick = num("tickSize")?;
                    }
                    Some("LOT_SIZE") => {
                        r.min_qty = num("minQty")?;
                        r.max_qty = num("maxQty")?;
                        r.step = num("stepSize")?;
                    }
                    Some("MARKET_LOT_SIZE") => {
                        r.market_min_qty = num("minQty")?;
                        r.market_max_qty = num("maxQty")?;
                        r.market_step = num("stepSize")?;
                    }
                    Some("MIN_NOTIONAL") => {
                        r.min_notional = num("minNotional")?;
                        r.min_to_market = f["applyToMarket"].as_bool().unwrap_or(true);
                    }
                    Some("NOTIONAL") => {
                        r.min_notional = num("minNotional")?;
                        r.max_notional = num("maxNotional")?;
                        r.min_to_market = f["applyMinToMarket"].as_bool().unwrap_or(true);
                        r.max_to_market = f["applyMaxToMarket"].as_bool().unwrap_or(false);
                    }
                    _ => {}
                }
            }
            info.symbols.insert(symbol, r);
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Binance's `exchangeInfo` for BTCUSDT (filters as the docs list them).
    pub const EXCHANGE_INFO: &str = r#"{"timezone":"UTC","serverTime":1700000000000,
      "rateLimits":[
        {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000},
        {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100},
        {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":200000},
        {"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":61000}],
      "symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT",
        "orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS_LIMIT","TAKE_PROFIT_LIMIT"],
        "filters":[
          {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},
          {"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"},
          {"filterType":"ICEBERG_PARTS","limit":10},
          {"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"83.91353740","stepSize":"0.00000000"},
          {"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5},
          {"filterType":"MAX_NUM_ORDERS","maxNumOrders":200}]}]}"#;

    fn btc() -> SymbolRules {
        ExchangeInfo::parse(EXCHANGE_INFO.as_bytes())
            .unwrap()
            .symbols["BTCUSDT"]
            .clone()
    }

    const E8: i64 = 100_000_000;

    #[test]
    fn exchange_info_gives_filters_and_limits() {
        let info = ExchangeInfo::parse(EXCHANGE_INFO.as_bytes()).unwrap();
        assert_eq!(info.rate_limits.len(), 4);
        assert_eq!(info.rate_limits[0].interval_ms, 60_000);
        assert_eq!(info.rate_limits[1].limit, 100);
        let r = &info.symbols["BTCUSDT"];
        assert_eq!((r.tick, r.step, r.min_qty), (1_000_000, 1_000, 1_000));
        assert_eq!(r.min_notional, 5 * E8);
        assert!(r.min_to_market && !r.max_to_market);
        assert!(ExchangeInfo::parse(b"{\"symbols\":[{\"symbol\":\"X\",\"filters\":[{\"filterType\":\"LOT_SIZE\",\"stepSize\":\"abc\"}]}]}").unwrap_err().contains("stepSize"));
        assert!(ExchangeInfo::parse(b"[1,2").is_err());
    }

    #[test]
    fn prices_round_toward_passive_and_quantities_down() {
        let r = btc();
        // 60000.123 buy → 60000.12; sell → 60000.13; 0.123456789 → 0.12345.
        let f = r
            .apply(
                Side::Buy,
                OrderType::Limit,
                6_000_012_300_000,
                12_345_678,
                0,
            )
            .unwrap();
        assert_eq!(
            f,
            Filtered {
                price: 6_000_012_000_000,
                qty: 12_345_000
            }
        );
        let f = r
            .apply(
                Side::Sell,
                OrderType::Limit,
                6_000_012_300_000,
                12_345_678,
                0,
            )
            .unwrap();
        assert_eq!(f.price, 6_000_013_000_000);
        // On the grid already: unchanged.
        let f = r
            .apply(
                Side::Sell,
                OrderType::Limit,
                6_000_012_000_000,
                12_345_000,
                0,
            )
            .unwrap();
        assert_eq!(
            f,
            Filtered {
                price: 6_000_012_000_000,
                qty: 12_345_000
            }
        );
    }

    #[test]
    fn orders_the_venue_would_refuse_are_refused_here() {
        let r = btc();
        let e = r
            .apply(Side::Buy, OrderType::Limit, 60_000 * E8, 999, 0)
            .unwrap_err();
        assert_eq!(e.filter, "LOT_SIZE");
        // 0.00005 BTC at 60,000 = 3 USDT < 5.
        let e = r
            .apply(Side::Buy, OrderType::Limit, 60_000 * E8, 5_000, 0)
            .unwrap_err();
        assert_eq!(e.filter, "NOTIONAL");
        assert!(
            e.to_string()
                .contains("notional 3.00000000 is below the minimum 5.00000000"),
            "{e}"
        );
        // A market order is valued at the reference price.
        assert!(r
            .apply(Side::Sell, OrderType::Market, 0, 5_000, 60_000 * E8)
            .is_err());
        assert!(r
            .apply(Side::Sell, OrderType::Market, 0, 10_000, 60_000 * E8)
            .is_ok());
        let e = r
            .apply(Side::Buy, OrderType::Limit, 2_000_000 * E8, 100_000, 0)
            .unwrap_err();
        assert_eq!(e.filter, "PRICE_FILTER");
        let mut halted = r.clone();
        halted.status = "HALT".into();
        assert_eq!(
            halted
                .apply(Side::Buy, OrderType::Limit, 60_000 * E8, 100_000, 0)
                .unwrap_err()
                .filter,
            "STATUS"
        );
    }
}
