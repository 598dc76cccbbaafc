//! Live exchange feeds: the lane's `[feeds.*]` WebSocket lines, polled round-robin on the
//! source thread.
//!
//! Each feed is a [`WsFeed`] (connects on a side thread, reconnects with backoff and jitter,
//! replaces a stale or aged connection with an overlap). Its messages go to the parse stage as
//! line `i`; its connection events are counted per source and journaled through the cold ring.
//! Nothing here blocks or allocates per message on plain `ws://` (rustls copies each decrypted
//! record for `wss://`; see JOURNAL.md).

use std::sync::Arc;

use super::ws::{DisconnectReason, WsConfig, WsEvent, WsFeed, WsPoll};
use super::{Anchor, Next, RawMessage};
use crate::core::clock;
use crate::core::cold::{ColdRecord, ColdTx, FeedEvent};
use crate::core::config::FeedSpec;
use crate::core::stats::LaneStats;

/// The live feeds of one lane.
pub struct LiveSource {
    feeds: Vec<WsFeed>,
    /// Per feed: a planned rotation is in progress (two connections share the parser).
    rotating: Vec<bool>,
    next: usize,
    idle_streak: usize,
    anchor: Anchor,
    stats: Arc<LaneStats>,
    cold: ColdTx,
    limit: Option<u64>,
    emitted: u64,
}

/// A feed that could not be set up: one sentence naming it.
#[derive(Debug, thiserror::Error)]
#[error("feeds.{name}: {reason}")]
pub struct LiveError {
    name: String,
    reason: String,
}

/// The `WsConfig` for a feed line (reads `ca_file`, PEM or DER).
pub fn ws_config(f: &FeedSpec) -> Result<WsConfig, LiveError> {
    let err = |reason: String| LiveError {
        name: f.name.clone(),
        reason,
    };
    let mut extra_root_certs = Vec::new();
    if let Some(path) = &f.ca_file {
        let bytes =
            std::fs::read(path).map_err(|e| err(format!("cannot read ca_file {path}: {e}")))?;
        extra_root_certs = certificates(&bytes)
            .ok_or_else(|| err(format!("ca_file {path} holds no certificate")))?;
    }
    Ok(WsConfig {
        url: f.url.clone(),
        subscribe: f.subscribe.clone(),
        ping_interval_ms: f.ping_interval_ms,
        stale_after_ms: f.stale_after_ms,
        backoff_initial_ms: f.backoff_initial_ms,
        backoff_max_ms: f.backoff_max_ms,
        max_age_ms: (f.max_age_ms > 0).then_some(f.max_age_ms),
        connect_timeout_ms: f.connect_timeout_ms,
        max_message_bytes: f.max_message_bytes,
        extra_root_certs,
        ..WsConfig::default()
    })
}

/// DER certificates from a PEM bundle, or the bytes themselves if they are not PEM.
fn certificates(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    use base64::Engine;
    let text = std::str::from_utf8(bytes).ok();
    let Some(text) = text.filter(|t| t.contains("-----BEGIN")) else {
        return (!bytes.is_empty()).then(|| vec![bytes.to_vec()]);
    };
    let mut out = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(&body)
                    .ok()?,
            );
        } else if inside {
            body.push_str(line);
        }
    }
    (!out.is_empty()).then_some(out)
}

impl LiveSource {
    /// Opens nothing yet: connections start on the first polls. `seed` varies the jitter.
    pub fn new(
        specs: &[&FeedSpec],
        seed: u64,
        limit: Option<u64>,
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Result<Self, LiveError> {
        let mut feeds = Vec::with_capacity(specs.len());
        for (i, f) in specs.iter().enumerate() {
            let cfg = ws_config(f)?;
            feeds.push(
                WsFeed::new(cfg, seed.wrapping_add(i as u64 * 0x9E37_79B9)).map_err(|e| {
                    LiveError {
                        name: f.name.clone(),
                        reason: e.to_string(),
                    }
                })?,
            );
        }
        Ok(Self {
            rotating: vec![false; feeds.len()],
            feeds,
            next: 0,
            idle_streak: 0,
            anchor: Anchor::now(),
            stats,
            cold,
            limit,
            emitted: 0,
        })
    }

    /// The receive clock (wall time on the same anchor as messages' `recv_ns`).
    pub(super) fn recv_now(&self) -> u64 {
        self.anchor.wall_at(clock::mono_ns())
    }

    /// Polls the next feed. A feed with nothing moves on to the next one (`Busy`); only a
    /// full round of idle feeds is `Wait`.
    pub(super) fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) || self.feeds.is_empty() {
            return Next::End;
        }
        let n = self.feeds.len();
        let i = self.next % n;
        let now = clock::mono_ns();
        let LiveSource {
            feeds,
            rotating,
            stats,
            cold,
            anchor,
            ..
        } = self;
        match feeds[i].poll(now) {
            WsPoll::Message { bytes, .. } => {
                self.idle_streak = 0;
                self.emitted += 1;
                // Stay on this feed while it has data (a burst drains in order), move on when
                // it is idle.
                Next::Msg(RawMessage {
                    line: i as u8,
                    bytes,
                    recv_ns: anchor.wall_at(now),
                    ingress_ns: now,
                    market_ns: None,
                })
            }
            WsPoll::Event(e) => {
                self.idle_streak = 0;
                match e {
                    WsEvent::RotationStarted { .. } => rotating[i] = true,
                    WsEvent::RotationDone { .. } => rotating[i] = false,
                    _ => {}
                }
                let connected = on_event(i, e, anchor.wall_at(now), stats, cold);
                // A reconnect starts the venue's channel numbering afresh; a rotation's new
                // connection runs beside the old one, which still needs its channels.
                if connected && !rotating[i] {
                    Next::Reset(i as u8)
                } else {
                    Next::Busy
                }
            }
            WsPoll::Idle => {
                self.next = (i + 1) % n;
                self.idle_streak += 1;
                if self.idle_streak >= n {
                    self.idle_streak = 0;
                    Next::Wait
                } else {
                    Next::Busy
                }
            }
        }
    }

    /// Closes every connection (clean close frames).
    pub fn shutdown(&mut self) {
        for f in &mut self.feeds {
            f.shutdown();
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Static text for a disconnect reason (journal and log).
pub fn reason_text(r: DisconnectReason) -> &'static str {
    match r {
        DisconnectReason::Eof => "connection closed by the server (EOF)",
        DisconnectReason::Reset => "connection reset",
        DisconnectReason::Io(_) => "I/O error",
        DisconnectReason::Closed { .. } => "close frame",
        DisconnectReason::Protocol(_) => "WebSocket protocol error",
        DisconnectReason::Tls => "TLS error",
        DisconnectReason::Stale => "stale stream",
        DisconnectReason::Handshake(_) => "WebSocket handshake failed",
        DisconnectReason::ConnectTimeout => "connect timed out",
        DisconnectReason::ConnectFailed(_) => "connect failed",
        DisconnectReason::Resolve => "host name did not resolve",
        DisconnectReason::Connector => "connector thread failed",
        DisconnectReason::Rotated => "replaced by a newer connection (planned rotation)",
        DisconnectReason::Shutdown => "shutdown",
    }
}

/// Counts and journals one connection event; true when it is a (re)connection.
fn on_event(line: usize, e: WsEvent, wall_ns: u64, stats: &LaneStats, cold: &mut ColdTx) -> bool {
    let ss = stats.sources.get(line);
    let (event, reset) = match e {
        WsEvent::Connecting { attempt, .. } => (FeedEvent::Connecting { attempt }, false),
        WsEvent::Connected { conn } => {
            ss.connects.inc();
            ss.connected.set(1);
            (FeedEvent::Connected { conn }, true)
        }
        WsEvent::Disconnected { conn, reason } => {
            let never_connected = matches!(
                reason,
                DisconnectReason::ConnectFailed(_)
                    | DisconnectReason::ConnectTimeout
                    | DisconnectReason::Resolve
                    | DisconnectReason::Connector
                    | DisconnectReason::Handshake(_)
            );
            if never_connected {
                ss.connect_failures.inc();
            } else if reason != DisconnectReason::Rotated {
                ss.disconnects.inc();
                ss.connected.set(0);
            }
            if matches!(reason, DisconnectReason::Protocol(_)) {
                ss.protocol_errors.inc();
            }
            (
                FeedEvent::Disconnected {
                    conn,
                    reason: reason_text(reason),
                },
                false,
            )
        }
        WsEvent::Stale { conn, silent_ms } => {
            ss.stale.inc();
            (FeedEvent::Stale { conn, silent_ms }, false)
        }
        WsEvent::RotationStarted { old, .. } => (FeedEvent::RotationStarted { old }, false),
        WsEvent::RotationDone { old, new } => (FeedEvent::RotationDone { old, new }, false),
        WsEvent::BackingOff { ms, .. } => (FeedEvent::BackingOff { ms }, false),
    };
    cold.send(
        ColdRecord::Feed {
            source: line as u8,
            wall_ns,
            event,
        },
        &stats.cold_drops[0],
    );
    reset
}
