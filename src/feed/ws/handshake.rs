//! The HTTP/1.1 Upgrade handshake, client side (RFC 6455 §4.1): the request, and the checks on
//! the server's `101 Switching Protocols` answer. Runs on the connector thread (cold).

use base64::Engine as _;

use super::url::WsUrl;

/// The GUID RFC 6455 appends to the key before hashing.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest response head accepted.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Why the server's answer to the Upgrade request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// A status other than 101 (carried; 0 if the status line did not parse).
    Status(u16),
    /// No `Upgrade: websocket` header.
    NoUpgrade,
    /// No `Connection: upgrade` token.
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Accept` missing or not the hash of our key.
    BadAccept,
    /// The server chose an extension or subprotocol we did not offer.
    Unrequested,
    /// The response head was bigger than [`MAX_RESPONSE_HEAD`].
    TooLarge,
    /// The connection closed before the response head was complete.
    Eof,
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
pub fn generate_key(random: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(random)
}

/// The `Sec-WebSocket-Accept` a server must answer to `key`.
pub fn accept_for(key: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.digest().bytes())
}

/// The Upgrade request.
pub fn request(url: &WsUrl, key: &str) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: tickwire\r\n\r\n",
        url.resource,
        url.host_header()
    )
}

/// Length of the response head including its final blank line, once it is complete.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Checks a complete response head (status line and headers) against our `key`.
pub fn check_response(head: &[u8], key: &str) -> Result<(), HandshakeError> {
    let text = std::str::from_utf8(head).map_err(|_| HandshakeError::Status(0))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    if !version.starts_with("HTTP/1.") || status != 101 {
        return Err(HandshakeError::Status(status));
    }
    let (mut upgrade, mut connection, mut accept_ok) = (false, false, false);
    let want = accept_for(key);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade |= value.eq_ignore_ascii_case("websocket"),
            "connection" => {
                connection |= value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            }
            "sec-websocket-accept" => accept_ok = value == want,
            "sec-websocket-extensions" | "sec-websocket-protocol" => {
                return Err(HandshakeError::Unrequested)
            }
            _ => {}
        }
    }
    if !upgrade {
        return Err(HandshakeError::NoUpgrade);
    }
    if !connection {
        return Err(HandshakeError::NoConnectionUpgrade);
    }
    if !accept_ok {
        return Err(HandshakeError::BadAccept);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matches_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            generate_key(*b"the sample nonce"),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
    }

    #[test]
    fn request_has_the_required_headers() {
        let url = WsUrl::parse("wss://stream.binance.com:9443/ws?x=1").unwrap();
        let r = request(&url, "KEY");
        assert!(r.starts_with("GET /ws?x=1 HTTP/1.1\r\nHost: stream.binance.com:9443\r\n"));
        for h in [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: KEY",
            "Sec-WebSocket-Version: 13",
        ] {
            assert!(r.contains(h), "{h}");
        }
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(head_len(good.as_bytes()), Some(good.len()));
        assert_eq!(head_len(&good.as_bytes()[..good.len() - 1]), None);
        assert_eq!(check_response(good.as_bytes(), key), Ok(()));
        let cases = [
            (
                good.replace("101 Switching Protocols", "403 Forbidden"),
                HandshakeError::Status(403),
            ),
            ("garbage\r\n\r\n".to_string(), HandshakeError::Status(0)),
            (
                good.replace("upgrade: WebSocket\r\n", ""),
                HandshakeError::NoUpgrade,
            ),
            (
                good.replace("keep-alive, Upgrade", "close"),
                HandshakeError::NoConnectionUpgrade,
            ),
            (
                good.replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "nope"),
                HandshakeError::BadAccept,
            ),
            (
                good.replace(
                    "\r\n\r\n",
                    "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                ),
                HandshakeError::Unrequested,
            ),
        ];
        for (resp, want) in cases {
            assert_eq!(check_response(resp.as_bytes(), key), Err(want), "{resp}");
        }
    }
}
