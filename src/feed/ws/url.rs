//! `ws://` and `wss://` URLs (RFC 6455 §3): scheme, host (name, IPv4 or bracketed IPv6),
//! optional port (80 and 443 by default) and the resource name (path and query). Cold path.

/// Why a URL was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Neither `ws://` nor `wss://`.
    #[error("WebSocket URL {0:?} must start with ws:// or wss://")]
    Scheme(String),
    /// Nothing between the scheme and the path.
    #[error("WebSocket URL {0:?} has no host")]
    EmptyHost(String),
    /// Port not a number in 1..=65535.
    #[error("WebSocket URL {0:?} has a bad port")]
    BadPort(String),
    /// `[` without a matching `]`, or a bracketed host that is not an IPv6 address.
    #[error("WebSocket URL {0:?} has a malformed IPv6 host")]
    BadIpv6(String),
    /// `user@host` is not allowed.
    #[error("WebSocket URL {0:?} must not carry user information")]
    UserInfo(String),
    /// RFC 6455 forbids fragments in WebSocket URLs.
    #[error("WebSocket URL {0:?} must not have a #fragment")]
    Fragment(String),
    /// Whitespace, control or non-ASCII characters.
    #[error("WebSocket URL {0:?} contains whitespace, control or non-ASCII characters")]
    BadChar(String),
}

/// A parsed WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://` (TLS).
    pub secure: bool,
    /// Host name or address, without IPv6 brackets.
    pub host: String,
    /// Port (explicit, else 80 or 443).
    pub port: u16,
    /// Path and query, at least `/`.
    pub resource: String,
}

impl WsUrl {
    /// Parses `ws[s]://host[:port][/path][?query]`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let err = || url.to_string();
        if url.bytes().any(|b| b <= b' ' || b >= 0x7F) {
            return Err(UrlError::BadChar(err()));
        }
        // All ASCII (checked above), so any byte index is a char boundary.
        let lower = url[..url.len().min(6)].to_ascii_lowercase();
        let (secure, rest) = if lower.starts_with("wss://") {
            (true, &url[6..])
        } else if lower.starts_with("ws://") {
            (false, &url[5..])
        } else {
            return Err(UrlError::Scheme(err()));
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment(err()));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo(err()));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or_else(|| UrlError::BadIpv6(err()))?;
            let host = &v6[..close];
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(UrlError::BadIpv6(err()));
            }
            let after = &v6[close + 1..];
            let port = match after {
                "" => None,
                p if p.starts_with(':') => Some(&p[1..]),
                _ => return Err(UrlError::BadIpv6(err())),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::EmptyHost(err()));
        }
        if host.contains(['[', ']', ':']) && !authority.starts_with('[') {
            return Err(UrlError::BadIpv6(err()));
        }
        let port = match port {
            None => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(UrlError::BadPort(err())),
            },
        };
        let resource = if resource.is_empty() {
            "/".to_string()
        } else if resource.starts_with('?') {
            format!("/{resource}")
        } else {
            resource.to_string()
        };
        Ok(Self {
            secure,
            host: host.to_string(),
            port,
            resource,
        })
    }

    /// The `Host` header value: the host (bracketed if IPv6), with the port unless default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (bool, String, u16, String) {
        let u = WsUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (u.secure, u.host, u.port, u.resource)
    }

    #[test]
    fn parses_good_urls() {
        let t = |s: bool, h: &str, p: u16, r: &str| (s, h.to_string(), p, r.to_string());
        assert_eq!(
            ok("wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"),
            t(
                true,
                "stream.binance.com",
                9443,
                "/stream?streams=btcusdt@trade/ethusdt@trade"
            )
        );
        assert_eq!(
            ok("ws://127.0.0.1:8080/ws"),
            t(false, "127.0.0.1", 8080, "/ws")
        );
        assert_eq!(ok("ws://example.com"), t(false, "example.com", 80, "/"));
        assert_eq!(ok("wss://example.com"), t(true, "example.com", 443, "/"));
        assert_eq!(ok("WSS://Example.com/"), t(true, "Example.com", 443, "/"));
        assert_eq!(ok("ws://h?x=1"), t(false, "h", 80, "/?x=1"));
        assert_eq!(ok("ws://[::1]:9000/a"), t(false, "::1", 9000, "/a"));
        assert_eq!(ok("wss://[2001:db8::1]"), t(true, "2001:db8::1", 443, "/"));
    }

    #[test]
    fn host_header_omits_default_ports() {
        let h = |s: &str| WsUrl::parse(s).unwrap().host_header();
        assert_eq!(h("wss://a.b/x"), "a.b");
        assert_eq!(h("wss://a.b:443/x"), "a.b");
        assert_eq!(h("wss://a.b:9443/x"), "a.b:9443");
        assert_eq!(h("ws://a.b:443/x"), "a.b:443");
        assert_eq!(h("ws://[::1]:80"), "[::1]");
        assert_eq!(h("ws://[::1]:81"), "[::1]:81");
    }

    #[test]
    fn rejects_bad_urls() {
        use UrlError::*;
        type Case = (&'static str, fn(String) -> UrlError);
        let cases: &[Case] = &[
            ("http://example.com", Scheme),
            ("example.com", Scheme),
            ("ws:/example.com", Scheme),
            ("", Scheme),
            ("ws://", EmptyHost),
            ("ws:///path", EmptyHost),
            ("ws://:80/", EmptyHost),
            ("ws://h:0/", BadPort),
            ("ws://h:65536/", BadPort),
            ("ws://h:+80/", BadPort),
            ("ws://h:/", BadPort),
            ("ws://h:x/", BadPort),
            ("ws://[::1/", BadIpv6),
            ("ws://[nothost]/", BadIpv6),
            ("ws://[::1]x/", BadIpv6),
            ("ws://::1/", BadIpv6),
            ("ws://u:p@h/", UserInfo),
            ("ws://h/#frag", Fragment),
            ("ws://h/a b", BadChar),
            ("ws://h/\u{e9}", BadChar),
        ];
        for (s, want) in cases {
            assert_eq!(WsUrl::parse(s), Err(want(s.to_string())), "{s}");
        }
    }
}
