//! Orders on the wire: a venue's request body written into a caller's fixed buffer, exact
//! decimals from the scaled integers, no allocation, no formatting machinery, no panic on
//! any input (a buffer too small gives `None`).
//!
//! Binance spot's `POST /api/v3/order` takes its parameters as a URL-encoded query string;
//! the signature (HMAC-SHA256 of that string) is appended by the live venue client.

use crate::core::num::SCALE_DECIMALS;
use crate::core::order::{TimeInForce, VenueOrder};
use crate::core::{OrderType, Side};

/// A writer over a fixed byte buffer.
pub struct Buf<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> Buf<'a> {
    /// An empty writer over `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `s`, or fails when it does not fit (the buffer is then left as it was).
    #[inline]
    pub fn put(&mut self, s: &[u8]) -> Option<()> {
        let end = self.len.checked_add(s.len())?;
        self.out.get_mut(self.len..end)?.copy_from_slice(s);
        self.len = end;
        Some(())
    }

    /// Appends `v` in decimal.
    #[inline]
    pub fn uint(&mut self, v: u64) -> Option<()> {
        self.put(crate::core::num::u64_digits(v, &mut [0u8; 20]))
    }

    /// Appends `value` (10⁻⁸ scale) with exactly `decimals` decimals when that is exact,
    /// else with as many as needed (up to 8): no digit is ever lost.
    #[inline]
    pub fn scaled(&mut self, value: i64, decimals: u32) -> Option<()> {
        let decimals = decimals.min(SCALE_DECIMALS);
        if value < 0 {
            self.put(b"-")?;
        }
        let abs = value.unsigned_abs();
        let scale = 10u64.pow(SCALE_DECIMALS);
        self.uint(abs / scale)?;
        let mut frac = abs % scale;
        let mut shown = SCALE_DECIMALS;
        while shown > decimals && frac.is_multiple_of(10) {
            frac /= 10;
            shown -= 1;
        }
        if shown == 0 {
            return Some(());
        }
        let mut digits = [b'0'; 8];
        for k in (0..shown as usize).rev() {
            digits[k] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        self.put(b".")?;
        self.put(&digits[..shown as usize])
    }
}

/// How a venue shows one instrument's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format<'a> {
    /// The venue's symbol (`BTCUSDT`).
    pub symbol: &'a str,
    /// Decimals of the price tick.
    pub price_decimals: u32,
    /// Decimals of the lot.
    pub qty_decimals: u32,
}

/// Writes a Binance spot new-order query string for `order` into `out`; returns its length,
/// or `None` when `out` is too small or the symbol is not plain ASCII letters and digits.
///
/// `symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price=60000.01&newClientOrderId=tw-42&newOrderRespType=RESULT&recvWindow=5000&timestamp=1723161255342`
///
/// A post-only order is a `LIMIT_MAKER` (no time in force); a market order carries no price.
pub fn binance_new_order(
    order: &VenueOrder,
    fmt: Format<'_>,
    recv_window_ms: u64,
    timestamp_ms: u64,
    out: &mut [u8],
) -> Option<usize> {
    if fmt.symbol.is_empty() || !fmt.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let i = &order.intent;
    let mut b = Buf::new(out);
    b.put(b"symbol=")?;
    b.put(fmt.symbol.as_bytes())?;
    b.put(match i.side {
        Side::Buy => b"&side=BUY",
        Side::Sell => b"&side=SELL",
    })?;
    match (i.order_type, i.tif) {
        (OrderType::Market, _) => b.put(b"&type=MARKET")?,
        (OrderType::Limit, TimeInForce::PostOnly) => b.put(b"&type=LIMIT_MAKER")?,
        (OrderType::Limit, TimeInForce::Gtc) => b.put(b"&type=LIMIT&timeInForce=GTC")?,
        (OrderType::Limit, TimeInForce::Ioc) => b.put(b"&type=LIMIT&timeInForce=IOC")?,
    }
    b.put(b"&quantity=")?;
    b.scaled(i.qty.0, fmt.qty_decimals)?;
    if i.order_type == OrderType::Limit {
        b.put(b"&price=")?;
        b.scaled(i.price.0, fmt.price_decimals)?;
    }
    b.put(b"&newClientOrderId=tw-")?;
    b.uint(order.client_order_id)?;
    b.put(b"&newOrderRespType=RESULT&recvWindow=")?;
    b.uint(recv_window_ms)?;
    b.put(b"&timestamp=")?;
    b.uint(timestamp_ms)?;
    Some(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order::{OrderIntent, Purpose};
    use crate::core::{InstrumentId, Price, Qty};
    use proptest::prelude::*;

    fn order(side: Side, ty: OrderType, tif: TimeInForce, price: i64, qty: i64) -> VenueOrder {
        VenueOrder {
            client_order_id: 42,
            intent: OrderIntent {
                instrument: InstrumentId(0),
                strategy: 0,
                side,
                order_type: ty,
                price: Price(price),
                qty: Qty(qty),
                tif,
                purpose: Purpose::Open,
                decided_ns: 0,
            },
            sent_ns: 0,
        }
    }

    const BTC: Format<'static> = Format {
        symbol: "BTCUSDT",
        price_decimals: 2,
        qty_decimals: 5,
    };

    fn encode(o: &VenueOrder) -> String {
        let mut buf = [0u8; 512];
        let n = binance_new_order(o, BTC, 5000, 1_723_161_255_342, &mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn limit_market_and_maker_orders() {
        let limit = order(
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            6_000_001_000_000,
            100_000,
        );
        assert_eq!(
            encode(&limit),
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price=60000.01&newClientOrderId=tw-42&newOrderRespType=RESULT&recvWindow=5000&timestamp=1723161255342"
        );
        let market = order(Side::Sell, OrderType::Market, TimeInForce::Ioc, 1, 12_345);
        assert_eq!(
            encode(&market),
            "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.00012345&newClientOrderId=tw-42&newOrderRespType=RESULT&recvWindow=5000&timestamp=1723161255342"
        );
        let maker = order(
            Side::Sell,
            OrderType::Limit,
            TimeInForce::PostOnly,
            5_000_000_000,
            100_000_000,
        );
        assert!(encode(&maker).contains("&type=LIMIT_MAKER&quantity=1.00000&price=50.00&"));
    }

    #[test]
    fn a_small_buffer_or_a_bad_symbol_gives_none() {
        let o = order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, 1, 1);
        let mut full = [0u8; 512];
        let n = binance_new_order(&o, BTC, 5000, 1, &mut full).unwrap();
        for len in 0..n {
            let mut small = vec![0u8; len];
            assert_eq!(
                binance_new_order(&o, BTC, 5000, 1, &mut small),
                None,
                "{len}"
            );
        }
        let bad = Format {
            symbol: "BTC&USDT",
            ..BTC
        };
        assert_eq!(binance_new_order(&o, bad, 5000, 1, &mut full), None);
    }

    proptest! {
        /// Every scaled value is written exactly: parsing the text gives the value back.
        #[test]
        fn scaled_round_trips(v in any::<i64>().prop_filter("i64::MIN has no positive twin", |v| *v != i64::MIN), d in 0u32..10) {
            let mut out = [0u8; 32];
            let mut b = Buf::new(&mut out);
            b.scaled(v, d).unwrap();
            let n = b.len();
            let text = std::str::from_utf8(&out[..n]).unwrap();
            prop_assert_eq!(crate::core::num::parse_scaled(text.as_bytes()), Ok(v), "{}", text);
            let shown = text.split('.').nth(1).map_or(0, str::len) as u32;
            prop_assert!(shown >= d.min(8), "{} has fewer than {} decimals", text, d);
        }

        /// Any order, any numbers: a string or None, never a panic.
        #[test]
        fn never_panics(price in any::<i64>(), qty in any::<i64>(), id in any::<u64>(), ts in any::<u64>(), len in 0usize..400) {
            let o = VenueOrder { client_order_id: id, ..order(Side::Buy, OrderType::Limit, TimeInForce::Ioc, price, qty) };
            let mut buf = vec![0u8; len];
            let _ = binance_new_order(&o, BTC, 5000, ts, &mut buf);
        }
    }
}
