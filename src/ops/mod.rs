//! Operations: the health monitor and the metrics endpoint.
//!
//! The cold thread owns a [`Monitor`]. About once a second it reads what every hot thread
//! publishes ([`ThreadProbe`]: heartbeat, events, losses, allocations, latency buckets), every
//! ring's fill level and the lanes' counters, keeps a minute of readings, and from them
//! works out per-stage latency percentiles over sliding windows (10 s and 60 s) and whether a
//! thread has stalled (its heartbeat has not moved for `ops.stall_ms` while it is not done).
//! Each reading is rendered into Prometheus text and a health document, published for the
//! HTTP thread ([`serve`]), which answers `GET /metrics` and `GET /health` on the configured
//! address (127.0.0.1 by default) and never touches the hot side.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cold::Totals;
use crate::core::config::BreachPolicy;
use crate::core::config::Stage;
use crate::core::health::{quantile, Control, ThreadProbe, BUCKETS};
use crate::ring::Probe;

/// Windows the latency percentiles are given over, in seconds.
pub const WINDOWS_S: [u64; 2] = [10, 60];
/// Quantiles published.
pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Everything the monitor reads, handed to the cold thread when the run starts.
#[derive(Clone, Default)]
pub struct Telemetry {
    /// Every hot thread's probe.
    pub threads: Vec<Arc<ThreadProbe>>,
    /// Every ring's fill level: hot rings by lane/thread, cold rings by lane/stage.
    pub rings: Vec<(String, Probe)>,
    /// Stall threshold.
    pub stall_ns: u64,
    /// When to throttle, escalate and recover.
    pub policy: BreachPolicy,
    /// Where the throttle and kill requests go (the traders read it).
    pub control: Option<Arc<Control>>,
}

/// One thread's state change, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// The heartbeat stopped moving while the thread was not done.
    Stalled {
        /// Thread.
        thread: String,
        /// For how long, in ms.
        silent_ms: u64,
    },
    /// It moves again.
    Recovered {
        /// Thread.
        thread: String,
        /// How long it was stalled, in ms.
        stalled_ms: u64,
    },
    /// A limit of the breach policy was crossed: the throttle's actions apply.
    Throttled {
        /// What crossed which limit, with the numbers.
        reasons: String,
        /// What the throttle does, in words (see [`crate::core::health::BreachActions`]).
        actions: String,
    },
    /// The breach lasted `escalate_after_s`: the kill switch was asked for.
    Escalated {
        /// What is still crossed.
        reasons: String,
        /// Seconds since the breach began.
        after_s: u64,
    },
    /// No limit crossed for `recover_after_s`: the throttle is lifted.
    Unthrottled {
        /// Seconds the breach had been clear.
        clear_s: u64,
    },
    /// A stage panicked and its thread caught it (see [`crate::runtime::heal`]).
    Healed {
        /// Thread.
        thread: String,
        /// What happened and what came of it.
        heal: crate::core::health::Heal,
    },
    /// A hot thread stopped the run safely.
    SafeStop {
        /// Thread.
        thread: String,
        /// Why.
        reason: String,
    },
}

/// `now - then`, bucket by bucket (`then` absent: `now`).
fn window(now: &[u64], then: Option<&[u64]>) -> Vec<u64> {
    match then {
        Some(then) => now
            .iter()
            .zip(then.iter().chain(std::iter::repeat(&0)))
            .map(|(n, t)| n.saturating_sub(*t))
            .collect(),
        None => now.to_vec(),
    }
}

/// Latency series of a thread: its stages, then tick-to-order and end-to-end.
fn series(p: &ThreadProbe) -> Vec<(&'static str, &crate::core::health::LiveHist)> {
    let mut v: Vec<(&'static str, &crate::core::health::LiveHist)> = p
        .stages
        .iter()
        .filter_map(|s| p.latency.get(s.index()).map(|h| (s.name(), h)))
        .collect();
    if p.stages.contains(&Stage::Venue) {
        v.push(("tick_to_order", &p.tick_to_order));
        v.push(("end_to_end", &p.end_to_end));
    }
    v
}

/// One reading of every thread.
struct Reading {
    at: Instant,
    /// Per thread: per series, cumulative bucket counts (dense, [`BUCKETS`] each). Dense and
    /// recycled: the history holds the same ~63 buffers for the whole run, so the monitor's
    /// memory is fixed after its first minute (sparse readings grew as latency spread).
    latency: Vec<Vec<Box<[u64]>>>,
}

impl Reading {
    /// A zeroed reading shaped for `tele`'s threads and series.
    fn new(tele: &Telemetry, at: Instant) -> Self {
        Self {
            at,
            latency: tele
                .threads
                .iter()
                .map(|p| {
                    series(p)
                        .iter()
                        .map(|_| vec![0u64; BUCKETS].into_boxed_slice())
                        .collect()
                })
                .collect(),
        }
    }
}

/// Per-thread liveness tracking.
struct Liveness {
    beat: u64,
    changed: Instant,
    stalled_since: Option<Instant>,
    /// The thread's safe stop was reported.
    stop_seen: bool,
}

/// What the monitor last worked out, ready to serve.
#[derive(Default, Clone)]
pub struct Published {
    /// Prometheus text exposition (format 0.0.4).
    pub metrics: String,
    /// The health document (JSON) and whether the process is ready.
    pub health: String,
    /// Ready: every hot thread alive and none stalled.
    pub ready: bool,
    /// When the cold thread published this, and how old it may get before the cold thread
    /// itself counts as stalled (then `/health` answers 503 whatever `ready` says).
    pub at: Option<(Instant, Duration)>,
}

impl Published {
    /// The health answer now: (ready, JSON). A reading older than its limit means the cold
    /// thread (journal, metrics, the monitor itself) has stopped.
    pub fn health_now(&self, now: Instant) -> (bool, String) {
        match self.at {
            Some((at, limit)) if now.duration_since(at) > limit => (
                false,
                serde_json::json!({
                    "live": true,
                    "ready": false,
                    "cold_stalled": true,
                    "silent_ms": now.duration_since(at).as_millis() as u64,
                })
                .to_string(),
            ),
            _ => (self.ready, self.health.clone()),
        }
    }
}

/// The health monitor (see the module docs).
pub struct Monitor {
    tele: Telemetry,
    history: VecDeque<Reading>,
    live: Vec<Liveness>,
    started: Instant,
    /// Latest output, shared with the HTTP thread.
    pub published: Arc<Mutex<Published>>,
    /// Since when a limit has been crossed (none now: `None`).
    breach_since: Option<Instant>,
    /// Since when no limit has been crossed while throttled.
    clear_since: Option<Instant>,
    throttled: bool,
    escalated: bool,
    /// The limits crossed at the last reading.
    breaches: Vec<String>,
}

/// What the rest of the cold side adds to a reading.
pub struct Extra<'a> {
    /// Run mode.
    pub mode: &'a str,
    /// Counter totals.
    pub totals: &'a Totals,
    /// Equity at the last snapshot (10⁻⁸).
    pub equity: i64,
    /// Positions from the journaled fills: (lane, symbol) → quantity (10⁻⁸).
    pub positions: &'a BTreeMap<(usize, String), i64>,
    /// Resident memory, KiB.
    pub rss_kib: Option<u64>,
}

impl Monitor {
    /// A monitor of `tele`.
    pub fn new(tele: Telemetry) -> Self {
        let now = Instant::now();
        let live = tele
            .threads
            .iter()
            .map(|p| Liveness {
                beat: p.heartbeat.get(),
                changed: now,
                stalled_since: None,
                stop_seen: false,
            })
            .collect();
        Self {
            tele,
            history: VecDeque::new(),
            live,
            started: now,
            published: Arc::new(Mutex::new(Published::default())),
            breach_since: None,
            clear_since: None,
            throttled: false,
            escalated: false,
            breaches: Vec::new(),
        }
    }

    /// Takes a reading at `now`: updates liveness (returning what changed), the latency
    /// history, and the published metrics and health.
    pub fn sample(&mut self, now: Instant, extra: &Extra<'_>) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        let stall = Duration::from_nanos(self.tele.stall_ns.max(1));
        for (p, l) in self.tele.threads.iter().zip(self.live.iter_mut()) {
            for heal in p.take_heals() {
                events.push(HealthEvent::Healed {
                    thread: p.name.clone(),
                    heal,
                });
            }
            if !l.stop_seen {
                if let Some(reason) = p.stop_reason() {
                    l.stop_seen = true;
                    events.push(HealthEvent::SafeStop {
                        thread: p.name.clone(),
                        reason,
                    });
                }
            }
            let beat = p.heartbeat.get();
            if beat != l.beat || p.is_done() {
                l.beat = beat;
                l.changed = now;
                if let Some(since) = l.stalled_since.take() {
                    events.push(HealthEvent::Recovered {
                        thread: p.name.clone(),
                        stalled_ms: now.duration_since(since).as_millis() as u64,
                    });
                }
            } else if l.stalled_since.is_none() && now.duration_since(l.changed) >= stall {
                l.stalled_since = Some(now);
                events.push(HealthEvent::Stalled {
                    thread: p.name.clone(),
                    silent_ms: now.duration_since(l.changed).as_millis() as u64,
                });
            }
        }
        let keep = Duration::from_secs(WINDOWS_S[WINDOWS_S.len() - 1] + 2);
        let mut spare = None;
        while self
            .history
            .front()
            .is_some_and(|r| now.duration_since(r.at) > keep)
        {
            spare = self.history.pop_front();
        }
        let mut reading = spare.unwrap_or_else(|| Reading::new(&self.tele, now));
        reading.at = now;
        for (p, t) in self.tele.threads.iter().zip(reading.latency.iter_mut()) {
            for ((_, h), out) in series(p).iter().zip(t.iter_mut()) {
                h.read_into(out);
            }
        }
        self.history.push_back(reading);
        events.extend(self.police(now, extra));
        let published = Published {
            metrics: self.prometheus(now, extra),
            health: self.health(now, extra),
            ready: self.ready(),
            // The monitor publishes once a second.
            at: Some((
                now,
                Duration::from_nanos(self.tele.stall_ns).max(Duration::from_secs(2))
                    + Duration::from_secs(1),
            )),
        };
        if let Ok(mut p) = self.published.lock() {
            *p = published;
        }
        events
    }

    /// The worst end-to-end p99 (ns) over the `window` ("10s", "60s" or "run") across threads.
    pub fn end_to_end_p99(&self, now: Instant, window: &str) -> Option<u64> {
        self.latency_rows(now)
            .into_iter()
            .filter(|(_, series, win, _)| *series == "end_to_end" && win == window)
            .filter_map(|(_, _, _, qs)| qs.get(2).copied().flatten())
            .max()
    }

    /// The limits the policy finds crossed now, each with its numbers.
    fn crossed(&self, now: Instant, x: &Extra<'_>) -> Vec<String> {
        let p = &self.tele.policy;
        let mut out = Vec::new();
        if p.latency_p99_us > 0 {
            for (thread, series, win, qs) in self.latency_rows(now) {
                if series != "end_to_end" || win != "10s" {
                    continue;
                }
                if let Some(Some(v)) = qs.get(2) {
                    if *v > p.latency_p99_us.saturating_mul(1000) {
                        out.push(format!(
                            "end-to-end p99 of {thread} {} µs > {} µs",
                            v / 1000,
                            p.latency_p99_us
                        ));
                    }
                }
            }
        }
        if p.ring_fill_pct > 0 {
            for (name, r) in &self.tele.rings {
                let pct = (r.depth() as u64).saturating_mul(100) / (r.capacity() as u64).max(1);
                if pct > p.ring_fill_pct {
                    out.push(format!("ring {name} {pct} % full > {} %", p.ring_fill_pct));
                }
            }
        }
        if let (true, Some(kib)) = (p.rss_mib > 0, x.rss_kib) {
            if kib / 1024 > p.rss_mib {
                out.push(format!(
                    "resident memory {} MiB > {} MiB",
                    kib / 1024,
                    p.rss_mib
                ));
            }
        }
        if p.feed_health > 0.0 {
            for s in x.totals.sources.iter().filter(|s| s.messages > 0) {
                let h = crate::cold::health_score(s);
                if h < p.feed_health {
                    out.push(format!(
                        "feed {} health {h:.2} < {:.2}",
                        s.name, p.feed_health
                    ));
                }
            }
        }
        out
    }

    /// The breach policy's state machine: throttle on a breach, escalate to the kill switch
    /// if it lasts, lift the throttle once it has been clear long enough.
    fn police(&mut self, now: Instant, x: &Extra<'_>) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        if !self.tele.policy.active() {
            return events;
        }
        let crossed = self.crossed(now, x);
        let set = |c: &Option<Arc<Control>>, throttle: Option<bool>, kill: bool| {
            if let Some(c) = c {
                if let Some(t) = throttle {
                    c.throttle.store(t, Ordering::Relaxed);
                }
                if kill {
                    c.kill.store(true, Ordering::Relaxed);
                }
            }
        };
        if crossed.is_empty() {
            self.breach_since = None;
            if self.throttled {
                let since = *self.clear_since.get_or_insert(now);
                let clear = now.duration_since(since);
                if clear >= Duration::from_secs(self.tele.policy.recover_after_s) {
                    self.throttled = false;
                    self.clear_since = None;
                    set(&self.tele.control, Some(false), false);
                    events.push(HealthEvent::Unthrottled {
                        clear_s: clear.as_secs(),
                    });
                }
            }
        } else {
            self.clear_since = None;
            let since = *self.breach_since.get_or_insert(now);
            let reasons = crossed.join("; ");
            if !self.throttled {
                self.throttled = true;
                set(&self.tele.control, Some(true), false);
                events.push(HealthEvent::Throttled {
                    reasons: reasons.clone(),
                    actions: self.tele.policy.actions.describe(),
                });
            }
            let after = now.duration_since(since);
            let esc = self.tele.policy.escalate_after_s;
            if esc > 0 && !self.escalated && after >= Duration::from_secs(esc) {
                self.escalated = true;
                set(&self.tele.control, None, true);
                events.push(HealthEvent::Escalated {
                    reasons,
                    after_s: after.as_secs(),
                });
            }
        }
        self.breaches = crossed;
        events
    }

    /// Every hot thread is running or finished normally, and none is stalled.
    pub fn ready(&self) -> bool {
        self.live.iter().all(|l| l.stalled_since.is_none())
    }

    /// The reading closest to `secs` before the newest (the oldest if the run is younger).
    fn reading_before(&self, now: Instant, secs: u64) -> Option<&Reading> {
        let want = Duration::from_secs(secs);
        self.history
            .iter()
            .rev()
            .find(|r| now.duration_since(r.at) >= want)
            .or_else(|| self.history.front())
    }

    /// Latency quantiles per thread, series and window ("10s", "60s", "run"), in ns.
    fn latency_rows(&self, now: Instant) -> Vec<(String, &'static str, String, Vec<Option<u64>>)> {
        let mut rows = Vec::new();
        let Some(newest) = self.history.back() else {
            return rows;
        };
        for (ti, p) in self.tele.threads.iter().enumerate() {
            for (si, (name, _)) in series(p).iter().enumerate() {
                let Some(cur) = newest.latency.get(ti).and_then(|t| t.get(si)) else {
                    continue;
                };
                let mut windows: Vec<(String, Option<&[u64]>)> = WINDOWS_S
                    .iter()
                    .map(|w| {
                        let then = self
                            .reading_before(now, *w)
                            .filter(|r| !std::ptr::eq(*r, newest))
                            .and_then(|r| r.latency.get(ti).and_then(|t| t.get(si)))
                            .map(|b| &b[..]);
                        (format!("{w}s"), then)
                    })
                    .collect();
                windows.push(("run".to_string(), None));
                for (label, then) in windows {
                    let counts = window(cur, then);
                    let qs = QUANTILES.iter().map(|q| quantile(&counts, *q)).collect();
                    rows.push((p.name.clone(), *name, label, qs));
                }
            }
        }
        rows
    }

    fn prometheus(&self, now: Instant, x: &Extra<'_>) -> String {
        let t = x.totals;
        let mut m = Metrics::default();
        m.gauge("tickwire_up", "1 while the process runs.", &[], 1.0);
        m.gauge(
            "tickwire_uptime_seconds",
            "Seconds since the run started.",
            &[],
            now.duration_since(self.started).as_secs_f64(),
        );
        m.gauge(
            "tickwire_ready",
            "1 when every hot thread is alive and none is stalled.",
            &[],
            f64::from(u8::from(self.ready())),
        );
        m.gauge("tickwire_info", "Run mode.", &[("mode", x.mode)], 1.0);
        for (name, help, v) in [
            (
                "tickwire_messages_total",
                "Raw messages received.",
                t.received,
            ),
            ("tickwire_parsed_total", "Messages parsed.", t.parsed),
            (
                "tickwire_malformed_total",
                "Messages refused as malformed.",
                t.malformed,
            ),
            ("tickwire_trades_total", "Trades parsed.", t.trades),
            (
                "tickwire_book_tickers_total",
                "Best bid/ask updates.",
                t.book_tickers,
            ),
            ("tickwire_signals_total", "Strategy signals.", t.signals),
            ("tickwire_orders_total", "Orders sent.", t.orders),
            (
                "tickwire_orders_rejected_total",
                "Orders refused by risk.",
                t.orders_rejected,
            ),
            ("tickwire_fills_total", "Fills.", t.fills),
            (
                "tickwire_venue_rejects_total",
                "Orders the venue rejected.",
                t.venue_rejected,
            ),
            (
                "tickwire_cold_drops_total",
                "Cold records dropped (ring full).",
                t.cold_drops,
            ),
            (
                "tickwire_failovers_total",
                "Failovers to a backup source.",
                t.failovers,
            ),
            (
                "tickwire_failbacks_total",
                "Failbacks to the primary source.",
                t.failbacks,
            ),
        ] {
            m.counter(name, help, &[], v as f64);
        }
        for (r, n) in &t.candles_by_res {
            m.counter(
                "tickwire_candles_total",
                "Candles closed, per resolution.",
                &[("resolution", r.label())],
                *n as f64,
            );
        }
        for (k, n) in &t.anomalies_by_kind {
            m.counter(
                "tickwire_anomalies_total",
                "Anomalies, per category.",
                &[("kind", k.name())],
                *n as f64,
            );
        }
        for (k, n) in &t.skipped {
            m.counter(
                "tickwire_skipped_total",
                "Messages skipped, per kind.",
                &[("kind", k)],
                *n as f64,
            );
        }
        for s in &t.sources {
            let lane = s.lane.to_string();
            let l = [("lane", lane.as_str()), ("source", s.name.as_str())];
            m.counter(
                "tickwire_source_messages_total",
                "Messages per source.",
                &l,
                s.messages as f64,
            );
            m.counter(
                "tickwire_source_malformed_total",
                "Malformed messages per source.",
                &l,
                s.malformed as f64,
            );
            m.counter(
                "tickwire_source_disconnects_total",
                "Disconnects per source.",
                &l,
                s.disconnects as f64,
            );
            m.gauge(
                "tickwire_source_health",
                "Feed health score per source (1 = perfect).",
                &l,
                crate::cold::health_score(s),
            );
            m.gauge(
                "tickwire_source_latency_seconds",
                "Estimated feed latency per source.",
                &l,
                s.latency_ms / 1e3,
            );
            m.gauge(
                "tickwire_source_clock_offset_seconds",
                "Estimated venue clock offset per source.",
                &l,
                s.clock_offset_ms / 1e3,
            );
        }
        for (thread, series, win, qs) in self.latency_rows(now) {
            for (q, v) in QUANTILES.iter().zip(qs) {
                let Some(v) = v else { continue };
                let qt = q.to_string();
                m.gauge(
                    "tickwire_stage_latency_seconds",
                    "Sampled latency per thread and stage over a sliding window (run = since start).",
                    &[
                        ("thread", &thread),
                        ("stage", series),
                        ("window", &win),
                        ("quantile", &qt),
                    ],
                    v as f64 / 1e9,
                );
            }
        }
        for (p, live) in self.tele.threads.iter().zip(&self.live) {
            let l = [("thread", p.name.as_str())];
            m.counter(
                "tickwire_thread_heartbeats_total",
                "Hot loop rounds (moves while the thread is alive).",
                &l,
                p.heartbeat.get() as f64,
            );
            m.counter(
                "tickwire_thread_events_total",
                "Messages or envelopes a hot thread handled.",
                &l,
                p.events.get() as f64,
            );
            m.gauge(
                "tickwire_thread_loop_allocations",
                "Allocations inside a hot loop (must stay 0).",
                &l,
                p.allocations.get() as f64,
            );
            m.gauge(
                "tickwire_thread_lost",
                "Envelopes or reports a gone peer thread could not take.",
                &l,
                p.lost.get() as f64,
            );
            m.counter(
                "tickwire_thread_stage_panics_total",
                "Stage panics a hot thread caught (each restored and retried, dropped, or a safe stop).",
                &l,
                p.restarts.get() as f64,
            );
            let stalled = live.stalled_since.is_some();
            m.gauge(
                "tickwire_thread_stalled",
                "1 while a hot thread's heartbeat has stopped.",
                &l,
                f64::from(u8::from(stalled)),
            );
        }
        for (name, probe) in &self.tele.rings {
            let l = [("ring", name.as_str())];
            m.gauge(
                "tickwire_ring_depth",
                "Values waiting in a ring.",
                &l,
                probe.depth() as f64,
            );
            m.gauge(
                "tickwire_ring_capacity",
                "Slots in a ring.",
                &l,
                probe.capacity() as f64,
            );
        }
        if let Some(kib) = x.rss_kib {
            m.gauge(
                "tickwire_resident_memory_bytes",
                "Resident set size.",
                &[],
                kib as f64 * 1024.0,
            );
        }
        m.gauge(
            "tickwire_heap_live_bytes",
            "Bytes held on the heap (allocated, not yet freed), process-wide.",
            &[],
            crate::core::alloc::heap_live_bytes() as f64,
        );
        m.counter(
            "tickwire_cold_allocations_total",
            "Heap calls by the cold thread (it may allocate; the hot threads' are above).",
            &[],
            crate::core::alloc::thread_allocations() as f64,
        );
        let tr = &t.trading;
        for (name, help, v) in [
            (
                "tickwire_equity",
                "Equity at the last snapshot (quote).",
                x.equity,
            ),
            ("tickwire_realized_pnl", "Realized PnL (quote).", t.realized),
            (
                "tickwire_unrealized_pnl",
                "Unrealized PnL at the last mark (quote).",
                t.unrealized,
            ),
            ("tickwire_fees", "Fees paid (quote).", t.fees),
            (
                "tickwire_cash",
                "The risk engine's cash (quote).",
                tr.risk_cash,
            ),
        ] {
            m.gauge(name, help, &[], v as f64 / 1e8);
        }
        m.gauge(
            "tickwire_throttled",
            "1 while the breach policy refuses new opening orders.",
            &[],
            f64::from(u8::from(self.throttled)),
        );
        m.gauge(
            "tickwire_breaches",
            "Limits of the breach policy crossed at the last reading.",
            &[],
            self.breaches.len() as f64,
        );
        m.gauge(
            "tickwire_kill_switch",
            "1 while the kill switch is on.",
            &[],
            f64::from(u8::from(tr.kill_switch_on)),
        );
        m.counter(
            "tickwire_kill_trips_total",
            "Kill-switch trips.",
            &[],
            tr.kill_trips as f64,
        );
        m.counter(
            "tickwire_risk_checks_total",
            "Intents the risk engine checked.",
            &[],
            tr.risk_checks as f64,
        );
        m.counter(
            "tickwire_risk_exits_total",
            "Exits the risk engine sent itself.",
            &[],
            tr.risk_exits as f64,
        );
        for ((lane, sym), q) in x.positions {
            let lane = lane.to_string();
            m.gauge(
                "tickwire_position",
                "Position per lane and instrument, from the journaled fills (base units).",
                &[("lane", &lane), ("instrument", sym)],
                *q as f64 / 1e8,
            );
        }
        m.finish()
    }

    fn health(&self, now: Instant, x: &Extra<'_>) -> String {
        let threads: Vec<serde_json::Value> = self
            .tele
            .threads
            .iter()
            .zip(&self.live)
            .map(|(p, l)| {
                serde_json::json!({
                    "thread": p.name,
                    "done": p.is_done(),
                    "stalled": l.stalled_since.is_some(),
                    "silent_ms": now.duration_since(l.changed).as_millis() as u64,
                    "events": p.events.get(),
                    "loop_allocations": p.allocations.get(),
                })
            })
            .collect();
        serde_json::json!({
            "live": true,
            "ready": self.ready(),
            "mode": x.mode,
            "uptime_s": now.duration_since(self.started).as_secs_f64(),
            "threads": threads,
            "kill_switch": x.totals.trading.kill_switch_on,
            "throttled": self.throttled,
            "breaches": self.breaches,
        })
        .to_string()
    }
}

/// Prometheus text exposition, written family by family (each `# HELP`/`# TYPE` once).
#[derive(Default)]
struct Metrics {
    families: Vec<(String, &'static str, &'static str, String)>,
}

impl Metrics {
    fn sample(
        &mut self,
        kind: &'static str,
        name: &str,
        help: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        let i = match self.families.iter().position(|f| f.0 == name) {
            Some(i) => i,
            None => {
                self.families
                    .push((name.to_string(), help, kind, String::new()));
                self.families.len() - 1
            }
        };
        let body = &mut self.families[i].3;
        body.push_str(name);
        if !labels.is_empty() {
            body.push('{');
            for (k, (key, val)) in labels.iter().enumerate() {
                if k > 0 {
                    body.push(',');
                }
                let _ = write!(body, "{key}=\"{}\"", escape_label(val));
            }
            body.push('}');
        }
        let _ = writeln!(body, " {}", number(v));
    }

    fn gauge(&mut self, name: &str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.sample("gauge", name, help, labels, v);
    }

    fn counter(&mut self, name: &str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.sample("counter", name, help, labels, v);
    }

    fn finish(self) -> String {
        let mut out = String::new();
        for (name, help, kind, body) in self.families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            out.push_str(&body);
        }
        out
    }
}

/// A sample value as Prometheus writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {source}")]
pub struct ServeError {
    addr: String,
    source: std::io::Error,
}

/// Serves `published` on `addr` from a thread of its own until `stop`: `GET /metrics`
/// (Prometheus text), `GET /health` (JSON; 200 when ready, 503 when a thread has stalled),
/// anything else 404. Returns the bound address (port 0 picks a free one).
pub fn serve(
    addr: &str,
    published: Arc<Mutex<Published>>,
    stop: Arc<AtomicBool>,
) -> Result<(SocketAddr, std::thread::JoinHandle<()>), ServeError> {
    let err = |source| ServeError {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    let handle = std::thread::Builder::new()
        .name("ops-http".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream, &published),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
        .map_err(err)?;
    Ok((bound, handle))
}

/// Reads one request (at most 8 KiB, one second) and answers it; a slow or broken client
/// only costs its own connection.
fn answer(mut stream: TcpStream, published: &Mutex<Published>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 8192];
    let mut len = 0;
    while len < buf.len() {
        match stream.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => return,
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let snapshot = published.lock().map(|p| p.clone()).unwrap_or_default();
    let (status, kind, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            snapshot.metrics,
        ),
        ("GET", "/health") => {
            let (ready, body) = snapshot.health_now(Instant::now());
            (
                if ready {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                },
                "application/json",
                body,
            )
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /health\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Checks Prometheus text exposition line by line (the tests' scraper): every sample belongs
/// to a family declared once with `# HELP` and `# TYPE` before it, names and label names are
/// valid, label values are quoted, values parse. Returns the samples as (name, labels, value).
pub fn parse_exposition(text: &str) -> Result<Vec<(String, String, f64)>, String> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed: Vec<String> = Vec::new();
    let mut helped: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("line {}: {m}: {line}", i + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !valid_name(name) || helped.iter().any(|h| h == name) {
                return Err(at("bad or repeated HELP"));
            }
            helped.push(name.into());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut w = rest.split(' ');
            let (name, kind) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
            if !valid_name(name)
                || !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind)
                || typed.iter().any(|t| t == name)
            {
                return Err(at("bad or repeated TYPE"));
            }
            typed.push(name.into());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| at("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| at("value"))?,
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').ok_or_else(|| at("unclosed labels"))?),
            None => (series, ""),
        };
        if !valid_name(name) || typed.last().map(String::as_str) != Some(name) {
            return Err(at("sample outside its family"));
        }
        // label="value" pairs, values may hold escaped quotes.
        let mut rest = labels;
        while !rest.is_empty() {
            let (k, v) = rest.split_once("=\"").ok_or_else(|| at("label"))?;
            if !valid_name(k) {
                return Err(at("label name"));
            }
            let mut end = None;
            let mut esc = false;
            for (j, c) in v.char_indices() {
                match (esc, c) {
                    (true, _) => esc = false,
                    (false, '\\') => esc = true,
                    (false, '"') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| at("unterminated label value"))?;
            rest = &v[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
        samples.push((name.to_string(), labels.to_string(), value));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests;
