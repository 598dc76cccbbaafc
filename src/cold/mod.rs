//! The cold side: one thread that turns hot records into files, and the reports at the end.
//!
//! It drains every stage's cold ring, writes `journal.md` (start, anomalies, orders, fills,
//! periodic summaries), `tickwire.log`, `orders.csv`, `fills.csv`, `equity.csv` and
//! `metrics.jsonl`, and prints the live one-line status. It may allocate, format and block on
//! the disk: nothing hot ever waits for it (a full cold ring drops and counts instead).

pub mod report;
pub mod wal;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::clock::{iso8601_ms, wall_ns};
use crate::core::cold::ColdRecord;
use crate::core::cold::{DecisionRecord, VerdictRecord};
use crate::core::config::Config;
use crate::core::num::format_scaled;
use crate::core::order::{RiskRule, Verdict};
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{InstrumentTable, Resolution};
use crate::ring::Consumer;
use crate::strategy::host::Action;
use crate::strategy::noise::Suppression;

/// Journal lines per anomaly kind before the journal only counts them.
const JOURNAL_ANOMALY_CAP: u64 = 50;
/// Suppressed decisions and refused exits journaled one by one before only counting (they
/// are all in `decisions.csv` and `tickwire.log`).
const JOURNAL_HELD_CAP: u64 = 200;
/// Malformed messages journaled one by one before only counting.
const JOURNAL_MALFORMED_CAP: u64 = 50;

/// One cold ring and where it comes from.
pub struct ColdInput {
    /// Lane index.
    pub lane: usize,
    /// Stage label.
    pub stage: &'static str,
    /// The ring.
    pub ring: Consumer<ColdRecord>,
    /// Its fill level, for the health monitor.
    pub probe: crate::ring::Probe,
}

/// The cold thread's state.
pub struct ColdWriter {
    dir: PathBuf,
    inputs: Vec<ColdInput>,
    lanes: Vec<Arc<LaneStats>>,
    table: Arc<InstrumentTable>,
    /// Source names per lane, by source index.
    source_names: Vec<Vec<String>>,
    resolutions: Vec<Resolution>,
    journal: BufWriter<File>,
    log: BufWriter<File>,
    orders: BufWriter<File>,
    fills: BufWriter<File>,
    decisions: BufWriter<File>,
    equity: BufWriter<File>,
    metrics: BufWriter<File>,
    /// The order journal (write-ahead for the report's files), when kept.
    wal: Option<wal::OrderJournal>,
    /// Its divergence was journaled.
    wal_diverged_told: bool,
    status_every: Duration,
    metrics_every: Duration,
    journal_every: Duration,
    /// Rotation of `journal.md`: size limit (bytes), daily, the UTC day it was opened, and
    /// the parts rotated out so far.
    journal_max_bytes: u64,
    journal_daily: bool,
    journal_day: u64,
    journal_parts: Vec<String>,
    /// Totals at the last periodic summary (its deltas).
    last_summary: Option<(Instant, Totals)>,
    /// Strategy of each live order (and whether its last fill is still to come).
    order_strategy: std::collections::HashMap<u64, (u8, bool)>,
    /// Per (strategy, instrument): signed notional paid (price × qty units), signed position
    /// (qty units) and fees (10⁻⁸), for the lessons' per-strategy PnL.
    strategy_books: BTreeMap<(u8, u16), (i128, i128, i128)>,
    status_line: bool,
    started: Instant,
    anomalies_journaled: [u64; crate::core::stats::ANOMALY_KINDS],
    malformed_journaled: u64,
    feed_journaled: u64,
    /// Latest (equity, cash, position value) per lane: the account is their sum.
    lane_equity: Vec<(i64, i64, i64)>,
    /// Strategy names, by index.
    strategy_names: Vec<String>,
    /// Whether the last decision record was journaled (its verdicts follow it).
    last_decision_journaled: bool,
    held_journaled: u64,
    drawdown_limit: crate::risk::engine::Drawdown,
    record: bool,
    /// What a backtest keeps for its statistics.
    pub recorded: Recorded,
    peak_equity: i64,
    /// Largest drawdown seen, percent.
    pub max_drawdown_pct: f64,
    /// Last equity, quote at 10⁻⁸.
    pub last_equity: i64,
    /// Stage panics journaled: (restored and retried, input dropped).
    pub healed: (u64, u64),
    /// Equity rows written.
    pub equity_rows: u64,
    mode: String,
    /// The health monitor (sampled once a second), when the run has one.
    monitor: Option<crate::ops::Monitor>,
    /// Positions from the journaled fills: (lane, symbol) → quantity at 10⁻⁸.
    positions: std::collections::BTreeMap<(usize, String), i64>,
    /// The catalog recorder, when the run records.
    recorder: Option<RecorderLink>,
}

/// The cold thread's end of the catalog recorder: anomalies go out, notes come back.
pub struct RecorderLink {
    /// Anomalies to record (`None` when not recorded, and once the run is over).
    pub anomalies: Option<std::sync::mpsc::SyncSender<crate::catalog::recorder::AnomalyIn>>,
    /// What the recorder has to say.
    pub notes: std::sync::mpsc::Receiver<crate::catalog::recorder::Note>,
    /// Its live counters.
    pub shared: Arc<crate::catalog::recorder::RecorderShared>,
    /// Anomalies not handed on (the recorder was behind).
    pub anomaly_drops: u64,
    /// Drops journaled so far.
    told_drops: u64,
}

impl RecorderLink {
    /// A link; `anomalies` when they are recorded.
    pub fn new(
        anomalies: Option<std::sync::mpsc::SyncSender<crate::catalog::recorder::AnomalyIn>>,
        notes: std::sync::mpsc::Receiver<crate::catalog::recorder::Note>,
        shared: Arc<crate::catalog::recorder::RecorderShared>,
    ) -> Self {
        Self {
            anomalies,
            notes,
            shared,
            anomaly_drops: 0,
            told_drops: 0,
        }
    }

    /// Every record the recorder lost so far (hot ring full, anomalies not handed on, too
    /// many rows waiting for the writer).
    pub fn drops(&self) -> u64 {
        self.shared.dropped_ring.load(Ordering::Relaxed)
            + self.shared.dropped_buffer.load(Ordering::Relaxed)
            + self.anomaly_drops
    }
}

const DAY_NS: u64 = 86_400_000_000_000;

fn create(dir: &Path, name: &str) -> std::io::Result<BufWriter<File>> {
    let p = dir.join(name);
    File::create(&p)
        .map(BufWriter::new)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create {}: {e}", p.display())))
}

impl ColdWriter {
    /// Creates the report directory's live files and writes the journal's start section.
    pub fn new(
        dir: &Path,
        mode: &str,
        cfg: &Config,
        inputs: Vec<ColdInput>,
        lanes: Vec<Arc<LaneStats>>,
        table: Arc<InstrumentTable>,
        source_names: Vec<Vec<String>>,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("latency")).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot create report directory {}: {e}", dir.display()),
            )
        })?;
        let mut w = Self {
            dir: dir.to_path_buf(),
            inputs,
            lanes,
            table,
            source_names,
            resolutions: cfg.resolutions.clone(),
            journal: create(dir, "journal.md")?,
            log: create(dir, "tickwire.log")?,
            orders: create(dir, "orders.csv")?,
            fills: create(dir, "fills.csv")?,
            decisions: create(dir, "decisions.csv")?,
            equity: create(dir, "equity.csv")?,
            metrics: create(dir, "metrics.jsonl")?,
            wal: match cfg.ops.order_journal_for(mode, dir) {
                Some(p) => Some(wal::OrderJournal::open(
                    &p,
                    cfg.ops.order_journal_fsync,
                    cfg.source.kind == crate::core::config::SourceKind::Replay
                        || mode == "backtest",
                    &format!("S|{}|{mode}|{}", cfg.lanes.len(), wall_ns()),
                )?),
                None => None,
            },
            wal_diverged_told: false,
            status_every: Duration::from_millis(cfg.cold.status_interval_ms),
            metrics_every: Duration::from_millis(cfg.cold.metrics_interval_ms),
            journal_every: Duration::from_secs(cfg.ops.journal_summary_s),
            journal_max_bytes: cfg.ops.journal_max_kib.saturating_mul(1024),
            journal_daily: cfg.ops.journal_rotate_daily,
            journal_day: wall_ns() / DAY_NS,
            journal_parts: Vec::new(),
            last_summary: None,
            order_strategy: std::collections::HashMap::new(),
            strategy_books: BTreeMap::new(),
            status_line: cfg.cold.status_line,
            started: Instant::now(),
            anomalies_journaled: [0; crate::core::stats::ANOMALY_KINDS],
            malformed_journaled: 0,
            feed_journaled: 0,
            lane_equity: {
                let share = cfg.risk.initial_equity / cfg.lanes.len().max(1) as i64;
                vec![(share, share, 0); cfg.lanes.len()]
            },
            strategy_names: cfg
                .strategy
                .strategies
                .iter()
                .map(|(_, s)| s.name.clone())
                .collect(),
            last_decision_journaled: false,
            held_journaled: 0,
            drawdown_limit: cfg.risk.max_drawdown,
            record: mode == "backtest",
            recorded: Recorded::default(),
            peak_equity: cfg.risk.initial_equity,
            max_drawdown_pct: 0.0,
            last_equity: cfg.risk.initial_equity,
            healed: (0, 0),
            equity_rows: 0,
            mode: mode.to_string(),
            monitor: None,
            positions: std::collections::BTreeMap::new(),
            recorder: None,
        };
        writeln!(
            w.orders,
            "ts,client_order_id,instrument,side,type,price,qty,status,reason"
        )?;
        writeln!(
            w.fills,
            "ts,client_order_id,instrument,side,price,qty,fee,liquidity"
        )?;
        writeln!(w.equity, "ts,equity,cash,position_value,drawdown_pct")?;
        writeln!(w.decisions, "{DECISIONS_HEADER}")?;
        writeln!(w.journal, "# tickwire journal: {mode}\n")?;
        writeln!(w.journal, "## Start\n")?;
        writeln!(w.journal, "- started: {}", iso8601_ms(wall_ns()))?;
        writeln!(w.journal, "- version: {}", env!("CARGO_PKG_VERSION"))?;
        writeln!(w.journal, "- report directory: `{}`", dir.display())?;
        for (i, lane) in cfg.lanes.iter().enumerate() {
            let threads: Vec<String> = lane
                .threads
                .iter()
                .map(|t| {
                    let stages: Vec<&str> = t.stages.iter().map(|s| s.name()).collect();
                    format!(
                        "`{}` [{}] core {}",
                        t.name,
                        stages.join("→"),
                        t.core.map_or("-".to_string(), |c| c.to_string())
                    )
                })
                .collect();
            writeln!(
                w.journal,
                "- lane {i} `{}`: {}",
                lane.name,
                threads.join(", ")
            )?;
        }
        writeln!(
            w.journal,
            "\n### Config\n\n```toml\n{}```\n",
            cfg.effective_toml
        )?;
        writeln!(w.journal, "## Events\n")?;
        w.restore_from_journal()?;
        if let Some(j) = &w.wal {
            let s = &j.stats;
            let text = if s.resumed == 0 {
                format!(
                    "order journal: `{}` (fsync {})",
                    j.path().display(),
                    j.fsync().as_str()
                )
            } else {
                format!(
                    "**restart**: the order journal `{}` holds {} records of an earlier run{}; {}",
                    j.path().display(),
                    s.resumed,
                    if s.torn_bytes > 0 {
                        format!(" (a torn last record of {} bytes was cut)", s.torn_bytes)
                    } else {
                        String::new()
                    },
                    if mode == "run" {
                        "this run appends after them (its client ids carry its own start second)"
                    } else {
                        "this deterministic run derives them again: each is checked against its record and not written twice; only new ones are appended"
                    }
                )
            };
            w.note(&text)?;
        }
        w.journal.flush()?;
        Ok(w)
    }

    fn source_name(&self, lane: usize, source: u8) -> String {
        if source == crate::core::cold::NO_SOURCE {
            return "merged".into();
        }
        self.source_names
            .get(lane)
            .and_then(|v| v.get(usize::from(source)))
            .cloned()
            .unwrap_or_else(|| format!("#{source}"))
    }

    fn symbol(&self, id: Option<crate::core::InstrumentId>) -> String {
        id.map_or_else(|| "-".to_string(), |i| self.table.symbol(i))
    }

    fn decimals(&self, id: crate::core::InstrumentId) -> (u32, u32) {
        self.table
            .get(id)
            .map_or((0, 0), |i| (i.price_decimals(), i.qty_decimals()))
    }

    fn write_record(&mut self, lane: usize, rec: ColdRecord) -> std::io::Result<()> {
        match rec {
            ColdRecord::Anomaly {
                market_ns,
                kind,
                source,
                instrument,
                seq,
                expected,
                got,
            } => {
                self.record_anomaly(
                    lane, market_ns, kind, source, instrument, seq, expected, got,
                );
                let src = self.source_name(lane, source);
                let line = format!(
                    "{} ANOMALY {} lane {lane} source {src} {} seq {seq}: expected {expected}, got {got}",
                    iso8601_ms(market_ns),
                    kind.name(),
                    self.symbol(instrument)
                );
                writeln!(self.log, "{line}")?;
                self.anomalies_journaled[kind.index()] += 1;
                let n = self.anomalies_journaled[kind.index()];
                if n <= JOURNAL_ANOMALY_CAP {
                    writeln!(
                        self.journal,
                        "- `{}` anomaly **{}** {} from `{src}` (message {seq}): expected {expected}, got {got}",
                        iso8601_ms(market_ns),
                        kind.name(),
                        self.symbol(instrument)
                    )?;
                }
                if n == JOURNAL_ANOMALY_CAP {
                    writeln!(
                        self.journal,
                        "- further `{}` anomalies are counted, not journaled (see tickwire.log)",
                        kind.name()
                    )?;
                }
            }
            ColdRecord::Feed {
                source,
                wall_ns,
                event,
            } => {
                let src = self.source_name(lane, source);
                let text = feed_event_text(&event, &self.table);
                writeln!(
                    self.log,
                    "{} FEED lane {lane} source {src}: {text}",
                    iso8601_ms(wall_ns)
                )?;
                self.feed_journaled += 1;
                if self.feed_journaled <= JOURNAL_FEED_CAP {
                    writeln!(
                        self.journal,
                        "- `{}` feed `{src}`: {text}",
                        iso8601_ms(wall_ns)
                    )?;
                }
                if self.feed_journaled == JOURNAL_FEED_CAP {
                    writeln!(
                        self.journal,
                        "- further feed events are counted, not journaled (see tickwire.log)"
                    )?;
                }
            }
            ColdRecord::Malformed {
                source,
                seq,
                recv_ns,
                reason,
                field,
            } => {
                self.record_anomaly(
                    lane,
                    recv_ns,
                    crate::core::stats::AnomalyKind::Malformed,
                    source,
                    None,
                    seq,
                    0,
                    0,
                );
                let src = self.source_name(lane, source);
                writeln!(
                    self.log,
                    "{} MALFORMED lane {lane} source {src} message {seq}: {reason} {field}",
                    iso8601_ms(recv_ns)
                )?;
                self.malformed_journaled += 1;
                if self.malformed_journaled <= JOURNAL_MALFORMED_CAP {
                    writeln!(
                        self.journal,
                        "- malformed message {seq} from `{src}` skipped: {reason} {field}"
                    )?;
                }
                if self.malformed_journaled == JOURNAL_MALFORMED_CAP {
                    writeln!(self.journal, "- further malformed messages are counted, not journaled (see tickwire.log)")?;
                }
            }
            ColdRecord::Decision(d) => self.write_decision(&d)?,
            ColdRecord::Verdict(v) => self.write_verdict(&v)?,
            ColdRecord::Order {
                t,
                purpose,
                strategy,
            } => {
                let (pd, qd) = self.decimals(t.instrument);
                let sym = self.symbol(Some(t.instrument));
                let ts = iso8601_ms(t.market_ns);
                // A new order's reason is what it is for.
                let reason = if t.reason == crate::core::order::Reason::Submit {
                    purpose.as_str()
                } else {
                    t.reason.as_str()
                };
                let row = format!(
                    "{ts},{},{sym},{},{},{},{},{},{reason}",
                    t.client_order_id,
                    t.side.as_str(),
                    t.order_type.as_str(),
                    format_scaled(t.price.0, pd),
                    format_scaled(t.qty.0, qd),
                    t.to.as_str(),
                );
                self.track_order(&t, strategy);
                // Journaled first: the order journal is what a restart trusts.
                if let Some(w) = &mut self.wal {
                    w.record(&format!(
                        "O|{lane}|{row}|{}|{}",
                        t.from.as_str(),
                        format_scaled(t.filled.0, qd)
                    ))?;
                }
                writeln!(self.orders, "{row}")?;
                if t.to != crate::core::order::OrderStatus::Acked {
                    writeln!(
                        self.journal,
                        "- `{ts}` order #{} {sym} {} {} {} @ {} ({}, {}): {} → **{}** ({reason}), filled {}",
                        t.client_order_id,
                        t.side.as_str(),
                        t.order_type.as_str(),
                        format_scaled(t.qty.0, qd),
                        format_scaled(t.price.0, pd),
                        self.strategy_name(strategy),
                        purpose.as_str(),
                        t.from.as_str(),
                        t.to.as_str(),
                        format_scaled(t.filled.0, qd),
                    )?;
                }
            }
            ColdRecord::Fill(e) => {
                if self.record {
                    self.recorded.fills.push(e);
                }
                let (pd, qd) = self.decimals(e.instrument);
                let sym = self.symbol(Some(e.instrument));
                let signed = match e.side {
                    crate::core::event::Side::Buy => e.qty.0,
                    crate::core::event::Side::Sell => -e.qty.0,
                };
                let pos = self.positions.entry((lane, sym.clone())).or_insert(0);
                *pos = pos.saturating_add(signed);
                let ts = iso8601_ms(e.market_ns);
                let row = format!(
                    "{ts},{},{sym},{},{},{},{},{}",
                    e.client_order_id,
                    e.side.as_str(),
                    format_scaled(e.price.0, pd),
                    format_scaled(e.qty.0, qd),
                    format_scaled(e.fee, 8),
                    e.liquidity.as_str(),
                );
                if let Some(w) = &mut self.wal {
                    w.record(&format!("F|{lane}|{row}"))?;
                }
                self.book_fill(&e);
                writeln!(self.fills, "{row}")?;
                writeln!(
                    self.journal,
                    "- `{ts}` fill #{} {sym} {} {} @ {} fee {} ({})",
                    e.client_order_id,
                    e.side.as_str(),
                    format_scaled(e.qty.0, qd),
                    format_scaled(e.price.0, pd),
                    format_scaled(e.fee, 8),
                    e.liquidity.as_str(),
                )?;
            }
            ColdRecord::Breach {
                rule,
                limit,
                value,
                instrument,
                market_ns,
                kill,
            } => {
                let ts = iso8601_ms(market_ns);
                let sym = self.symbol(instrument);
                let (l, v) = (
                    self.rule_value(rule, limit, instrument),
                    self.rule_value(rule, value, instrument),
                );
                writeln!(
                    self.log,
                    "{ts} RISK lane {lane} {} {sym}: limit {l}, value {v}{}",
                    rule.as_str(),
                    if kill { " (kill switch tripped)" } else { "" }
                )?;
                if kill {
                    writeln!(
                        self.journal,
                        "- `{ts}` **KILL SWITCH tripped** by `{}` on {sym}: limit {l}, value {v}. Open orders are cancelled; no opening order is accepted until it is reset.",
                        rule.as_str()
                    )?;
                }
            }
            ColdRecord::Price {
                instrument,
                market_ns,
                price,
            } => {
                if self.record {
                    self.recorded.prices.push((instrument, market_ns, price));
                }
            }
            ColdRecord::Marks {
                instrument,
                first_ns,
                first,
                last_ns,
                last,
            } => {
                self.recorded
                    .marks
                    .push((instrument, first_ns, first, last_ns, last));
            }
            ColdRecord::RefusedReplacement {
                client_order_id,
                verdict,
                market_ns,
            } => {
                writeln!(
                    self.journal,
                    "- `{}` replacement order #{client_order_id} refused by risk, not sent: {}",
                    iso8601_ms(market_ns),
                    self.verdict_text(&verdict, None)
                )?;
            }
            ColdRecord::Equity {
                market_ns,
                equity,
                cash,
                position_value,
            } => {
                if let Some(l) = self.lane_equity.get_mut(lane) {
                    *l = (equity, cash, position_value);
                }
                let equity: i64 = self.lane_equity.iter().map(|l| l.0).sum();
                let cash: i64 = self.lane_equity.iter().map(|l| l.1).sum();
                let position_value: i64 = self.lane_equity.iter().map(|l| l.2).sum();
                self.peak_equity = self.peak_equity.max(equity);
                let dd = if self.peak_equity > 0 {
                    (self.peak_equity - equity) as f64 / self.peak_equity as f64 * 100.0
                } else {
                    0.0
                };
                self.max_drawdown_pct = self.max_drawdown_pct.max(dd);
                self.last_equity = equity;
                self.equity_rows += 1;
                if self.record {
                    self.recorded
                        .equity
                        .push((market_ns, equity, position_value));
                }
                writeln!(
                    self.equity,
                    "{},{},{},{},{dd:.4}",
                    iso8601_ms(market_ns),
                    format_scaled(equity, 8),
                    format_scaled(cash, 8),
                    format_scaled(position_value, 8),
                )?;
            }
        }
        Ok(())
    }

    fn strategy_name(&self, strategy: u8) -> String {
        if strategy == crate::risk::engine::RISK_STRATEGY {
            return "risk".to_string();
        }
        self.strategy_names
            .get(usize::from(strategy))
            .cloned()
            .unwrap_or_else(|| format!("strategy {strategy}"))
    }

    /// A rule's limit or value in its unit: quote, quantity, bps or a count.
    fn rule_value(
        &self,
        rule: RiskRule,
        v: i64,
        instrument: Option<crate::core::InstrumentId>,
    ) -> String {
        let qd = instrument.map_or(8, |i| self.decimals(i).1);
        match rule {
            RiskRule::MaxPosition | RiskRule::MaxOrderQty | RiskRule::MinSize => {
                format_scaled(v, qd)
            }
            RiskRule::MaxGrossExposure
            | RiskRule::MaxNetExposure
            | RiskRule::MaxOrderNotional
            | RiskRule::DailyLoss => format!("{} quote", format_scaled(v, 2)),
            RiskRule::MaxDrawdown => {
                if matches!(self.drawdown_limit, crate::risk::engine::Drawdown::Bps(_)) {
                    format!("{v} bps")
                } else {
                    format!("{} quote", format_scaled(v, 2))
                }
            }
            RiskRule::PriceBand => format!("{v} bps"),
            _ => v.to_string(),
        }
    }

    fn verdict_text(&self, v: &Verdict, instrument: Option<crate::core::InstrumentId>) -> String {
        match v {
            Verdict::Accept => "accepted".to_string(),
            Verdict::Reject { rule, limit, value } => format!(
                "**rejected** by `{}` (limit {}, value {})",
                rule.as_str(),
                self.rule_value(*rule, *limit, instrument),
                self.rule_value(*rule, *value, instrument)
            ),
        }
    }

    fn write_decision(&mut self, d: &DecisionRecord) -> std::io::Result<()> {
        let (pd, qd) = self.decimals(d.instrument);
        let sym = self.symbol(Some(d.instrument));
        let ts = iso8601_ms(d.market_ns);
        let name = self.strategy_name(d.strategy);
        let action = Action::ALL
            .get(usize::from(d.action))
            .map_or("?", |a| a.as_str());
        let suppressed = Suppression::ALL
            .get(usize::from(d.suppressed))
            .map(|s| s.as_str());
        let num = |x: f32| {
            if x.is_nan() {
                String::new()
            } else {
                format!("{x:.4}")
            }
        };
        writeln!(
            self.decisions,
            "{ts},{sym},{name},{action},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            suppressed.unwrap_or(""),
            num(d.score),
            num(d.threshold),
            num(d.exit_threshold),
            num(d.strength),
            num(d.alignment),
            num(d.volume),
            num(d.volatility),
            num(d.confidence),
            num(d.volume_ratio),
            num(d.atr_ratio),
            num(d.raw[0]),
            num(d.raw[1]),
            num(d.raw[2]),
            num(d.raw[3]),
            num(d.raw[4]),
            d.position,
            format_scaled(d.qty.0, qd),
            format_scaled(d.price.0, pd),
            d.intents,
        )?;
        let acted = d.action != Action::Stay.index() as u8;
        let held = matches!(
            suppressed,
            Some(s) if s != Suppression::NotReady.as_str() && s != Suppression::Hysteresis.as_str()
        );
        let journal = acted || (held && self.held_journaled < JOURNAL_HELD_CAP);
        self.last_decision_journaled = journal;
        if held && !acted {
            self.held_journaled += 1;
            if self.held_journaled == JOURNAL_HELD_CAP {
                writeln!(
                    self.journal,
                    "- further suppressed decisions are counted, not journaled (see decisions.csv)"
                )?;
            }
        }
        if !journal {
            return Ok(());
        }
        let mut raw = String::new();
        for (i, r) in Resolution::ALL.iter().enumerate() {
            if !d.raw[i].is_nan() {
                raw.push_str(&format!(" {} {:+.3}", r.label(), d.raw[i]));
            }
        }
        let ratio = |x: f32| {
            if x.is_nan() {
                "-".to_string()
            } else {
                format!("{x:.2}")
            }
        };
        writeln!(
            self.journal,
            "- `{ts}` decision **{name}** {sym} **{action}**{}: score {:+.4} (entry {:.4}, exit {:.4}); parts: strength {:+.4}, alignment {:+.4}, volume {:.4}, volatility {:.4}, confidence {:.4}; raw{raw}; volume ratio {}, ATR ratio {}; close {}{}",
            suppressed.map_or(String::new(), |s| format!(" (held back: {s})")),
            d.score,
            d.threshold,
            d.exit_threshold,
            d.strength,
            d.alignment,
            d.volume,
            d.volatility,
            d.confidence,
            ratio(d.volume_ratio),
            ratio(d.atr_ratio),
            format_scaled(d.price.0, pd),
            if d.intents == 0 {
                "; no order".to_string()
            } else {
                String::new()
            },
        )?;
        Ok(())
    }

    fn write_verdict(&mut self, v: &VerdictRecord) -> std::io::Result<()> {
        let (pd, qd) = self.decimals(v.intent.instrument);
        let sym = self.symbol(Some(v.intent.instrument));
        let ts = iso8601_ms(v.market_ns);
        let text = self.verdict_text(&v.verdict, Some(v.intent.instrument));
        let order = if v.client_order_id != 0 {
            format!(" → order #{}", v.client_order_id)
        } else {
            String::new()
        };
        let what = format!(
            "{} {} {} {} @ {} ({})",
            v.intent.side.as_str(),
            format_scaled(v.intent.qty.0, qd),
            sym,
            v.intent.order_type.as_str(),
            format_scaled(v.intent.price.0, pd),
            v.intent.purpose.as_str()
        );
        writeln!(
            self.log,
            "{ts} VERDICT lane strategy {} {what}: {text}{order}",
            self.strategy_name(v.intent.strategy)
        )?;
        if let Verdict::Reject { rule, .. } = v.verdict {
            // Risk refusals also go to orders.csv: no order exists, so no client id.
            writeln!(
                self.orders,
                "{ts},,{sym},{},{},{},{},rejected,risk_{}",
                v.intent.side.as_str(),
                v.intent.order_type.as_str(),
                format_scaled(v.intent.price.0, pd),
                format_scaled(v.intent.qty.0, qd),
                rule.as_str()
            )?;
        }
        if v.decision {
            if self.last_decision_journaled {
                writeln!(self.journal, "  - risk verdict on {what}: {text}{order}")?;
            }
            return Ok(());
        }
        let rejected = v.verdict != Verdict::Accept;
        if rejected {
            self.held_journaled += 1;
            if self.held_journaled > JOURNAL_HELD_CAP {
                return Ok(());
            }
        }
        writeln!(
            self.journal,
            "- `{ts}` {} intent {what}: risk verdict {text}{order}",
            self.strategy_name(v.intent.strategy)
        )
    }

    fn drain(&mut self) -> std::io::Result<usize> {
        let mut total = 0;
        let mut batch: Vec<(usize, ColdRecord)> = Vec::with_capacity(1024);
        for i in 0..self.inputs.len() {
            batch.clear();
            let lane = self.inputs[i].lane;
            self.inputs[i]
                .ring
                .pop_batch(1024, |r| batch.push((lane, r)));
            total += batch.len();
            for &(lane, r) in &batch {
                self.write_record(lane, r)?;
            }
        }
        self.commit_wal()?;
        Ok(total)
    }

    /// A live run continuing an earlier run's order journal: the fills it holds were booked
    /// into the risk engine before the start (positions, cash, PnL, fees); here the positions
    /// are seeded for the metrics, and every order the journal left live is reconciled with
    /// the paper venue, which keeps no orders across a restart: each is journaled cancelled
    /// (reason `restart`), so no order is left untracked.
    fn restore_from_journal(&mut self) -> std::io::Result<()> {
        let Some(j) = &mut self.wal else {
            return Ok(());
        };
        let previous = j.take_previous();
        if previous.is_empty() {
            return Ok(());
        }
        let r = wal::restore(&previous, &self.table);
        for f in &r.fills {
            let sym = self.table.symbol(f.instrument);
            let signed = match f.side {
                crate::core::event::Side::Buy => f.qty.0,
                crate::core::event::Side::Sell => -f.qty.0,
            };
            let pos = self.positions.entry((f.lane, sym)).or_insert(0);
            *pos = pos.saturating_add(signed);
        }
        let now = iso8601_ms(wall_ns());
        for (lane, id, body) in &r.open {
            let f: Vec<&str> = body.split('|').collect();
            let row: Vec<&str> = f.get(2).map_or(Vec::new(), |x| x.split(',').collect());
            if row.len() != 9 {
                continue;
            }
            let cancelled = format!(
                "O|{lane}|{now},{id},{},{},{},{},{},cancelled,restart|{}|{}",
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                f.get(4).copied().unwrap_or("0")
            );
            if let Some(j) = &mut self.wal {
                j.record(&cancelled)?;
            }
        }
        self.commit_wal()?;
        let positions: Vec<String> = self
            .positions
            .iter()
            .filter(|(_, q)| **q != 0)
            .map(|((lane, sym), q)| {
                let (_, qd) = self
                    .table
                    .lookup(sym.as_bytes())
                    .map_or((0, 8), |i| self.decimals(i));
                format!("{sym} {} (lane {lane})", format_scaled(*q, qd))
            })
            .collect();
        let text = format!(
            "**restored** from the order journal: {} fills booked again (positions, cash, realized PnL and fees carry over; positions: {}); {} order(s) the journal left live reconciled with the paper venue, which keeps none across a restart: journaled cancelled (reason `restart`){}",
            r.fills.len(),
            if positions.is_empty() { "flat".to_string() } else { positions.join(", ") },
            r.open.len(),
            if r.unreadable > 0 {
                format!("; {} unreadable records skipped", r.unreadable)
            } else {
                String::new()
            }
        );
        self.note(&text)
    }

    /// Makes the order journal's new records durable; journals a divergence from an earlier
    /// run's records once.
    fn commit_wal(&mut self) -> std::io::Result<()> {
        let Some(w) = &mut self.wal else {
            return Ok(());
        };
        w.commit()?;
        if let (Some((i, was, now)), false) = (&w.stats.diverged, self.wal_diverged_told) {
            let text = format!(
                "order journal diverges from the earlier run at record {i}: it holds `{was}`, this run derived `{now}`; new records are appended after it"
            );
            self.wal_diverged_told = true;
            let ts = iso8601_ms(wall_ns());
            writeln!(self.journal, "- `{ts}` **error**: {text}")?;
            writeln!(self.log, "{ts} ERROR {text}")?;
        }
        Ok(())
    }

    /// Net positions for `summary.json`: "lane/SYMBOL" → exact decimal (non-zero only).
    pub fn positions_summary(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for ((lane, sym), q) in &self.positions {
            if *q != 0 {
                m.insert(format!("{lane}/{sym}"), format_scaled(*q, 8).into());
            }
        }
        serde_json::Value::Object(m)
    }

    /// The order journal's figures for `summary.json`.
    pub fn order_journal_summary(&self) -> serde_json::Value {
        match &self.wal {
            None => serde_json::Value::Null,
            Some(w) => serde_json::json!({
                "path": w.path().display().to_string(),
                "fsync": w.fsync().as_str(),
                "resumed": w.stats.resumed,
                "torn_bytes": w.stats.torn_bytes,
                "matched": w.stats.matched,
                "appended": w.stats.appended,
                "unmatched": w.unmatched(),
                "diverged_at": w.stats.diverged.as_ref().map(|d| d.0),
            }),
        }
    }

    fn all_closed(&self) -> bool {
        self.inputs.iter().all(|i| i.ring.is_closed())
    }

    /// Watches the hot threads and rings of `tele` (see [`crate::ops`]); returns where the
    /// monitor publishes its latest metrics and health, for the HTTP endpoint.
    pub fn monitor(
        &mut self,
        tele: crate::ops::Telemetry,
    ) -> Arc<std::sync::Mutex<crate::ops::Published>> {
        let m = crate::ops::Monitor::new(tele);
        let published = m.published.clone();
        self.monitor = Some(m);
        published
    }

    /// One health reading: journals stalls and recoveries, publishes metrics and health.
    fn health_sample(&mut self) -> std::io::Result<()> {
        let Some(mut m) = self.monitor.take() else {
            return Ok(());
        };
        let totals = self.totals();
        let events = m.sample(
            Instant::now(),
            &crate::ops::Extra {
                mode: &self.mode,
                totals: &totals,
                equity: self.last_equity,
                positions: &self.positions,
                rss_kib: rss_kib(),
            },
        );
        self.monitor = Some(m);
        for e in events {
            use crate::ops::HealthEvent as H;
            let ts = iso8601_ms(wall_ns());
            // Each event: its journal line, and its log level and fields.
            let (journal, level, log) = match e {
                H::Healed { thread, heal } => {
                    self.write_heal(&ts, &thread, &heal)?;
                    continue;
                }
                H::Stalled { thread, silent_ms } => (
                    format!("**stall**: hot thread `{thread}` has not moved for {silent_ms} ms (not ready until it does)"),
                    "WARN",
                    format!("stall thread={thread} silent_ms={silent_ms}"),
                ),
                H::Recovered { thread, stalled_ms } => (
                    format!("recovered: hot thread `{thread}` moves again after a {stalled_ms} ms stall"),
                    "INFO",
                    format!("recovered thread={thread} stalled_ms={stalled_ms}"),
                ),
                H::Throttled { reasons, actions } => (
                    format!("**breach**: {reasons}: throttled ({actions}) until it clears"),
                    "WARN",
                    format!("breach throttle reasons=\"{reasons}\""),
                ),
                H::Escalated { reasons, after_s } => (
                    format!("**breach escalated** after {after_s} s ({reasons}): kill switch requested"),
                    "ERROR",
                    format!("breach escalate after_s={after_s} reasons=\"{reasons}\""),
                ),
                H::Unthrottled { clear_s } => (
                    format!("breach cleared for {clear_s} s: throttle lifted"),
                    "INFO",
                    format!("breach cleared clear_s={clear_s}"),
                ),
                H::SafeStop { thread, reason } => (
                    format!("**safe stop** asked by `{thread}`: {reason}. Sources stop; what is in flight drains; reports are written"),
                    "ERROR",
                    format!("safe_stop thread={thread} reason=\"{reason}\""),
                ),
            };
            writeln!(self.journal, "- `{ts}` {journal}")?;
            writeln!(self.log, "{ts} {level} {log}")?;
        }
        Ok(())
    }

    /// Journals a caught stage panic: what the stage was handling and what came of it.
    fn write_heal(
        &mut self,
        ts: &str,
        thread: &str,
        heal: &crate::core::health::Heal,
    ) -> std::io::Result<()> {
        use crate::core::health::HealOutcome;
        let stage = heal.stage.name();
        let i = &heal.input;
        let input = format!(
            "{} {} at {} (message #{})",
            i.kind,
            self.symbol(i.instrument),
            iso8601_ms(i.market_ns),
            i.seq
        );
        let (what, level) = match &heal.outcome {
            HealOutcome::Retried => {
                self.healed.0 += 1;
                (
                    "state restored from its snapshot and the input handled again: nothing lost"
                        .to_string(),
                    "WARN",
                )
            }
            HealOutcome::Lost => {
                self.healed.1 += 1;
                (
                    "the input was dropped: what it would have caused downstream is lost".into(),
                    "ERROR",
                )
            }
            HealOutcome::Stopped(why) => {
                self.healed.1 += 1;
                (
                    format!("the input was dropped and the run stops safely: {why}"),
                    "ERROR",
                )
            }
        };
        writeln!(
            self.journal,
            "- `{ts}` **restart** stage `{stage}` on `{thread}` panicked on {input}: {} — {what}",
            heal.panic
        )?;
        writeln!(
            self.log,
            "{ts} {level} stage_panic thread={thread} stage={stage} input=\"{input}\" panic=\"{}\" outcome=\"{what}\"",
            heal.panic
        )
    }

    /// A line in the journal's events and the log (before the run starts, or from the cold
    /// thread).
    pub fn note(&mut self, text: &str) -> std::io::Result<()> {
        let ts = iso8601_ms(wall_ns());
        writeln!(self.journal, "- `{ts}` {text}")?;
        writeln!(self.log, "{ts} INFO {text}")
    }

    /// Totals across lanes, for status lines and metrics.
    pub fn totals(&self) -> Totals {
        Totals::of(&self.lanes, &self.resolutions, &self.source_names)
    }

    fn metrics_line(&mut self) -> std::io::Result<()> {
        let t = self.totals();
        let line = serde_json::json!({
            "ts": iso8601_ms(wall_ns()),
            "elapsed_s": self.started.elapsed().as_secs_f64(),
            "rss_kib": rss_kib(),
            "heap_live_kib": crate::core::alloc::heap_live_bytes() / 1024,
            "messages": t.received,
            "parsed": t.parsed,
            "malformed": t.malformed,
            "trades": t.trades,
            "book_tickers": t.book_tickers,
            "candles": t.candles,
            "signals": t.signals,
            "orders": t.orders,
            "fills": t.fills,
            "anomalies": t.anomalies,
            "cold_drops": t.cold_drops,
            "failovers": t.failovers,
            "failbacks": t.failbacks,
            "realized": t.realized as f64 / 1e8,
            "fees": t.fees as f64 / 1e8,
            "equity": self.last_equity as f64 / 1e8,
            "sources": t.sources.iter().map(|s| serde_json::json!({
                "lane": s.lane,
                "name": s.name,
                "messages": s.messages,
                "trades": s.trades,
                "malformed": s.malformed,
                "disconnects": s.disconnects,
                "stale": s.stale,
                "clock_offset_ms": s.clock_offset_ms,
                "latency_ms": s.latency_ms,
                "health": s.health,
            })).collect::<Vec<_>>(),
        });
        writeln!(self.metrics, "{line}")
    }

    fn status(&self, last: &mut (Instant, u64), tty: bool) {
        let t = self.totals();
        let dt = last.0.elapsed().as_secs_f64().max(1e-9);
        let rate = (t.received - last.1) as f64 / dt;
        *last = (Instant::now(), t.received);
        let line = format!(
            "[tickwire {}] {:>6.1}s  msgs {} ({:.1}k/s)  trades {}  candles {}  signals {}  orders {}  fills {}  pnl {:.2}  fees {:.2}  anomalies {}  drops {}",
            self.mode,
            self.started.elapsed().as_secs_f64(),
            t.received,
            rate / 1000.0,
            t.trades,
            t.candles,
            t.signals,
            t.orders,
            t.fills,
            (t.realized + t.unrealized) as f64 / 1e8,
            t.fees as f64 / 1e8,
            t.anomalies,
            t.cold_drops
        );
        let mut err = std::io::stderr().lock();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Runs until `hot_done` is set and every ring is drained and closed.
    pub fn run(mut self, hot_done: Arc<AtomicBool>) -> std::io::Result<Self> {
        let tty = std::io::stderr().is_terminal();
        let mut next_status = Instant::now() + self.status_every;
        let mut next_metrics = Instant::now() + self.metrics_every;
        let mut next_health = Instant::now();
        let mut next_journal = Instant::now() + self.journal_every;
        let mut last = (Instant::now(), 0u64);
        loop {
            let n = self.drain()?;
            self.recorder_notes()?;
            let now = Instant::now();
            if now >= next_metrics {
                self.metrics_line()?;
                self.metrics.flush()?;
                next_metrics = now + self.metrics_every;
            }
            if now >= next_health {
                self.recorder_drops()?;
                self.health_sample()?;
                self.rotate_journal_if_due()?;
                next_health = now + Duration::from_secs(1);
            }
            if now >= next_journal {
                self.periodic_summary(now)?;
                next_journal = now + self.journal_every;
            }
            if now >= next_status {
                if self.status_line {
                    self.status(&mut last, tty);
                }
                // Nothing is lost on a crash beyond the last status period.
                self.flush()?;
                next_status = now + self.status_every;
            }
            if n == 0 {
                if hot_done.load(Ordering::Acquire) && self.all_closed() {
                    // One last pass: records pushed just before the close.
                    if self.drain()? == 0 {
                        break;
                    }
                    continue;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.commit_wal()?;
        // Every anomaly is handed on: the recorder may finish.
        if let Some(r) = &mut self.recorder {
            r.anomalies = None;
        }
        let unmatched = self.wal.as_ref().map_or(0, wal::OrderJournal::unmatched);
        if unmatched > 0 {
            self.note(&format!(
                "the order journal holds {unmatched} records of the earlier run that this run did not derive (it ended before reaching them)"
            ))?;
        }
        self.metrics_line()?;
        self.health_sample()?;
        if self.status_line {
            self.status(&mut last, tty);
            if tty {
                eprintln!();
            }
        }
        self.flush()?;
        Ok(self)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.journal.flush()?;
        self.log.flush()?;
        self.orders.flush()?;
        self.fills.flush()?;
        self.decisions.flush()?;
        self.equity.flush()?;
        self.metrics.flush()
    }

    /// Appends the final summary and the lessons to the journal. `latency`: the run's merged
    /// latency per stage.
    pub fn finish_journal(
        &mut self,
        summary_md: &str,
        latency: &BTreeMap<String, hdrhistogram::Histogram<u64>>,
    ) -> std::io::Result<()> {
        writeln!(self.journal, "\n## Final summary\n\n{summary_md}")?;
        let lessons = self.lessons(latency);
        writeln!(self.journal, "## Lessons\n\n{lessons}")?;
        if !self.journal_parts.is_empty() {
            writeln!(
                self.journal,
                "\nEarlier parts of this journal: {}",
                self.journal_parts
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        self.journal.flush()
    }

    /// Remembers which strategy an order belongs to until its last fill has been booked.
    fn track_order(&mut self, t: &crate::core::order::OrderTransition, strategy: u8) {
        use crate::core::order::OrderStatus;
        match t.to {
            OrderStatus::Sent => {
                self.order_strategy
                    .insert(t.client_order_id, (strategy, false));
            }
            // The fill that completes an order is sent after the transition: keep it for that.
            OrderStatus::Filled => {
                if let Some(e) = self.order_strategy.get_mut(&t.client_order_id) {
                    e.1 = true;
                }
            }
            OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired => {
                self.order_strategy.remove(&t.client_order_id);
            }
            _ => {}
        }
    }

    /// Books a fill to its strategy's account (for the lessons).
    fn book_fill(&mut self, e: &crate::core::order::Execution) {
        let Some(&(strategy, last)) = self.order_strategy.get(&e.client_order_id) else {
            return;
        };
        if last {
            self.order_strategy.remove(&e.client_order_id);
        }
        let sign: i128 = match e.side {
            crate::core::event::Side::Buy => 1,
            crate::core::event::Side::Sell => -1,
        };
        let b = self
            .strategy_books
            .entry((strategy, e.instrument.0))
            .or_insert((0, 0, 0));
        b.0 += sign * i128::from(e.price.0) * i128::from(e.qty.0);
        b.1 += sign * i128::from(e.qty.0);
        b.2 += i128::from(e.fee);
    }

    /// One periodic summary line: activity since the last one, PnL, latency, anomalies by
    /// category and by source.
    /// Hands an anomaly to the recorder (never waits: a full queue counts a drop).
    #[allow(clippy::too_many_arguments)]
    fn record_anomaly(
        &mut self,
        lane: usize,
        market_ns: u64,
        kind: crate::core::stats::AnomalyKind,
        source: u8,
        instrument: Option<crate::core::InstrumentId>,
        seq: u64,
        expected: i64,
        got: i64,
    ) {
        let Some(link) = &mut self.recorder else {
            return;
        };
        let Some(tx) = &link.anomalies else {
            return;
        };
        let a = crate::catalog::recorder::AnomalyIn {
            lane,
            instrument,
            row: crate::catalog::rows::AnomalyRow {
                ts_ns: i64::try_from(market_ns).unwrap_or(i64::MAX),
                category: kind.index() as u8,
                source,
                seq,
                expected,
                got,
            },
        };
        if tx.try_send(a).is_err() {
            link.anomaly_drops += 1;
        }
    }

    /// Attaches the catalog recorder.
    pub fn attach_recorder(&mut self, link: RecorderLink) {
        self.recorder = Some(link);
    }

    /// Writes what the recorder said into the log and the journal.
    pub fn recorder_notes(&mut self) -> std::io::Result<()> {
        use crate::catalog::recorder::Note;
        let Some(link) = &self.recorder else {
            return Ok(());
        };
        let notes: Vec<Note> = link.notes.try_iter().collect();
        for n in notes {
            let ts = iso8601_ms(wall_ns());
            match n {
                Note::Log(line) => writeln!(self.log, "{ts} INFO {line}")?,
                Note::Journal(line) => {
                    writeln!(self.log, "{ts} INFO {line}")?;
                    writeln!(self.journal, "- `{ts}` {line}")?;
                }
            }
        }
        Ok(())
    }

    /// Journals the recorder's drops when they have grown (at most once a second).
    fn recorder_drops(&mut self) -> std::io::Result<()> {
        let Some(link) = &mut self.recorder else {
            return Ok(());
        };
        let n = link.drops();
        if n == link.told_drops {
            return Ok(());
        }
        let new = n - link.told_drops;
        link.told_drops = n;
        let line = format!(
            "**recorder dropped** {new} records ({n} so far): ring full {}, anomalies {}, buffer full {}; the hot path did not wait",
            link.shared.dropped_ring.load(Ordering::Relaxed),
            link.anomaly_drops,
            link.shared.dropped_buffer.load(Ordering::Relaxed)
        );
        let ts = iso8601_ms(wall_ns());
        writeln!(self.log, "{ts} WARN {line}")?;
        writeln!(self.journal, "- `{ts}` {line}")
    }

    /// The recorder's last words at the end of a run: its remaining notes, its drops, and
    /// one line of totals. Fills in the anomalies this thread could not hand on.
    pub fn finish_recorder(
        &mut self,
        report: &mut crate::catalog::recorder::RecorderReport,
    ) -> std::io::Result<()> {
        self.recorder_notes()?;
        self.recorder_drops()?;
        if let Some(link) = &self.recorder {
            report.dropped_anomalies = link.anomaly_drops;
        }
        let taken: u64 = report.taken.values().sum();
        let line = format!(
            "recorder: {taken} rows taken in, {} written to `{}` ({} duplicates, {} conflicts) in {} versions{}; dropped: ring {}, anomalies {}, buffer {}; unrecordable {}; lost {}",
            report.written,
            report.catalog,
            report.duplicates,
            report.conflicts,
            report.flushes,
            report
                .versions
                .map(|(a, b)| format!(" ({a}–{b})"))
                .unwrap_or_default(),
            report.dropped_ring,
            report.dropped_anomalies,
            report.dropped_buffer,
            report.unrecordable,
            report.lost
        );
        let ts = iso8601_ms(wall_ns());
        writeln!(self.log, "{ts} INFO {line}")?;
        writeln!(self.journal, "- `{ts}` {line}")?;
        self.flush()
    }

    fn periodic_summary(&mut self, now: Instant) -> std::io::Result<()> {
        let t = self.totals();
        let since = self.last_summary.as_ref();
        let d = |f: &dyn Fn(&Totals) -> u64| f(&t).saturating_sub(since.map_or(0, |(_, p)| f(p)));
        let secs = since.map_or(self.started.elapsed(), |(at, _)| now.duration_since(*at));
        let anomalies: Vec<String> = t
            .anomalies_by_kind
            .iter()
            .filter_map(|(k, n)| {
                let before = since
                    .and_then(|(_, p)| p.anomalies_by_kind.iter().find(|(pk, _)| pk == k))
                    .map_or(0, |x| x.1);
                (n > &before).then(|| format!("{} {}", k.name(), n - before))
            })
            .collect();
        let mut sources: Vec<String> = t
            .sources
            .iter()
            .map(|s| {
                let a: u64 = s.anomalies.values().sum();
                format!("{} health {:.0}, {a} anomalies", s.name, s.health)
            })
            .collect();
        sources.truncate(6);
        let p99 = self
            .monitor
            .as_ref()
            .and_then(|m| m.end_to_end_p99(now, "60s"))
            .map_or("-".to_string(), |v| format!("{:.1} µs", v as f64 / 1e3));
        writeln!(
            self.journal,
            "- `{}` **summary** (last {} s): {} messages, {} trades, {} candles, {} orders, {} fills; PnL realized {:.2}, unrealized {:.2}, fees {:.2}, equity {:.2}; end-to-end p99 (60 s) {p99}; anomalies {}; sources: {}; cold drops {}{}",
            iso8601_ms(wall_ns()),
            secs.as_secs(),
            d(&|t| t.received),
            d(&|t| t.trades),
            d(&|t| t.candles),
            d(&|t| t.orders),
            d(&|t| t.fills),
            t.realized as f64 / 1e8,
            t.unrealized as f64 / 1e8,
            t.fees as f64 / 1e8,
            self.last_equity as f64 / 1e8,
            if anomalies.is_empty() { "none".to_string() } else { anomalies.join(", ") },
            if sources.is_empty() { "-".to_string() } else { sources.join("; ") },
            t.cold_drops,
            self.recorder.as_ref().map_or(String::new(), |r| format!(
                "; recorder {} rows taken, {} written, {} dropped",
                r.shared.taken.load(Ordering::Relaxed),
                r.shared.written.load(Ordering::Relaxed),
                r.drops()
            )),
        )?;
        self.last_summary = Some((now, t));
        Ok(())
    }

    /// Rotates `journal.md` when it has grown past `ops.journal_max_kib`, or at UTC midnight
    /// (`ops.journal_rotate_daily`): the full part keeps its name with the day and a number,
    /// and a new `journal.md` starts by naming it.
    fn rotate_journal_if_due(&mut self) -> std::io::Result<()> {
        let day = wall_ns() / DAY_NS;
        let path = self.dir.join("journal.md");
        self.journal.flush()?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        let new_day = self.journal_daily && day != self.journal_day;
        if size < self.journal_max_bytes && !new_day {
            return Ok(());
        }
        let date = &iso8601_ms(self.journal_day * DAY_NS)[..10];
        let name = format!("journal.{date}.{}.md", self.journal_parts.len() + 1);
        let why = if new_day {
            "a new UTC day"
        } else {
            "ops.journal_max_kib"
        };
        writeln!(self.journal, "\n_Continued in `journal.md` ({why})._")?;
        self.journal.flush()?;
        std::fs::rename(&path, self.dir.join(&name))?;
        self.journal = create(&self.dir, "journal.md")?;
        self.journal_day = day;
        writeln!(
            self.journal,
            "# tickwire journal: {} (continued)\n\nThe part before this one: `{name}` ({why}).\n\n## Events\n",
            self.mode
        )?;
        self.journal_parts.push(name);
        Ok(())
    }

    /// The closing lessons: the sources with the most anomalies, the slowest stage, and the
    /// strategies that lost money.
    fn lessons(&self, latency: &BTreeMap<String, hdrhistogram::Histogram<u64>>) -> String {
        let t = self.totals();
        let mut out = String::new();
        let mut sources: Vec<(&SourceTotals, u64)> = t
            .sources
            .iter()
            .map(|s| (s, s.anomalies.values().sum::<u64>() + s.malformed))
            .filter(|(_, n)| *n > 0)
            .collect();
        sources.sort_by_key(|x| std::cmp::Reverse(x.1));
        if sources.is_empty() {
            out.push_str("- Anomalies: no source had any.\n");
        } else {
            let top: Vec<String> = sources
                .iter()
                .take(3)
                .map(|(s, n)| {
                    let mut kinds: Vec<String> = s
                        .anomalies
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect();
                    if s.malformed > 0 {
                        kinds.push(format!("malformed {}", s.malformed));
                    }
                    format!("`{}` {n} ({})", s.name, kinds.join(", "))
                })
                .collect();
            out.push_str(&format!("- Top anomaly sources: {}.\n", top.join("; ")));
        }
        let slowest = latency
            .iter()
            .filter(|(k, h)| *k != "tick_to_order" && *k != "end_to_end" && !h.is_empty())
            .max_by_key(|(_, h)| h.value_at_quantile(0.99));
        match slowest {
            Some((stage, h)) => out.push_str(&format!(
                "- Slowest stage: `{stage}`, p99 {:.1} µs (p50 {:.1} µs, max {:.1} µs).\n",
                h.value_at_quantile(0.99) as f64 / 1e3,
                h.value_at_quantile(0.5) as f64 / 1e3,
                h.max() as f64 / 1e3
            )),
            None => out.push_str("- Slowest stage: no latency was sampled.\n"),
        }
        // Per-strategy PnL, marked at each instrument's last price.
        let last: BTreeMap<u16, crate::core::Price> =
            self.recorded.marks.iter().map(|m| (m.0 .0, m.4)).collect();
        let mut per: BTreeMap<u8, f64> = BTreeMap::new();
        for (&(strategy, instrument), &(paid, qty, fees)) in &self.strategy_books {
            // Prices and quantities are at 10⁻⁸, so their products at 10⁻¹⁶.
            let mark = last.get(&instrument).map_or(0, |p| i128::from(p.0));
            let value = qty * mark - paid;
            *per.entry(strategy).or_default() += value as f64 / 1e16 - fees as f64 / 1e8;
        }
        let losers: Vec<String> = per
            .iter()
            .filter(|(_, v)| **v < 0.0)
            .map(|(s, v)| format!("`{}` {v:.2}", self.strategy_name(*s)))
            .collect();
        let winners: Vec<String> = per
            .iter()
            .filter(|(_, v)| **v >= 0.0)
            .map(|(s, v)| format!("`{}` {v:+.2}", self.strategy_name(*s)))
            .collect();
        if per.is_empty() {
            out.push_str("- Strategies: none traded.\n");
        } else if losers.is_empty() {
            out.push_str(&format!(
                "- Strategies that lost money: none (net of fees, marked at the last price: {}).\n",
                winners.join(", ")
            ));
        } else {
            out.push_str(&format!(
                "- Strategies that lost money (net of fees, marked at the last price): {}{}.\n",
                losers.join(", "),
                if winners.is_empty() {
                    String::new()
                } else {
                    format!("; the others: {}", winners.join(", "))
                }
            ));
        }
        out
    }

    /// The report directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// What a backtest keeps in memory for its statistics (cold side, `backtest` mode only;
/// the marks always).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Every fill, in journal order.
    pub fills: Vec<crate::core::order::Execution>,
    /// Account snapshots: (market ns, equity, position value), quote at 10⁻⁸.
    pub equity: Vec<(u64, i64, i64)>,
    /// Last trade per instrument at each account snapshot: (instrument, ns, price).
    pub prices: Vec<(crate::core::InstrumentId, u64, crate::core::Price)>,
    /// First and last trade per instrument: (instrument, first ns, first, last ns, last).
    pub marks: Vec<(
        crate::core::InstrumentId,
        u64,
        crate::core::Price,
        u64,
        crate::core::Price,
    )>,
}

/// The trading side's totals across lanes (money at 10⁻⁸ quote).
#[derive(Clone, Debug, Default)]
pub struct TradingTotals {
    /// Strategy decisions taken.
    pub decisions: u64,
    /// Intents emitted (strategies and the risk engine's own exits).
    pub intents: u64,
    /// Risk checks.
    pub risk_checks: u64,
    /// Intents the risk engine refused.
    pub risk_rejected: u64,
    /// Exits the risk engine sent itself.
    pub risk_exits: u64,
    /// Kill-switch trips.
    pub kill_trips: u64,
    /// The kill switch is on at the end.
    pub kill_switch_on: bool,
    /// Retries and replacements refused by risk.
    pub refused_replacements: u64,
    /// Accepted intents the blotter could not take.
    pub submit_refused: u64,
    /// Reports refused by the order state machine or the risk engine.
    pub bad_reports: u64,
    /// Orders the venue received.
    pub venue_orders: u64,
    /// Fills the venue sent.
    pub venue_fills: u64,
    /// Reports the venue could not queue (must be 0).
    pub venue_lost_reports: i64,
    /// The risk engine's cash (initial equity included).
    pub risk_cash: i64,
    /// The risk engine's fees.
    pub risk_fees: i64,
    /// The risk engine's realized PnL.
    pub risk_realized: i64,
    /// The venue account's cash (from 0).
    pub venue_cash: i64,
    /// The venue account's fees.
    pub venue_fees: i64,
    /// The venue account's realized PnL.
    pub venue_realized: i64,
}

/// Counter totals across lanes.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Raw messages.
    pub received: u64,
    /// Parsed.
    pub parsed: u64,
    /// Malformed.
    pub malformed: u64,
    /// Skipped by kind name.
    pub skipped: Vec<(&'static str, u64)>,
    /// Trades.
    pub trades: u64,
    /// Book tickers.
    pub book_tickers: u64,
    /// Candles over all resolutions.
    pub candles: u64,
    /// Candles per resolution.
    pub candles_by_res: Vec<(Resolution, u64)>,
    /// Indicator updates.
    pub indicator_updates: u64,
    /// The lanes' indicator digests, combined ([`crate::core::stats::StrategyStats::indicator_digest`]).
    pub indicator_digest: u64,
    /// Signals.
    pub signals: u64,
    /// Orders sent.
    pub orders: u64,
    /// Orders refused by risk.
    pub orders_rejected: u64,
    /// Fills.
    pub fills: u64,
    /// Venue rejects.
    pub venue_rejected: u64,
    /// Anomalies over all kinds.
    pub anomalies: u64,
    /// Per kind.
    pub anomalies_by_kind: Vec<(AnomalyKind, u64)>,
    /// Cold records dropped.
    pub cold_drops: u64,
    /// Realized PnL (10⁻⁸).
    pub realized: i64,
    /// Unrealized PnL (10⁻⁸).
    pub unrealized: i64,
    /// Fees (10⁻⁸).
    pub fees: i64,
    /// The trading side: decisions, intents, risk and the books of both sides.
    pub trading: TradingTotals,
    /// Per source (feed line or replay file), per lane.
    pub sources: Vec<SourceTotals>,
    /// Arbiter: events passed on, dropped, late gap fills, failovers, failbacks.
    pub arbiter_passed: u64,
    /// Events the arbiter dropped (redundant copies, duplicates, held-back primaries).
    pub arbiter_dropped: u64,
    /// Missing trade ids delivered later by another line.
    pub gaps_filled: u64,
    /// Failovers to a backup source.
    pub failovers: u64,
    /// Failbacks to the primaries.
    pub failbacks: u64,
    /// Events put back into corrected-time order.
    pub reordered: u64,
    /// Events later than the reorder window.
    pub reorder_late: u64,
    /// Candles re-emitted after late trades.
    pub candle_revisions: u64,
    /// Flat candles emitted for empty buckets.
    pub candles_filled: u64,
    /// Trades whose live candles were shed under a breach.
    pub candles_live_shed: u64,
    /// Indicator states rewound for a revised candle.
    pub indicator_rewinds: u64,
}

/// What one source delivered, and how healthy it was.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SourceTotals {
    /// Lane index.
    pub lane: usize,
    /// Source name (feed name or file name).
    pub name: String,
    /// Messages received.
    pub messages: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Messages refused as malformed.
    pub malformed: u64,
    /// Trade messages.
    pub trade_messages: u64,
    /// Trades decoded.
    pub trades: u64,
    /// Quote messages (ticker / bookTicker).
    pub quotes: u64,
    /// Depth diff messages.
    pub depth: u64,
    /// Book snapshots.
    pub snapshots: u64,
    /// Venue candles.
    pub klines: u64,
    /// Quotes derived from the order book.
    pub book_quotes: u64,
    /// Depth-sequence gaps.
    pub book_gaps: u64,
    /// Depth updates older than the book.
    pub book_stale: u64,
    /// Depth messages with no book to go to.
    pub book_unplaced: u64,
    /// Book levels dropped (side full).
    pub book_truncated: u64,
    /// Skipped by kind (non-zero only).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Trades this source delivered first.
    pub first_delivered: u64,
    /// Trades another line had already delivered (A/B redundancy).
    pub redundant: u64,
    /// Anomalies attributed to this source (non-zero only).
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Connects / disconnects / stale detections / protocol errors (live feeds).
    pub connects: u64,
    /// Disconnections of established connections.
    pub disconnects: u64,
    /// Connection attempts that failed before connecting.
    pub connect_failures: u64,
    /// Stale-stream detections.
    pub stale: u64,
    /// Protocol errors.
    pub protocol_errors: u64,
    /// Clock offset estimate, receive minus venue time (ms).
    pub clock_offset_ms: f64,
    /// Offset drift (parts per million).
    pub clock_drift_ppm: f64,
    /// Smoothed delay above the offset floor (ms).
    pub latency_ms: f64,
    /// Health score 0–100 (see [`health_score`]).
    pub health: f64,
}

/// A source's health, 0 (dead) to 100: starts at 100 and loses up to
/// 40 for errors (malformed per message, ×100, capped at 1),
/// 25 for gaps (book gaps + trade-id gaps per message, ×1000, capped),
/// 20 for instability (disconnects + stale detections, 5 points each),
/// 15 for latency jitter (1 point per 10 ms above the offset floor).
pub fn health_score(s: &SourceTotals) -> f64 {
    let msgs = s.messages.max(1) as f64;
    let err = (s.malformed as f64 / msgs * 100.0).min(1.0) * 40.0;
    let gaps = s.book_gaps + s.anomalies.get("gap").copied().unwrap_or(0);
    let gap = (gaps as f64 / msgs * 1000.0).min(1.0) * 25.0;
    let unstable = ((s.disconnects + s.stale) as f64 * 5.0).min(20.0);
    let jitter = (s.latency_ms.max(0.0) / 10.0).min(15.0);
    if s.messages == 0 {
        return 0.0;
    }
    (100.0 - err - gap - unstable - jitter).max(0.0)
}

impl SourceTotals {
    fn of(lane: usize, name: &str, i: usize, l: &LaneStats) -> Self {
        use crate::feed::parse::SkipKind;
        let ss = l.sources.get(i);
        let sa = l.source_arb.get(i);
        let mut t = SourceTotals {
            lane,
            name: name.to_string(),
            messages: ss.messages.get(),
            bytes: ss.bytes.get(),
            malformed: ss.malformed.get(),
            trade_messages: ss.trade_msgs.get(),
            trades: ss.trades.get(),
            quotes: ss.quotes.get(),
            depth: ss.depth.get(),
            snapshots: ss.snapshots.get(),
            klines: ss.klines.get(),
            book_quotes: ss.book_quotes.get(),
            book_gaps: ss.book_gaps.get(),
            book_stale: ss.book_stale.get(),
            book_unplaced: ss.book_unplaced.get(),
            book_truncated: ss.book_truncated.get(),
            skipped: SkipKind::ALL
                .iter()
                .map(|k| (k.name(), ss.skipped[k.index()].get()))
                .filter(|x| x.1 > 0)
                .collect(),
            first_delivered: sa.first.get(),
            redundant: sa.redundant.get(),
            anomalies: AnomalyKind::ALL
                .iter()
                .map(|k| (k.name(), sa.anomalies[k.index()].get()))
                .filter(|x| x.1 > 0)
                .collect(),
            connects: ss.connects.get(),
            disconnects: ss.disconnects.get(),
            connect_failures: ss.connect_failures.get(),
            stale: ss.stale.get(),
            protocol_errors: ss.protocol_errors.get(),
            clock_offset_ms: ss.clock_offset_ns.get() as f64 / 1e6,
            clock_drift_ppm: ss.clock_drift_ppb.get() as f64 / 1e3,
            latency_ms: ss.latency_ns.get() as f64 / 1e6,
            health: 0.0,
        };
        t.health = health_score(&t);
        t
    }
}

impl Totals {
    /// Sums counters over lanes; `names` are the source names per lane.
    pub fn of(lanes: &[Arc<LaneStats>], resolutions: &[Resolution], names: &[Vec<String>]) -> Self {
        use crate::feed::parse::SkipKind;
        let mut t = Totals::default();
        let sum = |f: &dyn Fn(&LaneStats) -> u64| lanes.iter().map(|l| f(l)).sum::<u64>();
        t.received = sum(&|l| l.parse.received.get());
        t.parsed = sum(&|l| l.parse.parsed.get());
        t.malformed = sum(&|l| l.parse.malformed.get());
        t.skipped = SkipKind::ALL
            .iter()
            .map(|k| (k.name(), sum(&|l| l.parse.skipped[k.index()].get())))
            .collect();
        t.trades = sum(&|l| l.parse.trades.get());
        t.book_tickers = sum(&|l| l.parse.book_tickers.get());
        t.candles_by_res = resolutions
            .iter()
            .map(|r| (*r, sum(&|l| l.candles_closed(*r))))
            .collect();
        t.candles = t.candles_by_res.iter().map(|x| x.1).sum();
        t.indicator_updates = sum(&|l| l.strategy.indicator_updates.get());
        t.indicator_digest = lanes.iter().fold(0u64, |h, l| {
            h.rotate_left(17) ^ l.strategy.indicator_digest.get()
        });
        t.signals = sum(&|l| l.strategy.signals.get());
        t.orders = sum(&|l| l.risk.orders.get());
        t.orders_rejected = sum(&|l| l.risk.rejected.get());
        t.fills = sum(&|l| l.risk.fills.get());
        t.venue_rejected = sum(&|l| l.venue.rejected.get());
        t.anomalies_by_kind = AnomalyKind::ALL
            .iter()
            .map(|k| {
                let arb = sum(&|l| {
                    l.arbiter.anomalies[k.index()].get() + l.parse.anomalies[k.index()].get()
                });
                let extra = match k {
                    AnomalyKind::Malformed => t.malformed,
                    AnomalyKind::LateTrade => sum(&|l| l.candles.late.get()),
                    AnomalyKind::OrderState => sum(&|l| l.risk.bad_reports.get()),
                    // Stale feeds detected by the live sources (connection-level staleness).
                    AnomalyKind::Stale => {
                        sum(&|l| l.sources.0.iter().map(|s| s.stale.get()).sum::<u64>())
                    }
                    _ => 0,
                };
                (*k, arb + extra)
            })
            .collect();
        t.anomalies = t.anomalies_by_kind.iter().map(|x| x.1).sum();
        t.cold_drops = lanes
            .iter()
            .map(|l| l.cold_drops.iter().map(|c| c.get()).sum::<u64>())
            .sum();
        t.realized = lanes.iter().map(|l| l.risk.realized.get()).sum();
        t.unrealized = lanes.iter().map(|l| l.risk.unrealized.get()).sum();
        t.fees = lanes.iter().map(|l| l.risk.fees.get()).sum();
        let g = |f: &dyn Fn(&LaneStats) -> i64| lanes.iter().map(|l| f(l)).sum::<i64>();
        t.trading = TradingTotals {
            decisions: sum(&|l| l.strategy.decisions.get()),
            intents: sum(&|l| l.strategy.intents.get()),
            risk_checks: sum(&|l| l.risk.checks.get()),
            risk_rejected: sum(&|l| l.risk.rejected.get()),
            risk_exits: sum(&|l| l.risk.risk_exits.get()),
            kill_trips: sum(&|l| l.risk.kill_trips.get()),
            kill_switch_on: lanes.iter().any(|l| l.risk.kill_switch.get() != 0),
            refused_replacements: sum(&|l| l.risk.refused_replacements.get()),
            submit_refused: sum(&|l| l.risk.submit_refused.get()),
            bad_reports: sum(&|l| l.risk.bad_reports.get()),
            venue_orders: sum(&|l| l.venue.orders.get()),
            venue_fills: sum(&|l| l.venue.fills.get()),
            venue_lost_reports: g(&|l| l.venue.lost_reports.get()),
            risk_cash: g(&|l| l.risk.cash.get()),
            risk_fees: g(&|l| l.risk.fees.get()),
            risk_realized: g(&|l| l.risk.realized.get()),
            venue_cash: g(&|l| l.venue.cash.get()),
            venue_fees: g(&|l| l.venue.fees.get()),
            venue_realized: g(&|l| l.venue.realized.get()),
        };
        t.arbiter_passed = sum(&|l| l.arbiter.passed.get());
        t.arbiter_dropped = sum(&|l| l.arbiter.dropped.get());
        t.gaps_filled = sum(&|l| l.arbiter.gaps_filled.get());
        t.failovers = sum(&|l| l.arbiter.failovers.get());
        t.failbacks = sum(&|l| l.arbiter.failbacks.get());
        t.reordered = sum(&|l| l.parse.reordered.get());
        t.reorder_late = sum(&|l| l.parse.reorder_late.get());
        t.candle_revisions = sum(&|l| l.candles.revisions.get());
        t.candles_filled = sum(&|l| l.candles.filled.get());
        t.candles_live_shed = sum(&|l| l.candles.live_shed.get());
        t.indicator_rewinds = sum(&|l| l.strategy.indicator_rewinds.get());
        for (li, l) in lanes.iter().enumerate() {
            let lane_names = names.get(li).map(Vec::as_slice).unwrap_or(&[]);
            for (i, name) in lane_names
                .iter()
                .enumerate()
                .take(crate::core::stats::MAX_SOURCES)
            {
                t.sources.push(SourceTotals::of(li, name, i, l));
            }
        }
        t
    }
}

/// Connection / redundancy events journaled before the rest are only logged.
const JOURNAL_FEED_CAP: u64 = 2_000;

fn feed_event_text(e: &crate::core::cold::FeedEvent, table: &InstrumentTable) -> String {
    use crate::core::cold::FeedEvent as F;
    match *e {
        F::Connecting { attempt } => format!("connecting (attempt {attempt})"),
        F::Connected { conn } => format!("connected and subscribed (connection {conn})"),
        F::Disconnected { conn, reason } => {
            format!("**disconnected** (connection {conn}): {reason}")
        }
        F::Stale { conn, silent_ms } => {
            format!("**stale**: no message for {silent_ms} ms on connection {conn}, reconnecting")
        }
        F::BackingOff { ms } => format!("next attempt in {ms} ms"),
        F::RotationStarted { old } => {
            format!("planned rotation: opening a replacement for connection {old}")
        }
        F::RotationDone { old, new } => {
            format!("rotation done: connection {new} live, connection {old} closed without a gap")
        }
        F::Failover {
            instrument,
            silent_ms,
        } => format!(
            "**failover**: {} now from this backup (primaries silent {silent_ms} ms)",
            table.symbol(instrument)
        ),
        F::Failback { instrument } => {
            format!(
                "**failback**: {} back on its primary sources",
                table.symbol(instrument)
            )
        }
    }
}

/// Header of `decisions.csv`: every decision of every strategy, acted on or not.
pub const DECISIONS_HEADER: &str = "ts,instrument,strategy,action,suppressed,score,threshold,exit_threshold,strength,alignment,volume,volatility,confidence,volume_ratio,atr_ratio,raw_1s,raw_1m,raw_5m,raw_1h,raw_1d,position,qty,price,intents";

/// The process's resident memory (KiB) from `/proc/self/status`; `None` where that cannot be
/// read (not Linux).
pub fn rss_kib() -> Option<u64> {
    rss_from_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// `VmRSS` of a `/proc/<pid>/status` text, in KiB.
fn rss_from_status(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_proc_status() {
        let text = "Name:\ttickwire\nVmPeak:\t  123 kB\nVmRSS:\t   49016 kB\nThreads:\t3\n";
        assert_eq!(rss_from_status(text), Some(49_016));
        assert_eq!(rss_from_status("Name: x\n"), None);
        assert_eq!(rss_from_status("VmRSS: lots kB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(rss_kib().is_some_and(|k| k > 0));
        }
    }
}
