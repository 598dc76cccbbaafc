//! A local WebSocket server for client tests: it serves message lines (real capture lines) on
//! 127.0.0.1 with a fault script. Its handshake and server-side framing are written here from
//! RFC 6455, independent of the client under test.
//!
//! One thread accepts, handshakes, reads client frames and sends messages for every
//! connection, so the order of writes across connections is the order of the stream.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const CLOSING_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages sent per pump turn before client frames are read again.
const BATCH: usize = 256;

/// Message pacing.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as the socket takes them.
    Unpaced,
    /// This many messages per second, from the server's start.
    PerSec(u64),
}

/// What happens to messages while no client is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The stream advances with time; messages sent while no one listens are lost.
    Broadcast,
    /// A new connection continues from the next unsent message.
    Resume,
}

/// A frame the client must not accept as a market message (except `NonJson`, which it must).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbage {
    /// A text frame whose payload is not UTF-8.
    InvalidUtf8,
    /// A frame with the reserved opcode 3.
    BadOpcode,
    /// A text frame that is valid UTF-8 but not JSON (legal WebSocket; the client delivers it).
    NonJson,
    /// A masked frame (servers must not mask).
    Masked,
    /// A frame with RSV1 set.
    ReservedBits,
}

/// Text of the `NonJson` garbage frame.
pub const NON_JSON: &[u8] = b"this is not json";

impl Garbage {
    /// Does the client have to drop the connection?
    pub fn fatal(self) -> bool {
        self != Garbage::NonJson
    }

    fn frame(self) -> Vec<u8> {
        match self {
            Garbage::InvalidUtf8 => frame(true, 0x1, b"{\"s\":\"\xC3\x28\"}"),
            Garbage::BadOpcode => frame(true, 0x3, b"x"),
            Garbage::NonJson => frame(true, 0x1, NON_JSON),
            Garbage::Masked => {
                let mut f = vec![0x81, 0x80 | 2, 1, 2, 3, 4];
                f.extend([b'h' ^ 1, b'i' ^ 2]);
                f
            }
            Garbage::ReservedBits => {
                let mut f = frame(true, 0x1, b"{}");
                f[0] |= 0x40;
                f
            }
        }
    }
}

/// A fault tied to a position in the stream (a line index), not to a connection's count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFault {
    /// Shut the TCP connection (no close frame).
    Kill,
    /// Send nothing for this many ms, socket kept open.
    Stall(u64),
    /// Send this garbage frame.
    Garbage(Garbage),
}

/// Lines produced on demand instead of a list: `count` lines, line `i` is `line(i)`.
#[derive(Clone)]
pub struct Endless {
    /// How many lines the stream has.
    pub count: usize,
    /// Line `i`.
    pub line: Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync>,
}

/// Servers sharing a gate send nothing until it is opened (and its instant has come), then
/// pace from that instant: two of them serve the same stream in lockstep (as an exchange's
/// two endpoints would); gates set to different instants make one lag the other.
pub type Gate = Arc<OnceLock<Instant>>;

/// The fault script; counts are data messages sent on one connection (`at_lines` and
/// `kill_on_lines` go by line index in the stream).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Shut the TCP connection (no close frame) after every N messages.
    pub kill_every: Option<u64>,
    /// Send a close frame with this code after N messages: (N, code).
    pub close_after: Option<(u64, u16)>,
    /// Send nothing for T ms after message N, socket kept open: (N, T).
    pub stall: Option<(u64, u64)>,
    /// Send a garbage frame after message N: (N, kind).
    pub garbage: Option<(u64, Garbage)>,
    /// Send every k-th message in `parts` frames: (k, parts).
    pub fragment_every: Option<(u64, usize)>,
    /// With `fragment_every`: a ping between the first and second fragment.
    pub ping_between_fragments: bool,
    /// Send a ping (8-byte payload) after every N messages and check the pong echoes it.
    pub ping_every: Option<u64>,
    /// After sending line `i` on a connection, apply the fault (once per connection that got
    /// line `i`).
    pub at_lines: Vec<(usize, LineFault)>,
    /// `(period, phase)`: shut the TCP connection after sending a line whose index is `phase`
    /// modulo `period`.
    pub kill_on_lines: Option<(usize, usize)>,
}

/// A server certificate and its PKCS#8 private key, DER.
#[derive(Clone)]
pub struct TlsIdentity {
    /// Certificate.
    pub cert: Vec<u8>,
    /// PKCS#8 key.
    pub key: Vec<u8>,
}

/// What the server serves and how.
#[derive(Clone)]
pub struct ServerConfig {
    /// Message lines, in order.
    pub lines: Arc<Vec<Vec<u8>>>,
    /// Pacing.
    pub pace: Pace,
    /// Broadcast or resume.
    pub mode: Mode,
    /// Faults.
    pub faults: Faults,
    /// Serve `wss://` with this identity.
    pub tls: Option<TlsIdentity>,
    /// Send nothing on a connection until it sent a text frame (a subscription).
    pub require_subscribe: bool,
    /// Serve these generated lines instead of `lines`.
    pub endless: Option<Endless>,
    /// Send nothing until the gate opens; pace from its instant.
    pub gate: Option<Gate>,
}

impl ServerConfig {
    /// Unpaced, resume mode, no faults, subscription required.
    pub fn new(lines: Arc<Vec<Vec<u8>>>) -> Self {
        Self {
            lines,
            pace: Pace::Unpaced,
            mode: Mode::Resume,
            faults: Faults::default(),
            tls: None,
            require_subscribe: true,
            endless: None,
            gate: None,
        }
    }
}

/// What happened on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnRecord {
    /// Data messages written.
    pub sent: u64,
    /// Line index of the first and last message written.
    pub first: Option<usize>,
    /// See `first`.
    pub last: Option<usize>,
    /// Text frames received from the client.
    pub subscribes: Vec<String>,
    /// Pings we sent.
    pub pings_sent: u64,
    /// Pongs that echoed the oldest outstanding ping.
    pub pongs_ok: u64,
    /// Pongs that did not.
    pub pongs_bad: u64,
    /// Pings the client sent.
    pub client_pings: u64,
    /// Close code the client sent (1005 if none), if it sent a close frame.
    pub client_close: Option<u16>,
    /// Garbage frames sent.
    pub garbage_sent: u64,
    /// Messages sent in fragments.
    pub fragmented_sent: u64,
    /// The connection is over.
    pub ended: bool,
}

struct Shared {
    records: Mutex<Vec<ConnRecord>>,
    cursor: AtomicUsize,
    stop: AtomicBool,
}

/// A running server; `Drop` stops it.
pub struct WsServer {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl WsServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start(cfg: ServerConfig) -> Self {
        Self::start_on(0, cfg)
    }

    /// Binds 127.0.0.1:`port` (0: any free port) and starts serving.
    pub fn start_on(port: u16, cfg: ServerConfig) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            records: Mutex::new(Vec::new()),
            cursor: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let tls = cfg.tls.is_some();
        let sh = shared.clone();
        let thread = thread::Builder::new()
            .name("ws-test-server".into())
            .spawn(move || Pump::new(cfg, listener, sh).run())
            .expect("spawn");
        Self {
            addr,
            tls,
            shared,
            thread: Some(thread),
        }
    }

    /// `ws://127.0.0.1:PORT/stream?streams=btcusdt@trade` (`wss://` with TLS).
    pub fn url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}/stream?streams=btcusdt@trade",
            if self.tls { "wss" } else { "ws" },
            self.addr.port()
        )
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// One record per accepted connection, in accept order.
    pub fn records(&self) -> Vec<ConnRecord> {
        self.shared.records.lock().unwrap().clone()
    }

    /// Index of the next line to be sent.
    pub fn cursor(&self) -> usize {
        self.shared.cursor.load(Ordering::Acquire)
    }

    /// Connections that have subscribed so far (ended ones included).
    pub fn subscribed(&self) -> usize {
        self.records()
            .iter()
            .filter(|r| !r.subscribes.is_empty())
            .count()
    }

    /// Data messages written, over every connection.
    pub fn sent(&self) -> u64 {
        self.records().iter().map(|r| r.sent).sum()
    }

    /// Stops serving and closes every connection and the listener.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An unmasked server frame.
pub fn frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 10);
    v.push(if fin { 0x80 } else { 0 } | op);
    match payload.len() {
        n @ 0..=125 => v.push(n as u8),
        n @ 126..=0xFFFF => {
            v.push(126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(payload);
    v
}

enum ServerStream {
    Plain(TcpStream),
    Tls(Box<(rustls::ServerConnection, TcpStream)>),
}

impl ServerStream {
    fn sock(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(s) => s,
            ServerStream::Tls(b) => &b.1,
        }
    }

    fn read_blocking(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(b) => {
                let (c, s) = &mut **b;
                rustls::Stream::new(c, s).read(buf)
            }
        }
    }

    /// Non-blocking read; `WouldBlock` when nothing is there.
    fn read_nb(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(b) => {
                let (c, s) = &mut **b;
                loop {
                    match c.reader().read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        r => return r,
                    }
                    c.read_tls(s)?;
                    c.process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
            }
        }
    }

    /// Writes everything, waiting out `WouldBlock` up to [`WRITE_TIMEOUT`].
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        let wait = || {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client not reading",
                ));
            }
            thread::sleep(Duration::from_micros(50));
            Ok(())
        };
        match self {
            ServerStream::Plain(s) => {
                let mut off = 0;
                while off < data.len() {
                    match s.write(&data[off..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => off += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait()?,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            ServerStream::Tls(b) => {
                let (c, s) = &mut **b;
                let mut off = 0;
                loop {
                    off += c.writer().write(&data[off..])?;
                    while c.wants_write() {
                        match c.write_tls(s) {
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait()?,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if off == data.len() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Reads the Upgrade request, answers 101; returns the stream (non-blocking) and any bytes
/// that followed the request.
fn accept_ws(
    sock: TcpStream,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> io::Result<(ServerStream, Vec<u8>)> {
    sock.set_nonblocking(false)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    sock.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut stream = match tls {
        None => ServerStream::Plain(sock),
        Some(cfg) => {
            let mut c = rustls::ServerConnection::new(cfg.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut s = sock;
            while c.is_handshaking() {
                c.complete_io(&mut s)?;
            }
            ServerStream::Tls(Box::new((c, s)))
        }
    };
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let head = loop {
        if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if filled == buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too big",
            ));
        }
        let n = stream.read_blocking(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    };
    let text = String::from_utf8_lossy(&buf[..head]).to_string();
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    if !text.starts_with("GET ") {
        return Err(bad("not a GET"));
    }
    let header = |name: &str| {
        text.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(bad("no Upgrade: websocket"));
    }
    if header("sec-websocket-version").as_deref() != Some("13") {
        return Err(bad("not version 13"));
    }
    let key = header("sec-websocket-key").ok_or_else(|| bad("no key"))?;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(resp.as_bytes())?;
    stream.sock().set_read_timeout(None)?;
    stream.sock().set_write_timeout(None)?;
    stream.sock().set_nonblocking(true)?;
    Ok((stream, buf[head..filled].to_vec()))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Active,
    Stalled(Instant),
    /// We sent a close frame, garbage, or shut our side: wait for the client to go.
    Closing(Instant),
}

struct Conn {
    stream: ServerStream,
    rec: usize,
    rbuf: Vec<u8>,
    subscribed: bool,
    sent: u64,
    state: State,
    pending_pings: VecDeque<[u8; 8]>,
    ping_counter: u64,
    ended: bool,
    shut: bool,
}

struct Pump {
    cfg: ServerConfig,
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    conns: Vec<Conn>,
    start: Instant,
}

impl Pump {
    fn new(cfg: ServerConfig, listener: TcpListener, shared: Arc<Shared>) -> Self {
        let tls = cfg.tls.as_ref().map(|id| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
                rustls::pki_types::PrivatePkcs8KeyDer::from(id.key.clone()),
            );
            Arc::new(
                rustls::ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(
                        vec![rustls::pki_types::CertificateDer::from(id.cert.clone())],
                        key,
                    )
                    .expect("server certificate"),
            )
        });
        Self {
            cfg,
            listener,
            shared,
            tls,
            conns: Vec::new(),
            start: Instant::now(),
        }
    }

    fn record(&self, i: usize, f: impl FnOnce(&mut ConnRecord)) {
        record(&self.shared, i, f);
    }

    fn run(mut self) {
        while !self.shared.stop.load(Ordering::Acquire) {
            self.accept();
            for c in &mut self.conns {
                service(c, &self.shared);
            }
            let now = Instant::now();
            for c in &mut self.conns {
                match c.state {
                    State::Stalled(until) if now >= until => c.state = State::Active,
                    State::Closing(since) if now - since > CLOSING_TIMEOUT => c.ended = true,
                    _ => {}
                }
            }
            let ended: Vec<usize> = self
                .conns
                .iter()
                .filter(|c| c.ended)
                .map(|c| c.rec)
                .collect();
            for rec in ended {
                self.record(rec, |r| r.ended = true);
            }
            self.conns.retain(|c| !c.ended);
            if !self.send_due() {
                thread::sleep(Duration::from_micros(200));
            }
        }
        let recs: Vec<usize> = self.conns.iter().map(|c| c.rec).collect();
        for rec in recs {
            self.record(rec, |r| r.ended = true);
        }
        for c in &self.conns {
            let _ = c.stream.sock().shutdown(Shutdown::Both);
        }
    }

    fn accept(&mut self) {
        let Ok((sock, _)) = self.listener.accept() else {
            return;
        };
        let Ok((stream, leftover)) = accept_ws(sock, self.tls.as_ref()) else {
            return;
        };
        let rec = {
            let mut r = self.shared.records.lock().unwrap();
            r.push(ConnRecord::default());
            r.len() - 1
        };
        let mut c = Conn {
            stream,
            rec,
            rbuf: leftover,
            subscribed: !self.cfg.require_subscribe,
            sent: 0,
            state: State::Active,
            pending_pings: VecDeque::new(),
            ping_counter: 0,
            ended: false,
            shut: false,
        };
        parse_client_frames(&mut c, &self.shared);
        self.conns.push(c);
    }

    /// Sends the messages that are due. `true` if anything was sent.
    fn send_due(&mut self) -> bool {
        let n = match &self.cfg.endless {
            Some(e) => e.count,
            None => self.cfg.lines.len(),
        };
        let start = match &self.cfg.gate {
            None => self.start,
            Some(g) => match g.get() {
                Some(t) if Instant::now() >= *t => *t,
                _ => return false,
            },
        };
        let due = match self.cfg.pace {
            Pace::Unpaced => n,
            Pace::PerSec(r) => {
                let el = Instant::now().saturating_duration_since(start).as_nanos() as u64;
                ((el.saturating_mul(r) / 1_000_000_000) as usize + 1).min(n)
            }
        };
        let mut sent_any = false;
        for _ in 0..BATCH {
            let cursor = self.shared.cursor.load(Ordering::Acquire);
            if cursor >= due {
                break;
            }
            let eligible: Vec<usize> = (0..self.conns.len())
                .filter(|&i| {
                    let c = &self.conns[i];
                    c.subscribed && c.state == State::Active && !c.ended
                })
                .collect();
            if eligible.is_empty() && self.cfg.mode == Mode::Resume {
                break;
            }
            if !eligible.is_empty() {
                let line = match &self.cfg.endless {
                    Some(e) => (e.line)(cursor),
                    None => self.cfg.lines[cursor].clone(),
                };
                for i in eligible {
                    self.send_message(i, cursor, &line);
                }
            }
            self.shared.cursor.store(cursor + 1, Ordering::Release);
            sent_any = true;
        }
        sent_any
    }

    fn send_message(&mut self, i: usize, idx: usize, line: &[u8]) {
        let f = self.cfg.faults.clone();
        let c = &mut self.conns[i];
        let nth = c.sent + 1;
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut pings: Vec<[u8; 8]> = Vec::new();
        let fragmented = match f.fragment_every {
            Some((k, parts)) if k > 0 && nth.is_multiple_of(k) && parts > 1 && line.len() >= 2 => {
                let parts = parts.min(line.len());
                let step = line.len().div_ceil(parts);
                let chunks: Vec<&[u8]> = line.chunks(step).collect();
                for (j, ch) in chunks.iter().enumerate() {
                    let op = if j == 0 { 0x1 } else { 0x0 };
                    frames.push(frame(j + 1 == chunks.len(), op, ch));
                    if j == 0 && f.ping_between_fragments {
                        c.ping_counter += 1;
                        let p = c.ping_counter.to_be_bytes();
                        frames.push(frame(true, 0x9, &p));
                        pings.push(p);
                    }
                }
                true
            }
            _ => {
                frames.push(frame(true, 0x1, line));
                false
            }
        };
        let mut ok = true;
        for fr in &frames {
            if c.stream.write_all(fr).is_err() {
                ok = false;
                break;
            }
        }
        if !ok {
            c.ended = true;
            return;
        }
        c.pending_pings.extend(pings.iter().copied());
        c.sent = nth;
        let rec = c.rec;
        let npings = pings.len() as u64;
        self.record(rec, |r| {
            r.sent += 1;
            r.first.get_or_insert(idx);
            r.last = Some(idx);
            r.pings_sent += npings;
            r.fragmented_sent += u64::from(fragmented);
        });

        let c = &mut self.conns[i];
        let mut extra_pings = 0;
        if f.ping_every.is_some_and(|n| n > 0 && nth.is_multiple_of(n)) {
            c.ping_counter += 1;
            let p = c.ping_counter.to_be_bytes();
            if c.stream.write_all(&frame(true, 0x9, &p)).is_err() {
                c.ended = true;
                return;
            }
            c.pending_pings.push_back(p);
            extra_pings += 1;
        }
        let mut garbage = 0;
        if let Some((n, kind)) = f.garbage {
            if nth == n {
                if c.stream.write_all(&kind.frame()).is_err() {
                    c.ended = true;
                    return;
                }
                garbage += 1;
                if kind.fatal() {
                    c.state = State::Closing(Instant::now());
                }
            }
        }
        if let Some((n, code)) = f.close_after {
            if nth == n && !matches!(c.state, State::Closing(_)) {
                let _ = c.stream.write_all(&frame(true, 0x8, &code.to_be_bytes()));
                c.state = State::Closing(Instant::now());
            }
        }
        if let Some((n, ms)) = f.stall {
            if nth == n && c.state == State::Active {
                c.state = State::Stalled(Instant::now() + Duration::from_millis(ms));
            }
        }
        let kill_here = f.kill_every.is_some_and(|n| n > 0 && nth.is_multiple_of(n))
            || f.kill_on_lines
                .is_some_and(|(p, ph)| p > 0 && idx % p == ph)
            || f.at_lines.contains(&(idx, LineFault::Kill));
        for &(at, fault) in &f.at_lines {
            if at != idx || !matches!(c.state, State::Active) {
                continue;
            }
            match fault {
                LineFault::Kill => {}
                LineFault::Stall(ms) => {
                    c.state = State::Stalled(Instant::now() + Duration::from_millis(ms));
                }
                LineFault::Garbage(kind) => {
                    if c.stream.write_all(&kind.frame()).is_err() {
                        c.ended = true;
                        return;
                    }
                    garbage += 1;
                    if kind.fatal() {
                        c.state = State::Closing(Instant::now());
                    }
                }
            }
        }
        if kill_here && !c.shut {
            let _ = c.stream.sock().shutdown(Shutdown::Write);
            c.shut = true;
            c.state = State::Closing(Instant::now());
        }
        if extra_pings + garbage > 0 {
            self.record(rec, |r| {
                r.pings_sent += extra_pings;
                r.garbage_sent += garbage;
            });
        }
    }
}

fn record(shared: &Shared, i: usize, f: impl FnOnce(&mut ConnRecord)) {
    f(&mut shared.records.lock().unwrap()[i]);
}

/// Reads and handles the client's frames on connection `i`.
fn service(c: &mut Conn, shared: &Shared) {
    let mut tmp = [0u8; 4096];
    loop {
        match c.stream.read_nb(&mut tmp) {
            Ok(0) => {
                c.ended = true;
                break;
            }
            Ok(n) => c.rbuf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.ended = true;
                break;
            }
        }
    }
    parse_client_frames(c, shared);
}

fn parse_client_frames(c: &mut Conn, shared: &Shared) {
    loop {
        let b = &c.rbuf;
        if b.len() < 2 {
            return;
        }
        let op = b[0] & 0x0F;
        if b[1] & 0x80 == 0 {
            // Clients must mask: a protocol violation ends the connection.
            c.ended = true;
            return;
        }
        let (hlen, len) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
            127 if b.len() >= 10 => (
                10,
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            ),
            126 | 127 => return,
            n => (2, n as usize),
        };
        if b.len() < hlen + 4 + len {
            return;
        }
        let mask = [b[hlen], b[hlen + 1], b[hlen + 2], b[hlen + 3]];
        let payload: Vec<u8> = b[hlen + 4..hlen + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, x)| x ^ mask[i % 4])
            .collect();
        c.rbuf.drain(..hlen + 4 + len);
        match op {
            0x1 => {
                c.subscribed = true;
                let s = String::from_utf8_lossy(&payload).to_string();
                record(shared, c.rec, |r| r.subscribes.push(s));
            }
            0x9 => {
                record(shared, c.rec, |r| r.client_pings += 1);
                if c.stream.write_all(&frame(true, 0xA, &payload)).is_err() {
                    c.ended = true;
                }
            }
            0xA => {
                let ok = c
                    .pending_pings
                    .pop_front()
                    .is_some_and(|p| p[..] == payload[..]);
                record(shared, c.rec, |r| {
                    if ok {
                        r.pongs_ok += 1
                    } else {
                        r.pongs_bad += 1
                    }
                });
            }
            0x8 => {
                let code = if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                };
                record(shared, c.rec, |r| r.client_close = Some(code));
                if !matches!(c.state, State::Closing(_)) {
                    // Client-initiated close: echo it.
                    let _ = c
                        .stream
                        .write_all(&frame(true, 0x8, &payload[..payload.len().min(2)]));
                }
                c.ended = true;
                return;
            }
            _ => {}
        }
    }
}
