//! ns per message: tickwire's Binance parser beside serde_json on the same real bytes.
//! `cargo bench --bench parse`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde::Deserialize;
use tickwire::core::InstrumentId;
use tickwire::feed::parse::binance;

const TRADE: &[u8] = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
const BOOK: &[u8] = br#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#;

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

fn resolve(s: &[u8]) -> Option<InstrumentId> {
    (s == b"BTCUSDT").then_some(InstrumentId(0))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("binance_trade");
    g.bench_function("tickwire", |b| {
        b.iter(|| {
            binance::Parser.parse(black_box(TRADE), &mut resolve, &mut |e| {
                black_box(e);
            })
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(black_box(TRADE))
                .map(|v| v["data"]["p"].as_str().map(str::len))
        })
    });
    g.bench_function("serde_json_borrowed_struct", |b| {
        b.iter(|| {
            serde_json::from_slice::<Wrapped>(black_box(TRADE)).map(|w| {
                (
                    tickwire::core::num::parse_scaled(w.data.p.as_bytes()),
                    tickwire::core::num::parse_scaled(w.data.q.as_bytes()),
                )
            })
        })
    });
    g.finish();
    let mut g = c.benchmark_group("binance_book_ticker");
    g.bench_function("tickwire", |b| {
        b.iter(|| {
            binance::Parser.parse(black_box(BOOK), &mut resolve, &mut |e| {
                black_box(e);
            })
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(black_box(BOOK))
                .map(|v| v["data"]["b"].as_str().map(str::len))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
