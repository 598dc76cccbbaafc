//! The runtime: builds lanes from the config, pins and starts the threads, stops them in order
//! and writes the report. The only module that knows the topology.
//!
//! Start-up order: validate (done by `Config::load`), build every ring, stage and histogram,
//! open the report files, then start the cold thread and the hot threads. Stop order: the
//! source sees the stop flag (Ctrl-C, SIGTERM, `--duration`) or runs dry, closes its ring; each
//! thread drains its input, closes its output; the venue closes the return ring last. Then the
//! cold thread drains everything and the final report is written.

pub mod heal;
pub mod hot;
pub mod latency;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::arbiter::Arbiter;
use crate::candles::Candles;
use crate::catalog::recorder::RecorderLane;
use crate::cold::report::{RunSummary, ThreadSummary};
use crate::cold::{ColdInput, ColdWriter, Totals};
use crate::core::clock;
use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::config::{Config, SourceKind, Stage};
use crate::core::health::ThreadProbe;
use crate::core::order::Execution;
use crate::core::stats::LaneStats;
use crate::core::Symbol;
use crate::core::{Envelope, Instrument, InstrumentTable};
use crate::feed::parse::binance_csv::{CsvKind, Parser as BinanceCsvParser};
use crate::feed::parse::{Venue, VenueParser};
use crate::feed::replay::{Capture, ReplayError};
use crate::feed::synthetic::{SymbolSpec, SyntheticConfig, SyntheticMarket};
use crate::feed::{BookPool, LineSpec, ParseStage, ReplaySource, Source, SyntheticSource};
use crate::indicators::Indicators;
use crate::ring::{channel, channel_prefaulted, Consumer, Probe, Producer, RingError};
use crate::trader::{Trader, TraderSizes};
use crate::venue::VenueStage;
use hot::{HotThread, Stages, ThreadReport};

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A capture could not be loaded.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The report directory or a report file could not be written.
    #[error("report: {0}")]
    Io(#[from] std::io::Error),
    /// A ring size was refused.
    #[error("config: {0}")]
    Ring(#[from] RingError),
    /// A replay was asked for without inputs.
    #[error("replay needs at least one --input file")]
    NoInput,
    /// A live feed could not be set up.
    #[error("feed {0}")]
    Feed(String),
    /// A thread panicked (a bug: the hot path must not panic).
    #[error("thread {0} panicked; the report was written with what was collected")]
    Panicked(String),
    /// A hot thread stopped the run safely (see [`heal`]).
    #[error("stopped safely: {0}; the report was written (see journal.md)")]
    SafeStop(String),
    /// `TICKWIRE_FAULT` could not be read.
    #[error("{0}")]
    Fault(String),
    /// The order journal could not be read back or does not fit this config.
    #[error("order journal: {0}")]
    Journal(String),
    /// The recorder's catalog cannot be written.
    #[error("recorder.catalog {0}")]
    Recorder(String),
    /// Live trading refused to start.
    #[error("venue.mode = \"live\": {0}")]
    Live(String),
}

/// How to run.
pub struct RunOptions {
    /// `run` or `replay` (reports and journal say which).
    pub mode: String,
    /// Report directory.
    pub report_dir: PathBuf,
    /// Stop after this long (wall time).
    pub duration: Option<Duration>,
    /// Set from outside (Ctrl-C / SIGTERM) to stop cleanly.
    pub stop: Arc<AtomicBool>,
    /// Replay these in-memory captures instead of loading `source.files` (benchmarks).
    pub captures: Option<Vec<Arc<Capture>>>,
    /// A replay publishes here how many messages it has played (every 4,096), and its
    /// total in [`RunOptions::progress_total`] (for a progress bar).
    pub progress: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Set to the number of messages the replay will play, once its files are loaded.
    pub progress_total: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// Record end-to-end latency over time in intervals of this many ns, this many of them
    /// (latency benchmarks).
    pub latency_intervals: Option<(u64, usize)>,
}

/// What a finished run returns.
pub struct RunResult {
    /// The summary.json document.
    pub summary: serde_json::Value,
    /// Counter totals.
    pub totals: Totals,
    /// Per-thread summaries.
    pub threads: Vec<ThreadSummary>,
    /// Where the report is.
    pub report_dir: PathBuf,
    /// What a backtest keeps for its statistics.
    pub recorded: crate::cold::Recorded,
    /// Merged latency per stage, plus `tick_to_order` and `end_to_end`.
    pub latency: BTreeMap<String, Histogram<u64>>,
    /// End-to-end latency over time, when [`RunOptions::latency_intervals`] asked for it.
    pub intervals: Option<latency::Intervals>,
}

/// A ring of `capacity`, its pages written now when `prefault` (long runs; see
/// [`channel_prefaulted`]).
fn ring<T: Copy + Send>(
    capacity: usize,
    prefault: bool,
) -> Result<(Producer<T>, Consumer<T>), RingError> {
    if prefault {
        channel_prefaulted(capacity)
    } else {
        channel(capacity)
    }
}

/// A cold ring: `(capacity, prefault)`.
fn cold_ring(
    (capacity, prefault): (usize, bool),
    lane: usize,
    stage: &'static str,
    inputs: &mut Vec<ColdInput>,
) -> Result<ColdTx, RingError> {
    let (tx, rx) = ring::<ColdRecord>(capacity, prefault)?;
    inputs.push(ColdInput {
        lane,
        stage,
        ring: rx,
        probe: tx.probe(),
    });
    Ok(ColdTx::new(tx))
}

/// What a replay plays: captures loaded (shared by every lane, merged by receive time when
/// they have sidecars), or files streamed from disk (one lane, nothing to merge).
struct Inputs {
    captures: Vec<Arc<Capture>>,
    stream: Option<Vec<PathBuf>>,
    progress: Option<Arc<std::sync::atomic::AtomicU64>>,
    progress_total: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl Inputs {
    fn files(&self) -> Vec<PathBuf> {
        match &self.stream {
            Some(f) => f.clone(),
            None => self.captures.iter().map(|c| c.path.clone()).collect(),
        }
    }
}

/// The synthetic market of lane `lane` (its instruments among `symbols`; all when empty),
/// starting `cfg.source.warmup_s` before `live_from_ns` (ns since the epoch).
pub fn synthetic_market(
    cfg: &Config,
    lane: usize,
    symbols: &[String],
    live_from_ns: u64,
) -> SyntheticMarket {
    let specs: Vec<SymbolSpec> = cfg
        .instruments
        .iter()
        .filter(|s| symbols.is_empty() || symbols.iter().any(|x| x == s.instrument.symbol.as_str()))
        .map(|s| SymbolSpec {
            symbol: s.instrument.symbol.as_str().to_string(),
            start_price: s.synthetic_price,
            tick: s.instrument.tick,
            lot: s.instrument.lot,
        })
        .collect();
    let share = specs.len() as f64 / cfg.instruments.len().max(1) as f64;
    let start_ms = (live_from_ns / 1_000_000).saturating_sub(cfg.source.warmup_s * 1000);
    SyntheticMarket::new(&SyntheticConfig {
        seed: cfg.source.seed.wrapping_add(lane as u64),
        symbols: specs,
        msgs_per_sec: cfg.source.msgs_per_sec * share,
        start_ms,
    })
}

fn build_source(
    cfg: &Config,
    lane: usize,
    symbols: &[String],
    inputs: &Inputs,
    stats: &Arc<LaneStats>,
    cold: Option<ColdTx>,
) -> Result<Source, RunError> {
    Ok(match cfg.source.kind {
        SourceKind::Synthetic => {
            let live_from_ns = live_from_ns(cfg);
            let market = synthetic_market(cfg, lane, symbols, live_from_ns);
            Source::Synthetic(SyntheticSource::new(
                market,
                live_from_ns,
                cfg.source.speed,
                cfg.source.limit,
            ))
        }
        SourceKind::Replay => match &inputs.stream {
            Some(files) => Source::Stream(
                crate::feed::stream::StreamSource::start(
                    files,
                    cfg.source.speed,
                    cfg.source.loop_count,
                    cfg.source.limit,
                    inputs.progress.clone(),
                    inputs.progress_total.clone(),
                )
                .map_err(|e| RunError::Feed(e.to_string()))?,
            ),
            None => Source::Replay(
                ReplaySource::new(
                    inputs.captures.clone(),
                    cfg.source.speed,
                    cfg.source.loop_count,
                    cfg.source.limit,
                )
                .with_progress(if lane == 0 {
                    inputs.progress.clone()
                } else {
                    None
                }),
            ),
        },
        SourceKind::Live => {
            let specs: Vec<&crate::core::config::FeedSpec> =
                cfg.feeds.iter().filter(|f| f.lane == lane).collect();
            Source::Live(
                crate::feed::live::LiveSource::new(
                    &specs,
                    cfg.source.seed.wrapping_add(lane as u64),
                    cfg.source.limit,
                    stats.clone(),
                    cold.ok_or_else(|| RunError::Feed("no cold ring for the feed".into()))?,
                )
                .map_err(|e| RunError::Feed(e.to_string()))?,
            )
        }
    })
}

/// The source lines of lane `li`, in the order of [`RawMessage::line`](crate::feed::RawMessage):
/// one per replay file, one per live feed of the lane, or the synthetic market.
pub fn lane_lines(cfg: &Config, li: usize, captures: &[Arc<Capture>]) -> Vec<LineSpec> {
    let files: Vec<PathBuf> = captures.iter().map(|c| c.path.clone()).collect();
    lane_lines_of(cfg, li, &files)
}

/// [`lane_lines`] for replay files named by path.
fn lane_lines_of(cfg: &Config, li: usize, files: &[PathBuf]) -> Vec<LineSpec> {
    match cfg.source.kind {
        SourceKind::Synthetic => vec![LineSpec::primary(
            "synthetic",
            VenueParser::new(Venue::Binance),
        )],
        SourceKind::Replay => files
            .iter()
            .map(|path| {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                LineSpec::primary(name.clone(), replay_parser(cfg, &name))
            })
            .collect(),
        SourceKind::Live => cfg
            .feeds
            .iter()
            .filter(|f| f.lane == li)
            .map(|f| LineSpec {
                name: f.name.clone(),
                parser: VenueParser::new(f.venue),
                symbol_map: f.symbols.clone(),
                role: f.role,
            })
            .collect(),
    }
}

/// The parser for a replay file: Binance public-data CSV by extension, else the configured
/// venue, else the venue named in the file name, else Binance.
fn replay_parser(cfg: &Config, file_name: &str) -> VenueParser {
    // Binance public-data archives (`BTCUSDT-trades-2024-08-08.zip`) always hold one CSV.
    if file_name.contains(".csv") || file_name.ends_with(".zip") {
        let symbol = BinanceCsvParser::symbol_from_file_name(file_name)
            .or_else(|| Symbol::new(b"UNKNOWN"))
            .expect("UNKNOWN is a valid symbol");
        return VenueParser::BinanceCsv(BinanceCsvParser::new(
            CsvKind::from_file_name(file_name),
            symbol,
        ));
    }
    let venue = cfg
        .source
        .venue
        .or_else(|| Venue::from_file_name(file_name))
        .unwrap_or(Venue::Binance);
    VenueParser::new(venue)
}

/// Loads replay files. Several files without receive-time sidecars (trades or candles of
/// several instruments, or several days) are dated line by line from their own event times
/// (a trade's time, a kline's open; a line with none takes the time before it), so the
/// replay merges them in market time instead of playing one file after another.
pub fn load_replay(cfg: &Config, files: &[PathBuf]) -> Result<Vec<Arc<Capture>>, RunError> {
    let mut caps: Vec<Capture> = files
        .iter()
        .map(|f| Capture::load(f))
        .collect::<Result<_, _>>()?;
    if caps.len() > 1 && caps.iter().any(|c| c.recv_ns.is_none()) {
        for cap in caps.iter_mut().filter(|c| c.recv_ns.is_none()) {
            let name = cap.path.file_name().map_or_else(
                || cap.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let mut parser = replay_parser(cfg, &name);
            let mut last = 0u64;
            let times = (0..cap.lines.len())
                .map(|i| {
                    if let Some(t) = crate::feed::parse::event_time(&mut parser, cap.line(i)) {
                        last = t;
                    }
                    last
                })
                .collect();
            cap.recv_ns = Some(times);
        }
    }
    Ok(caps.into_iter().map(Arc::new).collect())
}

/// When strategies may start trading: after the synthetic warm-up history, else at once.
fn live_from_ns(cfg: &Config) -> u64 {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    match cfg.source.kind {
        SourceKind::Synthetic if cfg.source.warmup_s > 0 => *START.get_or_init(clock::wall_ns),
        _ => 0,
    }
}

struct Built {
    threads: Vec<HotThread>,
    cold_inputs: Vec<ColdInput>,
    stop: Arc<AtomicBool>,
    /// The trader's cold records (orders, fills, equity) wait for room instead of being
    /// dropped: backtests, whose reports are built from them, and runs with an order journal.
    lossless_cold: bool,
    /// Rings written through at build (every mode but backtests, whose runs are short and
    /// whose setup time counts).
    prefault: bool,
    /// See [`RunOptions::latency_intervals`].
    intervals: Option<(u64, usize)>,
    /// Every hot thread's published state, for the health monitor.
    probes: Vec<Arc<ThreadProbe>>,
    /// Every hot ring's fill level, by name.
    rings: Vec<(String, Probe)>,
    /// The health monitor's requests to every trader.
    control: Arc<crate::core::health::Control>,
    heal: hot::HealSpec,
    /// Fills of earlier runs a live run books before it starts (from its order journal).
    restored: Vec<crate::core::order::JournaledFill>,
    /// The recorder's lane ends, when the run records market data, and the taps' shared
    /// drop counter.
    recorder: Option<(Arc<std::sync::atomic::AtomicU64>, Vec<RecorderLane>)>,
}

fn build_lane(
    cfg: &Config,
    li: usize,
    table: &Arc<InstrumentTable>,
    stats: &Arc<LaneStats>,
    inputs: &Inputs,
    built: &mut Built,
) -> Result<(), RunError> {
    let files = inputs.files();
    let lossless = built.lossless_cold;
    let cold_inputs = &mut built.cold_inputs;
    let lane = &cfg.lanes[li];
    let n = table.capacity();
    let cc = (cfg.cold_capacity, built.prefault);
    let thread_of = |st: Stage| {
        lane.threads
            .iter()
            .position(|t| t.stages.contains(&st))
            .unwrap_or(0)
    };
    let risk_t = thread_of(Stage::Risk);
    let venue_t = thread_of(Stage::Venue);
    let (mut exec_tx, mut exec_rx): (Option<Producer<Execution>>, Option<Consumer<Execution>>) =
        (None, None);
    let mut venue_done = None;
    if risk_t != venue_t {
        let (tx, rx) = ring::<Execution>(cfg.ring_capacity, built.prefault)?;
        built
            .rings
            .push((format!("{}/executions", lane.name), tx.probe()));
        exec_tx = Some(tx);
        exec_rx = Some(rx);
        venue_done = Some(Arc::new(std::sync::atomic::AtomicU64::new(0)));
    }
    let mut prev_rx: Option<Consumer<Envelope>> = None;
    let control = built.control.clone();
    for (ti, spec) in lane.threads.iter().enumerate() {
        let mut stages = Stages::default();
        for &st in &spec.stages {
            match st {
                Stage::Parse => {
                    let parser = ParseStage::new(
                        table.clone(),
                        cfg.source.auto_instruments,
                        li == 0,
                        &lane.instruments,
                        lane_lines_of(cfg, li, &files),
                        BookPool {
                            books: cfg.source.books,
                            levels: cfg.source.book_levels,
                        },
                        stats.clone(),
                        cold_ring(cc, li, "parse", cold_inputs)?,
                    )
                    // Replay merges its files by recorded receive time (arrival order) and
                    // does not hold events back; only live lanes reorder by corrected time.
                    .with_reorder(if cfg.source.kind == SourceKind::Live {
                        cfg.arbiter.reorder_ms.saturating_mul(1_000_000)
                    } else {
                        0
                    })
                    .with_bars(cfg.source.bars)
                    .with_window(cfg.source.window.0, cfg.source.window.1);
                    stages.parse = Some((
                        build_source(
                            cfg,
                            li,
                            &lane.instruments,
                            inputs,
                            stats,
                            if cfg.source.kind == SourceKind::Live {
                                Some(cold_ring(cc, li, "feed", cold_inputs)?)
                            } else {
                                None
                            },
                        )?,
                        parser,
                    ));
                }
                Stage::Arbiter => {
                    stages.arbiter = Some(Arbiter::new(
                        n,
                        lane_lines_of(cfg, li, &files)
                            .iter()
                            .map(|l| l.role)
                            .collect(),
                        cfg.arbiter.clone(),
                        stats.clone(),
                        cold_ring(cc, li, "arbiter", cold_inputs)?,
                    ));
                }
                Stage::Candles => {
                    stages.candles = Some(
                        Candles::new(
                            n,
                            &cfg.resolutions,
                            stats.clone(),
                            cold_ring(cc, li, "candles", cold_inputs)?,
                        )
                        .with_policy(
                            cfg.candle_gaps,
                            cfg.candle_lateness_ms.saturating_mul(1_000_000),
                        )
                        .with_live(&cfg.candle_live),
                    );
                    if cfg.ops.breach.active() && cfg.ops.breach.actions.shed_live_candles {
                        // Live candles are optional work: shed while the breach policy
                        // throttles.
                        if let Some(c) = stages.candles.take() {
                            stages.candles = Some(c.with_control(control.clone()));
                        }
                    }
                }
                Stage::Indicators => {
                    stages.indicators = Some(Indicators::new(
                        n,
                        &cfg.resolutions,
                        INDICATOR_EMA.0,
                        INDICATOR_EMA.1,
                        stats.clone(),
                    ));
                }
                Stage::Signals => {
                    let mut trader = build_trader(cfg, li, stats, cold_inputs, lossless, cc)?;
                    if built.prefault {
                        trader.prefault();
                    }
                    for f in built.restored.iter().filter(|f| f.lane == li) {
                        if !trader.restore_fill(f) {
                            return Err(RunError::Journal(format!(
                                "a {} fill of {} {} at {} does not fit this config's risk limits",
                                f.side.as_str(),
                                crate::core::num::format_scaled(f.qty.0, 8),
                                table.symbol(f.instrument),
                                crate::core::num::format_scaled(f.price.0, 8),
                            )));
                        }
                    }
                    // Only a breach policy ever writes the control flags; without one the
                    // trader never reads them (backtests stay deterministic).
                    stages.trader = Some(if cfg.ops.breach.active() {
                        trader.with_control(control.clone())
                    } else {
                        trader
                    });
                }
                // Built with the signals stage (they share a thread).
                Stage::Risk => {}
                Stage::Venue => {
                    // Room for every order the risk engine lets be open at once, twice over.
                    let resting = (cfg.risk.max_open_orders as usize + n) * 2;
                    let mut venue =
                        VenueStage::new(&cfg.paper, table, resting, resting, stats.clone())
                            .map_err(|e| RunError::Feed(format!("paper venue: {e}")))?;
                    if built.prefault {
                        venue.prefault();
                    }
                    stages.venue = Some(venue);
                }
            }
        }
        let tap = match &mut built.recorder {
            Some((dropped, ends)) if spec.stages.contains(&Stage::Indicators) => {
                let (venues, recv_real) = recorder_sources(cfg, li, inputs);
                let (tap, end) = crate::catalog::recorder::tap(
                    &cfg.recorder,
                    dropped.clone(),
                    venues,
                    recv_real,
                    built.prefault,
                )?;
                ends.push(end);
                Some(tap)
            }
            _ => None,
        };
        let last = ti + 1 == lane.threads.len();
        let (out_tx, next_rx) = if last {
            (None, None)
        } else {
            let (tx, rx) = ring::<Envelope>(cfg.ring_capacity, built.prefault)?;
            built
                .rings
                .push((format!("{}/{}", lane.name, spec.name), tx.probe()));
            (Some(tx), Some(rx))
        };
        let name = format!("{}/{}", lane.name, spec.name);
        let probe = Arc::new(ThreadProbe::new(&name, &spec.stages));
        built.probes.push(probe.clone());
        let thread = HotThread {
            name,
            probe,
            core: spec.core,
            stage_list: spec.stages.clone(),
            wait: spec.wait,
            stages,
            input: prev_rx.take(),
            output: out_tx,
            exec_in: if ti == risk_t { exec_rx.take() } else { None },
            exec_out: if ti == venue_t { exec_tx.take() } else { None },
            venue_done: if ti == risk_t || ti == venue_t {
                venue_done.clone()
            } else {
                None
            },
            stop: built.stop.clone(),
            heal: built.heal.clone(),
            sample_every: cfg.cold.latency_sample_every,
            intervals: built
                .intervals
                .filter(|_| spec.stages.contains(&Stage::Venue))
                .map(|(every, n)| latency::Intervals::new(every, n)),
            recorder: tap,
        };
        built.threads.push(thread);
        prev_rx = next_rx;
    }
    Ok(())
}

/// Live trading's start checks: only `run` trades live, and only with keys that load from a
/// safe place. Nothing of the keys reaches the error.
fn check_live(live: &crate::core::config::LiveSpec, mode: &str) -> Result<(), RunError> {
    use crate::venue::binance::keys::Credentials;
    if mode != "run" {
        return Err(RunError::Live(format!(
            "only `tickwire run` trades live; a {mode} always uses the paper venue (set venue.mode = \"paper\")"
        )));
    }
    let creds = Credentials::load(&live.keys).map_err(|e| RunError::Live(e.to_string()))?;
    Err(RunError::Live(format!(
        "keys {} loaded from a safe place for {}; the live venue itself (orders through the signed REST client, reports from the user data stream, reconciliation) is not wired into the pipeline yet, so nothing was started: run with venue.mode = \"paper\"",
        creds.key_hint(),
        live.rest_url
    )))
}

/// Whether this run records into the catalog: `run` and `replay` with `recorder.enabled`.
fn records(cfg: &Config, mode: &str) -> bool {
    cfg.recorder.enabled && (mode == "run" || mode == "replay")
}

/// Checks the recorder's catalog can be written, starts the recorder and links it to the
/// cold thread.
fn start_recorder(
    cfg: &Config,
    dropped: Arc<std::sync::atomic::AtomicU64>,
    ends: Vec<RecorderLane>,
    table: &Arc<InstrumentTable>,
    writer: &mut ColdWriter,
) -> Result<crate::catalog::recorder::Recorder, RunError> {
    use crate::catalog::recorder::{Recorder, RecorderShared};
    let spec = &cfg.recorder;
    let dir = &spec.catalog;
    let shown = dir.display().to_string();
    // A catalog another writer holds now is written later; anything else stops the start.
    match crate::catalog::Writer::open(dir) {
        Ok(_) | Err(crate::catalog::CatalogError::Locked(_)) => {}
        Err(e) => return Err(RunError::Recorder(format!("{shown}: {e}"))),
    }
    let (note_tx, note_rx) = std::sync::mpsc::channel();
    let (anomaly_tx, anomaly_rx) = if spec.anomalies() {
        let (tx, rx) = std::sync::mpsc::sync_channel(65_536);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let shared = Arc::new(RecorderShared {
        dropped_ring: dropped,
        ..RecorderShared::default()
    });
    let kinds: Vec<String> = crate::catalog::Kind::all()
        .into_iter()
        .filter(|k| spec.kinds & crate::catalog::recorder::kind_bit(*k) != 0)
        .map(|k| k.name())
        .collect();
    writer.note(&format!(
        "recorder: {} of {} into the catalog `{shown}`, written every {} s or {} rows",
        kinds.join(", "),
        if spec.instruments.is_empty() {
            "every instrument".to_string()
        } else {
            spec.instruments.join(", ")
        },
        spec.flush.as_secs(),
        spec.flush_rows
    ))?;
    let r = Recorder::start(
        spec.clone(),
        ends,
        table.clone(),
        anomaly_rx,
        note_tx,
        shared.clone(),
        cfg.cold_core,
    )?;
    writer.attach_recorder(crate::cold::RecorderLink::new(anomaly_tx, note_rx, shared));
    Ok(r)
}

/// The catalog venue and whether receive times are real, for each source of lane `li`.
fn recorder_sources(cfg: &Config, li: usize, inputs: &Inputs) -> (Vec<String>, Vec<bool>) {
    use crate::catalog::recorder::venue_name;
    match cfg.source.kind {
        SourceKind::Synthetic => (vec!["synthetic".into()], vec![true]),
        SourceKind::Replay => {
            let files = inputs.files();
            let lines = lane_lines_of(cfg, li, &files);
            let venues = lines
                .iter()
                .zip(&files)
                .map(|(l, f)| venue_name(l.parser.venue(), &f.to_string_lossy()))
                .collect();
            // Streamed files have no sidecar; loaded ones say.
            let real = files
                .iter()
                .map(|f| {
                    inputs
                        .captures
                        .iter()
                        .any(|c| c.path == *f && c.recv_ns.is_some())
                })
                .collect();
            (venues, real)
        }
        SourceKind::Live => {
            let feeds: Vec<_> = cfg.feeds.iter().filter(|f| f.lane == li).collect();
            (
                feeds.iter().map(|f| venue_name(f.venue, &f.url)).collect(),
                vec![true; feeds.len()],
            )
        }
    }
}

/// The EMA pair the indicator stage publishes with every update (MACD's 12/26).
const INDICATOR_EMA: (usize, usize) = (12, 26);

/// The configured instruments, in id order (the table lists them first).
fn traded_instruments(cfg: &Config) -> Vec<Instrument> {
    cfg.instruments.iter().map(|s| s.instrument).collect()
}

/// The signals + risk + orders stages of lane `li`. Each lane trades with an equal share of
/// the account's initial equity (its limits are the account's).
fn build_trader(
    cfg: &Config,
    li: usize,
    stats: &Arc<LaneStats>,
    cold_inputs: &mut Vec<ColdInput>,
    lossless: bool,
    cc: (usize, bool),
) -> Result<Trader, RunError> {
    let mut limits = cfg.risk.clone();
    limits.initial_equity /= cfg.lanes.len().max(1) as i64;
    // Client ids carry the run's start second (low 16 bits) so ids never repeat across runs
    // of a live engine; replays start at 0 so their files are byte-identical.
    let epoch = match cfg.source.kind {
        SourceKind::Replay => li as u16,
        _ => ((clock::wall_ns() / 1_000_000_000) as u16).wrapping_add(li as u16),
    };
    Trader::new(
        &cfg.strategy,
        limits,
        cfg.orders,
        &traded_instruments(cfg),
        epoch,
        TraderSizes::default(),
        stats.clone(),
        cold_ring(cc, li, "trader", cold_inputs)?.lossless(lossless),
    )
    .map(|t| {
        t.with_live_from(live_from_ns(cfg))
            .with_snapshot_every(cfg.cold.equity_interval_ms.saturating_mul(1_000_000))
    })
    .map_err(|e| RunError::Feed(e.to_string()))
}

/// A live run continuing an order journal books the fills it holds first (positions, cash,
/// realized PnL and fees carry over); replays and backtests derive theirs again instead.
fn restored_fills(
    cfg: &Config,
    opts: &RunOptions,
    table: &crate::core::InstrumentTable,
) -> Result<Vec<crate::core::order::JournaledFill>, RunError> {
    if opts.mode != "run" || cfg.source.kind == SourceKind::Replay {
        return Ok(Vec::new());
    }
    match cfg.ops.order_journal_for(&opts.mode, &opts.report_dir) {
        Some(p) if p.exists() => {
            let loaded = crate::cold::wal::load(&p)
                .map_err(|e| RunError::Journal(format!("{}: {e}", p.display())))?;
            Ok(crate::cold::wal::restore(&loaded.records, table).fills)
        }
        _ => Ok(Vec::new()),
    }
}

/// Runs the pipeline described by `cfg` until the source ends, the duration passes or `stop`.
pub fn run(cfg: &Config, opts: RunOptions) -> Result<RunResult, RunError> {
    clock::init();
    if let Some(live) = &cfg.venue.live {
        check_live(live, &opts.mode)?;
    }
    if !cfg.ops.heap_huge_pages {
        // Before the rings and tables are allocated.
        crate::core::alloc::disable_heap_huge_pages();
    }
    let table = Arc::new(cfg.instrument_table());
    // A replay of one file without a receive-time sidecar, on one lane, streams it from
    // disk; otherwise the files are loaded once (dated and merged in market time, see
    // `load_replay`) and shared, never copied, by every lane's source.
    let streamable = cfg.source.kind == SourceKind::Replay
        && opts.captures.is_none()
        && cfg.lanes.len() == 1
        && cfg.source.files.len() == 1
        && cfg
            .source
            .files
            .iter()
            .all(|f| crate::feed::replay::sidecar_path(std::path::Path::new(f)).is_none());
    if cfg.source.kind == SourceKind::Replay
        && opts.captures.is_none()
        && cfg.source.files.is_empty()
    {
        return Err(RunError::NoInput);
    }
    let captures: Vec<Arc<Capture>> = if let Some(c) = opts.captures.clone() {
        c
    } else if cfg.source.kind == SourceKind::Replay && !streamable {
        let files: Vec<PathBuf> = cfg.source.files.iter().map(PathBuf::from).collect();
        load_replay(cfg, &files)?
    } else {
        Vec::new()
    };
    if let (Some(t), false) = (&opts.progress_total, streamable) {
        let lines: usize = captures.iter().map(|c| c.lines.len()).sum();
        let total = (lines as u64).saturating_mul(cfg.source.loop_count);
        let total = cfg.source.limit.map_or(total, |l| total.min(l));
        t.store(total, Ordering::Relaxed);
    }
    let inputs = Inputs {
        captures,
        stream: streamable.then(|| cfg.source.files.iter().map(PathBuf::from).collect()),
        progress: opts.progress.clone(),
        progress_total: opts.progress_total.clone(),
    };
    let stop = opts.stop.clone();
    let mut lanes = Vec::new();
    let mut built = Built {
        threads: Vec::new(),
        cold_inputs: Vec::new(),
        stop: stop.clone(),
        // The trader's cold ring waits for room rather than drop a record in a backtest (its
        // time is virtual) and whenever an order journal is kept: an order or fill the journal
        // never saw would break its write-ahead promise (the wait comes only when the cold
        // thread is a whole ring behind, which the breach policy's ring limit reports).
        prefault: opts.mode != "backtest",
        lossless_cold: opts.mode == "backtest"
            || cfg
                .ops
                .order_journal_for(&opts.mode, &opts.report_dir)
                .is_some(),
        intervals: opts.latency_intervals,
        probes: Vec::new(),
        rings: Vec::new(),
        control: Arc::new(crate::core::health::Control::new(cfg.ops.breach.actions)),
        restored: restored_fills(cfg, &opts, &table)?,
        recorder: (records(cfg, &opts.mode) && cfg.recorder.market())
            .then(|| (Arc::new(std::sync::atomic::AtomicU64::new(0)), Vec::new())),
        heal: hot::HealSpec {
            restart_max: cfg.ops.restart_max,
            restart_window_s: cfg.ops.restart_window_s,
            faults: heal::FaultPlan::from_env().map_err(RunError::Fault)?,
        },
    };
    heal::install_hook();
    let files = inputs.files();
    let source_names: Vec<Vec<String>> = (0..cfg.lanes.len())
        .map(|li| {
            lane_lines_of(cfg, li, &files)
                .into_iter()
                .map(|l| l.name)
                .collect()
        })
        .collect();
    for li in 0..cfg.lanes.len() {
        let stats = Arc::new(LaneStats::default());
        build_lane(cfg, li, &table, &stats, &inputs, &mut built)?;
        lanes.push(stats);
    }
    drop(inputs);
    let cold_inputs = std::mem::take(&mut built.cold_inputs);
    let mut rings = std::mem::take(&mut built.rings);
    for c in &cold_inputs {
        let lane = cfg.lanes.get(c.lane).map_or("?", |l| l.name.as_str());
        rings.push((format!("cold/{lane}/{}", c.stage), c.probe.clone()));
    }
    let telemetry = crate::ops::Telemetry {
        threads: built.probes.clone(),
        rings,
        stall_ns: cfg.ops.stall_ms.saturating_mul(1_000_000),
        policy: cfg.ops.breach.clone(),
        control: Some(built.control.clone()),
    };

    let mut writer = ColdWriter::new(
        &opts.report_dir,
        &opts.mode,
        cfg,
        cold_inputs,
        lanes.clone(),
        table.clone(),
        source_names,
    )?;
    let published = writer.monitor(telemetry);
    let recorder = if records(cfg, &opts.mode) {
        let (dropped, ends) = built
            .recorder
            .take()
            .unwrap_or_else(|| (Arc::new(std::sync::atomic::AtomicU64::new(0)), Vec::new()));
        Some(start_recorder(cfg, dropped, ends, &table, &mut writer)?)
    } else {
        None
    };
    // The metrics endpoint: a taken port is reported and the run goes on without it.
    let ops_stop = Arc::new(AtomicBool::new(false));
    let ops_http = match cfg.ops.http_for(&opts.mode) {
        Some(addr) => match crate::ops::serve(addr, published, ops_stop.clone()) {
            Ok((bound, handle)) => {
                writer.note(&format!(
                    "metrics: http://{bound}/metrics and http://{bound}/health"
                ))?;
                Some(handle)
            }
            Err(e) => {
                eprintln!("warning: {e}; running without /metrics (set ops.http to another address, or \"off\")");
                writer.note(&format!("metrics endpoint not started: {e}"))?;
                None
            }
        },
        None => None,
    };
    let hot_done = Arc::new(AtomicBool::new(false));
    let cold_core = cfg.cold_core;
    let cold = {
        let hot_done = hot_done.clone();
        std::thread::Builder::new()
            .name("cold".into())
            .spawn(move || {
                if let Some(id) = cold_core {
                    core_affinity::set_for_current(core_affinity::CoreId { id });
                }
                writer.run(hot_done)
            })?
    };

    let started = Instant::now();
    let mut handles = Vec::new();
    let mut to_start = built.threads.into_iter();
    while let Some(t) = to_start.next() {
        let name = t.name.clone();
        match std::thread::Builder::new()
            .name(short(&name))
            .spawn(move || {
                let name = t.name.clone();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.run())).inspect_err(
                    |_| {
                        // Outside every stage (a bug in the loop itself): say what it was.
                        eprintln!("error: hot thread {name} panicked: {}", heal::take_panic());
                    },
                )
            }) {
            Ok(h) => handles.push((name, h)),
            Err(e) => {
                // Unwind what started: stop the sources, let every ring drain and close, and
                // let the cold thread finish, so no thread outlives the failed run.
                stop.store(true, Ordering::Relaxed);
                // Threads never started still hold ring ends the started ones wait on.
                drop(to_start);
                for (_, h) in handles {
                    let _ = h.join();
                }
                hot_done.store(true, Ordering::Release);
                let _ = cold.join();
                ops_stop.store(true, Ordering::Relaxed);
                // Every ring and the cold thread are done: the recorder writes what it took.
                if let Some(r) = recorder {
                    r.finish();
                }
                return Err(RunError::Io(e));
            }
        }
    }
    let deadline = opts.duration.map(|d| started + d);
    loop {
        if handles.iter().all(|(_, h)| h.is_finished()) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut reports: Vec<ThreadReport> = Vec::new();
    let mut panicked = None;
    for (name, h) in handles {
        match h.join() {
            Ok(Ok(r)) => reports.push(r),
            _ => panicked = Some(name),
        }
    }
    let stopped = built.probes.iter().find_map(|p| p.stop_reason());
    let elapsed_s = started.elapsed().as_secs_f64();
    hot_done.store(true, Ordering::Release);
    let joined = cold.join();
    ops_stop.store(true, Ordering::Relaxed);
    if let Some(h) = ops_http {
        let _ = h.join();
    }
    // The cold thread has handed on its last anomaly (or is gone): the recorder writes what
    // it holds, whatever happened to the cold thread.
    let cold_result = match joined {
        Ok(w) => w.map_err(RunError::from),
        Err(_) => Err(RunError::Panicked("cold".into())),
    };
    let recorder_report = recorder.map(crate::catalog::recorder::Recorder::finish);
    let mut writer = cold_result?;
    let recorded_catalog = match recorder_report {
        Some(mut report) => {
            writer.finish_recorder(&mut report)?;
            serde_json::to_value(&report).unwrap_or_default()
        }
        None => serde_json::Value::Null,
    };

    let mut latency: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut intervals: Option<latency::Intervals> = None;
    let mut threads = Vec::new();
    let mut lost = 0;
    for r in reports {
        lost += r.lost;
        for (st, h) in r.stage_latency {
            merge(&mut latency, st.name(), &h);
        }
        if let Some(h) = &r.tick_to_order {
            merge(&mut latency, "tick_to_order", h);
        }
        if let Some(h) = &r.end_to_end {
            merge(&mut latency, "end_to_end", h);
        }
        if let Some(iv) = r.intervals {
            match &mut intervals {
                Some(all) => all.merge(&iv),
                None => intervals = Some(iv),
            }
        }
        threads.push(ThreadSummary {
            name: r.name,
            hot: true,
            core: r.core,
            pinned: r.pinned,
            stages: r.stages.iter().map(|s| s.name()).collect(),
            allocations: r.allocations,
            setup_allocations: r.setup_allocations,
        });
    }
    let totals = writer.totals();
    let summary = RunSummary {
        mode: &opts.mode,
        totals: &totals,
        threads: &threads,
        latency: &latency,
        elapsed_s,
        final_equity: writer.last_equity,
        initial_equity: cfg.risk.initial_equity / cfg.lanes.len().max(1) as i64
            * cfg.lanes.len().max(1) as i64,
        max_drawdown_pct: writer.max_drawdown_pct,
        lost,
        stage_panics: writer.healed,
        safe_stop: stopped.clone(),
        order_journal: writer.order_journal_summary(),
        recorder: recorded_catalog,
        positions: writer.positions_summary(),
        inputs: match cfg.source.kind {
            SourceKind::Replay => cfg.source.files.clone(),
            SourceKind::Synthetic => vec![format!("synthetic seed {}", cfg.source.seed)],
            SourceKind::Live => cfg
                .feeds
                .iter()
                .map(|f| format!("{} ({}) {}", f.name, f.venue.name(), f.url))
                .collect(),
        },
    };
    summary.write(writer.dir())?;
    writer.finish_journal(&summary.to_markdown(), &latency)?;
    let json = summary.to_json();
    if let Some(name) = panicked {
        return Err(RunError::Panicked(name));
    }
    if let Some(why) = stopped {
        return Err(RunError::SafeStop(why));
    }
    Ok(RunResult {
        summary: json,
        totals,
        threads,
        report_dir: opts.report_dir,
        recorded: std::mem::take(&mut writer.recorded),
        latency,
        intervals,
    })
}

fn merge(into: &mut BTreeMap<String, Histogram<u64>>, key: &str, h: &Histogram<u64>) {
    let e = into
        .entry(key.to_string())
        .or_insert_with(latency::histogram);
    // Same bounds everywhere, so add cannot fail; a failure would only lose samples.
    let _ = e.add(h);
}

/// OS thread names are limited to 15 bytes on Linux.
fn short(name: &str) -> String {
    name.chars()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}
