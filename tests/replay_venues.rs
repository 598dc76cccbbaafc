//! The issue's "Done means", end to end: `tickwire replay` over every real capture of every
//! supported venue, each file its own source, with per-source counters checked against an
//! independent count by the simd-json reference decoders (`tests/common/reference/`); and the
//! same captures with one line in five corrupted, replayed by the `tickwire` binary.
//!
//! * `*_captures_replay_with_reference_counts`: per file, trades / trade messages / quote /
//!   depth / snapshot / kline messages equal the reference's, `messages` equals the file's line
//!   count, nothing is malformed, and the lines counted `unrepresentable` are exactly the ones
//!   the reference refuses as beyond the 1e-8 scale (OKX ELON-USDT, FUN-BTC). No message is
//!   skipped as `unknown`.
//! * `hftbacktest_snapshots_bridge_the_diff_streams`: the Binance books never gap.
//! * `corrupted_replays_every_venue`: ~2000 real lines per venue, one in five truncated,
//!   bit-flipped or with a value's type changed (deterministic RNG). Exit 0; every unchanged line
//!   processed as in the clean run; every corrupted line the reference refuses counted malformed.
//! * `a_snapshotless_source_does_not_break_another_sources_book` and
//!   `an_invalid_message_with_a_beyond_scale_number_is_malformed` pin two bugs found here (they
//!   fail until `src/` is fixed; see each test's comment).
//!
//! `cargo test --test replay_venues -- --nocapture` prints the per-file tables.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::reference::{self, simd::BEYOND_SCALE, Ours, Ref};
use common::*;
use tickwire::feed::parse::{MsgKind, ParseError, SkipKind, Venue};
use tickwire::feed::replay::Capture;

/// The venue directories of `shared/data/ws/` the issue names, and the parser for each.
const VENUE_DIRS: [(&str, Venue); 10] = [
    ("binance_spot", Venue::Binance),
    ("binance_us", Venue::Binance),
    ("binance_usdm_futures", Venue::Binance),
    ("binance_coinm_futures", Venue::Binance),
    ("coinbase", Venue::Coinbase),
    ("kraken", Venue::Kraken),
    ("bybit", Venue::Bybit),
    ("okx", Venue::Okx),
    ("bitstamp", Venue::Bitstamp),
    ("bitfinex", Venue::Bitfinex),
];

/// Enough books and instruments that no file's depth or symbol is turned away for lack of room
/// (an unplaced book would hide gaps; a full instrument table would skip trades).
const ROOMY: [&str; 2] = ["source.books=1024", "source.max_instruments=4096"];

/// Captures of one venue directory (`*.jsonl.zst`, `*.jsonl`), sorted.
fn captures(data: &Path, dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("ws").join(dir))
        .unwrap_or_else(|e| panic!("ws/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = file_name(p);
            n.ends_with(".jsonl.zst") || n.ends_with(".jsonl")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in ws/{dir}");
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Message counts, as the pipeline's per-source counters name them.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Tally {
    messages: u64,
    trades: u64,
    trade_messages: u64,
    quotes: u64,
    depth: u64,
    snapshots: u64,
    klines: u64,
    /// Refused as beyond the 1e-8 scale (tickwire: skipped `unrepresentable`).
    unrepresentable: u64,
    /// Refused for any other reason (tickwire: malformed).
    malformed: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Self) {
        self.messages += o.messages;
        self.trades += o.trades;
        self.trade_messages += o.trade_messages;
        self.quotes += o.quotes;
        self.depth += o.depth;
        self.snapshots += o.snapshots;
        self.klines += o.klines;
        self.unrepresentable += o.unrepresentable;
        self.malformed += o.malformed;
    }
}

impl Tally {
    /// What the reference says one line is: trades = its `Ref::Trade`s, a trade message if it
    /// has one, a quote message if it has a `Ref::Quote`, a depth or snapshot message by its
    /// `Ref::Book`'s flag, a kline message if it has a `Ref::Kline`.
    fn of_line(r: &Result<Vec<Ref>, String>) -> Self {
        let mut t = Tally {
            messages: 1,
            ..Tally::default()
        };
        match r {
            Err(why) if why.contains(BEYOND_SCALE) => t.unrepresentable = 1,
            Err(_) => t.malformed = 1,
            Ok(refs) => {
                t.trades = refs
                    .iter()
                    .filter(|r| matches!(r, Ref::Trade { .. }))
                    .count() as u64;
                t.trade_messages = u64::from(t.trades > 0);
                t.quotes = u64::from(refs.iter().any(|r| matches!(r, Ref::Quote { .. })));
                let book = refs.iter().find_map(|r| match r {
                    Ref::Book { snapshot, .. } => Some(*snapshot),
                    _ => None,
                });
                t.snapshots = u64::from(book == Some(true));
                t.depth = u64::from(book == Some(false));
                t.klines = u64::from(refs.iter().any(|r| matches!(r, Ref::Kline { .. })));
            }
        }
        t
    }

    /// The pipeline's counters for one source of summary.json.
    fn of_source(s: &serde_json::Value) -> Self {
        let n = |k: &str| {
            s[k].as_u64()
                .unwrap_or_else(|| panic!("sources[].{k} missing: {s}"))
        };
        Tally {
            messages: n("messages"),
            trades: n("trades"),
            trade_messages: n("trade_messages"),
            quotes: n("quotes"),
            depth: n("depth"),
            snapshots: n("snapshots"),
            klines: n("klines"),
            unrepresentable: s["skipped"]["unrepresentable"].as_u64().unwrap_or(0),
            malformed: n("malformed"),
        }
    }
}

/// The reference decoder's verdict on every line of `lines`, in order (one decoder for the
/// whole file: Bitfinex's is stateful).
fn reference_lines<'a>(
    venue: Venue,
    lines: impl Iterator<Item = &'a [u8]>,
) -> Vec<Result<Vec<Ref>, String>> {
    let mut theirs = reference::for_venue(venue);
    lines.map(|l| theirs.decode(l)).collect()
}

fn capture_lines(cap: &Capture) -> impl Iterator<Item = &[u8]> {
    (0..cap.lines.len()).map(|i| cap.line(i))
}

/// Lines tickwire's own parser skips as `unknown` (index, text), to print and justify.
fn unknown_lines(venue: Venue, cap: &Capture) -> Vec<(usize, String)> {
    let mut ours = Ours::new(venue);
    let mut out = Vec::new();
    for (i, line) in capture_lines(cap).enumerate() {
        if let Ok((MsgKind::Skipped(SkipKind::Unknown), _)) = ours.decode(line) {
            out.push((i, String::from_utf8_lossy(line).into_owned()));
        }
    }
    out
}

/// summary.json's source named `name`.
fn source<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["sources"]
        .as_array()
        .expect("summary.json has sources")
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {}", s["sources"]))
}

#[test]
fn binance_spot_and_us_captures_replay_with_reference_counts() {
    check_dirs(&VENUE_DIRS[..2]);
}

#[test]
fn binance_futures_captures_replay_with_reference_counts() {
    check_dirs(&VENUE_DIRS[2..4]);
}

#[test]
fn other_venue_captures_replay_with_reference_counts() {
    check_dirs(&VENUE_DIRS[4..]);
}

/// Replays every capture of `dirs` (one run per directory, each file its own source) and
/// checks each source's counters against the reference's count of the same file.
fn check_dirs(dirs: &[(&'static str, Venue)]) {
    let Some(data) = shared_data() else { return };
    let mut failures = Vec::new();
    let mut venue_totals: BTreeMap<&str, (usize, Tally)> = BTreeMap::new();
    for &(dir, venue) in dirs {
        let files = captures(&data, dir);
        // Every file's own name must pick this venue's parser (the runtime guesses it).
        for f in &files {
            assert_eq!(
                Venue::from_file_name(&file_name(f)),
                Some(venue),
                "{}: the file name must select the {venue:?} parser",
                f.display()
            );
        }
        // One run per venue directory, every file its own source.
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let mut sets = replay_sets(&refs);
        sets.extend(ROOMY.iter().map(|s| s.to_string()));
        let rd = report_dir(&format!("replay-venues-{dir}"));
        let res = run_with(&sets, "replay", &rd);
        let s = &res.summary;
        assert_eq!(s["sources"].as_array().unwrap().len(), files.len(), "{dir}");
        for f in &files {
            let name = file_name(f);
            let cap = Capture::load(f).unwrap();
            let verdicts = reference_lines(venue, capture_lines(&cap));
            let mut want = Tally::default();
            for v in &verdicts {
                want += Tally::of_line(v);
            }
            // A real capture: the reference refuses nothing but numbers beyond the scale.
            for (i, v) in verdicts.iter().enumerate() {
                if let Err(why) = v {
                    if !why.contains(BEYOND_SCALE) {
                        failures.push(format!("{name} line {i}: reference refused: {why}"));
                    }
                }
            }
            let src = source(s, &name);
            let got = Tally::of_source(src);
            eprintln!(
                "{dir:22} {name:58} msgs {:6} trades {:5} ({:5} msgs) quotes {:5} depth {:6} snap {:3} klines {:3} unrepr {:3} malformed {} skipped {}",
                got.messages,
                got.trades,
                got.trade_messages,
                got.quotes,
                got.depth,
                got.snapshots,
                got.klines,
                got.unrepresentable,
                got.malformed,
                src["skipped"]
            );
            if got != want {
                failures.push(format!("{name}: pipeline {got:?}\n   reference {want:?}"));
            }
            if got.messages != cap.lines.len() as u64 {
                failures.push(format!(
                    "{name}: {} messages but the file has {} lines",
                    got.messages,
                    cap.lines.len()
                ));
            }
            if got.malformed != 0 {
                failures.push(format!("{name}: {} malformed", got.malformed));
            }
            // Counted skipped as unknown: print each, and none is expected.
            let unknown = src["skipped"]["unknown"].as_u64().unwrap_or(0);
            if unknown != 0 {
                for (i, l) in unknown_lines(venue, &cap) {
                    eprintln!("  {name} line {i} skipped as unknown: {l}");
                }
                failures.push(format!("{name}: {unknown} skipped as unknown"));
            }
            let e = venue_totals.entry(dir).or_default();
            e.0 += 1;
            e.1 += got;
        }
        // Per-source counters add up to the run's totals.
        let total: u64 = s["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["messages"].as_u64().unwrap())
            .sum();
        assert_eq!(s["messages"]["received"], total, "{dir}");
    }
    for (dir, (n, t)) in &venue_totals {
        eprintln!(
            "TOTAL {dir:22} files {n:2} msgs {:7} trades {:6} quotes {:6} depth {:6} snapshots {:3} klines {:3} unrepresentable {}",
            t.messages, t.trades, t.quotes, t.depth, t.snapshots, t.klines, t.unrepresentable
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Binance hftbacktest captures that start with a REST `/depth` snapshot.
const HFT_WITH_SNAPSHOT: [&str; 6] = [
    "binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst",
    "binance_spot/hftbacktest_spot_ethusdt_20240808.jsonl.zst",
    "binance_usdm_futures/hftbacktest_usdm_btcusdt_20240808.jsonl.zst",
    "binance_usdm_futures/hftbacktest_usdm_ethusdt_20240808.jsonl.zst",
    "binance_coinm_futures/hftbacktest_cm_btcusd_perp_20240808.jsonl.zst",
    "binance_coinm_futures/hftbacktest_cm_ethusd_perp_20240808.jsonl.zst",
];

#[test]
fn hftbacktest_snapshots_bridge_the_diff_streams() {
    // Each capture alone: the embedded REST snapshot bridges the diff stream (SOURCES.md: 0
    // sequence breaks), so the book never has a gap. Every other hftbacktest file (the
    // `_20240809` continuations) has no snapshot: its diffs wait for one and never gap either.
    let Some(data) = shared_data() else { return };
    let files: Vec<PathBuf> = HFT_WITH_SNAPSHOT
        .iter()
        .map(|f| data.join("ws").join(f))
        .collect();
    for f in &files {
        let mut sets = replay_sets(&[f.as_path()]);
        sets.extend(ROOMY.iter().map(|s| s.to_string()));
        let rd = report_dir("replay-venues-hft-book");
        let res = run_with(&sets, "replay", &rd);
        let src = source(&res.summary, &file_name(f));
        eprintln!(
            "{}: snapshots {} depth {} book_gaps {} book_stale {} book_unplaced {}",
            file_name(f),
            src["snapshots"],
            src["depth"],
            src["book_gaps"],
            src["book_stale"],
            src["book_unplaced"]
        );
        assert_eq!(src["snapshots"], 1, "{}", file_name(f));
        assert_eq!(src["book_gaps"], 0, "{}: book gap", file_name(f));
        assert_eq!(src["book_unplaced"], 0, "{}", file_name(f));
    }
}

#[test]
fn a_snapshotless_source_does_not_break_another_sources_book() {
    // Each replay file is its own source with its own book. Replaying a capture whose depth
    // diffs never get a snapshot (the `_20240809` continuation) before one that does must not
    // change the second file's book: alone, hftbacktest_cm_ethusd_perp_20240808 has no gap.
    //
    // Failed before the fix: `ParseStage::pending` (PENDING_LEVELS = 65,536 levels) is shared by every
    // source of the lane, and levels held for a book that never gets its snapshot are never
    // released. The BTCUSD continuation's 17,948 diffs fill it, so the 26 ETHUSD diffs that
    // arrive before ETHUSD's snapshot are dropped silently (`Apply::Hold` with a full buffer),
    // the diff that bridges the snapshot (U=…5028 ≤ lastUpdateId+1=…5067 ≤ u+1) is lost, the
    // next one (U=…5206, pu=…5184) does not follow lastUpdateId=…5066: `book_gaps` = 1 and
    // the ETHUSD book stays empty for the rest of the file (no second snapshot).
    let Some(data) = shared_data() else { return };
    let cm = data.join("ws/binance_coinm_futures");
    let first = cm.join("hftbacktest_cm_btcusd_perp_20240809.jsonl.zst");
    let second = cm.join("hftbacktest_cm_ethusd_perp_20240808.jsonl.zst");
    let mut sets = replay_sets(&[first.as_path(), second.as_path()]);
    sets.extend(ROOMY.iter().map(|s| s.to_string()));
    let rd = report_dir("replay-venues-starve");
    let res = run_with(&sets, "replay", &rd);
    let src = source(&res.summary, &file_name(&second));
    assert_eq!(src["snapshots"], 1);
    assert_eq!(
        src["book_gaps"],
        0,
        "{}'s book broke because another source's diffs filled the shared held-diff buffer: {src}",
        file_name(&second)
    );
}

// ---------------------------------------------------------------------------------------------
// Corrupted replays.

/// xorshift64*: deterministic, no dependency.
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

/// A JSON value token of a line: byte range and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Str,
    Num,
    Lit,
}

/// The scalar values of a JSON line (strings that are not keys, numbers, true/false/null),
/// found by a plain scan; good enough for well-formed lines, which is all it is given.
fn value_tokens(line: &[u8]) -> Vec<(usize, usize, Tok)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(line.len());
                let mut j = end;
                while j < line.len() && line[j].is_ascii_whitespace() {
                    j += 1;
                }
                if line.get(j) != Some(&b':') {
                    out.push((start, end, Tok::Str));
                }
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < line.len()
                    && matches!(line[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push((start, i, Tok::Num));
            }
            b't' | b'f' | b'n' => {
                let start = i;
                while i < line.len() && line[i].is_ascii_alphabetic() {
                    i += 1;
                }
                out.push((start, i, Tok::Lit));
            }
            _ => i += 1,
        }
    }
    out
}

/// One corruption of a real line: truncated mid-line, one bit flipped, or one value's type
/// changed (a string to an object, array or null; a number to `true`, a string or an object;
/// a literal to a number or a string). Never introduces a line break.
fn corrupt(rng: &mut Rng, line: &[u8]) -> (Vec<u8>, &'static str) {
    let mut l = line.to_vec();
    match rng.below(3) {
        0 => {
            l.truncate(1 + rng.below(l.len() - 1));
            (l, "truncated")
        }
        1 => loop {
            let at = rng.below(l.len());
            let flipped = l[at] ^ (1 << rng.below(8));
            if !matches!(flipped, b'\n' | b'\r') {
                l[at] = flipped;
                return (l, "bit flip");
            }
        },
        _ => {
            let toks = value_tokens(line);
            if toks.is_empty() {
                l.truncate(l.len() / 2);
                return (l, "truncated");
            }
            let (a, b, kind) = toks[rng.below(toks.len())];
            let v = String::from_utf8_lossy(&line[a..b]).into_owned();
            let choice = rng.below(3);
            let new = match (kind, choice) {
                (Tok::Str, 0) => format!("{{\"v\":{v}}}"),
                (Tok::Str, 1) => format!("[{v}]"),
                (Tok::Str, _) => "null".to_string(),
                (Tok::Num, 0) => "true".to_string(),
                (Tok::Num, 1) => format!("\"{v}\""),
                (Tok::Num, _) => "{}".to_string(),
                (Tok::Lit, 0) => "1".to_string(),
                (Tok::Lit, _) => format!("\"{v}\""),
            };
            let mut out = line[..a].to_vec();
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(&line[b..]);
            (out, "type changed")
        }
    }
}

/// `line` with every string holding a plain decimal with more than 8 significant fraction
/// digits replaced by `"1"`.
fn representable(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut at = 0;
    for (a, b, kind) in value_tokens(line) {
        if kind != Tok::Str || b - a < 2 {
            continue;
        }
        let text = &line[a + 1..b - 1];
        let plain = text.iter().all(|c| c.is_ascii_digit() || *c == b'.')
            && text.iter().filter(|c| **c == b'.').count() == 1;
        let frac = text.splitn(2, |c| *c == b'.').nth(1).unwrap_or(&[]);
        let significant = frac.len() - frac.iter().rev().take_while(|c| **c == b'0').count();
        if plain && significant > 8 {
            out.extend_from_slice(&line[at..a]);
            out.extend_from_slice(b"\"1\"");
            at = b;
        }
    }
    out.extend_from_slice(&line[at..]);
    out
}

/// About this many real lines per venue.
const CORRUPT_LINES: usize = 2000;

/// The real lines a venue's corrupted file is built from. Stateless venues: the first lines of
/// each of the directory's captures (so every message type of the venue appears). Bitfinex
/// (channel ids bound by `subscribed` events): one capture, in order, its events and trades
/// all kept, and every 12th other line.
fn venue_lines(data: &Path, dir: &str, venue: Venue) -> Vec<Vec<u8>> {
    let files = captures(data, dir);
    let mut out = Vec::new();
    if venue == Venue::Bitfinex {
        let cap = Capture::load(
            &data.join("ws/bitfinex/cryptofeed_BITFINEX-58bafb.0_20210405.jsonl.zst"),
        )
        .unwrap();
        for (i, l) in capture_lines(&cap).enumerate() {
            let keep = l.starts_with(b"{")
                || l.windows(4).any(|w| w == b"\"te\"" || w == b"\"tu\"")
                || i % 12 == 0;
            if keep && out.len() < CORRUPT_LINES {
                out.push(l.to_vec());
            }
        }
        return out;
    }
    let per_file = CORRUPT_LINES.div_ceil(files.len());
    for f in &files {
        let cap = Capture::load(f).unwrap();
        out.extend(capture_lines(&cap).take(per_file).map(<[u8]>::to_vec));
    }
    out
}

/// Lines never corrupted: Bitfinex's `info` / `subscribed` events, which bind the channel ids
/// every later message is read by (corrupting one legitimately changes what follows).
fn protected(venue: Venue, line: &[u8]) -> bool {
    venue == Venue::Bitfinex && line.starts_with(b"{")
}

struct Corrupted {
    dir: &'static str,
    path: PathBuf,
    /// Expected per-source counters, the ambiguous lines left out.
    want: Tally,
    /// Refused lines that are both beyond the scale and otherwise invalid: each counted either
    /// malformed or unrepresentable.
    ambiguous: u64,
    corrupted: usize,
    by_how: BTreeMap<&'static str, (usize, usize)>,
}

#[test]
fn corrupted_replays_every_venue() {
    let Some(data) = shared_data() else { return };
    let work = report_dir("replay-venues-corrupt");
    std::fs::create_dir_all(&work).unwrap();
    let mut rng = Rng(0x5EED_7161_C0DE_0001);
    let mut files = Vec::new();
    for (dir, venue) in VENUE_DIRS {
        let clean = venue_lines(&data, dir, venue);
        let clean_verdicts = reference_lines(venue, clean.iter().map(Vec::as_slice));
        let mut lines = Vec::with_capacity(clean.len());
        let mut changed = vec![false; clean.len()];
        let mut how = vec![""; clean.len()];
        for (i, l) in clean.iter().enumerate() {
            if i % 5 == 4 && !protected(venue, l) {
                let (c, h) = corrupt(&mut rng, l);
                changed[i] = c != *l;
                how[i] = h;
                lines.push(c);
            } else {
                lines.push(l.clone());
            }
        }
        // The reference over the corrupted file, in order (Bitfinex's decoder keeps state).
        let verdicts = reference_lines(venue, lines.iter().map(Vec::as_slice));
        let mut want = Tally::default();
        let mut ambiguous = Vec::new();
        let mut by_how: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        for i in 0..lines.len() {
            if !changed[i] {
                // An unchanged line reads as it did in the clean file.
                assert_eq!(
                    verdicts[i], clean_verdicts[i],
                    "{dir} line {i}: an unchanged line decodes differently after corruption elsewhere"
                );
                want += Tally::of_line(&clean_verdicts[i]);
                continue;
            }
            let e = by_how.entry(how[i]).or_default();
            e.0 += 1;
            // A refused line with a number beyond the 1e-8 scale that would still be refused
            // with its numbers made representable has two problems (an ELON-USDT price in
            // 10⁻¹¹ and, say, a size turned to `null`): it is broken, so it must be malformed,
            // whichever problem a parser meets first (`VenueParser::parse_checked`).
            let fixed = representable(&lines[i]);
            if verdicts[i].is_err() && fixed != lines[i] {
                let again = reference::for_venue(venue).decode(&fixed);
                if again.as_ref().is_err_and(|w| !w.contains(BEYOND_SCALE)) {
                    ambiguous.push(i);
                    continue;
                }
            }
            let t = Tally::of_line(&verdicts[i]);
            e.1 += t.malformed as usize;
            want += t;
        }
        // Where tickwire's own parser classes a corrupted line differently from the reference
        // (printed, to explain a count mismatch below).
        let mut ours = Ours::new(venue);
        for (i, l) in lines.iter().enumerate() {
            let o = ours.decode(l);
            if !changed[i] {
                continue;
            }
            let r = Tally::of_line(&verdicts[i]);
            let refused = |e: &ParseError| match e {
                ParseError::Unrepresentable(_) => (0, 1),
                _ => (1, 0),
            };
            let (m, u) = o.as_ref().err().map_or((0, 0), refused);
            if (m, u) != (r.malformed, r.unrepresentable) {
                eprintln!(
                    "{dir} line {i} ({}{}): tickwire {:?}, reference {:?}: {}",
                    how[i],
                    if ambiguous.contains(&i) {
                        ", ambiguous"
                    } else {
                        ""
                    },
                    o.as_ref().map(|x| x.0),
                    verdicts[i].as_ref().map(|x| x.len()),
                    String::from_utf8_lossy(l)
                );
            }
        }
        let path = work.join(format!("corrupt_{dir}.jsonl"));
        let mut text = lines.join(&b'\n');
        text.push(b'\n');
        std::fs::write(&path, text).unwrap();
        files.push(Corrupted {
            dir,
            path,
            want,
            ambiguous: ambiguous.len() as u64,
            corrupted: changed.iter().filter(|c| **c).count(),
            by_how,
        });
    }

    // One `tickwire replay` over every venue's corrupted file, each its own source.
    let report = work.join("report");
    let mut args: Vec<String> = vec!["replay".into()];
    for f in &files {
        args.push("--input".into());
        args.push(f.path.display().to_string());
    }
    args.extend([
        "--report-dir".into(),
        report.display().to_string(),
        "--set".into(),
        "source.max_instruments=4096".into(),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(&args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("spawn tickwire");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&report);
    let mut failures = Vec::new();
    for f in &files {
        let name = file_name(&f.path);
        let src = source(&s, &name);
        let got = Tally::of_source(src);
        // The doubly broken lines are malformed; everything is exact.
        let mut want = f.want;
        want.messages += f.ambiguous;
        want.malformed += f.ambiguous;
        eprintln!(
            "{:22} lines {:5} corrupted {:4} {:?} -> malformed {:4} (want {:4} incl. {} doubly broken), trades {:5}/{:5}, quotes {:4}/{:4}, depth {:4}/{:4}, snapshots {:3}/{:3}, klines {:3}/{:3}, unrepresentable {}/{}",
            f.dir,
            got.messages,
            f.corrupted,
            f.by_how,
            got.malformed,
            f.want.malformed,
            f.ambiguous,
            got.trades,
            want.trades,
            got.quotes,
            want.quotes,
            got.depth,
            want.depth,
            got.snapshots,
            want.snapshots,
            got.klines,
            want.klines,
            got.unrepresentable,
            want.unrepresentable,
        );
        if got != want {
            failures.push(format!(
                "{}: tickwire {got:?}\n   expected {want:?} ({} ambiguous)",
                f.dir, f.ambiguous
            ));
        }
        // The line the binary prints for the source says the same.
        let line = format!(
            "  {name}: {} messages, {} trades in {} messages, {} quotes, {} depth, {} snapshots, {} klines,",
            got.messages, got.trades, got.trade_messages, got.quotes, got.depth, got.snapshots, got.klines
        );
        assert!(stdout.contains(&line), "`{line}` not in:\n{stdout}");
        // One line in five (Bitfinex: its events excepted); most of them refused.
        assert!(
            f.corrupted * 6 >= got.messages as usize,
            "{}: only {} of {} lines corrupted",
            f.dir,
            f.corrupted,
            got.messages
        );
        assert!(f.want.malformed * 2 > f.corrupted as u64, "{}", f.dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_invalid_message_with_a_beyond_scale_number_is_malformed() {
    // `unrepresentable` is for a *valid* message whose number the 1e-8 scale cannot hold
    // (SkipKind::Unrepresentable). A message that is also invalid elsewhere is malformed.
    //
    // Failed before `parse_checked`: the parsers stop at the first problem in reading order, so a corrupted
    // ELON-USDT book update (a real line, one size bit-flipped to `35900'50`) is skipped as
    // `unrepresentable` because its first level's price is in 10⁻¹¹, while damage read before
    // that price (the second case: OKX bids are read before asks) is malformed. Found by `corrupted_replays_every_venue` (OKX line 809),
    // which therefore accepts either count for such lines.
    let cases: [(Venue, &str); 3] = [
        (
            Venue::Okx,
            r#"{"arg":{"channel":"books-l2-tbt","instId":"ELON-USDT"},"action":"update","data":[{"asks":[["0.00000074524","0","0","0"],["0.00000113315","35900'50","0","1"]],"bids":[],"ts":"1646003668041","checksum":892451157}]}"#,
        ),
        (
            Venue::Okx,
            r#"{"arg":{"channel":"books-l2-tbt","instId":"ELON-USDT"},"action":"update","data":[{"asks":[["0.00000074691","0","0","0"]],"bids":[[{"v":"0.0000007435"},"184440410","0","1"]],"ts":"1646003668277","checksum":1456798101}]}"#,
        ),
        (
            Venue::Binance,
            r#"{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"0.000000001","q":true,"T":1723161255342,"m":true,"M":true}"#,
        ),
    ];
    let mut wrong = Vec::new();
    for (venue, line) in cases {
        let mut theirs = reference::for_venue(venue);
        let fixed = representable(line.as_bytes());
        assert!(
            theirs.decode(&fixed).is_err(),
            "invalid even with representable numbers: {line}"
        );
        match Ours::new(venue).decode(line.as_bytes()) {
            Err(ParseError::Unrepresentable(f)) => wrong.push(format!(
                "{venue:?}: skipped as unrepresentable ({f}) instead of malformed: {line}"
            )),
            Err(_) => {}
            Ok(k) => wrong.push(format!("{venue:?}: accepted as {:?}: {line}", k.0)),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
