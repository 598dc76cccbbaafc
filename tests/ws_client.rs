//! The WebSocket client against a local server with a fault script, on real Binance capture
//! lines (synthetic JSON lines when `../shared/data` is absent): reconnects and resubscribes,
//! stale detection, garbage frames, fragmentation, ping/pong, close frames, rotation with
//! overlap, backoff, TLS, and zero allocations per message on the polling thread.
//!
//! Timeouts here are hang guards only; no assertion depends on elapsed time.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::ws_server::{
    Faults, Garbage, Mode, Pace, ServerConfig, TlsIdentity, WsServer, NON_JSON,
};
use tickwire::core::alloc::thread_allocations;
use tickwire::core::clock;
use tickwire::feed::replay::Capture;
use tickwire::feed::ws::{
    DisconnectReason, HandshakeError, ProtocolError, WsConfig, WsEvent, WsFeed, WsPoll,
};

const SUBSCRIBE: &str =
    r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth@100ms"],"id":1}"#;
const HANG_GUARD: Duration = Duration::from_secs(30);
/// Marks a delivered message that is not a capture line.
const FOREIGN: usize = usize::MAX;

/// The first 12k lines of the BTCUSDT capture, or synthetic trade lines without the data.
fn all_lines() -> &'static Arc<Vec<Vec<u8>>> {
    static LINES: OnceLock<Arc<Vec<Vec<u8>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let n = 12_000;
        let lines: Vec<Vec<u8>> = match common::shared_data() {
            Some(d) => {
                let cap = Capture::load(&common::btc_capture(&d)).expect("capture");
                (0..n.min(cap.lines.len())).map(|i| cap.line(i).to_vec()).collect()
            }
            None => (0..n)
                .map(|i| {
                    format!(
                        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{},"s":"BTCUSDT","t":{i},"p":"61837.63","q":"0.001","T":{},"m":true}}}}"#,
                        1_723_161_255_000u64 + i as u64,
                        1_723_161_255_000u64 + i as u64
                    )
                    .into_bytes()
                })
                .collect(),
        };
        Arc::new(lines)
    })
}

fn lines(n: usize) -> Arc<Vec<Vec<u8>>> {
    let all = all_lines();
    assert!(all.len() >= n, "capture has {} lines", all.len());
    Arc::new(all[..n].to_vec())
}

fn client_cfg(url: String) -> WsConfig {
    WsConfig {
        url,
        subscribe: vec![SUBSCRIBE.to_string()],
        ping_interval_ms: 0,
        stale_after_ms: 0,
        backoff_initial_ms: 2,
        backoff_max_ms: 20,
        backoff_reset_after_ms: 1,
        max_age_ms: None,
        rotation_linger_ms: 50,
        connect_timeout_ms: 5_000,
        max_message_bytes: 1 << 20,
        extra_root_certs: Vec::new(),
    }
}

/// Everything a client delivered: (connection, line index) per message, and the events.
#[derive(Default)]
struct Run {
    msgs: Vec<(u32, usize)>,
    events: Vec<WsEvent>,
}

impl Run {
    fn indices(&self) -> Vec<usize> {
        self.msgs.iter().map(|m| m.1).collect()
    }
    fn count(&self, f: impl Fn(&WsEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
    fn disconnect_reasons(&self) -> Vec<DisconnectReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                WsEvent::Disconnected { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

/// Polls until `done` says so, mapping each message to its line index (bytes must match a
/// line exactly, else it is [`FOREIGN`]).
fn drive(feed: &mut WsFeed, lines: &[Vec<u8>], mut done: impl FnMut(&Run, &WsFeed) -> bool) -> Run {
    let index: HashMap<&[u8], usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_slice(), i))
        .collect();
    assert_eq!(
        index.len(),
        lines.len(),
        "lines must be unique to be identified"
    );
    let mut run = Run::default();
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        polls += 1;
        let idle = match feed.poll(clock::mono_ns()) {
            WsPoll::Message { bytes, conn } => {
                run.msgs
                    .push((conn, index.get(bytes).copied().unwrap_or(FOREIGN)));
                false
            }
            WsPoll::Event(e) => {
                run.events.push(e);
                false
            }
            WsPoll::Idle => true,
        };
        if idle || polls.is_multiple_of(64) {
            if done(&run, feed) {
                return run;
            }
            assert!(
                start.elapsed() < HANG_GUARD,
                "hang guard: {} messages, events {:?}, stats {:?}",
                run.msgs.len(),
                run.events,
                feed.stats()
            );
        }
        if idle {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

fn assert_exactly_once_in_order(run: &Run, n: usize) {
    let got = run.indices();
    assert_eq!(got.len(), n, "message count");
    for (i, &g) in got.iter().enumerate() {
        assert_eq!(g, i, "message {i} out of order or foreign");
    }
}

fn start(cfg: ServerConfig) -> WsServer {
    clock::init();
    WsServer::start(cfg)
}

#[test]
fn kill_every_n_resubscribes_and_resume_delivers_every_message_once_in_order() {
    let n = 5_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.kill_every = Some(700);
    let server = start(server_cfg);
    let mut feed = WsFeed::new(client_cfg(server.url()), 1).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= n);
    assert_exactly_once_in_order(&run, n);
    let kills = (n - 1) / 700;
    let st = *feed.stats();
    assert!(st.reconnects >= kills as u64, "{st:?}");
    assert_eq!(
        run.disconnect_reasons()[..kills],
        vec![DisconnectReason::Eof; kills][..],
        "the server shuts TCP without a close frame"
    );
    let recs = server.records();
    assert!(recs.len() > kills);
    for r in &recs {
        assert_eq!(
            r.subscribes,
            vec![SUBSCRIBE.to_string()],
            "resubscribed on every connect"
        );
    }
    assert_eq!(recs.iter().map(|r| r.sent).sum::<u64>(), n as u64);
    assert_eq!(st.messages, n as u64);
    assert_eq!(st.subscribes_sent, st.connects);
}

#[test]
fn a_stall_is_detected_as_stale_and_replaced() {
    let n = 3_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.stall = Some((1_000, 60_000));
    let server = start(server_cfg);
    let mut cfg = client_cfg(server.url());
    cfg.stale_after_ms = 150;
    let mut feed = WsFeed::new(cfg, 2).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= n);
    // Resume mode: a stall loses nothing, so the stream is still complete and ordered.
    assert_exactly_once_in_order(&run, n);
    let stale: Vec<u64> = run
        .events
        .iter()
        .filter_map(|e| match e {
            WsEvent::Stale { silent_ms, .. } => Some(*silent_ms),
            _ => None,
        })
        .collect();
    assert!(stale.len() >= 2, "events {:?}", run.events);
    assert!(stale.iter().all(|&ms| ms >= 150), "{stale:?}");
    assert!(run.disconnect_reasons().contains(&DisconnectReason::Stale));
    assert!(feed.stats().stale >= 2);
    assert!(feed.stats().reconnects >= 2);
    // The client said goodbye properly on the stalled connection.
    assert_eq!(server.records()[0].client_close, Some(1000));
}

#[test]
fn garbage_frames_are_counted_and_the_connection_replaced() {
    let n = 600;
    let ls = lines(n);
    for (kind, want) in [
        (Garbage::InvalidUtf8, ProtocolError::InvalidUtf8),
        (Garbage::BadOpcode, ProtocolError::ReservedOpcode(3)),
        (Garbage::Masked, ProtocolError::MaskedFrame),
        (Garbage::ReservedBits, ProtocolError::ReservedBits),
    ] {
        let mut server_cfg = ServerConfig::new(ls.clone());
        server_cfg.faults.garbage = Some((200, kind));
        let server = start(server_cfg);
        let mut feed = WsFeed::new(client_cfg(server.url()), 3).unwrap();
        let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= n);
        assert_exactly_once_in_order(&run, n);
        let reasons = run.disconnect_reasons();
        assert!(reasons.len() >= 2, "{kind:?}: {reasons:?}");
        assert!(
            reasons
                .iter()
                .all(|r| *r == DisconnectReason::Protocol(want)),
            "{kind:?}: {reasons:?}"
        );
        let st = feed.stats();
        assert_eq!(st.protocol_errors, reasons.len() as u64, "{kind:?}");
        if kind == Garbage::InvalidUtf8 {
            assert_eq!(st.invalid_utf8, st.protocol_errors);
        } else {
            assert_eq!(st.garbage_frames, st.protocol_errors);
        }
        let code = if kind == Garbage::InvalidUtf8 {
            1007
        } else {
            1002
        };
        assert_eq!(server.records()[0].client_close, Some(code), "{kind:?}");
    }

    // Valid UTF-8 that is not JSON is a legal message: delivered, not the client's business.
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.garbage = Some((200, Garbage::NonJson));
    let server = start(server_cfg);
    let mut feed = WsFeed::new(client_cfg(server.url()), 4).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() > n);
    let got = run.indices();
    let mut want: Vec<usize> = (0..n).collect();
    want.insert(200, FOREIGN);
    assert_eq!(got, want);
    assert_eq!(feed.stats().protocol_errors, 0);
    assert_eq!(feed.stats().reconnects, 0);
    drop(server);
    let _ = NON_JSON;
}

#[test]
fn an_oversize_message_drops_the_connection_without_panic() {
    let mut v: Vec<Vec<u8>> = all_lines()
        .iter()
        .filter(|l| l.len() < 4_000)
        .take(300)
        .cloned()
        .collect();
    v[100] = format!(r#"{{"big":"{}"}}"#, "x".repeat(5_000)).into_bytes();
    let ls = Arc::new(v);
    let server = start(ServerConfig::new(ls.clone()));
    let mut cfg = client_cfg(server.url());
    cfg.max_message_bytes = 4_096;
    let mut feed = WsFeed::new(cfg, 5).unwrap();
    // Unpaced, the server may have written most lines to the first connection before the
    // client drops it (lost, as with any dropped connection): wait for the reconnect and for
    // the server's view of the close.
    let run = drive(&mut feed, &ls, |r, _| {
        r.count(|e| matches!(e, WsEvent::Connected { .. })) >= 2
            && server
                .records()
                .first()
                .is_some_and(|c| c.client_close.is_some())
    });
    let got = run.indices();
    assert_eq!(got[..100], (0..100).collect::<Vec<_>>()[..]);
    // Whatever the second connection got is later in the stream, and never the big line.
    assert!(got[100..].windows(2).all(|w| w[0] < w[1]));
    assert!(got[100..].iter().all(|&i| i > 100 && i != FOREIGN));
    assert_eq!(feed.stats().oversize_messages, 1);
    assert_eq!(
        run.disconnect_reasons(),
        [DisconnectReason::Protocol(ProtocolError::MessageTooBig)]
    );
    assert_eq!(server.records()[0].client_close, Some(1009));
}

#[test]
fn fragmented_messages_are_reassembled_byte_exact_around_pings() {
    let n = 3_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.fragment_every = Some((3, 4));
    server_cfg.faults.ping_between_fragments = true;
    let server = start(server_cfg);
    let mut feed = WsFeed::new(client_cfg(server.url()), 6).unwrap();
    let run = drive(&mut feed, &ls, |r, _| {
        r.msgs.len() >= n && {
            let rec = &server.records()[0];
            rec.pongs_ok + rec.pongs_bad >= rec.pings_sent
        }
    });
    assert_exactly_once_in_order(&run, n);
    let rec = &server.records()[0];
    let st = feed.stats();
    assert_eq!(st.fragmented_messages, rec.fragmented_sent);
    assert!(st.fragmented_messages >= (n / 3 - 1) as u64, "{st:?}");
    assert_eq!(rec.pongs_bad, 0);
    assert_eq!(rec.pongs_ok, rec.pings_sent);
    assert_eq!(st.reconnects, 0);
}

#[test]
fn pings_are_answered_and_our_pings_get_pongs() {
    let n = 1_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.pace = Pace::PerSec(4_000);
    server_cfg.faults.ping_every = Some(50);
    let server = start(server_cfg);
    let mut cfg = client_cfg(server.url());
    cfg.ping_interval_ms = 10;
    let mut feed = WsFeed::new(cfg, 7).unwrap();
    let run = drive(&mut feed, &ls, |r, f| {
        r.msgs.len() >= n && f.stats().pongs_received >= 3 && {
            // The server pings after every 50th message, the last one possibly after the
            // client already has all messages: wait for all of them and their pongs.
            let rec = &server.records()[0];
            rec.pings_sent >= (n / 50) as u64 && rec.pongs_ok >= rec.pings_sent
        }
    });
    assert_exactly_once_in_order(&run, n);
    let rec = &server.records()[0];
    assert_eq!(rec.pings_sent, (n / 50) as u64);
    assert_eq!((rec.pongs_ok, rec.pongs_bad), (rec.pings_sent, 0));
    let st = feed.stats();
    assert_eq!(st.pings_received, rec.pings_sent);
    assert_eq!(st.pongs_sent, rec.pings_sent);
    assert!(rec.client_pings >= 3, "{rec:?}");
    assert!(st.pings_sent >= rec.client_pings);
    assert!(st.pongs_received >= 3);

    // Shutdown says goodbye with 1000, reports it, and then stays quiet.
    feed.shutdown();
    let run = drive(&mut feed, &ls, |_, _| {
        server.records()[0].client_close.is_some()
    });
    assert_eq!(run.disconnect_reasons(), [DisconnectReason::Shutdown]);
    assert_eq!(server.records()[0].client_close, Some(1000));
    assert!(matches!(feed.poll(clock::mono_ns()), WsPoll::Idle));
    assert_eq!(feed.open_connections(), 0);
}

#[test]
fn a_close_frame_is_echoed_and_the_client_reconnects() {
    let n = 900;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.close_after = Some((300, 1001));
    let server = start(server_cfg);
    let mut feed = WsFeed::new(client_cfg(server.url()), 8).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= n);
    assert_exactly_once_in_order(&run, n);
    assert_eq!(
        run.disconnect_reasons()[..2],
        [DisconnectReason::Closed { code: 1001 }; 2]
    );
    assert!(feed.stats().close_frames >= 2);
    let recs = server.records();
    assert_eq!(
        recs[0].client_close,
        Some(1001),
        "the client echoes the code"
    );
    assert_eq!(recs.len(), 3);
}

#[test]
fn rotation_overlaps_two_connections_with_no_gap() {
    let n = 3_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.mode = Mode::Broadcast;
    server_cfg.pace = Pace::PerSec(2_000);
    let server = start(server_cfg);
    let mut cfg = client_cfg(server.url());
    cfg.max_age_ms = Some(250);
    cfg.rotation_linger_ms = 30;
    let mut feed = WsFeed::new(cfg, 9).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.iter().any(|m| m.1 == n - 1));

    let done: Vec<(u32, u32)> = run
        .events
        .iter()
        .filter_map(|e| match e {
            WsEvent::RotationDone { old, new } => Some((*old, *new)),
            _ => None,
        })
        .collect();
    assert!(done.len() >= 3, "events {:?}", run.events);
    assert_eq!(
        run.count(|e| matches!(e, WsEvent::RotationStarted { .. })),
        feed.stats().rotations_started as usize
    );
    // Only planned closes: no reconnect, nothing lost to a failure.
    assert!(run
        .disconnect_reasons()
        .iter()
        .all(|r| *r == DisconnectReason::Rotated));
    assert_eq!(feed.stats().reconnects, 0);

    // Each connection delivers in order.
    let mut last: HashMap<u32, usize> = HashMap::new();
    for &(c, i) in &run.msgs {
        assert_ne!(i, FOREIGN);
        if let Some(&p) = last.get(&c) {
            assert!(i > p, "connection {c} went backwards: {p} then {i}");
        }
        last.insert(c, i);
    }
    // During each rotation both deliver: the old one still sends after the new one's first.
    let mut overlapping = 0;
    for &(old, new) in &done {
        let first_new = run.msgs.iter().position(|m| m.0 == new).unwrap();
        if run.msgs[first_new..].iter().any(|m| m.0 == old) {
            overlapping += 1;
        }
    }
    assert!(overlapping >= 1, "no rotation overlapped: {done:?}");
    // The union, deduplicated by line index, has no gap from the first message to the last.
    let mut seen = vec![false; n];
    for &(_, i) in &run.msgs {
        seen[i] = true;
    }
    let first = seen.iter().position(|&s| s).unwrap();
    let gaps: Vec<usize> = (first..n).filter(|&i| !seen[i]).collect();
    assert!(gaps.is_empty(), "lost lines {gaps:?} (rotations {done:?})");
    assert!(
        run.msgs.len() > n - first,
        "the overlap delivers duplicates"
    );
}

fn backoffs(run: &Run) -> Vec<(u64, u64, u32)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            WsEvent::BackingOff {
                ms,
                cap_ms,
                attempt,
            } => Some((*ms, *cap_ms, *attempt)),
            _ => None,
        })
        .collect()
}

fn connecting_attempts(run: &Run) -> Vec<u32> {
    run.events
        .iter()
        .filter_map(|e| match e {
            WsEvent::Connecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect()
}

#[test]
fn backoff_caps_grow_while_refused_and_start_over_after_a_healthy_connection() {
    clock::init();
    let refused = DisconnectReason::ConnectFailed(std::io::ErrorKind::ConnectionRefused);
    // A port nobody listens on (yet).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ls = lines(100);
    let mut cfg = client_cfg(format!("ws://127.0.0.1:{port}/stream"));
    cfg.backoff_initial_ms = 4;
    cfg.backoff_max_ms = 32;
    let mut feed = WsFeed::new(cfg, 10).unwrap();

    let run = drive(&mut feed, &ls, |r, _| backoffs(r).len() >= 5);
    let b = backoffs(&run);
    assert_eq!(
        b.iter().map(|b| b.1).collect::<Vec<_>>(),
        [4, 8, 16, 32, 32]
    );
    assert_eq!(b.iter().map(|b| b.2).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert!(b.iter().all(|&(ms, cap, _)| ms <= cap));
    assert_eq!(connecting_attempts(&run), [1, 2, 3, 4, 5]);
    assert!(run.disconnect_reasons().iter().all(|r| *r == refused));

    // The server comes up: the client gets in, and after a healthy while the count resets.
    let mut server = WsServer::start_on(port, ServerConfig::new(ls.clone()));
    let mut healthy_since = None;
    let run = drive(&mut feed, &ls, |r, _| {
        if r.msgs.len() < 100 {
            return false;
        }
        // Let the timer that judges health run a few times (not an assertion on time).
        healthy_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(20)
    });
    assert_exactly_once_in_order(&run, 100);

    server.stop();
    let run = drive(&mut feed, &ls, |r, _| backoffs(r).len() >= 6);
    let b = backoffs(&run);
    assert_eq!(
        b.iter().map(|b| b.1).collect::<Vec<_>>(),
        [4, 8, 16, 32, 32, 32]
    );
    assert_eq!(
        b.iter().map(|b| b.2).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert!(b.iter().all(|&(ms, cap, _)| ms <= cap));
    assert_eq!(connecting_attempts(&run), [2, 3, 4, 5, 6]);
    let reasons = run.disconnect_reasons();
    assert_eq!(reasons[0], DisconnectReason::Eof);
    assert!(reasons[1..].iter().all(|r| *r == refused), "{reasons:?}");
    let kinds: String = run
        .events
        .iter()
        .map(|e| match e {
            WsEvent::BackingOff { .. } => 'B',
            WsEvent::Connecting { .. } => 'C',
            WsEvent::Disconnected { .. } => 'D',
            _ => '?',
        })
        .collect();
    assert_eq!(kinds, format!("DB{}", "CDB".repeat(5)));
}

/// A raw TCP server that answers the Upgrade with `reply` (or never answers if `None`).
fn raw_server(reply: Option<&'static str>) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        match reply {
            Some(r) => {
                let _ = s.write_all(r.as_bytes());
            }
            None => std::thread::sleep(Duration::from_millis(1_500)),
        }
    });
    (port, h)
}

#[test]
fn handshake_failures_and_connect_timeouts_are_reported() {
    clock::init();
    let cases: [(Option<&'static str>, DisconnectReason); 3] = [
        (
            Some("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            DisconnectReason::Handshake(HandshakeError::Status(403)),
        ),
        (
            Some("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n"),
            DisconnectReason::Handshake(HandshakeError::BadAccept),
        ),
        (None, DisconnectReason::ConnectTimeout),
    ];
    for (reply, want) in cases {
        let (port, h) = raw_server(reply);
        let mut cfg = client_cfg(format!("ws://127.0.0.1:{port}/ws"));
        cfg.connect_timeout_ms = 300;
        let mut feed = WsFeed::new(cfg, 11).unwrap();
        let run = drive(&mut feed, &[], |r, _| !r.disconnect_reasons().is_empty());
        assert_eq!(run.disconnect_reasons()[0], want);
        assert_eq!(feed.stats().connect_failures, 1);
        feed.shutdown();
        h.join().unwrap();
    }
}

fn tls_identity() -> (TlsIdentity, Vec<u8>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("self-signed certificate");
    let cert = ck.cert.der().to_vec();
    (
        TlsIdentity {
            cert: cert.clone(),
            key: ck.signing_key.serialize_der(),
        },
        cert,
    )
}

/// Polls until line `n - 1` has arrived, checking every message against its line, and
/// returns the heap calls the polling thread made meanwhile. Pushes nothing anywhere, so the
/// count is the client's alone. Any event in steady state fails the test.
fn stream_counting_heap_calls(feed: &mut WsFeed, ls: &[Vec<u8>], from: usize) -> u64 {
    let n = ls.len();
    let mut next = from;
    let mut events = 0u32;
    let mut last_event = None;
    let start_t = Instant::now();
    let before = thread_allocations();
    while next < n {
        match feed.poll(clock::mono_ns()) {
            WsPoll::Message { bytes, .. } => {
                assert!(bytes == &ls[next][..], "message {next} differs");
                next += 1;
            }
            WsPoll::Event(e) => {
                events += 1;
                last_event = Some(e);
            }
            WsPoll::Idle => {
                assert!(
                    start_t.elapsed() < HANG_GUARD,
                    "hang guard at message {next}"
                );
                std::thread::yield_now();
            }
        }
    }
    let heap_calls = thread_allocations() - before;
    assert_eq!(events, 0, "steady state had an event: {last_event:?}");
    heap_calls
}

#[test]
fn wss_with_a_private_root_reconnects_and_delivers_in_order() {
    let n = 3_000;
    let ls = lines(n);
    let (id, root) = tls_identity();
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.tls = Some(id.clone());
    server_cfg.faults = Faults {
        kill_every: Some(1_100),
        ping_every: Some(100),
        ..Faults::default()
    };
    let server = start(server_cfg);
    assert!(server.url().starts_with("wss://"));

    // Without the private root the certificate is refused.
    let mut feed = WsFeed::new(client_cfg(server.url()), 12).unwrap();
    let run = drive(&mut feed, &ls, |r, _| !r.disconnect_reasons().is_empty());
    assert_eq!(run.disconnect_reasons()[0], DisconnectReason::Tls);
    feed.shutdown();

    let mut cfg = client_cfg(server.url());
    cfg.extra_root_certs = vec![root.clone()];
    let mut feed = WsFeed::new(cfg.clone(), 13).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= n);
    assert_exactly_once_in_order(&run, n);
    assert!(feed.stats().reconnects >= 2);
    let recs = server.records();
    assert!(recs.iter().all(|r| r.pongs_bad == 0));
    drop(server);

    // Steady state over TLS, measured (not asserted): rustls's buffered reader allocates a
    // chunk per TLS record.
    let n = 6_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.tls = Some(id);
    let server = start(server_cfg);
    cfg.url = server.url();
    let mut feed = WsFeed::new(cfg, 14).unwrap();
    let warm_up = drive(&mut feed, &ls, |r, _| r.msgs.len() >= 1_000)
        .msgs
        .len();
    let heap_calls = stream_counting_heap_calls(&mut feed, &ls, warm_up);
    eprintln!(
        "wss steady state: {heap_calls} heap calls over {} messages ({:.3} per message)",
        n - warm_up,
        heap_calls as f64 / (n - warm_up) as f64
    );
}

#[test]
fn zero_allocations_per_message_on_the_polling_thread_after_warm_up() {
    let n = 12_000;
    let warm_up = 1_000;
    let ls = lines(n);
    let mut server_cfg = ServerConfig::new(ls.clone());
    server_cfg.faults.ping_every = Some(500);
    server_cfg.faults.fragment_every = Some((7, 3));
    let server = start(server_cfg);
    let mut cfg = client_cfg(server.url());
    cfg.ping_interval_ms = 5;
    cfg.stale_after_ms = 10_000;
    let mut feed = WsFeed::new(cfg, 15).unwrap();
    let run = drive(&mut feed, &ls, |r, _| r.msgs.len() >= warm_up);
    let warm_up = run.msgs.len();
    assert_exactly_once_in_order(&run, warm_up);

    let heap_calls = stream_counting_heap_calls(&mut feed, &ls, warm_up);
    let st = feed.stats();
    eprintln!(
        "ws steady state: {heap_calls} heap calls over {} messages ({} bytes, {} fragmented, {} pings sent, {} pongs sent)",
        n - warm_up,
        st.message_bytes,
        st.fragmented_messages,
        st.pings_sent,
        st.pongs_sent
    );
    assert_eq!(
        heap_calls, 0,
        "allocations on the polling thread in steady state"
    );
    assert!(st.pongs_sent > 0 && st.fragmented_messages > 0);
    drop(server);
}
