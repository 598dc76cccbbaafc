//! A local stand-in for Binance spot's REST API on 127.0.0.1, for tests.
//!
//! It implements the endpoints the live venue uses (`time`, `exchangeInfo`, `order` POST /
//! GET / DELETE, `openOrders`, `account`), checks every SIGNED request the way Binance
//! documents it (HMAC-SHA256 of the query string before `&signature=`, keyed by the test
//! secret, verified with `ring` here, not with tickwire's signer; the API key header; the
//! timestamp inside `recvWindow` of its own clock), counts request weight in one-second
//! windows against the limit it publishes in `exchangeInfo`, answers 429 with `Retry-After`
//! past it (or when a test asks), and 418 to a request sent during a back-off. It records
//! every request so tests can check what was sent, how it was signed and when.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The mock's settings.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// The API key it accepts.
    pub api_key: String,
    /// The secret it verifies signatures with.
    pub secret: String,
    /// REQUEST_WEIGHT per second it publishes and enforces.
    pub weight_per_s: u64,
    /// ORDERS per 10 s it publishes and enforces.
    pub orders_per_10s: u64,
    /// Requests (0-based, in arrival order) answered 429 whatever the weight.
    pub force_429: Vec<usize>,
    /// `Retry-After` of a 429, seconds.
    pub retry_after_s: u64,
    /// Added to its clock (ms).
    pub skew_ms: i64,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api_key: "test-api-key-0123456789".into(),
            secret: "test-secret-abcdefghijklmnopqrstuvwxyz".into(),
            weight_per_s: 1_000,
            orders_per_10s: 100,
            force_429: Vec::new(),
            retry_after_s: 1,
            skew_ms: 0,
        }
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string, as sent.
    pub query: String,
    /// The API key header, if any.
    pub api_key: Option<String>,
    /// A SIGNED request whose signature verified.
    pub signed_ok: bool,
    /// It carried a signature.
    pub signed: bool,
    /// The status answered.
    pub status: u16,
    /// When the answer was written.
    pub answered: Instant,
}

/// An order the mock holds.
#[derive(Clone, Debug)]
pub struct MockOrder {
    /// Venue id.
    pub order_id: u64,
    /// Client id.
    pub client_id: String,
    /// Symbol.
    pub symbol: String,
    /// BUY / SELL.
    pub side: String,
    /// LIMIT / MARKET / LIMIT_MAKER.
    pub kind: String,
    /// Price text.
    pub price: String,
    /// Quantity text.
    pub qty: String,
    /// NEW, CANCELED, …
    pub status: String,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    orders: Vec<MockOrder>,
    window_s: u64,
    window_weight: u64,
    max_window_weight: u64,
    order_window: u64,
    order_count: u64,
    over_limit: u64,
    backoff_until: Option<Instant>,
    during_backoff: u64,
    bad_signatures: u64,
}

/// The running mock.
pub struct MockVenue {
    /// `http://127.0.0.1:port`.
    pub url: String,
    cfg: MockConfig,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn now_ms(skew: i64) -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + skew
}

/// The exchangeInfo the mock publishes.
pub fn exchange_info(cfg: &MockConfig) -> String {
    format!(
        r#"{{"timezone":"UTC","serverTime":{},"rateLimits":[
{{"rateLimitType":"REQUEST_WEIGHT","interval":"SECOND","intervalNum":1,"limit":{}}},
{{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":{}}}],
"symbols":[{{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT",
"orderTypes":["LIMIT","LIMIT_MAKER","MARKET"],"filters":[
{{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"}},
{{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}},
{{"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}}]}}]}}"#,
        now_ms(cfg.skew_ms),
        cfg.weight_per_s,
        cfg.orders_per_10s
    )
}

impl MockVenue {
    /// Starts it on an ephemeral port.
    pub fn start(cfg: MockConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (cfg, state, stop) = (cfg.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let (cfg, state, stop) = (cfg.clone(), state.clone(), stop.clone());
                            std::thread::spawn(move || serve(sock, &cfg, &state, &stop));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
        }
        Self {
            url,
            cfg,
            state,
            stop,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Orders it holds.
    pub fn orders(&self) -> Vec<MockOrder> {
        self.state.lock().unwrap().orders.clone()
    }

    /// (most weight seen in one second, requests refused for the limit, requests sent during
    /// a back-off, bad signatures).
    pub fn limits(&self) -> (u64, u64, u64, u64) {
        let s = self.state.lock().unwrap();
        (
            s.max_window_weight,
            s.over_limit,
            s.during_backoff,
            s.bad_signatures,
        )
    }

    /// The settings.
    pub fn config(&self) -> &MockConfig {
        &self.cfg
    }
}

impl Drop for MockVenue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn weight(method: &str, path: &str) -> u64 {
    match (method, path) {
        ("GET", "/api/v3/exchangeInfo") => 20,
        ("GET", "/api/v3/account") => 20,
        ("GET", "/api/v3/openOrders") => 6,
        ("GET", "/api/v3/order") => 4,
        _ => 1,
    }
}

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(sock: TcpStream, cfg: &MockConfig, state: &Mutex<State>, stop: &AtomicBool) {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = BufReader::new(sock.try_clone().unwrap());
    let mut out = sock;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let mut headers: HashMap<String, String> = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if len > 0 && reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let (status, extra, text, signed, signed_ok) = handle(
            cfg,
            state,
            &method,
            &path,
            &query,
            headers.get("x-mbx-apikey"),
            at,
        );
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        // Recorded before the answer leaves, so a test that has its response sees it.
        state.lock().unwrap().seen.push(Seen {
            at,
            method,
            path,
            query,
            api_key: headers.get("x-mbx-apikey").cloned(),
            signed_ok,
            signed,
            status,
            answered: Instant::now(),
        });
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

fn err(status: u16, code: i64, msg: &str) -> (u16, String, String, bool, bool) {
    (
        status,
        String::new(),
        format!(r#"{{"code":{code},"msg":"{msg}"}}"#),
        false,
        false,
    )
}

#[allow(clippy::too_many_arguments)]
fn handle(
    cfg: &MockConfig,
    state: &Mutex<State>,
    method: &str,
    path: &str,
    query: &str,
    key: Option<&String>,
    at: Instant,
) -> (u16, String, String, bool, bool) {
    let mut s = state.lock().unwrap();
    let index = s.seen.len();
    // Back-off first: a request inside it gets the IP banned.
    if let Some(until) = s.backoff_until {
        if at < until {
            s.during_backoff += 1;
            return (
                418,
                "Retry-After: 2\r\n".into(),
                r#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#.into(),
                false,
                false,
            );
        }
    }
    let w = weight(method, path);
    let sec = (now_ms(0) / 1000) as u64;
    if sec != s.window_s {
        s.window_s = sec;
        s.window_weight = 0;
    }
    if s.window_weight + w > cfg.weight_per_s || cfg.force_429.contains(&index) {
        if !cfg.force_429.contains(&index) {
            s.over_limit += 1;
        }
        s.backoff_until = Some(at + Duration::from_secs(cfg.retry_after_s));
        return (
            429,
            format!("Retry-After: {}\r\n", cfg.retry_after_s),
            r#"{"code":-1003,"msg":"Too many requests."}"#.into(),
            false,
            false,
        );
    }
    s.window_weight += w;
    s.max_window_weight = s.max_window_weight.max(s.window_weight);
    let used = format!("X-MBX-USED-WEIGHT-1S: {}\r\n", s.window_weight);
    let q: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), decode(v)),
            None => (p.to_string(), String::new()),
        })
        .collect();
    let signed_path = matches!(
        (method, path),
        ("POST", "/api/v3/order")
            | ("DELETE", "/api/v3/order")
            | ("GET", "/api/v3/order")
            | ("GET", "/api/v3/openOrders")
            | ("GET", "/api/v3/account")
    );
    let mut signed_ok = false;
    let signed = query.contains("signature=");
    if signed_path {
        if key.map(String::as_str) != Some(cfg.api_key.as_str()) {
            let (st, _, t, _, _) = err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            );
            return (st, used, t, signed, false);
        }
        let Some((payload, sig)) = query.rsplit_once("&signature=") else {
            s.bad_signatures += 1;
            let (st, _, t, _, _) = err(400, -1102, "Mandatory parameter 'signature' was not sent.");
            return (st, used, t, signed, false);
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, cfg.secret.as_bytes());
        let raw: Option<Vec<u8>> = (0..sig.len() / 2)
            .map(|i| u8::from_str_radix(sig.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        let good = sig.len() == 64
            && raw.is_some_and(|r| ring::hmac::verify(&key, payload.as_bytes(), &r).is_ok());
        if !good {
            s.bad_signatures += 1;
            let (st, _, t, _, _) = err(400, -1022, "Signature for this request is not valid.");
            return (st, used, t, signed, false);
        }
        signed_ok = true;
        let server = now_ms(cfg.skew_ms);
        let ts: i64 = param(&q, "timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let window: i64 = param(&q, "recvWindow")
            .and_then(|t| t.parse().ok())
            .unwrap_or(5000);
        if !(ts < server + 1000 && server - ts <= window) {
            let (st, _, t, _, _) = err(
                400,
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            );
            return (st, used, t, signed, true);
        }
    }
    let ok = |text: String| (200, used.clone(), text, signed, signed_ok);
    match (method, path) {
        ("GET", "/api/v3/time") => ok(format!(r#"{{"serverTime":{}}}"#, now_ms(cfg.skew_ms))),
        ("GET", "/api/v3/exchangeInfo") => ok(exchange_info(cfg)),
        ("GET", "/api/v3/account") => ok(r#"{"makerCommission":10,"takerCommission":10,"canTrade":true,"accountType":"SPOT","balances":[{"asset":"BTC","free":"1.00000000","locked":"0.00000000"},{"asset":"USDT","free":"100000.00000000","locked":"0.00000000"}]}"#.into()),
        ("POST", "/api/v3/order") => {
            let sec10 = (now_ms(0) / 10_000) as u64;
            if sec10 != s.order_window {
                s.order_window = sec10;
                s.order_count = 0;
            }
            if s.order_count + 1 > cfg.orders_per_10s {
                s.over_limit += 1;
                let (st, _, t, _, _) = err(429, -1015, "Too many new orders.");
                return (st, used, t, signed, signed_ok);
            }
            s.order_count += 1;
            let need = ["symbol", "side", "type", "quantity", "newClientOrderId"];
            if let Some(k) = need.iter().find(|k| param(&q, k).is_none()) {
                let (st, _, t, _, _) = err(400, -1102, &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."));
                return (st, used, t, signed, signed_ok);
            }
            let cid = param(&q, "newClientOrderId").unwrap().to_string();
            if s.orders.iter().any(|o| o.client_id == cid) {
                let (st, _, t, _, _) = err(400, -2010, "Duplicate order sent.");
                return (st, used, t, signed, signed_ok);
            }
            let price = param(&q, "price").unwrap_or("0").to_string();
            let qty = param(&q, "quantity").unwrap().to_string();
            // Filters: 2 decimals of price, 5 of quantity.
            let decimals = |v: &str| v.split_once('.').map_or(0, |(_, f)| f.trim_end_matches('0').len());
            if decimals(&price) > 2 || decimals(&qty) > 5 {
                let (st, _, t, _, _) = err(400, -1013, "Filter failure: PRICE_FILTER or LOT_SIZE");
                return (st, used, t, signed, signed_ok);
            }
            let order_id = 1_000 + s.orders.len() as u64;
            let o = MockOrder {
                order_id,
                client_id: cid.clone(),
                symbol: param(&q, "symbol").unwrap().to_string(),
                side: param(&q, "side").unwrap().to_string(),
                kind: param(&q, "type").unwrap().to_string(),
                price: price.clone(),
                qty: qty.clone(),
                status: "NEW".into(),
            };
            s.orders.push(o.clone());
            ok(order_json(&o))
        }
        ("GET", "/api/v3/order") | ("DELETE", "/api/v3/order") => {
            let cid = param(&q, "origClientOrderId").unwrap_or("").to_string();
            let Some(o) = s.orders.iter_mut().find(|o| o.client_id == cid) else {
                let (st, _, t, _, _) = err(400, -2011, "Unknown order sent.");
                return (st, used, t, signed, signed_ok);
            };
            if method == "DELETE" {
                if o.status != "NEW" {
                    let (st, _, t, _, _) = err(400, -2011, "Unknown order sent.");
                    return (st, used, t, signed, signed_ok);
                }
                o.status = "CANCELED".into();
            }
            let o = o.clone();
            ok(order_json(&o))
        }
        ("GET", "/api/v3/openOrders") => {
            let open: Vec<String> = s
                .orders
                .iter()
                .filter(|o| o.status == "NEW")
                .map(order_json)
                .collect();
            ok(format!("[{}]", open.join(",")))
        }
        _ => {
            let (st, _, t, _, _) = err(404, -1000, "Unknown endpoint.");
            (st, used, t, signed, signed_ok)
        }
    }
}

fn order_json(o: &MockOrder) -> String {
    format!(
        r#"{{"symbol":"{}","orderId":{},"clientOrderId":"{}","price":"{}","origQty":"{}","executedQty":"0.00000000","status":"{}","timeInForce":"GTC","type":"{}","side":"{}"}}"#,
        o.symbol, o.order_id, o.client_id, o.price, o.qty, o.status, o.kind, o.side
    )
}

/// Reads everything a socket has (for tests that speak raw HTTP).
pub fn read_all(mut s: TcpStream) -> String {
    let mut v = String::new();
    let _ = s.read_to_string(&mut v);
    v
}
