//! Binance spot's REST API, signed, timed and rate-limited.
//!
//! Every SIGNED request carries `timestamp` (the local clock corrected by the measured server
//! offset) and `recvWindow`, then `signature` over the exact query string sent. The offset is
//! measured with `GET /api/v3/time` (the server's time against the midpoint of the round
//! trip) at start and again whenever the venue answers -1021 (timestamp outside the window),
//! after which the request is sent once more.
//!
//! Before a request goes out the [`RateLimiter`] must admit it; a request it holds is not
//! sent (the caller decides whether to wait). With `dry_run`, nothing is sent: the exact
//! request line (method, path, parameters; no key, no signature) is recorded instead.

use std::time::Duration;

use super::http::{BaseUrl, HttpConn, HttpError, Response};
use super::keys::Credentials;
use super::rate::{RateLimiter, Wait};
use super::sign::percent_encode;

/// Why a call did not give a result.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The rate limiter held it (not sent).
    #[error("held by the rate limit for {ms} ms ({0:?})", ms = .0.ms())]
    Held(Wait),
    /// No response (the request may have reached the venue).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The venue refused it.
    #[error("{method} {path}: HTTP {status}, Binance error {code}: {msg}")]
    Api {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// HTTP status.
        status: u16,
        /// Binance error code (0 when the body had none).
        code: i64,
        /// Its message.
        msg: String,
    },
    /// A signed call without keys.
    #[error("{0}: a SIGNED endpoint needs API keys")]
    NoKeys(String),
    /// Dry run: recorded, not sent.
    #[error("dry run: not sent")]
    DryRun,
    /// The response body was not what the endpoint returns.
    #[error("{path}: unexpected response: {reason}")]
    Body {
        /// Path.
        path: String,
        /// What.
        reason: String,
    },
}

impl RestError {
    /// The Binance error code, if the venue refused the call.
    pub fn code(&self) -> Option<i64> {
        match self {
            RestError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// One call.
#[derive(Clone, Debug)]
pub struct Call {
    /// GET, POST, PUT or DELETE.
    pub method: &'static str,
    /// Path (`/api/v3/order`).
    pub path: String,
    /// Parameters in order (values unencoded).
    pub params: Vec<(String, String)>,
    /// Request weight.
    pub weight: u64,
    /// A new order (counts against the order limits).
    pub order: bool,
    /// SIGNED (timestamp, recvWindow, signature).
    pub signed: bool,
    /// Needs the API key header (SIGNED and USER_STREAM endpoints).
    pub keyed: bool,
}

impl Call {
    /// An unsigned, unkeyed call.
    pub fn public(method: &'static str, path: &str, weight: u64) -> Self {
        Self {
            method,
            path: path.to_string(),
            params: Vec::new(),
            weight,
            order: false,
            signed: false,
            keyed: false,
        }
    }

    /// A SIGNED call.
    pub fn signed(method: &'static str, path: &str, weight: u64) -> Self {
        Self {
            signed: true,
            keyed: true,
            ..Self::public(method, path, weight)
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, k: &str, v: impl Into<String>) -> Self {
        self.params.push((k.to_string(), v.into()));
        self
    }
}

/// Milliseconds since the epoch, the local wall clock.
pub fn wall_ms() -> u64 {
    crate::core::clock::wall_ns() / 1_000_000
}

/// The REST client.
pub struct RestClient {
    http: HttpConn,
    creds: Option<Credentials>,
    /// Rate limits.
    pub limiter: RateLimiter,
    recv_window_ms: u64,
    /// Server time minus local time, ms.
    pub offset_ms: i64,
    /// When set, calls are recorded here instead of sent.
    pub dry_run: Option<Vec<String>>,
    /// Requests sent.
    pub sent: u64,
    /// Time resyncs forced by -1021.
    pub resyncs: u64,
}

impl RestClient {
    /// A client for `base` with `creds` (none: public endpoints only).
    pub fn new(
        base: &str,
        creds: Option<Credentials>,
        limiter: RateLimiter,
        recv_window_ms: u64,
        timeout: Duration,
    ) -> Result<Self, HttpError> {
        Ok(Self {
            http: HttpConn::new(BaseUrl::parse(base)?, timeout)?,
            creds,
            limiter,
            recv_window_ms,
            offset_ms: 0,
            dry_run: None,
            sent: 0,
            resyncs: 0,
        })
    }

    /// The keys' hint (`…abcd`), for the journal.
    pub fn key_hint(&self) -> Option<String> {
        self.creds.as_ref().map(Credentials::key_hint)
    }

    /// Measures the server clock offset with `GET /api/v3/time`.
    pub fn sync_time(&mut self) -> Result<i64, RestError> {
        let before = wall_ms();
        let r = self.send(&Call::public("GET", "/api/v3/time", 1))?;
        let after = wall_ms();
        let v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|e| RestError::Body {
                path: "/api/v3/time".into(),
                reason: e.to_string(),
            })?;
        let server = v["serverTime"].as_i64().ok_or_else(|| RestError::Body {
            path: "/api/v3/time".into(),
            reason: "no serverTime".into(),
        })?;
        let mid = (before + after) as i64 / 2;
        self.offset_ms = server - mid;
        Ok(self.offset_ms)
    }

    /// The query string of `call` as it will be signed and sent (signature last).
    fn query(&self, call: &Call, now_ms: u64) -> Result<String, RestError> {
        let mut q = String::new();
        for (k, v) in &call.params {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(k);
            q.push('=');
            q.push_str(&percent_encode(v));
        }
        if call.signed {
            let Some(c) = &self.creds else {
                return Err(RestError::NoKeys(call.path.clone()));
            };
            if !q.is_empty() {
                q.push('&');
            }
            let ts = (now_ms as i64).saturating_add(self.offset_ms).max(0);
            q.push_str(&format!(
                "recvWindow={}&timestamp={ts}",
                self.recv_window_ms
            ));
            let sig = c.signer().sign(q.as_bytes());
            q.push_str("&signature=");
            q.push_str(&sig);
        }
        Ok(q)
    }

    /// Sends `call` once (no rate-limit wait): the response of a 2xx, or the venue's error.
    pub fn send(&mut self, call: &Call) -> Result<Response, RestError> {
        match self.send_once(call) {
            Err(RestError::Api { code: -1021, .. }) if call.signed => {
                // Our clock and the venue's drifted apart: measure again, send again.
                self.resyncs += 1;
                self.sync_time()?;
                self.send_once(call)
            }
            r => r,
        }
    }

    fn send_once(&mut self, call: &Call) -> Result<Response, RestError> {
        if let Some(log) = &mut self.dry_run {
            let shown: Vec<String> = call
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            log.push(format!(
                "{} {}{}{}",
                call.method,
                call.path,
                if shown.is_empty() { "" } else { "?" },
                shown.join("&")
            ));
            return Err(RestError::DryRun);
        }
        let now = wall_ms();
        self.limiter
            .try_acquire(now, call.weight, call.order)
            .map_err(RestError::Held)?;
        let q = self.query(call, now)?;
        let target = if q.is_empty() {
            call.path.clone()
        } else {
            format!("{}?{q}", call.path)
        };
        let key = if call.keyed {
            match &self.creds {
                Some(c) => Some(c.api_key().to_string()),
                None => return Err(RestError::NoKeys(call.path.clone())),
            }
        } else {
            None
        };
        let headers: Vec<(&str, &str)> = key.iter().map(|k| ("X-MBX-APIKEY", k.as_str())).collect();
        self.sent += 1;
        let r = self.http.send(call.method, &target, &headers, b"")?;
        self.limiter.on_response(wall_ms(), r.status, &r.headers);
        if r.status >= 400 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            return Err(RestError::Api {
                method: call.method,
                path: call.path.clone(),
                status: r.status,
                code: v["code"].as_i64().unwrap_or(0),
                msg: v["msg"].as_str().map_or_else(
                    || String::from_utf8_lossy(&r.body).chars().take(200).collect(),
                    String::from,
                ),
            });
        }
        Ok(r)
    }

    /// Sends `call`, waiting (sleeping) while the rate limiter holds it or the venue has asked
    /// for a back-off, up to `max_wait` in all; a 429 or 418 answer is waited out the same way
    /// (it is never sent again before the time the venue gave).
    pub fn send_waiting(&mut self, call: &Call, max_wait: Duration) -> Result<Response, RestError> {
        let deadline = std::time::Instant::now() + max_wait;
        loop {
            let wait = match self.send(call) {
                Err(RestError::Held(w)) => w,
                Err(RestError::Api {
                    status: 429 | 418, ..
                }) => match self.limiter.try_acquire(wall_ms(), 0, false) {
                    Err(w) => w,
                    Ok(()) => continue,
                },
                r => return r,
            };
            let now = std::time::Instant::now();
            let d = Duration::from_millis(wait.ms().max(1));
            if now + d > deadline {
                return Err(RestError::Held(wait));
            }
            std::thread::sleep(d);
        }
    }
}

/// The calls the live venue makes, with Binance's weights.
pub mod calls {
    use super::Call;
    use crate::core::num::format_scaled;
    use crate::core::{OrderType, Side};

    /// `POST /api/v3/order`: a LIMIT (GTC), LIMIT_MAKER (post-only) or MARKET order, its
    /// price and quantity exact decimals, `newClientOrderId` the engine's id.
    pub fn new_order(
        symbol: &str,
        side: Side,
        kind: OrderType,
        post_only: bool,
        price: i64,
        qty: i64,
        client_id: &str,
    ) -> Call {
        let mut c = Call::signed("POST", "/api/v3/order", 1)
            .param("symbol", symbol)
            .param("side", if side == Side::Buy { "BUY" } else { "SELL" });
        c.order = true;
        c = match (kind, post_only) {
            (OrderType::Market, _) => c.param("type", "MARKET"),
            (OrderType::Limit, true) => c
                .param("type", "LIMIT_MAKER")
                .param("price", format_scaled(price, 8)),
            (OrderType::Limit, false) => c
                .param("type", "LIMIT")
                .param("timeInForce", "GTC")
                .param("price", format_scaled(price, 8)),
        };
        c.param("quantity", format_scaled(qty, 8))
            .param("newClientOrderId", client_id)
            .param("newOrderRespType", "RESULT")
    }

    /// `DELETE /api/v3/order` by client id.
    pub fn cancel_order(symbol: &str, client_id: &str) -> Call {
        Call::signed("DELETE", "/api/v3/order", 1)
            .param("symbol", symbol)
            .param("origClientOrderId", client_id)
    }

    /// `GET /api/v3/order` by client id.
    pub fn query_order(symbol: &str, client_id: &str) -> Call {
        Call::signed("GET", "/api/v3/order", 4)
            .param("symbol", symbol)
            .param("origClientOrderId", client_id)
    }

    /// `GET /api/v3/openOrders` for one symbol.
    pub fn open_orders(symbol: &str) -> Call {
        Call::signed("GET", "/api/v3/openOrders", 6).param("symbol", symbol)
    }

    /// `GET /api/v3/account`.
    pub fn account() -> Call {
        Call::signed("GET", "/api/v3/account", 20)
    }

    /// `POST /api/v3/userDataStream`: a listen key (USER_STREAM: the key header, no
    /// signature).
    pub fn listen_key_new() -> Call {
        Call {
            keyed: true,
            ..Call::public("POST", "/api/v3/userDataStream", 2)
        }
    }

    /// `PUT /api/v3/userDataStream`: keeps a listen key alive (every 30 minutes).
    pub fn listen_key_keepalive(key: &str) -> Call {
        Call {
            keyed: true,
            ..Call::public("PUT", "/api/v3/userDataStream", 2)
        }
        .param("listenKey", key)
    }

    /// `DELETE /api/v3/userDataStream`: closes a listen key.
    pub fn listen_key_close(key: &str) -> Call {
        Call {
            keyed: true,
            ..Call::public("DELETE", "/api/v3/userDataStream", 2)
        }
        .param("listenKey", key)
    }

    /// `GET /api/v3/myTrades`: recent fills of one symbol (reconciliation).
    pub fn my_trades(symbol: &str, from_id: Option<u64>) -> Call {
        let c = Call::signed("GET", "/api/v3/myTrades", 20).param("symbol", symbol);
        match from_id {
            Some(id) => c.param("fromId", id.to_string()),
            None => c,
        }
    }

    /// `GET /api/v3/exchangeInfo` for some symbols (all when empty).
    pub fn exchange_info(symbols: &[&str]) -> Call {
        let c = Call::public("GET", "/api/v3/exchangeInfo", 20);
        match symbols {
            [] => c,
            [one] => c.param("symbol", *one),
            many => c.param(
                "symbols",
                format!(
                    "[{}]",
                    many.iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
        }
    }
}

impl RestClient {
    /// Fetches `exchangeInfo` and puts its rate limits in force (`headroom_pct` of each).
    pub fn load_exchange_info(
        &mut self,
        symbols: &[&str],
        headroom_pct: u64,
    ) -> Result<super::filters::ExchangeInfo, RestError> {
        let call = calls::exchange_info(symbols);
        let r = self.send(&call)?;
        let info =
            super::filters::ExchangeInfo::parse(&r.body).map_err(|reason| RestError::Body {
                path: call.path.clone(),
                reason,
            })?;
        let mut limiter = RateLimiter::new(&info.rate_limits, headroom_pct);
        // This call counts in the new windows too.
        let _ = limiter.try_acquire(wall_ms(), call.weight, false);
        limiter.on_response(wall_ms(), r.status, &r.headers);
        self.limiter = limiter;
        Ok(info)
    }
}
