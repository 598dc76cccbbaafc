//! The byte stream under a WebSocket: plain TCP or TLS (rustls), and the connector that opens
//! one (TCP connect, TLS handshake, HTTP Upgrade, subscribe frames) on a short-lived thread.
//!
//! The connector blocks (with timeouts) and allocates freely; it hands back a stream that is
//! already non-blocking, so the feed thread only ever reads until `WouldBlock`.
//!
//! TLS reads go through rustls's buffered `ClientConnection`, which copies each decrypted TLS
//! record into a fresh heap chunk: over `wss://` the feed thread makes about two heap calls
//! per TLS record (not per message; a record carries up to 16 KiB). Plain `ws://` makes none.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConnection;

use super::frame::{encode_client_frame, MAX_HEADER, OP_TEXT};
use super::handshake::{self, HandshakeError, MAX_RESPONSE_HEAD};
use super::url::WsUrl;
use super::{DisconnectReason, Rng};

/// A TLS session over its socket.
pub(crate) struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
}

/// An established stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// One non-blocking read.
pub(crate) enum ReadOutcome {
    Data(usize),
    WouldBlock,
    Eof,
    Failed(DisconnectReason),
}

fn io_reason(e: &io::Error) -> DisconnectReason {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => DisconnectReason::Reset,
        io::ErrorKind::UnexpectedEof => DisconnectReason::Eof,
        io::ErrorKind::InvalidData => DisconnectReason::Tls,
        k => DisconnectReason::Io(k),
    }
}

impl Transport {
    fn sock(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    /// Reads what is available into `buf` (non-empty) without blocking.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> ReadOutcome {
        debug_assert!(!buf.is_empty());
        match self {
            Transport::Plain(s) => loop {
                return match s.read(buf) {
                    Ok(0) => ReadOutcome::Eof,
                    Ok(n) => ReadOutcome::Data(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => ReadOutcome::Failed(io_reason(&e)),
                };
            },
            Transport::Tls(t) => loop {
                match t.conn.reader().read(buf) {
                    Ok(0) => return ReadOutcome::Eof,
                    Ok(n) => return ReadOutcome::Data(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return ReadOutcome::Failed(io_reason(&e)),
                }
                match t.conn.read_tls(&mut t.sock) {
                    // EOF is recorded inside rustls; the plaintext reader reports it next turn.
                    Ok(_) => {
                        if t.conn.process_new_packets().is_err() {
                            // Send the alert rustls queued, best effort.
                            let _ = t.conn.write_tls(&mut t.sock);
                            return ReadOutcome::Failed(DisconnectReason::Tls);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return ReadOutcome::WouldBlock
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return ReadOutcome::Failed(io_reason(&e)),
                }
            },
        }
    }

    /// Writes as much of `data` as the socket (or the TLS buffer) takes now.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<usize, DisconnectReason> {
        match self {
            Transport::Plain(s) => loop {
                return match s.write(data) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(io_reason(&e)),
                };
            },
            Transport::Tls(t) => {
                let n = t.conn.writer().write(data).map_err(|e| io_reason(&e))?;
                self.flush()?;
                Ok(n)
            }
        }
    }

    /// Pushes encrypted bytes rustls still holds (TLS only; plain TCP holds none).
    pub(crate) fn flush(&mut self) -> Result<(), DisconnectReason> {
        if let Transport::Tls(t) = self {
            while t.conn.wants_write() {
                match t.conn.write_tls(&mut t.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_reason(&e)),
                }
            }
        }
        Ok(())
    }

    /// Closes the stream: TLS `close_notify` (best effort), then both TCP directions.
    pub(crate) fn close(&mut self) {
        if let Transport::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.conn.write_tls(&mut t.sock);
        }
        let _ = self.sock().shutdown(Shutdown::Both);
    }

    fn write_all_blocking(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.write_all(data),
            Transport::Tls(t) => {
                let mut s = rustls::Stream::new(&mut t.conn, &mut t.sock);
                s.write_all(data)?;
                s.flush()
            }
        }
    }

    fn read_blocking(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => rustls::Stream::new(&mut t.conn, &mut t.sock).read(buf),
        }
    }
}

/// Everything the connector thread needs, owned.
pub(crate) struct ConnectSpec {
    pub url: WsUrl,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub timeout: Duration,
    pub subscribe: Arc<[String]>,
    pub seed: u64,
}

/// A stream past the Upgrade, subscribed, non-blocking.
pub(crate) struct Established {
    pub transport: Transport,
    /// Bytes that arrived right behind the response head (the first frames).
    pub leftover: Vec<u8>,
    /// Subscribe frames sent.
    pub subscribed: u32,
}

/// Maps an I/O error during connect or handshake, where a timeout means the connect timeout.
fn connect_reason(e: &io::Error) -> DisconnectReason {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DisconnectReason::ConnectTimeout,
        io::ErrorKind::UnexpectedEof => DisconnectReason::Handshake(HandshakeError::Eof),
        _ => io_reason(e),
    }
}

/// The remaining time to `deadline`, or the connect-timeout reason once it has passed.
fn remaining(deadline: Instant) -> Result<Duration, DisconnectReason> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        Err(DisconnectReason::ConnectTimeout)
    } else {
        Ok(left)
    }
}

/// Opens, upgrades and subscribes one connection. Blocking; call it on a connector thread.
pub(crate) fn connect(spec: &ConnectSpec) -> Result<Established, DisconnectReason> {
    let deadline = Instant::now() + spec.timeout;
    let mut rng = Rng::new(spec.seed);
    let addrs = (spec.url.host.as_str(), spec.url.port)
        .to_socket_addrs()
        .map_err(|_| DisconnectReason::Resolve)?;
    let mut last = DisconnectReason::Resolve;
    let mut sock = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                last = DisconnectReason::ConnectTimeout
            }
            Err(e) => last = DisconnectReason::ConnectFailed(e.kind()),
        }
    }
    let sock = sock.ok_or(last)?;
    let io = |e: io::Error| connect_reason(&e);
    sock.set_nodelay(true).map_err(io)?;
    let set_timeouts = |s: &TcpStream| -> Result<(), DisconnectReason> {
        let left = remaining(deadline)?;
        s.set_read_timeout(Some(left)).map_err(io)?;
        s.set_write_timeout(Some(left)).map_err(io)
    };
    set_timeouts(&sock)?;

    let mut transport = match &spec.tls {
        None => Transport::Plain(sock),
        Some(cfg) => {
            let name =
                ServerName::try_from(spec.url.host.clone()).map_err(|_| DisconnectReason::Tls)?;
            let conn =
                ClientConnection::new(cfg.clone(), name).map_err(|_| DisconnectReason::Tls)?;
            let mut t = TlsStream { conn, sock };
            while t.conn.is_handshaking() {
                set_timeouts(&t.sock)?;
                t.conn.complete_io(&mut t.sock).map_err(io)?;
            }
            Transport::Tls(Box::new(t))
        }
    };

    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    random[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let key = handshake::generate_key(random);
    set_timeouts(transport.sock())?;
    transport
        .write_all_blocking(handshake::request(&spec.url, &key).as_bytes())
        .map_err(io)?;

    let mut buf = vec![0u8; MAX_RESPONSE_HEAD];
    let mut filled = 0;
    let head = loop {
        if let Some(n) = handshake::head_len(&buf[..filled]) {
            break n;
        }
        if filled == buf.len() {
            return Err(DisconnectReason::Handshake(HandshakeError::TooLarge));
        }
        set_timeouts(transport.sock())?;
        match transport.read_blocking(&mut buf[filled..]) {
            Ok(0) => return Err(DisconnectReason::Handshake(HandshakeError::Eof)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    };
    handshake::check_response(&buf[..head], &key).map_err(DisconnectReason::Handshake)?;
    let leftover = buf[head..filled].to_vec();

    let mut frame = Vec::new();
    for text in spec.subscribe.iter() {
        frame.resize(text.len() + MAX_HEADER, 0);
        let n = encode_client_frame(&mut frame, OP_TEXT, text.as_bytes(), rng.mask())
            .expect("sized for the frame");
        set_timeouts(transport.sock())?;
        transport.write_all_blocking(&frame[..n]).map_err(io)?;
    }

    let s = transport.sock();
    s.set_read_timeout(None).map_err(io)?;
    s.set_write_timeout(None).map_err(io)?;
    s.set_nonblocking(true).map_err(io)?;
    Ok(Established {
        transport,
        leftover,
        subscribed: spec.subscribe.len() as u32,
    })
}
