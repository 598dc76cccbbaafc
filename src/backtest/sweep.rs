//! `tickwire sweep`: one backtest per point of a parameter grid, run in parallel on every
//! core, each in its own report directory, then one table sorted by a chosen statistic
//! (`results.csv`, `results.md`) and, for a two-parameter grid, a heatmap (`heatmap.png`).
//!
//! Grid syntax: `name=lo..hi:step` (inclusive; integers, or decimals if any bound or the step
//! has a point) or `name=a|b|c`, comma-separated: `fast=5..20:5,slow=20..60:10`.
//!
//! **Walk-forward** (`--folds K`): the data's time span is cut into K + 1 equal windows; fold
//! k runs the whole grid on window k − 1 (in-sample), takes its best point by the metric and
//! runs that point alone on window k (out-of-sample), each run starting cold at its window's
//! start. `walk_forward.csv` / `.md` list per fold the chosen parameters and the metric in
//! and out of sample; an out-of-sample figure far below the in-sample one is overfitting.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::stats::Stats;
use crate::core::config::{Config, ConfigSource};
use crate::feed::replay::Capture;
use crate::plot;

/// Statistics a sweep can sort by (higher is better, except the drawdown, sorted ascending).
pub const METRICS: [&str; 7] = [
    "sharpe",
    "sortino",
    "total_return_pct",
    "calmar",
    "profit_factor",
    "win_rate_pct",
    "max_drawdown_pct",
];

/// Why a sweep cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A malformed grid.
    #[error("--grid {0}")]
    Grid(String),
    /// An unknown metric.
    #[error("--metric {0}: not one of sharpe, sortino, total_return_pct, calmar, profit_factor, win_rate_pct, max_drawdown_pct")]
    Metric(String),
    /// A point of the grid that could not be set up (the config refused it).
    #[error("{0}")]
    Setup(String),
    /// The report directory.
    #[error("report: {0}")]
    Io(#[from] std::io::Error),
}

/// One grid dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Parameter name.
    pub name: String,
    /// Values, as written into `--param`.
    pub values: Vec<String>,
}

fn range(name: &str, spec: &str) -> Result<Vec<String>, SweepError> {
    let bad = || SweepError::Grid(format!("{name}={spec}: expected lo..hi:step or a|b|c"));
    if spec.contains('|') || !spec.contains("..") {
        let v: Vec<String> = spec.split('|').map(|x| x.trim().to_string()).collect();
        return if v.iter().any(String::is_empty) {
            Err(bad())
        } else {
            Ok(v)
        };
    }
    let (lo, rest) = spec.split_once("..").ok_or_else(bad)?;
    let (hi, step) = rest.split_once(':').unwrap_or((rest, "1"));
    let decimal = [lo, hi, step].iter().any(|x| x.contains('.'));
    if decimal {
        let (a, b, s): (f64, f64, f64) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
            step.trim().parse().map_err(|_| bad())?,
        );
        if !(s > 0.0 && a <= b && ((b - a) / s) < 10_000.0) {
            return Err(bad());
        }
        let n = ((b - a) / s + 1e-9).floor() as usize;
        return Ok((0..=n).map(|k| format!("{}", a + s * k as f64)).collect());
    }
    let (a, b, s): (i64, i64, i64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
        step.trim().parse().map_err(|_| bad())?,
    );
    if s <= 0 || a > b || (b - a) / s >= 10_000 {
        return Err(bad());
    }
    Ok((0..=(b - a) / s).map(|k| (a + s * k).to_string()).collect())
}

/// Parses `fast=5..20:5,slow=20..60:10`.
pub fn parse_grid(grid: &str) -> Result<Vec<Axis>, SweepError> {
    let mut axes: Vec<Axis> = Vec::new();
    for part in grid.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, spec) = part
            .split_once('=')
            .ok_or_else(|| SweepError::Grid(format!("{part}: expected name=values")))?;
        let name = name.trim();
        if name.is_empty() || axes.iter().any(|a| a.name == name) {
            return Err(SweepError::Grid(format!("{part}: empty or repeated name")));
        }
        axes.push(Axis {
            name: name.to_string(),
            values: range(name, spec.trim())?,
        });
    }
    let points: usize = axes.iter().map(|a| a.values.len()).product();
    if axes.is_empty() || points > 100_000 {
        return Err(SweepError::Grid(format!(
            "{grid}: between 1 and 100000 points (this is {points})"
        )));
    }
    Ok(axes)
}

/// Every point of the grid, as `name=value` lists, first axis varying slowest.
pub fn points(axes: &[Axis]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(format!("{}={v}", a.name));
                    q
                })
            })
            .collect();
    }
    out
}

fn metric(s: &Stats, name: &str) -> f64 {
    match name {
        "sharpe" => s.sharpe,
        "sortino" => s.sortino,
        "total_return_pct" => s.total_return_pct,
        "calmar" => s.calmar,
        "profit_factor" => s.profit_factor,
        "win_rate_pct" => s.win_rate_pct,
        "max_drawdown_pct" => s.max_drawdown_pct,
        _ => f64::NAN,
    }
}

/// One point's outcome.
#[derive(Clone, Debug)]
pub struct Row {
    /// `name=value` per axis.
    pub params: Vec<String>,
    /// Its statistics, or why it did not run.
    pub result: Result<Stats, String>,
}

/// What a sweep needs.
pub struct Sweep<'a> {
    /// Data files.
    pub files: Vec<PathBuf>,
    /// Strategy.
    pub strategy: &'a str,
    /// Fixed parameters (every point).
    pub fixed: Vec<String>,
    /// The grid.
    pub axes: Vec<Axis>,
    /// Sort key.
    pub metric: &'a str,
    /// Parallel runs.
    pub jobs: usize,
    /// Config file, if any.
    pub config: Option<PathBuf>,
    /// The user's `--set` lines.
    pub sets: Vec<String>,
    /// Report directory.
    pub dir: PathBuf,
    /// Bar mode fill (`--fill`), for candle data.
    pub fill: Option<String>,
    /// Walk-forward folds (0 = none).
    pub folds: usize,
}

/// One walk-forward fold.
#[derive(Clone, Debug)]
pub struct Fold {
    /// In-sample window `[from, to)`, ns.
    pub in_sample: (u64, u64),
    /// Out-of-sample window, ns.
    pub out_of_sample: (u64, u64),
    /// The in-sample winner's parameters (empty when no point ran).
    pub best: Vec<String>,
    /// The metric in sample.
    pub in_metric: f64,
    /// The same parameters out of sample: its statistics, or why it did not run.
    pub out: Result<Stats, String>,
}

/// Runs the grid (each point a whole backtest, `jobs` at a time, the data loaded once) and
/// writes the tables and the heatmap. Returns the rows, best first.
pub fn run(sw: &Sweep<'_>, cores: &[usize]) -> Result<Vec<Row>, SweepError> {
    if !METRICS.contains(&sw.metric) {
        return Err(SweepError::Metric(sw.metric.to_string()));
    }
    std::fs::create_dir_all(sw.dir.join("runs"))?;
    let config = sw.config.clone();
    let load = |extra: &[String]| -> Result<Config, String> {
        let mut all = extra.to_vec();
        all.extend(sw.sets.iter().cloned());
        match &config {
            Some(p) => Config::load(ConfigSource::File(p), &all, cores),
            None => Config::load(ConfigSource::Default, &all, cores),
        }
        .map_err(|e| e.to_string())
    };
    let probe = load(&[]).map_err(SweepError::Setup)?;
    let captures = crate::runtime::load_replay(&probe, &sw.files)
        .map_err(|e| SweepError::Setup(e.to_string()))?;
    let pts = points(&sw.axes);
    let mut rows = run_points(sw, &captures, &load, probe.instruments.len(), &pts, &[], "")?;
    let grid_rows = rows.clone();
    sort_rows(&mut rows, sw.metric);
    write_tables(sw, &rows)?;
    if sw.axes.len() == 2 {
        heatmap(sw, &grid_rows)?;
    }
    if sw.folds > 0 {
        let folds = walk_forward(sw, &captures, &load, probe.instruments.len(), &pts)?;
        write_folds(sw, &folds)?;
    }
    Ok(rows)
}

/// Sort key: the metric, higher first (the drawdown lower first), failures last.
fn sort_rows(rows: &mut [Row], name: &str) {
    let key = |r: &Row| match &r.result {
        Ok(s) => {
            let m = metric(s, name);
            if name == "max_drawdown_pct" {
                -m
            } else if m.is_nan() {
                f64::NEG_INFINITY
            } else {
                m
            }
        }
        Err(_) => f64::NEG_INFINITY,
    };
    rows.sort_by(|a, b| key(b).total_cmp(&key(a)));
}

/// Runs `pts` (`jobs` at a time) with `window` settings added; report dirs under
/// `runs/<prefix><point>`. Rows in grid order.
fn run_points(
    sw: &Sweep<'_>,
    captures: &[Arc<Capture>],
    load: &(dyn Fn(&[String]) -> Result<Config, String> + Sync),
    instruments: usize,
    pts: &[Vec<String>],
    window: &[String],
    prefix: &str,
) -> Result<Vec<Row>, SweepError> {
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; pts.len()]);
    let next = AtomicUsize::new(0);
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        for _ in 0..sw.jobs.clamp(1, pts.len().max(1)) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = pts.get(k) else { break };
                let mut params = sw.fixed.clone();
                params.extend(p.iter().cloned());
                let result = (|| -> Result<Stats, String> {
                    let mut extra = super::settings(
                        &sw.files,
                        Some(sw.strategy),
                        &params,
                        instruments,
                        sw.fill.as_deref(),
                        1,
                    )
                    .map_err(|e| e.to_string())?;
                    extra.extend(window.iter().cloned());
                    let mut cfg = load(&extra)?;
                    cfg.cold.status_line = false;
                    let name = format!("{prefix}{}", p.join("_").replace('=', "-"));
                    let dir = sw.dir.join("runs").join(name);
                    super::run(&cfg, dir, stop.clone(), Some(captures.to_vec()), false)
                        .map(|(_, stats)| stats)
                        .map_err(|e| e.to_string())
                })();
                if let Ok(mut r) = rows.lock() {
                    r[k] = Some(Row {
                        params: p.clone(),
                        result,
                    });
                }
            });
        }
    });
    Ok(rows
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}

/// The first and last market time of the data (ns), from the first and last lines a parser
/// can date (or the receive-time sidecar).
fn data_span(cfg: &Config, captures: &[Arc<Capture>]) -> Option<(u64, u64)> {
    let mut span: Option<(u64, u64)> = None;
    let lines = crate::runtime::lane_lines(cfg, 0, captures);
    for (cap, spec) in captures.iter().zip(lines) {
        let n = cap.lines.len();
        let (first, last) = match &cap.recv_ns {
            Some(r) if n > 0 => (Some(r[0]), Some(r[n - 1])),
            _ => {
                let mut p = spec.parser;
                let first = (0..n.min(1000))
                    .find_map(|i| crate::feed::parse::event_time(&mut p, cap.line(i)));
                let last = (0..n.min(1000))
                    .find_map(|i| crate::feed::parse::event_time(&mut p, cap.line(n - 1 - i)));
                (first, last)
            }
        };
        if let (Some(a), Some(b)) = (first, last) {
            span = Some(match span {
                None => (a.min(b), a.max(b)),
                Some((x, y)) => (x.min(a), y.max(b)),
            });
        }
    }
    span
}

fn walk_forward(
    sw: &Sweep<'_>,
    captures: &[Arc<Capture>],
    load: &(dyn Fn(&[String]) -> Result<Config, String> + Sync),
    instruments: usize,
    pts: &[Vec<String>],
) -> Result<Vec<Fold>, SweepError> {
    let probe = load(&[
        format!(
            "source.files=[{}]",
            sw.files
                .iter()
                .map(|f| toml::Value::String(f.display().to_string()).to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        "source.kind=\"replay\"".to_string(),
    ])
    .map_err(SweepError::Setup)?;
    let (t0, t1) = data_span(&probe, captures)
        .ok_or_else(|| SweepError::Setup("--folds: cannot tell the data's time span".into()))?;
    let windows = sw.folds as u64 + 1;
    let width = (t1 - t0) / windows;
    if width < 1_000_000_000 {
        return Err(SweepError::Setup(format!(
            "--folds {}: the data spans too little time for that many windows",
            sw.folds
        )));
    }
    let bound = |k: u64| if k == windows { t1 + 1 } else { t0 + k * width };
    let window = |a: u64, b: u64| {
        // Whole ms, the config's unit; the last window reaches past the last event.
        vec![
            format!("source.from=\"{}\"", a / 1_000_000),
            format!("source.to=\"{}\"", b.div_ceil(1_000_000)),
        ]
    };
    let mut folds = Vec::new();
    for k in 1..windows {
        let is = (bound(k - 1), bound(k));
        let oos = (bound(k), bound(k + 1));
        let mut rows = run_points(
            sw,
            captures,
            load,
            instruments,
            pts,
            &window(is.0, is.1),
            &format!("fold{k}-in-"),
        )?;
        sort_rows(&mut rows, sw.metric);
        let best = rows.first().filter(|r| r.result.is_ok());
        let (params, in_metric, out) = match best {
            Some(r) => {
                let m = r.result.as_ref().map_or(f64::NAN, |s| metric(s, sw.metric));
                let out = run_points(
                    sw,
                    captures,
                    load,
                    instruments,
                    std::slice::from_ref(&r.params),
                    &window(oos.0, oos.1),
                    &format!("fold{k}-out-"),
                )?
                .pop()
                .map_or_else(|| Err("did not run".to_string()), |r| r.result);
                (r.params.clone(), m, out)
            }
            None => (
                Vec::new(),
                f64::NAN,
                Err("no in-sample point ran".to_string()),
            ),
        };
        folds.push(Fold {
            in_sample: is,
            out_of_sample: oos,
            best: params,
            in_metric,
            out,
        });
    }
    Ok(folds)
}

fn write_folds(sw: &Sweep<'_>, folds: &[Fold]) -> std::io::Result<()> {
    use crate::core::clock::iso8601_ms;
    let mut csv = format!(
        "fold,in_from,in_to,out_from,out_to,params,in_{m},out_{m},out_return_pct,out_trades,error\n",
        m = sw.metric
    );
    let mut md = format!(
        "# Walk-forward: {} by {}, {} folds\n\nEach fold picks the best grid point on its in-sample window and runs it alone on the next window. Out-of-sample far below in-sample means the grid fits noise.\n\n| fold | in sample | out of sample | parameters | {m} in | {m} out | return out | trades out |\n|---|---|---|---|---|---|---|---|\n",
        sw.strategy,
        sw.metric,
        folds.len(),
        m = sw.metric
    );
    let (mut sum_in, mut sum_out, mut n) = (0.0, 0.0, 0);
    for (i, f) in folds.iter().enumerate() {
        let params = f.best.join(" ");
        let (out_m, ret, trades, err) = match &f.out {
            Ok(s) => (
                metric(s, sw.metric),
                s.total_return_pct,
                s.trades.to_string(),
                String::new(),
            ),
            Err(e) => (
                f64::NAN,
                f64::NAN,
                String::new(),
                e.replace([',', '\n', '|'], " "),
            ),
        };
        if f.in_metric.is_finite() && out_m.is_finite() {
            sum_in += f.in_metric;
            sum_out += out_m;
            n += 1;
        }
        let at = |t: u64| iso8601_ms(t.min(i64::MAX as u64));
        csv.push_str(&format!(
            "{},{},{},{},{},{},{:.4},{:.4},{:.4},{},{}\n",
            i + 1,
            at(f.in_sample.0),
            at(f.in_sample.1),
            at(f.out_of_sample.0),
            at(f.out_of_sample.1),
            params,
            f.in_metric,
            out_m,
            ret,
            trades,
            err
        ));
        md.push_str(&format!(
            "| {} | {} → {} | {} → {} | {} | {:.4} | {:.4} | {:.3}% | {} |\n",
            i + 1,
            at(f.in_sample.0),
            at(f.in_sample.1),
            at(f.out_of_sample.0),
            at(f.out_of_sample.1),
            if params.is_empty() { "—" } else { &params },
            f.in_metric,
            out_m,
            ret,
            trades
        ));
    }
    if n > 0 {
        md.push_str(&format!(
            "\nMean {m}: {:.4} in sample, {:.4} out of sample ({} folds).\n",
            sum_in / n as f64,
            sum_out / n as f64,
            n,
            m = sw.metric
        ));
    }
    std::fs::write(sw.dir.join("walk_forward.csv"), csv)?;
    std::fs::write(sw.dir.join("walk_forward.md"), md)
}

const COLUMNS: [&str; 11] = [
    "total_return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "calmar",
    "trades",
    "win_rate_pct",
    "profit_factor",
    "fees",
    "buy_and_hold_return_pct",
    "error",
];

fn cells(r: &Row) -> Vec<String> {
    match &r.result {
        Ok(s) => vec![
            format!("{:.4}", s.total_return_pct),
            format!("{:.4}", s.sharpe),
            format!("{:.4}", s.sortino),
            format!("{:.4}", s.max_drawdown_pct),
            format!("{:.4}", s.calmar),
            s.trades.to_string(),
            format!("{:.2}", s.win_rate_pct),
            format!("{:.4}", s.profit_factor),
            format!("{:.2}", s.fees),
            format!("{:.4}", s.buy_and_hold_return_pct),
            String::new(),
        ],
        Err(e) => {
            let mut v = vec![String::new(); COLUMNS.len() - 1];
            v.push(e.replace([',', '\n', '|'], " "));
            v
        }
    }
}

fn write_tables(sw: &Sweep<'_>, rows: &[Row]) -> std::io::Result<()> {
    let names: Vec<&str> = sw.axes.iter().map(|a| a.name.as_str()).collect();
    let value = |p: &str| p.split_once('=').map_or(String::new(), |x| x.1.to_string());
    let mut csv = format!("rank,{},{}\n", names.join(","), COLUMNS.join(","));
    let mut md = format!(
        "# Sweep: {} on {} file(s), sorted by {}\n\n| rank | {} | {} |\n|{}\n",
        sw.strategy,
        sw.files.len(),
        sw.metric,
        names.join(" | "),
        COLUMNS.join(" | "),
        "---|".repeat(1 + names.len() + COLUMNS.len())
    );
    for (i, r) in rows.iter().enumerate() {
        let params: Vec<String> = r.params.iter().map(|p| value(p)).collect();
        let c = cells(r);
        csv.push_str(&format!("{},{},{}\n", i + 1, params.join(","), c.join(",")));
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            i + 1,
            params.join(" | "),
            c.join(" | ")
        ));
    }
    if sw.axes.len() == 2 {
        md.push_str(&format!(
            "\n![{} by {} and {}](heatmap.png)\n",
            sw.metric, names[0], names[1]
        ));
    }
    std::fs::write(sw.dir.join("results.csv"), csv)?;
    std::fs::write(sw.dir.join("results.md"), md)
}

fn heatmap(sw: &Sweep<'_>, rows: &[Row]) -> std::io::Result<()> {
    let (x, y) = (&sw.axes[0], &sw.axes[1]);
    // Rows come first-axis-slowest: values[y][x].
    let mut values = vec![vec![f64::NAN; x.values.len()]; y.values.len()];
    for (k, r) in rows.iter().enumerate() {
        let (xi, yi) = (k / y.values.len(), k % y.values.len());
        if let (Ok(s), Some(row)) = (&r.result, values.get_mut(yi)) {
            if let Some(cell) = row.get_mut(xi) {
                *cell = metric(s, sw.metric);
            }
        }
    }
    let png = plot::heatmap(
        &format!(
            "{}: {} by {} and {}",
            sw.strategy, sw.metric, x.name, y.name
        ),
        &x.name,
        &x.values,
        &y.name,
        &y.values,
        &values,
        sw.metric,
    );
    std::fs::write(sw.dir.join("heatmap.png"), png)
}

/// The report directory's table path (for messages).
pub fn table_path(dir: &Path) -> PathBuf {
    dir.join("results.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_and_expand_first_axis_slowest() {
        let a = parse_grid("fast=5..20:5, slow=20..30:10").unwrap();
        assert_eq!(a[0].values, ["5", "10", "15", "20"]);
        assert_eq!(a[1].values, ["20", "30"]);
        let p = points(&a);
        assert_eq!(p.len(), 8);
        assert_eq!(p[0], ["fast=5", "slow=20"]);
        assert_eq!(p[1], ["fast=5", "slow=30"]);
        assert_eq!(p[7], ["fast=20", "slow=30"]);
        let d = parse_grid("gap_atr=0.25..1:0.25,res=1s|1m").unwrap();
        assert_eq!(d[0].values, ["0.25", "0.5", "0.75", "1"]);
        assert_eq!(d[1].values, ["1s", "1m"]);
        for bad in [
            "",
            "fast",
            "fast=5..1:1",
            "fast=1..5:0",
            "fast=1..5:x",
            "a=1,a=2",
            "x=|",
        ] {
            assert!(parse_grid(bad).is_err(), "{bad}");
        }
        assert!(
            parse_grid("a=0..1000:1,b=0..1000:1").is_err(),
            "too many points"
        );
    }
}
