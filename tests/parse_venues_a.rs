//! Coinbase, Kraken, Bitstamp and Bitfinex parsers on every real capture line, differential
//! against the independent simd-json reference decoders (`tests/common/reference/`), plus a
//! mutation-differential fuzz per venue.
//!
//! `cargo test --test parse_venues_a -- --nocapture` prints per-file counts. The fuzz runs
//! 20,000 cases per venue; `TICKWIRE_FUZZ_CASES=N` overrides.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use common::reference::{self, Ours, Ref};
use tickwire::feed::parse::{MsgKind, SkipKind, Venue};
use tickwire::feed::replay::Capture;

const VENUES: [(Venue, &str); 4] = [
    (Venue::Coinbase, "coinbase"),
    (Venue::Kraken, "kraken"),
    (Venue::Bitstamp, "bitstamp"),
    (Venue::Bitfinex, "bitfinex"),
];

/// Every capture of a venue (`*.jsonl.zst`, `*.jsonl`), by name.
fn captures(data: &Path, dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("ws").join(dir))
        .unwrap_or_else(|e| panic!("ws/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".jsonl.zst") || n.ends_with(".jsonl")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in ws/{dir}");
    files
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[derive(Default, Debug)]
struct Counts {
    messages: u64,
    trade_msgs: u64,
    trades: u64,
    quotes: u64,
    depth: u64,
    snapshots: u64,
    skipped: BTreeMap<&'static str, u64>,
    refused: u64,
    /// Per symbol: (trades, min price, max price).
    by_symbol: BTreeMap<String, (u64, i64, i64)>,
}

impl Counts {
    fn skipped(&self, k: SkipKind) -> u64 {
        self.skipped.get(k.name()).copied().unwrap_or(0)
    }

    fn book(&self) -> u64 {
        self.depth + self.snapshots
    }
}

/// Decodes a whole capture with ours and the reference, line by line.
fn decode_file(venue: Venue, path: &Path, problems: &mut Vec<String>) -> Counts {
    let cap = Capture::load(path).unwrap();
    let mut ours = Ours::new(venue);
    let mut theirs = reference::for_venue(venue);
    let mut c = Counts::default();
    let mut trade_ids = std::collections::HashSet::new();
    for i in 0..cap.lines.len() {
        let line = cap.line(i);
        c.messages += 1;
        let text = || String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
        let got = ours.decode(line);
        let want = theirs.decode(line);
        let refs = match got {
            Err(e) => {
                c.refused += 1;
                problems.push(format!(
                    "{} line {i}: ours refused ({e:?}): {}",
                    name(path),
                    text()
                ));
                continue;
            }
            Ok((kind, refs)) => {
                match kind {
                    MsgKind::Trades => c.trade_msgs += 1,
                    MsgKind::Quote => {}
                    MsgKind::Depth => c.depth += 1,
                    MsgKind::Snapshot => c.snapshots += 1,
                    MsgKind::Kline => {}
                    MsgKind::Skipped(k) => *c.skipped.entry(k.name()).or_default() += 1,
                }
                refs
            }
        };
        for r in &refs {
            match r {
                Ref::Trade {
                    symbol, price, id, ..
                } => {
                    c.trades += 1;
                    // Ids are unique per instrument (Kraken v1's derived ones included).
                    if !trade_ids.insert((symbol.clone(), *id)) {
                        problems.push(format!("{} line {i}: trade id {id} repeated", name(path)));
                    }
                    let e = c
                        .by_symbol
                        .entry(symbol.clone())
                        .or_insert((0, i64::MAX, i64::MIN));
                    *e = (e.0 + 1, e.1.min(*price), e.2.max(*price));
                }
                Ref::Quote { .. } => c.quotes += 1,
                _ => {}
            }
        }
        match want {
            Ok(w) if w == refs => {}
            Ok(w) => problems.push(format!(
                "{} line {i}: ours {refs:?} != reference {w:?}: {}",
                name(path),
                text()
            )),
            Err(e) => problems.push(format!(
                "{} line {i}: reference refused ({e}): {}",
                name(path),
                text()
            )),
        }
    }
    c
}

#[test]
fn every_real_line_decodes_and_matches_the_reference() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let mut problems = Vec::new();
    let mut all: BTreeMap<String, Counts> = BTreeMap::new();
    for (venue, dir) in VENUES {
        for path in captures(&data, dir) {
            let c = decode_file(venue, &path, &mut problems);
            let skipped: Vec<String> = c.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
            eprintln!(
                "{dir:9} {:58} msgs {:6}  trades {:4} ({} msgs)  quotes {:4}  book {:6} ({} snap)  skipped [{}]  refused {}",
                name(&path),
                c.messages,
                c.trades,
                c.trade_msgs,
                c.quotes,
                c.book(),
                c.snapshots,
                skipped.join(", "),
                c.refused
            );
            all.insert(name(&path), c);
        }
    }
    for p in problems.iter().take(20) {
        eprintln!("{p}");
    }
    assert!(
        problems.is_empty(),
        "{} problems (first above)",
        problems.len()
    );

    // Facts stated in SOURCES.md (line totals, message types per file).
    let get = |f: &str| all.get(f).unwrap_or_else(|| panic!("capture {f} missing"));
    let cb = get("cryptofeed_COINBASE.ws.28.0_20210417.jsonl.zst");
    // type=match 97 + type=last_match 10, one trade each; ticker 107; snapshot 10;
    // l2update 9719; subscriptions 3.
    assert_eq!((cb.messages, cb.trade_msgs, cb.trades), (9946, 107, 107));
    assert_eq!((cb.quotes, cb.snapshots, cb.depth), (107, 10, 9719));
    assert_eq!(cb.skipped(SkipKind::Response), 3);

    let k = get("cryptofeed_KRAKEN-4b7396.0_20210405.jsonl.zst");
    assert_eq!((k.messages, k.quotes), (152, 22));
    assert_eq!(
        (
            k.skipped(SkipKind::Heartbeat),
            k.skipped(SkipKind::Response),
            k.skipped(SkipKind::Status)
        ),
        (119, 10, 1)
    );
    let k = get("cryptofeed_KRAKEN-82ac16.0_20210405.jsonl.zst");
    assert_eq!((k.messages, k.trade_msgs), (142, 12));
    // XBT/USD trades on 2021-04-05: min 58721.2, max 58735.7, n 22.
    assert_eq!(
        k.by_symbol.get("XBT/USD"),
        Some(&(22, 5_872_120_000_000, 5_873_570_000_000))
    );
    let k = get("cryptofeed_KRAKEN-c197c0.0_20210405.jsonl.zst");
    assert_eq!((k.messages, k.book()), (14636, 14506));
    let k = get("cryptofeed_KRAKEN.ws.48.0_20210417.jsonl.zst");
    assert_eq!((k.messages, k.trade_msgs), (49, 8));
    let k = get("cryptofeed_KRAKEN.ws.49.0_20210417.jsonl.zst");
    assert_eq!((k.messages, k.quotes), (60, 18));
    let k = get("cryptofeed_KRAKEN.ws.50.0_20210417.jsonl.zst");
    assert_eq!((k.messages, k.book()), (4321, 4279));

    for (f, lines) in [
        ("cryptofeed_BITSTAMP-b88f8b.0_20210405.jsonl.zst", 3254),
        ("cryptofeed_BITSTAMP.ws.1.0_20220105.jsonl.zst", 747),
        ("cryptofeed_BITSTAMP.ws.19.0_20210417.jsonl.zst", 677),
    ] {
        let b = get(f);
        assert_eq!(b.messages, lines, "{f}");
        assert_eq!(
            b.skipped(SkipKind::Response),
            20,
            "{f}: 20 subscription acks"
        );
    }
    // SOURCES.md says the Bitstamp captures hold no live_trades stream, but all three have
    // `trade` events on live_trades_* channels (its table lists only the top 7 channels).
    for (f, trades) in [
        ("cryptofeed_BITSTAMP-b88f8b.0_20210405.jsonl.zst", 32),
        ("cryptofeed_BITSTAMP.ws.1.0_20220105.jsonl.zst", 10),
        ("cryptofeed_BITSTAMP.ws.19.0_20210417.jsonl.zst", 16),
    ] {
        let b = get(f);
        assert_eq!((b.trades, b.trade_msgs), (trades, trades), "{f}");
    }

    let f = get("cryptofeed_BITFINEX-58bafb.0_20210405.jsonl.zst");
    // list:te 8 → 8 trades; list:tu 8 and 8 trade snapshots → history; list:hb 93.
    assert_eq!((f.messages, f.trade_msgs, f.trades), (22675, 8, 8));
    assert_eq!(f.skipped(SkipKind::History), 16);
    assert_eq!(f.skipped(SkipKind::Heartbeat), 93);
    let f = get("cryptofeed_BITFINEX.ws.11.0_20210417.jsonl.zst");
    assert_eq!(
        (f.messages, f.trades, f.skipped(SkipKind::Heartbeat)),
        (1693, 0, 42)
    );
    let f = get("nautilus_bitfinex_tBTCUSD_book_R0_raw.jsonl.zst");
    // info + subscribed, then the R0 snapshot and 99,998 order updates.
    assert_eq!(f.messages, 100_001);
    assert_eq!(f.skipped(SkipKind::Response), 2);
    assert_eq!(f.skipped(SkipKind::Unsupported), 99_999);
}

/// The parsers never touch the heap: every real line of every capture, parsed straight through
/// `VenueParser` (what the parse stage runs), under the counting global allocator.
#[test]
fn parsing_real_lines_allocates_nothing() {
    use tickwire::core::alloc::thread_allocations;
    use tickwire::core::InstrumentId;
    use tickwire::feed::parse::{Event, VenueParser};
    let Some(data) = common::shared_data() else {
        return;
    };
    for (venue, dir) in VENUES {
        for path in captures(&data, dir) {
            let cap = Capture::load(&path).unwrap();
            let mut parser = VenueParser::new(venue);
            let mut resolve = |s: &[u8]| Some(InstrumentId(s.len() as u16));
            let (mut events, mut ok) = (0u64, 0u64);
            let before = thread_allocations();
            for i in 0..cap.lines.len() {
                let r = parser.parse(cap.line(i), &mut resolve, &mut |e: Event| {
                    events += u64::from(!matches!(e, Event::BookEnd));
                });
                ok += u64::from(r.is_ok());
            }
            let allocations = thread_allocations() - before;
            assert_eq!(allocations, 0, "{}: {allocations} heap calls", name(&path));
            assert_eq!(ok, cap.lines.len() as u64, "{}", name(&path));
            // The raw-order (R0) book capture holds nothing decoded.
            assert!(
                events > 0 || name(&path).contains("_R0_"),
                "{}",
                name(&path)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mutation differential.

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

const SPLICES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\/",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"-",
    b".",
    b"0",
    b"e",
    b"E-9",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"\\u00",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"99999999999999999999",
    b"1e400",
    b"0.000000001",
    b" ",
    b"\"hb\"",
    b"\"te\"",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        if m.is_empty() {
            m.push(b'[');
        }
        let at = rng.below(m.len());
        match rng.below(7) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m.truncate(at),
            2 => {
                let s = SPLICES[rng.below(SPLICES.len())];
                m.splice(at..at, s.iter().copied());
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
            5 => {
                // A digit for a digit: keeps numbers and timestamps well-formed.
                if m[at].is_ascii_digit() {
                    m[at] = b'0' + rng.below(10) as u8;
                }
            }
            _ => m[at] = rng.next() as u8,
        }
    }
    m
}

/// Long lines (book snapshots) cut to a few levels per list so mutations reach every part.
fn shrink(line: &[u8]) -> Vec<u8> {
    fn cut(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Array(a) => {
                if a.len() > 6 && a.iter().all(|x| x.is_array() || x.is_object()) {
                    a.truncate(6);
                }
                a.iter_mut().for_each(cut);
            }
            serde_json::Value::Object(o) => o.values_mut().for_each(cut),
            _ => {}
        }
    }
    if line.len() <= 2048 {
        return line.to_vec();
    }
    let mut v: serde_json::Value = serde_json::from_slice(line).unwrap();
    cut(&mut v);
    serde_json::to_vec(&v).unwrap()
}

type Case = (Rc<Vec<Vec<u8>>>, Vec<u8>);

/// Real lines of every capture of the venue, up to 40 of each message kind per file, each
/// with the lines that must be decoded before it (Bitfinex `subscribed` events); plus the
/// documented shapes of APIs without real captures (Coinbase Advanced Trade, Kraken v2).
fn corpus(venue: Venue, dir: &str, data: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for path in captures(data, dir) {
        let cap = Capture::load(&path).unwrap();
        let mut ours = Ours::new(venue);
        let mut by_kind: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut prime = Vec::new();
        for i in 0..cap.lines.len() {
            let line = cap.line(i);
            let kind = ours.decode(line).map(|(k, _)| format!("{k:?}"));
            by_kind.entry(format!("{kind:?}")).or_default().push(i);
            if venue == Venue::Bitfinex && line.starts_with(b"{\"event\":\"subscribed\"") {
                prime.push(line.to_vec());
            }
        }
        let prime = Rc::new(prime);
        for idx in by_kind.values() {
            let step = (idx.len() / 40).max(1);
            for &i in idx.iter().step_by(step).take(40) {
                cases.push((prime.clone(), shrink(cap.line(i))));
            }
        }
    }
    let samples = data.join("schema_samples_NOT_REAL").join(dir);
    if let Ok(rd) = std::fs::read_dir(&samples) {
        let mut files: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let n = name(&f);
            if !n.starts_with("ws_") || n.contains("futures") {
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            cases.push((Rc::new(Vec::new()), serde_json::to_vec(&v).unwrap()));
        }
    }
    cases
}

fn fuzz_cases() -> u64 {
    std::env::var("TICKWIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// A decimal number's value as (negative, significant digits, exponent of the last digit),
/// for comparing two spellings of a number exactly.
fn decimal_value(t: &str) -> Option<(bool, String, i64)> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits = format!("{int}{frac}");
    let mut exp = exp - frac.len() as i64;
    while digits.ends_with('0') {
        digits.pop();
        exp += 1;
    }
    let digits = digits.trim_start_matches('0').to_string();
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((neg, digits, exp))
}

/// True when some non-integer number in the JSON text holds more precision than an f64: read
/// back through f64 (as the simd-json reference reads it) it is a different decimal.
fn has_number_beyond_f64(m: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(m) else {
        return false;
    };
    let b = text.as_bytes();
    let (mut i, mut in_str) = (0, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            let tok = &text[start..i];
            if tok.contains(['.', 'e', 'E'])
                || tok.parse::<i64>().is_err() && tok.parse::<u64>().is_err()
            {
                if let Ok(f) = tok.parse::<f64>() {
                    if f.is_finite() && decimal_value(tok) != decimal_value(&format!("{f}")) {
                        return true;
                    }
                }
            }
            continue;
        }
        i += 1;
    }
    false
}

#[derive(Default)]
struct Outcomes {
    data: u64,
    skipped: u64,
    skipped_ref_refused: u64,
    refused: u64,
    refused_ref_decoded: u64,
    out_of_range: u64,
    beyond_f64: u64,
}

/// Mutates real lines and checks, for each mutant:
/// * bytes that are not JSON are refused. The one licensed difference from simd-json: the JSON
///   grammar has no number range, so a grammatical number outside simd-json's (past 64-bit
///   integers and f64) is valid for tickwire's walker, which leaves ranges to the fields that
///   use them (and refuses the message where a field needs such a number);
/// * when ours emits data, the reference decodes the same `Ref`s, except where the reference
///   cannot see what ours reads: simd-json refused the line over a number's range, or a number
///   holds more digits than an f64 carries (ours reads the text exactly, the reference the
///   nearest double; real venue numbers, printed from doubles, never do);
/// * when ours skips the message, it emits nothing, and the reference finds no data in it
///   either (it may refuse a message ours skips: a skipped message's contents are not read);
/// * ours may refuse a message the reference accepts (ours is the stricter: zero prices,
///   escaped symbols, numbers past 17 digits, trailing fields ...), counted and printed
///   (`TICKWIRE_FUZZ_VERBOSE=1` lists them).
fn mutation_differential(venue: Venue, dir: &str) {
    let Some(data) = common::shared_data() else {
        return;
    };
    let verbose = std::env::var("TICKWIRE_FUZZ_VERBOSE").is_ok();
    let corpus = corpus(venue, dir, &data);
    let cases = fuzz_cases();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ venue as u64);
    let mut n = Outcomes::default();
    for case in 0..cases {
        let (prime, base) = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, base);
        let mut ours = Ours::new(venue);
        let mut theirs = reference::for_venue(venue);
        for p in prime.iter() {
            ours.decode(p).unwrap();
            theirs.decode(p).unwrap();
        }
        let show = || String::from_utf8_lossy(&m).into_owned();
        let simd_ok = simd_json::to_borrowed_value(&mut m.clone()).is_ok();
        // The JSON grammar alone (UTF-8 text; serde_json skipping a value scans numbers
        // without converting them, so it has no number range).
        let grammatical = std::str::from_utf8(&m)
            .is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok());
        // simd-json refusing grammatical JSON: only over a number's range, which serde_json's
        // converting parse then reports too (or reads, as a float, a huge integer).
        let out_of_range = grammatical && !simd_ok;
        if out_of_range {
            let full = serde_json::from_slice::<serde_json::Value>(&m);
            assert!(
                full.as_ref()
                    .err()
                    .is_none_or(|e| e.to_string().contains("out of range")),
                "case {case}: simd-json refuses grammatical JSON ({full:?}): {}",
                show()
            );
        }
        let got = ours.decode(&m);
        let want = theirs.decode(&m);
        let (kind, refs) = match got {
            Err(e) => {
                n.refused += 1;
                if want.as_ref().is_ok_and(|w| !w.is_empty()) {
                    n.refused_ref_decoded += 1;
                    if verbose {
                        eprintln!(
                            "case {case}: ours refused ({e:?}), reference decoded: {}",
                            show()
                        );
                    }
                }
                continue;
            }
            Ok(ok) => ok,
        };
        assert!(
            grammatical,
            "case {case}: ours accepted invalid JSON as {kind:?}: {}",
            show()
        );
        if let MsgKind::Skipped(_) = kind {
            n.skipped += 1;
            assert!(refs.is_empty(), "case {case}: skipped but emitted {refs:?}");
            match want {
                Ok(w) => assert!(
                    w.is_empty(),
                    "case {case}: ours skipped ({kind:?}) what the reference decodes as {w:?}: {}",
                    show()
                ),
                Err(e) => {
                    n.skipped_ref_refused += 1;
                    if verbose {
                        eprintln!(
                            "case {case}: ours {kind:?}, reference refused ({e}): {}",
                            show()
                        );
                    }
                }
            }
            continue;
        }
        n.data += 1;
        if want.as_ref() == Ok(&refs) {
            continue;
        }
        if out_of_range {
            n.out_of_range += 1;
        } else if has_number_beyond_f64(&m) {
            n.beyond_f64 += 1;
        } else {
            panic!(
                "case {case}: ours decoded {refs:?} ({kind:?}), reference {want:?}: {}",
                show()
            );
        }
    }
    eprintln!(
        "{dir}: {cases} mutants of {} lines: {} decoded as data ({} where the reference cannot \
         see the numbers: {} out of range, {} beyond f64; all others equal), {} skipped ({} \
         refused by the reference), {} refused ({} of them decoded by the reference)",
        corpus.len(),
        n.data,
        n.out_of_range + n.beyond_f64,
        n.out_of_range,
        n.beyond_f64,
        n.skipped,
        n.skipped_ref_refused,
        n.refused,
        n.refused_ref_decoded,
    );
    assert!(
        n.data > 0 && n.refused > 0,
        "the mutator must produce both outcomes"
    );
}

#[test]
fn mutations_coinbase() {
    mutation_differential(Venue::Coinbase, "coinbase");
}

#[test]
fn mutations_kraken() {
    mutation_differential(Venue::Kraken, "kraken");
}

#[test]
fn mutations_bitstamp() {
    mutation_differential(Venue::Bitstamp, "bitstamp");
}

#[test]
fn mutations_bitfinex() {
    mutation_differential(Venue::Bitfinex, "bitfinex");
}
