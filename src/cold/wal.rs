//! The order journal: every order transition and every fill, appended to `orders.wal` by the
//! cold thread and made durable (per `ops.order_journal_fsync`) before the cold thread writes
//! anything else about them, so a crash or `kill -9` loses no order and no fill the journal
//! had taken; the hot threads never wait for it.
//!
//! One record per line, `|`-separated and readable with `cut`, ending in the CRC-32 of the
//! rest of the line:
//!
//! ```text
//! O|<lane>|<orders.csv row>|<from status>|<filled>|<crc32>
//! F|<lane>|<fills.csv row>|<crc32>
//! S|<lane>|<epoch>|<mode>|<crc32>      (a run's start, when it appends to an earlier journal)
//! ```
//!
//! # Restart
//!
//! On start the journal is read back; a torn last line (a crash mid-write: no newline, or a CRC
//! that does not match) is cut off and everything before it is kept. A replay or backtest is
//! deterministic, so the restarted run derives the same orders with the same client ids
//! (their epoch is the lane number): the journal's records are the orders it already sent and
//! the fills it already had, so each one the run derives again is checked against the record
//! at its place and not written a second time; only what the journal did not yet hold is
//! appended. The journal therefore never holds an id twice, and a record the run derives
//! differently is reported as a divergence (with both texts) in `journal.md` and
//! `summary.json`. A live run's ids carry its start second, so they never meet an earlier
//! run's: it appends after an `S` record.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use crate::core::config::Fsync;

/// What a journal held when it was opened, and what this run did with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records read back from an earlier run.
    pub resumed: usize,
    /// Bytes of a torn last record cut off.
    pub torn_bytes: u64,
    /// Records of the earlier run this run derived again, identical (not written twice).
    pub matched: usize,
    /// Records appended by this run.
    pub appended: u64,
    /// The first earlier record this run derived differently (index, journal's text, run's).
    pub diverged: Option<(usize, String, String)>,
}

/// The records of a journal file (without their CRCs) and where the valid part ends.
pub struct Loaded {
    /// Records, oldest first.
    pub records: Vec<String>,
    /// Bytes up to the end of the last valid record.
    pub valid_len: u64,
    /// The file's length.
    pub total_len: u64,
}

fn crc(text: &str) -> u32 {
    crc32fast::hash(text.as_bytes())
}

/// Reads `path`: every record up to the first line that is incomplete or fails its CRC.
pub fn load(path: &Path) -> std::io::Result<Loaded> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut records = Vec::new();
    let mut valid_len = 0usize;
    let mut at = 0usize;
    while let Some(nl) = bytes[at..].iter().position(|&b| b == b'\n') {
        let line = &bytes[at..at + nl];
        let Ok(line) = std::str::from_utf8(line) else {
            break;
        };
        let Some((body, sum)) = line.rsplit_once('|') else {
            break;
        };
        if u32::from_str_radix(sum, 16).ok() != Some(crc(body)) {
            break;
        }
        records.push(body.to_string());
        at += nl + 1;
        valid_len = at;
    }
    Ok(Loaded {
        records,
        valid_len: valid_len as u64,
        total_len: bytes.len() as u64,
    })
}

pub use crate::core::order::JournaledFill;

/// What a live run restores from an earlier run's journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Every fill, oldest first (positions, cash, realized PnL and fees follow from them).
    pub fills: Vec<JournaledFill>,
    /// Orders whose last journaled state was live: (lane, client order id, their last
    /// record).
    pub open: Vec<(usize, u64, String)>,
    /// Records that could not be read back (unknown instrument, bad number).
    pub unreadable: usize,
}

const TERMINAL: [&str; 4] = ["filled", "cancelled", "rejected", "expired"];

/// Reads the fills and the still-open orders out of journal records (all segments).
pub fn restore(records: &[String], table: &crate::core::InstrumentTable) -> Restored {
    use crate::core::num::parse_scaled;
    let mut out = Restored::default();
    let mut last: std::collections::BTreeMap<u64, (usize, String, String)> = Default::default();
    for r in records {
        let f: Vec<&str> = r.split('|').collect();
        let lane = f.get(1).and_then(|l| l.parse::<usize>().ok());
        let row: Vec<&str> = f.get(2).map_or(Vec::new(), |x| x.split(',').collect());
        match (f.first().copied(), lane) {
            (Some("F"), Some(lane)) if row.len() == 8 => {
                let fill = (|| {
                    Some(JournaledFill {
                        lane,
                        instrument: table.lookup(row[2].as_bytes())?,
                        side: match row[3] {
                            "buy" => crate::core::Side::Buy,
                            "sell" => crate::core::Side::Sell,
                            _ => return None,
                        },
                        price: crate::core::Price(parse_scaled(row[4].as_bytes()).ok()?),
                        qty: crate::core::Qty(parse_scaled(row[5].as_bytes()).ok()?),
                        fee: parse_scaled(row[6].as_bytes()).ok()?,
                    })
                })();
                match fill {
                    Some(x) => out.fills.push(x),
                    None => out.unreadable += 1,
                }
            }
            (Some("O"), Some(lane)) if row.len() == 9 => match row[1].parse::<u64>() {
                Ok(id) => {
                    last.insert(id, (lane, row[7].to_string(), r.clone()));
                }
                Err(_) => out.unreadable += 1,
            },
            (Some("S"), _) => {}
            _ => out.unreadable += 1,
        }
    }
    out.open = last
        .into_iter()
        .filter(|(_, (_, status, _))| !TERMINAL.contains(&status.as_str()))
        .map(|(id, (lane, _, body))| (lane, id, body))
        .collect();
    out
}

/// The journal a run appends to.
pub struct OrderJournal {
    path: PathBuf,
    file: File,
    fsync: Fsync,
    buf: Vec<u8>,
    /// The earlier run's records, checked against what this run derives (deterministic
    /// modes only).
    earlier: Vec<String>,
    /// An earlier run's records, continued unverified (a live run restores from them).
    previous: Vec<String>,
    /// Stats.
    pub stats: WalStats,
}

impl OrderJournal {
    /// Opens (or creates) the journal at `path`. `verify`: the run is deterministic, so an
    /// earlier run's records are checked against this one's instead of appended after.
    /// `start` is the `S` record written when an earlier journal is continued unverified.
    pub fn open(path: &Path, fsync: Fsync, verify: bool, start: &str) -> std::io::Result<Self> {
        let ctx = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("order journal {}: {e}", path.display()))
        };
        let loaded = if path.exists() {
            Some(load(path).map_err(ctx)?)
        } else {
            None
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(ctx)?;
        let mut stats = WalStats::default();
        let mut earlier = Vec::new();
        let mut previous = Vec::new();
        if let Some(l) = loaded {
            stats.resumed = l.records.len();
            stats.torn_bytes = l.total_len - l.valid_len;
            if l.valid_len < l.total_len {
                file.set_len(l.valid_len).map_err(ctx)?;
            }
            if verify {
                earlier = l.records;
            } else {
                previous = l.records;
            }
        }
        file.seek(SeekFrom::End(0)).map_err(ctx)?;
        let mut j = Self {
            path: path.to_path_buf(),
            file,
            fsync,
            buf: Vec::with_capacity(1 << 16),
            earlier,
            previous,
            stats,
        };
        if j.stats.resumed > 0 && !verify {
            j.append(start);
            j.commit()?;
        }
        Ok(j)
    }

    /// Takes the earlier run's records a live run continues after (empty for a verified,
    /// deterministic run).
    pub fn take_previous(&mut self) -> Vec<String> {
        std::mem::take(&mut self.previous)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fsync policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    /// Takes one record: one the earlier run already journaled identically is not written
    /// again; anything else is appended (and made durable now under [`Fsync::Always`]).
    pub fn record(&mut self, body: &str) -> std::io::Result<()> {
        let i = self.stats.matched;
        if self.stats.diverged.is_none() && i < self.earlier.len() {
            if self.earlier[i] == body {
                self.stats.matched += 1;
                return Ok(());
            }
            self.stats.diverged = Some((i, self.earlier[i].clone(), body.to_string()));
        }
        self.append(body);
        if self.fsync == Fsync::Always {
            self.commit()?;
        }
        Ok(())
    }

    fn append(&mut self, body: &str) {
        let sum = crc(body);
        // Writing into a Vec cannot fail.
        let _ = writeln!(self.buf, "{body}|{sum:08x}");
        self.stats.appended += 1;
    }

    /// Writes what is pending and makes it durable per the policy.
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        if self.fsync != Fsync::Off {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Records of the earlier run this run has not derived (yet): after a complete run, more
    /// than zero means the journal holds orders this run never made.
    pub fn unmatched(&self) -> usize {
        if self.stats.diverged.is_some() {
            return 0;
        }
        self.earlier.len().saturating_sub(self.stats.matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let p = tmp("torn");
        let mut j = OrderJournal::open(&p, Fsync::Batch, true, "S").unwrap();
        for r in ["O|0|a,1", "F|0|b,1", "O|0|c,2"] {
            j.record(r).unwrap();
        }
        j.commit().unwrap();
        drop(j);
        // A crash mid-write: half a record, no newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"F|0|d,2|1234").unwrap();
        drop(f);
        let l = load(&p).unwrap();
        assert_eq!(l.records, ["O|0|a,1", "F|0|b,1", "O|0|c,2"]);
        assert_eq!(l.total_len - l.valid_len, 12);
        // A flipped byte in a middle record ends the valid part there.
        let mut bytes = std::fs::read(&p).unwrap();
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 5;
        bytes[second] = b'x';
        let p2 = tmp("flip");
        std::fs::write(&p2, &bytes).unwrap();
        assert_eq!(load(&p2).unwrap().records, ["O|0|a,1"]);

        // Reopened for a deterministic re-run: the torn tail goes, the same records are not
        // written twice, new ones are appended after them.
        let mut j = OrderJournal::open(&p, Fsync::Off, true, "S").unwrap();
        assert_eq!(j.stats.resumed, 3);
        assert_eq!(j.stats.torn_bytes, 12);
        for r in ["O|0|a,1", "F|0|b,1", "O|0|c,2", "F|0|d,2"] {
            j.record(r).unwrap();
        }
        j.commit().unwrap();
        assert_eq!((j.stats.matched, j.stats.appended), (3, 1));
        assert_eq!(j.unmatched(), 0);
        assert_eq!(
            load(&p).unwrap().records,
            ["O|0|a,1", "F|0|b,1", "O|0|c,2", "F|0|d,2"]
        );
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(&p2);
    }

    #[test]
    fn a_different_record_is_a_divergence_and_live_runs_append_after_a_start_record() {
        let p = tmp("div");
        let mut j = OrderJournal::open(&p, Fsync::Off, true, "S").unwrap();
        j.record("O|0|a").unwrap();
        j.record("O|0|b").unwrap();
        j.commit().unwrap();
        let mut j = OrderJournal::open(&p, Fsync::Off, true, "S").unwrap();
        j.record("O|0|a").unwrap();
        j.record("O|0|X").unwrap();
        assert_eq!(
            j.stats.diverged,
            Some((1, "O|0|b".to_string(), "O|0|X".to_string()))
        );
        j.commit().unwrap();
        let mut j = OrderJournal::open(&p, Fsync::Off, false, "S|0|7|run").unwrap();
        assert_eq!(j.stats.resumed, 3);
        j.record("O|0|a").unwrap();
        j.commit().unwrap();
        assert_eq!(
            load(&p).unwrap().records,
            ["O|0|a", "O|0|b", "O|0|X", "S|0|7|run", "O|0|a"]
        );
        let _ = std::fs::remove_file(&p);
    }
}
