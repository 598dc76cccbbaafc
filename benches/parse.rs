//! ns per message: tickwire's venue parsers beside two general JSON parsers, on the same real
//! message bytes (lines of the captures in `shared/data/ws/`). `cargo bench --bench parse`
//!
//! For every (venue, label, message) row of [`MESSAGES`]:
//!
//! * `tickwire` — `VenueParser::parse`: strict validation of the whole text, every field the
//!   message type needs decoded (exact decimals, times, ids, levels), events handed to a sink
//!   that `black_box`es them. No allocation.
//! * `serde_json_value` — `serde_json::from_slice::<serde_json::Value>`: a DOM only, no field
//!   read, no decimal converted (so a lower bound for a serde_json-based parser).
//! * `simd_json_borrowed` — `simd_json::to_borrowed_value_with_buffers`, also a DOM only.
//!   simd-json parses in place (it rewrites the input to unescape strings), so each iteration
//!   first copies the message into a reused, pre-sized buffer (`copy_from_slice`) and reuses
//!   simd-json's own scratch `Buffers`: the copy (a memcpy of a few hundred bytes) is part of
//!   simd-json's measured cost, as it would be on a feed thread that must keep the frame.
//!
//! Adding a venue whose parser lands later is one row in [`MESSAGES`].

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;
use tickwire::core::InstrumentId;
use tickwire::feed::parse::{Venue, VenueParser};

/// ws/binance_spot/hftbacktest_spot_btcusdt_20240808.
const BINANCE_TRADE: &[u8] = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
/// ws/binance_spot/hftbacktest_spot_btcusdt_20240808.
const BINANCE_BOOK_TICKER: &[u8] = br#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;
/// ws/binance_spot/hftbacktest_spot_btcusdt_20240808 (median-size depthUpdate).
const BINANCE_DEPTH: &[u8] = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161421887,"s":"BTCUSDT","U":50093314924,"u":50093314948,"b":[["61726.13000000","0.93289000"],["61725.05000000","0.00105000"],["61724.01000000","0.00009000"],["61721.72000000","0.15846000"],["61719.62000000","0.03814000"],["61713.44000000","0.04579000"],["61703.46000000","0.05014000"],["61703.22000000","0.00000000"],["61668.60000000","0.04249000"]],"a":[["61726.14000000","5.04143000"],["61727.44000000","0.03797000"],["61727.66000000","1.68547000"],["61729.79000000","0.00101000"],["61753.82000000","0.20217000"],["61754.55000000","0.00038000"],["61760.62000000","0.00000000"]]}}"#;
/// ws/bybit/nautilus_bybit_2024-12-01_XRPUSDT_ob500 (median-size delta).
const BYBIT_V5_BOOK: &[u8] = br#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011203790,"data":{"s":"XRPUSDT","b":[["1.9535","3835"],["1.9534","4054"],["1.9533","726"],["1.9531","17106"],["1.9527","7824"],["1.9526","7019"],["1.9524","14265"],["1.9523","55014"],["1.9500","41132"],["1.9499","68851"],["1.9438","107017"],["1.9399","127101"],["1.9360","182195"],["1.9321","198059"],["1.9243","22261"]],"a":[["1.9536","4644"],["1.9554","29838"],["1.9556","15501"],["1.9559","14641"],["1.9562","13336"],["1.9564","12125"],["1.9566","42543"],["1.9567","32166"],["1.9573","17206"],["1.9574","14467"],["1.9632","154671"],["1.9671","157901"],["1.9710","224746"],["1.9749","236341"]],"u":20254901,"seq":130020248513},"cts":1733011203787}"#;
/// ws/okx/cryptofeed_OKX.ws.1.0_20220513 (median-size books update).
const OKX_BOOKS: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30243.6","0","0","0"],["30245.7","3","0","1"],["30247.1","2","0","1"],["30247.2","0","0","0"],["30249.5","0","0","0"],["30267.1","100","0","1"],["30267.2","0","0","0"],["30276.7","40","0","1"],["30281.6","0","0","0"],["30283.1","0","0","0"]],"bids":[["30239.9","0","0","0"],["30237.4","0","0","0"],["30236.9","3","0","1"],["30226.4","65","0","1"],["30226.3","0","0","0"],["30226.2","0","0","0"],["30225.7","4","0","1"],["30221.6","0","0","0"],["30204.2","57","0","1"],["30179.4","446","0","1"]],"ts":"1652459230223","checksum":1280085381}]}"#;
/// ws/bybit/cryptofeed_BYBIT.ws.26.0_20210417.
const BYBIT_V2_TRADE: &[u8] = br#"{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677787811,"timestamp":"2021-04-17T16:43:07.000Z","symbol":"BTCUSD","side":"Buy","size":204,"price":60622,"tick_direction":"PlusTick","trade_id":"ecd3210b-82a0-5ab2-ad17-ef708059923f","cross_seq":5938955688}]}"#;
/// ws/okx/cryptofeed_OKX.ws.1.0_20220513.
const OKX_TRADES: &[u8] = br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]}"#;
/// ws/okx/cryptofeed_OKX.ws.1.0_20220513.
const OKX_TICKERS: &[u8] = br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}"#;

/// (venue, label, real message). Coinbase, Kraken, Bitstamp and Bitfinex join with one row each
/// once their parsers are in the tree.
const COINBASE_MATCH: &[u8] = br#"{"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}"#;
const COINBASE_TICKER: &[u8] = br#"{"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775","open_24h":"14.6647","volume_24h":"94381.28000000","low_24h":"14.3691","high_24h":"16.55","volume_30d":"2295579.57000000","best_bid":"14.7550","best_ask":"14.8060","side":"buy","time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"}"#;
const KRAKEN_TRADE: &[u8] = br#"[321,[["58721.20000","0.02798644","1617666461.465618","s","m",""],["58721.20000","0.12749400","1617666461.466773","s","m",""],["58721.20000","0.34501525","1617666461.468246","s","m",""],["58721.20000","0.00041352","1617666461.469577","s","m",""],["58721.20000","0.00000050","1617666461.470964","s","m",""]],"trade","XBT/USD"]"#;
const KRAKEN_TICKER: &[u8] = br#"[2500,{"a":["0.000023630",7289,"7289.86759215"],"b":["0.000023610",1173,"1173.00000000"],"c":["0.000023620","25.10303887"],"v":["1124742.64341766","1125291.62001353"],"p":["0.000023449","0.000023449"],"t":[1283,1292],"l":["0.000022220","0.000022220"],"h":["0.000025000","0.000025000"],"o":["0.000022580","0.000022500"]},"ticker","ALGO/XBT"]"#;
const BITSTAMP_TRADE: &[u8] = br#"{"channel": "live_trades_ltcusd", "data": {"amount": 6.33171283, "amount_str": "6.33171283", "buy_order_id": 1351035776413697, "id": 164507734, "microtimestamp": "1618677693509000", "price": 312.88, "price_str": "312.88", "sell_order_id": 1351035736915970, "timestamp": "1618677693", "type": 0}, "event": "trade"}"#;

const MESSAGES: &[(Venue, &str, &[u8])] = &[
    (Venue::Coinbase, "match", COINBASE_MATCH),
    (Venue::Coinbase, "ticker", COINBASE_TICKER),
    (Venue::Kraken, "v1_trade_x5", KRAKEN_TRADE),
    (Venue::Kraken, "v1_ticker", KRAKEN_TICKER),
    (Venue::Bitstamp, "trade", BITSTAMP_TRADE),
    (Venue::Binance, "trade", BINANCE_TRADE),
    (Venue::Binance, "bookTicker", BINANCE_BOOK_TICKER),
    (Venue::Binance, "depthUpdate", BINANCE_DEPTH),
    (Venue::Bybit, "v2_trade", BYBIT_V2_TRADE),
    (Venue::Bybit, "v5_orderbook", BYBIT_V5_BOOK),
    (Venue::Okx, "trades", OKX_TRADES),
    (Venue::Okx, "tickers", OKX_TICKERS),
    (Venue::Okx, "books", OKX_BOOKS),
];

fn resolve(_: &[u8]) -> Option<InstrumentId> {
    Some(InstrumentId(0))
}

fn venues(c: &mut Criterion) {
    for &(venue, label, msg) in MESSAGES {
        // A row must decode, or the bench would time an error path.
        let mut check = VenueParser::new(venue);
        let kind = check.parse(msg, &mut resolve, &mut |_| {});
        assert!(
            matches!(kind, Ok(k) if !matches!(k, tickwire::feed::parse::MsgKind::Skipped(_))),
            "{venue:?} {label}: {kind:?}"
        );
        let mut g = c.benchmark_group(format!("{}/{label}", venue.name()));
        g.throughput(Throughput::Bytes(msg.len() as u64));
        let mut parser = VenueParser::new(venue);
        // The base case: the loop and the black boxes, no parsing.
        g.bench_function("harness", |b| b.iter(|| black_box(black_box(msg).len())));
        g.bench_function("tickwire", |b| {
            b.iter(|| {
                parser.parse(black_box(msg), &mut resolve, &mut |e| {
                    black_box(e);
                })
            })
        });
        g.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(msg)).is_ok())
        });
        let mut buf = vec![0u8; msg.len()];
        let mut scratch = simd_json::Buffers::new(msg.len());
        g.bench_function("simd_json_borrowed", |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(msg));
                simd_json::to_borrowed_value_with_buffers(&mut buf, &mut scratch).is_ok()
            })
        });
        g.finish();
    }
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    data: TradeMsg<'a>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct TradeMsg<'a> {
    e: &'a str,
    #[serde(rename = "E")]
    event_ms: u64,
    s: &'a str,
    t: u64,
    p: &'a str,
    q: &'a str,
    #[serde(rename = "T")]
    trade_ms: u64,
    m: bool,
}

/// The best case for serde: a typed, borrowing struct for exactly one message shape, plus the
/// two exact decimal conversions tickwire does.
fn typed(c: &mut Criterion) {
    let mut g = c.benchmark_group("binance/trade");
    g.bench_function("serde_json_borrowed_struct", |b| {
        b.iter(|| {
            serde_json::from_slice::<Wrapped>(black_box(BINANCE_TRADE)).map(|w| {
                (
                    tickwire::core::num::parse_scaled(w.data.p.as_bytes()),
                    tickwire::core::num::parse_scaled(w.data.q.as_bytes()),
                )
            })
        })
    });
    g.finish();
}

criterion_group!(benches, venues, typed);
criterion_main!(benches);
