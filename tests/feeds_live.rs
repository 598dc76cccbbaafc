//! Live feeds through the whole pipeline: real Binance messages from the BTCUSDT capture
//! (`ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst`: 41 249 lines, 9 757 trades
//! with ids 3735683259…3735693015, no gap) served by local WebSocket servers on 127.0.0.1
//! with a fault script, consumed by `runtime::run` in-process with `source.kind = "live"` on
//! the built-in lane layout (every stage fused on one thread, `wait = "spin-then-park"`, which
//! suits a 2-core box).
//!
//! * one line, killed every 2 000 messages (resume mode: nothing is lost by the server);
//! * A/B lines in broadcast mode (what a line misses while it is down is gone on that line),
//!   each killed at its own points: the arbiter's merged stream still has every trade once;
//! * one line that stalls (stale detection), sends garbage frames and fragments messages;
//! * a soak: two broadcast lines looping the capture with shifted trade ids, killed every few
//!   thousand messages, for `TICKWIRE_SOAK_SECS` (ignored; a 20 s variant runs by default).
//!
//! Runs end by `source.limit` or by `RunOptions.stop` once the servers have sent everything
//! and the pipeline has counted it (read from `metrics.jsonl`): no sleeps decide an outcome.
//! Timeouts are hang guards only; no assertion depends on elapsed time.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::ws_server::{
    Endless, Faults, Garbage, Gate, LineFault, Mode, Pace, ServerConfig, WsServer,
};
use serde_json::Value;
use tickwire::feed::replay::Capture;
use tickwire::runtime::RunResult;

/// Lines, trades and trade ids of the capture.
const LINES: usize = 41_249;
const TRADES: u64 = 9_757;
const FIRST_ID: u64 = 3_735_683_259;
const LAST_ID: u64 = 3_735_693_015;
/// Hang guard for the short tests.
const HANG_GUARD: Duration = Duration::from_secs(240);

const SUBSCRIBE: &str = r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker","btcusdt@depth@100ms"],"id":1}"#;

/// Every capture line, in order.
fn capture_lines(data: &Path) -> Arc<Vec<Vec<u8>>> {
    static LINES_: OnceLock<Arc<Vec<Vec<u8>>>> = OnceLock::new();
    LINES_
        .get_or_init(|| {
            let cap = Capture::load(&common::btc_capture(data)).expect("capture");
            Arc::new((0..cap.lines.len()).map(|i| cap.line(i).to_vec()).collect())
        })
        .clone()
}

/// The capture's trade lines only.
fn trade_lines(data: &Path) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        capture_lines(data)
            .iter()
            .filter(|l| l.starts_with(br#"{"stream":"btcusdt@trade""#))
            .cloned()
            .collect(),
    )
}

/// `feeds.<name>={...}`: a Binance line on `url`, reconnecting within 20 ms (backoff capped
/// at 20 ms so repeated kills never back off further), plus `extra` keys.
fn feed(name: &str, url: &str, extra: &str) -> String {
    let sub = toml::Value::String(SUBSCRIBE.to_string());
    format!(
        "feeds.{name}={{venue='binance',url='{url}',role='primary',subscribe=[{sub}],backoff_initial_ms=20,backoff_max_ms=20{extra}}}"
    )
}

/// A run of the pipeline on its own thread.
struct LiveRun {
    name: String,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<RunResult>>,
    started: Instant,
}

impl LiveRun {
    /// Starts `runtime::run` with the built-in config, a live source and `sets`.
    fn start(name: &str, sets: &[String]) -> Self {
        let dir = common::report_dir(name);
        let mut all = vec![
            "source.kind='live'".to_string(),
            "cold.metrics_interval_ms=50".to_string(),
        ];
        all.extend(sets.iter().cloned());
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (dir, stop) = (dir.clone(), stop.clone());
            std::thread::Builder::new()
                .name("live-run".into())
                .spawn(move || common::run_until_stopped(&all, "run", &dir, stop))
                .expect("spawn")
        };
        Self {
            name: name.to_string(),
            dir,
            stop,
            handle: Some(handle),
            started: Instant::now(),
        }
    }

    /// The latest `metrics.jsonl` line, if one was written.
    fn metrics(&self) -> Option<Value> {
        let mut f = std::fs::File::open(self.dir.join("metrics.jsonl")).ok()?;
        let len = f.metadata().ok()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
            .ok()?;
        let mut tail = String::new();
        f.read_to_string(&mut tail).ok()?;
        let complete = &tail[..tail.rfind('\n')?];
        let last = complete.rsplit('\n').next()?;
        serde_json::from_str(last).ok()
    }

    /// Polls the metrics until `done`; panics (after stopping the run) past `guard`.
    fn wait_until(
        &self,
        what: &str,
        guard: Duration,
        mut done: impl FnMut(&Value) -> bool,
        diag: impl Fn() -> String,
    ) {
        let until = Instant::now() + guard;
        loop {
            if self.handle.as_ref().is_some_and(|h| h.is_finished()) {
                panic!("{}: the run ended while waiting for {what}", self.name);
            }
            if let Some(m) = self.metrics() {
                if done(&m) {
                    return;
                }
            }
            if Instant::now() > until {
                self.stop.store(true, Ordering::Relaxed);
                panic!(
                    "{}: hang guard waiting for {what}; metrics {:?}; {}",
                    self.name,
                    self.metrics(),
                    diag()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the run (as Ctrl-C would) and returns its result.
    fn stop(mut self) -> RunResult {
        self.stop.store(true, Ordering::Relaxed);
        self.join()
    }

    /// Waits for the run to end by itself (`source.limit`).
    fn finish(mut self, guard: Duration, diag: impl Fn() -> String) -> RunResult {
        let until = Instant::now() + guard;
        while !self.handle.as_ref().unwrap().is_finished() {
            if Instant::now() > until {
                self.stop.store(true, Ordering::Relaxed);
                panic!(
                    "{}: hang guard: the run did not end; metrics {:?}; {}",
                    self.name,
                    self.metrics(),
                    diag()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.join()
    }

    fn join(&mut self) -> RunResult {
        let r = self.handle.take().unwrap().join().expect("run panicked");
        eprintln!(
            "{}: run took {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        r
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A source's counter in a metrics line or the summary.
fn src(v: &Value, i: usize, key: &str) -> u64 {
    v["sources"][i][key].as_u64().unwrap_or(0)
}

fn anomaly(s: &Value, kind: &str) -> u64 {
    s["anomalies"][kind].as_u64().unwrap_or(0)
}

/// Journal lines of feed `name` containing `needle`.
fn journal_count(journal: &str, name: &str, needle: &str) -> usize {
    let tag = format!("feed `{name}`: ");
    journal
        .lines()
        .filter(|l| l.contains(&tag) && l.contains(needle))
        .count()
}

/// The hot thread that polls the feeds (it runs the parse stage).
fn feed_thread(s: &Value) -> &Value {
    s["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["stages"].as_array().unwrap().iter().any(|x| x == "parse"))
        .expect("a thread runs the parse stage")
}

/// Prints what the feed thread allocated in its loop, per connection made. Plain `ws://`
/// allocates nothing per message; each (re)connect allocates (the connector thread, its name,
/// the URL and subscription copies it takes), so the count grows with connects only.
fn report_allocations(name: &str, s: &Value) -> u64 {
    let t = feed_thread(s);
    let allocs = t["allocations"].as_u64().unwrap();
    let connects: u64 = s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["connects"].as_u64().unwrap())
        .sum();
    eprintln!(
        "{name}: feed thread {} allocated {allocs} times in its loop ({} messages, {connects} connects: {:.1} per connect)",
        t["name"],
        s["messages"]["received"],
        allocs as f64 / connects.max(1) as f64
    );
    allocs
}

/// Trades the arbiter passed on (first arrivals over every line).
fn trades_passed(s: &Value) -> u64 {
    s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["first_delivered"].as_u64().unwrap())
        .sum()
}

/// Stream positions `[first, last]` each connection of a server carried, in order.
fn coverage(server: &WsServer) -> Vec<(usize, usize)> {
    server
        .records()
        .iter()
        .filter_map(|r| Some((r.first?, r.last?)))
        .collect()
}

/// Line indices below `n` that no connection of any server carried.
fn uncovered(servers: &[&WsServer], n: usize) -> Vec<usize> {
    let mut got = vec![false; n];
    for s in servers {
        for (a, b) in coverage(s) {
            for g in &mut got[a..=b.min(n - 1)] {
                *g = true;
            }
        }
    }
    (0..n).filter(|&i| !got[i]).collect()
}

#[test]
fn single_line_killed_every_2000_messages_delivers_every_trade_once() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let lines = capture_lines(&data);
    assert_eq!(lines.len(), LINES);
    let kill_every = 2_000;
    let mut cfg = ServerConfig::new(lines.clone());
    cfg.mode = Mode::Resume;
    cfg.pace = Pace::Unpaced;
    cfg.faults.kill_every = Some(kill_every);
    let server = WsServer::start(cfg);
    // Resume mode: connection k carries lines [2000k, 2000k+2000) and is shut after its
    // 2000th; the last one carries the remaining 1249 and stays up.
    let kills = LINES / kill_every as usize;

    // The run records what it takes in (the whole capture fits the recorder's ring, so
    // nothing may be dropped).
    let catalog = common::report_dir("live-kills-catalog");
    let run = LiveRun::start(
        "live-kills",
        &[
            feed("a", &server.url(), ""),
            format!("source.limit={LINES}"),
            "recorder.enabled=true".into(),
            format!(
                "recorder.catalog={}",
                toml::Value::String(catalog.display().to_string())
            ),
        ],
    );
    let res = run.finish(HANG_GUARD, || format!("server {:?}", server.records()));
    let s = &res.summary;
    let recs = server.records();
    assert_eq!(server.cursor(), LINES, "the server sent every line");
    assert_eq!(recs.len(), kills + 1, "connections: {recs:?}");
    assert!(recs.iter().all(|r| r.subscribes == [SUBSCRIBE]), "{recs:?}");

    assert_eq!(s["messages"]["received"], LINES as u64);
    assert_eq!(s["messages"]["malformed"], 0);
    assert_eq!(s["events"]["trades"], TRADES);
    assert_eq!(s["events"]["book_tickers"], 28_040);
    assert_eq!(
        trades_passed(s),
        TRADES,
        "every trade passed the arbiter once"
    );
    assert_eq!(anomaly(s, "gap"), 0, "{}", s["anomalies"]);
    assert_eq!(anomaly(s, "duplicate"), 0, "{}", s["anomalies"]);
    assert_eq!(anomaly(s, "out_of_order"), 0, "{}", s["anomalies"]);
    assert_eq!(src(s, 0, "disconnects"), kills as u64);
    assert_eq!(src(s, 0, "connects"), kills as u64 + 1);
    assert_eq!(s["cold_drops"], 0);

    let journal = std::fs::read_to_string(res.report_dir.join("journal.md")).unwrap();
    assert_eq!(
        journal_count(&journal, "a", "**disconnected**"),
        kills,
        "one journal line per kill"
    );
    assert_eq!(
        journal_count(&journal, "a", "connection closed by the server (EOF)"),
        kills,
        "each kill is an EOF"
    );
    assert_eq!(
        journal_count(&journal, "a", "connected and subscribed"),
        kills + 1,
        "the first connect and one reconnect per kill"
    );
    report_allocations("live-kills", s);

    // Recorded: every trade once, every quote (timed by its receive time: Binance spot's
    // bookTicker has no event time), nothing dropped, the catalog verified.
    use tickwire::catalog::rows::{QuoteRow, TradeRow};
    use tickwire::catalog::{maint, Catalog, Kind};
    let r = &s["recorder"];
    for k in [
        "dropped_ring",
        "dropped_buffer",
        "dropped_anomalies",
        "lost",
        "unrecordable",
    ] {
        assert_eq!(r[k], 0, "{k}: {r}");
    }
    assert_eq!(r["taken"]["trades"], TRADES);
    assert_eq!(r["taken"]["quotes"], 28_040);
    let cat = Catalog::open(&catalog).unwrap();
    let (t, _) = cat
        .scan::<TradeRow>(Kind::Trades, Some("binance"), "BTCUSDT", i64::MIN, i64::MAX)
        .unwrap();
    let ids: Vec<u64> = t.iter().map(|t| t.id).collect();
    assert_eq!(ids, (FIRST_ID..=LAST_ID).collect::<Vec<_>>());
    let (q, _) = cat
        .scan::<QuoteRow>(Kind::Quotes, Some("binance"), "BTCUSDT", i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(q.len(), 28_040);
    assert!(q.windows(2).all(|w| w[0].update_id < w[1].update_id));
    let v = maint::verify(&cat).unwrap();
    assert!(v.ok(), "{:?}", v.errors);
    assert_eq!(Some(v.rows), r["written"].as_u64());
}

/// Kill points of the A/B test and the soak are fixed positions in the stream, so where the
/// two lines are down is known in advance: line A is shut after lines `PHASE_A + k·PERIOD`,
/// line B after `PHASE_B + k·PERIOD`, half a period apart. A line is down from its kill until
/// its reconnect is subscribed: the EOF, a backoff drawn from 0..=20 ms (`backoff_max_ms` 20,
/// so repeated kills never back off further), a connect on 127.0.0.1. That is tens of ms,
/// against half a period (0.5 s at 4 000 msg/s in the A/B test, 2 s at 2 000 msg/s in the
/// soak) before the other line is shut: the two windows cannot overlap, so every message
/// reaches the pipeline on at least one line and the merged stream must have no hole.
///
/// Both servers pace from one gate opened once both lines are subscribed, so they send
/// line `i` at the same moment (an exchange's two endpoints broadcast the same stream); a
/// line that returns from a kill resumes at the stream's present position, which the other
/// line has just delivered up to.
struct AbPlan {
    period: usize,
    phase_a: usize,
    phase_b: usize,
}

impl AbPlan {
    fn kills(&self, phase: usize, n: usize) -> usize {
        (0..n).filter(|i| i % self.period == phase).count()
    }
}

/// Two broadcast servers over the same lines, each behind its own gate.
struct Ab {
    a: WsServer,
    b: WsServer,
    gates: (Gate, Gate),
}

fn ab_servers(lines: Arc<Vec<Vec<u8>>>, endless: Option<Endless>, rate: u64, plan: &AbPlan) -> Ab {
    let server = |phase: usize, gate: &Gate| {
        let mut cfg = ServerConfig::new(lines.clone());
        cfg.mode = Mode::Broadcast;
        cfg.pace = Pace::PerSec(rate);
        cfg.endless = endless.clone();
        cfg.gate = Some(gate.clone());
        cfg.faults.kill_on_lines = Some((plan.period, phase));
        WsServer::start(cfg)
    };
    let gates: (Gate, Gate) = (Arc::new(OnceLock::new()), Arc::new(OnceLock::new()));
    Ab {
        a: server(plan.phase_a, &gates.0),
        b: server(plan.phase_b, &gates.1),
        gates,
    }
}

impl Ab {
    /// Opens both gates once both lines have subscribed: A now, B `lag` later.
    fn open_when_subscribed(&self, run: &LiveRun, lag: Duration) {
        run.wait_until(
            "both lines subscribed",
            HANG_GUARD,
            |_| self.a.subscribed() >= 1 && self.b.subscribed() >= 1,
            || format!("A {:?} B {:?}", self.a.records(), self.b.records()),
        );
        let now = Instant::now();
        self.gates.0.set(now).expect("gate opened once");
        self.gates.1.set(now + lag).expect("gate opened once");
    }
}

/// Waits until both servers have sent all `n` lines and the pipeline has received every
/// message each of them wrote (a killed connection's messages all arrive before its EOF).
fn wait_drained(run: &LiveRun, a: &WsServer, b: &WsServer, n: usize, guard: Duration) {
    run.wait_until(
        "both servers done and every sent message received",
        guard,
        |m| {
            a.cursor() == n
                && b.cursor() == n
                && src(m, 0, "messages") == a.sent()
                && src(m, 1, "messages") == b.sent()
        },
        || {
            format!(
                "cursors {} {}, sent {} {}",
                a.cursor(),
                b.cursor(),
                a.sent(),
                b.sent()
            )
        },
    );
}

/// The A/B assertions shared by the capture test and the soak: every trade id exactly once
/// through the arbiter, every other copy counted as redundant, each kill journaled.
#[allow(clippy::too_many_arguments)]
fn check_ab(name: &str, res: &RunResult, ab: &Ab, n: usize, trades: u64, kills: (usize, usize)) {
    let (a, b) = (&ab.a, &ab.b);
    let s = &res.summary;
    let hole = uncovered(&[a, b], n);
    assert!(
        hole.is_empty(),
        "{name}: reconnect windows overlapped, lines {:?}… sent on neither line (A {:?}, B {:?})",
        &hole[..hole.len().min(10)],
        coverage(a),
        coverage(b)
    );
    let (ra, rb) = (a.records(), b.records());
    assert_eq!(ra.len() - 1, kills.0, "{name}: connections of A {ra:?}");
    assert_eq!(rb.len() - 1, kills.1, "{name}: connections of B {rb:?}");

    let passed = trades_passed(s);
    let redundant = src(s, 0, "redundant") + src(s, 1, "redundant");
    let parsed = s["events"]["trades"].as_u64().unwrap();
    eprintln!(
        "{name}: {parsed} trades parsed over both lines, {passed} passed by the arbiter (A first {}, B first {}), {redundant} redundant; A: {} messages, {} disconnects, {} book gaps; B: {} messages, {} disconnects, {} book gaps; anomalies {}",
        src(s, 0, "first_delivered"),
        src(s, 1, "first_delivered"),
        src(s, 0, "messages"),
        src(s, 0, "disconnects"),
        src(s, 0, "book_gaps"),
        src(s, 1, "messages"),
        src(s, 1, "disconnects"),
        src(s, 1, "book_gaps"),
        s["anomalies"]
    );
    assert_eq!(passed, trades, "{name}: every trade id passed exactly once");
    assert_eq!(
        parsed,
        passed + redundant,
        "{name}: every other copy is a redundant one"
    );
    assert_eq!(anomaly(s, "duplicate"), 0, "{name}: {}", s["anomalies"]);
    assert_eq!(anomaly(s, "out_of_order"), 0, "{name}: {}", s["anomalies"]);
    // Trade-id gaps are flagged by the arbiter against the line that jumped. With two lines
    // a flag is provisional: a line back from a kill resumes at the present, and if its first
    // trade reaches the arbiter before the other line's copy of the trade just before it
    // (the two servers' pumps are scheduled independently on a busy 2-core box), the arbiter
    // flags a gap that the other line fills a moment later (counted in `gaps_filled`, which
    // summary.json does not show). Every id passed exactly once (checked above) is the real
    // invariant; a flag can only come from a reconnect, never from a healthy line.
    let trade_gaps: Vec<u64> = (0..2)
        .map(|i| s["sources"][i]["anomalies"]["gap"].as_u64().unwrap_or(0))
        .collect();
    eprintln!(
        "{name}: provisional trade-id gap flags A {} B {} (all filled: every id passed once)",
        trade_gaps[0], trade_gaps[1]
    );
    assert!(
        trade_gaps[0] <= kills.0 as u64 && trade_gaps[1] <= kills.1 as u64,
        "{name}: more trade-id gap flags {trade_gaps:?} than reconnects {kills:?}"
    );
    // The other `gap` anomalies are depth-diff gaps of one line's own order book: a broadcast
    // line misses the diffs sent while it is down, and its book then waits for a snapshot
    // that a live Binance stream never sends again (so at most one per line).
    let book_gaps = src(s, 0, "book_gaps") + src(s, 1, "book_gaps");
    assert!(src(s, 0, "book_gaps") <= 1 && src(s, 1, "book_gaps") <= 1);
    assert_eq!(
        anomaly(s, "gap"),
        book_gaps + trade_gaps[0] + trade_gaps[1],
        "{name}: {}",
        s["anomalies"]
    );
    assert_eq!(s["messages"]["malformed"], 0);
    assert_eq!(s["cold_drops"], 0, "{name}: journal records dropped");
    for (i, k) in [(0, kills.0), (1, kills.1)] {
        assert!(src(s, i, "trades") > 0, "{name}: line {i} delivered trades");
        assert_eq!(src(s, i, "disconnects"), k as u64, "{name}: line {i}");
        assert_eq!(src(s, i, "connects"), k as u64 + 1, "{name}: line {i}");
    }
    let journal = std::fs::read_to_string(res.report_dir.join("journal.md")).unwrap();
    assert!(
        !journal.contains("further feed events are counted"),
        "{name}: the journal capped feed events"
    );
    for (line, k) in [("a", kills.0), ("b", kills.1)] {
        assert_eq!(
            journal_count(&journal, line, "**disconnected**"),
            k,
            "{name}: one journal line per kill on {line}"
        );
        assert_eq!(
            journal_count(&journal, line, "connected and subscribed"),
            k + 1,
            "{name}: reconnects of {line}"
        );
    }
}

/// The A/B test on the capture: 4 000 msg/s, A shut after lines 1000, 5000, … 41000 (11
/// kills), B after 3000, 7000, … 39000 (10). `lag` delays B's stream behind A's.
fn ab_capture(name: &str, lag: Duration) -> Option<(RunResult, Ab, (usize, usize))> {
    let data = common::shared_data()?;
    let lines = capture_lines(&data);
    let plan = AbPlan {
        period: 4_000,
        phase_a: 1_000,
        phase_b: 3_000,
    };
    let ab = ab_servers(lines, None, 4_000, &plan);
    let run = LiveRun::start(
        name,
        &[feed("a", &ab.a.url(), ""), feed("b", &ab.b.url(), "")],
    );
    ab.open_when_subscribed(&run, lag);
    wait_drained(&run, &ab.a, &ab.b, LINES, HANG_GUARD);
    let res = run.stop();
    let kills = (
        plan.kills(plan.phase_a, LINES),
        plan.kills(plan.phase_b, LINES),
    );
    assert_eq!(kills, (11, 10));
    check_ab(name, &res, &ab, LINES, TRADES, kills);
    report_allocations(name, &res.summary);
    Some((res, ab, kills))
}

#[test]
fn ab_broadcast_lines_with_kills_merge_into_the_capture_stream() {
    ab_capture("live-ab", Duration::ZERO);
}

/// Line B 200 ms (800 lines, about 190 trades) behind line A, as two endpoints of a venue can
/// be. When B comes back from a kill it resumes behind A: everything it brings is redundant.
/// When A comes back it resumes ahead of everything B has delivered: if it missed a trade
/// while down, the arbiter flags a gap at once, and B fills it 200 ms later. Which of A's
/// reconnects missed a trade is known from the server's records (the lines each connection
/// carried), so the flags are checked exactly: nothing is lost, yet the summary shows `gap`
/// anomalies, and nothing in summary.json (no `gaps_filled`) tells them from lost trades.
#[test]
fn ab_lagging_line_gaps_are_flagged_then_filled_by_the_other_line() {
    let Some((res, ab, kills)) = ab_capture("live-ab-lag", Duration::from_millis(200)) else {
        return;
    };
    let s = &res.summary;
    let data = common::shared_data().unwrap();
    let lines = capture_lines(&data);
    let is_trade = |i: usize| lines[i].starts_with(br#"{"stream":"btcusdt@trade""#);
    let cov = coverage(&ab.a);
    assert_eq!(cov.len(), kills.0 + 1);
    let missed_a_trade = cov
        .windows(2)
        .filter(|w| (w[0].1 + 1..w[1].0).any(is_trade))
        .count() as u64;
    let flags = |i: usize| s["sources"][i]["anomalies"]["gap"].as_u64().unwrap_or(0);
    eprintln!(
        "live-ab-lag: A missed a trade in {missed_a_trade} of {} reconnects; gap flags A {} B {}",
        kills.0,
        flags(0),
        flags(1)
    );
    assert_eq!(
        flags(0),
        missed_a_trade,
        "one flag per reconnect of A that missed a trade"
    );
    assert_eq!(flags(1), 0, "B resumes behind A: nothing to flag");
}

#[test]
fn stall_garbage_and_fragments_on_one_line_lose_nothing() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let lines = capture_lines(&data);
    let mut cfg = ServerConfig::new(lines.clone());
    cfg.mode = Mode::Resume;
    cfg.pace = Pace::Unpaced;
    cfg.faults = Faults {
        // Every 7th message of a connection in 3 frames, a ping between the first two.
        fragment_every: Some((7, 3)),
        ping_between_fragments: true,
        at_lines: vec![
            // Silent for 5 s with the socket open: stale after 1 s, replaced.
            (6_000, LineFault::Stall(5_000)),
            // Frames the client must refuse, each ending its connection…
            (12_000, LineFault::Garbage(Garbage::BadOpcode)),
            (24_000, LineFault::Garbage(Garbage::InvalidUtf8)),
            (30_000, LineFault::Garbage(Garbage::ReservedBits)),
            // …and a legal text frame that is not JSON: delivered, malformed for the parser.
            (18_000, LineFault::Garbage(Garbage::NonJson)),
        ],
        ..Faults::default()
    };
    let server = WsServer::start(cfg);
    let run = LiveRun::start(
        "live-faults",
        &[
            feed("a", &server.url(), ",stale_after_ms=1000"),
            // The non-JSON frame is a message too.
            format!("source.limit={}", LINES + 1),
        ],
    );
    let res = run.finish(HANG_GUARD, || format!("server {:?}", server.records()));
    let s = &res.summary;
    let recs = server.records();
    assert_eq!(server.cursor(), LINES);
    assert_eq!(
        recs.len(),
        5,
        "stall + 3 fatal frames → 5 connections: {recs:?}"
    );
    assert!(recs.iter().map(|r| r.fragmented_sent).sum::<u64>() > 1_000);
    assert!(
        recs.iter().map(|r| r.pongs_ok).sum::<u64>() > 100,
        "pings between fragments were answered"
    );
    assert_eq!(recs.iter().map(|r| r.pongs_bad).sum::<u64>(), 0);

    assert_eq!(s["messages"]["received"], LINES as u64 + 1);
    assert_eq!(s["messages"]["malformed"], 1, "the non-JSON frame");
    assert_eq!(s["events"]["trades"], TRADES);
    assert_eq!(trades_passed(s), TRADES);
    assert_eq!(anomaly(s, "gap"), 0, "{}", s["anomalies"]);
    assert_eq!(anomaly(s, "duplicate"), 0, "{}", s["anomalies"]);
    assert_eq!(src(s, 0, "stale"), 1);
    assert_eq!(src(s, 0, "protocol_errors"), 3);
    assert_eq!(src(s, 0, "disconnects"), 4);
    assert_eq!(src(s, 0, "connects"), 5);

    let journal = std::fs::read_to_string(res.report_dir.join("journal.md")).unwrap();
    assert_eq!(journal_count(&journal, "a", "**stale**: no message for"), 1);
    assert_eq!(journal_count(&journal, "a", "**disconnected**"), 4);
    assert_eq!(journal_count(&journal, "a", "stale stream"), 1);
    assert_eq!(journal_count(&journal, "a", "WebSocket protocol error"), 3);
    assert_eq!(journal_count(&journal, "a", "connected and subscribed"), 5);
    report_allocations("live-faults", s);
}

/// Capture trade line `j` moved forward by `k` loops: trade id + k·(ids per loop), event and
/// trade times + k·(capture span + 1 ms), so ids and times keep increasing across loops.
fn shifted(line: &[u8], k: u64, ids: u64, span_ms: u64) -> Vec<u8> {
    let mut s = String::from_utf8(line.to_vec()).unwrap();
    for (key, add) in [("t", k * ids), ("E", k * span_ms), ("T", k * span_ms)] {
        let pat = format!("\"{key}\":");
        let at = s.find(&pat).unwrap_or_else(|| panic!("no {pat} in {s}")) + pat.len();
        let end = at + s[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
        let v: u64 = s[at..end].parse().unwrap();
        s = format!("{}{}{}", &s[..at], v + add, &s[end..]);
    }
    s.into_bytes()
}

fn field(line: &[u8], key: &str) -> u64 {
    let v: Value = serde_json::from_slice(line).unwrap();
    v["data"][key].as_u64().unwrap()
}

/// Two broadcast lines looping the capture's trades (ids shifted per loop) at 2 000 msg/s
/// for `secs`, each shut every 8 000 messages (4 s) at its own phase; then the servers stop
/// sending, the pipeline drains, the run is stopped.
fn soak(name: &str, secs: u64) {
    let Some(data) = common::shared_data() else {
        return;
    };
    let trades = trade_lines(&data);
    assert_eq!(trades.len() as u64, TRADES);
    let first = trades.first().unwrap();
    let last = trades.last().unwrap();
    assert_eq!((field(first, "t"), field(last, "t")), (FIRST_ID, LAST_ID));
    let ids = LAST_ID - FIRST_ID + 1;
    let t0 = field(first, "T").min(field(first, "E"));
    let t1 = field(last, "T").max(field(last, "E"));
    let span_ms = t1 - t0 + 1;

    let rate = 2_000;
    let n = (secs * rate) as usize;
    let per_loop = trades.len();
    let gen = {
        let trades = trades.clone();
        move |i: usize| shifted(&trades[i % per_loop], (i / per_loop) as u64, ids, span_ms)
    };
    // Spot-check the generator: continuous ids and increasing times across a loop boundary.
    let (a_line, b_line) = (gen(per_loop - 1), gen(per_loop));
    assert_eq!(field(&a_line, "t") + 1, field(&b_line, "t"));
    assert!(field(&a_line, "T") < field(&b_line, "T"));
    let endless = Endless {
        count: n,
        line: Arc::new(gen),
    };
    let plan = AbPlan {
        period: 8_000,
        phase_a: 2_000,
        phase_b: 6_000,
    };
    let ab = ab_servers(Arc::new(Vec::new()), Some(endless), rate, &plan);
    let (a, b) = (&ab.a, &ab.b);
    let run = LiveRun::start(name, &[feed("a", &a.url(), ""), feed("b", &b.url(), "")]);
    let wall = Instant::now();
    ab.open_when_subscribed(&run, Duration::ZERO);
    // Progress while it runs, from the metrics.
    let mut next_print = Instant::now();
    run.wait_until(
        "the servers to send every line",
        Duration::from_secs(secs * 2 + 240),
        |m| {
            if Instant::now() >= next_print {
                next_print += Duration::from_secs(60);
                eprintln!(
                    "{name}: {:.0} s, line {} / {n}, trades parsed {}, disconnects {} / {}, anomalies {}",
                    wall.elapsed().as_secs_f64(),
                    a.cursor().min(b.cursor()),
                    m["trades"],
                    src(m, 0, "disconnects"),
                    src(m, 1, "disconnects"),
                    m["anomalies"]
                );
            }
            a.cursor() == n && b.cursor() == n
        },
        || format!("cursors {} {}", a.cursor(), b.cursor()),
    );
    wait_drained(&run, a, b, n, HANG_GUARD);
    let res = run.stop();
    let kills = (plan.kills(plan.phase_a, n), plan.kills(plan.phase_b, n));
    check_ab(name, &res, &ab, n, n as u64, kills);
    let allocs = report_allocations(name, &res.summary);
    let s = &res.summary;
    eprintln!(
        "{name} SOAK: {secs} s at {rate} msg/s: {} trades generated, {} passed, kills A {} B {}, reconnects A {} B {}, anomalies {}, feed-thread allocations {allocs}, wall {:.1} s",
        n,
        trades_passed(s),
        kills.0,
        kills.1,
        src(s, 0, "connects") - 1,
        src(s, 1, "connects") - 1,
        s["anomalies"],
        wall.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "soak: TICKWIRE_SOAK_SECS (default 600) of A/B lines with kills"]
fn soak_ab_lines_with_kills() {
    let secs = std::env::var("TICKWIRE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    soak("live-soak", secs);
}

#[test]
fn soak_ab_lines_with_kills_ci() {
    soak("live-soak-ci", 20);
}

/// A line whose endpoint refuses connections never connects, so it never disconnects either:
/// `sources[].disconnects` counts connections that ended, and `connects` those made.
///
/// Fails today: `LiveSource` (src/feed/live.rs, `on_event`) counts every
/// `WsEvent::Disconnected` as a disconnect, and `WsFeed` reports a failed connection attempt
/// (`connect_failed` in src/feed/ws/session.rs) as `Disconnected { reason: ConnectFailed }`,
/// so each refused attempt adds a disconnect (and a "**disconnected** (connection N): connect
/// failed" journal line) and costs the line 5 health points. `WsStats` keeps the two apart
/// (`connect_failures` vs `disconnects`); `SourceStats` has no counter for failed attempts.
#[test]
fn refused_connection_attempts_are_not_disconnects() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/stream?streams=btcusdt@trade");
    let run = LiveRun::start("live-refused", &[feed("a", &url, "")]);
    let journal = run.dir.join("journal.md");
    let attempts = || {
        std::fs::read_to_string(&journal)
            .map(|j| journal_count(&j, "a", "connect failed"))
            .unwrap_or(0)
    };
    run.wait_until(
        "three refused attempts journaled",
        HANG_GUARD,
        |_| attempts() >= 3,
        || format!("{} attempts journaled", attempts()),
    );
    let res = run.stop();
    let s = &res.summary;
    assert_eq!(src(s, 0, "connects"), 0);
    assert_eq!(
        src(s, 0, "disconnects"),
        0,
        "no connection was ever made, yet: {}",
        s["sources"][0]
    );
}

/// OKX's BTC-USDT trades and tickers from `ws/okx/cryptofeed_OKX.ws.1.0_20220513.jsonl.zst`
/// (69 trades, ids 338476307…338476375, about 11 s of market time).
fn okx_btc_lines(data: &Path) -> Vec<Vec<u8>> {
    let cap = Capture::load(&data.join("ws/okx/cryptofeed_OKX.ws.1.0_20220513.jsonl.zst"))
        .expect("OKX capture");
    (0..cap.lines.len())
        .map(|i| cap.line(i))
        .filter(|l| {
            l.starts_with(br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data""#)
                || l.starts_with(br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data""#)
        })
        .map(|l| l.to_vec())
        .collect()
}

/// The first `"key":<digits>` in `s` set to `v`.
fn set_num(s: &str, key: &str, v: u64) -> String {
    let pat = format!("\"{key}\":");
    let at = s.find(&pat).unwrap_or_else(|| panic!("no {pat} in {s}")) + pat.len();
    let end = at + s[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{v}{}", &s[..at], &s[end..])
}

/// Every `"key":"<digits>"` in `s` set to `v`.
fn set_quoted(s: &str, key: &str, v: u64) -> String {
    let pat = format!("\"{key}\":\"");
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(p) = rest.find(&pat) {
        let at = p + pat.len();
        let end = at + rest[at..].find('"').unwrap();
        out.push_str(&rest[..at]);
        out.push_str(&v.to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every `"key":"<digits>"` in `s` plus `add`.
fn shift_quoted(s: &str, key: &str, add: u64) -> String {
    let pat = format!("\"{key}\":\"");
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(p) = rest.find(&pat) {
        let at = p + pat.len();
        let end = at + rest[at..].find('"').unwrap();
        let v: u64 = rest[at..end].parse().unwrap();
        out.push_str(&rest[..at]);
        out.push_str(&(v + add).to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A backup venue end to end: Binance BTCUSDT is the primary (its capture's trades at
/// 2 000 msg/s), OKX BTC-USDT the backup (its capture looped at 100 msg/s, ids and times
/// shifted per loop). The Binance server stalls for 1.5 s after 3 000 trades: once the
/// primary has been silent for `failover_after_ms` the OKX trades stand in, and once Binance
/// has been healthy for `failback_after_ms` it is the source again. OKX's 2022 prices are
/// about half of Binance's 2024 ones, so the cross-check flags a divergence.
#[test]
fn backup_venue_fails_over_and_back_end_to_end() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let trades = trade_lines(&data);
    let okx = okx_btc_lines(&data);
    assert_eq!(okx.len(), 94, "OKX BTC-USDT lines with data");
    let okx_trades: Vec<_> = okx
        .iter()
        .filter(|l| l.starts_with(br#"{"arg":{"channel":"trades""#))
        .collect();
    assert_eq!(okx_trades.len(), 69);

    // Market time as the pace makes it (trade i at t0 + i/2 ms), so the two venues' clocks
    // run at the speed of the wall clock, as live ones do.
    let t0 = field(&trades[0], "T");
    let retimed: Vec<Vec<u8>> = trades
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let t = t0 + (i / 2) as u64;
            let lag = field(l, "E") - field(l, "T");
            let s = std::str::from_utf8(l).unwrap();
            set_num(&set_num(s, "T", t), "E", t + lag).into_bytes()
        })
        .collect();
    let mut cfg = ServerConfig::new(Arc::new(retimed));
    cfg.mode = Mode::Resume;
    cfg.pace = Pace::PerSec(2_000);
    cfg.faults.at_lines = vec![(3_000, LineFault::Stall(1_500))];
    let primary = WsServer::start(cfg);

    let per_loop = okx.len();
    let okx_t0 = 1_652_459_224_000;
    let gen = {
        let okx = okx.clone();
        move |i: usize| {
            // Ids continue across loops; line i is stamped 10 ms after line i - 1.
            let k = (i / per_loop) as u64;
            let s = std::str::from_utf8(&okx[i % per_loop]).unwrap();
            let s = shift_quoted(s, "tradeId", k * 69);
            set_quoted(&s, "ts", okx_t0 + 10 * i as u64).into_bytes()
        }
    };
    let mut bcfg = ServerConfig::new(Arc::new(Vec::new()));
    bcfg.mode = Mode::Broadcast;
    bcfg.pace = Pace::PerSec(100);
    bcfg.require_subscribe = false;
    bcfg.endless = Some(Endless {
        count: 100 * 600,
        line: Arc::new(gen),
    });
    let backup = WsServer::start(bcfg);

    let okx_feed = format!(
        "feeds.okx={{venue='okx',url='{}',role='backup',symbols={{'BTC-USDT'='BTCUSDT'}},backoff_initial_ms=20,backoff_max_ms=20}}",
        backup.url()
    );
    let run = LiveRun::start(
        "live-failover",
        &[
            feed("binance", &primary.url(), ",stale_after_ms=20000"),
            okx_feed,
            "arbiter.failover_after_ms=300".into(),
            "arbiter.failback_after_ms=300".into(),
        ],
    );
    run.wait_until(
        "a failback and every primary trade",
        HANG_GUARD,
        |m| {
            m["failbacks"].as_u64().unwrap_or(0) >= 1
                && m["sources"][0]["trades"].as_u64() == Some(TRADES)
        },
        || format!("primary {:?}", primary.records()),
    );
    let res = run.stop();
    let s = &res.summary;
    let journal = std::fs::read_to_string(res.report_dir.join("journal.md")).unwrap();

    let failovers = s["arbiter"]["failovers"].as_u64().unwrap();
    let failbacks = s["arbiter"]["failbacks"].as_u64().unwrap();
    assert!(failovers >= 1, "{}", s["arbiter"]);
    assert!(
        failbacks == failovers || failbacks + 1 == failovers,
        "{}",
        s["arbiter"]
    );
    let fo: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("feed `okx`: ") && l.contains("**failover**: BTCUSDT"))
        .collect();
    assert_eq!(fo.len() as u64, failovers, "{journal}");
    assert_eq!(
        journal
            .lines()
            .filter(|l| l.contains("**failback**: BTCUSDT"))
            .count() as u64,
        failbacks,
        "{journal}"
    );
    // The journal says how long the primary had been silent: at least the configured time.
    for l in &fo {
        let silent: u64 = l
            .split("primaries silent ")
            .nth(1)
            .and_then(|x| x.split(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("silent ms in {l}"));
        assert!(silent >= 300, "{l}");
    }
    // The backup's trades stood in while failed over; the primary's were held back meanwhile.
    let backup_passed = src(s, 1, "first_delivered");
    let primary_passed = src(s, 0, "first_delivered");
    assert!(backup_passed > 0, "{}", s["sources"]);
    assert!(backup_passed <= src(s, 1, "trades"), "{}", s["sources"]);
    assert!(
        primary_passed > 0 && primary_passed < TRADES,
        "{}",
        s["sources"]
    );
    assert_eq!(src(s, 0, "trades"), TRADES);
    assert!(anomaly(s, "divergence") >= 1, "{}", s["anomalies"]);
    assert_eq!(s["messages"]["malformed"], 0);
    // Two venues in one live lane: events are ordered by corrected time. The trades Binance
    // held during its stall arrive after OKX trades stamped later were already out: late.
    assert!(s["arbiter"]["reordered"].is_u64(), "{}", s["arbiter"]);
    assert!(
        s["arbiter"]["reorder_late"].as_u64().unwrap() > 0,
        "{}",
        s["arbiter"]
    );
    eprintln!(
        "live-failover: failovers {failovers}, failbacks {failbacks}, primary passed {primary_passed}, backup passed {backup_passed}, reordered {}, late {}, journal: {fo:?}",
        s["arbiter"]["reordered"], s["arbiter"]["reorder_late"]
    );
}
