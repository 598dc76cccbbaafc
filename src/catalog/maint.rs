//! `tickwire data ls | verify | compact | prune`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::rows::{merge, AnomalyRow, CandleRow, QuoteRow, Record, TradeRow};
use super::store;
use super::{parse_age, Catalog, CatalogError, FileEntry, Kind, PartKey, Writer, SCHEMA_VERSION};

/// One line of `data ls`: a kind, venue and instrument.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Kind.
    pub kind: String,
    /// Venue.
    pub venue: String,
    /// Instrument.
    pub instrument: String,
    /// Partitions.
    pub partitions: u64,
    /// Files.
    pub files: u64,
    /// Rows.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Earliest row time (ns).
    pub from_ns: i64,
    /// Latest row time (ns).
    pub to_ns: i64,
}

/// What the catalog holds, by kind, venue and instrument.
pub fn ls(cat: &Catalog) -> Vec<Listing> {
    let mut m: BTreeMap<(String, String, String), Listing> = BTreeMap::new();
    let mut parts: BTreeMap<(String, String, String), std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for f in &cat.manifest().files {
        let key = (f.kind.clone(), f.venue.clone(), f.instrument.clone());
        let l = m.entry(key.clone()).or_insert_with(|| Listing {
            kind: f.kind.clone(),
            venue: f.venue.clone(),
            instrument: f.instrument.clone(),
            from_ns: i64::MAX,
            to_ns: i64::MIN,
            ..Listing::default()
        });
        l.files += 1;
        l.rows += f.rows;
        l.bytes += f.bytes;
        l.from_ns = l.from_ns.min(f.min_ts);
        l.to_ns = l.to_ns.max(f.max_ts);
        parts.entry(key).or_default().insert(f.date.clone());
    }
    m.into_iter()
        .map(|(k, mut l)| {
            l.partitions = parts.get(&k).map_or(0, |s| s.len() as u64);
            l
        })
        .collect()
}

/// `ls` as a Markdown table.
pub fn ls_markdown(cat: &Catalog) -> String {
    use std::fmt::Write as _;
    let iso = |ns: i64| crate::core::clock::iso8601_ms(u64::try_from(ns).unwrap_or(0));
    let mut s = format!(
        "catalog {} · version {} · {} files\n\n| kind | venue | instrument | partitions | files | rows | bytes | B/row | from | to |\n|---|---|---|--:|--:|--:|--:|--:|---|---|\n",
        cat.dir().display(),
        cat.manifest().version,
        cat.manifest().files.len()
    );
    for l in ls(cat) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            l.kind,
            l.venue,
            l.instrument,
            l.partitions,
            l.files,
            l.rows,
            l.bytes,
            l.bytes as f64 / l.rows.max(1) as f64,
            iso(l.from_ns),
            iso(l.to_ns)
        );
    }
    s
}

/// What `verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files checked.
    pub files: u64,
    /// Rows read.
    pub rows: u64,
    /// Problems: the catalog is not what its manifest says.
    pub errors: Vec<String>,
    /// Per kind, venue and instrument of a sequenced kind: missing ids between the first
    /// and the last (gaps in the source are not errors, but worth knowing).
    pub gaps: BTreeMap<String, IdGaps>,
    /// Duplicate keys found (counted in `errors` too).
    pub duplicates: u64,
}

/// Gaps in a trade-id sequence.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IdGaps {
    /// Rows.
    pub rows: u64,
    /// First id.
    pub first: u64,
    /// Last id.
    pub last: u64,
    /// Places where the next id is not the previous one plus one.
    pub gaps: u64,
    /// Ids missing in all.
    pub missing: u64,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks every file the manifest lists: present, the size and CRC-32 recorded, schema
/// version, kind and partition in its metadata, the row count, sorted by (time, key), every
/// time inside its partition's period, and no key twice within a venue and instrument
/// (across files and partitions). Reports gaps in trade-id sequences.
pub fn verify(cat: &Catalog) -> Result<VerifyReport, CatalogError> {
    let mut rep = VerifyReport::default();
    let mut by_series: BTreeMap<(String, String, String), Vec<&FileEntry>> = BTreeMap::new();
    for f in &cat.manifest().files {
        by_series
            .entry((f.kind.clone(), f.venue.clone(), f.instrument.clone()))
            .or_default()
            .push(f);
    }
    for ((kind, venue, instrument), files) in by_series {
        let Some(k) = Kind::parse(&kind) else {
            rep.errors
                .push(format!("unknown kind `{kind}` ({} files)", files.len()));
            continue;
        };
        let name = format!("{kind}/{venue}/{instrument}");
        match k {
            Kind::Trades | Kind::AggTrades => {
                verify_series::<TradeRow>(cat, k, &name, &files, &mut rep)
            }
            Kind::Quotes => verify_series::<QuoteRow>(cat, k, &name, &files, &mut rep),
            Kind::Candles(_) => verify_series::<CandleRow>(cat, k, &name, &files, &mut rep),
            Kind::Anomalies => verify_series::<AnomalyRow>(cat, k, &name, &files, &mut rep),
        }
    }
    Ok(rep)
}

fn verify_series<R: Record>(
    cat: &Catalog,
    kind: Kind,
    name: &str,
    files: &[&FileEntry],
    rep: &mut VerifyReport,
) {
    let mut keys: Vec<u64> = Vec::new();
    for f in files {
        rep.files += 1;
        let path = cat.dir().join(&f.path);
        let err = |why: String| format!("{}: {why}", f.path);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                rep.errors.push(err(format!("cannot read: {e}")));
                continue;
            }
        };
        if bytes.len() as u64 != f.bytes {
            rep.errors.push(err(format!(
                "{} bytes, the manifest says {}",
                bytes.len(),
                f.bytes
            )));
        }
        let crc = crc32fast::hash(&bytes);
        if crc != f.crc32 {
            rep.errors.push(err(format!(
                "CRC-32 {crc:08x}, the manifest says {:08x}: the file changed after it was written",
                f.crc32
            )));
            continue;
        }
        let (meta, count) = match store::file_meta(&path) {
            Ok(x) => x,
            Err(e) => {
                rep.errors.push(e.to_string());
                continue;
            }
        };
        let want = [
            ("schema_version", SCHEMA_VERSION.to_string()),
            ("kind", kind.name()),
            ("venue", f.venue.clone()),
            ("instrument", f.instrument.clone()),
            ("date", f.date.clone()),
        ];
        for (k, v) in want {
            if meta.get(k) != Some(&v) {
                rep.errors.push(err(format!(
                    "metadata tickwire.{k} is {:?}, expected {v:?}",
                    meta.get(k)
                )));
            }
        }
        let rows: Vec<R> = match store::read_all(&path) {
            Ok(r) => r,
            Err(e) => {
                rep.errors.push(e.to_string());
                continue;
            }
        };
        rep.rows += rows.len() as u64;
        if rows.len() as u64 != f.rows || count != f.rows {
            rep.errors.push(err(format!(
                "{} rows ({count} in its footer), the manifest says {}",
                rows.len(),
                f.rows
            )));
        }
        if let Some(i) = rows
            .windows(2)
            .position(|w| (w[0].ts(), w[0].key()) > (w[1].ts(), w[1].key()))
        {
            rep.errors
                .push(err(format!("not sorted by time at row {}", i + 1)));
        }
        if let Some((lo, hi)) = kind.period().range(&f.date) {
            if let Some(r) = rows.iter().find(|r| r.ts() < lo || r.ts() >= hi) {
                rep.errors.push(err(format!(
                    "a row at {} is outside its partition {}",
                    r.ts(),
                    f.date
                )));
            }
        } else {
            rep.errors
                .push(err(format!("partition `{}` is not a period label", f.date)));
        }
        let (lo, hi) = (
            rows.first().map_or(0, |r| r.ts()),
            rows.last().map_or(0, |r| r.ts()),
        );
        if !rows.is_empty() && (lo != f.min_ts || hi != f.max_ts) {
            rep.errors.push(err(
                "its time range differs from the manifest's index".into()
            ));
        }
        keys.extend(rows.iter().map(|r| r.key()));
    }
    keys.sort_unstable();
    let dups = keys.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    if dups > 0 {
        rep.duplicates += dups;
        rep.errors.push(format!("{name}: {dups} duplicate keys"));
    }
    if R::SEQUENCED && !keys.is_empty() {
        let mut g = IdGaps {
            rows: keys.len() as u64,
            first: keys[0],
            last: keys[keys.len() - 1],
            ..IdGaps::default()
        };
        for w in keys.windows(2) {
            let step = w[1] - w[0];
            if step > 1 {
                g.gaps += 1;
                g.missing = g.missing.saturating_add(step - 1);
            }
        }
        rep.gaps.insert(name.to_string(), g);
    }
}

/// What `compact` or `prune` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rewrite {
    /// Partitions rewritten (compact) or removed (prune).
    pub partitions: u64,
    /// Files retired.
    pub files_retired: u64,
    /// Files written.
    pub files_written: u64,
    /// Rows dropped as duplicates (compact) or with their partitions (prune).
    pub rows_dropped: u64,
    /// The catalog version now.
    pub version: u64,
    /// Which partitions, as `kind/venue/instrument/date`.
    pub which: Vec<String>,
}

/// Merges the files of every partition that has more than one into one, deduplicated.
pub fn compact(dir: &Path, grace_s: u64) -> Result<Rewrite, CatalogError> {
    let mut w = Writer::open(dir)?;
    let mut out = Rewrite::default();
    let parts: Vec<(PartKey, Vec<FileEntry>)> = w
        .base()
        .partitions_owned()
        .into_iter()
        .filter(|(_, f)| f.len() > 1)
        .collect();
    for (part, files) in parts {
        let Some(kind) = Kind::parse(&part.kind) else {
            continue;
        };
        let before: u64 = files.iter().map(|f| f.rows).sum();
        let rows = match kind {
            Kind::Trades | Kind::AggTrades => rewrite::<TradeRow>(&mut w, kind, &part, &files)?,
            Kind::Quotes => rewrite::<QuoteRow>(&mut w, kind, &part, &files)?,
            Kind::Candles(_) => rewrite::<CandleRow>(&mut w, kind, &part, &files)?,
            Kind::Anomalies => rewrite::<AnomalyRow>(&mut w, kind, &part, &files)?,
        };
        out.rows_dropped += before.saturating_sub(rows);
        out.partitions += 1;
        out.files_retired += files.len() as u64;
        out.files_written += 1;
        out.which.push(part.dir());
    }
    out.version = w.commit("compact", grace_s)?.version;
    Ok(out)
}

fn rewrite<R: Record>(
    w: &mut Writer,
    kind: Kind,
    part: &PartKey,
    files: &[FileEntry],
) -> Result<u64, CatalogError> {
    let mut all = Vec::new();
    for f in files {
        all.extend(store::read_all::<R>(&w.base().locate(f))?);
    }
    let (rows, _) = merge(&[], &all);
    w.write(kind, part, &rows)?;
    for f in files {
        w.retire(&f.path);
    }
    Ok(rows.len() as u64)
}

/// Default retention per kind (`None`: forever).
pub fn default_keep(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Trades | Kind::AggTrades => Some("30d"),
        Kind::Quotes => Some("7d"),
        Kind::Anomalies => Some("90d"),
        Kind::Candles(crate::core::Resolution::S1) => Some("30d"),
        Kind::Candles(crate::core::Resolution::M1 | crate::core::Resolution::M5) => Some("365d"),
        Kind::Candles(_) => None,
    }
}

/// Parses `--keep trades=30d,candles_1m=365d,candles_1d=forever` over the defaults.
pub fn parse_keep(spec: Option<&str>) -> Result<BTreeMap<Kind, Option<i64>>, CatalogError> {
    let mut keep: BTreeMap<Kind, Option<i64>> = Kind::all()
        .into_iter()
        .map(|k| (k, default_keep(k).and_then(parse_age)))
        .collect();
    for item in spec
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.trim().is_empty())
    {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            CatalogError::Usage(format!("--keep `{item}`: expected KIND=AGE (trades=30d)"))
        })?;
        let kind = Kind::parse(k.trim()).ok_or_else(|| {
            CatalogError::Usage(format!(
                "--keep: `{k}` is not a kind ({})",
                Kind::all()
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let age = match v.trim() {
            "forever" => None,
            a => Some(parse_age(a).ok_or_else(|| {
                CatalogError::Usage(format!(
                    "--keep {k}=`{a}`: an age such as 30d, 12h, 90m, or forever"
                ))
            })?),
        };
        keep.insert(kind, age);
    }
    Ok(keep)
}

/// Removes every partition whose period ended more than its kind's retention before `now_ns`
/// (a partition still partly inside the window is kept whole).
pub fn prune(
    dir: &Path,
    keep: &BTreeMap<Kind, Option<i64>>,
    now_ns: i64,
    grace_s: u64,
) -> Result<Rewrite, CatalogError> {
    let mut w = Writer::open(dir)?;
    let mut out = Rewrite::default();
    let parts = w.base().partitions_owned();
    for (part, files) in parts {
        let Some(kind) = Kind::parse(&part.kind) else {
            continue;
        };
        let Some(Some(age)) = keep.get(&kind) else {
            continue;
        };
        let Some((_, end)) = kind.period().range(&part.date) else {
            continue;
        };
        if end <= now_ns.saturating_sub(*age) {
            for f in &files {
                w.retire(&f.path);
                out.rows_dropped += f.rows;
            }
            out.files_retired += files.len() as u64;
            out.partitions += 1;
            out.which.push(part.dir());
        }
    }
    out.version = w.commit("prune", grace_s)?.version;
    Ok(out)
}
