//! Offline commands over files: `tickwire candles` (trades → candle CSVs) and
//! `tickwire indicators` (candle CSV → indicators and patterns). They run the same stage code
//! as the engine (the candle stage, the indicator set, the pattern set), single-threaded, on a
//! cold path where allocating is fine.

pub mod indicators;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::candles::{Candles, GapPolicy};
use crate::core::cold::ColdTx;
use crate::core::stats::LaneStats;
use crate::core::{
    BookTicker, Candle, Envelope, InstrumentId, Payload, Price, Qty, Resolution, Symbol, Trade,
};
use crate::feed::parse::binance_csv::{CsvKind, Parser as BinanceCsvParser};
use crate::feed::parse::json::{self, Value};
use crate::feed::parse::{seconds_text_ns, Event, Venue, VenueParser};
use crate::feed::replay::read_all;

/// Most instruments one file may hold.
const MAX_INSTRUMENTS: usize = 1_024;

/// A failure of an offline command, as one line.
#[derive(Debug, Error)]
pub enum ToolError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The input is not in a format the command reads.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong, with the line when known.
        why: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ToolError + '_ {
    move |source| ToolError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn format_err(path: &Path, why: impl Into<String>) -> ToolError {
    ToolError::Format {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// What `candles` did.
#[derive(Debug, Default)]
pub struct CandlesReport {
    /// Trades read.
    pub trades: u64,
    /// Lines that were not trades (headers, other messages), skipped.
    pub skipped: u64,
    /// Lines that could not be read, skipped.
    pub malformed: u64,
    /// Late trades (beyond the lateness window), not applied.
    pub late: u64,
    /// Files written, with their row counts.
    pub files: Vec<(PathBuf, usize)>,
}

/// Options of the `candles` command.
#[derive(Clone, Debug)]
pub struct CandleOptions {
    /// Resolutions to build.
    pub resolutions: Vec<Resolution>,
    /// Empty buckets: skipped or filled flat.
    pub gaps: GapPolicy,
    /// Lateness window for out-of-order trades, ms.
    pub lateness_ms: u64,
}

/// The instruments of one file, registered as they appear (`InstrumentId(k)` is the `k`th).
#[derive(Debug, Default)]
pub struct Symbols(pub Vec<Symbol>);

impl Symbols {
    /// The id of `s`, registering it when new (`None` past the limit or for a bad symbol).
    pub fn resolve(&mut self, s: &[u8]) -> Option<InstrumentId> {
        if let Some(i) = self.0.iter().position(|x| x.as_bytes() == s) {
            return Some(InstrumentId(i as u16));
        }
        if self.0.len() >= MAX_INSTRUMENTS {
            return None;
        }
        self.0.push(Symbol::new(s)?);
        Some(InstrumentId(self.0.len() as u16 - 1))
    }
}

/// Reads every trade of a file: a Binance public-data trades or aggTrades CSV (plain,
/// `.zip`, `.gz`, `.zst`), a Kraken REST `Trades` response (JSON), or a recorded WebSocket
/// capture (JSON lines; the venue from the file name).
fn read_trades(
    path: &Path,
    symbols: &mut Symbols,
    report: &mut CandlesReport,
) -> Result<Vec<Trade>, ToolError> {
    let m = read_market(path, symbols, None)?;
    report.trades = m.trades.len() as u64;
    // Lines holding only quotes are not trades: skipped, as before.
    report.skipped = m.skipped + m.quotes.len() as u64;
    report.malformed = m.malformed;
    Ok(m.trades)
}

/// The market data of one file (see [`read_market`]).
#[derive(Debug, Default)]
pub struct MarketFile {
    /// Trades, in file order.
    pub trades: Vec<Trade>,
    /// Best bid/ask updates, in file order.
    pub quotes: Vec<BookTicker>,
    /// Lines that held neither (headers, other messages), skipped.
    pub skipped: u64,
    /// Lines that could not be read, skipped.
    pub malformed: u64,
    /// Non-blank lines (a capture's sidecar has one receive time per line).
    pub lines: usize,
    /// For each quote, the index of its non-blank line.
    pub quote_lines: Vec<usize>,
}

/// Reads every trade and best bid/ask of a file (the formats of [`read_trades`]); instruments
/// are registered in `symbols` as they appear. `symbol` names the instrument of a CSV whose
/// rows do not (otherwise the file name's first word is taken).
pub fn read_market(
    path: &Path,
    symbols: &mut Symbols,
    symbol: Option<Symbol>,
) -> Result<MarketFile, ToolError> {
    let bytes = read_all(path).map_err(io_err(path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let mut m = MarketFile::default();
    if first == Some(b'{') && !name.contains(".jsonl") {
        if let Some(t) = kraken_rest_trades(&bytes, path, symbols)? {
            m.trades = t;
            return Ok(m);
        }
    }
    let mut parser = if name.contains(".csv") || name.ends_with(".zip") {
        let symbol = symbol
            .or_else(|| BinanceCsvParser::symbol_from_file_name(&name))
            .or_else(|| Symbol::new(b"UNKNOWN"))
            .ok_or_else(|| format_err(path, "no symbol"))?;
        VenueParser::BinanceCsv(BinanceCsvParser::new(
            CsvKind::from_file_name(&name),
            symbol,
        ))
    } else {
        VenueParser::new(Venue::from_file_name(&name).unwrap_or(Venue::Binance))
    };
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let index = m.lines;
        m.lines += 1;
        let before = (m.trades.len(), m.quotes.len());
        let (trades, quotes) = (&mut m.trades, &mut m.quotes);
        let r = parser.parse(line, &mut |s: &[u8]| symbols.resolve(s), &mut |e| match e {
            Event::Trade(t) => trades.push(t),
            Event::Quote(q) => quotes.push(q),
            _ => {}
        });
        let new_quotes = m.quotes.len().saturating_sub(before.1);
        match r {
            Ok(_) if (m.trades.len(), m.quotes.len()) != before => {
                m.quote_lines.extend(std::iter::repeat_n(index, new_quotes));
            }
            Ok(_) => m.skipped += 1,
            Err(_) => {
                m.trades.truncate(before.0);
                m.quotes.truncate(before.1);
                m.malformed += 1;
            }
        }
    }
    Ok(m)
}

/// A Kraken REST `/0/public/Trades` response: `{"error":[],"result":{"PAIR":[[price,
/// volume, time, side, type, misc, trade_id], …], "last": "…"}}`. `None` if the file is not
/// one.
fn kraken_rest_trades(
    bytes: &[u8],
    path: &Path,
    symbols: &mut Symbols,
) -> Result<Option<Vec<Trade>>, ToolError> {
    let bad = |why: &str| format_err(path, format!("Kraken REST trades: {why}"));
    let Ok(Value::Object(top)) = json::parse_value(bytes) else {
        return Ok(None);
    };
    let mut result = None;
    json::for_each_member(top, |k, v| {
        if k == b"result" {
            result = Some(v);
        }
    })
    .map_err(|_| bad("malformed JSON"))?;
    let Some(Value::Object(result)) = result else {
        return Ok(None);
    };
    let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
    json::for_each_member(result, |k, v| {
        if let Value::Array(a) = v {
            pairs.push((k, a));
        }
    })
    .map_err(|_| bad("malformed JSON"))?;
    let mut out = Vec::new();
    for (pair, rows) in pairs {
        let id = symbols.resolve(pair).ok_or_else(|| bad("bad pair name"))?;
        let mut err = None;
        json::for_each_element(rows, |row| {
            if err.is_some() {
                return;
            }
            let Value::Array(row) = row else {
                err = Some("a trade is not an array");
                return;
            };
            let mut f: Vec<Value> = Vec::with_capacity(7);
            if json::for_each_element(row, |v| f.push(v)).is_err() || f.len() < 7 {
                err = Some("a trade has fewer than 7 fields");
                return;
            }
            let px = f[0].as_text().and_then(crate::core::num::parse_scaled_text);
            let qty = f[1].as_text().and_then(crate::core::num::parse_scaled_text);
            let ns = f[2].as_text().and_then(|t| seconds_text_ns(t, "time").ok());
            let side = f[3].as_text();
            let tid = f[6].as_u64();
            match (px, qty, ns, side, tid) {
                (Some(px), Some(qty), Some(ns), Some(side), Some(tid)) => out.push(Trade {
                    instrument: id,
                    trade_id: tid,
                    price: Price(px),
                    qty: Qty(qty),
                    trade_ns: ns,
                    event_ns: ns,
                    // Side is the taker's: "b" = the buyer took, so the seller was the maker.
                    buyer_is_maker: side == b"s",
                    source: 0,
                    flags: 0,
                    anomalies: 0,
                }),
                _ => err = Some("a trade has an unreadable field"),
            }
        })
        .map_err(|_| bad("malformed JSON"))?;
        if let Some(e) = err {
            return Err(bad(e));
        }
    }
    Ok(Some(out))
}

/// The CSV header of candle files.
pub const CANDLE_HEADER: &str =
    "open_time,open,high,low,close,volume,quote_volume,trades,taker_buy_volume,vwap,flags";

/// One candle as a CSV row (open_time in ms since the epoch, exact decimals).
pub fn candle_row(c: &Candle, out: &mut String) {
    let _ = writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{}",
        c.open_ns / 1_000_000,
        c.open,
        c.high,
        c.low,
        c.close,
        c.volume,
        Price(c.quote_volume),
        c.trades,
        c.taker_buy_volume,
        c.vwap().map(|p| p.to_string()).unwrap_or_default(),
        c.flags
    );
}

/// `tickwire candles`: builds candles from a trades file and writes one CSV per instrument
/// and resolution, `<out>/<SYMBOL>_<res>.csv`. Trades are taken in file order (late ones
/// revise or are counted, as in the engine); the last candles are closed at the end.
pub fn candles(
    trades_path: &Path,
    opts: &CandleOptions,
    out_dir: &Path,
) -> Result<CandlesReport, ToolError> {
    let mut report = CandlesReport::default();
    let mut symbols = Symbols::default();
    let trades = read_trades(trades_path, &mut symbols, &mut report)?;
    if trades.is_empty() {
        return Err(format_err(trades_path, "no trades found"));
    }
    let stats = Arc::new(LaneStats::default());
    let (tx, _rx) =
        crate::ring::channel(1 << 16).map_err(|e| format_err(trades_path, e.to_string()))?;
    let mut stage = Candles::new(
        symbols.0.len(),
        &opts.resolutions,
        stats.clone(),
        ColdTx::new(tx),
    )
    .with_policy(opts.gaps, opts.lateness_ms.saturating_mul(1_000_000));
    let n = symbols.0.len();
    let res = stage.resolutions().to_vec();
    // Rows per instrument × resolution; a revision replaces the row of its bucket.
    let mut rows: Vec<Vec<Candle>> = vec![Vec::new(); n * res.len()];
    let mut emitted: Vec<Envelope> = Vec::new();
    let take = |emitted: &mut Vec<Envelope>, rows: &mut Vec<Vec<Candle>>| {
        for e in emitted.drain(..) {
            let Payload::Candle(c) = e.payload else {
                continue;
            };
            let Some(ri) = res.iter().position(|&r| r == c.resolution) else {
                continue;
            };
            let v = &mut rows[c.instrument.index() * res.len() + ri];
            if c.revision > 0 {
                if let Some(row) = v.iter_mut().rev().find(|r| r.open_ns == c.open_ns) {
                    *row = c;
                    continue;
                }
            }
            v.push(c);
        }
    };
    for (i, t) in trades.iter().enumerate() {
        let env = Envelope {
            ingress_ns: 0,
            stamp_ns: 0,
            recv_ns: t.trade_ns,
            market_ns: t.trade_ns,
            seq: i as u64,
            payload: Payload::Trade(*t),
        };
        stage.on_event(&env, &mut emitted);
        take(&mut emitted, &mut rows);
    }
    if let Some(t) = trades.last() {
        stage.flush(&Envelope::at(t.trade_ns, Payload::Trade(*t)), &mut emitted);
    }
    take(&mut emitted, &mut rows);
    report.late = stats.candles.late.get();

    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    for (ii, sym) in symbols.0.iter().enumerate() {
        for (ri, r) in res.iter().enumerate() {
            let v = &mut rows[ii * res.len() + ri];
            v.sort_by_key(|c| c.open_ns);
            let mut text = String::with_capacity(64 * (v.len() + 1));
            text.push_str(CANDLE_HEADER);
            text.push('\n');
            for c in v.iter() {
                candle_row(c, &mut text);
            }
            let path = out_dir.join(format!(
                "{}_{}.csv",
                String::from_utf8_lossy(sym.as_bytes()),
                r.label()
            ));
            std::fs::write(&path, text).map_err(io_err(&path))?;
            report.files.push((path, v.len()));
        }
    }
    Ok(report)
}
