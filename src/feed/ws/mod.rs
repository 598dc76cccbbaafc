//! A WebSocket client for market-data feeds, polled from the feed thread.
//!
//! [`WsFeed`] keeps one live connection (two while it rotates), reconnects with exponential
//! backoff and full jitter, drops connections that go silent, and replaces a connection before
//! the venue's age limit closes it. The feed thread calls [`WsFeed::poll`] in its loop and gets
//! a message (borrowed from the connection's buffers), an event, or `Idle`.
//!
//! What it owns, and what it must never do:
//! - **The hot side never blocks and allocates nothing per message.** Every buffer (read,
//!   message, write, event queue) is allocated in [`WsFeed::new`]. Sockets are non-blocking and
//!   read until `WouldBlock`; frames are decoded in place ([`frame`]), and a message that fits
//!   one frame is handed out without a copy. Reconnecting allocates (a thread, a socket), and
//!   so does rustls once per received TLS record over `wss://`; a message does not.
//! - **Connecting happens elsewhere.** TCP connect, the TLS handshake, the HTTP Upgrade and the
//!   subscribe frames run on a short-lived connector thread ([`transport`]); the feed thread
//!   only checks `JoinHandle::is_finished` (an atomic load) and joins a finished thread. No
//!   lock is shared with it.
//! - **Bad input is an event, not a panic.** A malformed frame, invalid UTF-8 in a text message
//!   or an oversized message is counted in [`WsStats`], reported as
//!   [`WsEvent::Disconnected`] with [`DisconnectReason::Protocol`], and the connection is
//!   replaced. Message content is not inspected beyond UTF-8: the parser validates JSON.
//!
//! Rotation: when the live connection reaches `max_age_ms`, a second one is opened and
//! subscribed; both deliver until the new one has delivered its first data message (the
//! downstream arbiter dedupes by trade id), then the old one is read until it has nothing
//! more buffered and at least `rotation_linger_ms` has passed (or 250 ms after that, if it
//! never runs dry), and closed. A replacement that fails is retried after a backoff while the
//! old connection carries on; if the old one dies first, the replacement takes over.

pub mod frame;
pub mod handshake;
mod session;
mod transport;
pub mod url;

use std::sync::Arc;

pub use frame::ProtocolError;
pub use handshake::HandshakeError;
pub use session::WsFeed;
pub use url::{UrlError, WsUrl};

/// Client configuration. Times are milliseconds; 0 disables pings and stale detection.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Text frames sent right after every connect (subscriptions).
    pub subscribe: Vec<String>,
    /// Interval of our own pings (0: never).
    pub ping_interval_ms: u64,
    /// A connection with no data message for this long is closed and replaced (0: never).
    pub stale_after_ms: u64,
    /// First backoff cap after a failure.
    pub backoff_initial_ms: u64,
    /// Largest backoff cap.
    pub backoff_max_ms: u64,
    /// A connection that has delivered data for this long resets the backoff.
    pub backoff_reset_after_ms: u64,
    /// Age at which a connection is replaced by a fresh one (Binance closes at 24 h).
    pub max_age_ms: Option<u64>,
    /// After a rotation, how long the old connection keeps delivering before it is closed.
    pub rotation_linger_ms: u64,
    /// Limit on TCP connect + TLS handshake + Upgrade.
    pub connect_timeout_ms: u64,
    /// Largest message accepted; a larger one drops the connection.
    pub max_message_bytes: usize,
    /// DER certificates trusted in addition to the webpki roots (tests, private endpoints).
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            subscribe: Vec::new(),
            ping_interval_ms: 20_000,
            stale_after_ms: 30_000,
            backoff_initial_ms: 250,
            backoff_max_ms: 30_000,
            backoff_reset_after_ms: 60_000,
            max_age_ms: Some(23 * 3_600_000),
            rotation_linger_ms: 1_000,
            connect_timeout_ms: 10_000,
            max_message_bytes: 1 << 20,
            extra_root_certs: Vec::new(),
        }
    }
}

/// A configuration the client cannot run with (cold path).
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The URL did not parse.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A field is out of range.
    #[error("WebSocket config: {0}")]
    Config(&'static str),
    /// The TLS configuration could not be built (a bad extra root certificate, say).
    #[error("WebSocket TLS config: {0}")]
    Tls(String),
}

/// Why a connection ended or never started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server closed TCP without a close frame.
    Eof,
    /// Connection reset or aborted.
    Reset,
    /// Another socket error.
    Io(std::io::ErrorKind),
    /// The server sent a close frame with this code (1005: none).
    Closed {
        /// Close status code.
        code: u16,
    },
    /// The server broke the protocol (or our size limit).
    Protocol(ProtocolError),
    /// TLS failure: certificate, alert or decryption.
    Tls,
    /// No data message for `stale_after_ms`.
    Stale,
    /// The HTTP Upgrade was refused or wrong.
    Handshake(HandshakeError),
    /// Connect, TLS and Upgrade did not finish within `connect_timeout_ms`.
    ConnectTimeout,
    /// TCP connect failed (refused, unreachable).
    ConnectFailed(std::io::ErrorKind),
    /// The host name did not resolve.
    Resolve,
    /// The connector thread could not be started or died.
    Connector,
    /// Replaced by a newer connection (planned rotation).
    Rotated,
    /// [`WsFeed::shutdown`].
    Shutdown,
}

/// Something that happened to the feed. `Copy` and heap-free, for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A connection attempt started; `attempt` counts attempts since the last healthy
    /// connection (1 = first).
    Connecting {
        /// Connection id.
        conn: u32,
        /// Attempt number.
        attempt: u32,
    },
    /// Upgraded and subscribed.
    Connected {
        /// Connection id.
        conn: u32,
    },
    /// A connection ended (or an attempt failed).
    Disconnected {
        /// Connection id.
        conn: u32,
        /// Why.
        reason: DisconnectReason,
    },
    /// A connection delivered no data message for too long; a `Disconnected` follows.
    Stale {
        /// Connection id.
        conn: u32,
        /// Silence so far.
        silent_ms: u64,
    },
    /// `old` reached its maximum age; `new` is being opened to replace it.
    RotationStarted {
        /// The ageing connection.
        old: u32,
        /// Its replacement.
        new: u32,
    },
    /// `new` delivered its first data message; `old` is closed once drained.
    RotationDone {
        /// The replaced connection.
        old: u32,
        /// The new one.
        new: u32,
    },
    /// Waiting `ms` (drawn uniformly from `0..=cap_ms`) before the next attempt.
    BackingOff {
        /// The delay.
        ms: u64,
        /// Its cap: `min(backoff_max, backoff_initial * 2^(attempt-1))`.
        cap_ms: u64,
        /// Failures since the last healthy connection.
        attempt: u32,
    },
}

/// What [`WsFeed::poll`] found.
#[derive(Debug)]
pub enum WsPoll<'a> {
    /// A data message, valid until the next poll.
    Message {
        /// The payload (UTF-8 if it came as text).
        bytes: &'a [u8],
        /// Id of the connection it came on.
        conn: u32,
    },
    /// Something happened.
    Event(WsEvent),
    /// Nothing now.
    Idle,
}

/// Counters since [`WsFeed::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Data messages delivered.
    pub messages: u64,
    /// Payload bytes of those messages.
    pub message_bytes: u64,
    /// Bytes read from sockets (after TLS).
    pub bytes_read: u64,
    /// Messages that came in more than one frame.
    pub fragmented_messages: u64,
    /// Binary messages (the rest were text).
    pub binary_messages: u64,
    /// Connection attempts started.
    pub connect_attempts: u64,
    /// Connections established.
    pub connects: u64,
    /// Connections established after the first (rotations excluded).
    pub reconnects: u64,
    /// Attempts that failed before the connection was established.
    pub connect_failures: u64,
    /// Established connections that ended (any reason, rotation included).
    pub disconnects: u64,
    /// Subscribe frames sent.
    pub subscribes_sent: u64,
    /// Our pings sent.
    pub pings_sent: u64,
    /// Pongs received.
    pub pongs_received: u64,
    /// Server pings received.
    pub pings_received: u64,
    /// Pongs sent in answer.
    pub pongs_sent: u64,
    /// Pongs or pings not sent because the write buffer was full.
    pub control_frames_dropped: u64,
    /// Close frames received.
    pub close_frames: u64,
    /// Connections dropped for a protocol error (all kinds below included).
    pub protocol_errors: u64,
    /// Frames rejected by header checks: masked, reserved bits or opcode, bad control frame.
    pub garbage_frames: u64,
    /// Text messages that were not UTF-8.
    pub invalid_utf8: u64,
    /// Messages over `max_message_bytes`.
    pub oversize_messages: u64,
    /// Connections closed as stale.
    pub stale: u64,
    /// Rotations started.
    pub rotations_started: u64,
    /// Rotations completed.
    pub rotations_done: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
}

/// SplitMix64: cheap, seeded, good enough for mask keys, handshake nonces and jitter (none of
/// which is a secret).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }

    pub(crate) fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_le_bytes()
    }
}

/// The TLS client configuration: webpki roots plus `extra` DER certificates, ring provider.
pub(crate) fn tls_config(extra: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, WsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in extra {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| WsError::Tls(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WsError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_bounds_and_determinism() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.up_to(10);
            assert!(x <= 10);
            assert_eq!(x, b.up_to(10));
        }
        assert_eq!(a.up_to(0), 0);
        let _ = a.up_to(u64::MAX);
    }

    #[test]
    fn events_are_small_and_copy() {
        fn is_copy<T: Copy>() {}
        is_copy::<WsEvent>();
        assert!(std::mem::size_of::<WsEvent>() <= 32);
    }
}
