//! A small blocking HTTP/1.1 client for the venue's REST API: one kept-alive connection,
//! plain TCP (the local mock venue) or TLS (rustls, webpki roots), `Content-Length` and
//! chunked bodies, a timeout on every read and write.
//!
//! It runs on the venue's I/O thread, never on a hot one. A request that fails on a
//! connection that was kept alive is sent once more on a fresh one (the server may have
//! closed it while idle); new orders carry their `newClientOrderId`, which the venue refuses
//! twice, so a resend cannot double an order.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest response head.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body (exchangeInfo for every symbol is a few MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The base URL is not `http://host[:port]` or `https://host[:port]`.
    #[error("bad base URL {0:?}: expected http://host[:port] or https://host[:port]")]
    Url(String),
    /// Could not connect.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// host:port.
        addr: String,
        /// Cause.
        reason: String,
    },
    /// The connection failed during the exchange (the request may or may not have reached
    /// the venue).
    #[error("connection to {addr} failed: {reason}")]
    Io {
        /// host:port.
        addr: String,
        /// Cause.
        reason: String,
    },
    /// The response was not HTTP/1.1.
    #[error("malformed response from {addr}: {reason}")]
    Malformed {
        /// host:port.
        addr: String,
        /// What.
        reason: String,
    },
}

/// A base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    /// https.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl BaseUrl {
    /// Parses `http[s]://host[:port]` (a trailing `/` is allowed; no path).
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = || HttpError::Url(url.to_string());
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(bad());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (h, p.parse().map_err(|_| bad())?),
            Some(_) => return Err(bad()),
            None => (rest, if tls { 443 } else { 80 }),
        };
        Ok(Self {
            tls,
            host: host.to_string(),
            port,
        })
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A response.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One kept-alive connection to a base URL.
pub struct HttpConn {
    base: BaseUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    stream: Option<Stream>,
    timeout: Duration,
    /// Connections opened so far.
    pub connects: u64,
}

impl HttpConn {
    /// A client for `base`; connects on the first request.
    pub fn new(base: BaseUrl, timeout: Duration) -> Result<Self, HttpError> {
        let tls = if base.tls {
            Some(
                crate::feed::ws::tls_config(&[]).map_err(|e| HttpError::Connect {
                    addr: base.addr(),
                    reason: e.to_string(),
                })?,
            )
        } else {
            None
        };
        Ok(Self {
            base,
            tls,
            stream: None,
            timeout,
            connects: 0,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    fn connect(&mut self) -> Result<Stream, HttpError> {
        let addr = self.base.addr();
        let err = |reason: String| HttpError::Connect {
            addr: addr.clone(),
            reason,
        };
        let sa = addr
            .to_socket_addrs()
            .map_err(|e| err(e.to_string()))?
            .next()
            .ok_or_else(|| err("no address".into()))?;
        let sock = TcpStream::connect_timeout(&sa, self.timeout).map_err(|e| err(e.to_string()))?;
        let _ = sock.set_nodelay(true);
        sock.set_read_timeout(Some(self.timeout))
            .and_then(|_| sock.set_write_timeout(Some(self.timeout)))
            .map_err(|e| err(e.to_string()))?;
        self.connects += 1;
        match &self.tls {
            None => Ok(Stream::Plain(sock)),
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(self.base.host.clone())
                    .map_err(|e| err(e.to_string()))?;
                let conn = rustls::ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| err(e.to_string()))?;
                Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
            }
        }
    }

    /// Sends one request (`target`: path and query) and reads its response.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        let mut req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tickwire/{}\r\nAccept: application/json\r\nConnection: keep-alive\r\n",
            self.base.host,
            env!("CARGO_PKG_VERSION")
        );
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT") {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        let reused = self.stream.is_some();
        match self.exchange(&bytes) {
            Ok(r) => Ok(r),
            Err(e) if reused && matches!(e, HttpError::Io { .. }) => {
                // The kept-alive connection had gone: once more on a fresh one.
                self.stream = None;
                self.exchange(&bytes)
            }
            Err(e) => Err(e),
        }
    }

    fn exchange(&mut self, request: &[u8]) -> Result<Response, HttpError> {
        let mut s = match self.stream.take() {
            Some(s) => s,
            None => self.connect()?,
        };
        let addr = self.base.addr();
        let io = |e: std::io::Error| HttpError::Io {
            addr: addr.clone(),
            reason: e.to_string(),
        };
        s.write_all(request).map_err(io)?;
        s.flush().map_err(io)?;
        let (resp, keep) = read_response(&mut s, &addr)?;
        if keep {
            self.stream = Some(s);
        }
        Ok(resp)
    }
}

/// Reads one response; returns it and whether the connection may be kept.
fn read_response(s: &mut impl Read, addr: &str) -> Result<(Response, bool), HttpError> {
    let bad = |reason: String| HttpError::Malformed {
        addr: addr.to_string(),
        reason,
    };
    let io = |e: std::io::Error| HttpError::Io {
        addr: addr.to_string(),
        reason: e.to_string(),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("response head too large".into()));
        }
        let n = s.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("header line {l:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mut keep = version == "HTTP/1.1" && get("connection").as_deref() != Some("close");
    let mut rest = buf[head_end..].to_vec();
    let body = if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(s, rest, addr)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("content-length {len:?}")))?;
        if len > MAX_BODY {
            return Err(bad(format!("body of {len} bytes")));
        }
        while rest.len() < len {
            let n = s.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else {
        // No length: the body runs to the end of the connection.
        keep = false;
        loop {
            let n = s.read(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
            if rest.len() > MAX_BODY {
                return Err(bad("body too large".into()));
            }
        }
        rest
    };
    Ok((
        Response {
            status,
            headers,
            body,
        },
        keep,
    ))
}

fn read_chunked(s: &mut impl Read, mut buf: Vec<u8>, addr: &str) -> Result<Vec<u8>, HttpError> {
    let bad = |reason: &str| HttpError::Malformed {
        addr: addr.to_string(),
        reason: reason.to_string(),
    };
    let io = |e: std::io::Error| HttpError::Io {
        addr: addr.to_string(),
        reason: e.to_string(),
    };
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut fill = |buf: &mut Vec<u8>, s: &mut dyn Read| -> Result<(), HttpError> {
        let n = s.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    loop {
        let line_end = loop {
            if let Some(i) = memchr::memmem::find(&buf, b"\r\n") {
                break i;
            }
            if buf.len() > 1024 {
                return Err(bad("chunk size line too long"));
            }
            fill(&mut buf, s)?;
        };
        let size_text = std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            while memchr::memmem::find(&buf, b"\r\n").is_none() {
                fill(&mut buf, s)?;
            }
            return Ok(out);
        }
        if out.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        while buf.len() < size + 2 {
            fill(&mut buf, s)?;
        }
        out.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            BaseUrl::parse("https://api.binance.com").unwrap(),
            BaseUrl {
                tls: true,
                host: "api.binance.com".into(),
                port: 443
            }
        );
        assert_eq!(BaseUrl::parse("http://127.0.0.1:8080/").unwrap().port, 8080);
        for bad in [
            "ftp://x",
            "http://",
            "http://x/api",
            "http://:80",
            "http://x:port",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_with_length_chunks_or_neither() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-MBX-USED-WEIGHT-1M: 3\r\n\r\nhello";
        let (resp, keep) = read_response(&mut &r[..], "a").unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (200, &b"hello"[..], true)
        );
        assert_eq!(resp.header("x-mbx-used-weight-1m"), Some("3"));
        let r = b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let (resp, _) = read_response(&mut &r[..], "a").unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (429, &b"abcde"[..]));
        let r = b"HTTP/1.0 200 OK\r\n\r\nto the end";
        let (resp, keep) = read_response(&mut &r[..], "a").unwrap();
        assert_eq!((resp.body.as_slice(), keep), (&b"to the end"[..], false));
        for bad in [
            &b"SMTP 200\r\n\r\n"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(read_response(&mut &bad[..], "a").is_err());
        }
    }
}
