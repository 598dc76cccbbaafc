//! Profiling aid: parses one real trade message in a loop (`cargo run --release --example parse_loop`).
use tickwire::core::InstrumentId;
use tickwire::feed::parse::binance;
const TRADE: &[u8] = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#;
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mut resolve = |s: &[u8]| (s == b"BTCUSDT").then_some(InstrumentId(0));
    let t = std::time::Instant::now();
    let mut ok = 0u64;
    for _ in 0..n {
        if binance::Parser
            .parse(std::hint::black_box(TRADE), &mut resolve, &mut |_| {})
            .is_ok()
        {
            ok += 1;
        }
    }
    let dt = t.elapsed();
    println!("{} ns/msg ({ok} ok)", dt.as_nanos() as f64 / n as f64);
}
