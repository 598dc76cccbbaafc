//! [`WsFeed`]: the connection state machine over two slots (the live connection and, while
//! rotating, its replacement), driven by [`WsFeed::poll`].

use std::mem;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::frame::{
    Frame, FrameReader, FrameWriter, Loc, ProtocolError, CLOSE_NORMAL, CLOSE_NO_STATUS, MAX_HEADER,
    OP_CLOSE, OP_PING, OP_PONG,
};
use super::handshake::MAX_RESPONSE_HEAD;
use super::transport::{connect, ConnectSpec, Established, ReadOutcome, Transport};
use super::url::WsUrl;
use super::{tls_config, DisconnectReason, Rng, WsConfig, WsError, WsEvent, WsPoll, WsStats};

const MS: u64 = 1_000_000;
/// Timers (stale, ping, age, connector completion) are checked at most this often.
const TICK_NS: u64 = MS;
/// Read buffer bounds: big enough for the handshake leftovers and a burst of small messages;
/// messages bigger than the buffer are assembled in the message buffer instead.
const READ_MIN: usize = MAX_RESPONSE_HEAD + 4096;
const READ_MAX: usize = 256 * 1024;
/// Pending client frames (pongs, pings, close): a few control frames.
const WRITE_CAPACITY: usize = 4096;
const EVENT_CAPACITY: usize = 32;
/// A replaced connection that never runs dry (the server keeps it busy) is closed this long
/// after its linger ends.
const DRAIN_GRACE_NS: u64 = 250 * MS;

/// A fixed ring of pending events.
struct EventQueue {
    buf: [Option<WsEvent>; EVENT_CAPACITY],
    head: usize,
    len: usize,
}

impl EventQueue {
    fn new() -> Self {
        Self {
            buf: [None; EVENT_CAPACITY],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, e: WsEvent) -> bool {
        if self.len == EVENT_CAPACITY {
            return false;
        }
        self.buf[(self.head + self.len) % EVENT_CAPACITY] = Some(e);
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<WsEvent> {
        if self.len == 0 {
            return None;
        }
        let e = self.buf[self.head].take();
        self.head = (self.head + 1) % EVENT_CAPACITY;
        self.len -= 1;
        e
    }
}

type ConnectResult = Result<Established, DisconnectReason>;

struct Connecting {
    id: u32,
    started_ns: u64,
    handle: JoinHandle<ConnectResult>,
}

struct Open {
    id: u32,
    transport: Transport,
    opened_ns: u64,
    last_data_ns: u64,
    /// Last time a read found the socket empty: silence is only proven up to here (a poller
    /// that was held up has data waiting, and the connection is not stale for it).
    drained_ns: u64,
    last_ping_ns: u64,
    got_data: bool,
    /// Set once replaced by a rotation: close when drained and past this instant.
    drain_until: Option<u64>,
}

enum Link {
    Idle,
    Connecting(Connecting),
    Open(Open),
}

struct Slot {
    link: Link,
    reader: FrameReader,
    writer: FrameWriter,
}

/// What reading one slot produced.
enum Step {
    /// A message; `true` if it is the connection's first.
    Message(Loc, bool),
    Nothing,
    End(DisconnectReason),
}

/// A WebSocket market-data feed over up to two live connections. See the [module
/// docs](super) for what it guarantees.
pub struct WsFeed {
    url: WsUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    subscribe: Arc<[String]>,
    seed: u64,
    ping_ns: u64,
    stale_ns: u64,
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
    reset_ns: u64,
    max_age_ns: Option<u64>,
    linger_ns: u64,
    connect_timeout: Duration,
    slots: [Slot; 2],
    /// The slot of the live connection (or the one being (re)connected).
    primary: usize,
    /// The other slot holds a rotation candidate that has not delivered data yet.
    rotating: bool,
    /// When the primary slot is idle: the instant of the next attempt.
    reconnect_at: Option<u64>,
    rotation_retry_at: u64,
    /// Failures since the last healthy connection.
    failures: u32,
    rotation_failures: u32,
    next_id: u32,
    ever_connected: bool,
    next_tick_ns: u64,
    /// Which slot is read first, alternating while both deliver.
    rr: usize,
    events: EventQueue,
    stats: WsStats,
    jitter: Rng,
    masks: Rng,
    shut: bool,
}

impl WsFeed {
    /// Validates `cfg` and allocates every buffer. Connects on the first [`Self::poll`].
    /// `seed` drives mask keys, nonces and backoff jitter.
    pub fn new(cfg: WsConfig, seed: u64) -> Result<Self, WsError> {
        let url = WsUrl::parse(&cfg.url)?;
        if cfg.max_message_bytes == 0 {
            return Err(WsError::Config("max_message_bytes must be at least 1"));
        }
        if cfg.backoff_initial_ms == 0 || cfg.backoff_max_ms < cfg.backoff_initial_ms {
            return Err(WsError::Config(
                "backoff_initial_ms must be at least 1 and at most backoff_max_ms",
            ));
        }
        if cfg.connect_timeout_ms == 0 {
            return Err(WsError::Config("connect_timeout_ms must be at least 1"));
        }
        if cfg.max_age_ms == Some(0) {
            return Err(WsError::Config("max_age_ms must be at least 1"));
        }
        let tls = if url.secure {
            Some(tls_config(&cfg.extra_root_certs)?)
        } else {
            None
        };
        let read = (cfg.max_message_bytes + MAX_HEADER).clamp(READ_MIN, READ_MAX);
        let slot = || Slot {
            link: Link::Idle,
            reader: FrameReader::new(read, cfg.max_message_bytes),
            writer: FrameWriter::new(WRITE_CAPACITY),
        };
        let mut seeder = Rng::new(seed);
        Ok(Self {
            url,
            tls,
            subscribe: cfg.subscribe.into(),
            seed: seeder.next_u64(),
            ping_ns: cfg.ping_interval_ms.saturating_mul(MS),
            stale_ns: cfg.stale_after_ms.saturating_mul(MS),
            backoff_initial_ms: cfg.backoff_initial_ms,
            backoff_max_ms: cfg.backoff_max_ms,
            reset_ns: cfg.backoff_reset_after_ms.saturating_mul(MS),
            max_age_ns: cfg.max_age_ms.map(|m| m.saturating_mul(MS)),
            linger_ns: cfg.rotation_linger_ms.saturating_mul(MS),
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
            slots: [slot(), slot()],
            primary: 0,
            rotating: false,
            reconnect_at: Some(0),
            rotation_retry_at: 0,
            failures: 0,
            rotation_failures: 0,
            next_id: 1,
            ever_connected: false,
            next_tick_ns: 0,
            rr: 0,
            events: EventQueue::new(),
            stats: WsStats::default(),
            jitter: Rng::new(seeder.next_u64()),
            masks: Rng::new(seeder.next_u64()),
            shut: false,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &WsStats {
        &self.stats
    }

    /// Connections currently established (0, 1, or 2 during a rotation).
    pub fn open_connections(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.link, Link::Open(_)))
            .count()
    }

    /// Does the work that is due at `now_ns` (monotonic, e.g. `core::clock::mono_ns`) and
    /// returns the next message or event, or `Idle`. Never blocks; allocates only when a
    /// connection starts or ends.
    pub fn poll(&mut self, now_ns: u64) -> WsPoll<'_> {
        if let Some(e) = self.events.pop() {
            return WsPoll::Event(e);
        }
        if self.shut {
            return WsPoll::Idle;
        }
        if now_ns >= self.next_tick_ns {
            self.tick(now_ns);
            if let Some(e) = self.events.pop() {
                return WsPoll::Event(e);
            }
        }
        for k in 0..2 {
            let i = (self.rr + k) & 1;
            let (id, draining) = match &self.slots[i].link {
                Link::Open(o) => (o.id, o.drain_until),
                _ => continue,
            };
            match self.read_slot(i, now_ns) {
                Step::Message(loc, first) => {
                    if first && self.rotating && i != self.primary {
                        self.rotation_done(i, now_ns);
                    }
                    self.rr = i ^ 1;
                    return WsPoll::Message {
                        bytes: self.slots[i].reader.slice(loc),
                        conn: id,
                    };
                }
                Step::Nothing => {
                    if draining.is_some_and(|t| now_ns >= t) {
                        self.end(i, DisconnectReason::Rotated, CLOSE_NORMAL, now_ns);
                    }
                }
                Step::End(reason) => {
                    let code = match reason {
                        DisconnectReason::Protocol(p) => p.close_code(),
                        _ => CLOSE_NORMAL,
                    };
                    self.end(i, reason, code, now_ns);
                }
            }
        }
        match self.events.pop() {
            Some(e) => WsPoll::Event(e),
            None => WsPoll::Idle,
        }
    }

    /// Closes every connection (close frame 1000, best effort) and stops reconnecting.
    /// Connector threads still running are left to finish on their own.
    pub fn shutdown(&mut self) {
        if self.shut {
            return;
        }
        // First, so that ending a connection schedules nothing.
        self.shut = true;
        for i in 0..2 {
            match &self.slots[i].link {
                Link::Open(_) => self.end(i, DisconnectReason::Shutdown, CLOSE_NORMAL, 0),
                Link::Connecting(_) => self.slots[i].link = Link::Idle,
                Link::Idle => {}
            }
        }
    }

    fn push(&mut self, e: WsEvent) {
        if !self.events.push(e) {
            self.stats.events_dropped += 1;
        }
    }

    /// Reads one slot until a message, `WouldBlock`, or the end of the connection, answering
    /// control frames on the way.
    fn read_slot(&mut self, i: usize, now: u64) -> Step {
        let Self {
            slots,
            stats,
            masks,
            ..
        } = self;
        let slot = &mut slots[i];
        let Link::Open(open) = &mut slot.link else {
            return Step::Nothing;
        };
        loop {
            match slot.reader.next_frame() {
                Ok(Frame::Message {
                    text,
                    loc,
                    fragmented,
                }) => {
                    stats.messages += 1;
                    stats.message_bytes += slot.reader.slice(loc).len() as u64;
                    stats.fragmented_messages += u64::from(fragmented);
                    stats.binary_messages += u64::from(!text);
                    open.last_data_ns = now;
                    let first = !open.got_data;
                    open.got_data = true;
                    return Step::Message(loc, first);
                }
                Ok(Frame::Ping(loc)) => {
                    stats.pings_received += 1;
                    if slot
                        .writer
                        .push(OP_PONG, slot.reader.slice(loc), masks.mask())
                    {
                        stats.pongs_sent += 1;
                    } else {
                        stats.control_frames_dropped += 1;
                    }
                    if let Err(r) = flush(&mut slot.writer, &mut open.transport) {
                        break Step::End(r);
                    }
                }
                Ok(Frame::Pong(_)) => stats.pongs_received += 1,
                Ok(Frame::Close { code }) => {
                    stats.close_frames += 1;
                    break Step::End(DisconnectReason::Closed { code });
                }
                Ok(Frame::NeedData) => match open.transport.read(slot.reader.spare()) {
                    ReadOutcome::Data(n) => {
                        slot.reader.filled(n);
                        stats.bytes_read += n as u64;
                    }
                    ReadOutcome::WouldBlock => {
                        open.drained_ns = now;
                        break Step::Nothing;
                    }
                    ReadOutcome::Eof => break Step::End(DisconnectReason::Eof),
                    ReadOutcome::Failed(r) => break Step::End(r),
                },
                Err(e) => {
                    stats.protocol_errors += 1;
                    match e {
                        ProtocolError::InvalidUtf8 => stats.invalid_utf8 += 1,
                        ProtocolError::MessageTooBig => stats.oversize_messages += 1,
                        ProtocolError::UnexpectedContinuation
                        | ProtocolError::ExpectedContinuation => {}
                        _ => stats.garbage_frames += 1,
                    }
                    break Step::End(DisconnectReason::Protocol(e));
                }
            }
        }
    }

    /// The rotation candidate in slot `new` delivered data: it becomes the live connection and
    /// the old one drains.
    fn rotation_done(&mut self, new: usize, now: u64) {
        let old = self.primary;
        let new_id = match &self.slots[new].link {
            Link::Open(o) => o.id,
            _ => return,
        };
        let linger = self.linger_ns;
        let old_id = match &mut self.slots[old].link {
            Link::Open(o) => {
                o.drain_until = Some(now.saturating_add(linger));
                o.id
            }
            _ => 0,
        };
        self.primary = new;
        self.rotating = false;
        self.rotation_failures = 0;
        self.stats.rotations_done += 1;
        self.push(WsEvent::RotationDone {
            old: old_id,
            new: new_id,
        });
    }

    /// Ends the established connection in slot `i`: close frame `code` (echoing a server's close,
    /// 1005 meaning none), TCP shutdown, event, and what follows (promotion or backoff).
    fn end(&mut self, i: usize, reason: DisconnectReason, code: u16, now: u64) {
        let slot = &mut self.slots[i];
        let Link::Open(mut open) = mem::replace(&mut slot.link, Link::Idle) else {
            return;
        };
        let code = match reason {
            // Echo the server's code when it may go on the wire (RFC 6455 §7.4).
            DisconnectReason::Closed { code } if sendable_close_code(code) => code,
            DisconnectReason::Closed { .. } => CLOSE_NO_STATUS,
            _ => code,
        };
        let writable = !matches!(
            reason,
            DisconnectReason::Eof
                | DisconnectReason::Reset
                | DisconnectReason::Io(_)
                | DisconnectReason::Tls
        );
        if writable {
            let payload = code.to_be_bytes();
            let payload: &[u8] = if code == CLOSE_NO_STATUS {
                &[]
            } else {
                &payload
            };
            if slot.writer.push(OP_CLOSE, payload, self.masks.mask()) {
                let _ = flush(&mut slot.writer, &mut open.transport);
            }
        }
        open.transport.close();
        drop(open.transport);
        slot.reader.reset();
        slot.writer.reset();
        self.stats.disconnects += 1;
        if reason == DisconnectReason::Stale {
            self.stats.stale += 1;
        }
        self.push(WsEvent::Disconnected {
            conn: open.id,
            reason,
        });
        self.after_loss(i, now);
    }

    /// Slot `i` became idle (ended or failed to connect): decide what comes next.
    fn after_loss(&mut self, i: usize, now: u64) {
        self.next_tick_ns = 0;
        if self.shut {
            return;
        }
        if i == self.primary {
            if self.rotating {
                // The replacement is on its way already: it takes over.
                self.primary = i ^ 1;
                self.rotating = false;
                return;
            }
            self.failures = self.failures.saturating_add(1);
            let (ms, cap_ms) = self.backoff(self.failures);
            self.reconnect_at = Some(now.saturating_add(ms.saturating_mul(MS)));
            self.push(WsEvent::BackingOff {
                ms,
                cap_ms,
                attempt: self.failures,
            });
        } else if self.rotating {
            // The replacement failed; the live connection carries on and we retry later.
            self.rotating = false;
            self.rotation_failures = self.rotation_failures.saturating_add(1);
            let (ms, _) = self.backoff(self.rotation_failures);
            self.rotation_retry_at = now.saturating_add(ms.saturating_mul(MS));
        }
    }

    /// Full jitter: uniform in `0..=min(max, initial * 2^(n-1))`. Returns (delay, cap).
    fn backoff(&mut self, n: u32) -> (u64, u64) {
        let cap = backoff_cap(self.backoff_initial_ms, self.backoff_max_ms, n);
        (self.jitter.up_to(cap), cap)
    }

    /// Timers and connector threads.
    fn tick(&mut self, now: u64) {
        self.next_tick_ns = now.saturating_add(TICK_NS);
        for i in 0..2 {
            match &mut self.slots[i].link {
                Link::Idle => {}
                Link::Connecting(c) => {
                    let timed_out =
                        now.saturating_sub(c.started_ns) >= self.connect_timeout.as_nanos() as u64;
                    if !c.handle.is_finished() && !timed_out {
                        continue;
                    }
                    let Link::Connecting(c) = mem::replace(&mut self.slots[i].link, Link::Idle)
                    else {
                        continue;
                    };
                    if c.handle.is_finished() {
                        match c.handle.join() {
                            Ok(Ok(est)) => self.install(i, c.id, est, now),
                            Ok(Err(reason)) => self.connect_failed(i, c.id, reason, now),
                            Err(_) => {
                                self.connect_failed(i, c.id, DisconnectReason::Connector, now)
                            }
                        }
                    } else {
                        // Detached: its own socket timeouts end it.
                        drop(c.handle);
                        self.connect_failed(i, c.id, DisconnectReason::ConnectTimeout, now);
                    }
                }
                Link::Open(o) => {
                    if let Some(t) = o.drain_until {
                        if now >= t.saturating_add(DRAIN_GRACE_NS) {
                            self.end(i, DisconnectReason::Rotated, CLOSE_NORMAL, now);
                        }
                        continue;
                    }
                    // Silence the socket has shown, not time since the last poll.
                    let silent = o.drained_ns.saturating_sub(o.last_data_ns);
                    if self.stale_ns > 0 && silent >= self.stale_ns {
                        let conn = o.id;
                        self.push(WsEvent::Stale {
                            conn,
                            silent_ms: silent / MS,
                        });
                        self.end(i, DisconnectReason::Stale, CLOSE_NORMAL, now);
                        continue;
                    }
                    if self.failures > 0
                        && o.got_data
                        && now.saturating_sub(o.opened_ns) >= self.reset_ns
                    {
                        self.failures = 0;
                    }
                    let slot = &mut self.slots[i];
                    let Link::Open(o) = &mut slot.link else {
                        continue;
                    };
                    if self.ping_ns > 0 && now.saturating_sub(o.last_ping_ns) >= self.ping_ns {
                        o.last_ping_ns = now;
                        if slot
                            .writer
                            .push(OP_PING, &now.to_le_bytes(), self.masks.mask())
                        {
                            self.stats.pings_sent += 1;
                        } else {
                            self.stats.control_frames_dropped += 1;
                        }
                    }
                    if !slot.writer.pending().is_empty() || matches!(o.transport, Transport::Tls(_))
                    {
                        if let Err(r) = flush(&mut slot.writer, &mut o.transport) {
                            self.end(i, r, CLOSE_NORMAL, now);
                        }
                    }
                }
            }
        }

        let p = self.primary;
        if matches!(self.slots[p].link, Link::Idle) && self.reconnect_at.is_some_and(|t| now >= t) {
            self.reconnect_at = None;
            self.start_connect(p, now);
        }

        if let (Some(max_age), false) = (self.max_age_ns, self.rotating) {
            let other = p ^ 1;
            if let (Link::Open(o), Link::Idle) = (&self.slots[p].link, &self.slots[other].link) {
                if o.drain_until.is_none()
                    && now.saturating_sub(o.opened_ns) >= max_age
                    && now >= self.rotation_retry_at
                {
                    let old = o.id;
                    self.rotating = true;
                    self.stats.rotations_started += 1;
                    self.push(WsEvent::RotationStarted {
                        old,
                        new: self.next_id,
                    });
                    self.start_connect(other, now);
                }
            }
        }
    }

    /// Starts a connector thread for slot `i`.
    fn start_connect(&mut self, i: usize, now: u64) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.stats.connect_attempts += 1;
        self.push(WsEvent::Connecting {
            conn: id,
            attempt: self.failures.saturating_add(1),
        });
        let spec = ConnectSpec {
            url: self.url.clone(),
            tls: self.tls.clone(),
            timeout: self.connect_timeout,
            subscribe: self.subscribe.clone(),
            seed: self.seed ^ u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ now,
        };
        let spawned = thread::Builder::new()
            .name(format!("ws-connect-{id}"))
            .spawn(move || connect(&spec));
        match spawned {
            Ok(handle) => {
                self.slots[i].link = Link::Connecting(Connecting {
                    id,
                    started_ns: now,
                    handle,
                })
            }
            Err(_) => self.connect_failed(i, id, DisconnectReason::Connector, now),
        }
    }

    fn install(&mut self, i: usize, id: u32, est: Established, now: u64) {
        let slot = &mut self.slots[i];
        slot.reader.reset();
        slot.writer.reset();
        if !slot.reader.preload(&est.leftover) {
            let mut t = est.transport;
            t.close();
            self.connect_failed(
                i,
                id,
                DisconnectReason::Protocol(ProtocolError::MessageTooBig),
                now,
            );
            return;
        }
        slot.link = Link::Open(Open {
            id,
            transport: est.transport,
            opened_ns: now,
            last_data_ns: now,
            drained_ns: now,
            last_ping_ns: now,
            got_data: false,
            drain_until: None,
        });
        self.stats.connects += 1;
        self.stats.subscribes_sent += u64::from(est.subscribed);
        let rotation = self.rotating && i != self.primary;
        if self.ever_connected && !rotation {
            self.stats.reconnects += 1;
        }
        self.ever_connected = true;
        self.push(WsEvent::Connected { conn: id });
    }

    fn connect_failed(&mut self, i: usize, id: u32, reason: DisconnectReason, now: u64) {
        self.slots[i].link = Link::Idle;
        self.stats.connect_failures += 1;
        self.push(WsEvent::Disconnected { conn: id, reason });
        self.after_loss(i, now);
    }
}

/// Writes pending client frames until done or `WouldBlock`, then TLS records.
fn flush(w: &mut FrameWriter, t: &mut Transport) -> Result<(), DisconnectReason> {
    while !w.pending().is_empty() {
        let n = t.write(w.pending())?;
        if n == 0 {
            break;
        }
        w.consume(n);
    }
    t.flush()
}

/// Codes an endpoint may put in a close frame: 1000-1003, 1007-1014, 3000-4999.
fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// `min(max, initial * 2^(n-1))`, saturating.
fn backoff_cap(initial: u64, max: u64, n: u32) -> u64 {
    let doublings = n.saturating_sub(1).min(63);
    initial
        .saturating_mul(1u64.checked_shl(doublings).unwrap_or(u64::MAX))
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_caps_double_and_saturate() {
        let caps: Vec<u64> = (1..=8).map(|n| backoff_cap(100, 1000, n)).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
        assert_eq!(backoff_cap(100, u64::MAX, 200), u64::MAX);
        assert_eq!(backoff_cap(7, 7, 0), 7);
    }

    #[test]
    fn reserved_close_codes_are_not_echoed() {
        for c in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(sendable_close_code(c), "{c}");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert!(!sendable_close_code(c), "{c}");
        }
    }

    #[test]
    fn event_queue_is_fifo_and_bounded() {
        let mut q = EventQueue::new();
        for i in 0..EVENT_CAPACITY as u32 {
            assert!(q.push(WsEvent::Connected { conn: i }));
        }
        assert!(!q.push(WsEvent::Connected { conn: 99 }));
        for i in 0..EVENT_CAPACITY as u32 {
            assert_eq!(q.pop(), Some(WsEvent::Connected { conn: i }));
        }
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn bad_configs_are_refused() {
        let good = WsConfig {
            url: "ws://127.0.0.1:9/".into(),
            ..WsConfig::default()
        };
        assert!(WsFeed::new(good.clone(), 1).is_ok());
        for bad in [
            WsConfig {
                url: "http://x".into(),
                ..good.clone()
            },
            WsConfig {
                backoff_initial_ms: 0,
                ..good.clone()
            },
            WsConfig {
                backoff_max_ms: 1,
                backoff_initial_ms: 2,
                ..good.clone()
            },
            WsConfig {
                max_message_bytes: 0,
                ..good.clone()
            },
            WsConfig {
                max_age_ms: Some(0),
                ..good.clone()
            },
            WsConfig {
                connect_timeout_ms: 0,
                ..good.clone()
            },
        ] {
            assert!(WsFeed::new(bad, 1).is_err());
        }
        assert!(WsFeed::new(
            WsConfig {
                url: "wss://example.com/".into(),
                extra_root_certs: vec![b"not a certificate".to_vec()],
                ..good
            },
            1
        )
        .is_err());
    }
}
