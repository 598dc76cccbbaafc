//! Differential tests of the Binance, Bybit and OKX parsers against independent reference
//! decoders (simd-json DOM, `tests/common/reference/`), on every real capture line and on
//! mutated lines.
//!
//! * `captures_*`: every line of every capture of the venue is decoded by tickwire and by the
//!   reference; tickwire must refuse none, and both must give the same normalised items, line by
//!   line. Per-file counts are printed (`--nocapture`) and checked against the message-type
//!   counts stated in `shared/data/SOURCES.md`.
//! * `mutations_*`: real lines mutated (bit flips, truncation, insertion, deletion,
//!   duplication). Whatever simd-json refuses as JSON, tickwire must refuse (the licensed
//!   difference: tickwire's walker checks number grammar, not range, so a grammatical number
//!   that serde_json calls out of range, or that simd-json cannot hold, is not a JSON error for
//!   it). Whenever tickwire accepts a message, the reference must decode it to the same items.
//!   20 000 cases per venue; `TICKWIRE_FUZZ_CASES` overrides.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::reference::{self, simd::BEYOND_SCALE, simd::IMPRECISE, Ours, Ref};
use tickwire::feed::parse::{MsgKind, ParseError, Venue};
use tickwire::feed::replay::Capture;

/// Message counts stated in SOURCES.md for one capture (`None`: not stated).
struct Expect {
    file: &'static str,
    messages: usize,
    trades: Option<usize>,
    quotes: Option<usize>,
    books: Option<usize>,
    klines: Option<usize>,
    responses: Option<usize>,
}

const fn e(
    file: &'static str,
    messages: usize,
    trades: usize,
    quotes: usize,
    books: usize,
    klines: usize,
) -> Expect {
    Expect {
        file,
        messages,
        trades: Some(trades),
        quotes: Some(quotes),
        books: Some(books),
        klines: Some(klines),
        responses: Some(0),
    }
}

/// From SOURCES.md. Binance `trades` are `trade` or `aggTrade` messages; `books` are depth
/// diffs plus the REST snapshot; Bybit `books` are `type=snapshot` + `type=delta`, responses
/// the `{success, ret_msg, conn_id, request}` replies; OKX `books` are snapshot + update
/// messages, responses the `event=subscribe` replies.
const EXPECTED: &[Expect] = &[
    e(
        "cryptofeed_BINANCE_DELIVERY.ws.1.0_20210722",
        4371,
        51,
        2240,
        2047,
        33,
    ),
    e(
        "hftbacktest_cm_btcusd_perp_20240808",
        48270,
        2286,
        19136,
        26848,
        0,
    ),
    e(
        "hftbacktest_cm_btcusd_perp_20240809",
        50116,
        2949,
        29219,
        17948,
        0,
    ),
    e(
        "hftbacktest_cm_ethusd_perp_20240808",
        40454,
        1732,
        15812,
        22910,
        0,
    ),
    e(
        "hftbacktest_cm_ethusd_perp_20240809",
        37860,
        1863,
        19751,
        16246,
        0,
    ),
    e("cryptofeed_BINANCE.ws.1.0_20210417", 1228, 24, 570, 614, 20),
    e("cryptofeed_BINANCE.ws.1.0_20210814", 1003, 28, 412, 546, 17),
    e("cryptofeed_BINANCE.ws.1.0_20211012", 265, 2, 84, 177, 2),
    e(
        "hftbacktest_spot_btcusdt_20240808",
        41249,
        9757,
        28040,
        3452,
        0,
    ),
    e(
        "hftbacktest_spot_btcusdt_20240809",
        58325,
        10147,
        45134,
        3044,
        0,
    ),
    e(
        "hftbacktest_spot_ethusdt_20240808",
        33618,
        6106,
        24077,
        3435,
        0,
    ),
    e(
        "hftbacktest_spot_ethusdt_20240809",
        46126,
        8409,
        34681,
        3036,
        0,
    ),
    e(
        "cryptofeed_BINANCE_US.ws.1.0_20211012",
        480,
        11,
        128,
        336,
        5,
    ),
    e(
        "cryptofeed_BINANCE_FUTURES.ws.1.0_20210722",
        1535,
        91,
        613,
        764,
        67,
    ),
    e(
        "hftbacktest_usdm_btcusdt_20240808",
        93954,
        21313,
        66089,
        6552,
        0,
    ),
    e(
        "hftbacktest_usdm_ethusdt_20240808",
        74655,
        14076,
        53992,
        6587,
        0,
    ),
    Expect {
        responses: Some(16),
        ..e("cryptofeed_BYBIT.ws.25.0_20210417", 3342, 66, 0, 3260, 0)
    },
    Expect {
        responses: Some(4),
        ..e("cryptofeed_BYBIT.ws.26.0_20210417", 1098, 76, 0, 1018, 0)
    },
    e("nautilus_bybit_2024-12-01_XRPUSDT_ob500", 50, 0, 0, 50, 0),
    Expect {
        responses: Some(30),
        ..e("cryptofeed_OKEX.ws.1.0_20210722", 1616, 36, 46, 1504, 0)
    },
    // 19 `tickers` messages, 2 of them one-sided option tickers (`"bidPx":""`): no quote.
    Expect {
        responses: Some(60),
        ..e("cryptofeed_OKX.ws.1.0_20220227", 3777, 19, 17, 3679, 0)
    },
    Expect {
        responses: Some(18),
        ..e("cryptofeed_OKX.ws.1.0_20220513", 410, 74, 28, 290, 0)
    },
];

const DIRS: &[(Venue, &[&str])] = &[
    (
        Venue::Binance,
        &[
            "ws/binance_spot",
            "ws/binance_usdm_futures",
            "ws/binance_coinm_futures",
            "ws/binance_us",
        ],
    ),
    (Venue::Bybit, &["ws/bybit"]),
    (Venue::Okx, &["ws/okx"]),
];

fn stem(p: &Path) -> String {
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    name.trim_end_matches(".zst")
        .trim_end_matches(".jsonl")
        .to_string()
}

fn captures(data: &Path, venue: Venue) -> Vec<PathBuf> {
    let dirs = DIRS.iter().find(|(v, _)| *v == venue).unwrap().1;
    let mut files = Vec::new();
    for d in dirs {
        for entry in std::fs::read_dir(data.join(d)).unwrap() {
            let p = entry.unwrap().path();
            let n = p.to_string_lossy();
            if n.ends_with(".jsonl.zst") || n.ends_with(".jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no {venue:?} captures");
    files
}

/// tickwire hands symbols over as raw JSON string contents (escapes not decoded); the
/// reference decodes them. Decode ours the same way before comparing.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    serde_json::from_str::<String>(&format!("\"{s}\"")).unwrap_or_else(|_| s.to_string())
}

fn normalise(refs: Vec<Ref>) -> Vec<Ref> {
    refs.into_iter()
        .map(|r| match r {
            Ref::Trade {
                symbol,
                id,
                price,
                qty,
                time_ns,
                sell,
            } => Ref::Trade {
                symbol: unescape(&symbol),
                id,
                price,
                qty,
                time_ns,
                sell,
            },
            Ref::Quote {
                symbol,
                bid,
                bid_qty,
                ask,
                ask_qty,
            } => Ref::Quote {
                symbol: unescape(&symbol),
                bid,
                bid_qty,
                ask,
                ask_qty,
            },
            Ref::Book {
                symbol,
                snapshot,
                levels,
            } => Ref::Book {
                symbol: symbol.map(|s| unescape(&s)),
                snapshot,
                levels,
            },
            Ref::Kline {
                symbol,
                open_ns,
                close,
            } => Ref::Kline {
                symbol: unescape(&symbol),
                open_ns,
                close,
            },
        })
        .collect()
}

/// The message type of a line, by a plain look at its envelope (serde_json): Binance `e`,
/// Bybit topic, OKX channel.
fn category(line: &[u8]) -> &'static str {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
    let d = v.get("data").unwrap_or(&v);
    let e = d.get("e").and_then(|e| e.as_str()).unwrap_or("");
    let topic = v.get("topic").and_then(|t| t.as_str()).unwrap_or("");
    let channel = v["arg"]["channel"].as_str().unwrap_or("");
    let topic = topic.split('.').next().unwrap_or("");
    if matches!(e, "trade" | "aggTrade")
        || matches!(channel, "trades" | "trades-all")
        || matches!(topic, "trade" | "publicTrade")
    {
        "trades"
    } else if e == "bookTicker"
        || d.get("A").is_some()
        || channel == "tickers"
        || topic == "tickers"
    {
        "quotes"
    } else if e == "depthUpdate"
        || channel.starts_with("books")
        || channel == "bbo-tbt"
        || topic.starts_with("orderbook")
        || topic.starts_with("orderBook")
    {
        "books"
    } else if e == "kline" || channel.starts_with("candle") || topic == "kline" {
        "klines"
    } else {
        "other"
    }
}

#[derive(Default, Debug)]
struct Counts {
    messages: usize,
    trade_msgs: usize,
    trades: usize,
    quotes: usize,
    books: usize,
    levels: usize,
    klines: usize,
    skipped: BTreeMap<&'static str, usize>,
    /// Refused because a price or size has digits past 10⁻⁸ (the reference agreeing why), by
    /// message type.
    beyond_scale: BTreeMap<&'static str, usize>,
}

fn check_venue(venue: Venue) {
    let Some(data) = common::shared_data() else {
        return;
    };
    let mut checked = 0;
    for path in captures(&data, venue) {
        let cap = Capture::load(&path).unwrap();
        let mut ours = Ours::new(venue);
        let mut theirs = reference::for_venue(venue);
        let mut c = Counts::default();
        for i in 0..cap.lines.len() {
            let line = cap.line(i);
            let want = theirs.decode(line);
            let (kind, got) = match (ours.decode(line), &want) {
                (Ok(x), _) => x,
                // Valid data tickwire cannot hold (prices in 10⁻¹¹): refused, by design.
                (Err(ParseError::Unrepresentable(_)), Err(why)) if why.contains(BEYOND_SCALE) => {
                    c.messages += 1;
                    *c.beyond_scale.entry(category(line)).or_default() += 1;
                    continue;
                }
                (Err(e), _) => panic!(
                    "{}: line {i} refused ({e:?}): {}",
                    path.display(),
                    String::from_utf8_lossy(line)
                ),
            };
            let want = want.unwrap_or_else(|e| {
                panic!(
                    "{}: line {i}: reference refused ({e}) what tickwire decoded as {kind:?}",
                    path.display()
                )
            });
            assert_eq!(
                normalise(got.clone()),
                want,
                "{}: line {i}: {}",
                path.display(),
                String::from_utf8_lossy(line)
            );
            c.messages += 1;
            match kind {
                MsgKind::Trades => {
                    c.trade_msgs += 1;
                    c.trades += got.len();
                }
                MsgKind::Quote => c.quotes += 1,
                MsgKind::Depth | MsgKind::Snapshot => {
                    c.books += 1;
                    for r in &got {
                        if let Ref::Book { levels, .. } = r {
                            c.levels += levels.len();
                        }
                    }
                }
                MsgKind::Kline => c.klines += 1,
                MsgKind::Skipped(k) => *c.skipped.entry(k.name()).or_default() += 1,
            }
        }
        let name = stem(&path);
        eprintln!(
            "{venue:?} {name}: {} msgs, {} trade msgs ({} trades), {} quotes, {} book msgs ({} levels), {} klines, skipped {:?}, refused beyond 1e-8 scale {:?}",
            c.messages, c.trade_msgs, c.trades, c.quotes, c.books, c.levels, c.klines, c.skipped, c.beyond_scale
        );
        if let Some(x) = EXPECTED.iter().find(|x| x.file == name) {
            assert_eq!(c.messages, x.messages, "{name}: messages");
            let refused = |k: &str| c.beyond_scale.get(k).copied().unwrap_or(0);
            let pairs = [
                ("trade messages", x.trades, c.trade_msgs + refused("trades")),
                ("quote messages", x.quotes, c.quotes + refused("quotes")),
                ("book messages", x.books, c.books + refused("books")),
                ("kline messages", x.klines, c.klines + refused("klines")),
                (
                    "responses",
                    x.responses,
                    c.skipped.get("response").copied().unwrap_or(0),
                ),
            ];
            for (what, want, got) in pairs {
                if let Some(want) = want {
                    assert_eq!(got, want, "{name}: {what} (SOURCES.md)");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no capture of {venue:?} had stated counts");
}

#[test]
fn captures_binance() {
    check_venue(Venue::Binance);
}

#[test]
fn captures_bybit() {
    check_venue(Venue::Bybit);
}

#[test]
fn captures_okx() {
    check_venue(Venue::Okx);
}

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
    b"0",
    b"null",
    b"true",
    b"\"\"",
    b"\\u00",
    b"\x00",
    b"\xff",
    b"99999999999999999999",
    b"1e400",
    b"-1",
    b" ",
    b"\"data\":",
    b"\"type\":\"delta\",",
    b"\"action\":\"update\",",
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

/// Real lines of every capture of the venue: every line of small files, an even sample of
/// large ones, capped in length so mutations land all over a message.
fn corpus(venue: Venue) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = match venue {
        Venue::Binance => vec![
            br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#.to_vec(),
            br#"{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],"asks":[]}"#.to_vec(),
            br#"{"result":null,"id":1}"#.to_vec(),
        ],
        Venue::Bybit => vec![
            br#"{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,"timestamp":"2021-04-17T16:43:06.000Z","symbol":"BTCUSD","side":"Sell","size":4,"price":60621.5,"tick_direction":"PlusTick","trade_id":"5ffb8b77-900c-507d-97a2-0922557ffe54","cross_seq":5938955347}]}"#.to_vec(),
            br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1709891679005,"data":[{"T":1709891679000,"s":"BTCUSDT","S":"Buy","v":"0.010","p":"27451.00","i":"2290000000061666327","BT":false}]}"#.to_vec(),
            br#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#.to_vec(),
            br#"{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}"#.to_vec(),
            br#"{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}"#.to_vec(),
        ],
        _ => vec![
            br#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","1"]]}"#.to_vec(),
            br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","415","0","13"]],"bids":[],"ts":"1597026383085","checksum":-855196043,"prevSeqId":123,"seqId":124}]}"#.to_vec(),
            br#"{"event":"error","code":"60012","msg":"Invalid request"}"#.to_vec(),
        ],
    };
    if let Some(data) = common::shared_data() {
        for path in captures(&data, venue) {
            let cap = Capture::load(&path).unwrap();
            let step = (cap.lines.len() / 400).max(1);
            lines.extend(
                (0..cap.lines.len())
                    .step_by(step)
                    .map(|i| cap.line(i))
                    .filter(|l| l.len() <= 4096)
                    .map(<[u8]>::to_vec),
            );
        }
    }
    lines
}

fn fuzz_venue(venue: Venue, seed: u64) {
    let cases: u64 = std::env::var("TICKWIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let corpus = corpus(venue);
    let mut rng = Rng(seed);
    let mut ours = Ours::new(venue);
    let mut theirs = reference::for_venue(venue);
    let (mut accepted, mut refused, mut licensed, mut imprecise) = (0u64, 0u64, 0u64, 0u64);
    for case in 0..cases {
        if case % 10_000 == 0 {
            // Mutated symbols register new names; keep the id space small.
            ours = Ours::new(venue);
        }
        let base = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, base);
        let show = || String::from_utf8_lossy(&m).into_owned();
        let got = ours.decode(&m);
        let simd_ok = simd_json::to_borrowed_value(&mut m.clone()).is_ok();
        if !simd_ok && got.is_ok() {
            // Licensed only for grammatical JSON whose numbers simd-json cannot hold.
            let serde = serde_json::from_slice::<serde_json::Value>(&m);
            let grammatical = match &serde {
                Ok(_) => true,
                Err(e) => e.to_string().contains("out of range"),
            };
            assert!(
                grammatical,
                "case {case}: {venue:?} accepted invalid JSON {:?}",
                show()
            );
            licensed += 1;
            continue;
        }
        match got {
            Err(_) => refused += 1,
            Ok((kind, items)) => {
                accepted += 1;
                match theirs.decode(&m) {
                    Ok(want) => assert_eq!(
                        normalise(items),
                        want,
                        "case {case}: {venue:?} {kind:?} {:?}",
                        show()
                    ),
                    Err(e) if e.contains(IMPRECISE) => imprecise += 1,
                    Err(e) => panic!(
                        "case {case}: {venue:?} decoded {kind:?} {items:?} but the reference refused ({e}): {:?}",
                        show()
                    ),
                }
            }
        }
    }
    eprintln!(
        "{venue:?}: {cases} mutated messages, {accepted} accepted (and equal to the reference), {refused} refused, {licensed} big-number licensed, {imprecise} beyond f64 precision"
    );
    assert!(
        accepted > 0 && refused > 0,
        "the mutator must produce both outcomes"
    );
}

#[test]
fn mutations_binance() {
    fuzz_venue(Venue::Binance, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn mutations_bybit() {
    fuzz_venue(Venue::Bybit, 0xD1B5_4A32_D192_ED03);
}

#[test]
fn mutations_okx() {
    fuzz_venue(Venue::Okx, 0x8CB9_2BA7_2F3D_8DD7);
}

/// Parsing every real line of every capture makes no heap call (the counting global allocator
/// of the library), whatever the outcome.
#[test]
fn parsing_allocates_nothing() {
    use tickwire::core::alloc::thread_allocations;
    use tickwire::core::InstrumentId;
    use tickwire::feed::parse::VenueParser;
    let Some(data) = common::shared_data() else {
        return;
    };
    for venue in [Venue::Binance, Venue::Bybit, Venue::Okx] {
        let caps: Vec<Capture> = captures(&data, venue)
            .iter()
            .map(|p| Capture::load(p).unwrap())
            .collect();
        let mut parser = VenueParser::new(venue);
        let mut resolve = |s: &[u8]| Some(InstrumentId(s.len() as u16));
        let (mut events, mut ok) = (0u64, 0u64);
        let before = thread_allocations();
        for cap in &caps {
            for i in 0..cap.lines.len() {
                let r = parser.parse(cap.line(i), &mut resolve, &mut |_| events += 1);
                ok += u64::from(r.is_ok());
            }
        }
        let heap_calls = thread_allocations() - before;
        assert_eq!(heap_calls, 0, "{venue:?}: {heap_calls} heap calls");
        assert!(ok > 0 && events > 0);
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: test code, speed is moot.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A scaled decimal back to OKX's text (no trailing zeros, no trailing dot).
fn okx_text(v: i64) -> String {
    let s = format!("{}.{:08}", v / 100_000_000, v % 100_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// End to end on OKX: books rebuilt from tickwire's decoded levels alone (snapshot, then every
/// update) reproduce the exchange's CRC32 `checksum` of the top 25 levels after every message.
/// Instruments whose prices tickwire refuses (beyond 10⁻⁸) are left out.
#[test]
fn okx_books_rebuilt_from_our_levels_match_exchange_checksums() {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let Some(data) = common::shared_data() else {
        return;
    };
    let (mut matched, mut total) = (0usize, 0usize);
    for path in captures(&data, Venue::Okx) {
        let cap = Capture::load(&path).unwrap();
        let mut ours = Ours::new(Venue::Okx);
        type Side = BTreeMap<i64, i64>;
        let mut books: HashMap<String, (Side, Side)> = HashMap::new();
        let mut refused: HashSet<String> = HashSet::new();
        let mut checks: Vec<(String, i64, String)> = Vec::new();
        for i in 0..cap.lines.len() {
            let line = cap.line(i);
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            let inst = v["arg"]["instId"].as_str().unwrap_or("").to_string();
            let Ok((_, refs)) = ours.decode(line) else {
                refused.insert(inst);
                continue;
            };
            for (n, r) in refs.into_iter().enumerate() {
                let Ref::Book {
                    symbol: Some(sym),
                    snapshot,
                    levels,
                } = r
                else {
                    continue;
                };
                let (bids, asks) = books.entry(sym.clone()).or_default();
                if snapshot {
                    bids.clear();
                    asks.clear();
                }
                for (is_bid, px, qty) in levels {
                    let side = if is_bid { &mut *bids } else { &mut *asks };
                    if qty == 0 {
                        side.remove(&px);
                    } else {
                        side.insert(px, qty);
                    }
                }
                let Some(want) = v["data"][n]["checksum"].as_i64() else {
                    continue;
                };
                let b: Vec<_> = bids.iter().rev().take(25).collect();
                let a: Vec<_> = asks.iter().take(25).collect();
                let mut parts = Vec::new();
                for k in 0..25 {
                    if let Some((p, q)) = b.get(k) {
                        parts.push(okx_text(**p));
                        parts.push(okx_text(**q));
                    }
                    if let Some((p, q)) = a.get(k) {
                        parts.push(okx_text(**p));
                        parts.push(okx_text(**q));
                    }
                }
                let got = i64::from(crc32(parts.join(":").as_bytes()) as i32);
                checks.push((
                    sym,
                    want,
                    if got == want {
                        String::new()
                    } else {
                        format!("line {i}: got {got}")
                    },
                ));
            }
        }
        for (sym, _, err) in &checks {
            if refused.contains(sym) {
                continue;
            }
            total += 1;
            assert!(
                err.is_empty(),
                "{}: {sym}: checksum mismatch at {err}",
                stem(&path)
            );
            matched += 1;
        }
    }
    eprintln!("OKX: {matched}/{total} book checksums reproduced from tickwire's levels");
    assert!(total > 1000, "{total}");
}

/// The current-API shapes (`schema_samples_NOT_REAL/`: documentation examples, not market
/// data) of Bybit v5 and OKX v5 WebSocket messages decode, and agree with the reference.
#[test]
fn current_api_shapes_decode() {
    let Some(data) = common::shared_data() else {
        return;
    };
    for (venue, dir) in [(Venue::Bybit, "bybit"), (Venue::Okx, "okx")] {
        let dir = data.join("schema_samples_NOT_REAL").join(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("ws_"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for f in files {
            let msg = std::fs::read(&f).unwrap();
            let (kind, got) = Ours::new(venue)
                .decode(&msg)
                .unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
            let want = reference::for_venue(venue).decode(&msg).unwrap();
            assert_eq!(normalise(got.clone()), want, "{}", f.display());
            eprintln!("{venue:?} {}: {kind:?}, {} items", stem(&f), got.len());
        }
    }
}
