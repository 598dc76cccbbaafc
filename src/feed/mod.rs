//! Sources and the parse stage.
//!
//! A source hands raw exchange bytes and a receive time to the parse stage on the same thread
//! (raw bytes never cross a ring: a message can be kilobytes, an event is 128 bytes). Sources:
//! the seeded synthetic market (the default of `run` and the benchmark load) and recorded
//! captures. Both are fully prepared before the hot loop starts; `next` neither allocates nor
//! makes a syscall.

pub mod live;
pub mod parse;
pub mod reorder;
pub mod replay;
pub mod stream;
pub mod subscribe;
pub mod synthetic;
pub mod ws;

use std::sync::Arc;

use crate::core::clock;
use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::config::Speed;
use crate::core::stats::AnomalyKind;
use crate::core::stats::LaneStats;
use crate::core::{BookTicker, InstrumentId};
use crate::core::{Envelope, Instrument, InstrumentTable, Payload, Sink, Symbol};
use parse::book::Book;
use parse::{BookUpdate, Event, MsgKind, ParseError, SkipKind, Venue, VenueParser};
use replay::Capture;
use synthetic::SyntheticMarket;

/// One raw message from a source.
#[derive(Clone, Copy, Debug)]
pub struct RawMessage<'a> {
    /// The bytes, exactly as the venue sent them.
    pub bytes: &'a [u8],
    /// Wall-clock receive time (ns since epoch): recorded for captures, stamped live otherwise.
    pub recv_ns: u64,
    /// Monotonic ingress stamp for latency; 0 from a source with no arrival times (a file
    /// streamed at full speed), whose messages the hot loop stamps itself when it times them.
    pub ingress_ns: u64,
    /// Which source line (index into the parse stage's lines) it came from.
    pub line: u8,
    /// Market time the source itself knows for this message (the synthetic market's clock, or
    /// a capture's recorded receive time), used when the message carries no venue time. Never
    /// the live wall clock, so replays and the synthetic warm-up stay deterministic.
    pub market_ns: Option<u64>,
}

/// What a source has now.
pub enum Next<'a> {
    /// A message.
    Msg(RawMessage<'a>),
    /// Nothing due yet (paced replay or live pacing): poll again.
    Wait,
    /// Work was done (a connection event) or another line may have data: poll again at once.
    Busy,
    /// Line `n` reconnected: its parser's per-connection state must be reset.
    Reset(u8),
    /// Exhausted.
    End,
}

/// Maps monotonic time to wall time from one anchor, so a message costs one clock read.
#[derive(Clone, Copy)]
pub(crate) struct Anchor {
    mono: u64,
    wall: u64,
}

impl Anchor {
    fn now() -> Self {
        Self {
            mono: clock::mono_ns(),
            wall: clock::wall_ns(),
        }
    }
    fn wall_at(&self, mono: u64) -> u64 {
        self.wall + mono.saturating_sub(self.mono)
    }
}

/// The seeded synthetic market, paced to wall time (or unpaced at `Speed::Max`).
pub struct SyntheticSource {
    market: SyntheticMarket,
    buf: Vec<u8>,
    pending: Option<u64>,
    anchor: Anchor,
    live_from_ns: u64,
    speed: Speed,
    limit: Option<u64>,
    emitted: u64,
    pacer: Pacer,
}

/// Fixed-rate pacing ([`Speed::Rate`]): message `n` is due `n / rate` seconds after the
/// first poll. A message is stamped with the instant it was due, not the instant it left:
/// when the pipeline falls behind, the wait counts as latency, as it would for a message
/// arriving on a wire (no coordinated omission). Waiting is a spin ([`Next::Busy`]): a
/// parked thread would wake late and count its own wake-up.
#[derive(Default)]
pub(crate) struct Pacer {
    start: Option<u64>,
}

impl Pacer {
    /// The instant message `n` is due, once `now` has reached it.
    #[inline]
    pub(crate) fn due(&mut self, now: u64, n: u64, rate: f64) -> Option<u64> {
        let start = *self.start.get_or_insert(now);
        let due = start.saturating_add((n as f64 * 1e9 / rate) as u64);
        (now >= due).then_some(due)
    }
}

impl SyntheticSource {
    /// Wraps a generator. Messages stamped before `live_from_ns` (warm-up history) are due at
    /// once; later ones are paced by `speed` from that instant. `limit` stops it after that
    /// many messages.
    pub fn new(
        market: SyntheticMarket,
        live_from_ns: u64,
        speed: Speed,
        limit: Option<u64>,
    ) -> Self {
        Self {
            market,
            buf: Vec::with_capacity(synthetic::MAX_MESSAGE_LEN),
            pending: None,
            anchor: Anchor::now(),
            live_from_ns,
            speed,
            limit,
            emitted: 0,
            pacer: Pacer::default(),
        }
    }

    fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return Next::End;
        }
        let market_ns = match self.pending {
            Some(t) => t,
            None => {
                let t = self.market.next_message(&mut self.buf);
                self.pending = Some(t);
                t
            }
        };
        let mut now = clock::mono_ns();
        match self.speed {
            Speed::Factor(f) => {
                let due = self.anchor.mono
                    + (market_ns.saturating_sub(self.live_from_ns) as f64 / f) as u64;
                if now < due {
                    return Next::Wait;
                }
            }
            Speed::Rate(r) => match self.pacer.due(now, self.emitted, r) {
                Some(due) => now = due,
                None => return Next::Busy,
            },
            Speed::Max => {}
        }
        self.pending = None;
        self.emitted += 1;
        Next::Msg(RawMessage {
            line: 0,
            bytes: &self.buf,
            recv_ns: self.anchor.wall_at(now),
            ingress_ns: now,
            market_ns: Some(market_ns),
        })
    }
}

/// Recorded captures played in the order given, `loops` times.
pub struct ReplaySource {
    captures: Vec<Arc<Capture>>,
    /// Next line of each capture.
    cursor: Vec<usize>,
    /// Sequential mode: the capture being played.
    file: usize,
    /// Merge the captures by receive time (all have sidecars) instead of one after another.
    merge: bool,
    loops_left: u64,
    speed: Speed,
    anchor: Anchor,
    first_recv: Option<u64>,
    limit: Option<u64>,
    emitted: u64,
    progress: Option<Arc<std::sync::atomic::AtomicU64>>,
    pacer: Pacer,
}

impl ReplaySource {
    /// Publishes how many messages were played to `progress`, every 4,096 (and at the end).
    pub fn with_progress(mut self, progress: Option<Arc<std::sync::atomic::AtomicU64>>) -> Self {
        self.progress = progress;
        self
    }

    fn publish(&self) {
        if let Some(p) = &self.progress {
            p.store(self.emitted, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Plays `captures` `loops` times at `speed`, at most `limit` messages. When every
    /// capture has its receive times (a `recv_ns` sidecar), they are merged by receive time
    /// (ties in file order), as they arrived; otherwise they play one after another.
    pub fn new(captures: Vec<Arc<Capture>>, speed: Speed, loops: u64, limit: Option<u64>) -> Self {
        let merge = captures.len() > 1 && captures.iter().all(|c| c.recv_ns.is_some());
        Self {
            cursor: vec![0; captures.len()],
            captures,
            file: 0,
            merge,
            loops_left: loops.max(1),
            speed,
            anchor: Anchor::now(),
            first_recv: None,
            limit,
            emitted: 0,
            progress: None,
            pacer: Pacer::default(),
        }
    }

    /// True when the captures are merged by receive time.
    pub fn merged(&self) -> bool {
        self.merge
    }

    /// The capture whose next line comes first, if any line is left.
    #[inline]
    fn next_file(&mut self) -> Option<usize> {
        if self.merge {
            let mut best: Option<(u64, usize)> = None;
            for (f, cap) in self.captures.iter().enumerate() {
                let at = self.cursor[f];
                if at >= cap.lines.len() {
                    continue;
                }
                let t = cap.recv_ns.as_ref().map_or(0, |r| r[at]);
                if best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, f));
                }
            }
            return best.map(|(_, f)| f);
        }
        while let Some(cap) = self.captures.get(self.file) {
            if self.cursor[self.file] < cap.lines.len() {
                return Some(self.file);
            }
            self.file += 1;
        }
        None
    }

    fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            self.publish();
            return Next::End;
        }
        let file = loop {
            if let Some(f) = self.next_file() {
                break f;
            }
            self.loops_left -= 1;
            if self.loops_left == 0 || self.captures.is_empty() {
                self.publish();
                return Next::End;
            }
            self.file = 0;
            self.cursor.iter_mut().for_each(|c| *c = 0);
            self.first_recv = None;
            self.anchor = Anchor::now();
        };
        let line = self.cursor[file];
        let cap = &self.captures[file];
        let mut now = clock::mono_ns();
        let recorded = cap.recv_ns.as_ref().map(|r| r[line]);
        match (self.speed, recorded) {
            (Speed::Factor(f), Some(t)) => {
                let first = *self.first_recv.get_or_insert(t);
                let due = self
                    .anchor
                    .mono
                    .saturating_add((t.saturating_sub(first) as f64 / f) as u64);
                if now < due {
                    return Next::Wait;
                }
            }
            (Speed::Rate(r), _) => match self.pacer.due(now, self.emitted, r) {
                Some(due) => now = due,
                None => return Next::Busy,
            },
            _ => {}
        }
        self.cursor[file] += 1;
        self.emitted += 1;
        if self.emitted & 4095 == 0 {
            self.publish();
        }
        Next::Msg(RawMessage {
            line: file.min(255) as u8,
            bytes: cap.line(line),
            recv_ns: recorded.unwrap_or_else(|| self.anchor.wall_at(now)),
            ingress_ns: now,
            market_ns: recorded,
        })
    }
}

/// Any source. An enum, not a trait object: the hot loop dispatches with a jump, not a vtable.
/// One source exists per lane, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// Synthetic market.
    Synthetic(SyntheticSource),
    /// Recorded captures.
    Replay(ReplaySource),
    /// Replay files streamed from disk (see [`stream`]).
    Stream(stream::StreamSource),
    /// Live WebSocket feeds.
    Live(live::LiveSource),
}

impl Source {
    /// The next message, `Wait` or `End`.
    #[inline]
    pub fn poll(&mut self) -> Next<'_> {
        match self {
            Source::Synthetic(s) => s.poll(),
            Source::Replay(r) => r.poll(),
            Source::Stream(r) => r.poll(),
            Source::Live(l) => l.poll(),
        }
    }

    /// The receive clock now, for sources whose receive time is the wall clock (live feeds);
    /// `None` for sources whose time is their data.
    #[inline]
    pub fn recv_now(&self) -> Option<u64> {
        match self {
            Source::Live(l) => Some(l.recv_now()),
            _ => None,
        }
    }
}

/// Whether a source is a primary line (its trades form the stream) or a backup venue (its
/// prices cross-check the primaries, and stand in for them on failover).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A/B lines of the instrument's own venue.
    Primary,
    /// Another venue quoting the same asset.
    Backup,
}

/// One source line as the parse stage sees it.
pub struct LineSpec {
    /// Name for reports (`binance_a`, or the replay file name).
    pub name: String,
    /// Parser for its messages.
    pub parser: VenueParser,
    /// Venue symbol → instrument symbol, for venues that name the asset differently
    /// (`BTC-USD` → `BTCUSDT`). Unmapped symbols are looked up as they are.
    pub symbol_map: Vec<(String, String)>,
    /// Primary or backup.
    pub role: Role,
}

impl LineSpec {
    /// A primary line with no symbol mapping.
    pub fn primary(name: impl Into<String>, parser: VenueParser) -> Self {
        Self {
            name: name.into(),
            parser,
            symbol_map: Vec::new(),
            role: Role::Primary,
        }
    }
}

/// Order-book pool size for the parse stage.
#[derive(Clone, Copy, Debug)]
pub struct BookPool {
    /// Books (one per source × instrument that sends depth).
    pub books: usize,
    /// Levels kept per side.
    pub levels: usize,
}

/// Most events one message may carry (a full depth snapshot of 1000 levels a side fits).
pub const MAX_EVENTS_PER_MESSAGE: usize = 16_384;

const NO_BOOK: u16 = u16::MAX;

/// Depth levels held while a book waits for its snapshot (Binance's documented procedure:
/// buffer the diff stream, fetch the snapshot, then apply the buffered diffs that follow it).
pub const PENDING_LEVELS: usize = 65_536;

/// What to do with the levels of the current book update.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Apply {
    /// Drop them (stale update).
    Skip,
    /// Apply them to the book.
    Book,
    /// Hold them until the snapshot arrives.
    Hold,
}

/// Does a diff covering `first..` (with previous-update id `prev`, when the venue sends one)
/// continue a book whose last applied id is `last`? Right after a snapshot (`fresh`) the
/// first diff may start inside the snapshot (Binance: `U <= lastUpdateId + 1`; futures also
/// chain by `pu == lastUpdateId`); after that, `pu` must equal the last id, or `U` must be
/// the next one.
fn follows_on(fresh: bool, last: u64, first: u64, prev: Option<u64>) -> bool {
    match prev {
        Some(p) if !fresh => p == last,
        Some(p) => p == last || first <= last + 1,
        None => first <= last + 1,
    }
}

/// A level of a diff received before its book's snapshot.
#[derive(Clone, Copy)]
struct PendingLevel {
    slot: u16,
    first_id: u64,
    last_id: u64,
    prev_id: Option<u64>,
    side: crate::core::Side,
    price: crate::core::Price,
    qty: crate::core::Qty,
}

struct Line {
    parser: VenueParser,
    /// (venue symbol, instrument) pairs resolved at start.
    map: Vec<(Symbol, InstrumentId)>,
    role: Role,
    /// Books this line owns (for a snapshot that names no symbol).
    books_owned: u16,
    last_book: u16,
    clock: ClockEstimate,
}

struct BookSlot {
    book: Book,
    line: u8,
    instrument: InstrumentId,
    /// Top of book last emitted as a derived quote.
    top: (i64, i64, i64, i64),
    /// A snapshot has just been applied: the next diff must bridge it.
    fresh: bool,
    /// Update counter for venues without ids (derived quotes need increasing ids).
    updates: u64,
}

/// Online estimate of one source's clock against our receive clock: the low envelope of
/// `recv − venue` (network delay only ever adds), its drift between windows, and the smoothed
/// delay above the envelope (latency jitter).
#[derive(Clone, Copy, Default)]
struct ClockEstimate {
    window_start: u64,
    window_min: i64,
    prev_min: Option<i64>,
    offset: Option<i64>,
    drift_ppb: i64,
    latency: i64,
}

/// Window over which the minimum offset is taken (receive time).
const CLOCK_WINDOW_NS: u64 = 10_000_000_000;

impl ClockEstimate {
    fn sample(&mut self, recv_ns: u64, venue_ns: u64) {
        if venue_ns == 0 || recv_ns == 0 {
            return;
        }
        let d = recv_ns as i64 - venue_ns as i64;
        if self.offset.is_none() {
            self.window_start = recv_ns;
            self.window_min = d;
            self.offset = Some(d);
        }
        if d < self.window_min {
            self.window_min = d;
        }
        if recv_ns.saturating_sub(self.window_start) >= CLOCK_WINDOW_NS {
            let span_s = (recv_ns - self.window_start) as i64 / 1_000_000_000;
            if let Some(prev) = self.prev_min {
                // ns of offset change per second of receive time = parts per billion.
                let ppb = (self.window_min - prev) / span_s.max(1);
                self.drift_ppb = if self.drift_ppb == 0 {
                    ppb
                } else {
                    (self.drift_ppb * 7 + ppb) / 8
                };
            }
            self.prev_min = Some(self.window_min);
            self.window_start = recv_ns;
            self.window_min = d;
        }
        let floor = match self.prev_min {
            Some(p) => p.min(self.window_min),
            None => self.window_min,
        };
        self.offset = Some(floor);
        let above = d - floor;
        self.latency += (above - self.latency) / 16;
    }
}

/// How candle input (Binance klines, candle files) is played. `Off`: venue klines are kept for
/// cross-checking only, never traded on. Otherwise each bar becomes four trades (bar mode, for
/// backtests on candles; see [`ParseStage::with_bars`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BarFill {
    /// Klines are not played.
    #[default]
    Off,
    /// A bar closes on the next bar's open trade, so orders decided on it fill at that open.
    NextOpen,
    /// A bar closes on its own close trade, so orders decided on it fill at its close.
    Close,
}

impl BarFill {
    /// From `off`, `next-open` / `next_open` or `close`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "next-open" | "next_open" => Some(Self::NextOpen),
            "close" => Some(Self::Close),
            _ => None,
        }
    }
}

/// The parse stage: raw bytes → [`Envelope`]s, with every message accounted for as parsed
/// (by kind), skipped (by kind) or malformed, per source. It also keeps the order books of
/// sources that send depth (continuity-checked; best bid/ask changes become quotes for
/// venues without a quote stream) and estimates each source's clock offset and drift.
pub struct ParseStage {
    table: Arc<InstrumentTable>,
    auto_instruments: bool,
    /// Per instrument id: does this lane trade it? Sized to the table's capacity at start.
    lane_mask: Vec<bool>,
    lane_takes_all: bool,
    /// Auto-added instruments belong to this lane (the first one).
    takes_auto: bool,
    /// Ids from here on were added by this stage, not configured.
    first_auto: usize,
    seq: u64,
    last_market_ns: u64,
    lines: Vec<Line>,
    events: Vec<Event>,
    pending: Vec<PendingLevel>,
    books: Vec<BookSlot>,
    books_used: usize,
    /// `line * capacity + instrument` → book slot.
    book_index: Vec<u16>,
    /// `line * capacity + instrument` → the line sends explicit quotes for it.
    quote_seen: Vec<bool>,
    capacity: usize,
    primary_offset: Option<i64>,
    /// Corrected-time ordering, for lanes that merge venues (see [`reorder`]).
    reorder: Option<reorder::Reorder>,
    reorder_seen: reorder::ReorderCounts,
    /// Bar mode (see [`ParseStage::with_bars`]).
    bars: BarFill,
    /// Per instrument: the next synthetic trade id of bar mode.
    bar_ids: Vec<u64>,
    /// Market-time window `[from, to)`: events outside it are dropped.
    window: (u64, u64),
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl ParseStage {
    /// `lane_symbols` empty = the lane takes every instrument. `takes_auto`: instruments an
    /// auto-instrument replay adds belong to this lane. `lines` are the sources, indexed by
    /// [`RawMessage::line`]. Everything is allocated here; `on_message` never allocates.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: Arc<InstrumentTable>,
        auto_instruments: bool,
        takes_auto: bool,
        lane_symbols: &[String],
        lines: Vec<LineSpec>,
        pool: BookPool,
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        let first_auto = table.len();
        let capacity = table.capacity();
        let mut lane_mask = vec![false; capacity];
        for s in lane_symbols {
            if let Some(id) = table.lookup(s.as_bytes()) {
                lane_mask[id.index()] = true;
            }
        }
        let mut lines: Vec<Line> = lines
            .into_iter()
            .map(|l| Line {
                parser: l.parser,
                map: l
                    .symbol_map
                    .iter()
                    .filter_map(|(venue, ours)| {
                        Some((
                            Symbol::new(venue.as_bytes())?,
                            table.lookup(ours.as_bytes())?,
                        ))
                    })
                    .collect(),
                role: l.role,
                books_owned: 0,
                last_book: NO_BOOK,
                clock: ClockEstimate::default(),
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line {
                parser: VenueParser::new(Venue::Binance),
                map: Vec::new(),
                role: Role::Primary,
                books_owned: 0,
                last_book: NO_BOOK,
                clock: ClockEstimate::default(),
            });
        }
        let n_lines = lines.len();
        let books = pool.books.min(NO_BOOK as usize - 1);
        Self {
            table,
            auto_instruments,
            lane_mask,
            lane_takes_all: lane_symbols.is_empty(),
            takes_auto,
            first_auto,
            seq: 0,
            last_market_ns: 0,
            lines,
            events: Vec::with_capacity(MAX_EVENTS_PER_MESSAGE),
            pending: Vec::with_capacity(PENDING_LEVELS),
            books: (0..books)
                .map(|_| BookSlot {
                    book: Book::new(pool.levels),
                    line: 0,
                    instrument: InstrumentId(0),
                    top: (0, 0, 0, 0),
                    fresh: false,
                    updates: 0,
                })
                .collect(),
            books_used: 0,
            book_index: vec![NO_BOOK; n_lines * capacity],
            quote_seen: vec![false; n_lines * capacity],
            capacity,
            primary_offset: None,
            reorder: None,
            reorder_seen: reorder::ReorderCounts::default(),
            bars: BarFill::Off,
            bar_ids: vec![1; capacity],
            window: (0, u64::MAX),
            stats,
            cold,
        }
    }

    /// Orders events by corrected time, tolerating `window_ns` of disorder (see [`reorder`]).
    /// Only lanes that merge more than one venue need it: lines of one venue share its clock
    /// and arrive in its order, and holding them back would cost the latency A/B lines are
    /// there to save. A window of 0 turns it off.
    pub fn with_reorder(mut self, window_ns: u64) -> Self {
        let first = self.lines[0].parser.venue();
        let mixed = self.lines.iter().any(|l| l.parser.venue() != first);
        self.reorder =
            (window_ns > 0 && mixed).then(|| reorder::Reorder::new(self.lines.len(), window_ns));
        self
    }

    /// Bar mode: each kline (a Binance kline row, a candle file's row, a venue's closed
    /// kline) becomes four trades of the bar's instrument, with consecutive ids, at its open
    /// time + 0, 1, 2 and 3 ns: the open, the high or low nearer the open, the other one,
    /// the close; each carries a quarter of the volume (the close the remainder), so the
    /// candles built from them are the bars. Nothing else in the pipeline changes: the paper
    /// venue fills at these prices and the risk engine checks stops on each. With
    /// [`BarFill::Close`] the close trade carries [`crate::core::Trade::BAR_CLOSE`], which
    /// closes the candle at once; with [`BarFill::NextOpen`] it closes on the next bar's open.
    pub fn with_bars(mut self, bars: BarFill) -> Self {
        self.bars = bars;
        self
    }

    /// Keeps only events whose market time is in `[from_ns, to_ns)`.
    pub fn with_window(mut self, from_ns: u64, to_ns: u64) -> Self {
        self.window = (from_ns, to_ns);
        self
    }

    /// Is corrected-time ordering on?
    pub fn reorders(&self) -> bool {
        self.reorder.is_some()
    }

    /// Lets go the held events whose hold time is up (call when the source is idle, with the
    /// receive clock now).
    pub fn on_idle(&mut self, now_recv_ns: u64, out: &mut impl Sink<Envelope>) {
        if self.reorder.is_some() {
            self.release(now_recv_ns, out);
        }
    }

    /// Lets every held event go (end of stream).
    pub fn flush(&mut self, out: &mut impl Sink<Envelope>) {
        let last = &mut self.last_market_ns;
        if let Some(r) = &mut self.reorder {
            r.flush(&mut |e| emit_clamped(last, e, out));
        }
        self.sync_reorder_stats();
    }

    fn release(&mut self, now_recv_ns: u64, out: &mut impl Sink<Envelope>) {
        let delay = self.primary_offset.unwrap_or(0);
        let last = &mut self.last_market_ns;
        if let Some(r) = &mut self.reorder {
            r.release(now_recv_ns, delay, &mut |e| emit_clamped(last, e, out));
        }
        self.sync_reorder_stats();
    }

    fn sync_reorder_stats(&mut self) {
        if let Some(r) = &self.reorder {
            let c = r.counts();
            let st = &self.stats.parse;
            st.reordered.add(c.reordered - self.reorder_seen.reordered);
            st.reorder_late.add(c.late - self.reorder_seen.late);
            self.reorder_seen = c;
        }
    }

    /// Forgets a line's per-connection parser state (after a reconnect).
    pub fn reset_line(&mut self, line: usize) {
        if let Some(l) = self.lines.get_mut(line) {
            l.parser.reset();
        }
    }

    /// Parses one message and emits its events (trades, quotes, derived book quotes). A
    /// message that fails anywhere emits nothing and is counted as malformed. With
    /// corrected-time ordering on, events are emitted once nothing earlier can still come.
    #[inline]
    pub fn on_message(&mut self, msg: RawMessage<'_>, out: &mut impl Sink<Envelope>) {
        if self.reorder.is_none() {
            return self.parse_message(msg, out);
        }
        let li = usize::from(msg.line).min(self.lines.len() - 1);
        let recv = msg.recv_ns;
        if let Some(r) = &mut self.reorder {
            r.heard(li, recv);
        }
        self.parse_message(msg, out);
        self.release(recv, out);
    }

    #[inline]
    fn parse_message(&mut self, msg: RawMessage<'_>, out: &mut impl Sink<Envelope>) {
        let seq = self.seq;
        self.seq += 1;
        let li = usize::from(msg.line).min(self.lines.len() - 1);
        let st = &self.stats.parse;
        let ss = self.stats.sources.get(li);
        st.received.inc();
        ss.messages.inc();
        ss.bytes.add(msg.bytes.len() as u64);
        ss.last_recv_ns.set(msg.recv_ns as i64);

        // The common replay row (a Binance trades CSV line whose symbol is resolved), read
        // in one pass straight to its envelope: the general path below gives the same result
        // through the event buffer.
        if let VenueParser::BinanceCsv(p) = &self.lines[li].parser {
            if let Some(t) = p.quick_trade(msg.bytes) {
                st.parsed.inc();
                ss.trade_msgs.inc();
                self.sample_clock(li, msg.recv_ns, t.trade_ns);
                return self.emit_trade(li, seq, &msg, t, out);
            }
        }
        let table = &self.table;
        let auto = self.auto_instruments;
        let mask = &self.lane_mask;
        let first_auto = self.first_auto;
        let all = self.lane_takes_all;
        let takes_auto = self.takes_auto;
        let added = &st.instruments_added;
        let line = &mut self.lines[li];
        let map = &line.map;
        let mut resolve = |sym: &[u8]| {
            if let Some(&(_, id)) = map.iter().find(|(s, _)| s.as_bytes() == sym) {
                return Some(id);
            }
            let id = match table.lookup(sym) {
                Some(id) => id,
                None if auto && takes_auto => {
                    let symbol = Symbol::new(sym)?;
                    let id = table
                        .insert(Instrument {
                            symbol,
                            tick: 1,
                            lot: 1,
                        })
                        .ok()?;
                    added.inc();
                    id
                }
                None => return None,
            };
            let configured = id.index() < mask.len() && mask[id.index()];
            let auto_added = takes_auto && auto && !configured && id.index() >= first_auto;
            (all || configured || auto_added).then_some(id)
        };
        let events = &mut self.events;
        events.clear();
        let mut overflow = false;
        let result = line
            .parser
            .parse_checked(msg.bytes, &mut resolve, &mut |e| {
                if events.len() < MAX_EVENTS_PER_MESSAGE {
                    events.push(e);
                } else {
                    overflow = true;
                }
            });
        let result = match result {
            Ok(_) if overflow => Err(ParseError::Invalid("too many events in one message")),
            r => r,
        };
        let kind = match result {
            Ok(k) => k,
            // Valid data the 10⁻⁸ scale cannot hold (`parse_checked` has ruled out other faults).
            Err(ParseError::Unrepresentable(_)) => MsgKind::Skipped(SkipKind::Unrepresentable),
            Err(e) => return self.malformed(li, seq, &msg, e),
        };
        match kind {
            MsgKind::Skipped(k) => {
                st.skipped[k.index()].inc();
                ss.skipped[k.index()].inc();
                if k == SkipKind::Unknown {
                    st.anomalies[AnomalyKind::UnknownType.index()].inc();
                    self.cold.send(
                        ColdRecord::Anomaly {
                            market_ns: self.last_market_ns,
                            kind: AnomalyKind::UnknownType,
                            source: li as u8,
                            instrument: None,
                            seq,
                            expected: 0,
                            got: msg.bytes.len() as i64,
                        },
                        &self.stats.cold_drops[0],
                    );
                }
                return;
            }
            MsgKind::Trades => ss.trade_msgs.inc(),
            MsgKind::Quote => ss.quotes.inc(),
            MsgKind::Depth => ss.depth.inc(),
            MsgKind::Snapshot => ss.snapshots.inc(),
            MsgKind::Kline => ss.klines.inc(),
        }
        st.parsed.inc();
        self.emit_events(li, seq, &msg, out);
    }

    /// Counts and journals a refused message.
    fn malformed(&mut self, li: usize, seq: u64, msg: &RawMessage<'_>, e: ParseError) {
        self.stats.parse.malformed.inc();
        self.stats.sources.get(li).malformed.inc();
        let (reason, field) = e.describe();
        self.cold.send(
            ColdRecord::Malformed {
                source: li as u8,
                seq,
                recv_ns: msg.recv_ns,
                reason,
                field,
            },
            &self.stats.cold_drops[0],
        );
    }

    /// Feeds a message's first venue time to its line's clock estimate.
    #[inline]
    fn sample_clock(&mut self, li: usize, recv_ns: u64, venue_ns: u64) {
        if venue_ns == 0 {
            return;
        }
        let role = self.lines[li].role;
        let c = &mut self.lines[li].clock;
        c.sample(recv_ns, venue_ns);
        if let Some(off) = c.offset {
            let ss = self.stats.sources.get(li);
            ss.clock_offset_ns.set(off);
            ss.clock_drift_ppb.set(c.drift_ppb);
            ss.latency_ns.set(c.latency);
            if role == Role::Primary {
                self.primary_offset = Some(off);
            }
        }
    }

    /// One parsed trade on its way out.
    #[inline]
    fn emit_trade(
        &mut self,
        li: usize,
        seq: u64,
        msg: &RawMessage<'_>,
        mut t: crate::core::Trade,
        out: &mut impl Sink<Envelope>,
    ) {
        t.source = li as u8;
        self.stats.parse.trades.inc();
        self.stats.sources.get(li).trades.inc();
        let at = self.corrected(li, t.trade_ns);
        self.emit(li, Payload::Trade(t), Some(at), seq, msg, out);
    }

    fn emit_events(
        &mut self,
        li: usize,
        seq: u64,
        msg: &RawMessage<'_>,
        out: &mut impl Sink<Envelope>,
    ) {
        // The book update in progress: (slot, what to do with its levels, header).
        let mut book: Option<(usize, Apply, BookUpdate)> = None;
        let mut clocked = false;
        for i in 0..self.events.len() {
            let e = self.events[i];
            let venue_ns = match e {
                Event::Trade(t) => t.trade_ns,
                Event::Quote(q) => q.event_ns,
                Event::BookBegin(u) => u.event_ns,
                _ => 0,
            };
            if !clocked && venue_ns != 0 {
                clocked = true;
                self.sample_clock(li, msg.recv_ns, venue_ns);
            }
            match e {
                Event::Trade(t) => self.emit_trade(li, seq, msg, t, out),
                Event::Quote(mut q) => {
                    q.source = li as u8;
                    if let Some(flag) = self
                        .quote_seen
                        .get_mut(li * self.capacity + q.instrument.index())
                    {
                        *flag = true;
                    }
                    self.stats.parse.book_tickers.inc();
                    let at = (q.event_ns != 0).then(|| self.corrected(li, q.event_ns));
                    self.emit(li, Payload::BookTicker(q), at, seq, msg, out);
                }
                Event::Kline(k) => {
                    if self.bars != BarFill::Off && k.closed {
                        self.emit_bar(li, seq, msg, &k, out);
                    }
                }
                Event::BookBegin(u) => {
                    book = self
                        .begin_book(li, seq, u)
                        .map(|(slot, apply)| (slot, apply, u));
                }
                Event::Level { side, price, qty } => match book {
                    Some((slot, Apply::Book, _)) => self.books[slot].book.apply(side, price, qty),
                    Some((slot, Apply::Hold, u)) => {
                        if self.pending.len() == PENDING_LEVELS {
                            // Full (a source whose snapshot never comes keeps holding): the
                            // oldest quarter goes; a snapshot only ever needs recent diffs.
                            self.pending.drain(..PENDING_LEVELS / 4);
                            self.stats
                                .sources
                                .get(li)
                                .book_truncated
                                .add((PENDING_LEVELS / 4) as u64);
                        }
                        self.pending.push(PendingLevel {
                            slot: slot as u16,
                            first_id: u.first_id,
                            last_id: u.last_id,
                            prev_id: u.prev_id,
                            side,
                            price,
                            qty,
                        });
                    }
                    _ => {}
                },
                Event::BookEnd => {
                    if let Some((slot, Apply::Book, u)) = book.take() {
                        if u.snapshot {
                            self.replay_pending(li, slot);
                        }
                        if let Some(q) = self.end_book(li, slot, u) {
                            self.stats.sources.get(li).book_quotes.inc();
                            self.stats.parse.book_tickers.inc();
                            let at = (q.event_ns != 0).then(|| self.corrected(li, q.event_ns));
                            self.emit(li, Payload::BookTicker(q), at, seq, msg, out);
                        }
                    }
                    book = None;
                }
            }
        }
    }

    /// One bar as four trades (see [`ParseStage::with_bars`]). A bar whose prices do not
    /// bound each other (high below open or close, low above them, low ≤ 0) is refused as
    /// malformed.
    fn emit_bar(
        &mut self,
        li: usize,
        seq: u64,
        msg: &RawMessage<'_>,
        k: &parse::Kline,
        out: &mut impl Sink<Envelope>,
    ) {
        let (o, h, l, c) = (k.open, k.high, k.low, k.close);
        if l.0 <= 0 || h < o.max(c) || l > o.min(c) || k.volume.0 < 0 {
            return self.malformed(li, seq, msg, ParseError::Invalid("ohlc"));
        }
        let (first, second) = if h.0 - o.0 < o.0 - l.0 {
            (h, l)
        } else {
            (l, h)
        };
        let q = k.volume.0 / 4;
        let parts = [(o, q), (first, q), (second, q), (c, k.volume.0 - 3 * q)];
        let Some(next_id) = self.bar_ids.get_mut(k.instrument.index()) else {
            return;
        };
        let id0 = *next_id;
        *next_id = next_id.wrapping_add(4);
        let mut prev = o;
        for (step, (price, qty)) in parts.into_iter().enumerate() {
            let at = k.open_ns.saturating_add(step as u64);
            let t = crate::core::Trade {
                instrument: k.instrument,
                trade_id: id0.wrapping_add(step as u64),
                price,
                qty: crate::core::Qty(qty),
                trade_ns: at,
                event_ns: at,
                buyer_is_maker: price < prev,
                source: li as u8,
                flags: if step == 3 && self.bars == BarFill::Close {
                    crate::core::Trade::FROM_BAR | crate::core::Trade::BAR_CLOSE
                } else {
                    crate::core::Trade::FROM_BAR
                },
                anomalies: 0,
            };
            prev = price;
            self.stats.parse.trades.inc();
            self.stats.sources.get(li).trades.inc();
            let at = self.corrected(li, at);
            self.emit(li, Payload::Trade(t), Some(at), seq, msg, out);
        }
    }

    /// A backup venue's time mapped onto the primaries' clock (so events of both order
    /// correctly); a primary's own time is left as the venue stamped it. Each source's time
    /// is moved onto our receive clock by its estimated offset (the low envelope of receive −
    /// venue time), which makes it the earliest moment the event could have reached us. One-way
    /// timing cannot tell a venue's clock error from its path's fixed delay, so this is the
    /// order in which this host could first have known of the events: the order that matters to
    /// a strategy running here.
    fn corrected(&self, li: usize, venue_ns: u64) -> u64 {
        let l = &self.lines[li];
        match (l.role, l.clock.offset, self.primary_offset) {
            (Role::Backup, Some(off), Some(p)) => (venue_ns as i64 + off - p).max(0) as u64,
            _ => venue_ns,
        }
    }

    fn emit(
        &mut self,
        li: usize,
        payload: Payload,
        venue_ns: Option<u64>,
        seq: u64,
        msg: &RawMessage<'_>,
        out: &mut impl Sink<Envelope>,
    ) {
        // Market time: the venue's own stamp when it sends one, else what the source knows
        // (synthetic clock, recorded receive time), else the last market time seen; never the
        // live wall clock, and never running backwards, so candles and equity stay ordered.
        let t = venue_ns.or(msg.market_ns).unwrap_or(self.last_market_ns);
        if t < self.window.0 || t >= self.window.1 {
            return;
        }
        let env = Envelope {
            ingress_ns: msg.ingress_ns,
            stamp_ns: msg.ingress_ns,
            recv_ns: msg.recv_ns,
            market_ns: t,
            seq,
            payload,
        };
        if self.reorder.is_none() {
            return emit_clamped(&mut self.last_market_ns, env, out);
        }
        // Sort key: the corrected venue time, or for an event the venue did not stamp, its
        // receive time less the line's minimum delay (its earliest possible venue time).
        let at = match venue_ns {
            Some(v) => v,
            None => match self.lines[li].clock.offset {
                Some(off) => {
                    let venue = (msg.recv_ns as i64).saturating_sub(off).max(0) as u64;
                    self.corrected(li, venue)
                }
                None => msg.recv_ns,
            },
        };
        let last = &mut self.last_market_ns;
        if let Some(r) = &mut self.reorder {
            r.push(li, at, env, &mut |e| emit_clamped(last, e, out));
        }
    }

    /// After a snapshot: applies the held diffs of this book that follow it, in order, and
    /// forgets the book's held diffs.
    fn replay_pending(&mut self, li: usize, slot: usize) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = self.pending[i];
            if usize::from(p.slot) != slot {
                i += 1;
                continue;
            }
            // One held update = the run of entries with its ids.
            let mut j = i;
            while j < self.pending.len()
                && usize::from(self.pending[j].slot) == slot
                && self.pending[j].last_id == p.last_id
                && self.pending[j].first_id == p.first_id
            {
                j += 1;
            }
            let b = &mut self.books[slot];
            let last = b.book.last_id;
            if p.last_id > last {
                let follows = follows_on(b.fresh, last, p.first_id, p.prev_id);
                if follows {
                    for k in i..j {
                        let l = self.pending[k];
                        b.book.apply(l.side, l.price, l.qty);
                    }
                    b.book.last_id = p.last_id;
                    b.fresh = false;
                } else {
                    self.stats.sources.get(li).book_stale.inc();
                }
            } else {
                self.stats.sources.get(li).book_stale.inc();
            }
            i = j;
        }
        self.pending.retain(|p| usize::from(p.slot) != slot);
    }

    /// Finds (or assigns) the book for an update and decides what to do with its levels.
    fn begin_book(&mut self, li: usize, seq: u64, u: BookUpdate) -> Option<(usize, Apply)> {
        let ss = self.stats.sources.get(li);
        let slot = match u.instrument {
            Some(id) => {
                let key = li * self.capacity + id.index();
                let idx = *self.book_index.get(key)?;
                if idx != NO_BOOK {
                    usize::from(idx)
                } else if self.books_used < self.books.len() {
                    let s = self.books_used;
                    self.books_used += 1;
                    self.book_index[key] = s as u16;
                    let b = &mut self.books[s];
                    b.line = li as u8;
                    b.instrument = id;
                    self.lines[li].books_owned += 1;
                    self.lines[li].last_book = s as u16;
                    s
                } else {
                    ss.book_unplaced.inc();
                    return None;
                }
            }
            // A snapshot naming no symbol belongs to the line's only book.
            None if self.lines[li].books_owned == 1 => usize::from(self.lines[li].last_book),
            None => {
                ss.book_unplaced.inc();
                return None;
            }
        };
        let b = &mut self.books[slot];
        if u.snapshot {
            b.book.clear();
            b.book.last_id = u.last_id;
            b.book.synced = true;
            b.fresh = true;
            return Some((slot, Apply::Book));
        }
        let last = b.book.last_id;
        if u.last_id == 0 {
            // A venue without sequence ids: nothing to check.
            return Some((slot, Apply::Book));
        }
        if !b.book.synced {
            // Held until the snapshot, then applied if it follows on from it.
            return Some((slot, Apply::Hold));
        }
        if u.last_id <= last {
            ss.book_stale.inc();
            return Some((slot, Apply::Skip));
        }
        let follows = follows_on(b.fresh, last, u.first_id, u.prev_id);
        if follows {
            b.fresh = false;
            return Some((slot, Apply::Book));
        }
        // A hole in the diff stream: the book is wrong until the next snapshot.
        ss.book_gaps.inc();
        b.book.synced = false;
        b.book.clear();
        let instrument = b.instrument;
        self.stats.parse.anomalies[AnomalyKind::Gap.index()].inc();
        self.cold.send(
            ColdRecord::Anomaly {
                market_ns: self.last_market_ns,
                kind: AnomalyKind::Gap,
                source: li as u8,
                instrument: Some(instrument),
                seq,
                expected: last.saturating_add(1) as i64,
                got: u.first_id as i64,
            },
            &self.stats.cold_drops[0],
        );
        None
    }

    /// Finishes an applied update; returns a quote when the top of book changed and the line
    /// has no quote stream of its own for the instrument.
    fn end_book(&mut self, li: usize, slot: usize, u: BookUpdate) -> Option<BookTicker> {
        let b = &mut self.books[slot];
        if u.last_id != 0 {
            b.book.last_id = b.book.last_id.max(u.last_id);
        }
        b.updates += 1;
        let ss = self.stats.sources.get(li);
        ss.book_truncated.add(b.book.truncated);
        b.book.truncated = 0;
        if !b.book.synced {
            return None;
        }
        let explicit = self
            .quote_seen
            .get(li * self.capacity + b.instrument.index())
            .copied()
            .unwrap_or(true);
        if explicit {
            return None;
        }
        let (bid, ask) = (b.book.best_bid()?, b.book.best_ask()?);
        let top = (bid.0 .0, bid.1 .0, ask.0 .0, ask.1 .0);
        if top == b.top {
            return None;
        }
        b.top = top;
        Some(BookTicker {
            instrument: b.instrument,
            update_id: if u.last_id != 0 { u.last_id } else { b.updates },
            bid_px: bid.0,
            bid_qty: bid.1,
            ask_px: ask.0,
            ask_qty: ask.1,
            event_ns: u.event_ns,
            source: li as u8,
        })
    }

    /// Best bid/ask of a line's book for an instrument (tests, reports).
    pub fn book(&self, line: usize, instrument: InstrumentId) -> Option<&Book> {
        let idx = *self
            .book_index
            .get(line * self.capacity + instrument.index())?;
        (idx != NO_BOOK).then(|| &self.books[usize::from(idx)].book)
    }
}

/// Emits with the market time clamped to never run backwards.
#[inline]
fn emit_clamped(last: &mut u64, mut env: Envelope, out: &mut impl Sink<Envelope>) {
    *last = (*last).max(env.market_ns);
    env.market_ns = *last;
    out.emit(env);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stats::SKIP_KINDS;
    use parse::SkipKind;

    fn capture(lines: &[&str], recv: Option<Vec<u64>>) -> Capture {
        let mut c = Capture::from_bytes("t.jsonl".into(), lines.join("\n").into_bytes());
        c.recv_ns = recv;
        c
    }

    #[test]
    fn a_fixed_rate_stamps_each_message_when_it_was_due() {
        let mut p = Pacer::default();
        // 1 M/s: message n is due n µs after the first poll.
        assert_eq!(p.due(100, 0, 1e6), Some(100));
        assert_eq!(p.due(600, 1, 1e6), None, "not due before 1,100");
        // Late by 400 ns: stamped at 1,100, so the wait counts as latency.
        assert_eq!(p.due(1_500, 1, 1e6), Some(1_100));
        assert_eq!(p.due(50_000, 7, 1e6), Some(7_100));
        // A replay at a rate plays every line once, then ends (the pacer spins: Busy).
        let c = capture(&["{}", "{}", "{}"], None);
        let mut r = ReplaySource::new(vec![Arc::new(c)], Speed::Rate(1e9), 1, None);
        let mut got = Vec::new();
        loop {
            match r.poll() {
                Next::Msg(m) => got.push(m.ingress_ns),
                Next::Busy => {}
                Next::End => break,
                _ => panic!("a rate never waits by parking"),
            }
        }
        assert_eq!(got.len(), 3);
        assert!(got.windows(2).all(|w| w[1] - w[0] == 1), "{got:?}");
    }

    #[test]
    fn replay_paces_by_the_sidecar_and_loops() {
        // 1x: the second message is recorded 60 s after the first, so it is not due yet.
        let c = capture(&["{}", "{}"], Some(vec![1_000, 60_000_001_000]));
        let mut r = ReplaySource::new(vec![Arc::new(c.clone())], Speed::Factor(1.0), 1, None);
        match r.poll() {
            Next::Msg(m) => assert_eq!(m.recv_ns, 1_000, "receive time comes from the sidecar"),
            _ => panic!("first message is due at once"),
        }
        assert!(matches!(r.poll(), Next::Wait));
        // Max speed, two loops, stopped by the limit after three messages.
        let mut r = ReplaySource::new(vec![Arc::new(c)], Speed::Max, 2, Some(3));
        let mut n = 0;
        while let Next::Msg(_) = r.poll() {
            n += 1;
        }
        assert_eq!(n, 3);
        let mut r = ReplaySource::new(vec![Arc::new(capture(&["{}"], None))], Speed::Max, 2, None);
        assert!(matches!(r.poll(), Next::Msg(_)));
        assert!(matches!(r.poll(), Next::Msg(_)));
        assert!(matches!(r.poll(), Next::End));
    }

    /// A Binance primary 40 ms away and a Coinbase backup 5 ms away: a Binance trade held up
    /// by 10 ms of jitter arrives after a Coinbase trade it preceded (by corrected time).
    fn merge_two_venues(reorder_ms: u64) -> Vec<u64> {
        use crate::core::cold::ColdRecord;
        use crate::core::{Instrument, InstrumentTable};
        const BASE_MS: u64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
        const MS: u64 = 1_000_000;
        let table = Arc::new(InstrumentTable::new(8));
        table
            .insert(Instrument {
                symbol: Symbol::new(b"BTCUSDT").unwrap(),
                tick: 1,
                lot: 1,
            })
            .unwrap();
        let (tx, _rx) = crate::ring::channel::<ColdRecord>(1024).unwrap();
        let lines = vec![
            LineSpec::primary("binance", VenueParser::new(Venue::Binance)),
            LineSpec {
                name: "coinbase".into(),
                parser: VenueParser::new(Venue::Coinbase),
                symbol_map: vec![("BTC-USD".into(), "BTCUSDT".into())],
                role: Role::Backup,
            },
        ];
        let mut p = ParseStage::new(
            table,
            false,
            true,
            &[],
            lines,
            BookPool {
                books: 1,
                levels: 8,
            },
            Arc::new(LaneStats::default()),
            ColdTx::new(tx),
        )
        .with_reorder(reorder_ms * MS);
        assert_eq!(p.reorders(), reorder_ms > 0);
        let binance = |id: u64, t_ms: u64| {
            format!(
                r#"{{"e":"trade","E":{t},"s":"BTCUSDT","t":{id},"p":"100.0","q":"1","T":{t},"m":true}}"#,
                t = BASE_MS + t_ms
            )
        };
        let coinbase = |id: u64, t_ms: u64| {
            format!(
                r#"{{"type":"match","trade_id":{id},"maker_order_id":"a","taker_order_id":"b","side":"buy","size":"1","price":"100","product_id":"BTC-USD","sequence":{id},"time":"2024-01-01T00:00:{:02}.{:03}000Z"}}"#,
                t_ms / 1000,
                t_ms % 1000
            )
        };
        // (line, message, receive time in ms after BASE), in arrival order.
        let mut feed: Vec<(u8, String, u64)> = Vec::new();
        for i in 0..3 {
            feed.push((1, coinbase(100 + i, i * 10), i * 10 + 5));
            feed.push((0, binance(i, i * 10), i * 10 + 40));
        }
        // Coinbase's trade at 100 could reach us at 105; Binance's at 60 at 100, but is late.
        feed.push((1, coinbase(103, 100), 105));
        feed.push((0, binance(3, 60), 110));
        let mut out: Vec<Envelope> = Vec::new();
        for (line, m, recv_ms) in &feed {
            let recv = (BASE_MS + recv_ms) * MS;
            p.on_message(
                RawMessage {
                    line: *line,
                    bytes: m.as_bytes(),
                    recv_ns: recv,
                    ingress_ns: recv,
                    market_ns: None,
                },
                &mut out,
            );
        }
        p.flush(&mut out);
        assert!(out.windows(2).all(|w| w[0].market_ns <= w[1].market_ns));
        out.iter()
            .map(|e| match e.payload {
                Payload::Trade(t) => t.trade_id,
                _ => u64::MAX,
            })
            .collect()
    }

    #[test]
    fn a_backup_venue_is_merged_in_corrected_time_order() {
        let ordered = merge_two_venues(50);
        assert_eq!(ordered.len(), 8, "nothing lost: {ordered:?}");
        assert_eq!(&ordered[6..], &[3, 103], "Binance's earlier trade first");
        let arrival = merge_two_venues(0);
        assert_eq!(&arrival[6..], &[103, 3], "off: arrival order");
    }

    #[test]
    fn skip_kinds_fit_the_counters() {
        assert_eq!(SkipKind::ALL.len(), SKIP_KINDS);
    }
}
