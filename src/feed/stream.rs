//! Replay files streamed from disk instead of loaded whole: a reader thread fills a small pool
//! of reused buffers, each ending on a line boundary, and the source thread takes lines out of
//! them. A 400 MB trades CSV then costs no page zeroing and no line table, and reading and
//! decompressing overlap with the pipeline on another core.
//!
//! Order is unchanged: files one after another, lines in file order, `loops` times; so a
//! streamed replay gives exactly the messages a loaded one does (files with receive-time
//! sidecars, which are merged by time, are loaded instead; see `runtime`).
//!
//! The hot side never blocks and never allocates: it takes a filled buffer with `try_recv`
//! and hands the spent one back with `try_send` on a channel sized for the whole pool. The
//! reader thread allocates its buffers once (a line longer than a buffer grows that buffer,
//! on the reader thread). It also publishes the bytes read from disk, for a progress bar.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

use super::{Anchor, Next, RawMessage};
use crate::core::clock;
use crate::core::config::Speed;

/// Bytes per buffer.
pub const CHUNK: usize = 4 << 20;
/// Buffers in flight.
const POOL: usize = 4;

/// A filled buffer: `buf[..len]` is whole lines of file `line`.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
    line: u8,
}

/// Counts bytes read from disk into a shared total.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file for streaming: plain, `.zst`, `.gz`; a `.zip` archive's first file.
fn open(path: &Path, read: Arc<AtomicU64>) -> std::io::Result<Box<dyn Read + Send>> {
    let name = path.to_string_lossy();
    if name.ends_with(".zip") {
        // Archives are read whole (Binance's daily files are small).
        let bytes = super::replay::read_all(path)?;
        read.fetch_add(
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            Ordering::Relaxed,
        );
        return Ok(Box::new(std::io::Cursor::new(bytes)));
    }
    let f = Counting {
        inner: std::fs::File::open(path)?,
        read,
    };
    Ok(if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(f)?)
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    })
}

/// Why a streamed replay cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct StreamError {
    path: String,
    source: std::io::Error,
}

/// Replay files streamed by a reader thread (see the module docs).
pub struct StreamSource {
    rx: Receiver<Chunk>,
    back: SyncSender<Vec<u8>>,
    cur: Option<Chunk>,
    pos: usize,
    speed: Speed,
    pacer: super::Pacer,
    anchor: Anchor,
    /// Receive time of the lines of the current buffer (full speed).
    chunk_recv_ns: u64,
    limit: Option<u64>,
    emitted: u64,
}

impl StreamSource {
    /// Starts the reader on `files` (played in order, `loops` times); at most `limit`
    /// messages. Every file is opened here first, so a missing or unreadable one is an error
    /// now, not a short replay. `progress` receives the bytes read from disk and
    /// `progress_total` the bytes to read.
    pub fn start(
        files: &[PathBuf],
        speed: Speed,
        loops: u64,
        limit: Option<u64>,
        progress: Option<Arc<AtomicU64>>,
        progress_total: Option<Arc<AtomicU64>>,
    ) -> Result<Self, StreamError> {
        let mut total = 0u64;
        for f in files {
            let err = |source| StreamError {
                path: f.display().to_string(),
                source,
            };
            let m = std::fs::metadata(f).map_err(err)?;
            std::fs::File::open(f).map_err(err)?;
            total = total.saturating_add(m.len());
        }
        if let Some(t) = &progress_total {
            t.store(total.saturating_mul(loops.max(1)), Ordering::Relaxed);
        }
        let (tx, rx) = sync_channel::<Chunk>(POOL);
        let (back, spare) = sync_channel::<Vec<u8>>(POOL);
        for _ in 0..POOL {
            let _ = back.send(vec![0u8; CHUNK]);
        }
        let files = files.to_vec();
        let read = progress.unwrap_or_default();
        std::thread::Builder::new()
            .name("replay-reader".into())
            .spawn(move || reader(&files, loops.max(1), &tx, &spare, &read))
            .map_err(|source| StreamError {
                path: "reader thread".into(),
                source,
            })?;
        Ok(Self {
            rx,
            back,
            cur: None,
            pos: 0,
            speed,
            pacer: super::Pacer::default(),
            anchor: Anchor::now(),
            chunk_recv_ns: 0,
            limit,
            emitted: 0,
        })
    }

    /// The next line, `Wait` while the reader is behind, `End` when every file is played.
    #[inline]
    pub fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return Next::End;
        }
        let (line, a, b) = loop {
            if let Some(c) = &self.cur {
                if self.pos < c.len {
                    let data = &c.buf[self.pos..c.len];
                    let a = self.pos;
                    let mut b = a + memchr::memchr(b'\n', data).unwrap_or(data.len());
                    self.pos = b + 1;
                    if b > a && c.buf[b - 1] == b'\r' {
                        b -= 1;
                    }
                    if c.buf[a..b].iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    break (c.line, a, b);
                }
            }
            if let Some(spent) = self.cur.take() {
                // The pool's size is the channel's: this never blocks or fails.
                let _ = self.back.try_send(spent.buf);
            }
            match self.rx.try_recv() {
                Ok(c) => {
                    self.cur = Some(c);
                    self.pos = 0;
                    self.chunk_recv_ns = self.anchor.wall_at(clock::mono_ns());
                }
                Err(TryRecvError::Empty) => return Next::Wait,
                Err(TryRecvError::Disconnected) => return Next::End,
            }
        };
        let Some(c) = &self.cur else {
            return Next::End;
        };
        // A streamed file has no recorded times to pace a factor by: it plays at full speed,
        // or at a fixed rate. At full speed a line has no arrival time to measure from: its
        // receive time is the clock read when its buffer was taken, and the hot loop stamps
        // the lines it times (a clock read per line was 9 % of the parse thread).
        let (recv_ns, ingress_ns) = match self.speed {
            Speed::Rate(r) => match self.pacer.due(clock::mono_ns(), self.emitted, r) {
                Some(due) => (self.anchor.wall_at(due), due),
                None => {
                    // Not due yet: the line is read again on the next poll.
                    self.pos = a;
                    return Next::Busy;
                }
            },
            _ => (self.chunk_recv_ns, 0),
        };
        self.emitted += 1;
        Next::Msg(RawMessage {
            line,
            bytes: &c.buf[a..b],
            recv_ns,
            ingress_ns,
            market_ns: None,
        })
    }
}

/// The reader thread: fills buffers with whole lines, file after file, `loops` times.
fn reader(
    files: &[PathBuf],
    loops: u64,
    tx: &SyncSender<Chunk>,
    spare: &Receiver<Vec<u8>>,
    read: &Arc<AtomicU64>,
) {
    let mut carry: Vec<u8> = Vec::with_capacity(64 * 1024);
    for _ in 0..loops {
        for (fi, path) in files.iter().enumerate() {
            let line = fi.min(255) as u8;
            let mut input = match open(path, read.clone()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("replay: cannot read {}: {e}", path.display());
                    return;
                }
            };
            carry.clear();
            let mut eof = false;
            while !eof {
                let Ok(mut buf) = spare.recv() else { return };
                buf.resize(buf.len().max(CHUNK).max(carry.len() * 2), 0);
                buf[..carry.len()].copy_from_slice(&carry);
                let mut len = carry.len();
                carry.clear();
                // Fill the buffer (or reach the end of the file).
                while len < buf.len() {
                    match input.read(&mut buf[len..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => len += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            eprintln!("replay: reading {} failed: {e}", path.display());
                            eof = true;
                            break;
                        }
                    }
                }
                // Whole lines only; the tail waits for the next buffer.
                let cut = if eof {
                    len
                } else {
                    match memchr::memrchr(b'\n', &buf[..len]) {
                        Some(i) => i + 1,
                        // One line longer than the buffer: the next one is twice as big.
                        None => 0,
                    }
                };
                carry.extend_from_slice(&buf[cut..len]);
                if tx
                    .send(Chunk {
                        buf,
                        len: cut,
                        line,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut StreamSource) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            match s.poll() {
                Next::Msg(m) => out.push((m.line, m.bytes.to_vec())),
                Next::End => return out,
                _ => std::thread::yield_now(),
            }
        }
    }

    #[test]
    fn a_fixed_rate_plays_every_line_stamped_when_due() {
        let dir = std::env::temp_dir().join(format!("tw-stream-rate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.csv");
        std::fs::write(&a, b"l0\nl1\n\nl2\nl3\n").unwrap();
        // 1e9/s: message n is due n ns after the first poll.
        let mut s = StreamSource::start(&[a], Speed::Rate(1e9), 1, None, None, None).unwrap();
        let mut got = Vec::new();
        loop {
            match s.poll() {
                Next::Msg(m) => got.push((m.bytes.to_vec(), m.ingress_ns)),
                Next::End => break,
                _ => std::thread::yield_now(),
            }
        }
        let lines: Vec<&[u8]> = got.iter().map(|g| g.0.as_slice()).collect();
        assert_eq!(
            lines,
            [&b"l0"[..], b"l1", b"l2", b"l3"],
            "none lost or doubled"
        );
        assert!(got.windows(2).all(|w| w[1].1 - w[0].1 == 1), "{got:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn streams_every_line_of_every_file_in_order() {
        let dir = std::env::temp_dir().join(format!("tw-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Long enough to span buffers, with a line longer than one buffer.
        let mut text = Vec::new();
        let mut want = Vec::new();
        for i in 0..300_000u32 {
            let l = format!("{i},{}", "x".repeat((i % 50) as usize));
            text.extend_from_slice(l.as_bytes());
            text.extend_from_slice(if i % 7 == 0 { b"\r\n" } else { b"\n" });
            want.push(l.into_bytes());
            if i == 1000 {
                let long = vec![b'y'; CHUNK + 100];
                text.extend_from_slice(&long);
                text.extend_from_slice(b"\n\n  \n");
                want.push(long);
            }
        }
        text.extend_from_slice(b"last-without-newline");
        want.push(b"last-without-newline".to_vec());
        let a = dir.join("a.csv");
        std::fs::write(&a, &text).unwrap();
        let b = dir.join("b.csv.zst");
        std::fs::write(&b, zstd::encode_all(&b"z1\nz2\n"[..], 3).unwrap()).unwrap();
        let progress = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let mut s = StreamSource::start(
            &[a.clone(), b.clone()],
            Speed::Max,
            2,
            None,
            Some(progress.clone()),
            Some(total.clone()),
        )
        .unwrap();
        let got = drain(&mut s);
        let mut expect: Vec<(u8, Vec<u8>)> = Vec::new();
        for _ in 0..2 {
            expect.extend(want.iter().map(|l| (0u8, l.clone())));
            expect.push((1, b"z1".to_vec()));
            expect.push((1, b"z2".to_vec()));
        }
        assert_eq!(got.len(), expect.len());
        assert!(got == expect);
        let size = std::fs::metadata(&a).unwrap().len() + std::fs::metadata(&b).unwrap().len();
        assert_eq!(total.load(Ordering::Relaxed), 2 * size);
        assert_eq!(progress.load(Ordering::Relaxed), 2 * size);

        let mut limited = StreamSource::start(&[a], Speed::Max, 1, Some(5), None, None).unwrap();
        assert_eq!(drain(&mut limited).len(), 5);
        let missing = StreamSource::start(&[dir.join("nope.csv")], Speed::Max, 1, None, None, None);
        let e = missing.err().unwrap().to_string();
        assert!(
            e.starts_with("cannot read ") && e.contains("nope.csv"),
            "{e}"
        );
    }
}
