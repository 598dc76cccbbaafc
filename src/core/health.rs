//! What a hot thread publishes about itself while it runs, for the health monitor on the cold
//! side: a heartbeat, how much it has handled, what it lost, the allocations inside its loop
//! and its stages' latency, all in atomics it alone writes.
//!
//! Writing is a relaxed load and store of a line only this thread writes (no read-modify-write,
//! no lock, no fence), so the hot loop pays a few nanoseconds per event; the monitor reads the
//! lines about once a second. The latency histograms are fixed buckets (see [`LiveHist`]), so
//! the monitor can subtract two readings and get the percentiles of any window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crossbeam_utils::CachePadded;

use super::config::Stage;
use super::stats::{Counter, Gauge};

/// Sub-buckets per power of two: values are kept to within 1/8 (12.5 %).
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Buckets: values below `SUB` exactly, then `SUB` per power of two up to 2⁶⁴.
pub const BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

/// A latency histogram in fixed log-linear buckets, written by one thread and read by any.
pub struct LiveHist {
    buckets: Box<[Counter]>,
}

impl Default for LiveHist {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| Counter::default()).collect(),
        }
    }
}

impl std::fmt::Debug for LiveHist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveHist({} samples)", self.counts().iter().sum::<u64>())
    }
}

/// The bucket of `v`.
#[inline]
pub fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let log = 63 - v.leading_zeros(); // ≥ SUB_BITS
    let sub = (v >> (log - SUB_BITS)) as usize & (SUB - 1);
    SUB + (log - SUB_BITS) as usize * SUB + sub
}

/// The largest value bucket `b` holds.
pub fn bucket_high(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let k = b - SUB;
    let log = (k / SUB) as u32 + SUB_BITS;
    let sub = (k % SUB) as u64;
    let low = (1u64 << log) | (sub << (log - SUB_BITS));
    low.saturating_add((1u64 << (log - SUB_BITS)) - 1)
}

impl LiveHist {
    /// Records one value. Only the owning thread may call this.
    #[inline]
    pub fn record(&self, v: u64) {
        if let Some(c) = self.buckets.get(bucket_of(v)) {
            c.inc();
        }
    }

    /// Every bucket's count now.
    pub fn counts(&self) -> Vec<u64> {
        self.buckets.iter().map(Counter::get).collect()
    }

    /// Reads the bucket counts into `out` (as many as fit), allocating nothing.
    pub fn read_into(&self, out: &mut [u64]) {
        for (o, b) in out.iter_mut().zip(self.buckets.iter()) {
            *o = b.get();
        }
    }
}

/// The value at quantile `q` (0..=1) of bucket counts (the bucket's upper bound, so never
/// under the true value by more than one bucket); `None` when empty.
pub fn quantile(counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (b, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(bucket_high(b));
        }
    }
    None
}

/// One hot thread's published state.
#[derive(Debug)]
pub struct ThreadProbe {
    /// Thread name (`lane/thread`).
    pub name: String,
    /// Its stages, in order.
    pub stages: Vec<Stage>,
    /// Loop iterations: moves whenever the thread is alive and not stuck inside a stage.
    pub heartbeat: CachePadded<Counter>,
    /// Messages (source thread) or envelopes (others) handled.
    pub events: Counter,
    /// Allocations inside the loop so far (must stay 0).
    pub allocations: Gauge,
    /// Envelopes or reports a gone peer could not take.
    pub lost: Gauge,
    /// Sampled latency per stage (index: [`Stage::index`]).
    pub latency: [LiveHist; 7],
    /// Ingress to order at the venue edge.
    pub tick_to_order: LiveHist,
    /// Ingress to market data leaving the venue stage.
    pub end_to_end: LiveHist,
    /// Set when the loop has ended.
    pub done: AtomicBool,
    /// Stage panics caught at the thread boundary so far.
    pub restarts: Counter,
    /// What the thread did about each caught panic, oldest first, until the cold thread takes
    /// it. Written only on that fault path (a lock and an allocation are fine there, never in
    /// the loop's normal work).
    pub heals: Mutex<Vec<Heal>>,
    /// Why the thread asked for a safe stop, once it has.
    pub stop_reason: Mutex<Option<String>>,
}

/// What a hot thread did after a stage panicked on an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heal {
    /// The stage that panicked.
    pub stage: Stage,
    /// The panic's message and where it was raised.
    pub panic: String,
    /// What the stage was handling.
    pub input: HealInput,
    /// What came of it.
    pub outcome: HealOutcome,
}

/// The input a stage panicked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealInput {
    /// Payload kind (`trade`, `candle`, …).
    pub kind: &'static str,
    /// Instrument, when the payload has one.
    pub instrument: Option<super::InstrumentId>,
    /// Market time, ns since epoch.
    pub market_ns: u64,
    /// Position of its source message in the stream.
    pub seq: u64,
}

impl HealInput {
    /// What the journal says about `env`.
    pub fn of(env: &super::Envelope) -> Self {
        use super::Payload;
        let instrument = match &env.payload {
            Payload::Trade(t) => Some(t.instrument),
            Payload::BookTicker(b) => Some(b.instrument),
            Payload::Candle(c) => Some(c.instrument),
            Payload::Indicator(i) => Some(i.instrument),
            Payload::Place(r) => Some(r.order.intent.instrument),
            Payload::Cancel(c) => Some(c.cancel.instrument),
        };
        Self {
            kind: payload_kind(&env.payload),
            instrument,
            market_ns: env.market_ns,
            seq: env.seq,
        }
    }
}

/// Every name [`payload_kind`] gives.
pub const PAYLOAD_KINDS: [&str; 7] = [
    "trade",
    "book_ticker",
    "candle",
    "live_candle",
    "indicator",
    "place",
    "cancel",
];

/// The kind of a payload, as the journal and fault injection name it.
pub fn payload_kind(p: &super::Payload) -> &'static str {
    use super::Payload;
    match p {
        Payload::Trade(_) => "trade",
        Payload::BookTicker(_) => "book_ticker",
        Payload::Candle(c) if c.flags & super::Candle::FLAG_LIVE == 0 => "candle",
        Payload::Candle(_) => "live_candle",
        Payload::Indicator(_) => "indicator",
        Payload::Place(_) => "place",
        Payload::Cancel(_) => "cancel",
    }
}

/// How a caught panic ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealOutcome {
    /// The stage's state was restored from its snapshot and the input handled again: nothing
    /// was lost.
    Retried,
    /// The input was dropped (the stage's state restored where it keeps a snapshot): what it
    /// would have caused downstream is lost.
    Lost,
    /// The stage holds money state (orders, positions) or failed too often: the run stops
    /// safely (sources stop, everything in flight drains, reports are written).
    Stopped(String),
}

impl ThreadProbe {
    /// A probe for thread `name` hosting `stages`.
    pub fn new(name: &str, stages: &[Stage]) -> Self {
        Self {
            name: name.to_string(),
            stages: stages.to_vec(),
            heartbeat: CachePadded::new(Counter::default()),
            events: Counter::default(),
            allocations: Gauge::default(),
            lost: Gauge::default(),
            latency: Default::default(),
            tick_to_order: LiveHist::default(),
            end_to_end: LiveHist::default(),
            done: AtomicBool::new(false),
            restarts: Counter::default(),
            heals: Mutex::new(Vec::new()),
            stop_reason: Mutex::new(None),
        }
    }

    /// Takes what the thread recorded about caught panics since the last call.
    pub fn take_heals(&self) -> Vec<Heal> {
        match self.heals.lock() {
            Ok(mut h) => std::mem::take(&mut *h),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// Why the thread stopped the run, if it did.
    pub fn stop_reason(&self) -> Option<String> {
        match self.stop_reason.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// True once the thread's loop ended.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// How a hot stage comes back after panicking on an input (the thread catches the panic at
/// its boundary, see [`crate::runtime`]).
pub trait Recover {
    /// Restores the state the stage had before `poison` where it keeps what it needs (its
    /// last snapshot), and says whether handling `poison` again gives exactly what a clean
    /// run would have. True: the thread retries the input once. False: the input is dropped
    /// (and journaled), since handling it again could count it twice.
    fn recover(&mut self, poison: &super::Envelope) -> bool;
}

/// What the breach throttle does while it is on (config `ops.breach_pause_openings`,
/// `ops.breach_widen`, `ops.breach_shed_live_candles`), fixed at build.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreachActions {
    /// The risk engine refuses new opening orders (closes and protective exits still go).
    pub pause_openings: bool,
    /// Strategies' entry thresholds are multiplied by this (capped at 1; 1 = unchanged), so
    /// only stronger signals open positions. Exit thresholds stay: the hysteresis band widens.
    pub entry_widen: f64,
    /// Live (still forming) candles are not built: optional work shed.
    pub shed_live_candles: bool,
}

impl Default for BreachActions {
    fn default() -> Self {
        Self {
            pause_openings: true,
            entry_widen: 1.5,
            shed_live_candles: true,
        }
    }
}

impl BreachActions {
    /// What they do, in words, for the journal ("new opening orders refused, …").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.pause_openings {
            parts.push("new opening orders refused".to_string());
        }
        if self.entry_widen > 1.0 {
            parts.push(format!("entry thresholds ×{}", self.entry_widen));
        }
        if self.shed_live_candles {
            parts.push("live candles shed".to_string());
        }
        if parts.is_empty() {
            "nothing acted on (every breach action is off)".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// What the health monitor asks of the trading side (cold to hot). The trader reads both
/// flags with a relaxed load once per event; `actions` says what the throttle means.
#[derive(Debug, Default)]
pub struct Control {
    /// The breach throttle is on: apply `actions`.
    pub throttle: AtomicBool,
    /// Trip the kill switch (it stays on until an operator resets it).
    pub kill: AtomicBool,
    /// What the throttle does (read-only after build).
    pub actions: BreachActions,
}

impl Control {
    /// Flags off, throttling as `actions` say.
    pub fn new(actions: BreachActions) -> Self {
        Self {
            actions,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values_within_an_eighth() {
        let mut last = 0;
        for v in (0..2000u64).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v}");
            let hi = bucket_high(b);
            assert!(hi >= v, "{v} in bucket {b} whose top is {hi}");
            assert!(hi - v <= v / 8, "{v}: top {hi} too far");
            if v < 2000 {
                assert!(b >= last, "buckets go up with values");
                last = b;
            }
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_reading_and_of_a_window() {
        let h = LiveHist::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let before = h.counts();
        let p50 = quantile(&before, 0.5).unwrap();
        assert!((500_000..=562_500).contains(&p50), "{p50}");
        let p99 = quantile(&before, 0.99).unwrap();
        assert!((990_000..=1_114_000).contains(&p99), "{p99}");
        for _ in 0..100 {
            h.record(7);
        }
        // The window since `before`: only the sevens.
        let now = h.counts();
        let window: Vec<u64> = now.iter().zip(&before).map(|(a, b)| a - b).collect();
        assert_eq!(quantile(&window, 0.999), Some(7));
        assert_eq!(quantile(&vec![0; BUCKETS], 0.5), None);
    }
}
