//! Sources and the parse stage.
//!
//! A source hands raw exchange bytes and a receive time to the parse stage on the same thread
//! (raw bytes never cross a ring: a message can be kilobytes, an event is 128 bytes). Sources:
//! the seeded synthetic market (the default of `run` and the benchmark load) and recorded
//! captures. Both are fully prepared before the hot loop starts; `next` neither allocates nor
//! makes a syscall.

pub mod parse;
pub mod replay;
pub mod synthetic;
pub mod ws;

use std::sync::Arc;

use crate::core::clock;
use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::config::Speed;
use crate::core::stats::LaneStats;
use crate::core::{Envelope, Instrument, InstrumentTable, Payload, Sink, Symbol};
use parse::{Event, MsgKind, Venue, VenueParser};
use replay::Capture;
use synthetic::SyntheticMarket;

/// One raw message from a source.
#[derive(Clone, Copy, Debug)]
pub struct RawMessage<'a> {
    /// The bytes, exactly as the venue sent them.
    pub bytes: &'a [u8],
    /// Wall-clock receive time (ns since epoch): recorded for captures, stamped live otherwise.
    pub recv_ns: u64,
    /// Monotonic ingress stamp for latency.
    pub ingress_ns: u64,
    /// Market time the source itself knows for this message (the synthetic market's clock, or
    /// a capture's recorded receive time), used when the message carries no venue time. Never
    /// the live wall clock, so replays and the synthetic warm-up stay deterministic.
    pub market_ns: Option<u64>,
}

/// What a source has now.
pub enum Next<'a> {
    /// A message.
    Msg(RawMessage<'a>),
    /// Nothing due yet (paced replay or live pacing): poll again.
    Wait,
    /// Exhausted.
    End,
}

/// Maps monotonic time to wall time from one anchor, so a message costs one clock read.
#[derive(Clone, Copy)]
struct Anchor {
    mono: u64,
    wall: u64,
}

impl Anchor {
    fn now() -> Self {
        Self {
            mono: clock::mono_ns(),
            wall: clock::wall_ns(),
        }
    }
    fn wall_at(&self, mono: u64) -> u64 {
        self.wall + mono.saturating_sub(self.mono)
    }
}

/// The seeded synthetic market, paced to wall time (or unpaced at `Speed::Max`).
pub struct SyntheticSource {
    market: SyntheticMarket,
    buf: Vec<u8>,
    pending: Option<u64>,
    anchor: Anchor,
    live_from_ns: u64,
    speed: Speed,
    limit: Option<u64>,
    emitted: u64,
}

impl SyntheticSource {
    /// Wraps a generator. Messages stamped before `live_from_ns` (warm-up history) are due at
    /// once; later ones are paced by `speed` from that instant. `limit` stops it after that
    /// many messages.
    pub fn new(
        market: SyntheticMarket,
        live_from_ns: u64,
        speed: Speed,
        limit: Option<u64>,
    ) -> Self {
        Self {
            market,
            buf: Vec::with_capacity(synthetic::MAX_MESSAGE_LEN),
            pending: None,
            anchor: Anchor::now(),
            live_from_ns,
            speed,
            limit,
            emitted: 0,
        }
    }

    fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return Next::End;
        }
        let market_ns = match self.pending {
            Some(t) => t,
            None => {
                let t = self.market.next_message(&mut self.buf);
                self.pending = Some(t);
                t
            }
        };
        let now = clock::mono_ns();
        if let Speed::Factor(f) = self.speed {
            let due =
                self.anchor.mono + (market_ns.saturating_sub(self.live_from_ns) as f64 / f) as u64;
            if now < due {
                return Next::Wait;
            }
        }
        self.pending = None;
        self.emitted += 1;
        Next::Msg(RawMessage {
            bytes: &self.buf,
            recv_ns: self.anchor.wall_at(now),
            ingress_ns: now,
            market_ns: Some(market_ns),
        })
    }
}

/// Recorded captures played in the order given, `loops` times.
pub struct ReplaySource {
    captures: Vec<Capture>,
    file: usize,
    line: usize,
    loops_left: u64,
    speed: Speed,
    anchor: Anchor,
    first_recv: Option<u64>,
    limit: Option<u64>,
    emitted: u64,
}

impl ReplaySource {
    /// Plays `captures` `loops` times at `speed`, at most `limit` messages.
    pub fn new(captures: Vec<Capture>, speed: Speed, loops: u64, limit: Option<u64>) -> Self {
        Self {
            captures,
            file: 0,
            line: 0,
            loops_left: loops.max(1),
            speed,
            anchor: Anchor::now(),
            first_recv: None,
            limit,
            emitted: 0,
        }
    }

    fn poll(&mut self) -> Next<'_> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return Next::End;
        }
        loop {
            let Some(cap) = self.captures.get(self.file) else {
                self.loops_left -= 1;
                if self.loops_left == 0 {
                    return Next::End;
                }
                self.file = 0;
                self.line = 0;
                self.first_recv = None;
                self.anchor = Anchor::now();
                continue;
            };
            if self.line >= cap.lines.len() {
                self.file += 1;
                self.line = 0;
                continue;
            }
            break;
        }
        let cap = &self.captures[self.file];
        let now = clock::mono_ns();
        let recorded = cap.recv_ns.as_ref().map(|r| r[self.line]);
        if let (Speed::Factor(f), Some(t)) = (self.speed, recorded) {
            let first = *self.first_recv.get_or_insert(t);
            let due = self
                .anchor
                .mono
                .saturating_add((t.saturating_sub(first) as f64 / f) as u64);
            if now < due {
                return Next::Wait;
            }
        }
        let i = self.line;
        self.line += 1;
        self.emitted += 1;
        Next::Msg(RawMessage {
            bytes: cap.line(i),
            recv_ns: recorded.unwrap_or_else(|| self.anchor.wall_at(now)),
            ingress_ns: now,
            market_ns: recorded,
        })
    }
}

/// Any source. An enum, not a trait object: the hot loop dispatches with a jump, not a vtable.
/// One source exists per lane, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// Synthetic market.
    Synthetic(SyntheticSource),
    /// Recorded captures.
    Replay(ReplaySource),
}

impl Source {
    /// The next message, `Wait` or `End`.
    #[inline]
    pub fn poll(&mut self) -> Next<'_> {
        match self {
            Source::Synthetic(s) => s.poll(),
            Source::Replay(r) => r.poll(),
        }
    }
}

/// The parse stage: raw bytes → [`Envelope`]s, with every message accounted for as parsed,
/// skipped (by type) or malformed.
pub struct ParseStage {
    table: Arc<InstrumentTable>,
    auto_instruments: bool,
    /// Per instrument id: does this lane trade it? Sized to the table's capacity at start.
    lane_mask: Vec<bool>,
    lane_takes_all: bool,
    /// Auto-added instruments belong to this lane (the first one).
    takes_auto: bool,
    /// Ids from here on were added by this stage, not configured.
    first_auto: usize,
    seq: u64,
    last_market_ns: u64,
    parser: VenueParser,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl ParseStage {
    /// `lane_symbols` empty = the lane takes every instrument. `takes_auto`: instruments an
    /// auto-instrument replay adds belong to this lane.
    pub fn new(
        table: Arc<InstrumentTable>,
        auto_instruments: bool,
        takes_auto: bool,
        lane_symbols: &[String],
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        let first_auto = table.len();
        let mut lane_mask = vec![false; table.capacity()];
        for s in lane_symbols {
            if let Some(id) = table.lookup(s.as_bytes()) {
                lane_mask[id.index()] = true;
            }
        }
        Self {
            table,
            auto_instruments,
            lane_mask,
            lane_takes_all: lane_symbols.is_empty(),
            takes_auto,
            first_auto,
            seq: 0,
            last_market_ns: 0,
            parser: VenueParser::new(Venue::Binance),
            stats,
            cold,
        }
    }

    /// Parses one message and emits at most one envelope.
    #[inline]
    pub fn on_message(&mut self, msg: RawMessage<'_>, out: &mut impl Sink<Envelope>) {
        let seq = self.seq;
        self.seq += 1;
        let st = &self.stats.parse;
        st.received.inc();
        let table = &self.table;
        let auto = self.auto_instruments;
        let mask = &self.lane_mask;
        let first_auto = self.first_auto;
        let all = self.lane_takes_all;
        let takes_auto = self.takes_auto;
        let added = &st.instruments_added;
        let mut resolve = |sym: &[u8]| {
            let id = match table.lookup(sym) {
                Some(id) => id,
                None if auto && takes_auto => {
                    let symbol = Symbol::new(sym)?;
                    let id = table
                        .insert(Instrument {
                            symbol,
                            tick: 1,
                            lot: 1,
                        })
                        .ok()?;
                    added.inc();
                    id
                }
                None => return None,
            };
            let configured = id.index() < mask.len() && mask[id.index()];
            let auto_added = takes_auto && auto && !configured && id.index() >= first_auto;
            (all || configured || auto_added).then_some(id)
        };
        let mut payload = None;
        let result = self
            .parser
            .parse(msg.bytes, &mut resolve, &mut |e| match e {
                Event::Trade(t) => payload = Some(Payload::Trade(t)),
                Event::Quote(q) => payload = Some(Payload::BookTicker(q)),
                _ => {}
            });
        let payload = match (result, payload) {
            (Ok(MsgKind::Trades), Some(p)) => {
                st.trades.inc();
                p
            }
            (Ok(MsgKind::Quote), Some(p)) => {
                st.book_tickers.inc();
                p
            }
            (Ok(MsgKind::Skipped(kind)), _) => {
                st.skipped[kind.index()].inc();
                return;
            }
            (Ok(_), _) => {
                st.skipped[parse::SkipKind::Unsupported.index()].inc();
                return;
            }
            (Err(e), _) => {
                st.malformed.inc();
                let (reason, field) = e.describe();
                self.cold.send(
                    ColdRecord::Malformed {
                        seq,
                        recv_ns: msg.recv_ns,
                        reason,
                        field,
                    },
                    &self.stats.cold_drops[0],
                );
                return;
            }
        };
        st.parsed.inc();
        // Market time: the venue's own stamp when it sends one, else what the source knows
        // (synthetic clock, recorded receive time), else the last market time seen; never the
        // live wall clock, and never running backwards, so candles and equity stay ordered.
        let venue_ns = match payload {
            Payload::Trade(t) => Some(t.trade_ns),
            Payload::BookTicker(b) if b.event_ns != 0 => Some(b.event_ns),
            _ => msg.market_ns,
        };
        self.last_market_ns = self.last_market_ns.max(venue_ns.unwrap_or(0));
        out.emit(Envelope {
            ingress_ns: msg.ingress_ns,
            stamp_ns: msg.ingress_ns,
            recv_ns: msg.recv_ns,
            market_ns: self.last_market_ns,
            seq,
            payload,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stats::SKIP_KINDS;
    use parse::SkipKind;

    fn capture(lines: &[&str], recv: Option<Vec<u64>>) -> Capture {
        let mut c = Capture::from_bytes("t.jsonl".into(), lines.join("\n").into_bytes());
        c.recv_ns = recv;
        c
    }

    #[test]
    fn replay_paces_by_the_sidecar_and_loops() {
        // 1x: the second message is recorded 60 s after the first, so it is not due yet.
        let c = capture(&["{}", "{}"], Some(vec![1_000, 60_000_001_000]));
        let mut r = ReplaySource::new(vec![c.clone()], Speed::Factor(1.0), 1, None);
        match r.poll() {
            Next::Msg(m) => assert_eq!(m.recv_ns, 1_000, "receive time comes from the sidecar"),
            _ => panic!("first message is due at once"),
        }
        assert!(matches!(r.poll(), Next::Wait));
        // Max speed, two loops, stopped by the limit after three messages.
        let mut r = ReplaySource::new(vec![c], Speed::Max, 2, Some(3));
        let mut n = 0;
        while let Next::Msg(_) = r.poll() {
            n += 1;
        }
        assert_eq!(n, 3);
        let mut r = ReplaySource::new(vec![capture(&["{}"], None)], Speed::Max, 2, None);
        assert!(matches!(r.poll(), Next::Msg(_)));
        assert!(matches!(r.poll(), Next::Msg(_)));
        assert!(matches!(r.poll(), Next::End));
    }

    #[test]
    fn skip_kinds_fit_the_counters() {
        assert_eq!(SkipKind::ALL.len(), SKIP_KINDS);
    }
}
