//! Mutation fuzzing of the Binance parser on real capture lines, differential against
//! serde_json: the parser must never panic, and must never accept bytes that are not valid
//! JSON. CI runs a bounded version; a long run is
//! `TICKWIRE_FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers -- --nocapture`.
//! (`cargo fuzz` needs a nightly toolchain, which this project does not use.)

mod common;

use tickwire::core::InstrumentId;
use tickwire::feed::parse::json;
use tickwire::feed::parse::{binance, MsgKind};

/// xorshift64*: deterministic, so a failure reproduces from its case number.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"-",
    b".",
    b"e",
    b"null",
    b"true",
    b"\\u00",
    b"\x00",
    b"\xff",
    b"99999999999999999999",
    b"1e400",
    b" ",
    b"\"data\":",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        if m.is_empty() {
            m.push(b'{');
        }
        let at = rng.below(m.len());
        match rng.below(6) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m.truncate(at),
            2 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                m.splice(at..at, ins.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(m.len());
                m.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(32)).min(m.len());
                let piece = m[at..end].to_vec();
                m.splice(at..at, piece);
            }
            _ => m[at] = rng.next() as u8,
        }
    }
    m
}

fn corpus() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#.to_vec(),
        br#"{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}"#.to_vec(),
    ];
    if let Some(data) = common::shared_data() {
        for f in [
            "ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst",
            "ws/binance_usdm_futures/cryptofeed_BINANCE_FUTURES.ws.1.0_20210722.jsonl.zst",
        ] {
            let cap = tickwire::feed::replay::Capture::load(&data.join(f)).unwrap();
            // Every 50th line keeps the corpus varied (trades, tickers, depth, klines, aggTrades).
            lines.extend(
                (0..cap.lines.len())
                    .step_by(50)
                    .map(|i| cap.line(i).to_vec()),
            );
        }
    }
    lines
}

#[test]
fn mutated_messages_never_panic_and_never_accept_invalid_json() {
    let cases: u64 = std::env::var("TICKWIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let corpus = corpus();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut resolve = |s: &[u8]| (s.len() <= 24).then_some(InstrumentId(0));
    let (mut accepted, mut refused) = (0u64, 0u64);
    for case in 0..cases {
        let base = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, base);
        let ours = binance::Parser.parse(&m, &mut resolve, &mut |_| {});
        // The one licensed difference from serde_json: it refuses grammatical numbers too large
        // for an f64 (`5e0093257794`); the walker checks grammar and leaves ranges to the field
        // parsers, which refuse such values where a field needs them.
        let serde_value = serde_json::from_slice::<serde_json::Value>(&m);
        let valid_json = match &serde_value {
            Ok(_) => true,
            Err(e) => e.to_string().contains("out of range"),
        };
        match ours {
            Ok(MsgKind::Skipped(_)) => {
                assert!(
                    valid_json,
                    "case {case}: skipped invalid JSON {:?}",
                    String::from_utf8_lossy(&m)
                );
            }
            Ok(_) => {
                accepted += 1;
                assert!(
                    valid_json,
                    "case {case}: accepted invalid JSON {:?}",
                    String::from_utf8_lossy(&m)
                );
            }
            Err(_) => refused += 1,
        }
        // The walker alone agrees with serde_json about the validity of any object.
        let walker_ok = json::for_each_member(&m, |_, _| {}).is_ok();
        let serde = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&m);
        let out_of_range = serde
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("out of range"));
        if !out_of_range {
            assert_eq!(
                walker_ok,
                serde.is_ok(),
                "case {case}: {:?}",
                String::from_utf8_lossy(&m)
            );
        }
    }
    eprintln!("{cases} cases: {accepted} accepted as events, {refused} refused");
    assert!(
        accepted > 0 && refused > 0,
        "the mutator must produce both outcomes"
    );
}

#[test]
fn every_real_message_is_valid_for_both() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let cap = tickwire::feed::replay::Capture::load(
        &data
            .join("ws/binance_coinm_futures/cryptofeed_BINANCE_DELIVERY.ws.1.0_20210722.jsonl.zst"),
    )
    .unwrap();
    let mut resolve = |_: &[u8]| Some(InstrumentId(0));
    for i in 0..cap.lines.len() {
        let l = cap.line(i);
        assert!(serde_json::from_slice::<serde_json::Value>(l).is_ok());
        assert!(
            binance::Parser.parse(l, &mut resolve, &mut |_| {}).is_ok(),
            "line {i}"
        );
    }
}
