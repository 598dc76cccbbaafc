//! Recorded captures: JSONL, plain or `.zst`, one raw exchange message per line, as in
//! `../shared/data/ws/`, with the optional `<stem>.recv_ns.txt.zst` sidecar of receive times.
//!
//! Each capture is decompressed into memory when the run is set up (cold), so the hot source
//! only walks line slices: no syscall, no allocation and no decompression on the hot thread.
//! The captures this engine ships with are a few MB each; a streaming reader for multi-GB days
//! belongs to the data-catalog work.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A capture that could not be loaded: one sentence naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Open or read failure.
    #[error("cannot read capture {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Sidecar line count differs from the capture's.
    #[error("receive-time sidecar {path} has {got} lines but the capture has {want}; ignoring it would misplace every time, so fix or delete it")]
    SidecarMismatch {
        /// Sidecar file.
        path: String,
        /// Its line count.
        got: usize,
        /// Capture line count.
        want: usize,
    },
    /// A sidecar line is not an integer.
    #[error("receive-time sidecar {path} line {line} is not an integer")]
    SidecarBad {
        /// Sidecar file.
        path: String,
        /// 1-based line.
        line: usize,
    },
}

/// One loaded capture.
#[derive(Clone)]
pub struct Capture {
    /// The file it came from.
    pub path: PathBuf,
    /// All bytes, lines separated by `\n`.
    pub bytes: Vec<u8>,
    /// Byte range of each non-empty line.
    pub lines: Vec<(usize, usize)>,
    /// Receive time per line (ns since epoch), when a sidecar exists.
    pub recv_ns: Option<Vec<u64>>,
}

fn open_maybe_zst(path: &Path) -> Result<Box<dyn Read>, std::io::Error> {
    let f = File::open(path)?;
    let name = path.to_string_lossy();
    if name.ends_with(".zst") {
        Ok(Box::new(zstd::stream::read::Decoder::new(f)?))
    } else if name.ends_with(".gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Ok(Box::new(f))
    }
}

/// Reads a whole file, decompressing `.zst`, `.gz` and `.zip` (the first file in the archive
/// that is not a directory: Binance public-data archives hold exactly one CSV).
pub fn read_all(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    let mut bytes = Vec::new();
    if path.to_string_lossy().ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(File::open(path)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            if entry.is_file() {
                entry.read_to_end(&mut bytes)?;
                return Ok(bytes);
            }
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "zip archive holds no file",
        ));
    }
    // A plain file is read in one go into a buffer of its size: growing a buffer by
    // doubling through a 400 MB file costs more than reading it.
    if !name_is_compressed(path) {
        if let Ok(m) = std::fs::metadata(path) {
            bytes.reserve_exact(usize::try_from(m.len()).unwrap_or(0).saturating_add(1));
        }
    }
    open_maybe_zst(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// True for the compressed forms `read_all` decompresses.
/// The first `max` bytes of a file (decompressed), or all of it if shorter: enough to tell
/// what a file holds without reading a large one whole.
pub fn read_head(path: &Path, max: usize) -> Result<Vec<u8>, std::io::Error> {
    if path.to_string_lossy().ends_with(".zip") {
        let mut all = read_all(path)?;
        all.truncate(max);
        return Ok(all);
    }
    let mut out = Vec::with_capacity(max.min(1 << 20));
    open_maybe_zst(path)?
        .take(max as u64)
        .read_to_end(&mut out)?;
    Ok(out)
}

fn name_is_compressed(path: &Path) -> bool {
    let n = path.to_string_lossy();
    n.ends_with(".zst") || n.ends_with(".gz") || n.ends_with(".zip")
}

/// The sidecar path for a capture: `x.jsonl.zst` → `x.recv_ns.txt.zst` (or `.txt` if plain).
pub fn sidecar_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = [".jsonl.zst", ".jsonl.gz", ".jsonl"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))?;
    for candidate in [
        format!("{stem}.recv_ns.txt.zst"),
        format!("{stem}.recv_ns.txt"),
    ] {
        let p = path.with_file_name(candidate);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

impl Capture {
    /// Loads a capture (and its sidecar, if any) fully into memory.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let io = |source| ReplayError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = read_all(path).map_err(io)?;
        let mut cap = Self::from_bytes(path.to_path_buf(), bytes);
        if let Some(sp) = sidecar_path(path) {
            cap.recv_ns = Some(load_sidecar(&sp, cap.lines.len())?);
        }
        Ok(cap)
    }

    /// A capture from bytes already in memory (benchmarks, tests); no sidecar.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Self {
        // Count first (memchr scans many bytes a step), then fill an exact-size table.
        let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', &bytes).count() + 1);
        let mut start = 0usize;
        for i in memchr::memchr_iter(b'\n', &bytes) {
            push_line(&bytes, &mut lines, start, i);
            start = i + 1;
        }
        push_line(&bytes, &mut lines, start, bytes.len());
        Self {
            path,
            bytes,
            lines,
            recv_ns: None,
        }
    }

    /// The `i`-th message.
    #[inline]
    pub fn line(&self, i: usize) -> &[u8] {
        let (a, b) = self.lines[i];
        &self.bytes[a..b]
    }
}

fn push_line(bytes: &[u8], lines: &mut Vec<(usize, usize)>, start: usize, mut end: usize) {
    if end > start && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    if bytes[start..end].iter().any(|b| !b.is_ascii_whitespace()) {
        lines.push((start, end));
    }
}

/// Reads a receive-time sidecar: one ns time per message, exactly `want` of them.
pub fn load_sidecar(path: &Path, want: usize) -> Result<Vec<u64>, ReplayError> {
    let reader = open_maybe_zst(path).map_err(|source| ReplayError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::with_capacity(want);
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|source| ReplayError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        out.push(t.parse::<u64>().map_err(|_| ReplayError::SidecarBad {
            path: path.display().to_string(),
            line: i + 1,
        })?);
    }
    if out.len() != want {
        return Err(ReplayError::SidecarMismatch {
            path: path.display().to_string(),
            got: out.len(),
            want,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_plain_and_zst_with_sidecar() {
        let dir = std::env::temp_dir().join(format!("tw-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("cap.jsonl");
        std::fs::write(&plain, b"{\"a\":1}\r\n\n{\"b\":2}\n{\"c\":3}").unwrap();
        let c = Capture::load(&plain).unwrap();
        assert_eq!(c.lines.len(), 3);
        assert_eq!(c.line(0), b"{\"a\":1}");
        assert_eq!(c.line(2), b"{\"c\":3}");
        assert!(c.recv_ns.is_none());

        let zst = dir.join("z.jsonl.zst");
        std::fs::write(
            &zst,
            zstd::encode_all(&b"{\"a\":1}\n{\"b\":2}\n"[..], 3).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("z.recv_ns.txt"), b"10\n20\n").unwrap();
        let c = Capture::load(&zst).unwrap();
        assert_eq!(c.recv_ns.as_deref(), Some(&[10u64, 20][..]));

        std::fs::write(dir.join("z.recv_ns.txt"), b"10\n").unwrap();
        let e = Capture::load(&zst).err().unwrap().to_string();
        assert!(e.contains("has 1 lines but the capture has 2"), "{e}");
    }

    #[test]
    fn loads_gz_and_zip() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("tw-replay-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let body = b"1,2\n3,4\n";
        let gz = dir.join("a.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(Capture::load(&gz).unwrap().lines.len(), 2);
        let zp = dir.join("BTCUSDT-trades-2024-01-01.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
        w.start_file(
            "BTCUSDT-trades-2024-01-01.csv",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(body).unwrap();
        w.finish().unwrap();
        let c = Capture::load(&zp).unwrap();
        assert_eq!(c.line(1), b"3,4");
        std::fs::write(dir.join("bad.zip"), b"not a zip").unwrap();
        let e = Capture::load(&dir.join("bad.zip"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("cannot read capture"), "{e}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = Capture::load(Path::new("/no/such/file.jsonl"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("cannot read capture /no/such/file.jsonl"),
            "{e}"
        );
    }
}
