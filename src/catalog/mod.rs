//! The data catalog: compressed, indexed, deduplicated, versioned market data on disk.
//!
//! ```text
//! <catalog>/
//!   manifest.json                      the current version: every live file, with its index
//!   versions/00000007.json             each version's manifest, kept
//!   trades/venue=binance/instrument=BTCUSDT/date=2021-01-08/v00000007-0.parquet
//!   candles_1m/venue=binance/instrument=BTCUSDT/date=2025-08/v00000003-0.parquet
//!   .trash/00000007/…                  files a version retired, deleted after a grace period
//!   .lock                              held by the one writer at a time
//! ```
//!
//! * **Files** are Parquet with zstd (see [`rows`] for the columns), sorted by time, one
//!   partition per kind, venue, instrument and period. The period is a day for trades,
//!   quotes and 1 s candles, a month for 1 m and 5 m candles, a year for 1 h and 1 d candles,
//!   so no kind ends up in thousands of tiny files. The directory names are Hive-style, so
//!   DuckDB and polars get `venue`, `instrument` and `date` columns from a glob.
//! * **Index.** The manifest lists each file with its rows, bytes, CRC-32, time and key
//!   range; a range query opens only the files whose range meets it, and within a file only
//!   the row groups whose time statistics do.
//! * **Versions.** A write never touches a live file. It writes new files, then the next
//!   version's manifest (`versions/N.json`), then swaps `manifest.json` by an atomic rename.
//!   A reader that loaded version N keeps a consistent dataset. Files that N+1 no longer
//!   lists move to `.trash/N+1/` (out of every glob), and are deleted only after a grace
//!   period. A tickwire reader whose file moved finds it there, so a `prune` or `compact`
//!   running beside a reader never makes it miss a file.
//! * **Deduplication** by key (trade id, update id, candle open time) within a venue and
//!   instrument, on every write: importing the same file twice changes nothing, and no
//!   new version is written.

pub mod export;
pub mod import;
pub mod maint;
pub mod recorder;
pub mod rows;
pub mod store;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::Resolution;

/// The manifest's `format` value.
pub const FORMAT: &str = "tickwire-catalog";
/// The file schema version, in every file's metadata (`tickwire.schema_version`) and in the
/// manifest.
pub const SCHEMA_VERSION: u32 = 1;
/// The default catalog directory.
pub const DEFAULT_DIR: &str = "data/catalog";
/// How long retired files stay in `.trash` before they are deleted (s).
pub const DEFAULT_GRACE_S: u64 = 3_600;

const NS_PER_DAY: i64 = 86_400_000_000_000;

/// What a catalog failed at, as one line.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file or input is not what it should be.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Another writer holds the catalog.
    #[error(
        "{0}: another `tickwire data` command is writing this catalog; try again when it ends"
    )]
    Locked(String),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CatalogError + '_ {
    move |source| CatalogError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn format_err(path: &Path, why: impl Into<String>) -> CatalogError {
    CatalogError::Format {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Raw trades (Binance `trade`, trade-id sequence).
    Trades,
    /// Aggregated trades (Binance `aggTrade`: a separate id sequence).
    AggTrades,
    /// Best bid/ask updates.
    Quotes,
    /// Candles of one resolution.
    Candles(Resolution),
    /// Anomalies flagged while the data was taken in (recorded runs).
    Anomalies,
}

/// How long a partition spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// A UTC day (`2021-01-08`).
    Day,
    /// A UTC month (`2025-08`).
    Month,
    /// A UTC year (`2021`).
    Year,
}

impl Kind {
    /// Every kind.
    pub fn all() -> Vec<Kind> {
        let mut v = vec![Kind::Trades, Kind::AggTrades, Kind::Quotes];
        v.extend(Resolution::ALL.iter().map(|r| Kind::Candles(*r)));
        v.push(Kind::Anomalies);
        v
    }

    /// Directory name: `trades`, `agg_trades`, `quotes`, `candles_1m`, …
    pub fn name(self) -> String {
        match self {
            Kind::Trades => "trades".into(),
            Kind::AggTrades => "agg_trades".into(),
            Kind::Quotes => "quotes".into(),
            Kind::Candles(r) => format!("candles_{}", r.label()),
            Kind::Anomalies => "anomalies".into(),
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::all().into_iter().find(|k| k.name() == s)
    }

    /// How long one partition spans.
    pub fn period(self) -> Period {
        match self {
            Kind::Trades
            | Kind::AggTrades
            | Kind::Quotes
            | Kind::Anomalies
            | Kind::Candles(Resolution::S1) => Period::Day,
            Kind::Candles(Resolution::M1 | Resolution::M5) => Period::Month,
            Kind::Candles(Resolution::H1 | Resolution::D1) => Period::Year,
        }
    }
}

impl Period {
    /// The label of the period holding `ns`.
    pub fn label(self, ns: i64) -> String {
        let (y, m, d) = crate::plot::civil_from_days(ns.div_euclid(NS_PER_DAY));
        match self {
            Period::Day => format!("{y:04}-{m:02}-{d:02}"),
            Period::Month => format!("{y:04}-{m:02}"),
            Period::Year => format!("{y:04}"),
        }
    }

    /// `[start, end)` of the period labelled `label` (ns), `None` for a label of another form.
    pub fn range(self, label: &str) -> Option<(i64, i64)> {
        let parts: Vec<i64> = label
            .split('-')
            .map(|p| {
                p.parse::<i64>()
                    .ok()
                    .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect::<Option<Vec<_>>>()?;
        let days = crate::plot::days_from_civil;
        if parts.first().is_none_or(|y| !(1..=9999).contains(y)) {
            return None;
        }
        let (start, end) = match (self, parts.as_slice()) {
            (Period::Day, [y, m, d]) if (1..=12).contains(m) && (1..=31).contains(d) => {
                let s = days(*y, *m, *d);
                // 2021-02-31 is not a day.
                if crate::plot::civil_from_days(s) != (*y, *m, *d) {
                    return None;
                }
                (s, s + 1)
            }
            (Period::Month, [y, m]) if (1..=12).contains(m) => {
                let (ny, nm) = if *m == 12 { (y + 1, 1) } else { (*y, m + 1) };
                (days(*y, *m, 1), days(ny, nm, 1))
            }
            (Period::Year, [y]) => (days(*y, 1, 1), days(y + 1, 1, 1)),
            _ => return None,
        };
        // Nanoseconds since the epoch in an i64 end in 2262: later periods have no range.
        Some((start.checked_mul(NS_PER_DAY)?, end.checked_mul(NS_PER_DAY)?))
    }
}

/// One live file, as the manifest indexes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the catalog directory.
    pub path: String,
    /// Kind name.
    pub kind: String,
    /// Venue name.
    pub venue: String,
    /// Instrument (exchange symbol).
    pub instrument: String,
    /// Partition period label.
    pub date: String,
    /// Rows.
    pub rows: u64,
    /// Size on disk.
    pub bytes: u64,
    /// CRC-32 of the file's bytes.
    pub crc32: u32,
    /// Earliest and latest row time (ns).
    pub min_ts: i64,
    /// Latest row time (ns).
    pub max_ts: i64,
    /// Smallest and largest key (trade id for trades).
    pub min_key: u64,
    /// Largest key.
    pub max_key: u64,
    /// Row groups.
    pub row_groups: u32,
    /// The version that wrote it.
    pub version: u64,
}

impl FileEntry {
    /// The partition it belongs to.
    pub fn partition(&self) -> PartKey {
        PartKey {
            kind: self.kind.clone(),
            venue: self.venue.clone(),
            instrument: self.instrument.clone(),
            date: self.date.clone(),
        }
    }
}

/// A partition: kind, venue, instrument and period.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartKey {
    /// Kind name.
    pub kind: String,
    /// Venue.
    pub venue: String,
    /// Instrument.
    pub instrument: String,
    /// Period label.
    pub date: String,
}

impl PartKey {
    /// Its directory, relative to the catalog.
    pub fn dir(&self) -> String {
        format!(
            "{}/venue={}/instrument={}/date={}",
            self.kind, self.venue, self.instrument, self.date
        )
    }
}

/// One version of the dataset: the files that make it up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// File schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Version number (0: empty catalog, never written).
    pub version: u64,
    /// When this version was written (ISO 8601 UTC).
    pub written: String,
    /// What changed, in words (`import 2 files`, `prune`, …).
    pub change: String,
    /// The live files, sorted by path.
    pub files: Vec<FileEntry>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            version: 0,
            written: String::new(),
            change: "empty".into(),
            files: Vec::new(),
        }
    }
}

/// Safe to use as one directory level: not empty, no separators, no dot-names.
fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A catalog opened for reading: one version, fixed for as long as it is held.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    manifest: Manifest,
}

impl Catalog {
    /// Opens the catalog in `dir` at its current version (an empty one when there is no
    /// manifest yet).
    pub fn open(dir: &Path) -> Result<Self, CatalogError> {
        let path = dir.join("manifest.json");
        let manifest = match std::fs::read(&path) {
            Ok(bytes) => parse_manifest(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if dir.exists() && !dir.is_dir() {
                    return Err(format_err(dir, "not a directory"));
                }
                Manifest::default()
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The version held.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The live files of each partition.
    pub fn partitions(&self) -> BTreeMap<PartKey, Vec<&FileEntry>> {
        let mut m: BTreeMap<PartKey, Vec<&FileEntry>> = BTreeMap::new();
        for f in &self.manifest.files {
            m.entry(f.partition()).or_default().push(f);
        }
        m
    }

    /// [`Catalog::partitions`], with the entries copied (for a writer that changes them).
    pub fn partitions_owned(&self) -> BTreeMap<PartKey, Vec<FileEntry>> {
        self.partitions()
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().cloned().collect()))
            .collect()
    }

    /// Where a listed file is now: its place, or the trash when a later version retired it
    /// after this one was loaded.
    pub fn locate(&self, f: &FileEntry) -> PathBuf {
        let live = self.dir.join(&f.path);
        if live.exists() {
            return live;
        }
        if let Ok(rd) = std::fs::read_dir(self.dir.join(".trash")) {
            let mut versions: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            versions.sort();
            for v in versions {
                let p = v.join(&f.path);
                if p.exists() {
                    return p;
                }
            }
        }
        live
    }

    /// Every row of `kind` for `venue` (any when `None`) and `instrument` with a time in
    /// `[from, to)`, and what the read touched. Rows come file by file in the order of the
    /// files' first times: in time order for one venue (its partitions do not overlap); with
    /// no venue given, venues' files are interleaved by their start, not merged row by row.
    pub fn scan<R: rows::Record>(
        &self,
        kind: Kind,
        venue: Option<&str>,
        instrument: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<R>, ScanStats), CatalogError> {
        let mut out = Vec::new();
        let mut st = ScanStats::default();
        let name = kind.name();
        let mut files: Vec<&FileEntry> = self
            .manifest
            .files
            .iter()
            .filter(|f| {
                f.kind == name && f.instrument == instrument && venue.is_none_or(|v| f.venue == v)
            })
            .collect();
        files.sort_by_key(|f| (f.min_ts, f.path.clone()));
        for f in files {
            st.files_listed += 1;
            if f.max_ts < from || f.min_ts >= to {
                continue;
            }
            st.files_opened += 1;
            let path = self.locate(f);
            let r = match store::read_range::<R>(&path, from, to, &mut out) {
                // Retired by a writer between `locate` and the open: it is in the trash now.
                Err(CatalogError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    store::read_range::<R>(&self.locate(f), from, to, &mut out)?
                }
                r => r?,
            };
            st.row_groups_read += r.0;
            st.row_groups_skipped += r.1;
        }
        st.rows = out.len() as u64;
        Ok((out, st))
    }
}

/// What a [`Catalog::scan`] touched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    /// Files of the kind and instrument in the manifest.
    pub files_listed: u64,
    /// Files opened (their range meets the query's).
    pub files_opened: u64,
    /// Row groups decoded.
    pub row_groups_read: u64,
    /// Row groups skipped by their time statistics.
    pub row_groups_skipped: u64,
    /// Rows returned.
    pub rows: u64,
}

fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, CatalogError> {
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| format_err(path, format!("not a catalog manifest: {e}")))?;
    if m.format != FORMAT {
        return Err(format_err(
            path,
            format!("format `{}`, not {FORMAT}", m.format),
        ));
    }
    if m.schema_version > SCHEMA_VERSION {
        return Err(format_err(
            path,
            format!(
                "schema version {} is newer than this tickwire's {SCHEMA_VERSION}",
                m.schema_version
            ),
        ));
    }
    for f in &m.files {
        let ok = f
            .path
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != ".")
            && !f.path.starts_with('/');
        if !ok {
            return Err(format_err(
                path,
                format!("file path `{}` leaves the catalog", f.path),
            ));
        }
        for c in [&f.kind, &f.venue, &f.instrument, &f.date] {
            if !safe_component(c) {
                return Err(format_err(
                    path,
                    format!("`{c}` of {} is not a catalog name", f.path),
                ));
            }
        }
    }
    Ok(m)
}

/// The one writer of a catalog: holds its lock, stages new files, and commits them as the
/// next version.
pub struct Writer {
    base: Catalog,
    _lock: File,
    version: u64,
    added: Vec<FileEntry>,
    retired: Vec<String>,
    written: u32,
    committed: bool,
}

impl Drop for Writer {
    /// Files written but never committed (an error part-way) are removed: no reader and no
    /// glob ever sees them.
    fn drop(&mut self) {
        if !self.committed {
            for f in &self.added {
                let p = self.base.dir.join(&f.path);
                let _ = std::fs::remove_file(&p);
                remove_empty_parents(&self.base.dir, p.parent());
            }
        }
    }
}

/// Moves every `.parquet` file under the data directories that `m` does not list (left by a
/// writer that died between writing and committing, or between the manifest swap and the
/// move to the trash) into `.trash/orphans-<version>/`, and deletes `.tmp` leftovers.
fn sweep_orphans(dir: &Path, m: &Manifest) -> Result<u64, CatalogError> {
    let listed: std::collections::HashSet<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    let mut moved = 0;
    let mut stack: Vec<PathBuf> = Kind::all()
        .into_iter()
        .map(|k| dir.join(k.name()))
        .filter(|p| p.is_dir())
        .collect();
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(io_err(&d))?;
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(rel) = p.strip_prefix(dir) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel.ends_with(".tmp") {
                let _ = std::fs::remove_file(&p);
            } else if rel.ends_with(".parquet") && !listed.contains(rel.as_str()) {
                let to = dir
                    .join(".trash")
                    .join(format!("orphans-{:08}", m.version))
                    .join(&rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                std::fs::rename(&p, &to).map_err(io_err(&p))?;
                remove_empty_parents(dir, p.parent());
                moved += 1;
            }
        }
    }
    Ok(moved)
}

impl Writer {
    /// Takes the catalog's writer lock (refused while another writer holds it) and loads the
    /// current version.
    pub fn open(dir: &Path) -> Result<Self, CatalogError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CatalogError::Locked(dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let base = Catalog::open(dir)?;
        sweep_orphans(dir, &base.manifest)?;
        let version = base.manifest.version + 1;
        Ok(Self {
            base,
            _lock: lock,
            version,
            added: Vec::new(),
            retired: Vec::new(),
            written: 0,
            committed: false,
        })
    }

    /// The version being built upon.
    pub fn base(&self) -> &Catalog {
        &self.base
    }

    /// Writes `rows` (sorted, unique) as a new file of partition `part`; it becomes live at
    /// [`Writer::commit`].
    pub fn write<R: rows::Record>(
        &mut self,
        kind: Kind,
        part: &PartKey,
        rows: &[R],
    ) -> Result<(), CatalogError> {
        if part.kind != kind.name() {
            return Err(CatalogError::Usage(format!(
                "partition {} holds {}, not {}",
                part.dir(),
                part.kind,
                kind.name()
            )));
        }
        for c in [&part.venue, &part.instrument, &part.date] {
            if !safe_component(c) {
                return Err(CatalogError::Usage(format!(
                    "`{c}` cannot name a catalog directory (letters, digits, - _ . only)"
                )));
            }
        }
        let rel = format!(
            "{}/v{:08}-{}.parquet",
            part.dir(),
            self.version,
            self.written
        );
        self.written += 1;
        let path = self.base.dir.join(&rel);
        let meta = store::FileMeta {
            kind,
            venue: &part.venue,
            instrument: &part.instrument,
            date: &part.date,
        };
        let w = store::write_file(&path, &meta, rows)?;
        let (min_key, max_key) = rows
            .iter()
            .map(|r| r.key())
            .fold((u64::MAX, 0), |(lo, hi), k| (lo.min(k), hi.max(k)));
        self.added.push(FileEntry {
            path: rel,
            kind: part.kind.clone(),
            venue: part.venue.clone(),
            instrument: part.instrument.clone(),
            date: part.date.clone(),
            rows: rows.len() as u64,
            bytes: w.bytes,
            crc32: w.crc32,
            min_ts: rows.first().map_or(0, |r| r.ts()),
            max_ts: rows.last().map_or(0, |r| r.ts()),
            min_key: if rows.is_empty() { 0 } else { min_key },
            max_key,
            row_groups: w.row_groups,
            version: self.version,
        });
        Ok(())
    }

    /// Retires a live file: the next version no longer lists it.
    pub fn retire(&mut self, path: &str) {
        self.retired.push(path.to_string());
    }

    /// Whether anything is staged.
    pub fn is_dirty(&self) -> bool {
        !self.added.is_empty() || !self.retired.is_empty()
    }

    /// Makes the staged changes the catalog's next version: the version's manifest is written
    /// and synced, `manifest.json` swapped by rename, the retired files moved to the trash,
    /// and trash older than `grace_s` deleted. Without changes nothing is written and the
    /// current version is returned.
    pub fn commit(mut self, change: &str, grace_s: u64) -> Result<Manifest, CatalogError> {
        let dir = self.base.dir.clone();
        if !self.is_dirty() {
            self.committed = true;
            purge_trash(&dir, grace_s)?;
            return Ok(self.base.manifest.clone());
        }
        let mut files: Vec<FileEntry> = self
            .base
            .manifest
            .files
            .iter()
            .filter(|f| !self.retired.contains(&f.path))
            .cloned()
            .chain(self.added.iter().cloned())
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let m = Manifest {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            version: self.version,
            written: crate::core::clock::iso8601_ms(crate::core::clock::wall_ns()),
            change: change.to_string(),
            files,
        };
        let text = serde_json::to_vec_pretty(&m)
            .map_err(|e| format_err(&dir, format!("manifest: {e}")))?;
        let versions = dir.join("versions");
        std::fs::create_dir_all(&versions).map_err(io_err(&versions))?;
        // The new files' directories first: their renames must be durable before any
        // manifest names them.
        let mut dirs: Vec<PathBuf> = self
            .added
            .iter()
            .filter_map(|f| dir.join(&f.path).parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            sync_dir(d);
        }
        write_synced(&versions.join(format!("{:08}.json", m.version)), &text)?;
        sync_dir(&versions);
        // The swap: readers see the old manifest or the new one, never a mix.
        write_synced(&dir.join("manifest.json"), &text)?;
        sync_dir(&dir);
        // From here the new files are the catalog's: an error below must not remove them.
        self.committed = true;
        let trash = dir.join(".trash").join(format!("{:08}", m.version));
        for rel in &self.retired {
            let from = dir.join(rel);
            let to = trash.join(rel);
            if let Some(p) = to.parent() {
                std::fs::create_dir_all(p).map_err(io_err(p))?;
            }
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&from)(e)),
            }
            remove_empty_parents(&dir, from.parent());
        }
        purge_trash(&dir, grace_s)?;
        Ok(m)
    }
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed over it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    use std::io::Write as _;
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Syncs a directory (its entries' renames), where the platform allows it.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes empty directories from `from` up to (not including) `root`.
fn remove_empty_parents(root: &Path, from: Option<&Path>) {
    let mut cur = from;
    while let Some(p) = cur {
        if p == root || !p.starts_with(root) || std::fs::remove_dir(p).is_err() {
            break;
        }
        cur = p.parent();
    }
}

/// Deletes trash versions retired more than `grace_s` ago.
fn purge_trash(dir: &Path, grace_s: u64) -> Result<(), CatalogError> {
    let trash = dir.join(".trash");
    let Ok(rd) = std::fs::read_dir(&trash) else {
        return Ok(());
    };
    let now = std::time::SystemTime::now();
    for e in rd.flatten() {
        let age = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .map_or(0, |d| d.as_secs());
        if age >= grace_s {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
        }
    }
    remove_empty_parents(dir, Some(&trash));
    Ok(())
}

/// Parses a duration of whole days, hours, minutes or seconds (`30d`, `12h`, `90m`, `45s`,
/// `0`) into ns.
pub fn parse_age(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let (n, per) = [
        ('d', NS_PER_DAY),
        ('h', NS_PER_DAY / 24),
        ('m', NS_PER_DAY / 1_440),
        ('s', 1_000_000_000),
    ]
    .into_iter()
    .find_map(|(u, per)| s.strip_suffix(u).map(|n| (n, per)))?;
    let n: i64 = n.parse().ok().filter(|n| *n >= 0)?;
    n.checked_mul(per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_periods() {
        for k in Kind::all() {
            assert_eq!(Kind::parse(&k.name()), Some(k));
        }
        assert_eq!(Kind::parse("candles_2m"), None);
        let ns = 1_610_064_000_278_000_000; // 2021-01-08T00:00:00.278Z
        assert_eq!(Period::Day.label(ns), "2021-01-08");
        assert_eq!(Period::Month.label(ns), "2021-01");
        assert_eq!(Period::Year.label(ns), "2021");
        let (s, e) = Period::Day.range("2021-01-08").unwrap();
        assert!(s <= ns && ns < e && e - s == NS_PER_DAY);
        let (s, e) = Period::Month.range("2024-02").unwrap();
        assert_eq!((e - s) / NS_PER_DAY, 29);
        let (s, e) = Period::Year.range("2021").unwrap();
        assert_eq!((e - s) / NS_PER_DAY, 365);
        for bad in ["2021-13", "20x1", "", "2021-01-08-01", "-1"] {
            assert_eq!(Period::Month.range(bad), None, "{bad}");
        }
        assert_eq!(Period::Day.range("2021-02-31"), None);
        assert_eq!(
            Period::Year.range("2300"),
            None,
            "past what i64 ns can hold"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d"), Some(30 * NS_PER_DAY));
        assert_eq!(parse_age("12h"), Some(NS_PER_DAY / 2));
        assert_eq!(parse_age("0"), Some(0));
        assert_eq!(parse_age("d"), None);
        assert_eq!(parse_age("3w"), None);
        assert_eq!(parse_age("-1d"), None);
        assert_eq!(parse_age("5é"), None);
        assert_eq!(parse_age("45s"), Some(45_000_000_000));
    }

    #[test]
    fn uncommitted_and_orphaned_files_never_stay_in_the_data_tree() {
        use super::rows::TradeRow;
        let dir = std::env::temp_dir().join(format!("tw-cat-orphan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let part = PartKey {
            kind: "trades".into(),
            venue: "binance".into(),
            instrument: "BTCUSDT".into(),
            date: "1970-01-01".into(),
        };
        let row = TradeRow {
            ts_ns: 1,
            id: 1,
            price: 1,
            qty: 1,
            buyer_maker: false,
        };
        // A writer that fails (or is dropped) before its commit leaves nothing behind.
        {
            let mut w = Writer::open(&dir).unwrap();
            w.write(Kind::Trades, &part, &[row]).unwrap();
            assert!(dir.join(part.dir()).is_dir());
        }
        assert!(!dir.join("trades").exists());
        // A file no manifest lists (a writer killed mid-way) is swept into the trash by the
        // next writer, and a wrong kind for a partition is refused.
        let stray = dir.join(part.dir()).join("v00000009-0.parquet");
        std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
        std::fs::write(&stray, b"PAR1").unwrap();
        let mut w = Writer::open(&dir).unwrap();
        assert!(!stray.exists());
        assert!(dir
            .join(".trash/orphans-00000000")
            .join(part.dir())
            .join("v00000009-0.parquet")
            .exists());
        assert!(w.write(Kind::Quotes, &part, &[row]).is_err());
        // While one writer holds the catalog, another is refused with a clear error.
        let e = Writer::open(&dir).err().unwrap();
        assert!(
            e.to_string().contains("another `tickwire data` command"),
            "{e}"
        );
        w.write(Kind::Trades, &part, &[row]).unwrap();
        let m = w.commit("test", 3600).unwrap();
        assert_eq!((m.version, m.files.len()), (1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn manifests_that_leave_the_catalog_are_refused() {
        let mut m = Manifest::default();
        m.files.push(FileEntry {
            path: "../etc/passwd".into(),
            kind: "trades".into(),
            venue: "binance".into(),
            instrument: "X".into(),
            date: "2021-01-01".into(),
            rows: 0,
            bytes: 0,
            crc32: 0,
            min_ts: 0,
            max_ts: 0,
            min_key: 0,
            max_key: 0,
            row_groups: 0,
            version: 1,
        });
        let text = serde_json::to_vec(&m).unwrap();
        let e = parse_manifest(Path::new("m.json"), &text).unwrap_err();
        assert!(e.to_string().contains("leaves the catalog"), "{e}");
        assert!(parse_manifest(Path::new("m.json"), b"{}").is_err());
    }
}
