//! Parquet files of catalog rows: written once (through a temporary name, synced, renamed),
//! read whole or by time range.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

use super::rows::Record;
use super::{format_err, io_err, CatalogError, Kind, SCHEMA_VERSION};

/// Rows per row group: small enough that an hour of a busy market is a few groups, large
/// enough to compress well.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// zstd level (cold path: the file is written once and read many times).
const ZSTD_LEVEL: i32 = 9;

/// What goes into a file's key-value metadata.
pub struct FileMeta<'a> {
    /// Kind.
    pub kind: Kind,
    /// Venue.
    pub venue: &'a str,
    /// Instrument.
    pub instrument: &'a str,
    /// Partition period label.
    pub date: &'a str,
}

/// A written file.
#[derive(Clone, Copy, Debug)]
pub struct Written {
    /// Size.
    pub bytes: u64,
    /// CRC-32 of its bytes.
    pub crc32: u32,
    /// Row groups.
    pub row_groups: u32,
}

fn props<R: Record>(meta: &FileMeta<'_>) -> WriterProperties {
    let kv = |k: &str, v: String| KeyValue::new(format!("tickwire.{k}"), v);
    let schema = R::schema();
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("tickwire {}", env!("CARGO_PKG_VERSION")))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_key_value_metadata(Some(vec![
            kv("schema_version", SCHEMA_VERSION.to_string()),
            kv("kind", meta.kind.name()),
            kv("venue", meta.venue.to_string()),
            kv("instrument", meta.instrument.to_string()),
            kv("date", meta.date.to_string()),
            kv("price_scale", "8".into()),
            kv("sorted_by", format!("{},key", R::TIME_COLUMN)),
        ]));
    // Times and ids climb in small steps: delta-packed they cost a few bits a row.
    for f in schema.fields() {
        let name = f.name().as_str();
        if name == R::TIME_COLUMN || name == "trade_id" || name == "update_id" {
            let col = ColumnPath::from(name);
            b = b
                .set_column_dictionary_enabled(col.clone(), false)
                .set_column_encoding(col, Encoding::DELTA_BINARY_PACKED);
        }
    }
    b.build()
}

/// Writes `rows` (sorted) to `path` through `path.tmp`, synced, then renamed into place.
pub fn write_file<R: Record>(
    path: &Path,
    meta: &FileMeta<'_>,
    rows: &[R],
) -> Result<Written, CatalogError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let pq = |e: parquet::errors::ParquetError| format_err(&tmp, e.to_string());
    let mut w = ArrowWriter::try_new(file, R::schema(), Some(props::<R>(meta))).map_err(pq)?;
    for chunk in rows.chunks(ROW_GROUP_ROWS) {
        let batch = R::to_batch(chunk).map_err(|e| format_err(&tmp, e))?;
        w.write(&batch).map_err(pq)?;
        // One row group per chunk: group boundaries do not depend on the writer's buffering.
        w.flush().map_err(pq)?;
    }
    let md = w.close().map_err(pq)?;
    let row_groups = md.num_row_groups() as u32;
    let f = File::options()
        .read(true)
        .write(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    let bytes = std::fs::read(&tmp).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    // The rename itself durable (the writer's commit syncs the directory again).
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(Written {
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(&bytes),
        row_groups,
    })
}

/// A file's tickwire metadata (`tickwire.*` keys, without the prefix) and row count.
pub fn file_meta(path: &Path) -> Result<(HashMap<String, String>, u64), CatalogError> {
    let f = File::open(path).map_err(io_err(path))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| format_err(path, format!("not a readable Parquet file: {e}")))?;
    let md = b.metadata().file_metadata();
    let mut out = HashMap::new();
    for kv in md.key_value_metadata().into_iter().flatten() {
        if let (Some(k), Some(v)) = (kv.key.strip_prefix("tickwire."), &kv.value) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Ok((out, md.num_rows().max(0) as u64))
}

/// Min and max of an INT64 (timestamp) column chunk's statistics.
fn time_range(s: Option<&Statistics>) -> Option<(i64, i64)> {
    match s? {
        Statistics::Int64(v) => Some((*v.min_opt()?, *v.max_opt()?)),
        _ => None,
    }
}

/// Appends the rows of `path` with a time in `[from, to)` to `out`, reading only the row
/// groups whose time statistics meet the range. Returns (groups read, groups skipped).
pub fn read_range<R: Record>(
    path: &Path,
    from: i64,
    to: i64,
    out: &mut Vec<R>,
) -> Result<(u64, u64), CatalogError> {
    let f = File::open(path).map_err(io_err(path))?;
    let pq = |e: parquet::errors::ParquetError| format_err(path, e.to_string());
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq)?;
    let schema = b.schema().clone();
    let ti = schema
        .index_of(R::TIME_COLUMN)
        .map_err(|_| format_err(path, format!("no `{}` column", R::TIME_COLUMN)))?;
    let md = Arc::clone(b.metadata());
    let mut groups = Vec::new();
    let mut skipped = 0;
    for (i, rg) in md.row_groups().iter().enumerate() {
        match time_range(rg.column(ti).statistics()) {
            Some((lo, hi)) if hi < from || lo >= to => skipped += 1,
            _ => groups.push(i),
        }
    }
    let read = groups.len() as u64;
    if groups.is_empty() {
        return Ok((0, skipped));
    }
    let reader = b.with_row_groups(groups).build().map_err(pq)?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format_err(path, e.to_string()))?;
        R::from_batch(&batch, &mut rows).map_err(|e| format_err(path, e))?;
    }
    out.extend(rows.into_iter().filter(|r| r.ts() >= from && r.ts() < to));
    Ok((read, skipped))
}

/// Every row of `path`, in file order.
pub fn read_all<R: Record>(path: &Path) -> Result<Vec<R>, CatalogError> {
    // Every row, whatever its time (`read_range`'s end is exclusive).
    let f = File::open(path).map_err(io_err(path))?;
    let pq = |e: parquet::errors::ParquetError| format_err(path, e.to_string());
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format_err(path, e.to_string()))?;
        R::from_batch(&batch, &mut out).map_err(|e| format_err(path, e))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::rows::TradeRow;
    use super::*;

    #[test]
    fn a_file_round_trips_and_a_range_skips_row_groups() {
        let dir = std::env::temp_dir().join(format!("tw-store-{}", std::process::id()));
        let path = dir.join("t.parquet");
        let n = ROW_GROUP_ROWS * 3 + 5;
        let rows: Vec<TradeRow> = (0..n)
            .map(|i| TradeRow {
                ts_ns: 1_000 * i as i64,
                id: 100 + i as u64,
                price: 4_000_000_000_000 + (i as i64 % 7),
                qty: 1 + i as i64,
                buyer_maker: i % 3 == 0,
            })
            .collect();
        let meta = FileMeta {
            kind: Kind::Trades,
            venue: "binance",
            instrument: "BTCUSDT",
            date: "1970-01-01",
        };
        let w = write_file(&path, &meta, &rows).unwrap();
        assert_eq!(w.row_groups, 4);
        assert_eq!(read_all::<TradeRow>(&path).unwrap(), rows);
        let (kv, count) = file_meta(&path).unwrap();
        assert_eq!(count, n as u64);
        assert_eq!(kv["schema_version"], SCHEMA_VERSION.to_string());
        assert_eq!(kv["kind"], "trades");
        // A range inside the second group reads that group only.
        let lo = 1_000 * (ROW_GROUP_ROWS as i64 + 10);
        let mut got = Vec::new();
        let (read, skipped) = read_range::<TradeRow>(&path, lo, lo + 5_000, &mut got).unwrap();
        assert_eq!((read, skipped), (1, 3));
        assert_eq!(got, rows[ROW_GROUP_ROWS + 10..ROW_GROUP_ROWS + 15]);
        assert_eq!(std::fs::read(&path).unwrap().len() as u64, w.bytes);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
