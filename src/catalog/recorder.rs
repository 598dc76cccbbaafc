//! The recorder: what a `run` or `replay` takes in, written into a catalog while it runs.
//!
//! ```text
//!  hot thread hosting the indicators stage            cold side (two threads, never hot)
//!  ┌───────────────────────────────┐  recorder ring  ┌──────────┐  batches  ┌──────────────┐
//!  │ merged trades, quotes, closed │ ──────────────► │ recorder │ ────────► │ catalog      │
//!  │ candles: RecorderTap::offer   │  try_push, a    │ (drain,  │ (bounded, │ writer       │
//!  └───────────────────────────────┘  full ring      │ batch)   │  1 deep)  │ (Parquet,    │
//!  cold thread: anomalies ─────────── drops+counts ─►│          │           │  manifest)   │
//!                                                    └──────────┘           └──────────────┘
//! ```
//!
//! - **What is recorded** is what the pipeline used: the arbiter's merged stream (A/B lines
//!   deduplicated, each trade filed under the venue of the source that delivered it), the
//!   candles as they closed, and the anomalies flagged on the way. `recorder.kinds` and
//!   `recorder.instruments` choose.
//! - **The hot path never waits**: the tap is one `try_push` of the envelope it already holds;
//!   a full ring drops the record and counts it (`recorder.dropped` in the journal and in
//!   `summary.json`). The tap allocates nothing and takes no lock.
//! - **Batches**: the recorder thread drains the rings into per-partition row buffers and hands
//!   a batch to the writer every `recorder.flush_s` seconds or `recorder.flush_rows` rows. While
//!   the writer is busy (or the catalog is locked by another writer) rows keep collecting, up to
//!   `recorder.max_buffered_rows`; past that they are dropped and counted.
//! - **Each flush is one catalog version**, taken under the writer lock: a partition whose new
//!   rows all come after what it holds (later times and, for trade ids, higher ids) gets one
//!   more file, written without reading the old ones; otherwise, or when the partition reaches
//!   `recorder.max_files` files, the partition is read, merged with deduplication (the stored
//!   row wins) and rewritten as one file. A crash loses at most the rows of the batch in
//!   flight; the catalog itself is never left half-written (see [`super::Writer`]).
//! - A candle revised by a late trade replaces its earlier revision within a batch; a revision
//!   arriving after its candle was written is counted as a conflict and the stored candle kept.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rows::{fits18, merge, AnomalyRow, CandleRow, QuoteRow, Record, TradeRow};
use super::{CatalogError, FileEntry, Kind, PartKey, Writer};
use crate::core::event::{Candle, Envelope, Payload, Resolution, Trade};
use crate::core::{InstrumentId, InstrumentTable};
use crate::ring::{Consumer, Producer};

// ---------------------------------------------------------------- config

fn default_catalog() -> String {
    super::DEFAULT_DIR.to_string()
}
fn default_kinds() -> Vec<String> {
    ["trades", "agg_trades", "quotes", "candles", "anomalies"]
        .map(String::from)
        .to_vec()
}
fn default_flush_s() -> u64 {
    60
}
fn default_flush_rows() -> usize {
    500_000
}
fn default_max_rows() -> usize {
    5_000_000
}
fn default_ring() -> usize {
    65_536
}
fn default_max_files() -> usize {
    16
}
fn default_grace_s() -> u64 {
    super::DEFAULT_GRACE_S
}

/// `[recorder]` as written in the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecorder {
    /// Record `run` and `replay` inputs into the catalog.
    #[serde(default)]
    pub enabled: bool,
    /// The catalog directory.
    #[serde(default = "default_catalog")]
    pub catalog: String,
    /// Kinds to record: `trades`, `agg_trades`, `quotes`, `candles` (every built resolution),
    /// `candles_<res>`, `anomalies`.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<String>,
    /// Instruments (engine symbols) to record; empty: all.
    #[serde(default)]
    pub instruments: Vec<String>,
    /// Seconds between two writes to the catalog.
    #[serde(default = "default_flush_s")]
    pub flush_s: u64,
    /// Rows that make the recorder write before `flush_s` is up.
    #[serde(default = "default_flush_rows")]
    pub flush_rows: usize,
    /// Rows held in memory (while the writer is busy or the catalog locked) before new ones
    /// are dropped and counted.
    #[serde(default = "default_max_rows")]
    pub max_buffered_rows: usize,
    /// Capacity of each lane's recorder ring (power of two).
    #[serde(default = "default_ring")]
    pub ring: usize,
    /// Files a partition may have before a flush merges them into one.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
    /// Seconds retired files stay in the catalog's trash for readers still holding them.
    #[serde(default = "default_grace_s")]
    pub grace_s: u64,
}

impl Default for RawRecorder {
    fn default() -> Self {
        Self {
            enabled: false,
            catalog: default_catalog(),
            kinds: default_kinds(),
            instruments: Vec::new(),
            flush_s: default_flush_s(),
            flush_rows: default_flush_rows(),
            max_buffered_rows: default_max_rows(),
            ring: default_ring(),
            max_files: default_max_files(),
            grace_s: default_grace_s(),
        }
    }
}

/// Bit of `kind` in a [`RecorderSpec::kinds`] mask.
pub const fn kind_bit(kind: Kind) -> u16 {
    match kind {
        Kind::Trades => 1,
        Kind::AggTrades => 1 << 1,
        Kind::Quotes => 1 << 2,
        Kind::Candles(r) => 1 << (3 + r.index()),
        Kind::Anomalies => 1 << 8,
    }
}

/// The validated `[recorder]`.
#[derive(Clone, Debug)]
pub struct RecorderSpec {
    /// Whether runs record.
    pub enabled: bool,
    /// Catalog directory.
    pub catalog: PathBuf,
    /// Kinds recorded: bits of [`kind_bit`].
    pub kinds: u16,
    /// Instruments recorded (engine symbols); empty: all.
    pub instruments: Vec<String>,
    /// Time between two writes.
    pub flush: Duration,
    /// Rows that trigger a write early.
    pub flush_rows: usize,
    /// Rows held before dropping.
    pub max_buffered_rows: usize,
    /// Ring capacity.
    pub ring: usize,
    /// Files per partition before a merge.
    pub max_files: usize,
    /// Trash grace, seconds.
    pub grace_s: u64,
}

impl RawRecorder {
    /// Checks the values; `resolutions` are the candle resolutions the run builds. Errors
    /// are `(key, message)`.
    pub fn validate(&self, resolutions: &[Resolution]) -> Result<RecorderSpec, (String, String)> {
        let mut kinds = 0u16;
        for k in &self.kinds {
            if k == "candles" {
                for r in resolutions {
                    kinds |= kind_bit(Kind::Candles(*r));
                }
                continue;
            }
            let kind = Kind::parse(k).ok_or_else(|| {
                (
                    "recorder.kinds".to_string(),
                    format!("`{k}` is not a kind (trades, agg_trades, quotes, candles, candles_<1s|1m|5m|1h|1d>, anomalies)"),
                )
            })?;
            if let Kind::Candles(r) = kind {
                if !resolutions.contains(&r) {
                    return Err((
                        "recorder.kinds".into(),
                        format!(
                            "`{k}`: this run does not build {} candles (candles.resolutions)",
                            r.label()
                        ),
                    ));
                }
            }
            kinds |= kind_bit(kind);
        }
        if self.enabled && kinds == 0 {
            return Err(("recorder.kinds".into(), "names no kind to record".into()));
        }
        if self.catalog.trim().is_empty() {
            return Err(("recorder.catalog".into(), "is empty".into()));
        }
        if self.flush_s == 0 || self.flush_s > 86_400 {
            return Err((
                "recorder.flush_s".into(),
                "must be from 1 to 86400 seconds".into(),
            ));
        }
        if self.flush_rows == 0 || self.max_buffered_rows < self.flush_rows {
            return Err((
                "recorder.flush_rows / recorder.max_buffered_rows".into(),
                "flush_rows must be at least 1 and max_buffered_rows at least flush_rows".into(),
            ));
        }
        if self.ring < 2 || !self.ring.is_power_of_two() || self.ring > 1 << 24 {
            return Err((
                "recorder.ring".into(),
                "must be a power of two from 2 to 16777216".into(),
            ));
        }
        if self.max_files < 2 {
            return Err(("recorder.max_files".into(), "must be at least 2".into()));
        }
        Ok(RecorderSpec {
            enabled: self.enabled,
            catalog: PathBuf::from(&self.catalog),
            kinds,
            instruments: self.instruments.clone(),
            flush: Duration::from_secs(self.flush_s),
            flush_rows: self.flush_rows,
            max_buffered_rows: self.max_buffered_rows,
            ring: self.ring,
            max_files: self.max_files,
            grace_s: self.grace_s,
        })
    }
}

impl RecorderSpec {
    /// Whether anomalies are recorded.
    pub fn anomalies(&self) -> bool {
        self.kinds & kind_bit(Kind::Anomalies) != 0
    }

    /// Whether anything that travels the hot rings is recorded.
    pub fn market(&self) -> bool {
        self.kinds & !kind_bit(Kind::Anomalies) != 0
    }
}

// ---------------------------------------------------------------- the hot side

/// The hot end: offered every envelope the indicators stage takes in.
pub struct RecorderTap {
    ring: Producer<Envelope>,
    kinds: u16,
    dropped: Arc<AtomicU64>,
}

impl RecorderTap {
    /// Pushes `env` onto the recorder ring if its kind is recorded; a full ring drops it and
    /// counts the drop. Never blocks, never allocates.
    #[inline]
    pub fn offer(&mut self, env: &Envelope) {
        let bit = match &env.payload {
            // A bar played as trades: its prices are the bar's, not prints.
            Payload::Trade(t) if t.flags & Trade::FROM_BAR != 0 => return,
            Payload::Trade(t) if t.flags & Trade::AGGREGATED != 0 => kind_bit(Kind::AggTrades),
            Payload::Trade(_) => kind_bit(Kind::Trades),
            Payload::BookTicker(_) => kind_bit(Kind::Quotes),
            Payload::Candle(c) if c.flags & Candle::FLAG_LIVE == 0 => {
                kind_bit(Kind::Candles(c.resolution))
            }
            _ => return,
        };
        if self.kinds & bit != 0 && self.ring.try_push(*env).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The cold end of one lane's tap, and how its sources map to catalog venues.
pub struct RecorderLane {
    /// The ring.
    pub ring: Consumer<Envelope>,
    /// Catalog venue of each source index.
    pub venues: Vec<String>,
    /// Whether each source's receive times are real (live, or a capture with its receive-time
    /// sidecar): a quote without a venue time is timed by it, or not recorded.
    pub recv_real: Vec<bool>,
}

/// A tap and its lane end. `venues[i]` and `recv_real[i]` describe source `i`.
pub fn tap(
    spec: &RecorderSpec,
    dropped: Arc<AtomicU64>,
    venues: Vec<String>,
    recv_real: Vec<bool>,
    prefault: bool,
) -> Result<(RecorderTap, RecorderLane), crate::ring::RingError> {
    let (tx, rx) = if prefault {
        crate::ring::channel_prefaulted(spec.ring)?
    } else {
        crate::ring::channel(spec.ring)?
    };
    Ok((
        RecorderTap {
            ring: tx,
            kinds: spec.kinds,
            dropped,
        },
        RecorderLane {
            ring: rx,
            venues,
            recv_real,
        },
    ))
}

/// An anomaly the cold thread hands on.
#[derive(Clone, Copy, Debug)]
pub struct AnomalyIn {
    /// Lane.
    pub lane: usize,
    /// Instrument, if it concerns one.
    pub instrument: Option<InstrumentId>,
    /// The row.
    pub row: AnomalyRow,
}

/// What the recorder tells the cold thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A line for `tickwire.log` only.
    Log(String),
    /// A line for the journal (and the log).
    Journal(String),
}

/// Counters the cold thread reads while the run goes on.
#[derive(Debug, Default)]
pub struct RecorderShared {
    /// Records the hot taps dropped (ring full).
    pub dropped_ring: Arc<AtomicU64>,
    /// Rows taken in from the rings and the cold thread.
    pub taken: AtomicU64,
    /// Rows added to the catalog.
    pub written: AtomicU64,
    /// Rows dropped because too many were waiting for the writer.
    pub dropped_buffer: AtomicU64,
    /// The recorder has taken its last rows (the writer's retries are then bounded).
    pub closing: std::sync::atomic::AtomicBool,
}

/// What a recording did, for `summary.json` and the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecorderReport {
    /// Catalog directory.
    pub catalog: String,
    /// Rows taken in, by kind.
    pub taken: BTreeMap<String, u64>,
    /// Rows added to the catalog.
    pub written: u64,
    /// Rows already in the catalog (or twice in a batch), identical: not written again.
    pub duplicates: u64,
    /// Rows whose key the catalog held with other values: the stored row was kept.
    pub conflicts: u64,
    /// Records the hot taps dropped because the recorder ring was full.
    pub dropped_ring: u64,
    /// Anomalies the cold thread could not hand on (the recorder was behind).
    pub dropped_anomalies: u64,
    /// Rows dropped because `max_buffered_rows` were waiting for the writer.
    pub dropped_buffer: u64,
    /// Rows that cannot be stored: a value a DECIMAL(18,8) cannot hold, a time past 2262, a
    /// quote with neither a venue time nor a real receive time, or a name that cannot be a
    /// directory.
    pub unrecordable: u64,
    /// Rows taken in but never written (the last write failed).
    pub lost: u64,
    /// Catalog versions written.
    pub flushes: u64,
    /// Files appended to partitions without rewriting them.
    pub appended: u64,
    /// Partitions rewritten (merged with what they held).
    pub merged: u64,
    /// First and last catalog version written.
    pub versions: Option<(u64, u64)>,
    /// Distinct write errors (the first 10).
    pub errors: Vec<String>,
}

// ---------------------------------------------------------------- batches

/// Where a row goes: (kind bit, venue index, instrument id, period start).
type Slot = (u16, u16, u32, i64);

/// The slot instrument of anomalies that concern no instrument (`instrument=ALL`).
const NO_INSTRUMENT: u32 = u32::MAX;

/// Rows of one partition.
#[derive(Debug)]
enum Rows {
    Trades(Vec<TradeRow>),
    Quotes(Vec<QuoteRow>),
    Candles(Vec<CandleRow>),
    Anomalies(Vec<AnomalyRow>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Trades(v) => v.len(),
            Rows::Quotes(v) => v.len(),
            Rows::Candles(v) => v.len(),
            Rows::Anomalies(v) => v.len(),
        }
    }

    fn append(&mut self, other: Rows) {
        match (self, other) {
            (Rows::Trades(a), Rows::Trades(b)) => a.extend(b),
            (Rows::Quotes(a), Rows::Quotes(b)) => a.extend(b),
            (Rows::Candles(a), Rows::Candles(b)) => a.extend(b),
            (Rows::Anomalies(a), Rows::Anomalies(b)) => a.extend(b),
            // One slot always holds one kind.
            _ => {}
        }
    }
}

/// A row that can be filed into its kind's [`Rows`].
trait Row: Copy {
    /// Empty rows of this kind.
    fn empty() -> Rows;
    /// Appends `self` (rows of another kind are left as they are: a slot holds one kind).
    fn push_to(self, rows: &mut Rows);
}

macro_rules! row_kind {
    ($row:ty, $variant:ident) => {
        impl Row for $row {
            fn empty() -> Rows {
                Rows::$variant(Vec::new())
            }
            fn push_to(self, rows: &mut Rows) {
                if let Rows::$variant(v) = rows {
                    v.push(self);
                }
            }
        }
    };
}
row_kind!(TradeRow, Trades);
row_kind!(QuoteRow, Quotes);
row_kind!(CandleRow, Candles);
row_kind!(AnomalyRow, Anomalies);

/// Rows waiting for the writer, by partition, with the names the slots stand for.
#[derive(Debug, Default)]
struct Batch {
    parts: BTreeMap<Slot, Rows>,
    rows: usize,
}

/// The kind whose bit is `bit`.
fn kind_of_bit(bit: u16) -> Option<Kind> {
    Kind::all().into_iter().find(|k| kind_bit(*k) == bit)
}

/// The recorder thread's state: lanes, name tables and the batch being filled.
struct Collector {
    spec: RecorderSpec,
    lanes: Vec<RecorderLane>,
    table: Arc<InstrumentTable>,
    /// Venue names by index (slots keep the index).
    venues: Vec<String>,
    /// Per lane and source, the index into `venues`.
    venue_of: Vec<Vec<u16>>,
    /// Catalog instrument name per instrument id, and whether it is recorded (`None`: not
    /// looked up yet).
    instruments: Vec<Option<Option<String>>>,
    /// Period bounds last used per (kind bit, venue, instrument).
    periods: HashMap<(u16, u16, u32), (i64, i64)>,
    batch: Batch,
    /// Rows sealed but not yet taken by the writer (they count against `max_buffered_rows`).
    held: usize,
    /// Rows taken in, by kind bit index.
    taken: [u64; 9],
    report: RecorderReport,
    shared: Arc<RecorderShared>,
}

impl Collector {
    fn new(
        spec: RecorderSpec,
        lanes: Vec<RecorderLane>,
        table: Arc<InstrumentTable>,
        shared: Arc<RecorderShared>,
    ) -> Self {
        let mut venues: Vec<String> = Vec::new();
        let venue_of = lanes
            .iter()
            .map(|l| {
                l.venues
                    .iter()
                    .map(|v| match venues.iter().position(|x| x == v) {
                        Some(i) => i as u16,
                        None => {
                            venues.push(v.clone());
                            (venues.len() - 1) as u16
                        }
                    })
                    .collect()
            })
            .collect();
        Self {
            report: RecorderReport {
                catalog: spec.catalog.display().to_string(),
                ..RecorderReport::default()
            },
            spec,
            lanes,
            table,
            venues,
            venue_of,
            instruments: Vec::new(),
            periods: HashMap::new(),
            batch: Batch::default(),
            held: 0,
            taken: [0; 9],
            shared,
        }
    }

    /// The venue index of `source` on `lane` (the lane's first source for merged records).
    fn venue(&self, lane: usize, source: u8) -> Option<u16> {
        let v = self.venue_of.get(lane)?;
        v.get(usize::from(source)).or_else(|| v.first()).copied()
    }

    /// Whether `id` is recorded (its name is a catalog directory name and the config wants it).
    fn instrument_ok(&mut self, id: InstrumentId) -> bool {
        let i = id.index();
        if i >= self.instruments.len() {
            self.instruments.resize(i + 1, None);
        }
        if self.instruments[i].is_none() {
            let sym = self.table.symbol(id);
            let want = self.spec.instruments.is_empty() || self.spec.instruments.contains(&sym);
            let name = super::import::instrument_name(&sym);
            self.instruments[i] = Some((want && super::safe_component(&name)).then_some(name));
        }
        matches!(self.instruments[i], Some(Some(_)))
    }

    /// The slot of a row of kind `bit` at `ts`.
    fn slot(&mut self, bit: u16, venue: u16, instrument: u32, ts: i64) -> Option<Slot> {
        let key = (bit, venue, instrument);
        if let Some(&(lo, hi)) = self.periods.get(&key) {
            if ts >= lo && ts < hi {
                return Some((bit, venue, instrument, lo));
            }
        }
        let p = kind_of_bit(bit)?.period();
        let (lo, hi) = p.range(&p.label(ts))?;
        self.periods.insert(key, (lo, hi));
        Some((bit, venue, instrument, lo))
    }

    /// Files `row` under its slot, or drops it when too many rows wait.
    fn put<R: Row>(&mut self, slot: Option<Slot>, row: R) {
        let Some(slot) = slot else {
            self.report.unrecordable += 1;
            return;
        };
        if self.batch.rows + self.held >= self.spec.max_buffered_rows {
            self.report.dropped_buffer += 1;
            self.shared.dropped_buffer.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.batch.rows += 1;
        row.push_to(self.batch.parts.entry(slot).or_insert_with(R::empty));
    }

    fn count(&mut self, kind: Kind) {
        if let Some(n) = self.taken.get_mut(kind_bit(kind).trailing_zeros() as usize) {
            *n += 1;
        }
        self.shared.taken.fetch_add(1, Ordering::Relaxed);
    }

    /// The report, with the counts by kind name.
    fn report(&mut self) -> RecorderReport {
        let mut r = std::mem::take(&mut self.report);
        for k in Kind::all() {
            let n = self.taken[kind_bit(k).trailing_zeros() as usize];
            if n > 0 {
                r.taken.insert(k.name(), n);
            }
        }
        r
    }

    fn take(&mut self, lane: usize, env: &Envelope) {
        match env.payload {
            Payload::Trade(t) => {
                let kind = if t.flags & Trade::AGGREGATED != 0 {
                    Kind::AggTrades
                } else {
                    Kind::Trades
                };
                self.count(kind);
                let ok = self.instrument_ok(t.instrument);
                let ts = i64::try_from(t.trade_ns).ok();
                let slot = match (ok, ts, self.venue(lane, t.source)) {
                    (true, Some(ts), Some(v)) if fits18(t.price.0) && fits18(t.qty.0) => {
                        self.slot(kind_bit(kind), v, u32::from(t.instrument.0), ts)
                    }
                    (false, ..) => return,
                    _ => None,
                };
                let row = TradeRow {
                    ts_ns: ts.unwrap_or_default(),
                    id: t.trade_id,
                    price: t.price.0,
                    qty: t.qty.0,
                    buyer_maker: t.buyer_is_maker,
                };
                self.put(slot, row);
            }
            Payload::BookTicker(q) => {
                self.count(Kind::Quotes);
                if !self.instrument_ok(q.instrument) {
                    return;
                }
                let real = self.lanes[lane]
                    .recv_real
                    .get(usize::from(q.source))
                    .copied()
                    .unwrap_or(false);
                let ts = if q.event_ns > 0 {
                    Some(q.event_ns)
                } else {
                    real.then_some(env.recv_ns)
                };
                let ts = ts.and_then(|t| i64::try_from(t).ok());
                let vals = [q.bid_px.0, q.bid_qty.0, q.ask_px.0, q.ask_qty.0];
                let slot = match (ts, self.venue(lane, q.source)) {
                    (Some(ts), Some(v)) if vals.into_iter().all(fits18) => {
                        self.slot(kind_bit(Kind::Quotes), v, u32::from(q.instrument.0), ts)
                    }
                    _ => None,
                };
                let row = QuoteRow {
                    ts_ns: ts.unwrap_or_default(),
                    update_id: q.update_id,
                    bid: q.bid_px.0,
                    bid_qty: q.bid_qty.0,
                    ask: q.ask_px.0,
                    ask_qty: q.ask_qty.0,
                };
                self.put(slot, row);
            }
            Payload::Candle(c) => {
                let kind = Kind::Candles(c.resolution);
                self.count(kind);
                if !self.instrument_ok(c.instrument) {
                    return;
                }
                let ts = i64::try_from(c.open_ns).ok();
                let vals = [
                    c.open.0,
                    c.high.0,
                    c.low.0,
                    c.close.0,
                    c.volume.0,
                    c.taker_buy_volume.0,
                ];
                let slot = match (ts, self.venue(lane, crate::core::cold::NO_SOURCE)) {
                    (Some(ts), Some(v)) if vals.into_iter().all(fits18) => {
                        self.slot(kind_bit(kind), v, u32::from(c.instrument.0), ts)
                    }
                    _ => None,
                };
                let row = CandleRow {
                    open_ns: ts.unwrap_or_default(),
                    open: c.open.0,
                    high: c.high.0,
                    low: c.low.0,
                    close: c.close.0,
                    volume: c.volume.0,
                    quote_volume: i128::from(c.quote_volume),
                    trades: u64::from(c.trades),
                    taker_buy_volume: c.taker_buy_volume.0,
                    // The engine's candles do not keep it.
                    taker_buy_quote: 0,
                };
                self.put(slot, row);
            }
            _ => {}
        }
    }

    fn take_anomaly(&mut self, a: AnomalyIn) {
        self.count(Kind::Anomalies);
        let instrument = match a.instrument {
            Some(id) if !self.instrument_ok(id) => return,
            Some(id) => u32::from(id.0),
            // Not about one instrument: filed under `ALL`.
            None => NO_INSTRUMENT,
        };
        let slot = self
            .venue(a.lane, a.row.source)
            .and_then(|v| self.slot(kind_bit(Kind::Anomalies), v, instrument, a.row.ts_ns));
        let row = a.row;
        self.put(slot, row);
    }

    /// The catalog partition a slot stands for.
    fn part(&self, slot: &Slot) -> Option<(Kind, PartKey)> {
        let (bit, venue, instrument, lo) = *slot;
        let kind = kind_of_bit(bit)?;
        let instrument = if instrument == NO_INSTRUMENT {
            "ALL".to_string()
        } else {
            self.instruments
                .get(instrument as usize)
                .cloned()
                .flatten()
                .flatten()?
        };
        Some((
            kind,
            PartKey {
                kind: kind.name(),
                venue: self.venues.get(usize::from(venue))?.clone(),
                instrument,
                date: kind.period().label(lo),
            },
        ))
    }

    /// The batch so far, named, ready for the writer.
    fn seal(&mut self) -> Vec<(Kind, PartKey, Rows)> {
        let batch = std::mem::take(&mut self.batch);
        batch
            .parts
            .into_iter()
            .filter_map(|(slot, rows)| {
                let (k, p) = self.part(&slot)?;
                Some((k, p, rows))
            })
            .collect()
    }
}

// ---------------------------------------------------------------- writing

/// What one write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// The version written (the current one when nothing changed).
    pub version: u64,
    /// Rows handed in.
    pub rows: u64,
    /// Rows added.
    pub added: u64,
    /// Identical rows already stored or repeated in the batch.
    pub duplicates: u64,
    /// Rows whose key was stored with other values.
    pub conflicts: u64,
    /// Files appended.
    pub appended: u64,
    /// Partitions rewritten.
    pub merged: u64,
}

/// A batch waiting to be written: partitions and their rows.
type Sealed = Vec<(Kind, PartKey, Rows)>;

/// Writes `batch` into the catalog at `dir` as one version (see the module docs).
fn write_batch(spec: &RecorderSpec, batch: &Sealed) -> Result<FlushReport, CatalogError> {
    let mut w = Writer::open(&spec.catalog)?;
    let live = w.base().partitions_owned();
    let mut rep = FlushReport::default();
    for (kind, part, rows) in batch {
        let files = live.get(part).map_or(&[][..], Vec::as_slice);
        // Candles: a later revision in the batch replaces an earlier one.
        macro_rules! put_rows {
            ($v:expr, $last_wins:expr) => {
                put(
                    &mut w,
                    *kind,
                    part,
                    files,
                    $v,
                    $last_wins,
                    spec.max_files,
                    &mut rep,
                )?
            };
        }
        match rows {
            Rows::Trades(v) => put_rows!(v, false),
            Rows::Quotes(v) => put_rows!(v, false),
            Rows::Candles(v) => put_rows!(v, true),
            Rows::Anomalies(v) => put_rows!(v, false),
        }
    }
    let m = w.commit(
        &format!("record {} rows ({} new)", rep.rows, rep.added),
        spec.grace_s,
    )?;
    rep.version = m.version;
    Ok(rep)
}

/// One partition's share of a write. `last_wins`: a later row of a key replaces an earlier
/// one of the batch (candle revisions).
#[allow(clippy::too_many_arguments)]
fn put<R: Record>(
    w: &mut Writer,
    kind: Kind,
    part: &PartKey,
    files: &[FileEntry],
    incoming: &[R],
    last_wins: bool,
    max_files: usize,
    rep: &mut FlushReport,
) -> Result<(), CatalogError> {
    rep.rows += incoming.len() as u64;
    let latest;
    let incoming = if last_wins {
        let mut seen = std::collections::HashSet::with_capacity(incoming.len());
        let mut v: Vec<R> = incoming
            .iter()
            .rev()
            .filter(|r| seen.insert(r.key()))
            .copied()
            .collect();
        v.reverse();
        rep.duplicates += (incoming.len() - v.len()) as u64;
        latest = v;
        &latest[..]
    } else {
        incoming
    };
    // Sorted and unique within the batch.
    let (fresh, m) = merge(&[], incoming);
    rep.duplicates += m.duplicates as u64;
    rep.conflicts += m.conflicts as u64;
    if fresh.is_empty() {
        return Ok(());
    }
    let max_ts = files.iter().map(|f| f.max_ts).max();
    let max_key = files.iter().map(|f| f.max_key).max();
    // New rows that all come after the stored ones cannot repeat them: a sequenced key
    // (trade id, book update id: a resend carries the same one at a later time) must be
    // higher; any other key is the row's time or digest, so a later time suffices.
    let beyond = match (max_ts, max_key) {
        (Some(t), Some(k)) => fresh.iter().all(|r| {
            if r.sequenced_key() {
                r.ts() >= t && r.key() > k
            } else {
                r.ts() > t
            }
        }),
        _ => true,
    };
    if beyond && files.len() + 1 < max_files {
        w.write(kind, part, &fresh)?;
        rep.added += fresh.len() as u64;
        rep.appended += 1;
        return Ok(());
    }
    let mut existing = Vec::new();
    for f in files {
        existing.extend(super::store::read_all::<R>(&w.base().locate(f))?);
    }
    let (rows, m) = merge(&existing, &fresh);
    rep.added += m.added as u64;
    rep.duplicates += m.duplicates as u64;
    rep.conflicts += m.conflicts as u64;
    if m.added == 0 && files.len() <= 1 {
        return Ok(());
    }
    w.write(kind, part, &rows)?;
    for f in files {
        w.retire(&f.path);
    }
    rep.merged += 1;
    Ok(())
}

// ---------------------------------------------------------------- threads

/// The running recorder: join it at the end of the run.
pub struct Recorder {
    collector: std::thread::JoinHandle<RecorderReport>,
    /// Live counters.
    pub shared: Arc<RecorderShared>,
}

/// How long the last write may wait for a catalog another writer holds.
const FINAL_WAIT: Duration = Duration::from_secs(10);

impl Recorder {
    /// Starts the recorder and its writer. `anomalies` ends when the cold thread drops its
    /// sender; the lanes' rings end when their hot threads finish.
    pub fn start(
        spec: RecorderSpec,
        lanes: Vec<RecorderLane>,
        table: Arc<InstrumentTable>,
        anomalies: Option<Receiver<AnomalyIn>>,
        notes: Sender<Note>,
        shared: Arc<RecorderShared>,
        core: Option<usize>,
    ) -> std::io::Result<Self> {
        // Both threads share the cold thread's core (`rings.cold_core`), away from the hot
        // ones.
        let pin = move || {
            if let Some(id) = core {
                core_affinity::set_for_current(core_affinity::CoreId { id });
            }
        };
        let (batch_tx, batch_rx) = mpsc::sync_channel::<Sealed>(1);
        let wspec = spec.clone();
        let wshared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("recorder-write".into())
            .spawn(move || {
                pin();
                writer_loop(&wspec, &batch_rx, &notes, &wshared)
            })?;
        let cshared = shared.clone();
        let collector = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                pin();
                let mut c = Collector::new(spec, lanes, table, cshared);
                collect_loop(&mut c, anomalies.as_ref(), &batch_tx);
                drop(batch_tx);
                let w = writer.join().unwrap_or_else(|_| RecorderReport {
                    errors: vec!["the recorder's writer thread panicked".into()],
                    ..RecorderReport::default()
                });
                let mut r = c.report();
                r.written = w.written;
                r.duplicates = w.duplicates;
                r.conflicts = w.conflicts;
                r.lost = w.lost;
                r.flushes = w.flushes;
                r.appended = w.appended;
                r.merged = w.merged;
                r.versions = w.versions;
                r.errors = w.errors;
                r.dropped_ring = c.shared.dropped_ring.load(Ordering::Relaxed);
                r
            })?;
        Ok(Self { collector, shared })
    }

    /// Waits for the last write and returns the report.
    pub fn finish(self) -> RecorderReport {
        self.collector.join().unwrap_or_else(|_| RecorderReport {
            errors: vec!["the recorder thread panicked".into()],
            ..RecorderReport::default()
        })
    }
}

/// Adds `more` to `into`, one entry per partition (a partition written twice in one version
/// would be checked against what was stored, not against itself).
fn coalesce(into: &mut Sealed, more: Sealed) {
    for (k, part, rows) in more {
        match into.iter_mut().find(|(_, q, _)| *q == part) {
            Some((_, _, mine)) => mine.append(rows),
            None => into.push((k, part, rows)),
        }
    }
}

fn sealed_rows(s: &Sealed) -> usize {
    s.iter().map(|(_, _, r)| r.len()).sum()
}

fn collect_loop(
    c: &mut Collector,
    anomalies: Option<&Receiver<AnomalyIn>>,
    out: &SyncSender<Sealed>,
) {
    let mut last = Instant::now();
    let mut waiting: Option<Sealed> = None;
    let mut anomalies_open = anomalies.is_some();
    let mut got: Vec<Envelope> = Vec::with_capacity(4096);
    loop {
        // Closed before the drain: a ring found empty after it is empty for good.
        let closed = !anomalies_open && c.lanes.iter().all(|l| l.ring.is_closed());
        let mut n = 0;
        for li in 0..c.lanes.len() {
            got.clear();
            c.lanes[li].ring.pop_batch(4096, |e| got.push(e));
            n += got.len();
            for e in &got {
                c.take(li, e);
            }
        }
        if let Some(rx) = anomalies.filter(|_| anomalies_open) {
            loop {
                match rx.try_recv() {
                    Ok(a) => {
                        n += 1;
                        c.take_anomaly(a);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        anomalies_open = false;
                        break;
                    }
                }
            }
        }
        let end = closed && n == 0;
        if end {
            // The last rows: wait for the writer to take them.
            c.shared.closing.store(true, Ordering::Release);
            if let Some(w) = waiting.take() {
                let _ = out.send(w);
            }
            if c.batch.rows > 0 {
                let _ = out.send(c.seal());
            }
            return;
        }
        // The writer takes one batch at a time: a batch it could not take yet is offered
        // again as it is (rows arriving meanwhile collect for the next one), so nothing is
        // sealed twice while it works.
        let offer = if let Some(w) = waiting.take() {
            Some(w)
        } else if c.batch.rows > 0
            && (last.elapsed() >= c.spec.flush || c.batch.rows >= c.spec.flush_rows)
        {
            Some(c.seal())
        } else {
            None
        };
        if let Some(b) = offer {
            match out.try_send(b) {
                Ok(()) => {
                    c.held = 0;
                    last = Instant::now();
                }
                Err(TrySendError::Full(b)) => {
                    c.held = sealed_rows(&b);
                    waiting = Some(b);
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Books a successful write and tells the cold thread.
fn booked(
    rep: &mut RecorderReport,
    spec: &RecorderSpec,
    shared: &RecorderShared,
    notes: &Sender<Note>,
    f: FlushReport,
    started: Instant,
    journal: bool,
) {
    let changed = f.added > 0 || f.merged > 0;
    rep.flushes += u64::from(changed);
    rep.written += f.added;
    rep.duplicates += f.duplicates;
    rep.conflicts += f.conflicts;
    rep.appended += f.appended;
    rep.merged += f.merged;
    shared.written.fetch_add(f.added, Ordering::Relaxed);
    if changed {
        rep.versions = Some(
            rep.versions
                .map_or((f.version, f.version), |(a, _)| (a, f.version)),
        );
    }
    let line = format!(
        "recorder: catalog `{}` version {}: {} rows in, {} new ({} duplicates, {} conflicts), {} files appended, {} partitions merged, {:.0} ms",
        spec.catalog.display(),
        f.version,
        f.rows,
        f.added,
        f.duplicates,
        f.conflicts,
        f.appended,
        f.merged,
        started.elapsed().as_secs_f64() * 1e3
    );
    // The journal gets the first write and the one after an error; the log every one.
    let _ = notes.send(if (changed && rep.flushes == 1) || journal {
        Note::Journal(line)
    } else {
        Note::Log(line)
    });
}

/// Tries before a write that fails for a reason other than the lock is split by partition.
const WRITE_TRIES: u32 = 3;

fn writer_loop(
    spec: &RecorderSpec,
    rx: &Receiver<Sealed>,
    notes: &Sender<Note>,
    shared: &RecorderShared,
) -> RecorderReport {
    let mut rep = RecorderReport::default();
    let mut last_error: Option<String> = None;
    let tell = |rep: &mut RecorderReport, last: &mut Option<String>, text: String, rows: usize| {
        if last.as_deref() != Some(&text) {
            let _ = notes.send(Note::Journal(format!(
                "recorder: cannot write {rows} rows to `{}` yet: {text} (kept and retried)",
                spec.catalog.display()
            )));
            if rep.errors.len() < 10 {
                rep.errors.push(text.clone());
            }
            *last = Some(text);
        }
    };
    while let Ok(mut batch) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            coalesce(&mut batch, more);
        }
        // Until it is written (or given up): meanwhile no new batch is taken, so the rows
        // arriving wait in the recorder, bounded by max_buffered_rows.
        let mut closing_since: Option<Instant> = None;
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            match write_batch(spec, &batch) {
                Ok(f) => {
                    booked(
                        &mut rep,
                        spec,
                        shared,
                        notes,
                        f,
                        started,
                        last_error.is_some(),
                    );
                    last_error = None;
                    break;
                }
                // Another writer (an import, a compaction, another recording run) holds the
                // catalog: wait for it.
                Err(e @ CatalogError::Locked(_)) => {
                    tell(
                        &mut rep,
                        &mut last_error,
                        e.to_string(),
                        sealed_rows(&batch),
                    );
                    if shared.closing.load(Ordering::Acquire) {
                        let since = *closing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= FINAL_WAIT {
                            let rows = sealed_rows(&batch);
                            rep.lost += rows as u64;
                            let _ = notes.send(Note::Journal(format!(
                                "recorder: {rows} rows were not written to `{}`: {e}",
                                spec.catalog.display()
                            )));
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    } else {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                // Anything else (a partition's file unreadable, the disk full, a value the
                // file format refuses) may concern one partition only: after a few tries,
                // each partition is written on its own and only those that fail are dropped.
                Err(e) => {
                    tell(
                        &mut rep,
                        &mut last_error,
                        e.to_string(),
                        sealed_rows(&batch),
                    );
                    failures += 1;
                    if failures < WRITE_TRIES {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    for one in std::mem::take(&mut batch) {
                        let rows = one.2.len();
                        let name = one.1.dir();
                        let started = Instant::now();
                        match write_batch(spec, &vec![one]) {
                            Ok(f) => booked(&mut rep, spec, shared, notes, f, started, true),
                            Err(e) => {
                                rep.lost += rows as u64;
                                if rep.errors.len() < 10 {
                                    rep.errors.push(e.to_string());
                                }
                                let _ = notes.send(Note::Journal(format!(
                                    "recorder: **{rows} rows of {name} dropped**: {e}"
                                )));
                            }
                        }
                    }
                    last_error = None;
                    break;
                }
            }
        }
    }
    rep
}

/// The catalog venue name of a replay file or live feed: Binance's markets told apart by the
/// path or URL (`binance-usdm`, `binance-coinm`, `binance-us`), else `venue`.
pub fn venue_name(venue: crate::feed::parse::Venue, path_or_url: &str) -> String {
    let l = path_or_url.to_ascii_lowercase();
    if venue == crate::feed::parse::Venue::Binance {
        if l.contains("fstream") {
            return "binance-usdm".into();
        }
        if l.contains("dstream") {
            return "binance-coinm".into();
        }
        if l.contains("binance.us") {
            return "binance-us".into();
        }
        if let Some(v) = super::import::venue_of(std::path::Path::new(path_or_url)) {
            return v;
        }
    }
    venue.name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("tw-rec-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            Self(d)
        }
        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn t(ts: i64, id: u64) -> TradeRow {
        TradeRow {
            ts_ns: ts,
            id,
            price: 100,
            qty: 1,
            buyer_maker: false,
        }
    }

    fn spec(dir: &std::path::Path) -> RecorderSpec {
        RawRecorder {
            enabled: true,
            catalog: dir.display().to_string(),
            max_files: 3,
            ..RawRecorder::default()
        }
        .validate(&Resolution::ALL)
        .unwrap()
    }

    fn part() -> PartKey {
        PartKey {
            kind: "trades".into(),
            venue: "binance".into(),
            instrument: "BTCUSDT".into(),
            date: "1970-01-01".into(),
        }
    }

    fn batch(rows: Vec<TradeRow>) -> Sealed {
        vec![(Kind::Trades, part(), Rows::Trades(rows))]
    }

    #[test]
    fn later_rows_are_appended_and_earlier_ones_merged_without_duplicates() {
        let dir = Scratch::new("append");
        let s = spec(dir.path());
        // A batch with a repeat inside it.
        let f = write_batch(&s, &batch(vec![t(1, 1), t(2, 2), t(2, 2)])).unwrap();
        assert_eq!((f.added, f.duplicates, f.appended, f.merged), (2, 1, 1, 0));
        // Later ids: a second file, the first untouched.
        let f = write_batch(&s, &batch(vec![t(3, 3), t(4, 4)])).unwrap();
        assert_eq!((f.added, f.appended, f.merged), (2, 1, 0));
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.manifest().files.len(), 2);
        // An id already stored and one inside the stored range: merged, the repeat dropped.
        let f = write_batch(&s, &batch(vec![t(2, 2), t(3, 5)])).unwrap();
        assert_eq!((f.added, f.duplicates, f.appended, f.merged), (1, 1, 0, 1));
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.manifest().files.len(), 1);
        let (rows, _) = cat
            .scan::<TradeRow>(Kind::Trades, None, "BTCUSDT", i64::MIN, i64::MAX)
            .unwrap();
        let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 5, 4]);
        // Nothing new: no version.
        let v = cat.manifest().version;
        let f = write_batch(&s, &batch(vec![t(1, 1)])).unwrap();
        assert_eq!((f.added, f.version), (0, v));
        // Appends stop at max_files (3): the third append merges the partition into one.
        write_batch(&s, &batch(vec![t(10, 10)])).unwrap();
        let f = write_batch(&s, &batch(vec![t(11, 11)])).unwrap();
        assert_eq!((f.appended, f.merged), (0, 1));
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        assert_eq!(cat.manifest().files.len(), 1);
        assert_eq!(cat.manifest().files[0].rows, 7);
        let v = super::super::maint::verify(&cat).unwrap();
        assert!(v.ok(), "{:?}", v.errors);
    }

    #[test]
    fn a_revised_candle_replaces_its_earlier_revision_in_a_batch() {
        let dir = Scratch::new("revision");
        let s = spec(dir.path());
        let c = |close: i64| CandleRow {
            open_ns: 60_000_000_000,
            open: 1,
            high: 9,
            low: 1,
            close,
            volume: 1,
            quote_volume: 1,
            trades: 1,
            taker_buy_volume: 0,
            taker_buy_quote: 0,
        };
        let part = PartKey {
            kind: "candles_1m".into(),
            venue: "binance".into(),
            instrument: "BTCUSDT".into(),
            date: "1970-01".into(),
        };
        let f = write_batch(
            &s,
            &vec![(
                Kind::Candles(Resolution::M1),
                part,
                Rows::Candles(vec![c(5), c(7)]),
            )],
        )
        .unwrap();
        assert_eq!((f.added, f.duplicates), (1, 1));
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        let (rows, _) = cat
            .scan::<CandleRow>(
                Kind::Candles(Resolution::M1),
                None,
                "BTCUSDT",
                i64::MIN,
                i64::MAX,
            )
            .unwrap();
        assert_eq!(rows, vec![c(7)]);
    }

    #[test]
    fn a_resent_quote_is_never_stored_twice() {
        let dir = Scratch::new("quote");
        let s = spec(dir.path());
        let q = |ts: i64, id: u64| QuoteRow {
            ts_ns: ts,
            update_id: id,
            bid: 1,
            bid_qty: 1,
            ask: 2,
            ask_qty: 1,
        };
        let part = PartKey {
            kind: "quotes".into(),
            venue: "binance".into(),
            instrument: "BTCUSDT".into(),
            date: "1970-01-01".into(),
        };
        let b = |rows| vec![(Kind::Quotes, part.clone(), Rows::Quotes(rows))];
        write_batch(&s, &b(vec![q(1, 10), q(2, 11)])).unwrap();
        // Update 11 again, received later (a resend after a reconnect): not appended.
        let f = write_batch(&s, &b(vec![q(5, 11), q(6, 12)])).unwrap();
        assert_eq!((f.added, f.conflicts, f.appended, f.merged), (1, 1, 0, 1));
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        assert!(super::super::maint::verify(&cat).unwrap().ok());
        // Venues without update ids are keyed by the row: a later time appends.
        let f = write_batch(&s, &b(vec![q(7, 0)])).unwrap();
        assert_eq!((f.added, f.appended), (1, 1));
    }

    #[test]
    fn a_partition_that_cannot_be_written_is_dropped_alone() {
        let dir = Scratch::new("broken");
        let s = spec(dir.path());
        write_batch(&s, &batch(vec![t(5, 5)])).unwrap();
        // Its file goes bad on disk: merging into the partition must fail.
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        let f = cat.locate(&cat.manifest().files[0]);
        std::fs::write(&f, b"not parquet").unwrap();
        let other = PartKey {
            instrument: "ETHUSDT".into(),
            ..part()
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let (ntx, nrx) = mpsc::channel();
        tx.send(vec![
            (Kind::Trades, part(), Rows::Trades(vec![t(1, 1), t(2, 2)])),
            (Kind::Trades, other, Rows::Trades(vec![t(3, 3)])),
        ])
        .unwrap();
        drop(tx);
        let rep = writer_loop(&s, &rx, &ntx, &RecorderShared::default());
        assert_eq!((rep.written, rep.lost), (1, 2), "{rep:?}");
        let notes: Vec<Note> = nrx.try_iter().collect();
        assert!(
            notes.iter().any(|n| matches!(n, Note::Journal(l) if l.contains("**2 rows of trades/venue=binance/instrument=BTCUSDT/date=1970-01-01 dropped**"))),
            "{notes:?}"
        );
        let cat = super::super::Catalog::open(dir.path()).unwrap();
        let (eth, _) = cat
            .scan::<TradeRow>(Kind::Trades, None, "ETHUSDT", i64::MIN, i64::MAX)
            .unwrap();
        assert_eq!(eth, vec![t(3, 3)]);
    }

    #[test]
    fn a_locked_catalog_is_an_error_the_writer_retries() {
        let dir = Scratch::new("locked");
        let s = spec(dir.path());
        let held = Writer::open(dir.path()).unwrap();
        let e = write_batch(&s, &batch(vec![t(1, 1)])).unwrap_err();
        assert!(matches!(e, CatalogError::Locked(_)), "{e}");
        drop(held);
        assert_eq!(write_batch(&s, &batch(vec![t(1, 1)])).unwrap().added, 1);
    }

    #[test]
    fn config_is_checked() {
        let ok = RawRecorder::default().validate(&[Resolution::M1]).unwrap();
        assert_eq!(
            ok.kinds,
            kind_bit(Kind::Trades)
                | kind_bit(Kind::AggTrades)
                | kind_bit(Kind::Quotes)
                | kind_bit(Kind::Candles(Resolution::M1))
                | kind_bit(Kind::Anomalies)
        );
        for (raw, key) in [
            (
                RawRecorder {
                    kinds: vec!["ticks".into()],
                    ..RawRecorder::default()
                },
                "recorder.kinds",
            ),
            (
                RawRecorder {
                    kinds: vec!["candles_1h".into()],
                    ..RawRecorder::default()
                },
                "recorder.kinds",
            ),
            (
                RawRecorder {
                    ring: 1000,
                    ..RawRecorder::default()
                },
                "recorder.ring",
            ),
            (
                RawRecorder {
                    flush_s: 0,
                    ..RawRecorder::default()
                },
                "recorder.flush_s",
            ),
        ] {
            assert_eq!(raw.validate(&[Resolution::M1]).unwrap_err().0, key);
        }
    }

    #[test]
    fn venues_are_told_apart_like_imports() {
        use crate::feed::parse::Venue;
        assert_eq!(
            venue_name(Venue::Binance, "wss://fstream.binance.com/ws"),
            "binance-usdm"
        );
        assert_eq!(
            venue_name(Venue::Binance, "wss://stream.binance.com:9443/ws"),
            "binance"
        );
        assert_eq!(
            venue_name(Venue::Binance, "ws/binance_usdm_futures/x.jsonl.zst"),
            "binance-usdm"
        );
        assert_eq!(venue_name(Venue::Kraken, "anything"), "kraken");
    }
}
