//! What a catalog file holds, row by row, and how rows become Parquet and come back.
//!
//! Every kind is a flat table sorted by time, then by its key:
//!
//! | kind | columns (Parquet logical types) | key |
//! |---|---|---|
//! | `trades`, `agg_trades` | `ts` TIMESTAMP(ns, UTC), `trade_id` UINT64, `price` DECIMAL(18,8), `qty` DECIMAL(18,8), `buyer_maker` BOOLEAN | trade id |
//! | `quotes` | `ts`, `update_id` UINT64, `bid`, `bid_qty`, `ask`, `ask_qty` DECIMAL(18,8) | update id (or the row's digest when the venue sends none) |
//! | `anomalies` | `ts` TIMESTAMP(ns, UTC), `category` STRING (`gap`, `spike`, …), `source` UINT64 (the lane's source index; 255 = the merged stream), `seq` UINT64 (source message index), `expected` INT64, `got` INT64 | the row's digest |
//! | `candles_<res>` | `open_time` TIMESTAMP(ns, UTC), `open`, `high`, `low`, `close`, `volume` DECIMAL(18,8), `quote_volume` DECIMAL(38,8), `trades` UINT64, `taker_buy_volume` DECIMAL(18,8), `taker_buy_quote` DECIMAL(38,8) | open time |
//!
//! Prices and quantities are the engine's exact 10⁻⁸ integers stored as decimals, so pandas,
//! polars and DuckDB read exact values with no scale to apply. A value a DECIMAL(18,8) cannot
//! hold (10¹⁰ or more) is refused at write, never rounded.
//!
//! Times and sequence ids are written DELTA_BINARY_PACKED (consecutive trade ids cost almost
//! nothing); every column is zstd-compressed; row groups carry min/max statistics, so a time
//! range skips the groups outside it.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal64Type, Int64Type, TimestampNanosecondType, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Decimal64Array, Int64Array, RecordBatch,
    StringArray, TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Largest magnitude a DECIMAL(18, 8) holds, in 10⁻⁸ units.
const DEC18_MAX: i64 = 999_999_999_999_999_999;

/// A row of some kind: its time, its dedup key, and its Parquet form.
pub trait Record: Copy + PartialEq + std::fmt::Debug {
    /// The time it is sorted and partitioned by (ns since the epoch).
    fn ts(&self) -> i64;
    /// What makes it unique within its venue and instrument.
    fn key(&self) -> u64;
    /// Whether `key` is a sequence (trade ids): gaps in it are worth reporting.
    const SEQUENCED: bool;
    /// The Arrow schema of a file of such rows.
    fn schema() -> SchemaRef;
    /// The rows as one record batch.
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, String>;
    /// Appends the rows of `batch` to `out`.
    fn from_batch(batch: &RecordBatch, out: &mut Vec<Self>) -> Result<(), String>;
    /// Name of the time column (statistics are read from it).
    const TIME_COLUMN: &'static str;
    /// Whether this row's key is a venue sequence (it grows with time: a trade id, an order
    /// book update id) rather than the row's time or digest.
    fn sequenced_key(&self) -> bool {
        Self::SEQUENCED
    }
}

/// A trade (raw or aggregated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradeRow {
    /// Trade time, ns since the epoch.
    pub ts_ns: i64,
    /// Venue trade id (aggregate id for `agg_trades`).
    pub id: u64,
    /// Price, 10⁻⁸.
    pub price: i64,
    /// Quantity, 10⁻⁸.
    pub qty: i64,
    /// The buyer was the maker (the aggressor sold).
    pub buyer_maker: bool,
}

/// A best bid/ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteRow {
    /// Time (venue event time, or receive time when the venue gives none), ns.
    pub ts_ns: i64,
    /// Venue update id; 0 when the venue sends none.
    pub update_id: u64,
    /// Best bid, 10⁻⁸.
    pub bid: i64,
    /// Quantity at the bid, 10⁻⁸.
    pub bid_qty: i64,
    /// Best ask, 10⁻⁸.
    pub ask: i64,
    /// Quantity at the ask, 10⁻⁸.
    pub ask_qty: i64,
}

/// A candle (venue kline or built from trades).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandleRow {
    /// Bucket start, ns.
    pub open_ns: i64,
    /// Open, 10⁻⁸.
    pub open: i64,
    /// High, 10⁻⁸.
    pub high: i64,
    /// Low, 10⁻⁸.
    pub low: i64,
    /// Close, 10⁻⁸.
    pub close: i64,
    /// Base volume, 10⁻⁸.
    pub volume: i64,
    /// Quote volume, 10⁻⁸.
    pub quote_volume: i128,
    /// Trades in the bucket (0 when the source does not say).
    pub trades: u64,
    /// Base volume bought by takers, 10⁻⁸.
    pub taker_buy_volume: i64,
    /// Quote volume bought by takers, 10⁻⁸.
    pub taker_buy_quote: i128,
}

/// An anomaly the arbiter, the parser or the candle builder flagged (see
/// [`crate::core::stats::AnomalyKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnomalyRow {
    /// Market time, ns.
    pub ts_ns: i64,
    /// [`crate::core::stats::AnomalyKind::index`].
    pub category: u8,
    /// The lane's source (feed line or replay file) index; 255 for the merged stream.
    pub source: u8,
    /// Source message index.
    pub seq: u64,
    /// What was expected (id, sequence, price…), category-specific.
    pub expected: i64,
    /// What arrived.
    pub got: i64,
}

fn ts_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        false,
    )
}

fn dec(name: &str) -> Field {
    Field::new(name, DataType::Decimal64(18, 8), false)
}

fn dec38(name: &str) -> Field {
    Field::new(name, DataType::Decimal128(38, 8), false)
}

fn u64_field(name: &str) -> Field {
    Field::new(name, DataType::UInt64, false)
}

fn ts_array(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
}

/// Whether a 10⁻⁸ value fits a DECIMAL(18,8).
pub fn fits18(v: i64) -> bool {
    v.unsigned_abs() <= DEC18_MAX as u64
}

fn dec_array(name: &str, v: Vec<i64>) -> Result<ArrayRef, String> {
    if let Some(x) = v.iter().find(|x| !fits18(**x)) {
        return Err(format!(
            "{name} {} is too large for DECIMAL(18,8)",
            crate::core::num::format_scaled(*x, 8)
        ));
    }
    Decimal64Array::from(v)
        .with_precision_and_scale(18, 8)
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(|e| e.to_string())
}

fn dec38_array(v: Vec<i128>) -> Result<ArrayRef, String> {
    Decimal128Array::from(v)
        .with_precision_and_scale(38, 8)
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(|e| e.to_string())
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, String> {
    RecordBatch::try_new(schema, columns).map_err(|e| e.to_string())
}

/// Column `name` of `b`, checked to be of the primitive type `T`.
fn prim<'a, T: arrow_array::ArrowPrimitiveType>(
    b: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow_array::PrimitiveArray<T>, String> {
    let col = b
        .column_by_name(name)
        .ok_or_else(|| format!("no column `{name}`"))?;
    if col.null_count() > 0 {
        return Err(format!("column `{name}` has nulls"));
    }
    col.as_primitive_opt::<T>().ok_or_else(|| {
        format!(
            "column `{name}` is {}, not the catalog's type",
            col.data_type()
        )
    })
}

/// Decimal column `name` (scale 8) as 10⁻⁸ integers.
fn dec_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a [i64], String> {
    let a = prim::<Decimal64Type>(b, name)?;
    if a.scale() != 8 {
        return Err(format!("column `{name}` has scale {}, not 8", a.scale()));
    }
    Ok(a.values())
}

fn dec38_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a [i128], String> {
    let a = prim::<Decimal128Type>(b, name)?;
    if a.scale() != 8 {
        return Err(format!("column `{name}` has scale {}, not 8", a.scale()));
    }
    Ok(a.values())
}

fn ts_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a [i64], String> {
    Ok(prim::<TimestampNanosecondType>(b, name)?.values())
}

fn u64_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a [u64], String> {
    Ok(prim::<UInt64Type>(b, name)?.values())
}

impl Record for TradeRow {
    const SEQUENCED: bool = true;
    const TIME_COLUMN: &'static str = "ts";

    fn ts(&self) -> i64 {
        self.ts_ns
    }
    fn key(&self) -> u64 {
        self.id
    }
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            ts_field("ts"),
            u64_field("trade_id"),
            dec("price"),
            dec("qty"),
            Field::new("buyer_maker", DataType::Boolean, false),
        ]))
    }
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, String> {
        batch(
            Self::schema(),
            vec![
                ts_array(rows.iter().map(|r| r.ts_ns).collect()),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.id).collect::<Vec<_>>(),
                )),
                dec_array("price", rows.iter().map(|r| r.price).collect())?,
                dec_array("qty", rows.iter().map(|r| r.qty).collect())?,
                Arc::new(BooleanArray::from(
                    rows.iter().map(|r| r.buyer_maker).collect::<Vec<_>>(),
                )),
            ],
        )
    }
    fn from_batch(b: &RecordBatch, out: &mut Vec<Self>) -> Result<(), String> {
        let (ts, id) = (ts_col(b, "ts")?, u64_col(b, "trade_id")?);
        let (px, qty) = (dec_col(b, "price")?, dec_col(b, "qty")?);
        let maker = b
            .column_by_name("buyer_maker")
            .and_then(|c| c.as_boolean_opt())
            .filter(|c| c.null_count() == 0)
            .ok_or("column `buyer_maker` missing, not boolean, or with nulls")?;
        out.reserve(b.num_rows());
        for i in 0..b.num_rows() {
            out.push(TradeRow {
                ts_ns: ts[i],
                id: id[i],
                price: px[i],
                qty: qty[i],
                buyer_maker: maker.value(i),
            });
        }
        Ok(())
    }
}

impl Record for QuoteRow {
    const SEQUENCED: bool = false;
    const TIME_COLUMN: &'static str = "ts";

    fn ts(&self) -> i64 {
        self.ts_ns
    }
    fn sequenced_key(&self) -> bool {
        self.update_id != 0
    }
    fn key(&self) -> u64 {
        if self.update_id != 0 {
            return self.update_id;
        }
        // No venue id: the row itself (FNV-1a over its fields) is what must not repeat.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in [self.ts_ns, self.bid, self.bid_qty, self.ask, self.ask_qty] {
            for b in v.to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            ts_field("ts"),
            u64_field("update_id"),
            dec("bid"),
            dec("bid_qty"),
            dec("ask"),
            dec("ask_qty"),
        ]))
    }
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, String> {
        batch(
            Self::schema(),
            vec![
                ts_array(rows.iter().map(|r| r.ts_ns).collect()),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.update_id).collect::<Vec<_>>(),
                )),
                dec_array("bid", rows.iter().map(|r| r.bid).collect())?,
                dec_array("bid_qty", rows.iter().map(|r| r.bid_qty).collect())?,
                dec_array("ask", rows.iter().map(|r| r.ask).collect())?,
                dec_array("ask_qty", rows.iter().map(|r| r.ask_qty).collect())?,
            ],
        )
    }
    fn from_batch(b: &RecordBatch, out: &mut Vec<Self>) -> Result<(), String> {
        let (ts, id) = (ts_col(b, "ts")?, u64_col(b, "update_id")?);
        let (bid, bq) = (dec_col(b, "bid")?, dec_col(b, "bid_qty")?);
        let (ask, aq) = (dec_col(b, "ask")?, dec_col(b, "ask_qty")?);
        out.reserve(b.num_rows());
        for i in 0..b.num_rows() {
            out.push(QuoteRow {
                ts_ns: ts[i],
                update_id: id[i],
                bid: bid[i],
                bid_qty: bq[i],
                ask: ask[i],
                ask_qty: aq[i],
            });
        }
        Ok(())
    }
}

impl Record for CandleRow {
    const SEQUENCED: bool = false;
    const TIME_COLUMN: &'static str = "open_time";

    fn ts(&self) -> i64 {
        self.open_ns
    }
    fn key(&self) -> u64 {
        self.open_ns as u64
    }
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            ts_field("open_time"),
            dec("open"),
            dec("high"),
            dec("low"),
            dec("close"),
            dec("volume"),
            dec38("quote_volume"),
            u64_field("trades"),
            dec("taker_buy_volume"),
            dec38("taker_buy_quote"),
        ]))
    }
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, String> {
        let d =
            |name: &str, f: fn(&CandleRow) -> i64| dec_array(name, rows.iter().map(f).collect());
        batch(
            Self::schema(),
            vec![
                ts_array(rows.iter().map(|r| r.open_ns).collect()),
                d("open", |r| r.open)?,
                d("high", |r| r.high)?,
                d("low", |r| r.low)?,
                d("close", |r| r.close)?,
                d("volume", |r| r.volume)?,
                dec38_array(rows.iter().map(|r| r.quote_volume).collect())?,
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.trades).collect::<Vec<_>>(),
                )),
                d("taker_buy_volume", |r| r.taker_buy_volume)?,
                dec38_array(rows.iter().map(|r| r.taker_buy_quote).collect())?,
            ],
        )
    }
    fn from_batch(b: &RecordBatch, out: &mut Vec<Self>) -> Result<(), String> {
        let t = ts_col(b, "open_time")?;
        let (o, h, l, c) = (
            dec_col(b, "open")?,
            dec_col(b, "high")?,
            dec_col(b, "low")?,
            dec_col(b, "close")?,
        );
        let (v, qv, n) = (
            dec_col(b, "volume")?,
            dec38_col(b, "quote_volume")?,
            u64_col(b, "trades")?,
        );
        let (tb, tq) = (
            dec_col(b, "taker_buy_volume")?,
            dec38_col(b, "taker_buy_quote")?,
        );
        out.reserve(b.num_rows());
        for i in 0..b.num_rows() {
            out.push(CandleRow {
                open_ns: t[i],
                open: o[i],
                high: h[i],
                low: l[i],
                close: c[i],
                volume: v[i],
                quote_volume: qv[i],
                trades: n[i],
                taker_buy_volume: tb[i],
                taker_buy_quote: tq[i],
            });
        }
        Ok(())
    }
}

impl Record for AnomalyRow {
    const SEQUENCED: bool = false;
    const TIME_COLUMN: &'static str = "ts";

    fn ts(&self) -> i64 {
        self.ts_ns
    }
    fn key(&self) -> u64 {
        // No id: the row itself is what must not repeat (FNV-1a over its fields).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let words = [
            self.ts_ns as u64,
            u64::from(self.category) << 8 | u64::from(self.source),
            self.seq,
            self.expected as u64,
            self.got as u64,
        ];
        for v in words {
            for b in v.to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            ts_field("ts"),
            Field::new("category", DataType::Utf8, false),
            u64_field("source"),
            u64_field("seq"),
            Field::new("expected", DataType::Int64, false),
            Field::new("got", DataType::Int64, false),
        ]))
    }
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, String> {
        use crate::core::stats::AnomalyKind;
        let names = rows
            .iter()
            .map(|r| {
                AnomalyKind::ALL
                    .get(usize::from(r.category))
                    .map(|k| k.name())
                    .ok_or_else(|| format!("anomaly category {} is not known", r.category))
            })
            .collect::<Result<Vec<_>, String>>()?;
        batch(
            Self::schema(),
            vec![
                ts_array(rows.iter().map(|r| r.ts_ns).collect()),
                Arc::new(StringArray::from(names)),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| u64::from(r.source)).collect::<Vec<_>>(),
                )),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.expected).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.got).collect::<Vec<_>>(),
                )),
            ],
        )
    }
    fn from_batch(b: &RecordBatch, out: &mut Vec<Self>) -> Result<(), String> {
        use crate::core::stats::AnomalyKind;
        let ts = ts_col(b, "ts")?;
        let cat = b
            .column_by_name("category")
            .and_then(|c| c.as_string_opt::<i32>())
            .filter(|c| c.null_count() == 0)
            .ok_or("column `category` missing, not a string, or with nulls")?;
        let (src, seq) = (u64_col(b, "source")?, u64_col(b, "seq")?);
        let (exp, got) = (
            prim::<Int64Type>(b, "expected")?.values(),
            prim::<Int64Type>(b, "got")?.values(),
        );
        out.reserve(b.num_rows());
        for i in 0..b.num_rows() {
            let name = cat.value(i);
            let category = AnomalyKind::ALL
                .iter()
                .position(|k| k.name() == name)
                .ok_or_else(|| format!("anomaly category `{name}` is not known"))?;
            out.push(AnomalyRow {
                ts_ns: ts[i],
                category: category as u8,
                source: u8::try_from(src[i])
                    .map_err(|_| format!("source {} is not a source index", src[i]))?,
                seq: seq[i],
                expected: exp[i],
                got: got[i],
            });
        }
        Ok(())
    }
}

/// Anomalies as CSV: `ts_ns,category,source,seq,expected,got`.
pub fn anomalies_csv(rows: &[AnomalyRow]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("ts_ns,category,source,seq,expected,got\n");
    for r in rows {
        let name = crate::core::stats::AnomalyKind::ALL
            .get(usize::from(r.category))
            .map_or("?", |k| k.name());
        let _ = writeln!(
            s,
            "{},{name},{},{},{},{}",
            r.ts_ns, r.source, r.seq, r.expected, r.got
        );
    }
    s
}

/// Trades as CSV: `ts_ns,trade_id,price,qty,buyer_maker` (exact decimals).
pub fn trades_csv(rows: &[TradeRow]) -> String {
    use crate::core::num::push_scaled;
    use std::fmt::Write as _;
    let mut s = String::from("ts_ns,trade_id,price,qty,buyer_maker\n");
    for r in rows {
        let _ = write!(s, "{},{},", r.ts_ns, r.id);
        push_scaled(&mut s, r.price, 8);
        s.push(',');
        push_scaled(&mut s, r.qty, 8);
        let _ = writeln!(s, ",{}", r.buyer_maker);
    }
    s
}

/// Quotes as CSV: `ts_ns,update_id,bid,bid_qty,ask,ask_qty`.
pub fn quotes_csv(rows: &[QuoteRow]) -> String {
    use crate::core::num::push_scaled;
    use std::fmt::Write as _;
    let mut s = String::from("ts_ns,update_id,bid,bid_qty,ask,ask_qty\n");
    for r in rows {
        let _ = write!(s, "{},{}", r.ts_ns, r.update_id);
        for v in [r.bid, r.bid_qty, r.ask, r.ask_qty] {
            s.push(',');
            push_scaled(&mut s, v, 8);
        }
        s.push('\n');
    }
    s
}

/// Appends a 10⁻⁸ `i128` (a quote volume) as a decimal with all 8 places.
pub(crate) fn push_wide(s: &mut String, v: i128) {
    use std::fmt::Write as _;
    let a = v.unsigned_abs();
    let _ = write!(
        s,
        "{}{}.{:08}",
        if v < 0 { "-" } else { "" },
        a / 100_000_000,
        a % 100_000_000
    );
}

/// Candles as CSV: `open_time_ns,open,high,low,close,volume,quote_volume,trades,
/// taker_buy_volume,taker_buy_quote`.
pub fn candles_csv(rows: &[CandleRow]) -> String {
    use crate::core::num::push_scaled;
    use std::fmt::Write as _;
    let mut s = String::from(
        "open_time_ns,open,high,low,close,volume,quote_volume,trades,taker_buy_volume,taker_buy_quote\n",
    );
    for r in rows {
        let _ = write!(s, "{}", r.open_ns);
        for v in [r.open, r.high, r.low, r.close, r.volume] {
            s.push(',');
            push_scaled(&mut s, v, 8);
        }
        s.push(',');
        push_wide(&mut s, r.quote_volume);
        let _ = write!(s, ",{},", r.trades);
        push_scaled(&mut s, r.taker_buy_volume, 8);
        s.push(',');
        push_wide(&mut s, r.taker_buy_quote);
        s.push('\n');
    }
    s
}

/// What merging rows into a partition found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merge {
    /// Rows in the result.
    pub rows: usize,
    /// Incoming rows already there, identical: dropped.
    pub duplicates: usize,
    /// Incoming rows whose key was there with other values: the stored row is kept.
    pub conflicts: usize,
    /// Incoming rows that were new.
    pub added: usize,
}

/// `existing` (sorted, unique) with `incoming` merged in: sorted by (time, key), one row per
/// key, the row already stored winning a conflict. Duplicates within `incoming` count too.
pub fn merge<R: Record>(existing: &[R], incoming: &[R]) -> (Vec<R>, Merge) {
    let mut m = Merge::default();
    // Stable sort: among equal (time, key), existing rows come first and win.
    let mut all: Vec<(bool, R)> = existing
        .iter()
        .map(|r| (false, *r))
        .chain(incoming.iter().map(|r| (true, *r)))
        .collect();
    all.sort_by_key(|(_, r)| (r.ts(), r.key()));
    // A key must be unique whatever its time: the first row seen for it (stored rows before
    // incoming ones) is kept.
    let mut seen: std::collections::HashMap<u64, R> =
        std::collections::HashMap::with_capacity(all.len());
    for r in existing {
        // The first stored row of a key is the one kept below.
        seen.entry(r.key()).or_insert(*r);
    }
    let mut out = Vec::with_capacity(all.len());
    let mut taken: std::collections::HashSet<u64> =
        std::collections::HashSet::with_capacity(all.len());
    for (new, r) in all {
        if new {
            match seen.get(&r.key()) {
                Some(old) if *old == r => {
                    m.duplicates += 1;
                    continue;
                }
                Some(_) => {
                    m.conflicts += 1;
                    continue;
                }
                None => {
                    seen.insert(r.key(), r);
                    m.added += 1;
                }
            }
        }
        if taken.insert(r.key()) {
            out.push(r);
        }
    }
    m.rows = out.len();
    (out, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ts: i64, id: u64, px: i64) -> TradeRow {
        TradeRow {
            ts_ns: ts,
            id,
            price: px,
            qty: 1,
            buyer_maker: false,
        }
    }

    #[test]
    fn merge_sorts_dedups_and_keeps_the_stored_row() {
        let stored = vec![t(10, 1, 5), t(20, 2, 5)];
        let incoming = vec![
            t(30, 3, 5),
            t(10, 1, 5),
            t(15, 2, 9),
            t(5, 0, 5),
            t(30, 3, 5),
        ];
        let (rows, m) = merge(&stored, &incoming);
        assert_eq!(
            rows,
            vec![t(5, 0, 5), t(10, 1, 5), t(20, 2, 5), t(30, 3, 5)]
        );
        assert_eq!(
            m,
            Merge {
                rows: 4,
                duplicates: 2,
                conflicts: 1,
                added: 2
            }
        );
        // Of two stored rows with one key, the first is kept and counted against.
        let (rows2, m3) = merge(&[t(1, 9, 1), t(2, 9, 2)], &[t(2, 9, 2)]);
        assert_eq!(rows2, vec![t(1, 9, 1)]);
        assert_eq!((m3.conflicts, m3.duplicates), (1, 0));
        // Merging the result again changes nothing.
        let (again, m2) = merge(&rows, &incoming);
        assert_eq!(again, rows);
        assert_eq!(m2.added, 0);
    }

    #[test]
    fn batches_round_trip_every_kind() {
        let trades = vec![t(1, 7, 123_456_789), t(2, 8, -1)];
        let mut back = Vec::new();
        TradeRow::from_batch(&TradeRow::to_batch(&trades).unwrap(), &mut back).unwrap();
        assert_eq!(back, trades);
        let quotes = vec![QuoteRow {
            ts_ns: 5,
            update_id: 0,
            bid: 1,
            bid_qty: 2,
            ask: 3,
            ask_qty: 4,
        }];
        let mut back = Vec::new();
        QuoteRow::from_batch(&QuoteRow::to_batch(&quotes).unwrap(), &mut back).unwrap();
        assert_eq!(back, quotes);
        let candles = vec![CandleRow {
            open_ns: 60_000_000_000,
            open: 1,
            high: 2,
            low: 0,
            close: 1,
            volume: 10,
            quote_volume: i128::from(i64::MAX) * 4,
            trades: 3,
            taker_buy_volume: 4,
            taker_buy_quote: 5,
        }];
        let mut back = Vec::new();
        CandleRow::from_batch(&CandleRow::to_batch(&candles).unwrap(), &mut back).unwrap();
        assert_eq!(back, candles);
        let anomalies = vec![AnomalyRow {
            ts_ns: 9,
            category: crate::core::stats::AnomalyKind::Spike.index() as u8,
            source: 255,
            seq: 3,
            expected: -5,
            got: 7,
        }];
        let mut back = Vec::new();
        AnomalyRow::from_batch(&AnomalyRow::to_batch(&anomalies).unwrap(), &mut back).unwrap();
        assert_eq!(back, anomalies);
        let bad = AnomalyRow {
            category: 200,
            ..anomalies[0]
        };
        assert!(AnomalyRow::to_batch(&[bad]).is_err());
    }

    #[test]
    fn a_value_too_large_for_the_decimal_is_refused() {
        let e = TradeRow::to_batch(&[t(1, 1, 1_000_000_000_000_000_000)]).unwrap_err();
        assert!(e.contains("price 10000000000.00000000 is too large"), "{e}");
    }
}
