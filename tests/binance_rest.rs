//! The signed REST client against a local mock of Binance spot (127.0.0.1): every request
//! signed so that the mock's own HMAC check passes; orders placed, queried, listed and
//! cancelled; a wrong secret refused without the key showing anywhere; the rate limit the
//! mock publishes never exceeded by a burst; a 429 waited out for as long as it says; a
//! drifted clock resynced; a dry run sending nothing.

mod common;

use std::time::Duration;

use common::binance_mock::{MockConfig, MockVenue};
use tickwire::core::{OrderType, Side};
use tickwire::venue::binance::keys::Credentials;
use tickwire::venue::binance::rate::RateLimiter;
use tickwire::venue::binance::rest::{calls, RestClient, RestError};
use tickwire::venue::binance::sign::Signer;

const E8: i64 = 100_000_000;

fn client(mock: &MockVenue, secret: &str) -> RestClient {
    let creds = Credentials::new(
        mock.config().api_key.clone(),
        Signer::hmac(secret.as_bytes()).unwrap(),
    );
    RestClient::new(
        &mock.url,
        Some(creds),
        RateLimiter::new(&[], 100),
        5_000,
        Duration::from_secs(5),
    )
    .unwrap()
}

#[test]
fn orders_are_placed_queried_and_cancelled_with_every_request_signed() {
    let mock = MockVenue::start(MockConfig::default());
    let mut c = client(&mock, &mock.config().secret.clone());
    c.sync_time().unwrap();
    let info = c.load_exchange_info(&["BTCUSDT"], 90).unwrap();
    let rules = &info.symbols["BTCUSDT"];
    // 60000.123 buy of 0.0123456 BTC: on the grid as 60000.12 and 0.01234.
    let f = rules
        .apply(Side::Buy, OrderType::Limit, 6_000_012_300_000, 1_234_560, 0)
        .unwrap();
    let buy = calls::new_order(
        "BTCUSDT",
        Side::Buy,
        OrderType::Limit,
        false,
        f.price,
        f.qty,
        "tw-1",
    );
    let r = c.send(&buy).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["clientOrderId"], "tw-1");
    assert_eq!(v["status"], "NEW");
    // A post-only order too, then the two are open.
    c.send(&calls::new_order(
        "BTCUSDT",
        Side::Sell,
        OrderType::Limit,
        true,
        61_000 * E8,
        100_000,
        "tw-2",
    ))
    .unwrap();
    let open: serde_json::Value =
        serde_json::from_slice(&c.send(&calls::open_orders("BTCUSDT")).unwrap().body).unwrap();
    assert_eq!(open.as_array().unwrap().len(), 2);
    // The same client id twice: the venue refuses (a resend cannot double an order).
    let e = c.send(&buy).unwrap_err();
    assert_eq!(e.code(), Some(-2010), "{e}");
    // Cancel, query, cancel again.
    let r = c.send(&calls::cancel_order("BTCUSDT", "tw-1")).unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("\"status\":\"CANCELED\""));
    let q: serde_json::Value =
        serde_json::from_slice(&c.send(&calls::query_order("BTCUSDT", "tw-1")).unwrap().body)
            .unwrap();
    assert_eq!(q["status"], "CANCELED");
    assert_eq!(
        c.send(&calls::cancel_order("BTCUSDT", "tw-1"))
            .unwrap_err()
            .code(),
        Some(-2011)
    );
    c.send(&calls::account()).unwrap();

    let seen = mock.seen();
    let signed: Vec<_> = seen.iter().filter(|s| s.signed).collect();
    assert!(signed.len() >= 8, "{seen:?}");
    assert!(
        signed.iter().all(|s| s.signed_ok),
        "every signed request verified: {seen:?}"
    );
    assert!(signed
        .iter()
        .all(|s| s.api_key.as_deref() == Some(mock.config().api_key.as_str())));
    // Public calls carry no key.
    assert!(seen
        .iter()
        .filter(|s| s.path == "/api/v3/time")
        .all(|s| s.api_key.is_none()));
    assert_eq!(mock.limits().3, 0, "no bad signature");
    let orders = mock.orders();
    assert_eq!(orders[0].price, "60000.12000000");
    assert_eq!(orders[0].qty, "0.01234000");
    assert_eq!(orders[1].kind, "LIMIT_MAKER");
    // One connection kept alive throughout.
    assert!(seen.len() >= 10);
}

#[test]
fn a_wrong_secret_is_refused_and_nothing_shows_the_keys() {
    let mock = MockVenue::start(MockConfig::default());
    let wrong = "not-the-secret-0000000000000000";
    let mut c = client(&mock, wrong);
    let e = c.send(&calls::account()).unwrap_err();
    assert_eq!(e.code(), Some(-1022), "{e}");
    assert_eq!(mock.limits().3, 1);
    let text = format!("{e} {e:?} {:?}", c.key_hint());
    for secret in [wrong, mock.config().api_key.as_str()] {
        assert!(!text.contains(secret), "{text}");
    }
    // No keys at all: a signed call is refused before anything is sent.
    let mut anon = RestClient::new(
        &mock.url,
        None,
        RateLimiter::new(&[], 100),
        5_000,
        Duration::from_secs(5),
    )
    .unwrap();
    let before = mock.seen().len();
    assert!(matches!(
        anon.send(&calls::account()),
        Err(RestError::NoKeys(_))
    ));
    assert_eq!(mock.seen().len(), before);
}

#[test]
fn a_burst_never_passes_the_published_limit_and_a_429_is_waited_out() {
    // 25 weight a second; the 31st request (index 30) is answered 429, Retry-After 1 s.
    let cfg = MockConfig {
        weight_per_s: 25,
        force_429: vec![30],
        retry_after_s: 1,
        ..MockConfig::default()
    };
    let mock = MockVenue::start(cfg);
    let mut c = client(&mock, &mock.config().secret.clone());
    // The limits the venue publishes are put in force (exchangeInfo weighs 20 of them).
    let info = c.load_exchange_info(&[], 100).unwrap();
    assert_eq!(info.rate_limits[0].limit, 25);
    let time = tickwire::venue::binance::rest::Call::public("GET", "/api/v3/time", 1);
    for _ in 0..60 {
        c.send_waiting(&time, Duration::from_secs(30)).unwrap();
    }
    let (max_weight, over, during, _) = mock.limits();
    assert!(
        max_weight <= 25,
        "the mock saw {max_weight} weight in one second"
    );
    assert_eq!(over, 0, "no request passed the limit");
    assert_eq!(during, 0, "nothing was sent during the back-off");
    // The forced 429 was answered, and the next request came only after its Retry-After.
    let seen = mock.seen();
    let i = seen.iter().position(|s| s.status == 429).unwrap();
    assert_eq!(i, 30);
    let gap = seen[i + 1].at.duration_since(seen[i].answered);
    assert!(gap >= Duration::from_secs(1), "sent {gap:?} after the 429");
    assert_eq!(seen.iter().filter(|s| s.status == 200).count(), 61);
    assert_eq!(c.limiter.backoffs, 1);
}

#[test]
fn a_drifted_clock_is_measured_again_and_the_order_sent_once_more() {
    let mock = MockVenue::start(MockConfig {
        skew_ms: 30_000,
        ..MockConfig::default()
    });
    let mut c = client(&mock, &mock.config().secret.clone());
    // No sync: the first signed call is 30 s behind the venue → -1021, resync, resend.
    c.send(&calls::account()).unwrap();
    assert_eq!(c.resyncs, 1);
    assert!(
        (c.offset_ms - 30_000).abs() < 5_000,
        "offset {}",
        c.offset_ms
    );
    let codes: Vec<u16> = mock.seen().iter().map(|s| s.status).collect();
    assert_eq!(codes, vec![400, 200, 200], "refused, time, accepted");
}

#[test]
fn a_dry_run_logs_the_exact_requests_and_sends_none() {
    let mock = MockVenue::start(MockConfig::default());
    let mut c = client(&mock, &mock.config().secret.clone());
    c.dry_run = Some(Vec::new());
    let e = c
        .send(&calls::new_order(
            "BTCUSDT",
            Side::Buy,
            OrderType::Limit,
            false,
            60_000 * E8,
            1_000_000,
            "tw-9",
        ))
        .unwrap_err();
    assert!(matches!(e, RestError::DryRun));
    c.send(&calls::cancel_order("BTCUSDT", "tw-9")).unwrap_err();
    assert_eq!(mock.seen().len(), 0);
    let log = c.dry_run.clone().unwrap();
    assert_eq!(
        log,
        vec![
            "POST /api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=60000.00000000&quantity=0.01000000&newClientOrderId=tw-9&newOrderRespType=RESULT".to_string(),
            "DELETE /api/v3/order?symbol=BTCUSDT&origClientOrderId=tw-9".to_string(),
        ]
    );
    for l in &log {
        assert!(!l.contains("signature") && !l.contains(&mock.config().api_key));
    }
}
