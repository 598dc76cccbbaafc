//! `tickwire backtest`: the live pipeline on history, on a virtual clock.
//!
//! A backtest is a replay at full speed in which market time is the only clock: the same
//! parse, arbiter, candle, indicator, strategy, risk, order and paper-venue code as a live
//! run, fused on one thread, so two runs on the same input write byte-identical files. This
//! module builds the run's settings from the command line (the strategy, its parameters, the
//! backtest's wide risk limits) and, after the run, turns the recorded fills and account
//! snapshots into round trips (`trades.csv`), statistics (`summary.json` → `stats`,
//! `report.md`) and plots (`equity.png`, `price.png`).

pub mod stats;
pub mod sweep;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::core::clock::iso8601_ms;
use crate::core::config::Config;
use crate::core::num::format_scaled;
use crate::core::Side;
use crate::plot;
use crate::runtime::RunResult;
use stats::{round_trips, RoundTrip, Stats};

/// Strategies `--strategy` accepts.
pub const STRATEGIES: [&str; 6] = [
    "sma_cross",
    "ema_cross",
    "momentum",
    "reversal",
    "breakout",
    "pattern",
];

/// Header of `trades.csv` (one row per round trip).
pub const TRADES_HEADER: &str =
    "instrument,side,qty,entry_time,entry_price,exit_time,exit_price,pnl,fees,return_pct";

/// Why the command line cannot make a backtest.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// An unknown strategy.
    #[error(
        "--strategy {0}: not one of sma_cross, ema_cross, momentum, reversal, breakout, pattern"
    )]
    Strategy(String),
    /// An unsupported `--threads`.
    #[error("--threads {0}: 1 or 2")]
    Threads(usize),
    /// An unknown `--fill`.
    #[error("--fill {0}: not next-open or close")]
    Fill(String),
    /// A malformed `--param`.
    #[error("--param {0}: expected NAME=VALUE")]
    Param(String),
    /// No input.
    #[error("--data {0}: {1}")]
    Data(String, String),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] crate::runtime::RunError),
    /// The report could not be written.
    #[error("report: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs one backtest of `cfg` (from [`settings`]) into `report_dir` and writes its report;
/// `captures`, when given, are played instead of loading the files again. With `bar` and
/// standard error a terminal, a progress bar with an ETA is drawn there once the run has
/// taken a second.
pub fn run(
    cfg: &Config,
    report_dir: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    captures: Option<Vec<std::sync::Arc<crate::feed::replay::Capture>>>,
    bar: bool,
) -> Result<(RunResult, Stats), BacktestError> {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;
    let done = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let drawer = (bar && std::io::stderr().is_terminal()).then(|| {
        let (done, total, finished) = (done.clone(), total.clone(), finished.clone());
        std::thread::spawn(move || progress_bar(&done, &total, &finished))
    });
    let res = crate::runtime::run(
        cfg,
        crate::runtime::RunOptions {
            mode: "backtest".into(),
            report_dir,
            duration: None,
            stop,
            captures,
            progress: Some(done),
            progress_total: Some(total),
            latency_intervals: None,
        },
    );
    finished.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = drawer {
        let _ = h.join();
    }
    let res = res?;
    let stats = finish(cfg, &res)?;
    Ok((res, stats))
}

/// One progress line (`done` of `total` messages after `elapsed_s`): `[#####·····]  42.1%  2.11M / 5.02M messages  1.93M/s  ETA 1.5 s`.
pub fn progress_line(done: u64, total: u64, elapsed_s: f64) -> String {
    let frac = if total > 0 {
        (done as f64 / total as f64).min(1.0)
    } else {
        0.0
    };
    let width = 30;
    let filled = (frac * width as f64).round() as usize;
    let rate = if elapsed_s > 0.0 {
        done as f64 / elapsed_s
    } else {
        0.0
    };
    let eta = if rate > 0.0 {
        format!("{:.1} s", total.saturating_sub(done) as f64 / rate)
    } else {
        "?".into()
    };
    format!(
        "[{}{}] {:5.1}%  {:.2}M / {:.2}M messages  {:.2}M/s  ETA {eta}",
        "#".repeat(filled),
        "·".repeat(width - filled),
        frac * 100.0,
        done as f64 / 1e6,
        total as f64 / 1e6,
        rate / 1e6
    )
}

/// Draws the progress line on standard error every 200 ms after the first second, until
/// `finished`; then clears it.
fn progress_bar(
    done: &std::sync::atomic::AtomicU64,
    total: &std::sync::atomic::AtomicU64,
    finished: &std::sync::atomic::AtomicBool,
) {
    use std::io::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let start = std::time::Instant::now();
    let mut drawn = false;
    let mut tick = 0u64;
    while !finished.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        tick += 1;
        let t = start.elapsed().as_secs_f64();
        if t < 1.0 || !tick.is_multiple_of(4) {
            continue;
        }
        let line = progress_line(done.load(Relaxed), total.load(Relaxed), t);
        let _ = write!(std::io::stderr(), "\r{line}");
        drawn = true;
    }
    if drawn {
        let _ = write!(std::io::stderr(), "\r{:80}\r", "");
    }
}

/// The input files: a file, or every file of a directory (sorted by name; hidden files and
/// receive-time sidecars skipped).
pub fn data_files(path: &Path) -> Result<Vec<PathBuf>, BacktestError> {
    let shown = path.display().to_string();
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd =
        std::fs::read_dir(path).map_err(|e| BacktestError::Data(shown.clone(), e.to_string()))?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !n.starts_with('.') && !n.contains(".recv_ns.")
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(BacktestError::Data(shown, "no data files in it".into()));
    }
    Ok(out)
}

/// What the first data file holds, when it is candles: the bar interval in ns (0 when it
/// cannot be told from the first rows).
pub fn candle_interval(files: &[PathBuf]) -> Option<u64> {
    use crate::feed::parse::binance_csv::{CsvKind, Parser};
    use crate::feed::parse::Event;
    let path = files.first()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    if !(name.contains(".csv") || name.ends_with(".zip")) {
        return None;
    }
    let head = crate::feed::replay::read_head(path, 256 * 1024).ok()?;
    let mut p = Parser::new(
        CsvKind::from_file_name(&name),
        crate::core::Symbol::new(b"X")?,
    );
    let mut opens: Vec<u64> = Vec::new();
    let mut interval = 0u64;
    let mut lines = head.split(|&b| b == b'\n');
    // The last piece may be cut short.
    let mut rows = 0;
    while let (Some(line), true) = (lines.next(), rows < 64) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        let mut got = None;
        let ok = p.parse(
            line,
            &mut |_: &[u8]| Some(crate::core::InstrumentId(0)),
            &mut |e| {
                if let Event::Kline(k) = e {
                    got = Some(k);
                }
            },
        );
        match (ok, got) {
            (Ok(_), Some(k)) => {
                if k.interval_s > 0 {
                    interval = u64::from(k.interval_s) * 1_000_000_000;
                }
                opens.push(k.open_ns);
            }
            (Ok(_), None) if opens.is_empty() => {}
            _ => break,
        }
    }
    if opens.is_empty() {
        return None;
    }
    if interval == 0 {
        opens.sort_unstable();
        interval = opens
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|&d| d > 0)
            .min()
            .unwrap_or(0);
    }
    Some(interval)
}

/// The candle resolution for bars `interval_ns` long: the largest of 1s, 1m, 5m, 1h, 1d that
/// divides it (a 15-minute bar is then one 5m candle), 1m when unknown.
pub fn bar_resolution(interval_ns: u64) -> crate::core::Resolution {
    use crate::core::Resolution;
    Resolution::ALL
        .iter()
        .rev()
        .copied()
        .find(|r| interval_ns > 0 && interval_ns.is_multiple_of(r.nanos()))
        .unwrap_or(Resolution::M1)
}

/// A `--param` value as TOML: a number or boolean as is, anything else quoted.
fn toml_value(v: &str) -> String {
    let t = v.trim();
    if t.parse::<i64>().is_ok() || t.parse::<f64>().is_ok() || t == "true" || t == "false" {
        t.to_string()
    } else {
        toml::Value::String(t.to_string()).to_string()
    }
}

/// The `--set` lines of a backtest, before the user's own: replay of `files` at full speed on
/// one thread, one account snapshot a minute, no status line, the chosen strategy alone with
/// its parameters (`resolution` picks the candles it trades on) and risk limits wide enough
/// that the strategy, not the limits, is what is measured (tighten them with `--set risk.…`).
/// `instruments` is how many `[[instruments]]` the config lists (their own overrides are
/// widened too).
///
/// Candle data (Binance klines, a candle CSV with a header) runs in bar mode: each bar is
/// played as four trades (open, the extreme nearer the open, the other, close; see
/// [`crate::feed::ParseStage::with_bars`]) with no order or data latency, so a market order
/// decided on a bar's close fills at the next bar's open (`fill` `next-open`, the default)
/// or at that close (`close`). Stops and take-profits are checked on each of the four
/// prices, stop-loss before take-profit on the same price, and fill at the price that
/// triggered them. The strategy's resolution defaults to the bars' interval.
pub fn settings(
    files: &[PathBuf],
    strategy: Option<&str>,
    params: &[String],
    instruments: usize,
    fill: Option<&str>,
    threads: usize,
) -> Result<Vec<String>, BacktestError> {
    let list: Vec<String> = files
        .iter()
        .map(|f| toml::Value::String(f.display().to_string()).to_string())
        .collect();
    let mut sets = vec![
        "source.kind=\"replay\"".to_string(),
        format!("source.files=[{}]", list.join(",")),
        "source.speed=\"max\"".to_string(),
        "cold.status_line=false".to_string(),
        "cold.equity_interval_ms=60000".to_string(),
        "cold.latency_sample_every=64".to_string(),
        "risk.max_position=\"1000000000\"".to_string(),
        "risk.max_order_qty=\"1000000000\"".to_string(),
        "risk.max_order_notional=\"10000000000\"".to_string(),
        "risk.max_gross_exposure=\"10000000000\"".to_string(),
        "risk.max_net_exposure=\"10000000000\"".to_string(),
        "risk.daily_loss=\"10000000000\"".to_string(),
        "risk.max_drawdown_bps=10000".to_string(),
        "risk.price_band_bps=10000".to_string(),
        "risk.max_orders_per_sec=10000".to_string(),
        "risk.max_open_orders=10000".to_string(),
        "risk.stop_loss_bps=0".to_string(),
        "risk.take_profit_bps=0".to_string(),
        "risk.trailing_stop_bps=0".to_string(),
    ];
    // A CSV or Binance archive holds one symbol: the instrument table needs room for the
    // configured instruments and one per file, not the 256 a capture of unknown symbols
    // may need. Every per-instrument table is sized by it.
    let csv = |f: &PathBuf| {
        let name = f.to_string_lossy();
        name.contains(".csv") || name.ends_with(".zip")
    };
    if !files.is_empty() && files.iter().all(csv) {
        sets.push(format!(
            "source.max_instruments={}",
            (instruments + files.len()).max(1)
        ));
    }
    for i in 0..instruments {
        sets.push(format!("instruments.{i}.max_position=\"1000000000\""));
        sets.push(format!("instruments.{i}.max_order_qty=\"1000000000\""));
    }
    match threads {
        1 => {}
        // Reading and parsing the rows is about half the work, so the parse stage gets a
        // thread to itself (measured: 0.77-0.85 s against 0.90-0.92 s with the arbiter and
        // candles beside it, 5 M trades).
        // Pinned to the first two cores when there are two (measured: median 0.70 s against
        // 0.75 s unpinned, where the scheduler now and then stacks both on one core). Idle
        // threads yield rather than park: a parked thread wakes late and stalls the other,
        // and yielding lets the file reader and the cold thread run (median 0.61 s against
        // 0.63 s busy-spinning and 0.80 s parking).
        2 => {
            let ids = core_affinity::get_core_ids().unwrap_or_default();
            let core = |i: usize| match (ids.len() >= 2, ids.get(i)) {
                (true, Some(c)) => format!(",core={}", c.id),
                _ => String::new(),
            };
            sets.push(format!(
                "lanes=[{{name=\"main\",threads=[{{name=\"feed\",stages=[\"parse\"],wait=\"spin-then-yield\"{}}},{{name=\"trade\",stages=[\"arbiter\",\"candles\",\"indicators\",\"signals\",\"risk\",\"venue\"],wait=\"spin-then-yield\"{}}}]}}]",
                core(0),
                core(1)
            ));
        }
        n => return Err(BacktestError::Threads(n)),
    }
    let bars = candle_interval(files);
    match (bars, fill) {
        (None, Some(f)) => {
            return Err(BacktestError::Data(
                files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                format!("--fill {f} applies to candle data, and this is not candles"),
            ))
        }
        (Some(_), f) => {
            let f = f.unwrap_or("next-open");
            if !matches!(f, "next-open" | "close") {
                return Err(BacktestError::Fill(f.to_string()));
            }
            sets.push(format!("source.bars=\"{f}\""));
            sets.push("paper.order_latency_ms=0".to_string());
            sets.push("paper.md_latency_ms=0".to_string());
        }
        (None, None) => {}
    }
    let Some(kind) = strategy else {
        return Ok(sets);
    };
    if !STRATEGIES.contains(&kind) {
        return Err(BacktestError::Strategy(kind.to_string()));
    }
    let mut resolution = bars
        .map_or("1m", |iv| bar_resolution(iv).label())
        .to_string();
    let mut own: Vec<String> = Vec::new();
    let mut allow_short = true;
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| BacktestError::Param(p.clone()))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(BacktestError::Param(p.clone()));
        }
        if k == "resolution" {
            resolution = v.trim().to_string();
        } else if k == "allow_short" {
            allow_short = v.trim() != "false";
        } else {
            own.push(format!("{k}={}", toml_value(v)));
        }
    }
    let res = toml::Value::String(resolution).to_string();
    // The reference crosses size and send their own orders (see `strategy::cross`).
    let entry = if kind.ends_with("_cross") {
        own.push(format!("resolution={res}"));
        format!("{{{kind}={{{}}},allow_short={allow_short}}}", own.join(","))
    } else {
        format!(
            "{{{kind}={{{}}},allow_short={allow_short},scoring={{partial=true}},noise={{cooldown_ms=0,min_hold_ms=0}},sizing={{mode=\"equity_fraction\",fraction=0.99,min_notional=\"0.00000001\"}}}}",
            own.join(",")
        )
    };
    sets.push(format!("strategy.resolutions=[{res}]"));
    sets.push(format!("candles.resolutions=[{res}]"));
    sets.push("strategy.filter.instrument_cooldown_ms=0".to_string());
    sets.push(format!("strategy.strategies=[{entry}]"));
    Ok(sets)
}

/// Buy-and-hold over the run: the mean of each traded instrument's last ÷ first trade − 1,
/// percent.
fn buy_and_hold(res: &RunResult) -> f64 {
    let r: Vec<f64> = res
        .recorded
        .marks
        .iter()
        .filter(|m| m.2 .0 > 0)
        .map(|m| (m.4 .0 as f64 / m.2 .0 as f64 - 1.0) * 100.0)
        .collect();
    if r.is_empty() {
        0.0
    } else {
        r.iter().sum::<f64>() / r.len() as f64
    }
}

fn trades_csv(cfg: &Config, trips: &[RoundTrip]) -> String {
    let table = cfg.instrument_table();
    let mut out = String::with_capacity(64 * (trips.len() + 1));
    out.push_str(TRADES_HEADER);
    out.push('\n');
    for t in trips {
        let (pd, qd) = table
            .get(t.instrument)
            .map_or((8, 8), |i| (i.price_decimals(), i.qty_decimals()));
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.8},{:.8},{:.6}",
            table.symbol(t.instrument),
            if t.side == Side::Buy { "long" } else { "short" },
            format_scaled(t.qty, qd),
            iso8601_ms(t.entry_ns),
            format_scaled(t.entry_price, pd),
            iso8601_ms(t.exit_ns),
            format_scaled(t.exit_price, pd),
            t.pnl,
            t.fees,
            t.return_pct
        );
    }
    out
}

fn stats_markdown(s: &Stats) -> String {
    format!(
        "## Backtest statistics\n\n| statistic | value |\n|---|---|\n\
| start / end | {} / {} ({:.2} days) |\n\
| equity start / end | {:.2} / {:.2} |\n\
| total return | {:.3}% (buy and hold {:.3}%) |\n\
| CAGR | {:.3}% |\n\
| volatility (annualized) | {:.3}% |\n\
| Sharpe / Sortino | {:.3} / {:.3} |\n\
| max drawdown | {:.3}% over {:.2} days |\n\
| Calmar | {:.3} |\n\
| trades | {} (win rate {:.1}%, profit factor {:.3}) |\n\
| average / best / worst trade | {:.4}% / {:.4}% / {:.4}% |\n\
| exposure time | {:.1}% |\n\
| fees / turnover | {:.2} / {:.2}× |\n\
| speed | {:.0} market events/s |\n\n\
Daily returns (UTC days), risk-free 0, 365-day years. Trades are round trips (`trades.csv`);\n\
a trade still open at the end is left out.\n\n\
![equity and drawdown](equity.png)\n\n![price with entries and exits](price.png)\n",
        iso8601_ms(s.start_ns),
        iso8601_ms(s.end_ns),
        s.days,
        s.start_equity,
        s.end_equity,
        s.total_return_pct,
        s.buy_and_hold_return_pct,
        s.cagr_pct,
        s.volatility_pct,
        s.sharpe,
        s.sortino,
        s.max_drawdown_pct,
        s.max_drawdown_days,
        s.calmar,
        s.trades,
        s.win_rate_pct,
        s.profit_factor,
        s.avg_trade_pct,
        s.best_trade_pct,
        s.worst_trade_pct,
        s.exposure_pct,
        s.fees,
        s.turnover,
        s.events_per_s,
    )
}

/// The plots: equity with drawdown (and buy-and-hold) and the first instrument's price with
/// the round trips' entries and exits, drawn side by side on two threads (each is tens of
/// milliseconds of drawing and compression at the end of a run that may take half a
/// second).
fn plots(dir: &Path, res: &RunResult, trips: &[RoundTrip], bh: f64) -> std::io::Result<()> {
    std::thread::scope(|scope| {
        let equity = scope.spawn(|| equity_png(res, bh));
        let price = price_png(res, trips);
        let equity = equity
            .join()
            .map_err(|_| std::io::Error::other("drawing equity.png failed"))?;
        std::fs::write(dir.join("equity.png"), equity)?;
        match price {
            Some(png) => std::fs::write(dir.join("price.png"), png),
            None => Ok(()),
        }
    })
}

/// `equity.png`: equity with drawdown underneath, and buy-and-hold.
fn equity_png(res: &RunResult, bh: f64) -> Vec<u8> {
    let eq = &res.recorded.equity;
    let ts: Vec<i64> = eq.iter().map(|e| (e.0 / 1_000_000) as i64).collect();
    let equity: Vec<f64> = eq.iter().map(|e| e.1 as f64 / 1e8).collect();
    let mut peak = f64::MIN;
    let dd: Vec<f64> = equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 {
                (e - peak) / peak * 100.0
            } else {
                0.0
            }
        })
        .collect();
    // Buy-and-hold drawn as a straight line between its end points (its path is the price
    // chart's).
    let start = equity.first().copied().unwrap_or(0.0);
    let n = equity.len().max(2) - 1;
    let bench: Vec<f64> = (0..equity.len())
        .map(|k| start * (1.0 + bh / 100.0 * k as f64 / n as f64))
        .collect();
    plot::equity_chart(
        "Equity, drawdown, and buy-and-hold (straight to its end value)",
        &ts,
        &equity,
        Some(&bench),
        &dd,
    )
}

/// `price.png`: the first instrument's price with the entries and exits; `None` without
/// prices.
fn price_png(res: &RunResult, trips: &[RoundTrip]) -> Option<Vec<u8>> {
    let first = res.recorded.marks.first()?;
    let inst = first.0;
    let fills: Vec<&crate::core::order::Execution> = res
        .recorded
        .fills
        .iter()
        .filter(|f| f.instrument == inst)
        .collect();
    let pts: Vec<i64> = fills
        .iter()
        .map(|f| (f.market_ns / 1_000_000) as i64)
        .collect();
    let px: Vec<f64> = fills.iter().map(|f| f.price.0 as f64 / 1e8).collect();
    let mut marks = Vec::new();
    for t in trips.iter().filter(|t| t.instrument == inst) {
        marks.push(plot::Mark {
            ts_ms: (t.entry_ns / 1_000_000) as i64,
            price: t.entry_price as f64 / 1e8,
            kind: if t.side == Side::Buy {
                plot::MarkKind::EnterLong
            } else {
                plot::MarkKind::EnterShort
            },
        });
        marks.push(plot::Mark {
            ts_ms: (t.exit_ns / 1_000_000) as i64,
            price: t.exit_price as f64 / 1e8,
            kind: plot::MarkKind::Exit,
        });
    }
    // The price line: the last trade at every account snapshot, the first and last trade,
    // and every fill.
    let mut line: Vec<(i64, f64)> = vec![
        ((first.1 / 1_000_000) as i64, first.2 .0 as f64 / 1e8),
        ((first.3 / 1_000_000) as i64, first.4 .0 as f64 / 1e8),
    ];
    line.extend(
        res.recorded
            .prices
            .iter()
            .filter(|p| p.0 == inst)
            .map(|p| ((p.1 / 1_000_000) as i64, p.2 .0 as f64 / 1e8)),
    );
    line.extend(pts.iter().copied().zip(px.iter().copied()));
    line.sort_by_key(|p| p.0);
    line.dedup_by_key(|p| p.0);
    let (lt, lp): (Vec<i64>, Vec<f64>) = line.into_iter().unzip();
    Some(plot::price_chart(
        "Price, with entries and exits",
        &lt,
        &lp,
        &marks,
    ))
}

/// After the run: `trades.csv`, the statistics in `summary.json` and `report.md`, the plots.
pub fn finish(cfg: &Config, res: &RunResult) -> std::io::Result<Stats> {
    let dir = &res.report_dir;
    let trips = round_trips(&res.recorded.fills);
    // Several lanes' rows reach the cold side interleaved: statistics want time order.
    let mut equity = res.recorded.equity.clone();
    equity.sort_by_key(|e| e.0);
    std::fs::write(dir.join("trades.csv"), trades_csv(cfg, &trips))?;
    let elapsed = res.summary["elapsed_s"].as_f64().unwrap_or(0.0);
    let events = res.totals.trades + res.totals.book_tickers;
    let bh = buy_and_hold(res);
    let s = stats::stats(
        &equity,
        &trips,
        &res.recorded.fills,
        bh,
        if elapsed > 0.0 {
            events as f64 / elapsed
        } else {
            0.0
        },
    );
    let mut summary = res.summary.clone();
    if let Some(obj) = summary.as_object_mut() {
        obj.insert("mode".into(), serde_json::json!("backtest"));
        obj.insert(
            "stats".into(),
            serde_json::to_value(&s).unwrap_or(serde_json::Value::Null),
        );
    }
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
    )?;
    let report = dir.join("report.md");
    let mut md = std::fs::read_to_string(&report).unwrap_or_default();
    md.push('\n');
    md.push_str(&stats_markdown(&s));
    std::fs::write(&report, md)?;
    plots(dir, res, &trips, bh)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_share_rate_and_eta() {
        let l = progress_line(2_500_000, 5_000_000, 2.0);
        assert!(l.contains(" 50.0%"), "{l}");
        assert!(l.contains("2.50M / 5.00M"), "{l}");
        assert!(l.contains("1.25M/s"), "{l}");
        assert!(l.ends_with("ETA 2.0 s"), "{l}");
        assert_eq!(l.matches('#').count(), 15);
        // Nothing known yet: no division by zero, no ETA.
        let l = progress_line(0, 0, 0.0);
        assert!(l.contains("  0.0%") && l.ends_with("ETA ?"), "{l}");
        // Past the total (a loop count estimate): capped.
        assert!(progress_line(7, 5, 1.0).contains("100.0%"));
    }

    #[test]
    fn bar_resolutions_follow_the_interval() {
        use crate::core::Resolution;
        assert_eq!(bar_resolution(60_000_000_000), Resolution::M1);
        assert_eq!(bar_resolution(15 * 60_000_000_000), Resolution::M5);
        assert_eq!(bar_resolution(86_400_000_000_000), Resolution::D1);
        assert_eq!(bar_resolution(4 * 3_600_000_000_000), Resolution::H1);
        assert_eq!(bar_resolution(0), Resolution::M1);
    }
}
