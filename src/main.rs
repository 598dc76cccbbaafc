//! The `tickwire` command line. Parsing and error reporting only: every error is one sentence
//! on stderr and a non-zero exit code, never a panic or a backtrace.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use tickwire::core::clock;
use tickwire::core::config::{Config, ConfigSource};
use tickwire::runtime::{self, RunOptions};

/// Prints a line to stdout. A closed pipe (`tickwire … | head`) ends the output quietly
/// instead of panicking, as `println!` would.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

#[derive(Parser)]
#[command(
    name = "tickwire",
    version,
    about = "A featherweight, low-latency crypto trading engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML config (default: the built-in tuning/dev-2core.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one config value: a dotted TOML path, e.g. `--set risk.max_order_notional=500`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Report directory (default: runs/<UTC timestamp>-<mode>/).
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run live: the built-in synthetic market by default, paper venue.
    Run {
        #[command(flatten)]
        common: Common,
        /// Stop after this long (e.g. 30s, 500ms, 2m); Ctrl-C stops cleanly at any time.
        #[arg(long)]
        duration: Option<String>,
        /// Record what the run takes in into this catalog (`recorder.enabled` and
        /// `recorder.catalog`; `[recorder]` in the config says which kinds and instruments).
        #[arg(long, value_name = "CATALOG")]
        record: Option<PathBuf>,
    },
    /// Replay recorded captures (JSONL, plain or .zst) through the whole pipeline.
    Replay {
        #[command(flatten)]
        common: Common,
        /// Capture files, played in the order given; or one catalog directory (`tickwire
        /// data`), read over --from/--to.
        #[arg(long = "input", required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// Venue whose message format the captures use (detected when omitted).
        #[arg(long)]
        venue: Option<String>,
        /// max; the capture's own timing scaled: 1x, 10x; or a fixed rate: 100k/s (each message
        /// stamped when it was due, so a backlog counts as latency).
        #[arg(long, default_value = "max")]
        speed: String,
        #[command(flatten)]
        range: CatalogRange,
        /// Record what the replay takes in into this catalog (as for `run`).
        #[arg(long, value_name = "CATALOG")]
        record: Option<PathBuf>,
    },
    /// Backtest a strategy on history: the live pipeline on a virtual clock.
    Backtest {
        #[command(flatten)]
        common: Common,
        /// Trades (Binance public-data trades/aggTrades CSV, .gz/.zst/.zip) or recorded
        /// captures: a file or a directory of them; or a catalog (`tickwire data`), read over
        /// --from/--to.
        #[arg(long)]
        data: PathBuf,
        /// sma_cross, ema_cross, momentum, reversal, breakout or pattern (default: the
        /// config's strategies).
        #[arg(long)]
        strategy: Option<String>,
        /// A parameter of the strategy, NAME=VALUE (`resolution=1m` picks its candles).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Candle data: fill orders decided on a bar at the next bar's open (`next-open`,
        /// the default) or at its close (`close`).
        #[arg(long)]
        fill: Option<String>,
        /// Hot threads: 1 (default) or 2 (feed and trading split; same output to the byte).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[command(flatten)]
        range: CatalogRange,
    },
    /// Backtest every point of a parameter grid in parallel and rank them.
    Sweep {
        #[command(flatten)]
        common: Common,
        /// Trades (as for `backtest`): a file or a directory.
        #[arg(long)]
        data: PathBuf,
        /// The strategy whose parameters are swept.
        #[arg(long)]
        strategy: String,
        /// The grid: `fast=5..20:5,slow=20..60:10` (lo..hi:step, or a|b|c).
        #[arg(long)]
        grid: String,
        /// A parameter fixed for every point, NAME=VALUE.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Sort by: sharpe, sortino, total_return_pct, calmar, profit_factor, win_rate_pct or
        /// max_drawdown_pct (ascending).
        #[arg(long, default_value = "sharpe")]
        metric: String,
        /// Backtests at once (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Candle data: `next-open` (default) or `close` (as for `backtest`).
        #[arg(long)]
        fill: Option<String>,
        /// Walk-forward: cut the data's time span into FOLDS + 1 windows; each fold picks the
        /// best point on one window and runs it on the next (walk_forward.md).
        #[arg(long, default_value_t = 0)]
        folds: usize,
    },
    /// Build candles from a trades file (Binance public-data CSV, Kraken REST trades JSON, or
    /// a recorded capture); writes <out>/<SYMBOL>_<res>.csv per resolution.
    Candles {
        /// The trades file (plain, .zip, .gz or .zst).
        #[arg(long)]
        trades: PathBuf,
        /// Resolutions, comma-separated: 1s,1m,5m,1h,1d.
        #[arg(long, default_value = "1s,1m,5m,1h,1d", value_delimiter = ',')]
        resolutions: Vec<String>,
        /// Buckets without trades: skip (nothing) or fill (flat candle at the previous close).
        #[arg(long, default_value = "skip")]
        gaps: String,
        /// Late trades up to this many ms behind the newest revise their candle.
        #[arg(long, default_value_t = 0)]
        lateness_ms: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Indicators and candle patterns for every candle of a CSV (TA-Lib's defaults).
    Indicators {
        /// Candle CSV: a header with open_time,open,high,low,close,volume (ms or ISO 8601),
        /// or a Binance kline CSV without a header.
        #[arg(long)]
        candles: PathBuf,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks beside a naive baseline in the same command: `latency` (the pipeline at
    /// fixed rates, HDR histograms per stage and end to end, a report directory with plots)
    /// or `throughput` (the most messages per second each topology sustains).
    Bench {
        /// `latency` or `throughput`.
        kind: String,
        /// TOML config whose topology is measured (default: the built-in tuning/dev-2core.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override one config value: a dotted TOML path.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Capture to play (latency default: the config's synthetic market; throughput
        /// default: the BTCUSDT capture in ../shared/data).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Throughput: times to loop the capture (ids and times shifted each loop).
        #[arg(long, default_value_t = 20)]
        loops: u64,
        /// Latency: message rates, e.g. `10k,100k,1M,max`.
        #[arg(long, default_value = "10k,100k,1M,max")]
        rates: String,
        /// Latency: how long each paced rate plays (messages = rate × duration).
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        duration: Duration,
        /// Latency: interval of the latency-over-time logs and plots, in ms.
        #[arg(long, default_value_t = 100)]
        interval_ms: u64,
        /// Latency: the host's label in the report (default: read from the host).
        #[arg(long)]
        label: Option<String>,
        /// Report directory (latency default: latency-reports/<date>-<host>/; throughput
        /// default: runs/<UTC timestamp>-bench/).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The market-data catalog: import, ls, verify, compact, prune, query.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Check this host (/proc, /sys) and a config's pinning plan for latency: a table of
    /// findings with the fix for each; exit 2 when the plan cannot run here.
    Doctor {
        /// TOML config (default: the built-in tuning/dev-2core.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override one config value: a dotted TOML path, e.g. `--set lanes.0.threads.0.core=1`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Print the findings as JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the findings as a Markdown table (for a latency report).
        #[arg(long)]
        markdown: bool,
    },
}

/// What to read when the data is a catalog (`tickwire data`).
#[derive(Args, Clone, Default)]
struct CatalogRange {
    /// Catalog input: start, inclusive (ISO 8601 or ms since the epoch).
    #[arg(long)]
    from: Option<String>,
    /// Catalog input: end, exclusive.
    #[arg(long)]
    to: Option<String>,
    /// Catalog input: instruments, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    instruments: Vec<String>,
    /// Catalog input: kind (default: trades, or agg_trades where there are no raw trades;
    /// candles_1m … for bars).
    #[arg(long)]
    kind: Option<String>,
    /// Catalog input: the venue whose series are read (default: any).
    #[arg(long)]
    data_venue: Option<String>,
}

/// When `path` is a catalog: the selected range written out as engine input files under
/// `dir/catalog-input/` (printed), else `None`.
fn catalog_input(
    path: &std::path::Path,
    r: &CatalogRange,
    dir: &std::path::Path,
) -> Result<Option<Vec<PathBuf>>> {
    use tickwire::catalog::{export, Catalog, Kind};
    if !export::is_catalog(path) {
        return Ok(None);
    }
    let kind = match r.kind.as_deref() {
        None => None,
        Some(k) => Some(Kind::parse(k).with_context(|| {
            format!("--kind `{k}`: trades, agg_trades or candles_<1s|1m|5m|1h|1d>")
        })?),
    };
    if matches!(kind, Some(Kind::Quotes | Kind::Anomalies)) {
        bail!(
            "--kind {}: runs read trades or candles from a catalog",
            r.kind.as_deref().unwrap_or_default()
        );
    }
    let sel = export::Selection {
        kind,
        instruments: r.instruments.clone(),
        venue: r.data_venue.clone(),
        from: parse_time_arg("from", r.from.as_deref(), i64::MIN)?,
        to: parse_time_arg("to", r.to.as_deref(), i64::MAX)?,
    };
    let cat = Catalog::open(path)?;
    let files = export::export(&cat, &sel, &dir.join("catalog-input"))?;
    for (f, n) in &files {
        eprintln!(
            "catalog {} (version {}): {n} rows → {}",
            path.display(),
            cat.manifest().version,
            f.display()
        );
    }
    Ok(Some(files.into_iter().map(|(f, _)| f).collect()))
}

#[derive(Args, Clone)]
struct CatalogArg {
    /// The catalog directory.
    #[arg(long, default_value = tickwire::catalog::DEFAULT_DIR)]
    catalog: PathBuf,
}

#[derive(Subcommand)]
enum DataAction {
    /// Import files: Binance public-data trades, aggTrades and kline CSVs, recorded
    /// captures, Kraken REST trades, any candle CSV. Importing a file twice changes nothing.
    Import {
        #[command(flatten)]
        cat: CatalogArg,
        /// The venue of every file (default: told from each file's path).
        #[arg(long)]
        venue: Option<String>,
        /// The instrument of files whose rows do not name one (default: from the name).
        #[arg(long)]
        instrument: Option<String>,
        /// How long retired files stay in the catalog's trash (e.g. 1h, 10m; 0 = none).
        #[arg(long, default_value = "1h", value_parser = parse_grace)]
        grace: u64,
        /// Rows read before they are written as one version: memory holds one input plus
        /// at most this many rows, however many files are imported.
        #[arg(long, default_value_t = tickwire::catalog::import::BATCH_ROWS)]
        batch_rows: usize,
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// What the catalog holds: kinds, venues, instruments, time ranges, rows, bytes.
    Ls {
        #[command(flatten)]
        cat: CatalogArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check every file against the manifest: checksums, schema, order, duplicates, id gaps.
    Verify {
        #[command(flatten)]
        cat: CatalogArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Merge each partition's files into one, deduplicated.
    Compact {
        #[command(flatten)]
        cat: CatalogArg,
        /// How long retired files stay in the catalog's trash.
        #[arg(long, default_value = "1h", value_parser = parse_grace)]
        grace: u64,
    },
    /// Remove partitions past their kind's retention (defaults: trades 30d, quotes 7d,
    /// 1s candles 30d, 1m and 5m candles 365d, 1h and 1d candles forever).
    Prune {
        #[command(flatten)]
        cat: CatalogArg,
        /// Retention overrides: `trades=30d,candles_1m=365d,candles_1d=forever`.
        #[arg(long)]
        keep: Option<String>,
        /// The time retention counts back from (ISO 8601; default: now).
        #[arg(long)]
        now: Option<String>,
        /// How long retired files stay in the catalog's trash.
        #[arg(long, default_value = "1h", value_parser = parse_grace)]
        grace: u64,
    },
    /// Read a time range of one kind and instrument; prints the rows (CSV) or, with
    /// `--stats`, what the read touched.
    Query {
        #[command(flatten)]
        cat: CatalogArg,
        /// Kind: trades, agg_trades, quotes, candles_1s … candles_1d.
        #[arg(long)]
        kind: String,
        /// Instrument.
        #[arg(long)]
        instrument: String,
        /// Venue (default: any).
        #[arg(long)]
        venue: Option<String>,
        /// Start, inclusive (ISO 8601 or ms since the epoch).
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive.
        #[arg(long)]
        to: Option<String>,
        /// Print files and row groups read instead of rows.
        #[arg(long)]
        stats: bool,
    },
}

fn parse_grace(s: &str) -> Result<u64> {
    if s.trim() == "0" {
        return Ok(0);
    }
    Ok(parse_duration(s)?.as_secs())
}

fn parse_time_arg(what: &str, s: Option<&str>, default: i64) -> Result<i64> {
    match s {
        None => Ok(default),
        Some(t) => tickwire::tools::indicators::parse_open_time(t)
            .and_then(|ns| i64::try_from(ns).ok())
            .with_context(|| format!("--{what} `{t}`: not an ISO 8601 time or ms since the epoch")),
    }
}

fn data(action: DataAction) -> Result<()> {
    use tickwire::catalog::{self, maint, rows, Catalog, Kind};
    match action {
        DataAction::Import {
            cat,
            venue,
            instrument,
            grace,
            batch_rows,
            files,
        } => {
            let opts = catalog::import::ImportOptions {
                venue,
                instrument,
                grace_s: grace,
                batch_rows,
            };
            let r = catalog::import::import(&cat.catalog, &files, &opts)?;
            for i in &r.inputs {
                let rows: Vec<String> = i.rows.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let mut line = format!(
                    "{}: {} ({})",
                    i.path.display(),
                    if rows.is_empty() {
                        "no rows".to_string()
                    } else {
                        rows.join(", ")
                    },
                    i.venue
                );
                if i.malformed > 0 {
                    line.push_str(&format!(", {} unreadable skipped", i.malformed));
                }
                if i.untimed > 0 {
                    line.push_str(&format!(", {} quotes without a time skipped", i.untimed));
                }
                say!("{line}");
            }
            say!(
                "catalog {} version {}: {} new rows, {} duplicates dropped, {} conflicts kept as stored; {} partitions written, {} unchanged; {} version{} written",
                cat.catalog.display(),
                r.version,
                r.merged.added,
                r.merged.duplicates,
                r.merged.conflicts,
                r.partitions_written,
                r.partitions_unchanged,
                r.versions_written,
                if r.versions_written == 1 { "" } else { "s" }
            );
        }
        DataAction::Ls { cat, json } => {
            let c = Catalog::open(&cat.catalog)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&maint::ls(&c))?);
            } else {
                say!("{}", maint::ls_markdown(&c));
            }
        }
        DataAction::Verify { cat, json } => {
            let c = Catalog::open(&cat.catalog)?;
            let r = maint::verify(&c)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for (series, g) in &r.gaps {
                    say!(
                        "{series}: {} rows, ids {}..{}, {} gaps ({} ids missing)",
                        g.rows,
                        g.first,
                        g.last,
                        g.gaps,
                        g.missing
                    );
                }
                for e in &r.errors {
                    say!("ERROR {e}");
                }
                say!(
                    "verified {} files, {} rows (version {}): {}",
                    r.files,
                    r.rows,
                    c.manifest().version,
                    if r.ok() {
                        "ok".to_string()
                    } else {
                        format!("{} problems", r.errors.len())
                    }
                );
            }
            if !r.ok() {
                bail!(
                    "{}: the catalog does not match its manifest",
                    cat.catalog.display()
                );
            }
        }
        DataAction::Compact { cat, grace } => {
            let r = maint::compact(&cat.catalog, grace)?;
            say!(
                "compacted {} partitions ({} files into {}), {} duplicate rows dropped; version {}",
                r.partitions,
                r.files_retired,
                r.files_written,
                r.rows_dropped,
                r.version
            );
        }
        DataAction::Prune {
            cat,
            keep,
            now,
            grace,
        } => {
            let keep = maint::parse_keep(keep.as_deref())?;
            let now = parse_time_arg("now", now.as_deref(), clock::wall_ns() as i64)?;
            let r = maint::prune(&cat.catalog, &keep, now, grace)?;
            for p in &r.which {
                say!("pruned {p}");
            }
            say!(
                "pruned {} partitions ({} files, {} rows); version {}",
                r.partitions,
                r.files_retired,
                r.rows_dropped,
                r.version
            );
        }
        DataAction::Query {
            cat,
            kind,
            instrument,
            venue,
            from,
            to,
            stats,
        } => {
            let c = Catalog::open(&cat.catalog)?;
            let k = Kind::parse(&kind).with_context(|| {
                format!("--kind `{kind}`: trades, agg_trades, quotes, anomalies or candles_<1s|1m|5m|1h|1d>")
            })?;
            let from = parse_time_arg("from", from.as_deref(), i64::MIN)?;
            let to = parse_time_arg("to", to.as_deref(), i64::MAX)?;
            let v = venue.as_deref();
            let (text, st) = match k {
                Kind::Trades | Kind::AggTrades => {
                    let (r, st) = c.scan::<rows::TradeRow>(k, v, &instrument, from, to)?;
                    (rows::trades_csv(&r), st)
                }
                Kind::Quotes => {
                    let (r, st) = c.scan::<rows::QuoteRow>(k, v, &instrument, from, to)?;
                    (rows::quotes_csv(&r), st)
                }
                Kind::Candles(_) => {
                    let (r, st) = c.scan::<rows::CandleRow>(k, v, &instrument, from, to)?;
                    (rows::candles_csv(&r), st)
                }
                Kind::Anomalies => {
                    let (r, st) = c.scan::<rows::AnomalyRow>(k, v, &instrument, from, to)?;
                    (rows::anomalies_csv(&r), st)
                }
            };
            if stats {
                say!("{}", serde_json::to_string(&st)?);
            } else {
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            }
        }
    }
    Ok(())
}

/// The config overrides `--record CATALOG` stands for.
fn record_sets(record: Option<&std::path::Path>) -> Vec<String> {
    record.map_or_else(Vec::new, |p| {
        vec![
            "recorder.enabled=true".to_string(),
            format!("recorder.catalog={}", toml_str(&p.display().to_string())),
        ]
    })
}

fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let v: f64 = num
        .parse()
        .with_context(|| format!("--duration `{s}` is not a number with a unit like 30s"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" | "" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => bail!("--duration `{s}`: unit must be ms, s, m or h"),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("--duration `{s}` must be positive");
    }
    Duration::try_from_secs_f64(secs).with_context(|| format!("--duration `{s}` is too long"))
}

/// `a` as a POSIX shell reads it back: bare when it is plain, else in single quotes.
fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./=:,+-@%".contains(&b));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

fn default_dir(mode: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-{mode}", clock::compact_utc(clock::wall_ns())))
}

fn allowed_cores() -> Vec<usize> {
    // Read once, before any thread pins itself (core_affinity only lists the caller's CPUs).
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

fn load_config(common: &Common, extra: &[String]) -> Result<Config> {
    let mut sets = extra.to_vec();
    sets.extend(common.sets.iter().cloned());
    let source = match &common.config {
        Some(p) => ConfigSource::File(p),
        None => ConfigSource::Default,
    };
    Ok(Config::load(source, &sets, &allowed_cores())?)
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    // First Ctrl-C / SIGTERM: clean stop (drain, report). Second: leave at once.
    let _ = ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    stop
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            common,
            duration,
            record,
        } => {
            let duration = duration.as_deref().map(parse_duration).transpose()?;
            let cfg = load_config(&common, &record_sets(record.as_deref()))?;
            let dir = common
                .report_dir
                .clone()
                .unwrap_or_else(|| default_dir("run"));
            let res = runtime::run(
                &cfg,
                RunOptions {
                    mode: "run".into(),
                    report_dir: dir,
                    duration,
                    stop: stop_flag(),
                    captures: None,
                    progress: None,
                    progress_total: None,
                    latency_intervals: None,
                },
            )?;
            eprintln!("report: {}", res.report_dir.display());
        }
        Command::Replay {
            common,
            inputs,
            venue,
            speed,
            range,
            record,
        } => {
            let dir = common
                .report_dir
                .clone()
                .unwrap_or_else(|| default_dir("replay"));
            let inputs = match inputs.as_slice() {
                [one] => catalog_input(one, &range, &dir)?.unwrap_or(inputs),
                _ => inputs,
            };
            if let Some(v) = venue.as_deref() {
                if !matches!(v, "binance" | "binance-usdm" | "binance-coinm") {
                    bail!("--venue {v}: only binance, binance-usdm and binance-coinm captures can be replayed so far");
                }
            }
            for p in &inputs {
                if !p.exists() {
                    bail!("cannot read capture {}: no such file", p.display());
                }
            }
            let files: Vec<String> = inputs
                .iter()
                .map(|p| toml_str(&p.display().to_string()))
                .collect();
            let mut extra = vec![
                "source.kind=\"replay\"".to_string(),
                format!("source.files=[{}]", files.join(",")),
                format!("source.speed={}", toml_str(&speed)),
            ];
            extra.extend(record_sets(record.as_deref()));
            let cfg = load_config(&common, &extra)?;
            let res = runtime::run(
                &cfg,
                RunOptions {
                    mode: "replay".into(),
                    report_dir: dir,
                    duration: None,
                    stop: stop_flag(),
                    captures: None,
                    progress: None,
                    progress_total: None,
                    latency_intervals: None,
                },
            )?;
            let t = &res.totals;
            say!(
                "replayed {} messages: {} trades, {} book tickers, {} malformed, skipped {}",
                t.received,
                t.trades,
                t.book_tickers,
                t.malformed,
                t.skipped
                    .iter()
                    .filter(|x| x.1 > 0)
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            for s in &t.sources {
                say!(
                    "  {}: {} messages, {} trades in {} messages, {} quotes, {} depth, {} snapshots, {} klines, {} book quotes, {} malformed, skipped {}",
                    s.name,
                    s.messages,
                    s.trades,
                    s.trade_messages,
                    s.quotes,
                    s.depth,
                    s.snapshots,
                    s.klines,
                    s.book_quotes,
                    s.malformed,
                    s.skipped
                        .iter()
                        .map(|(k, n)| format!("{k}={n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            eprintln!("report: {}", res.report_dir.display());
        }
        Command::Backtest {
            common,
            data,
            strategy,
            params,
            fill,
            threads,
            range,
        } => {
            if !data.exists() {
                bail!("--data {}: no such file or directory", data.display());
            }
            let dir = common
                .report_dir
                .clone()
                .unwrap_or_else(|| default_dir("backtest"));
            let files = match catalog_input(&data, &range, &dir)? {
                Some(f) => f,
                None => tickwire::backtest::data_files(&data)?,
            };
            let probe = load_config(&common, &[])?;
            let extra = tickwire::backtest::settings(
                &files,
                strategy.as_deref(),
                &params,
                probe.instruments.len(),
                fill.as_deref(),
                threads,
            )?;
            let cfg = load_config(&common, &extra)?;
            let (res, s) = tickwire::backtest::run(&cfg, dir, stop_flag(), None, true)?;
            say!(
                "backtest: {} trades in {:.3} s ({:.0}/s), {} round trips, return {:.3}% (buy and hold {:.3}%), max drawdown {:.3}%, Sharpe {:.3}",
                res.totals.trades,
                res.summary["elapsed_s"].as_f64().unwrap_or(0.0),
                s.events_per_s,
                s.trades,
                s.total_return_pct,
                s.buy_and_hold_return_pct,
                s.max_drawdown_pct,
                s.sharpe
            );
            eprintln!("report: {}", res.report_dir.display());
        }
        Command::Sweep {
            common,
            data,
            strategy,
            grid,
            params,
            metric,
            jobs,
            fill,
            folds,
        } => {
            if !data.exists() {
                bail!("--data {}: no such file or directory", data.display());
            }
            let files = tickwire::backtest::data_files(&data)?;
            let axes = tickwire::backtest::sweep::parse_grid(&grid)?;
            // Validate the strategy and the fixed parameters before anything runs.
            tickwire::backtest::settings(&files, Some(&strategy), &params, 0, fill.as_deref(), 1)?;
            let cores = allowed_cores();
            let dir = common
                .report_dir
                .clone()
                .unwrap_or_else(|| default_dir("sweep"));
            let sw = tickwire::backtest::sweep::Sweep {
                files,
                strategy: &strategy,
                fixed: params,
                axes,
                metric: &metric,
                jobs: jobs.unwrap_or(cores.len().max(1)),
                config: common.config.clone(),
                sets: common.sets.clone(),
                dir: dir.clone(),
                fill,
                folds,
            };
            let rows = tickwire::backtest::sweep::run(&sw, &cores)?;
            let failed = rows.iter().filter(|r| r.result.is_err()).count();
            if let Some(best) = rows.first() {
                say!(
                    "sweep: {} points ({} failed); best by {}: {}",
                    rows.len(),
                    failed,
                    metric,
                    best.params.join(" ")
                );
            }
            eprintln!(
                "report: {}",
                tickwire::backtest::sweep::table_path(&dir).display()
            );
        }
        Command::Candles {
            trades,
            resolutions,
            gaps,
            lateness_ms,
            out,
        } => {
            let mut res = Vec::new();
            for r in &resolutions {
                let Some(x) = tickwire::core::Resolution::parse(r.trim()) else {
                    bail!("--resolutions: `{r}` is not one of 1s, 1m, 5m, 1h, 1d");
                };
                res.push(x);
            }
            let gaps = match gaps.as_str() {
                "skip" => tickwire::candles::GapPolicy::Skip,
                "fill" => tickwire::candles::GapPolicy::Fill,
                g => bail!("--gaps: `{g}` is not one of skip, fill"),
            };
            let opts = tickwire::tools::CandleOptions {
                resolutions: res,
                gaps,
                lateness_ms,
            };
            let r = tickwire::tools::candles(&trades, &opts, &out)?;
            eprintln!(
                "{} trades ({} lines skipped, {} malformed, {} too late)",
                r.trades, r.skipped, r.malformed, r.late
            );
            for (path, rows) in &r.files {
                say!("{} ({rows} candles)", path.display());
            }
        }
        Command::Indicators { candles, out } => {
            let r = tickwire::tools::indicators::indicators(&candles, &out)?;
            eprintln!("{} rows -> {}", r.rows, out.display());
            if r.unordered > 0 {
                eprintln!(
                    "warning: {} rows have an open_time not after the previous row's; taken in file order",
                    r.unordered
                );
            }
        }
        Command::Data { action } => data(action)?,
        Command::Bench {
            kind,
            config,
            sets,
            input,
            loops,
            rates,
            duration,
            interval_ms,
            label,
            out,
        } => match kind.as_str() {
            "latency" => {
                let out = out.unwrap_or_else(|| {
                    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                        .ok()
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| "host".into());
                    let day = &clock::iso8601_ms(clock::wall_ns())[..10];
                    PathBuf::from("latency-reports").join(format!("{day}-{host}"))
                });
                let bench = tickwire::bench::latency::LatencyBench {
                    config,
                    sets,
                    rates: tickwire::bench::latency::parse_rates(&rates)
                        .map_err(anyhow::Error::msg)?,
                    duration_s: duration.as_secs_f64(),
                    input,
                    out,
                    interval_ms,
                    command: std::env::args()
                        .map(|a| shell_quote(&a))
                        .collect::<Vec<_>>()
                        .join(" "),
                    allowed_cores: allowed_cores(),
                    label,
                };
                say!("{}", tickwire::bench::latency::run(&bench)?);
            }
            "throughput" => {
                let input = input.unwrap_or_else(|| {
                    PathBuf::from(
                        "../shared/data/ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst",
                    )
                });
                let out = out.unwrap_or_else(|| default_dir("bench"));
                let report = tickwire::bench::throughput(
                    &input,
                    loops,
                    &out,
                    config.as_deref(),
                    &sets,
                    &allowed_cores(),
                )?;
                say!("{report}");
            }
            other => bail!("bench `{other}`: choose `latency` or `throughput`"),
        },
        Command::Doctor {
            config,
            sets,
            json,
            markdown,
        } => {
            // The config error's own sentence already names its cause: no source chain.
            let report = tickwire::doctor::Report::new(config.as_deref(), &sets)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let verdict = report.verdict();
            let text = if json {
                format!("{}\n", report.to_json())
            } else if markdown {
                format!(
                    "{}\n{verdict}\n",
                    tickwire::doctor::markdown_table(&report.findings)
                )
            } else {
                format!(
                    "{}\n{verdict}\n",
                    tickwire::doctor::text_table(&report.findings)
                )
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            if !verdict.runnable {
                bail!("{}", verdict.summary);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match execute(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain, each cause once: an error that already quotes its source
            // (`cannot read config file F: No such file…`) is not followed by it again.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {}", msg.lines().collect::<Vec<_>>().join(" "));
            ExitCode::from(2)
        }
    }
}
