//! Stale detection must judge the connection, not the polling thread: if the thread that
//! polls a [`WsFeed`] is held up longer than `stale_after_ms` (descheduled on a busy box, a
//! VM steal, a debugger) while the server keeps sending, the data is waiting in the socket and
//! the connection is healthy. Declaring it stale drops it with everything buffered (lost for
//! good on a broadcast stream) and reconnects for nothing.
//!
//! The pause below is the stimulus, not an assertion: nothing here depends on how long
//! anything takes; the timeout is a hang guard.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ws_server::{Mode, Pace, ServerConfig, WsServer};
use tickwire::core::clock;
use tickwire::feed::ws::{WsConfig, WsEvent, WsFeed, WsPoll};

const HANG_GUARD: Duration = Duration::from_secs(30);

fn lines(n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{0},"s":"BTCUSDT","t":{i},"p":"61837.63","q":"0.001","T":{0},"m":true}}}}"#,
                    1_723_161_255_000u64 + i as u64
                )
                .into_bytes()
            })
            .collect(),
    )
}

#[test]
fn a_paused_poller_with_data_waiting_does_not_declare_the_connection_stale() {
    clock::init();
    let n = 4_000;
    let mut cfg = ServerConfig::new(lines(n));
    cfg.mode = Mode::Broadcast;
    cfg.pace = Pace::PerSec(2_000);
    let server = WsServer::start(cfg);
    let mut feed = WsFeed::new(
        WsConfig {
            url: server.url(),
            subscribe: vec![r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#.into()],
            ping_interval_ms: 0,
            stale_after_ms: 300,
            backoff_initial_ms: 2,
            backoff_max_ms: 20,
            max_age_ms: None,
            ..WsConfig::default()
        },
        1,
    )
    .unwrap();

    let start = Instant::now();
    let mut messages = 0u64;
    let mut events = Vec::new();
    let mut paused = false;
    while messages < 1_500 {
        assert!(
            start.elapsed() < HANG_GUARD,
            "hang guard: {messages} messages, events {events:?}"
        );
        match feed.poll(clock::mono_ns()) {
            WsPoll::Message { .. } => messages += 1,
            WsPoll::Event(e) => events.push(e),
            WsPoll::Idle => std::thread::sleep(Duration::from_micros(50)),
        }
        if messages == 200 && !paused {
            // The poller is held up for over three times `stale_after_ms`; the server goes on
            // sending 2 000 msg/s into the socket.
            paused = true;
            let sent = server.sent();
            std::thread::sleep(Duration::from_millis(1_000));
            assert!(server.sent() > sent + 100, "the server kept sending");
        }
    }
    let stale: Vec<&WsEvent> = events
        .iter()
        .filter(|e| matches!(e, WsEvent::Stale { .. }))
        .collect();
    assert!(
        stale.is_empty(),
        "a healthy connection with data waiting was declared stale: {stale:?}; stats {:?}",
        feed.stats()
    );
    assert_eq!(feed.stats().connects, 1, "{events:?}");
}
