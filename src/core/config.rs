//! Run configuration, in two steps: raw TOML (unknown keys rejected, with the key's name in the
//! error), then a validated, typed [`Config`] (cores exist and are allowed, ring sizes are powers
//! of two, instruments known, stages form the pipeline in order) before any thread starts.
//!
//! Cold path only: this module allocates freely and never runs on a hot thread.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::event::Resolution;
use super::instrument::{Instrument, InstrumentTable, Symbol};
use super::num::parse_scaled;
use crate::ring::WaitStrategy;

/// The built-in default: `tuning/dev-2core.toml`, compiled in so `tickwire run` works anywhere.
pub const DEFAULT_CONFIG: &str = include_str!("../../tuning/dev-2core.toml");

/// A configuration error: one sentence naming the file, key or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax or schema error (unknown key, wrong type).
    #[error("config {origin}: {message}")]
    Parse {
        /// File name or "--set".
        origin: String,
        /// The parser's message, which names the key.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config: {key}: {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------- raw schema

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    instruments: Vec<RawInstrument>,
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    lanes: Vec<RawLane>,
    #[serde(default)]
    rings: RawRings,
    #[serde(default)]
    candles: RawCandles,
    #[serde(default)]
    strategy: crate::strategy::config::HostConfig,
    #[serde(default)]
    risk: crate::risk::engine::RawRiskLimits,
    #[serde(default)]
    orders: crate::orders::blotter::OrderPolicy,
    #[serde(default)]
    paper: crate::venue::sim::PaperSpec,
    #[serde(default)]
    venue: RawVenue,
    #[serde(default)]
    cold: RawCold,
    #[serde(default)]
    ops: RawOps,
    #[serde(default)]
    feeds: std::collections::BTreeMap<String, RawFeed>,
    #[serde(default)]
    arbiter: RawArbiter,
    #[serde(default)]
    recorder: crate::catalog::recorder::RawRecorder,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    venue: String,
    url: String,
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    symbols: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    lane: Option<String>,
    #[serde(default = "default_ping_ms")]
    ping_interval_ms: u64,
    #[serde(default = "default_stale_ms")]
    stale_after_ms: u64,
    #[serde(default = "default_backoff_initial_ms")]
    backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    backoff_max_ms: u64,
    #[serde(default = "default_max_age_ms")]
    max_age_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    connect_timeout_ms: u64,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: usize,
    #[serde(default)]
    ca_file: Option<String>,
}

fn default_role() -> String {
    "primary".into()
}
fn default_ping_ms() -> u64 {
    20_000
}
fn default_stale_ms() -> u64 {
    10_000
}
fn default_backoff_initial_ms() -> u64 {
    100
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
/// Binance closes every connection at 24 h: rotate at 23 h, overlapping the old one.
fn default_max_age_ms() -> u64 {
    23 * 3_600_000
}
fn default_connect_timeout_ms() -> u64 {
    10_000
}
fn default_max_message_bytes() -> usize {
    4 << 20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArbiter {
    #[serde(default = "default_spike_bps")]
    spike_bps: String,
    #[serde(default = "default_spike_z")]
    spike_z: f64,
    #[serde(default = "default_divergence_bps")]
    divergence_bps: String,
    #[serde(default = "default_failover_ms")]
    failover_after_ms: u64,
    #[serde(default = "default_failback_ms")]
    failback_after_ms: u64,
    #[serde(default)]
    stale_after_ms: u64,
    #[serde(default = "default_reorder_ms")]
    reorder_ms: u64,
}

fn default_reorder_ms() -> u64 {
    2
}

impl Default for RawArbiter {
    fn default() -> Self {
        toml::from_str("").expect("empty arbiter table deserializes")
    }
}

fn default_spike_bps() -> String {
    "300".into()
}
fn default_spike_z() -> f64 {
    12.0
}
fn default_divergence_bps() -> String {
    "50".into()
}
fn default_failover_ms() -> u64 {
    3_000
}
fn default_failback_ms() -> u64 {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    symbol: String,
    tick: String,
    lot: String,
    #[serde(default)]
    max_order_qty: Option<String>,
    #[serde(default)]
    max_position: Option<String>,
    #[serde(default)]
    synthetic_price: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default = "default_source_kind")]
    kind: String,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_rate")]
    msgs_per_sec: f64,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default = "default_speed")]
    speed: String,
    #[serde(default)]
    auto_instruments: Option<bool>,
    #[serde(default = "default_max_instruments")]
    max_instruments: usize,
    #[serde(default)]
    loop_count: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    warmup_s: u64,
    #[serde(default)]
    venue: Option<String>,
    #[serde(default = "default_books")]
    books: usize,
    #[serde(default = "default_book_levels")]
    book_levels: usize,
    #[serde(default)]
    bars: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// A window bound: ms since the epoch, or ISO 8601 (`2024-08-01`, `2024-08-01T12:00:00Z`).
fn window_time(v: Option<&str>, key: &str) -> Result<Option<u64>, ConfigError> {
    let Some(v) = v else {
        return Ok(None);
    };
    crate::tools::indicators::parse_open_time(v)
        .map(Some)
        .ok_or_else(|| {
            invalid(
                key,
                format!("`{v}` is not a time (ms since the epoch or ISO 8601)"),
            )
        })
}

fn default_books() -> usize {
    16
}
fn default_book_levels() -> usize {
    1000
}

impl Default for RawSource {
    fn default() -> Self {
        toml::from_str("").expect("empty source table deserializes")
    }
}

fn default_source_kind() -> String {
    "synthetic".into()
}
fn default_seed() -> u64 {
    42
}
fn default_rate() -> f64 {
    20_000.0
}
fn default_speed() -> String {
    "max".into()
}
fn default_max_instruments() -> usize {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    instruments: Vec<String>,
    threads: Vec<RawThread>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThread {
    name: String,
    #[serde(default)]
    core: Option<usize>,
    stages: Vec<String>,
    #[serde(default = "default_wait")]
    wait: String,
}

fn default_wait() -> String {
    "spin-then-park".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRings {
    #[serde(default = "default_ring")]
    capacity: usize,
    #[serde(default = "default_cold_ring")]
    cold_capacity: usize,
    #[serde(default)]
    cold_core: Option<usize>,
}

impl Default for RawRings {
    fn default() -> Self {
        Self {
            capacity: default_ring(),
            cold_capacity: default_cold_ring(),
            cold_core: None,
        }
    }
}
fn default_ring() -> usize {
    8192
}
fn default_cold_ring() -> usize {
    65_536
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandles {
    #[serde(default = "default_resolutions")]
    resolutions: Vec<String>,
    #[serde(default = "default_gaps")]
    gaps: String,
    #[serde(default)]
    lateness_ms: u64,
    #[serde(default)]
    live: Vec<String>,
}
impl Default for RawCandles {
    fn default() -> Self {
        Self {
            resolutions: default_resolutions(),
            gaps: default_gaps(),
            lateness_ms: 0,
            live: Vec::new(),
        }
    }
}
fn default_gaps() -> String {
    "skip".into()
}
fn default_resolutions() -> Vec<String> {
    vec!["1s".into(), "1m".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVenue {
    #[serde(default = "default_venue")]
    kind: String,
    #[serde(default = "default_venue")]
    mode: String,
    #[serde(default)]
    testnet: bool,
    #[serde(default)]
    rest_url: Option<String>,
    #[serde(default)]
    ws_url: Option<String>,
    #[serde(default = "default_keys")]
    keys: String,
    #[serde(default = "default_recv_window")]
    recv_window_ms: u64,
    #[serde(default)]
    dry_run: bool,
    #[serde(default = "default_headroom")]
    rate_headroom_pct: u64,
}
impl Default for RawVenue {
    fn default() -> Self {
        Self {
            kind: default_venue(),
            mode: default_venue(),
            testnet: false,
            rest_url: None,
            ws_url: None,
            keys: default_keys(),
            recv_window_ms: default_recv_window(),
            dry_run: false,
            rate_headroom_pct: default_headroom(),
        }
    }
}
fn default_keys() -> String {
    "env".into()
}
fn default_recv_window() -> u64 {
    5_000
}
fn default_headroom() -> u64 {
    90
}
fn default_venue() -> String {
    "paper".into()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCold {
    #[serde(default = "default_status_ms")]
    status_interval_ms: u64,
    #[serde(default = "default_metrics_ms")]
    metrics_interval_ms: u64,
    #[serde(default = "default_true")]
    status_line: bool,
    #[serde(default = "default_equity_ms")]
    equity_interval_ms: u64,
    #[serde(default = "default_sample_every")]
    latency_sample_every: u64,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOps {
    #[serde(default)]
    http: Option<String>,
    #[serde(default = "default_stall_ms")]
    stall_ms: u64,
    #[serde(default)]
    breach_latency_p99_us: u64,
    #[serde(default)]
    breach_ring_fill_pct: u64,
    #[serde(default)]
    breach_rss_mib: u64,
    #[serde(default)]
    breach_feed_health: f64,
    #[serde(default)]
    escalate_after_s: u64,
    #[serde(default = "default_recover_s")]
    recover_after_s: u64,
    #[serde(default = "default_restart_max")]
    restart_max: u32,
    #[serde(default)]
    order_journal: Option<String>,
    #[serde(default = "default_fsync")]
    order_journal_fsync: Fsync,
    #[serde(default = "default_journal_summary_s")]
    journal_summary_s: u64,
    #[serde(default = "default_journal_max_kib")]
    journal_max_kib: u64,
    #[serde(default = "default_true_ops")]
    journal_rotate_daily: bool,
    #[serde(default)]
    heap_huge_pages: bool,
    #[serde(default = "default_restart_window_s")]
    restart_window_s: u64,
    #[serde(default = "default_true_ops")]
    breach_pause_openings: bool,
    #[serde(default = "default_breach_widen")]
    breach_widen: f64,
    #[serde(default = "default_true_ops")]
    breach_shed_live_candles: bool,
}
impl Default for RawOps {
    fn default() -> Self {
        Self {
            http: None,
            stall_ms: default_stall_ms(),
            breach_latency_p99_us: 0,
            breach_ring_fill_pct: 0,
            breach_rss_mib: 0,
            breach_feed_health: 0.0,
            escalate_after_s: 0,
            recover_after_s: default_recover_s(),
            restart_max: default_restart_max(),
            order_journal: None,
            order_journal_fsync: default_fsync(),
            journal_summary_s: default_journal_summary_s(),
            journal_max_kib: default_journal_max_kib(),
            journal_rotate_daily: true,
            heap_huge_pages: false,
            restart_window_s: default_restart_window_s(),
            breach_pause_openings: true,
            breach_widen: default_breach_widen(),
            breach_shed_live_candles: true,
        }
    }
}
fn default_breach_widen() -> f64 {
    1.5
}
fn default_journal_summary_s() -> u64 {
    3600
}
fn default_journal_max_kib() -> u64 {
    64 * 1024
}
fn default_true_ops() -> bool {
    true
}
fn default_fsync() -> Fsync {
    Fsync::Batch
}
fn default_restart_max() -> u32 {
    3
}
fn default_restart_window_s() -> u64 {
    60
}
fn default_recover_s() -> u64 {
    10
}
fn default_stall_ms() -> u64 {
    2000
}

fn default_sample_every() -> u64 {
    1
}
fn default_equity_ms() -> u64 {
    1000
}
impl Default for RawCold {
    fn default() -> Self {
        Self {
            equity_interval_ms: default_equity_ms(),
            latency_sample_every: default_sample_every(),
            status_interval_ms: default_status_ms(),
            metrics_interval_ms: default_metrics_ms(),
            status_line: true,
        }
    }
}
fn default_status_ms() -> u64 {
    1000
}
fn default_metrics_ms() -> u64 {
    1000
}

// ---------------------------------------------------------------- typed config

/// A hot stage. Order here is pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Bytes → market events (runs on the source's thread).
    Parse,
    /// Redundancy, duplicates, ordering, anomalies.
    Arbiter,
    /// Trades → OHLCV candles.
    Candles,
    /// Candles → indicator values.
    Indicators,
    /// Indicators → strategy signals.
    Signals,
    /// Signals → risk-checked orders; order state machine; fills back.
    Risk,
    /// The venue edge (paper simulator).
    Venue,
}

impl Stage {
    /// Every stage in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::Parse,
        Stage::Arbiter,
        Stage::Candles,
        Stage::Indicators,
        Stage::Signals,
        Stage::Risk,
        Stage::Venue,
    ];

    /// Config and report name.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Arbiter => "arbiter",
            Stage::Candles => "candles",
            Stage::Indicators => "indicators",
            Stage::Signals => "signals",
            Stage::Risk => "risk",
            Stage::Venue => "venue",
        }
    }

    /// Parses a config name (`orders` is accepted for `risk`: one stage owns both).
    pub fn parse(s: &str) -> Option<Self> {
        if s == "orders" {
            return Some(Stage::Risk);
        }
        Self::ALL.into_iter().find(|st| st.name() == s)
    }

    /// Dense index.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One hot thread of a lane.
#[derive(Clone, Debug)]
pub struct ThreadSpec {
    /// Name (also the OS thread name).
    pub name: String,
    /// Core to pin to, if any.
    pub core: Option<usize>,
    /// Contiguous stages fused on this thread, in order.
    pub stages: Vec<Stage>,
    /// How the thread waits when idle.
    pub wait: WaitStrategy,
}

/// An independent pipeline: its own instruments, source, threads and cores.
#[derive(Clone, Debug)]
pub struct LaneSpec {
    /// Name.
    pub name: String,
    /// Symbols this lane trades (empty = every instrument, as in an auto-instrument replay).
    pub instruments: Vec<String>,
    /// Threads, in pipeline order.
    pub threads: Vec<ThreadSpec>,
}

/// Where market messages come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// The seeded synthetic market.
    Synthetic,
    /// Recorded captures or historical files.
    Replay,
    /// Exchange WebSocket feeds from `[feeds.*]`.
    Live,
}

/// Replay pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the pipeline goes.
    Max,
    /// The capture's own timing scaled by this factor (1.0 = real time).
    Factor(f64),
    /// A fixed rate in messages per second, whatever the data's own timing (latency
    /// benchmarks). Each message is stamped with the instant it was due, not the instant it
    /// left, so a source that falls behind counts the wait as latency (no coordinated
    /// omission).
    Rate(f64),
}

impl Speed {
    /// Parses `max`, `1x`, `10x`, `0.5x`, or a rate: `100000/s`, `100k/s`, `1M/s`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "max" {
            return Some(Speed::Max);
        }
        if let Some(r) = s.strip_suffix("/s") {
            let (num, mult) = match r.as_bytes().last()? {
                b'k' | b'K' => (&r[..r.len() - 1], 1e3),
                b'm' | b'M' => (&r[..r.len() - 1], 1e6),
                _ => (r, 1.0),
            };
            let v = num.parse::<f64>().ok()? * mult;
            // One a minute to a billion a second: beyond that a rate is meaningless.
            return (1.0 / 60.0..=1e9).contains(&v).then_some(Speed::Rate(v));
        }
        let f: f64 = s.strip_suffix('x')?.parse().ok()?;
        // Beyond these bounds pacing is meaningless (and the arithmetic would saturate).
        (0.001..=1_000_000.0)
            .contains(&f)
            .then_some(Speed::Factor(f))
    }
}

/// The source section.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// Kind.
    pub kind: SourceKind,
    /// Synthetic seed.
    pub seed: u64,
    /// Synthetic mean message rate (market time).
    pub msgs_per_sec: f64,
    /// Replay files.
    pub files: Vec<String>,
    /// Pacing.
    pub speed: Speed,
    /// Replay: add unknown symbols as they appear.
    pub auto_instruments: bool,
    /// Capacity of the instrument table.
    pub max_instruments: usize,
    /// Replay: play the inputs this many times (benchmarks), shifting nothing.
    pub loop_count: u64,
    /// Stop after this many messages (per lane).
    pub limit: Option<u64>,
    /// Synthetic: start the market this many seconds in the past and play that history at
    /// full speed first, so indicators are warm when live pacing begins. Strategies do not
    /// trade on warm-up data.
    pub warmup_s: u64,
    /// Replay: the venue whose parser reads the files; `None` = from each file's name.
    pub venue: Option<crate::feed::parse::Venue>,
    /// Order books the parse stage keeps per lane (source × instrument).
    pub books: usize,
    /// Levels kept per book side.
    pub book_levels: usize,
    /// Bar mode: how candle input is played (`off`, `next-open`, `close`).
    pub bars: crate::feed::BarFill,
    /// Market-time window `[from, to)` (ns); events outside it are dropped.
    pub window: (u64, u64),
}

/// One WebSocket feed line (`[feeds.<name>]`).
#[derive(Clone, Debug)]
pub struct FeedSpec {
    /// Its name (the table key).
    pub name: String,
    /// Venue (parser and protocol details).
    pub venue: crate::feed::parse::Venue,
    /// `ws://` or `wss://` endpoint.
    pub url: String,
    /// Text frames sent after each connect (subscriptions).
    pub subscribe: Vec<String>,
    /// Primary line or backup venue.
    pub role: crate::feed::Role,
    /// Venue symbol → instrument symbol.
    pub symbols: Vec<(String, String)>,
    /// Lane index whose source thread owns it.
    pub lane: usize,
    /// Our ping period.
    pub ping_interval_ms: u64,
    /// Silence after which the connection is replaced.
    pub stale_after_ms: u64,
    /// First reconnect delay.
    pub backoff_initial_ms: u64,
    /// Largest reconnect delay.
    pub backoff_max_ms: u64,
    /// Planned rotation age (0 = never).
    pub max_age_ms: u64,
    /// TCP + TLS + upgrade deadline.
    pub connect_timeout_ms: u64,
    /// Largest message accepted.
    pub max_message_bytes: usize,
    /// Extra trusted root certificate (PEM), for private endpoints and tests.
    pub ca_file: Option<String>,
}

/// Redundancy and anomaly thresholds.
#[derive(Clone, Debug)]
pub struct ArbiterSpec {
    /// A trade this far from the last one (bps at 10⁻⁸) is a spike.
    pub spike_bps: i64,
    /// …or this many robust standard deviations (MAD) of recent moves.
    pub spike_z: f64,
    /// Backup vs primary price gap that counts as divergence (bps at 10⁻⁸).
    pub divergence_bps: i64,
    /// Primaries silent this long (market time) while a backup speaks → fail over.
    pub failover_after_ms: u64,
    /// Primaries healthy this long after a failover → fail back.
    pub failback_after_ms: u64,
    /// No event for an instrument this long (market time) → stale anomaly; 0 = off.
    pub stale_after_ms: u64,
    /// Live lanes that merge several venues order their events by corrected time, holding
    /// each back at most this long; 0 = arrival order (lowest latency).
    pub reorder_ms: u64,
}

/// Per-instrument trading parameters.
#[derive(Clone, Debug)]
pub struct InstrumentSpec {
    /// Static facts.
    pub instrument: Instrument,
    /// Largest opening order (10⁻⁸ scale): overrides `risk.max_order_qty` for it.
    pub max_order_qty: Option<i64>,
    /// Largest absolute position (10⁻⁸ scale): overrides `risk.max_position` for it.
    pub max_position: Option<i64>,
    /// Start price for the synthetic market (10⁻⁸ scale).
    pub synthetic_price: i64,
}

/// Venue parameters.
#[derive(Clone, Debug)]
pub struct VenueSpec {
    /// `paper` (the simulator).
    pub kind: String,
    /// Live trading on Binance spot (`venue.mode = "live"`); `None` = paper, the default.
    pub live: Option<LiveSpec>,
}

/// `venue.mode = "live"`: where and how to trade for real.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSpec {
    /// The Binance spot testnet instead of the exchange.
    pub testnet: bool,
    /// REST base URL.
    pub rest_url: String,
    /// WebSocket base URL (user data stream).
    pub ws_url: String,
    /// Where the API keys come from.
    pub keys: crate::venue::binance::keys::KeySource,
    /// `recvWindow` of signed requests, ms.
    pub recv_window_ms: u64,
    /// Log the exact requests that would be sent; send none.
    pub dry_run: bool,
    /// Requests stop at this share of each venue rate limit.
    pub rate_headroom_pct: u64,
}

/// Binance spot's REST and WebSocket base URLs, and the testnet's.
pub const BINANCE_REST: &str = "https://api.binance.com";
/// WebSocket base.
pub const BINANCE_WS: &str = "wss://stream.binance.com:9443";
/// Testnet REST base.
pub const BINANCE_TESTNET_REST: &str = "https://testnet.binance.vision";
/// Testnet WebSocket base.
pub const BINANCE_TESTNET_WS: &str = "wss://stream.testnet.binance.vision";

/// Cold-side parameters.
#[derive(Clone, Debug)]
pub struct ColdSpec {
    /// Live status line period.
    pub status_interval_ms: u64,
    /// metrics.jsonl period.
    pub metrics_interval_ms: u64,
    /// Print the live one-line status on stderr.
    pub status_line: bool,
    /// Market time between two `equity.csv` rows (and account snapshots).
    pub equity_interval_ms: u64,
    /// Stage latencies are measured on one source message in this many (1: every one;
    /// orders are always timed tick to order). Backtests sample 1 in 64.
    pub latency_sample_every: u64,
}

/// Operations: the metrics endpoint and the health monitor.
#[derive(Clone, Debug)]
pub struct OpsSpec {
    /// Where `/metrics` and `/health` are served: `None` = the default, 127.0.0.1:9187 for
    /// `run` and nothing for replays, backtests and benchmarks; `Some("off")` = never.
    pub http: Option<String>,
    /// A hot thread whose heartbeat has not moved for this long is stalled.
    pub stall_ms: u64,
    /// When to throttle, escalate and recover.
    pub breach: BreachPolicy,
    /// A hot thread whose stages panic more than this many times within
    /// `restart_window_s` stops the run safely instead of restarting them again.
    pub restart_max: u32,
    /// The window of `restart_max`, seconds.
    pub restart_window_s: u64,
    /// The order journal: `None` = `orders.wal` in the report directory for `run` and
    /// `replay`, none for backtests and benchmarks; `Some("off")` = none; else a path.
    pub order_journal: Option<String>,
    /// When it is made durable.
    pub order_journal_fsync: Fsync,
    /// Seconds between the journal's periodic summaries.
    pub journal_summary_s: u64,
    /// `journal.md` is rotated when it grows past this many KiB ...
    pub journal_max_kib: u64,
    /// ... and at each UTC midnight when this is set.
    pub journal_rotate_daily: bool,
    /// Let the kernel back the heap with transparent huge pages (off: the resident size then
    /// follows what the heap holds instead of growing in 2 MiB steps).
    pub heap_huge_pages: bool,
}

/// The breach policy: any limit crossed throttles (see `actions`); a breach that lasts
/// `escalate_after_s` trips the kill switch; `recover_after_s` without a breach lifts the
/// throttle. A limit of 0 is off (all are off by default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BreachPolicy {
    /// End-to-end (ingress to venue) p99 over the last 10 s, µs.
    pub latency_p99_us: u64,
    /// Any ring fuller than this, percent.
    pub ring_fill_pct: u64,
    /// Resident memory, MiB.
    pub rss_mib: u64,
    /// Any source's health score (0..1) below this.
    pub feed_health: f64,
    /// A breach lasting this long trips the kill switch (0: never).
    pub escalate_after_s: u64,
    /// No breach for this long lifts the throttle.
    pub recover_after_s: u64,
    /// What the throttle does while it is on.
    pub actions: crate::core::health::BreachActions,
}

impl BreachPolicy {
    /// True when at least one limit is set.
    pub fn active(&self) -> bool {
        self.latency_p99_us > 0
            || self.ring_fill_pct > 0
            || self.rss_mib > 0
            || self.feed_health > 0.0
    }
}

/// When the journal is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// `fdatasync` after every batch the cold thread drains (at most a few ms of records at
    /// risk on power loss; none on a process crash).
    Batch,
    /// `fdatasync` after every record.
    Always,
    /// Leave it to the OS (a process crash still loses nothing written).
    Off,
}

impl Fsync {
    /// Config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fsync::Batch => "batch",
            Fsync::Always => "always",
            Fsync::Off => "off",
        }
    }
}

/// Address the metrics endpoint takes by default (`run` only).
pub const DEFAULT_OPS_HTTP: &str = "127.0.0.1:9187";

impl OpsSpec {
    /// The address to serve on in `mode`, if any.
    pub fn http_for(&self, mode: &str) -> Option<&str> {
        match self.http.as_deref() {
            Some("off") | Some("") => None,
            Some(a) => Some(a),
            None if mode == "run" => Some(DEFAULT_OPS_HTTP),
            None => None,
        }
    }

    /// Where a run in `mode` writing its report to `dir` keeps its order journal, if any.
    pub fn order_journal_for(
        &self,
        mode: &str,
        dir: &std::path::Path,
    ) -> Option<std::path::PathBuf> {
        match self.order_journal.as_deref() {
            Some("off") | Some("") => None,
            Some(p) => Some(std::path::PathBuf::from(p)),
            None if mode == "run" || mode == "replay" => Some(dir.join("orders.wal")),
            None => None,
        }
    }
}

/// A validated configuration. Everything a run needs, checked before any thread starts.
#[derive(Clone, Debug)]
pub struct Config {
    /// Known instruments.
    pub instruments: Vec<InstrumentSpec>,
    /// Source.
    pub source: SourceSpec,
    /// Lanes.
    pub lanes: Vec<LaneSpec>,
    /// Hot ring capacity (power of two).
    pub ring_capacity: usize,
    /// Cold ring capacity (power of two).
    pub cold_capacity: usize,
    /// Core for the cold thread, if pinned.
    pub cold_core: Option<usize>,
    /// Candle resolutions built, finest first.
    pub resolutions: Vec<Resolution>,
    /// Buckets without trades: skipped or filled flat.
    pub candle_gaps: crate::candles::GapPolicy,
    /// How far behind the newest trade a late trade may be and still revise its candle.
    pub candle_lateness_ms: u64,
    /// Resolutions whose candle so far is emitted after every trade (live indicator values).
    pub candle_live: Vec<Resolution>,
    /// Strategies, scoring, noise suppression and sizing (`[strategy]`).
    pub strategy: crate::strategy::config::HostSpec,
    /// Risk limits (`[risk]`, with the `[[instruments]]` overrides folded in).
    pub risk: crate::risk::engine::RiskLimits,
    /// Order timeouts and fallbacks (`[orders]`).
    pub orders: crate::orders::blotter::OrderRules,
    /// The paper exchange (`[paper]`).
    pub paper: crate::venue::sim::PaperSpec,
    /// Venue.
    pub venue: VenueSpec,
    /// Cold side.
    pub cold: ColdSpec,
    /// Operations: metrics endpoint, health monitor.
    pub ops: OpsSpec,
    /// WebSocket feeds, by name.
    pub feeds: Vec<FeedSpec>,
    /// Redundancy and anomaly thresholds.
    pub arbiter: ArbiterSpec,
    /// The catalog recorder (`[recorder]`).
    pub recorder: crate::catalog::recorder::RecorderSpec,
    /// The TOML text the run used, after overrides (written to journal.md).
    pub effective_toml: String,
}

/// Where the config text comes from.
pub enum ConfigSource<'a> {
    /// The built-in default.
    Default,
    /// A file on disk.
    File(&'a Path),
}

impl Config {
    /// Loads, applies `--set KEY=VALUE` overrides, validates. `allowed_cores` is the CPU list read
    /// once at start, before any pinning (see NOTES: core_affinity shrinks after pinning).
    pub fn load(
        source: ConfigSource<'_>,
        overrides: &[String],
        allowed_cores: &[usize],
    ) -> Result<Self, ConfigError> {
        let (origin, text) = match source {
            ConfigSource::Default => ("built-in default".to_string(), DEFAULT_CONFIG.to_string()),
            ConfigSource::File(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
                    path: p.display().to_string(),
                    source: e,
                })?,
            ),
        };
        let mut value: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            origin: origin.clone(),
            message: one_line(&e.to_string()),
        })?;
        for ov in overrides {
            apply_override(&mut value, ov)?;
        }
        let effective_toml = toml::to_string(&value).unwrap_or_default();
        let raw: RawConfig = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                origin,
                message: one_line(&e.to_string()),
            })?;
        validate(raw, allowed_cores, effective_toml)
    }

    /// Builds the shared instrument table: configured instruments first, room for more.
    pub fn instrument_table(&self) -> InstrumentTable {
        let table = InstrumentTable::new(self.source.max_instruments.max(self.instruments.len()));
        for spec in &self.instruments {
            // Capacity is at least the configured count, so this cannot fail.
            let _ = table.insert(spec.instrument);
        }
        table
    }

    /// Trading parameters for a symbol, or the defaults for an auto-added instrument.
    pub fn spec_for(&self, symbol: &str) -> Option<&InstrumentSpec> {
        self.instruments
            .iter()
            .find(|s| s.instrument.symbol.as_str() == symbol)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies `a.b.c=VALUE` to the TOML tree. VALUE is read as TOML (`42`, `true`, `"x"`, `[1,2]`)
/// and falls back to a bare string. A numeric segment indexes an array (`lanes.0.threads.1.core`).
pub fn apply_override(root: &mut toml::Value, ov: &str) -> Result<(), ConfigError> {
    let (key, raw_value) = ov
        .split_once('=')
        .ok_or_else(|| invalid(ov, "--set expects KEY=VALUE"))?;
    let key = key.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw_value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw_value.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid(key, "empty segment in --set key"));
    }
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        cur = match cur {
            toml::Value::Table(t) => {
                if last {
                    t.insert((*part).to_string(), value);
                    return Ok(());
                }
                t.entry((*part).to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let idx: usize = part
                    .parse()
                    .map_err(|_| invalid(key, format!("`{part}` is not an array index")))?;
                let len = a.len();
                let slot = a.get_mut(idx).ok_or_else(|| {
                    invalid(key, format!("index {idx} out of range ({len} items)"))
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(invalid(
                    key,
                    format!("`{part}` is inside a value that is not a table"),
                ))
            }
        };
    }
    Ok(())
}

fn decimal(key: &str, s: &str) -> Result<i64, ConfigError> {
    parse_scaled(s.trim().as_bytes()).map_err(|e| invalid(key, format!("`{s}`: {e}")))
}

fn positive(key: &str, s: &str) -> Result<i64, ConfigError> {
    let v = decimal(key, s)?;
    if v <= 0 {
        return Err(invalid(key, format!("`{s}` must be greater than 0")));
    }
    Ok(v)
}

fn validate(
    raw: RawConfig,
    allowed_cores: &[usize],
    effective_toml: String,
) -> Result<Config, ConfigError> {
    let mut instruments = Vec::new();
    for (i, ri) in raw.instruments.iter().enumerate() {
        let key = |k: &str| format!("instruments[{i}].{k}");
        let symbol = Symbol::new(ri.symbol.as_bytes()).ok_or_else(|| {
            invalid(
                key("symbol"),
                format!("`{}` is empty or too long", ri.symbol),
            )
        })?;
        if instruments
            .iter()
            .any(|s: &InstrumentSpec| s.instrument.symbol == symbol)
        {
            return Err(invalid(
                key("symbol"),
                format!("`{}` is listed twice", ri.symbol),
            ));
        }
        let tick = positive(&key("tick"), &ri.tick)?;
        let lot = positive(&key("lot"), &ri.lot)?;
        let max_order_qty = match &ri.max_order_qty {
            Some(s) => Some(positive(&key("max_order_qty"), s)?),
            None => None,
        };
        let max_position = match &ri.max_position {
            Some(s) => Some(positive(&key("max_position"), s)?),
            None => None,
        };
        let synthetic_price = match &ri.synthetic_price {
            Some(s) => positive(&key("synthetic_price"), s)?,
            None => 100 * super::num::SCALE,
        };
        instruments.push(InstrumentSpec {
            instrument: Instrument { symbol, tick, lot },
            max_order_qty,
            max_position,
            synthetic_price,
        });
    }

    let src = &raw.source;
    let kind = match src.kind.as_str() {
        "synthetic" => SourceKind::Synthetic,
        "replay" => SourceKind::Replay,
        "live" => SourceKind::Live,
        other => {
            return Err(invalid(
                "source.kind",
                format!("`{other}` is not one of synthetic, replay, live"),
            ))
        }
    };
    if !(src.msgs_per_sec > 0.0 && src.msgs_per_sec.is_finite()) {
        return Err(invalid("source.msgs_per_sec", "must be a positive number"));
    }
    let speed = Speed::parse(&src.speed).ok_or_else(|| {
        invalid(
            "source.speed",
            format!(
                "`{}` is not max, a factor like 1x or a rate like 100k/s",
                src.speed
            ),
        )
    })?;
    if kind == SourceKind::Synthetic && instruments.is_empty() {
        return Err(invalid(
            "instruments",
            "the synthetic source needs at least one instrument",
        ));
    }
    if src.warmup_s > 7 * 86_400 {
        return Err(invalid("source.warmup_s", "at most one week (604800)"));
    }
    if src.max_instruments == 0 || src.max_instruments > 65_536 {
        return Err(invalid("source.max_instruments", "must be 1..=65536"));
    }
    let source = SourceSpec {
        kind,
        seed: src.seed,
        msgs_per_sec: src.msgs_per_sec,
        files: src.files.clone(),
        speed,
        // A replay counts every symbol in its captures unless told otherwise.
        auto_instruments: src
            .auto_instruments
            .unwrap_or(kind == SourceKind::Replay || instruments.is_empty()),
        max_instruments: src.max_instruments.max(instruments.len()),
        loop_count: src.loop_count.unwrap_or(1).max(1),
        limit: src.limit,
        warmup_s: src.warmup_s,
        venue: match &src.venue {
            None => None,
            Some(v) => Some(crate::feed::parse::Venue::parse(v).ok_or_else(|| {
                invalid(
                    "source.venue",
                    format!("`{v}` is not a known venue ({})", venue_names()),
                )
            })?),
        },
        books: src.books,
        book_levels: src.book_levels,
        bars: match &src.bars {
            None => crate::feed::BarFill::Off,
            Some(b) => crate::feed::BarFill::parse(b).ok_or_else(|| {
                invalid(
                    "source.bars",
                    format!("`{b}` is not off, next-open or close"),
                )
            })?,
        },
        window: (
            window_time(src.from.as_deref(), "source.from")?.unwrap_or(0),
            window_time(src.to.as_deref(), "source.to")?.unwrap_or(u64::MAX),
        ),
    };
    if source.window.0 >= source.window.1 {
        return Err(invalid("source.to", "must be after source.from"));
    }
    if src.books > 4096 {
        return Err(invalid("source.books", "at most 4096"));
    }
    if src.book_levels == 0 || src.book_levels > 100_000 {
        return Err(invalid("source.book_levels", "must be 1..=100000"));
    }
    if kind == SourceKind::Replay && src.files.len() > 255 {
        return Err(invalid(
            "source.files",
            format!(
                "{} files: at most 255 per replay (each is its own source)",
                src.files.len()
            ),
        ));
    }

    for (key, cap) in [
        ("rings.capacity", raw.rings.capacity),
        ("rings.cold_capacity", raw.rings.cold_capacity),
    ] {
        if cap < 2 || !cap.is_power_of_two() {
            return Err(invalid(key, format!("{cap} is not a power of two >= 2")));
        }
    }
    let check_core = |key: String, core: usize| -> Result<(), ConfigError> {
        if allowed_cores.contains(&core) {
            Ok(())
        } else {
            Err(invalid(
                key,
                format!("core {core} does not exist or is not allowed here (allowed: {allowed_cores:?})"),
            ))
        }
    };
    if let Some(c) = raw.rings.cold_core {
        check_core("rings.cold_core".into(), c)?;
    }

    let mut lanes = Vec::new();
    let raw_lanes = if raw.lanes.is_empty() {
        vec![RawLane {
            name: Some("main".into()),
            instruments: Vec::new(),
            threads: vec![RawThread {
                name: "hot".into(),
                core: None,
                stages: Stage::ALL.iter().map(|s| s.name().to_string()).collect(),
                wait: default_wait(),
            }],
        }]
    } else {
        raw.lanes
    };
    let mut pinned: BTreeMap<usize, String> = BTreeMap::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for (li, rl) in raw_lanes.iter().enumerate() {
        let lane_name = rl.name.clone().unwrap_or_else(|| format!("lane{li}"));
        for sym in &rl.instruments {
            if !instruments
                .iter()
                .any(|s| s.instrument.symbol.as_str() == sym)
            {
                return Err(invalid(
                    format!("lanes[{li}].instruments"),
                    format!("`{sym}` is not in [[instruments]]"),
                ));
            }
            if let Some(other) = claimed.insert(sym.clone(), lane_name.clone()) {
                return Err(invalid(
                    format!("lanes[{li}].instruments"),
                    format!("`{sym}` is already traded by lane `{other}`"),
                ));
            }
        }
        if raw_lanes.len() > 1 && rl.instruments.is_empty() {
            return Err(invalid(
                format!("lanes[{li}].instruments"),
                "with several lanes each must list its instruments",
            ));
        }
        if rl.threads.is_empty() {
            return Err(invalid(
                format!("lanes[{li}].threads"),
                "a lane needs at least one thread",
            ));
        }
        let mut threads = Vec::new();
        let mut next = 0usize;
        for (ti, rt) in rl.threads.iter().enumerate() {
            let key = |k: &str| format!("lanes[{li}].threads[{ti}].{k}");
            if rt.stages.is_empty() {
                return Err(invalid(key("stages"), "a thread needs at least one stage"));
            }
            let mut stages = Vec::new();
            for s in &rt.stages {
                let st = Stage::parse(s).ok_or_else(|| {
                    invalid(
                        key("stages"),
                        format!("`{s}` is not a stage (parse, arbiter, candles, indicators, signals, risk, venue)"),
                    )
                })?;
                if st.index() != next {
                    let want = Stage::ALL.get(next).map(|s| s.name()).unwrap_or("nothing");
                    return Err(invalid(
                        key("stages"),
                        format!("`{s}` is out of order: stages must run parse→venue contiguously, expected `{want}`"),
                    ));
                }
                next += 1;
                stages.push(st);
            }
            let wait = WaitStrategy::parse(&rt.wait).ok_or_else(|| {
                invalid(
                    key("wait"),
                    format!(
                        "`{}` is not busy-spin, spin-then-yield or spin-then-park",
                        rt.wait
                    ),
                )
            })?;
            if let Some(c) = rt.core {
                check_core(key("core"), c)?;
                if let Some(prev) = pinned.insert(c, rt.name.clone()) {
                    return Err(invalid(
                        key("core"),
                        format!("core {c} is already given to thread `{prev}`"),
                    ));
                }
            }
            threads.push(ThreadSpec {
                name: rt.name.clone(),
                core: rt.core,
                stages,
                wait,
            });
        }
        if next != Stage::ALL.len() {
            return Err(invalid(
                format!("lanes[{li}].threads"),
                format!(
                    "stages end at `{}`; every lane must run all stages through `venue`",
                    Stage::ALL[next - 1].name()
                ),
            ));
        }
        let thread_of = |st: Stage| threads.iter().position(|t| t.stages.contains(&st));
        if thread_of(Stage::Signals) != thread_of(Stage::Risk) {
            return Err(invalid(
                format!("lanes[{li}].threads"),
                "`signals` and `risk` must share a thread: strategies read positions and risk state as they decide",
            ));
        }
        lanes.push(LaneSpec {
            name: lane_name,
            instruments: rl.instruments.clone(),
            threads,
        });
    }

    let mut resolutions = Vec::new();
    for r in &raw.candles.resolutions {
        let res = Resolution::parse(r).ok_or_else(|| {
            invalid(
                "candles.resolutions",
                format!("`{r}` is not one of 1s, 1m, 5m, 1h, 1d"),
            )
        })?;
        if !resolutions.contains(&res) {
            resolutions.push(res);
        }
    }
    resolutions.sort();
    if resolutions.is_empty() {
        return Err(invalid(
            "candles.resolutions",
            "at least one resolution is needed",
        ));
    }
    let mut candle_live = Vec::new();
    for r in &raw.candles.live {
        match Resolution::parse(r) {
            Some(res) if resolutions.contains(&res) => candle_live.push(res),
            _ => {
                return Err(invalid(
                    "candles.live",
                    format!("`{r}` is not one of the built resolutions"),
                ))
            }
        }
    }
    let candle_gaps = match raw.candles.gaps.as_str() {
        "skip" => crate::candles::GapPolicy::Skip,
        "fill" => crate::candles::GapPolicy::Fill,
        g => {
            return Err(invalid(
                "candles.gaps",
                format!("`{g}` is not one of skip, fill"),
            ))
        }
    };

    let strategy = raw.strategy.validate().map_err(|e| match e {
        crate::strategy::config::StrategyConfigError::Invalid { key, message } => {
            invalid(format!("strategy.{key}"), message)
        }
        other => invalid("strategy", other.to_string()),
    })?;
    for r in &strategy.resolutions {
        if !resolutions.contains(r) {
            return Err(invalid(
                "strategy.resolutions",
                format!(
                    "`{}` is not built: add it to candles.resolutions",
                    r.label()
                ),
            ));
        }
    }
    let mut risk_raw = raw.risk.clone();
    for spec in &instruments {
        let sym = spec.instrument.symbol.as_str();
        if spec.max_position.is_none() && spec.max_order_qty.is_none() {
            continue;
        }
        if risk_raw.instruments.iter().any(|i| i.symbol == sym) {
            continue;
        }
        let text = |v: Option<i64>| v.map(|x| super::num::format_scaled(x, 8));
        risk_raw
            .instruments
            .push(crate::risk::engine::RawInstrumentLimits {
                symbol: sym.to_string(),
                max_position: text(spec.max_position),
                max_order_qty: text(spec.max_order_qty),
            });
    }
    let risk = crate::risk::engine::RiskLimits::from_raw(&risk_raw).map_err(|e| match e {
        crate::risk::engine::RiskLimitsError::Invalid { key, message } => {
            invalid(format!("risk.{key}"), message)
        }
        other => invalid("risk", other.to_string()),
    })?;
    for il in &risk.instruments {
        if !instruments.iter().any(|s| s.instrument.symbol == il.symbol) {
            return Err(invalid(
                "risk.instruments",
                format!("`{}` is not in [[instruments]]", il.symbol.as_str()),
            ));
        }
    }
    let orders = raw
        .orders
        .validate()
        .map_err(|e| invalid("orders", e.to_string()))?;
    raw.paper
        .validate()
        .map_err(|e| invalid("paper", e.to_string()))?;
    if raw.venue.kind != "paper" {
        return Err(invalid(
            "venue.kind",
            format!("`{}` is not available yet (paper)", raw.venue.kind),
        ));
    }
    let live = live_spec(&raw.venue)?;
    if raw.cold.status_interval_ms == 0
        || raw.cold.metrics_interval_ms == 0
        || raw.cold.equity_interval_ms == 0
        || raw.cold.latency_sample_every == 0
    {
        return Err(invalid("cold", "intervals must be at least 1 ms"));
    }
    if raw.ops.journal_summary_s == 0 || raw.ops.journal_max_kib == 0 {
        return Err(invalid(
            "ops.journal_summary_s / ops.journal_max_kib",
            "must be at least 1",
        ));
    }
    if raw.ops.restart_window_s == 0 {
        return Err(invalid("ops.restart_window_s", "must be at least 1 s"));
    }
    if raw.ops.stall_ms == 0 {
        return Err(invalid("ops.stall_ms", "must be at least 1 ms"));
    }
    if raw.ops.breach_ring_fill_pct > 100 {
        return Err(invalid(
            "ops.breach_ring_fill_pct",
            "a percentage: 0 (off) to 100",
        ));
    }
    if !(raw.ops.breach_widen.is_finite() && raw.ops.breach_widen >= 1.0) {
        return Err(invalid(
            "ops.breach_widen",
            "a factor on entry thresholds while throttled: 1 (off) or more",
        ));
    }
    if !(0.0..=1.0).contains(&raw.ops.breach_feed_health) {
        return Err(invalid(
            "ops.breach_feed_health",
            "a health score: 0 (off) to 1",
        ));
    }
    if let Some(a) = raw
        .ops
        .http
        .as_deref()
        .filter(|a| !matches!(*a, "" | "off"))
    {
        if a.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "ops.http",
                format!("`{a}` is not host:port (e.g. 127.0.0.1:9187) or \"off\""),
            ));
        }
    }

    let mut feeds = Vec::new();
    for (name, f) in &raw.feeds {
        let key = |k: &str| format!("feeds.{name}.{k}");
        let venue = crate::feed::parse::Venue::parse(&f.venue).ok_or_else(|| {
            invalid(
                key("venue"),
                format!("`{}` is not a known venue ({})", f.venue, venue_names()),
            )
        })?;
        if !(f.url.starts_with("ws://") || f.url.starts_with("wss://")) {
            return Err(invalid(
                key("url"),
                format!("`{}` is not a ws:// or wss:// URL", f.url),
            ));
        }
        let role = match f.role.as_str() {
            "primary" => crate::feed::Role::Primary,
            "backup" => crate::feed::Role::Backup,
            other => {
                return Err(invalid(
                    key("role"),
                    format!("`{other}` is not primary or backup"),
                ))
            }
        };
        let lane = match &f.lane {
            None => 0,
            Some(l) => lanes
                .iter()
                .position(|x: &LaneSpec| &x.name == l)
                .ok_or_else(|| invalid(key("lane"), format!("no lane named `{l}`")))?,
        };
        for ours in f.symbols.values() {
            if !instruments
                .iter()
                .any(|i: &InstrumentSpec| i.instrument.symbol.as_str() == ours)
            {
                return Err(invalid(
                    key("symbols"),
                    format!("`{ours}` is not a configured instrument"),
                ));
            }
        }
        if f.stale_after_ms == 0
            || f.backoff_initial_ms == 0
            || f.backoff_max_ms < f.backoff_initial_ms
        {
            return Err(invalid(
                name.clone(),
                "stale_after_ms and backoff_initial_ms must be > 0, backoff_max_ms >= backoff_initial_ms",
            ));
        }
        if f.max_message_bytes < 1024 {
            return Err(invalid(key("max_message_bytes"), "at least 1024"));
        }
        let mut channels = Vec::new();
        for c in &f.channels {
            channels.push(crate::feed::subscribe::Channel::parse(c).ok_or_else(|| {
                invalid(key("channels"), format!("`{c}` is not trades or quotes"))
            })?);
        }
        // Explicit frames win; otherwise build the venue's subscribe messages from the
        // channels and the venue symbols (the `symbols` map's keys, else the lane's instruments).
        let subscribe = if f.subscribe.is_empty() && !channels.is_empty() {
            let venue_symbols: Vec<String> = if f.symbols.is_empty() {
                lanes[lane].instruments.clone()
            } else {
                f.symbols.keys().cloned().collect()
            };
            crate::feed::subscribe::messages(venue, &channels, &venue_symbols)
        } else {
            f.subscribe.clone()
        };
        feeds.push(FeedSpec {
            name: name.clone(),
            venue,
            url: f.url.clone(),
            subscribe,
            role,
            symbols: f
                .symbols
                .iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect(),
            lane,
            ping_interval_ms: f.ping_interval_ms,
            stale_after_ms: f.stale_after_ms,
            backoff_initial_ms: f.backoff_initial_ms,
            backoff_max_ms: f.backoff_max_ms,
            max_age_ms: f.max_age_ms,
            connect_timeout_ms: f.connect_timeout_ms,
            max_message_bytes: f.max_message_bytes,
            ca_file: f.ca_file.clone(),
        });
    }
    if source.kind == SourceKind::Live && feeds.is_empty() {
        return Err(invalid(
            "feeds",
            "source.kind = \"live\" needs at least one [feeds.<name>] table",
        ));
    }
    for (li, lane) in lanes.iter().enumerate() {
        if feeds.iter().filter(|f| f.lane == li).count() > 64 {
            return Err(invalid(
                "feeds",
                format!("lane `{}` has more than 64 feeds", lane.name),
            ));
        }
    }
    let a = &raw.arbiter;
    let arbiter = ArbiterSpec {
        spike_bps: positive("arbiter.spike_bps", &a.spike_bps)?,
        spike_z: a.spike_z,
        divergence_bps: positive("arbiter.divergence_bps", &a.divergence_bps)?,
        failover_after_ms: a.failover_after_ms,
        failback_after_ms: a.failback_after_ms,
        stale_after_ms: a.stale_after_ms,
        reorder_ms: a.reorder_ms,
    };
    if !(a.spike_z > 0.0 && a.spike_z.is_finite()) {
        return Err(invalid("arbiter.spike_z", "must be a positive number"));
    }
    if a.failover_after_ms == 0 || a.failback_after_ms == 0 {
        return Err(invalid(
            "arbiter",
            "failover_after_ms and failback_after_ms must be > 0",
        ));
    }

    let recorder = raw
        .recorder
        .validate(&resolutions)
        .map_err(|(key, message)| invalid(key, message))?;
    Ok(Config {
        recorder,
        feeds,
        arbiter,
        instruments,
        source,
        lanes,
        ring_capacity: raw.rings.capacity,
        cold_capacity: raw.rings.cold_capacity,
        cold_core: raw.rings.cold_core,
        resolutions,
        candle_gaps,
        candle_lateness_ms: raw.candles.lateness_ms,
        candle_live,
        strategy,
        risk,
        orders,
        paper: raw.paper.clone(),
        venue: VenueSpec {
            live,
            kind: raw.venue.kind.clone(),
        },
        cold: ColdSpec {
            status_interval_ms: raw.cold.status_interval_ms,
            metrics_interval_ms: raw.cold.metrics_interval_ms,
            status_line: raw.cold.status_line,
            equity_interval_ms: raw.cold.equity_interval_ms,
            latency_sample_every: raw.cold.latency_sample_every,
        },
        ops: OpsSpec {
            http: raw.ops.http.clone(),
            stall_ms: raw.ops.stall_ms,
            breach: BreachPolicy {
                latency_p99_us: raw.ops.breach_latency_p99_us,
                ring_fill_pct: raw.ops.breach_ring_fill_pct,
                rss_mib: raw.ops.breach_rss_mib,
                feed_health: raw.ops.breach_feed_health,
                escalate_after_s: raw.ops.escalate_after_s,
                recover_after_s: raw.ops.recover_after_s,
                actions: crate::core::health::BreachActions {
                    pause_openings: raw.ops.breach_pause_openings,
                    entry_widen: raw.ops.breach_widen,
                    shed_live_candles: raw.ops.breach_shed_live_candles,
                },
            },
            restart_max: raw.ops.restart_max,
            restart_window_s: raw.ops.restart_window_s,
            order_journal: raw.ops.order_journal.clone(),
            order_journal_fsync: raw.ops.order_journal_fsync,
            journal_summary_s: raw.ops.journal_summary_s,
            journal_max_kib: raw.ops.journal_max_kib,
            journal_rotate_daily: raw.ops.journal_rotate_daily,
            heap_huge_pages: raw.ops.heap_huge_pages,
        },
        effective_toml,
    })
}

/// `[venue]` for live trading: `None` in paper mode.
fn live_spec(v: &RawVenue) -> Result<Option<LiveSpec>, ConfigError> {
    use crate::venue::binance::keys::KeySource;
    match v.mode.as_str() {
        "paper" => return Ok(None),
        "live" => {}
        other => {
            return Err(invalid(
                "venue.mode",
                format!("`{other}`: \"paper\" (the default) or \"live\""),
            ))
        }
    }
    let (rest, ws) = if v.testnet {
        (BINANCE_TESTNET_REST, BINANCE_TESTNET_WS)
    } else {
        (BINANCE_REST, BINANCE_WS)
    };
    let rest_url = v.rest_url.clone().unwrap_or_else(|| rest.to_string());
    crate::venue::binance::http::BaseUrl::parse(&rest_url)
        .map_err(|e| invalid("venue.rest_url", e.to_string()))?;
    let ws_url = v.ws_url.clone().unwrap_or_else(|| ws.to_string());
    crate::feed::ws::url::WsUrl::parse(&ws_url)
        .map_err(|e| invalid("venue.ws_url", e.to_string()))?;
    let keys = match v.keys.as_str() {
        "env" => KeySource::Env,
        k => match k.strip_prefix("file:") {
            Some(p) if !p.trim().is_empty() => KeySource::File(p.trim().into()),
            _ => {
                return Err(invalid(
                    "venue.keys",
                    format!(
                        "`{k}`: \"env\" or \"file:PATH\" (a key file readable by its owner only)"
                    ),
                ))
            }
        },
    };
    if v.recv_window_ms == 0 || v.recv_window_ms > 60_000 {
        return Err(invalid(
            "venue.recv_window_ms",
            "must be from 1 to 60000 (Binance's limit)",
        ));
    }
    if v.rate_headroom_pct == 0 || v.rate_headroom_pct > 100 {
        return Err(invalid("venue.rate_headroom_pct", "must be from 1 to 100"));
    }
    Ok(Some(LiveSpec {
        testnet: v.testnet,
        rest_url,
        ws_url,
        keys,
        recv_window_ms: v.recv_window_ms,
        dry_run: v.dry_run,
        rate_headroom_pct: v.rate_headroom_pct,
    }))
}

fn venue_names() -> String {
    crate::feed::parse::Venue::ALL.map(|v| v.name()).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORES: &[usize] = &[0, 1];

    fn load_str(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
        let dir =
            std::env::temp_dir().join(format!("tw-cfg-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, text).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::load(ConfigSource::File(&p), &sets, CORES)
    }

    #[test]
    fn feeds_are_validated_with_their_names() {
        let live = |feed: &str| {
            let sets = ["source.kind=live".to_string(), feed.to_string()];
            Config::load(ConfigSource::Default, &sets, CORES)
        };
        let gen = live(
            "feeds.a={venue='okx',url='ws://x',channels=['trades'],symbols={'BTC-USDT'='BTCUSDT'}}",
        )
        .unwrap();
        assert_eq!(
            gen.feeds[0].subscribe,
            [r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}"#]
        );
        assert!(live("feeds.a={venue='okx',url='ws://x',channels=['candles']}").is_err());
        let ok = live(
            "feeds.a={venue='binance',url='ws://127.0.0.1:9/x',symbols={'BTC-USD'='BTCUSDT'}}",
        )
        .unwrap();
        assert_eq!(
            ok.feeds[0].symbols,
            vec![("BTC-USD".to_string(), "BTCUSDT".to_string())]
        );
        assert_eq!(
            ok.feeds[0].max_age_ms,
            23 * 3_600_000,
            "rotates before Binance's 24 h cut"
        );
        for (feed, want) in [
            ("feeds.a={venue='nasdaq',url='ws://x'}", "feeds.a.venue"),
            ("feeds.a={venue='binance',url='http://x'}", "feeds.a.url"),
            (
                "feeds.a={venue='binance',url='ws://x',role='spare'}",
                "feeds.a.role",
            ),
            (
                "feeds.a={venue='binance',url='ws://x',symbols={'X'='DOGE'}}",
                "feeds.a.symbols",
            ),
            (
                "feeds.a={venue='binance',url='ws://x',lane='nope'}",
                "feeds.a.lane",
            ),
            ("feeds.a={venue='binance',url='ws://x',colour=1}", "colour"),
        ] {
            let e = live(feed).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(want), "{feed}: {e}");
        }
        let e = Config::load(ConfigSource::Default, &["source.kind=live".into()], CORES)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("feeds"), "{e}");
    }

    #[test]
    fn default_config_is_valid() {
        let c = Config::load(ConfigSource::Default, &[], CORES).unwrap();
        assert_eq!(c.instruments.len(), 2);
        assert_eq!(c.lanes.len(), 1);
        assert_eq!(c.source.kind, SourceKind::Synthetic);
    }

    #[test]
    fn shipped_profiles_are_valid() {
        let cores: Vec<usize> = (0..16).collect();
        for f in [
            "tuning/dev-2core.toml",
            "tuning/colo-4core.toml",
            "tuning/colo-8core.toml",
            "tuning/colo-16core.toml",
            "tuning/binance-paper.toml",
        ] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
            let c = Config::load(ConfigSource::File(&p), &[], &cores)
                .unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(c.instruments.len(), 2, "{f}");
        }
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/binance-paper.toml");
        let c = Config::load(ConfigSource::File(&p), &[], &cores).unwrap();
        assert_eq!(c.source.kind, SourceKind::Live);
        let names: Vec<&str> = c.feeds.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["binance_a", "binance_b"], "A/B lines");
        assert!(c
            .feeds
            .iter()
            .all(|f| f.url.starts_with("wss://") && f.role == crate::feed::Role::Primary));
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/colo-8core.toml");
        let c = Config::load(ConfigSource::File(&p), &[], &cores).unwrap();
        assert_eq!(c.lanes[0].threads.len(), 6);
        assert!(c.lanes[0]
            .threads
            .iter()
            .all(|t| t.core.is_some() && t.wait == WaitStrategy::BusySpin));
        // On a machine without those cores it is refused up front.
        let e = Config::load(ConfigSource::File(&p), &[], &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("core 2"), "{e}");
    }

    #[test]
    fn a_core_given_twice_is_refused() {
        let e = Config::load(
            ConfigSource::File(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/colo-8core.toml"),
            ),
            &["lanes.0.threads.1.core=1".into()],
            &(0..16).collect::<Vec<_>>(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("already given"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load_str("[risk]\nmax_order_notionall = \"5\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_order_notionall"), "{e}");
        let e = Config::load(ConfigSource::Default, &["venue.colour=1".into()], CORES)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn bad_core_is_refused_before_start() {
        let e = Config::load(
            ConfigSource::Default,
            &["lanes.0.threads.0.core=64".into()],
            CORES,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("core 64"), "{e}");
        assert!(e.contains("lanes[0].threads[0].core"), "{e}");
    }

    #[test]
    fn signals_and_risk_must_share_a_thread() {
        let e = Config::load(
            ConfigSource::Default,
            &["lanes=[{name='m',instruments=['BTCUSDT'],threads=[{name='a',stages=['parse','arbiter','candles','indicators','signals']},{name='b',stages=['risk','venue']}]}]".into()],
            CORES,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("must share a thread"), "{e}");
    }

    #[test]
    fn overrides_apply() {
        let c = Config::load(
            ConfigSource::Default,
            &[
                "risk.max_order_notional=\"2000\"".into(),
                "source.seed=7".into(),
            ],
            CORES,
        )
        .unwrap();
        assert_eq!(c.risk.max_order_notional, 2000 * crate::core::num::SCALE);
        assert_eq!(c.source.seed, 7);
    }

    #[test]
    fn stages_must_be_contiguous_and_complete() {
        let base = "[[instruments]]\nsymbol='BTCUSDT'\ntick='0.01'\nlot='0.00001'\n";
        let e = load_str(
            &format!("{base}[[lanes]]\n[[lanes.threads]]\nname='a'\nstages=['parse','candles']\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("out of order"), "{e}");
        let e = load_str(
            &format!("{base}[[lanes]]\n[[lanes.threads]]\nname='a'\nstages=['parse','arbiter']\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("every lane must run all stages"), "{e}");
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two() {
        let e = Config::load(
            ConfigSource::Default,
            &["rings.capacity=1000".into()],
            CORES,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("rings.capacity"), "{e}");
    }

    #[test]
    fn breach_actions_are_read_and_checked() {
        let d = Config::load(ConfigSource::Default, &[], CORES).unwrap();
        assert_eq!(
            d.ops.breach.actions,
            crate::core::health::BreachActions::default()
        );
        let c = Config::load(
            ConfigSource::Default,
            &[
                "ops.breach_pause_openings=false".into(),
                "ops.breach_widen=2.5".into(),
                "ops.breach_shed_live_candles=false".into(),
            ],
            CORES,
        )
        .unwrap();
        let a = c.ops.breach.actions;
        assert_eq!(
            (a.pause_openings, a.entry_widen, a.shed_live_candles),
            (false, 2.5, false)
        );
        assert_eq!(a.describe(), "entry thresholds ×2.5");
        for bad in ["0.5", "nan", "inf"] {
            let e = Config::load(
                ConfigSource::Default,
                &[format!("ops.breach_widen={bad}")],
                CORES,
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("ops.breach_widen"), "{bad}: {e}");
        }
    }

    #[test]
    fn missing_file_is_one_line() {
        let e = Config::load(
            ConfigSource::File(Path::new("/nonexistent/x.toml")),
            &[],
            CORES,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("cannot read config file /nonexistent/x.toml"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn speeds_parse() {
        assert_eq!(Speed::parse("max"), Some(Speed::Max));
        assert_eq!(Speed::parse("1x"), Some(Speed::Factor(1.0)));
        assert_eq!(Speed::parse("10x"), Some(Speed::Factor(10.0)));
        assert_eq!(Speed::parse("0x"), None);
        assert_eq!(Speed::parse("1e-12x"), None);
        assert_eq!(Speed::parse("fast"), None);
        assert_eq!(Speed::parse("100000/s"), Some(Speed::Rate(100_000.0)));
        assert_eq!(Speed::parse("10k/s"), Some(Speed::Rate(10_000.0)));
        assert_eq!(Speed::parse("1M/s"), Some(Speed::Rate(1_000_000.0)));
        assert_eq!(Speed::parse("0/s"), None);
        assert_eq!(Speed::parse("k/s"), None);
        assert_eq!(Speed::parse("/s"), None);
        assert_eq!(Speed::parse("2G/s"), None);
    }
}
