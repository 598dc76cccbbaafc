//! `tickwire data import`: market-data files into the catalog.
//!
//! Reads what the engine reads: Binance public-data trades and aggTrades CSVs (and Tardis
//! trade CSVs), recorded WebSocket captures of any supported venue (trades, and best
//! bid/asks timed by the venue or by the capture's receive-time sidecar), Kraken REST
//! trades, and candle CSVs (Binance klines with or without a header, or any CSV with
//! `open_time,open,high,low,close,volume`). Also ccxt trade lists whose `info` is the raw
//! Binance aggTrade, and barter-rs normalised event streams.
//!
//! Rows are grouped by partition and merged into what the catalog holds (see
//! [`super::rows::merge`]): the result is deduplicated, and a partition that gains nothing is
//! not rewritten. One import is one new version, or none when nothing changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::rows::{fits18, merge, CandleRow, Merge, QuoteRow, Record, TradeRow};
use super::{format_err, io_err, CatalogError, Kind, PartKey, Writer};
use crate::core::num::parse_scaled_text;
use crate::core::{Resolution, Symbol, Trade};
use crate::feed::parse::json::{self, Value};
use crate::feed::parse::Venue;
use crate::feed::replay::{read_all, sidecar_path};
use crate::tools::{read_market, Symbols};

/// What `import` is told beyond the files.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The venue of every file (otherwise told from each file's path).
    pub venue: Option<String>,
    /// The instrument of every file that does not name its own (otherwise from the name).
    pub instrument: Option<String>,
    /// Seconds retired files stay in the trash.
    pub grace_s: u64,
    /// Rows read before they are written as a version of their own (0: [`BATCH_ROWS`]):
    /// memory holds one input plus at most this many rows, whatever the number of inputs.
    pub batch_rows: usize,
}

/// Default of [`ImportOptions::batch_rows`]: about 1 GiB of rows in memory.
pub const BATCH_ROWS: usize = 20_000_000;

/// What one input gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputReport {
    /// The file.
    pub path: PathBuf,
    /// Its venue.
    pub venue: String,
    /// Rows read per kind name.
    pub rows: BTreeMap<String, u64>,
    /// Lines or records that could not be read (skipped).
    pub malformed: u64,
    /// Best bid/asks with no time (no venue time and no receive-time sidecar), skipped.
    pub untimed: u64,
}

/// What `import` did.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    /// Per input.
    pub inputs: Vec<InputReport>,
    /// Merge totals over every partition.
    pub merged: Merge,
    /// Partitions rewritten.
    pub partitions_written: u64,
    /// Partitions left as they were (nothing new in them).
    pub partitions_unchanged: u64,
    /// The catalog version now.
    pub version: u64,
    /// Versions written (one per batch of inputs that changed something).
    pub versions_written: u64,
}

/// Rows read from the inputs, by partition.
#[derive(Default)]
struct Batches {
    trades: BTreeMap<PartKey, Vec<TradeRow>>,
    quotes: BTreeMap<PartKey, Vec<QuoteRow>>,
    candles: BTreeMap<PartKey, Vec<CandleRow>>,
}

impl Batches {
    fn rows(&self) -> usize {
        self.trades.values().map(Vec::len).sum::<usize>()
            + self.quotes.values().map(Vec::len).sum::<usize>()
            + self.candles.values().map(Vec::len).sum::<usize>()
    }
}

/// Imports `inputs` into the catalog at `dir`.
pub fn import(
    dir: &Path,
    inputs: &[PathBuf],
    opts: &ImportOptions,
) -> Result<ImportReport, CatalogError> {
    if inputs.is_empty() {
        return Err(CatalogError::Usage(
            "data import: no input files given".into(),
        ));
    }
    let limit = if opts.batch_rows == 0 {
        BATCH_ROWS
    } else {
        opts.batch_rows
    };
    let mut report = ImportReport::default();
    let mut b = Batches::default();
    let mut files = 0;
    for (i, path) in inputs.iter().enumerate() {
        report.inputs.push(read_input(path, opts, &mut b)?);
        files += 1;
        if b.rows() >= limit || i + 1 == inputs.len() {
            // A version per batch: what is written stays written if a later input fails,
            // and importing the same files again skips it (deduplicated).
            let batch = std::mem::take(&mut b);
            let mut w = Writer::open(dir)?;
            let before = w.base().manifest.version;
            apply(&mut w, &batch.trades, &mut report)?;
            apply(&mut w, &batch.quotes, &mut report)?;
            apply(&mut w, &batch.candles, &mut report)?;
            drop(batch);
            let m = w.commit(
                &format!("import {files} file{}", if files == 1 { "" } else { "s" }),
                opts.grace_s,
            )?;
            report.versions_written += u64::from(m.version != before);
            report.version = m.version;
            files = 0;
        }
    }
    Ok(report)
}

/// Merges each partition's rows into the catalog being written.
fn apply<R: Record>(
    w: &mut Writer,
    parts: &BTreeMap<PartKey, Vec<R>>,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    let live = w.base().partitions_owned();
    for (part, incoming) in parts {
        let kind = Kind::parse(&part.kind)
            .ok_or_else(|| CatalogError::Usage(format!("unknown kind {}", part.kind)))?;
        let files = live.get(part).cloned().unwrap_or_default();
        let mut existing = Vec::new();
        for f in &files {
            let path = w.base().locate(f);
            existing.extend(super::store::read_all::<R>(&path)?);
        }
        let (rows, m) = merge(&existing, incoming);
        report.merged.rows += m.rows;
        report.merged.added += m.added;
        report.merged.duplicates += m.duplicates;
        report.merged.conflicts += m.conflicts;
        if m.added == 0 && files.len() <= 1 {
            report.partitions_unchanged += 1;
            continue;
        }
        w.write(kind, part, &rows)?;
        for f in &files {
            w.retire(&f.path);
        }
        report.partitions_written += 1;
    }
    Ok(())
}

/// The venue a file's path names (its directory counts: `ws/binance_usdm_futures/…`).
pub fn venue_of(path: &Path) -> Option<String> {
    let p = path.to_string_lossy().to_ascii_lowercase();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if p.contains("binance") {
        let v = if p.contains("usdm")
            || p.contains("binance-futures")
            || p.contains("binance_futures")
        {
            "binance-usdm"
        } else if p.contains("coinm") || p.contains("delivery") || name.contains("_cm_") {
            "binance-coinm"
        } else if p.contains("binance_us") || p.contains("binance-us") || p.contains("binanceus") {
            "binance-us"
        } else {
            "binance"
        };
        return Some(v.into());
    }
    Venue::from_file_name(&p)
        .filter(|v| *v != Venue::Binance)
        .map(|v| v.name().to_string())
}

/// Quote assets an instrument in a file name may end with.
const QUOTES: [&str; 12] = [
    "USDT", "FDUSD", "BUSD", "USDC", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "DAI",
];

/// The instrument a file name names (`…_BTCUSDT_…`, `btcusdt_trades.csv`, `ADABTC-1m-…`).
pub fn instrument_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_string();
    name.split(['-', '_', '.', '/'])
        .map(|t| t.to_ascii_uppercase())
        .find(|t| {
            (5..=20).contains(&t.len())
                && t.bytes().all(|b| b.is_ascii_alphanumeric())
                && t.bytes().any(|b| b.is_ascii_alphabetic())
                && QUOTES.iter().any(|q| t.ends_with(q) && t.len() > q.len())
        })
}

fn read_input(
    path: &Path,
    opts: &ImportOptions,
    b: &mut Batches,
) -> Result<InputReport, CatalogError> {
    let venue = match &opts.venue {
        Some(v) => v.clone(),
        None => venue_of(path)
            .ok_or_else(|| format_err(path, "cannot tell the venue from the path: give --venue"))?,
    };
    let mut rep = InputReport {
        path: path.to_path_buf(),
        venue: venue.clone(),
        ..InputReport::default()
    };
    let named = opts.instrument.clone().or_else(|| instrument_of(path));
    let head = crate::feed::replay::read_head(path, 4096).map_err(io_err(path))?;
    let head_text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let part = |kind: &str, instrument: &str, date: String| PartKey {
        kind: kind.into(),
        venue: venue.clone(),
        instrument: instrument.into(),
        date,
    };
    if is_candle_file(&name, &head_text) {
        let instrument = named.ok_or_else(|| {
            format_err(
                path,
                "cannot tell the instrument from the name: give --instrument",
            )
        })?;
        let (res, rows, bad) = read_candles(path, &name)?;
        rep.malformed = bad;
        let kind = Kind::Candles(res);
        rep.rows.insert(kind.name(), rows.len() as u64);
        for r in rows {
            let key = part(&kind.name(), &instrument, kind.period().label(r.open_ns));
            b.candles.entry(key).or_default().push(r);
        }
        return Ok(rep);
    }
    let first = head.iter().find(|c| !c.is_ascii_whitespace()).copied();
    let trades: Vec<(String, Trade)>;
    let mut quotes: Vec<(String, QuoteRow)> = Vec::new();
    if let Some(layout) = trade_csv_layout(&head_text) {
        let (t, bad) = read_trade_csv(path, &layout, named.as_deref())?;
        rep.malformed = bad;
        trades = t;
    } else if first == Some(b'[')
        && (head_text.contains("\"info\"") || head_text.contains("\"item\""))
    {
        let (t, bad) = read_json_trades(path, named.as_deref())?;
        rep.malformed = bad;
        trades = t;
    } else {
        let mut symbols = Symbols::default();
        let hint = named.as_deref().and_then(|s| Symbol::new(s.as_bytes()));
        let m =
            read_market(path, &mut symbols, hint).map_err(|e| format_err(path, e.to_string()))?;
        rep.malformed = m.malformed;
        let sym = |i: usize| {
            symbols
                .0
                .get(i)
                .map(|s| instrument_name(&String::from_utf8_lossy(s.as_bytes())))
                .unwrap_or_else(|| "UNKNOWN".into())
        };
        trades = m
            .trades
            .iter()
            .map(|t| (sym(t.instrument.index()), *t))
            .collect();
        let recv = match sidecar_path(path) {
            Some(sp) => Some(
                crate::feed::replay::load_sidecar(&sp, m.lines)
                    .map_err(|e| format_err(&sp, e.to_string()))?,
            ),
            None => None,
        };
        for (q, line) in m.quotes.iter().zip(&m.quote_lines) {
            let ts = if q.event_ns > 0 {
                Some(q.event_ns)
            } else {
                recv.as_ref().and_then(|r| r.get(*line).copied())
            };
            let Some(ts) = ts.and_then(|t| i64::try_from(t).ok()) else {
                rep.untimed += 1;
                continue;
            };
            quotes.push((
                sym(q.instrument.index()),
                QuoteRow {
                    ts_ns: ts,
                    update_id: q.update_id,
                    bid: q.bid_px.0,
                    bid_qty: q.bid_qty.0,
                    ask: q.ask_px.0,
                    ask_qty: q.ask_qty.0,
                },
            ));
        }
    }
    for (sym, t) in trades {
        let kind = if t.flags & Trade::AGGREGATED != 0 {
            Kind::AggTrades
        } else {
            Kind::Trades
        };
        // A time past 2262 or a value a DECIMAL(18,8) cannot hold: the row is unreadable.
        let Ok(ts) = i64::try_from(t.trade_ns) else {
            rep.malformed += 1;
            continue;
        };
        if !fits18(t.price.0) || !fits18(t.qty.0) || !super::safe_component(&sym) {
            rep.malformed += 1;
            continue;
        }
        *rep.rows.entry(kind.name()).or_default() += 1;
        let key = part(&kind.name(), &sym, kind.period().label(ts));
        b.trades.entry(key).or_default().push(TradeRow {
            ts_ns: ts,
            id: t.trade_id,
            price: t.price.0,
            qty: t.qty.0,
            buyer_maker: t.buyer_is_maker,
        });
    }
    for (sym, q) in quotes {
        if ![q.bid, q.bid_qty, q.ask, q.ask_qty].into_iter().all(fits18)
            || !super::safe_component(&sym)
        {
            rep.malformed += 1;
            continue;
        }
        *rep.rows.entry(Kind::Quotes.name()).or_default() += 1;
        let key = part(
            &Kind::Quotes.name(),
            &sym,
            Kind::Quotes.period().label(q.ts_ns),
        );
        b.quotes.entry(key).or_default().push(q);
    }
    Ok(rep)
}

/// An exact decimal at 10⁻⁸. Files exported through binary floats carry values such as
/// `0.00031099999999999997` or `0.035716000000000005`: digits past the 8th that are float
/// noise (they begin `0000` or `9999`) are rounded off to the 8-decimal value the exchange
/// sent; any other digit past the 8th is refused (the row counts as unreadable), never
/// rounded.
fn decimal(text: &[u8]) -> Option<i64> {
    if let Some(v) = parse_scaled_text(text) {
        return Some(v);
    }
    let t = std::str::from_utf8(text).ok()?.trim();
    // An exponent form: its full decimal expansion (Display never uses an exponent).
    let owned;
    let t = if t.contains(['e', 'E']) {
        owned = format!("{}", t.parse::<f64>().ok()?);
        owned.as_str()
    } else {
        t
    };
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.')?;
    if frac.len() <= 8 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (keep, tail) = frac.split_at(8);
    let up = if tail.starts_with("0000") {
        0
    } else if tail.starts_with("9999") {
        1
    } else {
        return None;
    };
    let v = parse_scaled_text(format!("{int}.{keep}").as_bytes())?.checked_add(up)?;
    Some(if neg { -v } else { v })
}

/// [`decimal`], or for values past an `i64` at 10⁻⁸ (quote volumes): exact, in an `i128`.
fn decimal_wide(text: &[u8]) -> Option<i128> {
    if let Some(v) = decimal(text) {
        return Some(i128::from(v));
    }
    let t = std::str::from_utf8(text).ok()?.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !(frac.is_empty() || digits(frac)) || int.len() > 28 {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 8 {
        return None;
    }
    let v = int
        .parse::<i128>()
        .ok()?
        .checked_mul(100_000_000)?
        .checked_add(format!("{frac:0<8}").parse::<i128>().ok()?)?;
    Some(if neg { -v } else { v })
}

/// An exchange symbol as a catalog instrument name: `XBT/USD` → `XBT-USD` (only letters,
/// digits, `-`, `_` and `.` name a directory).
pub(super) fn instrument_name(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Where a trades CSV with a header keeps its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TradeCsv {
    time: usize,
    id: usize,
    price: usize,
    qty: usize,
    /// `buyer_maker`-style flag, or a taker `side` (buy/sell).
    maker: Option<usize>,
    side: Option<usize>,
    symbol: Option<usize>,
    /// Aggregate trade ids (a sequence of their own).
    agg: bool,
}

/// A trades CSV with a header naming its columns: Binance's newer public-data files
/// (`id,price,qty,quote_qty,time,is_buyer_maker,…`), Tardis trades
/// (`exchange,symbol,timestamp,local_timestamp,id,side,price,amount`), or exports such as
/// `timestamp,trade_id,price,quantity,buyer_maker`.
fn trade_csv_layout(head: &str) -> Option<TradeCsv> {
    let cols: Vec<String> = head
        .lines()
        .next()?
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if col(&cols, &["open"]).is_some() {
        return None;
    }
    let layout = TradeCsv {
        time: col(
            &cols,
            &[
                "timestamp",
                "time",
                "transact_time",
                "trade_time",
                "datetime",
            ],
        )?,
        id: col(&cols, &["trade_id", "id", "agg_trade_id", "tid"])?,
        price: col(&cols, &["price", "px"])?,
        qty: col(&cols, &["quantity", "qty", "amount", "size", "volume"])?,
        maker: col(&cols, &["buyer_maker", "is_buyer_maker", "isbuyermaker"]),
        side: col(&cols, &["side", "taker_side"]),
        symbol: col(&cols, &["symbol", "instrument"]),
        agg: col(&cols, &["agg_trade_id", "first_trade_id", "aggregate_id"]).is_some(),
    };
    (layout.maker.is_some() || layout.side.is_some()).then_some(layout)
}

fn read_trade_csv(
    path: &Path,
    lay: &TradeCsv,
    named: Option<&str>,
) -> Result<(Vec<(String, Trade)>, u64), CatalogError> {
    let bytes = read_all(path).map_err(io_err(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| format_err(path, "not UTF-8 text"))?;
    let agg = lay.agg || path.to_string_lossy().contains("aggTrades");
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let t = (|| {
            let cell = |i: usize| f.get(i).copied().filter(|s| !s.is_empty());
            let sym = match lay.symbol.and_then(cell) {
                Some(s) => s.replace(['/', '-'], "").to_ascii_uppercase(),
                None => named?.to_string(),
            };
            let ns = crate::tools::indicators::parse_open_time(cell(lay.time)?)?;
            let id: u64 = cell(lay.id)?.parse().ok()?;
            let px = decimal(cell(lay.price)?.as_bytes())?;
            let qty = decimal(cell(lay.qty)?.as_bytes())?;
            let maker = match (lay.maker.and_then(cell), lay.side.and_then(cell)) {
                (Some(m), _) => match m.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return None,
                },
                // The taker's side: a sell means the buyer made the market.
                (None, Some(s)) => match s.to_ascii_lowercase().as_str() {
                    "sell" | "s" => true,
                    "buy" | "b" => false,
                    _ => return None,
                },
                (None, None) => return None,
            };
            Some(trade(sym, id, ns, px, qty, maker, agg))
        })();
        match t {
            Some(t) => out.push(t),
            None => bad += 1,
        }
    }
    if out.is_empty() && bad > 0 && named.is_none() && lay.symbol.is_none() {
        return Err(format_err(
            path,
            "cannot tell the instrument from the name: give --instrument",
        ));
    }
    Ok((out, bad))
}

/// A candle CSV: a kline file name, or a header with `open_time` (or `timestamp`) and OHLC.
fn is_candle_file(name: &str, head: &str) -> bool {
    let header = head.lines().next().unwrap_or("");
    let cols: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let has = |c: &str| cols.contains(&c);
    if has("open") && has("high") && has("low") && has("close") {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    (lower.contains("kline") || resolution_of(&lower).is_some())
        && !lower.contains("trade")
        && lower.contains(".csv")
}

/// The resolution a file name gives (`-1m-`, `_1h_`).
fn resolution_of(name: &str) -> Option<Resolution> {
    name.split(['-', '_', '.']).find_map(Resolution::parse)
}

/// Column `names` (any of them) in `cols`.
fn col(cols: &[String], names: &[&str]) -> Option<usize> {
    cols.iter().position(|c| names.contains(&c.as_str()))
}

/// Reads a candle CSV: (resolution, rows in file order, unreadable rows).
fn read_candles(
    path: &Path,
    name: &str,
) -> Result<(Resolution, Vec<CandleRow>, u64), CatalogError> {
    let bytes = read_all(path).map_err(io_err(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| format_err(path, "not UTF-8 text"))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let first = lines.peek().copied().unwrap_or("");
    let cols: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    // [time, open, high, low, close, volume, quote volume, trades, taker buy base, taker buy quote]
    let layout: [Option<usize>; 10] = if col(&cols, &["open"]).is_some() {
        lines.next();
        [
            col(
                &cols,
                &["open_time", "timestamp", "time", "date", "datetime"],
            ),
            col(&cols, &["open"]),
            col(&cols, &["high"]),
            col(&cols, &["low"]),
            col(&cols, &["close"]),
            col(&cols, &["volume"]),
            col(&cols, &["quote_volume", "quote_asset_volume", "quote_av"]),
            col(
                &cols,
                &["trades", "trade_count", "count", "number_of_trades"],
            ),
            col(
                &cols,
                &[
                    "taker_buy_base",
                    "taker_buy_base_asset_volume",
                    "taker_buy_volume",
                    "tb_base_av",
                ],
            ),
            col(
                &cols,
                &[
                    "taker_buy_quote",
                    "taker_buy_quote_asset_volume",
                    "tb_quote_av",
                ],
            ),
        ]
    } else {
        // Binance kline rows: open_time, o, h, l, c, v, close_time, quote volume, count,
        // taker buy base, taker buy quote, ignore.
        [0, 1, 2, 3, 4, 5, 7, 8, 9, 10].map(Some)
    };
    if layout[..6].iter().any(Option::is_none) {
        return Err(format_err(
            path,
            "a candle CSV needs open_time, open, high, low, close and volume columns",
        ));
    }
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in lines {
        let f: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let cell = |i: Option<usize>| i.and_then(|i| f.get(i).copied()).filter(|s| !s.is_empty());
        let dec = |i: Option<usize>| cell(i).and_then(|s| decimal(s.as_bytes()));
        let opt_wide = |i: Option<usize>| match cell(i) {
            None => Some(0),
            Some(s) => decimal_wide(s.as_bytes()),
        };
        let opt_dec = |i: Option<usize>| match cell(i) {
            None => Some(0),
            Some(s) => decimal(s.as_bytes()),
        };
        let row = (|| {
            let t = crate::tools::indicators::parse_open_time(cell(layout[0])?)?;
            Some(CandleRow {
                open_ns: i64::try_from(t).ok()?,
                open: dec(layout[1])?,
                high: dec(layout[2])?,
                low: dec(layout[3])?,
                close: dec(layout[4])?,
                volume: dec(layout[5])?,
                quote_volume: opt_wide(layout[6])?,
                trades: match cell(layout[7]) {
                    None => 0,
                    Some(s) => s.parse().ok()?,
                },
                taker_buy_volume: opt_dec(layout[8])?,
                taker_buy_quote: opt_wide(layout[9])?,
            })
        })();
        match row {
            Some(r)
                if [r.open, r.high, r.low, r.close, r.volume, r.taker_buy_volume]
                    .into_iter()
                    .all(fits18) =>
            {
                rows.push(r)
            }
            _ => bad += 1,
        }
    }
    let res = resolution_of(&name.to_ascii_lowercase())
        .or_else(|| {
            // The most common step between consecutive open times.
            let mut steps: BTreeMap<i64, usize> = BTreeMap::new();
            for w in rows.windows(2) {
                *steps.entry(w[1].open_ns - w[0].open_ns).or_default() += 1;
            }
            let step = steps.into_iter().max_by_key(|(_, n)| *n)?.0;
            Resolution::ALL
                .into_iter()
                .find(|r| r.nanos() as i64 == step)
        })
        .ok_or_else(|| {
            format_err(
                path,
                "cannot tell the candles' resolution (1s, 1m, 5m, 1h or 1d) from the name or the rows",
            )
        })?;
    let step = res.nanos() as i64;
    let before = rows.len();
    rows.retain(|r| r.open_ns % step == 0);
    bad += (before - rows.len()) as u64;
    Ok((res, rows, bad))
}

/// Member `key` of the JSON object `obj`.
fn member<'a>(obj: &'a [u8], key: &[u8]) -> Option<Value<'a>> {
    let mut out = None;
    json::for_each_member(obj, |k, v| {
        if k == key && out.is_none() {
            out = Some(v);
        }
    })
    .ok()?;
    out
}

fn num_text<'a>(v: Option<Value<'a>>) -> Option<&'a [u8]> {
    match v? {
        Value::Num(n) | Value::Str(n) => Some(n),
        _ => None,
    }
}

/// A ccxt trade list whose `info` is the raw Binance aggTrade (`a,p,q,T,m`), or a barter-rs
/// event stream (`{"Item":{"Ok":{"time_exchange":…,"kind":{"Trade":{…}}}}}`): (instrument,
/// trade) pairs and the number of unreadable elements.
fn read_json_trades(
    path: &Path,
    named: Option<&str>,
) -> Result<(Vec<(String, Trade)>, u64), CatalogError> {
    let bytes = read_all(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    let mut bad = 0u64;
    let mut items = Vec::new();
    json::for_each_element(&bytes, |v| {
        if let Value::Object(o) = v {
            items.push(o);
        } else {
            bad += 1;
        }
    })
    .map_err(|e| format_err(path, format!("not a JSON array: {e:?}")))?;
    for o in items {
        let t = if let Some(Value::Object(info)) = member(o, b"info") {
            ccxt_agg_trade(o, info)
        } else {
            barter_trade(o, named)
        };
        match t {
            Some(Ok(t)) => out.push(t),
            Some(Err(())) => bad += 1,
            // Not a trade (a barter disconnect event, say).
            None => {}
        }
    }
    Ok((out, bad))
}

fn trade(
    sym: String,
    id: u64,
    ns: u64,
    px: i64,
    qty: i64,
    maker: bool,
    agg: bool,
) -> (String, Trade) {
    (
        sym,
        Trade {
            instrument: crate::core::InstrumentId(0),
            trade_id: id,
            price: crate::core::Price(px),
            qty: crate::core::Qty(qty),
            trade_ns: ns,
            event_ns: ns,
            buyer_is_maker: maker,
            source: 0,
            flags: if agg { Trade::AGGREGATED } else { 0 },
            anomalies: 0,
        },
    )
}

fn ccxt_agg_trade(o: &[u8], info: &[u8]) -> Option<Result<(String, Trade), ()>> {
    let sym = member(o, b"symbol")
        .and_then(|v| v.as_str())
        .map(|s| String::from_utf8_lossy(s).replace('/', ""));
    let t = (|| {
        let id = std::str::from_utf8(num_text(member(info, b"a"))?)
            .ok()?
            .parse()
            .ok()?;
        let px = decimal(num_text(member(info, b"p"))?)?;
        let qty = decimal(num_text(member(info, b"q"))?)?;
        let ms: u64 = std::str::from_utf8(num_text(member(info, b"T"))?)
            .ok()?
            .parse()
            .ok()?;
        let maker = matches!(member(info, b"m")?, Value::Bool(true));
        Some(trade(
            sym?,
            id,
            ms.checked_mul(1_000_000)?,
            px,
            qty,
            maker,
            true,
        ))
    })();
    Some(t.ok_or(()))
}

fn barter_trade(o: &[u8], named: Option<&str>) -> Option<Result<(String, Trade), ()>> {
    let Some(Value::Object(item)) = member(o, b"Item") else {
        // `{"Reconnecting": "binance_spot"}`: a stream event, not a trade.
        return if member(o, b"Reconnecting").is_some() {
            None
        } else {
            Some(Err(()))
        };
    };
    let Some(Value::Object(ok)) = member(item, b"Ok") else {
        // An `Err` item (a disconnect): not a trade.
        return None;
    };
    let Some(Value::Object(kind)) = member(ok, b"kind") else {
        return Some(Err(()));
    };
    let Some(Value::Object(tr)) = member(kind, b"Trade") else {
        return None;
    };
    let t = (|| {
        let sym = named?.to_string();
        let ns = crate::core::clock::parse_rfc3339_ns(member(ok, b"time_exchange")?.as_str()?)?;
        let id = std::str::from_utf8(num_text(member(tr, b"id"))?)
            .ok()?
            .parse()
            .ok()?;
        let px = decimal(num_text(member(tr, b"price"))?)?;
        let qty = decimal(num_text(member(tr, b"amount"))?)?;
        // The taker's side: a sell means the buyer made the market.
        let maker = match member(tr, b"side")?.as_str()? {
            b"Buy" | b"buy" => false,
            b"Sell" | b"sell" => true,
            _ => return None,
        };
        Some(trade(sym, id, ns, px, qty, maker, false))
    })();
    Some(t.ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_and_instruments_from_paths() {
        let v = |p: &str| venue_of(Path::new(p));
        assert_eq!(
            v("ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst").as_deref(),
            Some("binance")
        );
        assert_eq!(
            v("ws/binance_usdm_futures/hftbacktest_usdm_btcusdt.jsonl.zst").as_deref(),
            Some("binance-usdm")
        );
        assert_eq!(
            v("x/nautilus_tardis_binance-futures_BTCUSDT_trades.csv.zst").as_deref(),
            Some("binance-usdm")
        );
        assert_eq!(
            v("ws/binance_coinm_futures/hftbacktest_cm_btcusd_perp.jsonl.zst").as_deref(),
            Some("binance-coinm")
        );
        assert_eq!(
            v("ws/binance_us/cryptofeed_BINANCE_US.ws.jsonl.zst").as_deref(),
            Some("binance-us")
        );
        assert_eq!(v("ws/kraken/x.jsonl").as_deref(), Some("kraken"));
        assert_eq!(v("trades/unknown_venue/freqtrade_ETHUSDT_trades.csv"), None);
        let i = |p: &str| instrument_of(Path::new(p));
        assert_eq!(
            i("nautilus_binance_BTCUSDT_trades_2021-01-08.csv").as_deref(),
            Some("BTCUSDT")
        );
        assert_eq!(
            i("nautilus_binance_ADABTC-1m-2021-11-27.csv").as_deref(),
            Some("ADABTC")
        );
        assert_eq!(i("btcusdt_trades.csv").as_deref(), Some("BTCUSDT"));
        assert_eq!(
            i("freqtrade_binance_XRPETH_aggTrades_ccxt.json.zst").as_deref(),
            Some("XRPETH")
        );
        assert_eq!(
            i("barter_binance_spot_normalized_events_2024-12-20.json"),
            None
        );
    }

    #[test]
    fn decimals_are_exact_or_a_doubles_8_decimal_value() {
        assert_eq!(decimal(b"0.000311"), Some(31_100));
        assert_eq!(decimal(b"0.00031099999999999997"), Some(31_100));
        assert_eq!(decimal(b"0.035716000000000005"), Some(3_571_600));
        assert_eq!(decimal(b"2e-06"), Some(200));
        assert_eq!(decimal(b"-1.99999999999999999"), Some(-200_000_000));
        assert_eq!(decimal(b"3.1099999999999997e-04"), Some(31_100));
        // Digits past 10^-8 that are not float noise are refused.
        assert_eq!(decimal(b"0.123456789"), None);
        assert_eq!(decimal(b"0.12345678999"), None);
        assert_eq!(decimal(b"x"), None);
    }

    #[test]
    fn candle_files_are_told_apart() {
        assert!(is_candle_file(
            "a.csv",
            "open_time,open,high,low,close,volume\n"
        ));
        assert!(is_candle_file(
            "ADABTC-1m-2021-11-27.csv",
            "1637971200000,0.1,0.1\n"
        ));
        assert!(!is_candle_file(
            "BTCUSDT_trades_1m.csv",
            "timestamp,trade_id,price\n"
        ));
        assert!(!is_candle_file("x.jsonl", "{\"e\":\"trade\"}"));
    }
}
