//! The catalog as input to `backtest` and `replay`: a time range of chosen series written out
//! in the form the engine's file source reads (Binance public-data CSV rows, one file per
//! instrument), so a catalog run goes through exactly the parse, arbiter, candle and strategy
//! code a file run does.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::rows::{push_wide, CandleRow, TradeRow};
use super::{io_err, Catalog, CatalogError, Kind};
use crate::core::num::push_scaled;

/// Which rows a run reads from a catalog.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Kind: trades (default: trades, or aggregated trades where an instrument has no raw
    /// ones), or candles of one resolution.
    pub kind: Option<Kind>,
    /// Instruments (default: every one of the kind).
    pub instruments: Vec<String>,
    /// Venue (default: any; an instrument on two venues needs one named).
    pub venue: Option<String>,
    /// Start, inclusive (ns).
    pub from: i64,
    /// End, exclusive (ns).
    pub to: i64,
}

/// True when `path` is a catalog directory (it has a manifest).
pub fn is_catalog(path: &Path) -> bool {
    path.is_dir() && path.join("manifest.json").is_file()
}

/// Writes the selected rows of `cat` into `out_dir`, one CSV per instrument
/// (`<SYMBOL>-trades-catalog.csv`, `<SYMBOL>-aggTrades-catalog.csv` or
/// `<SYMBOL>-1m-catalog.csv`), and returns the files with their row counts.
pub fn export(
    cat: &Catalog,
    sel: &Selection,
    out_dir: &Path,
) -> Result<Vec<(PathBuf, usize)>, CatalogError> {
    let files = &cat.manifest().files;
    let venue_ok = |v: &str| sel.venue.as_deref().is_none_or(|w| w == v);
    let want = |k: Kind| -> BTreeSet<(String, String)> {
        files
            .iter()
            .filter(|f| f.kind == k.name() && venue_ok(&f.venue))
            .filter(|f| sel.instruments.is_empty() || sel.instruments.contains(&f.instrument))
            .map(|f| (f.instrument.clone(), f.venue.clone()))
            .collect()
    };
    // (instrument, venue, kind) to export.
    let mut series: Vec<(String, String, Kind)> = Vec::new();
    match sel.kind {
        Some(k) => series.extend(want(k).into_iter().map(|(i, v)| (i, v, k))),
        None => {
            let raw = want(Kind::Trades);
            series.extend(
                raw.iter()
                    .map(|(i, v)| (i.clone(), v.clone(), Kind::Trades)),
            );
            for (i, v) in want(Kind::AggTrades) {
                if !raw.iter().any(|(ri, _)| *ri == i) {
                    series.push((i, v, Kind::AggTrades));
                }
            }
        }
    }
    for want_i in &sel.instruments {
        if !series.iter().any(|(i, _, _)| i == want_i) {
            return Err(CatalogError::Usage(format!(
                "{}: no {} for {want_i}{}",
                cat.dir().display(),
                sel.kind.map_or("trades".into(), |k| k.name()),
                sel.venue
                    .as_deref()
                    .map(|v| format!(" on {v}"))
                    .unwrap_or_default()
            )));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, v, _) in &series {
        if !seen.insert(i.clone()) {
            return Err(CatalogError::Usage(format!(
                "{}: {i} is on more than one venue (also {v}): choose one with --venue",
                cat.dir().display()
            )));
        }
    }
    if series.is_empty() {
        return Err(CatalogError::Usage(format!(
            "{}: nothing to read (no {} in the catalog for this selection)",
            cat.dir().display(),
            sel.kind.map_or("trades".into(), |k| k.name())
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let mut out = Vec::new();
    for (instrument, venue, kind) in series {
        let (text, n, label) = match kind {
            Kind::Candles(r) => {
                let (rows, _) =
                    cat.scan::<CandleRow>(kind, Some(&venue), &instrument, sel.from, sel.to)?;
                (
                    kline_csv(&rows, r.nanos() as i64),
                    rows.len(),
                    r.label().to_string(),
                )
            }
            _ => {
                let (rows, _) =
                    cat.scan::<TradeRow>(kind, Some(&venue), &instrument, sel.from, sel.to)?;
                let label = if kind == Kind::AggTrades {
                    "aggTrades"
                } else {
                    "trades"
                };
                (
                    trade_csv(&rows, kind == Kind::AggTrades),
                    rows.len(),
                    label.to_string(),
                )
            }
        };
        let path = out_dir.join(format!("{instrument}-{label}-catalog.csv"));
        std::fs::write(&path, text).map_err(io_err(&path))?;
        out.push((path, n));
    }
    Ok(out)
}

/// Binance public-data trade rows (no header): `id,price,qty,quote_qty,time,is_buyer_maker,
/// is_best_match`, or aggTrade rows `a,price,qty,first,last,time,is_buyer_maker,
/// is_best_match`; times in ns.
fn trade_csv(rows: &[TradeRow], agg: bool) -> String {
    let mut s = String::with_capacity(rows.len() * 64);
    for r in rows {
        let _ = write!(s, "{},", r.id);
        push_scaled(&mut s, r.price, 8);
        s.push(',');
        push_scaled(&mut s, r.qty, 8);
        if agg {
            let _ = write!(s, ",{},{}", r.id, r.id);
        } else {
            // quote_qty: price × qty, exact at 10⁻⁸ (rounded half away from zero).
            let q = i128::from(r.price) * i128::from(r.qty);
            let scaled = (q + q.signum() * 50_000_000) / 100_000_000;
            s.push(',');
            push_scaled(&mut s, i64::try_from(scaled).unwrap_or(i64::MAX), 8);
        }
        let maker = if r.buyer_maker { "True" } else { "False" };
        let _ = writeln!(s, ",{},{maker},True", r.ts_ns);
    }
    s
}

/// Binance kline rows (no header): open time (ms), o, h, l, c, v, close time, quote volume,
/// trades, taker buy base, taker buy quote, 0.
fn kline_csv(rows: &[CandleRow], step_ns: i64) -> String {
    let mut s = String::with_capacity(rows.len() * 128);
    for r in rows {
        let _ = write!(s, "{}", r.open_ns / 1_000_000);
        for v in [r.open, r.high, r.low, r.close, r.volume] {
            s.push(',');
            push_scaled(&mut s, v, 8);
        }
        let _ = write!(s, ",{},", (r.open_ns + step_ns) / 1_000_000 - 1);
        push_wide(&mut s, r.quote_volume);
        let _ = write!(s, ",{},", r.trades);
        push_scaled(&mut s, r.taker_buy_volume, 8);
        s.push(',');
        push_wide(&mut s, r.taker_buy_quote);
        s.push_str(",0\n");
    }
    s
}
