//! One hot thread: a contiguous run of stages, fused by plain calls, between two rings.
//!
//! The thread owns its stages, its input ring (unless it hosts the source), its output ring
//! (unless it ends with the venue) and, when risk and venue live on different threads, one end
//! of the execution-report ring and the venue's progress counter.
//!
//! The signals and risk stages are one [`Trader`] (they must share a thread). What the trader
//! sends to the venue (market data, orders, cancels) goes to the venue stage on the same
//! thread, whose executions go straight back to the trader, until both are quiet; or, with
//! the venue on another thread, over the output ring, the executions coming back on the return
//! ring. In that case, while any order is live the trader waits, before each new event, until
//! the venue has handled everything sent to it and its reports are applied: the trader then
//! sees the same executions at the same points as on one thread, so the same input gives the
//! same orders and fills whatever the topology. Everything is built before the thread starts; the loop itself
//! allocates nothing, takes no lock and makes no syscall beyond what its wait strategy asks
//! for when idle. Each stage's latency is the time from the previous stage's exit stamp (so it
//! includes the ring hop in front of it) to its own exit; one clock read per stage.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::arbiter::Arbiter;
use crate::candles::Candles;
use crate::core::alloc::thread_allocations;
use crate::core::clock;
use crate::core::config::Stage;
use crate::core::health::{HealInput, HealOutcome, Recover, ThreadProbe};
use crate::core::order::Execution;
use crate::core::{Envelope, Payload, Sink};
use crate::feed::{Next, ParseStage, Source};
use crate::indicators::Indicators;
use crate::ring::{Consumer, Producer, WaitStrategy, Waiter};
use crate::trader::Trader;
use crate::venue::VenueStage;

use super::heal::{caught, quiet_panics, FaultPlan, Faults, Healer};
use super::latency::{histogram, Intervals};

/// Most values a stage emits for one input (a trade can close one candle per resolution and
/// refresh as many live ones); a debug build asserts the bound.
const EMIT_MAX: usize = 16;
/// Room on a thread's emit stack: one window per stage, depth first.
const EMIT_STACK: usize = EMIT_MAX * 8;

/// One stage's output for one input: the front of the free part of the thread's emit stack
/// (its slots allocated and filled before the loop). Depth first, each stage's outputs sit
/// in front of what the stages after it use, so a whole event's fan-out is written once per
/// stage and read in place: no initialization, no allocation, no copy out. An input passed
/// on unchanged ([`Sink::forward`]) is not copied at all: only its place among the outputs
/// is kept, and the next stage reads the input itself.
struct Emitted<'a> {
    slots: &'a mut [Envelope],
    len: usize,
    /// The input goes on before output `forward_at` (`usize::MAX`: it does not).
    forward_at: usize,
}

impl Sink<Envelope> for Emitted<'_> {
    #[inline]
    fn emit(&mut self, value: Envelope) {
        debug_assert!(
            self.len < self.slots.len(),
            "stage emitted more than {EMIT_MAX} values for one input"
        );
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = value;
            self.len += 1;
        }
    }

    #[inline]
    fn forward(&mut self, _input: &Envelope) {
        debug_assert!(self.forward_at == usize::MAX, "input forwarded twice");
        self.forward_at = self.len;
    }
}

/// The parse stage's output on a thread that hosts nothing after it: each envelope goes
/// straight onto the output ring, stamped as it leaves when its message is timed.
struct ToRing<'a> {
    ctx: &'a mut Ctx,
    timed: bool,
}

impl Sink<Envelope> for ToRing<'_> {
    #[inline]
    fn emit(&mut self, mut value: Envelope) {
        value.stamp_ns = if self.timed { clock::mono_ns() } else { 0 };
        self.ctx.send_out(value);
    }
}

/// The stages a thread may host; `None` where the stage lives on another thread.
#[derive(Default)]
pub struct Stages {
    /// Source + parse.
    pub parse: Option<(Source, ParseStage)>,
    /// Arbiter.
    pub arbiter: Option<Arbiter>,
    /// Candles.
    pub candles: Option<Candles>,
    /// Indicators.
    pub indicators: Option<Indicators>,
    /// Signals + risk + orders (the two stages share a thread).
    pub trader: Option<Trader>,
    /// Venue.
    pub venue: Option<VenueStage>,
}

/// Everything a hot thread owns.
pub struct HotThread {
    /// Thread name.
    pub name: String,
    /// Core to pin to.
    pub core: Option<usize>,
    /// Stages, in order.
    pub stage_list: Vec<Stage>,
    /// Wait strategy.
    pub wait: WaitStrategy,
    /// The stages.
    pub stages: Stages,
    /// Input ring (all threads but the source's).
    pub input: Option<Consumer<Envelope>>,
    /// Output ring (all threads but the venue's).
    pub output: Option<Producer<Envelope>>,
    /// Execution reports in (risk thread when the venue is elsewhere).
    pub exec_in: Option<Consumer<Execution>>,
    /// Execution reports out (venue thread when risk is elsewhere).
    pub exec_out: Option<Producer<Execution>>,
    /// Envelopes the venue thread has handled (shared by the two when they differ).
    pub venue_done: Option<Arc<AtomicU64>>,
    /// Set to stop the source.
    pub stop: Arc<AtomicBool>,
    /// Time one source message in this many (stage latencies; orders are always timed).
    pub sample_every: u64,
    /// End-to-end latency over time (benchmarks; kept by the thread hosting the venue).
    pub intervals: Option<Intervals>,
    /// What the thread publishes for the health monitor while it runs.
    pub probe: Arc<ThreadProbe>,
    /// Restart limits and injected faults.
    pub heal: HealSpec,
    /// The catalog recorder's tap (on the thread hosting the indicators stage, when the run
    /// records).
    pub recorder: Option<crate::catalog::recorder::RecorderTap>,
}

/// How a hot thread heals (see [`super::heal`]).
#[derive(Clone, Debug, Default)]
pub struct HealSpec {
    /// Panics allowed within `restart_window_s` before a safe stop.
    pub restart_max: u32,
    /// Seconds.
    pub restart_window_s: u64,
    /// Faults to inject (tests).
    pub faults: FaultPlan,
}

/// What a hot thread reports when it ends.
pub struct ThreadReport {
    /// Name.
    pub name: String,
    /// Core it was pinned to (None = unpinned; Some but `pinned` false = pinning failed).
    pub core: Option<usize>,
    /// Whether pinning succeeded.
    pub pinned: bool,
    /// Stage names.
    pub stages: Vec<Stage>,
    /// Allocations inside the run loop (must be 0).
    pub allocations: u64,
    /// Allocations while setting up (before the loop).
    pub setup_allocations: u64,
    /// Per-stage latency.
    pub stage_latency: Vec<(Stage, Histogram<u64>)>,
    /// Ingress → order at the venue edge.
    pub tick_to_order: Option<Histogram<u64>>,
    /// Ingress → market data leaving the venue stage, the end of the pipeline (timed
    /// envelopes only).
    pub end_to_end: Option<Histogram<u64>>,
    /// The same over time, when asked for.
    pub intervals: Option<Intervals>,
    /// Envelopes or reports that could not be delivered because a peer thread was gone.
    pub lost: u64,
}

struct Ctx {
    last: usize,
    output: Option<Producer<Envelope>>,
    exec_in: Option<Consumer<Execution>>,
    exec_out: Option<Producer<Execution>>,
    venue_done: Option<Arc<AtomicU64>>,
    /// Envelopes pushed onto the output ring (the venue's input, on the trader's thread).
    sent: u64,
    hist: [Option<Histogram<u64>>; 7],
    tick_to_order: Option<Histogram<u64>>,
    end_to_end: Option<Histogram<u64>>,
    intervals: Option<Intervals>,
    waiter: Waiter,
    lost: u64,
    /// Time one source message in this many (1 = every one).
    sample_every: u64,
    /// Source messages until the next timed one (a countdown: no division per message).
    until_timed: u64,
    /// What the stages emit, depth first (see [`Emitted`]).
    stack: Vec<Envelope>,
    /// The thread's published state.
    probe: Arc<ThreadProbe>,
    /// Loop rounds and events so far (published every 1,024 rounds).
    beats: u64,
    events: u64,
    /// Injected panics (tests).
    faults: Faults,
    /// Caught panics, restarts and safe stops.
    healer: Healer,
    /// The trader or the venue panicked: they are not fed again (the run stops safely).
    money_failed: bool,
    /// The recorder's tap: offered what enters the indicators stage.
    tap: Option<crate::catalog::recorder::RecorderTap>,
}

impl Ctx {
    /// Records a stage's latency, for timed envelopes only (`since` 0 = not sampled).
    #[inline]
    fn record(&mut self, stage: Stage, since: u64, now: u64) {
        if since == 0 {
            return;
        }
        let v = now.saturating_sub(since);
        if let Some(h) = &mut self.hist[stage.index()] {
            h.saturating_record(v);
        }
        if let Some(h) = self.probe.latency.get(stage.index()) {
            h.record(v);
        }
    }

    /// Counts one loop round that handled `events`, publishing the probe every 1,024 rounds
    /// (the counters live in the thread until then: two stores per message measured 3.5 %
    /// of a backtest).
    #[inline]
    fn beat(&mut self, events: u64, loop_start: u64) {
        self.beats = self.beats.wrapping_add(1);
        self.events = self.events.wrapping_add(events);
        if self.beats.is_multiple_of(1024) {
            self.publish(loop_start);
        }
    }

    /// Publishes the probe now: heartbeat, events, allocations inside the loop, losses.
    /// Also on every idle round, so an idle thread's heartbeat still moves.
    fn publish(&self, loop_start: u64) {
        self.probe.heartbeat.store(self.beats);
        self.probe.events.store(self.events);
        let allocs = thread_allocations().saturating_sub(loop_start);
        self.probe
            .allocations
            .set(allocs.min(i64::MAX as u64) as i64);
        self.probe.lost.set(self.lost.min(i64::MAX as u64) as i64);
    }

    /// The stage exit stamp of an envelope: the clock for a timed one, 0 (no clock read)
    /// for one the sampling skips.
    #[inline]
    fn stamp(since: u64) -> u64 {
        if since == 0 {
            0
        } else {
            clock::mono_ns()
        }
    }

    #[inline]
    fn send_out(&mut self, env: Envelope) {
        if let Some(out) = &mut self.output {
            if out.push_wait(env, &mut self.waiter).is_err() {
                self.lost += 1;
                self.peer_gone("the next thread");
            } else {
                self.sent += 1;
            }
            self.waiter.reset();
        }
    }

    /// A peer thread stopped reading what this one sends: nothing more can get through, so
    /// the run stops safely (once).
    #[cold]
    #[inline(never)]
    fn peer_gone(&mut self, who: &str) {
        if !self.healer.stopped {
            self.healer.stop_run(format!(
                "{who} stopped reading its input ring (its consumer is gone): {} envelope(s) lost",
                self.lost
            ));
        }
    }

    /// The trader or the venue panicked on `env`: their state holds orders and positions,
    /// which only a restart from the order journal rebuilds, so they are fed no more and the
    /// run stops safely.
    #[cold]
    #[inline(never)]
    fn money_failed(&mut self, s: Stage, env: &Envelope) {
        self.money_failed = true;
        self.healer.failed(
            s,
            HealInput::of(env),
            HealOutcome::Stopped(
                "it holds orders and positions: not restarted in place (a restart recovers them from the order journal)".into(),
            ),
        );
    }

    /// Applies every report waiting on the return ring (until it is empty), sending what
    /// they cause on to the venue. Returns false once that ring is closed (or there is none).
    #[inline]
    fn drain_exec(&mut self, trader: &mut Trader) -> bool {
        let Some(rx) = &mut self.exec_in else {
            return false;
        };
        while rx.pop_batch(256, |r| trader.on_execution(&r)) > 0 {}
        let open = !rx.is_closed();
        let stamp = clock::mono_ns();
        while let Some(mut e) = trader.pop() {
            e.stamp_ns = stamp;
            self.send_out(e);
        }
        open
    }

    /// Lockstep with a venue on another thread (see the module docs): while an order is
    /// live, waits until the venue has handled everything sent to it and applies its reports.
    #[inline]
    fn sync_venue(&mut self, trader: &mut Trader) {
        let Some(done) = self.venue_done.clone() else {
            return;
        };
        loop {
            if !self.drain_exec(trader) || trader.live_orders() == 0 {
                break;
            }
            if done.load(Ordering::Acquire) >= self.sent {
                // Everything sent was handled and its reports are on the ring.
                let before = self.sent;
                self.drain_exec(trader);
                if self.sent == before {
                    break;
                }
                continue;
            }
            self.waiter.idle();
        }
        self.waiter.reset();
    }
}

const STAGE_AFTER: [Option<Stage>; 7] = [
    Some(Stage::Arbiter),
    Some(Stage::Candles),
    Some(Stage::Indicators),
    Some(Stage::Signals),
    Some(Stage::Risk),
    Some(Stage::Venue),
    None,
];

/// Hands one envelope to the venue on this thread and its executions back to the trader.
#[inline]
fn venue_step(
    venue: &mut VenueStage,
    trader: Option<&mut Trader>,
    env: &Envelope,
    since: u64,
    ctx: &mut Ctx,
) {
    venue.on_event(env);
    let placed = matches!(env.payload, Payload::Place(_)) && env.ingress_ns != 0;
    // Every order is timed tick to order; other envelopes as sampled.
    let now = if placed {
        clock::mono_ns()
    } else {
        Ctx::stamp(since)
    };
    if let (true, Some(h)) = (placed, &mut ctx.tick_to_order) {
        let v = now.saturating_sub(env.ingress_ns);
        h.saturating_record(v);
        ctx.probe.tick_to_order.record(v);
    }
    // Market data ends its trip here: the whole pipeline, ingress to venue exit.
    if now != 0
        && env.ingress_ns != 0
        && matches!(env.payload, Payload::Trade(_) | Payload::BookTicker(_))
    {
        let v = now.saturating_sub(env.ingress_ns);
        if let Some(h) = &mut ctx.end_to_end {
            h.saturating_record(v);
        }
        ctx.probe.end_to_end.record(v);
        if let Some(iv) = &mut ctx.intervals {
            iv.record(now, v);
        }
    }
    ctx.record(Stage::Venue, since, now);
    match trader {
        Some(t) => {
            while let Some(r) = venue.pop() {
                t.on_execution(&r);
            }
        }
        None => {
            while let Some(r) = venue.pop() {
                if let Some(tx) = &mut ctx.exec_out {
                    if tx.push_wait(r, &mut ctx.waiter).is_err() {
                        ctx.lost += 1;
                        ctx.peer_gone("the trader's thread");
                    }
                    ctx.waiter.reset();
                }
            }
        }
    }
}

/// Sends the trader's out-queue on: to the venue stage here (whose executions may queue
/// more), or onto the output ring.
#[inline]
fn route(trader: &mut Trader, mut venue: Option<&mut VenueStage>, stamp: u64, ctx: &mut Ctx) {
    while let Some(mut e) = trader.pop() {
        e.stamp_ns = stamp;
        match venue.as_deref_mut() {
            Some(v) => venue_step(v, Some(&mut *trader), &e, stamp, ctx),
            None => ctx.send_out(e),
        }
    }
}

/// The risk stage with the trader: checks, then hands the venue (here, or over the output
/// ring) the market data it passes on and the orders it caused.
#[inline]
fn risk_step(
    t: &mut Trader,
    mut venue: Option<&mut VenueStage>,
    env: &Envelope,
    since: u64,
    ctx: &mut Ctx,
) {
    let first = t.on_risk(env);
    ctx.faults.after(Stage::Risk, env);
    let now = Ctx::stamp(since);
    ctx.record(Stage::Risk, since, now);
    if first {
        // The market data itself, ahead of what it caused.
        match venue.as_deref_mut() {
            Some(v) => venue_step(v, Some(&mut *t), env, now, ctx),
            None => ctx.send_out(Envelope {
                stamp_ns: now,
                ..*env
            }),
        }
    }
    route(t, venue, now, ctx);
}

/// Runs a stage that can restart ([`Recover`]) on `env` under the thread's catch. After a
/// panic the stage restores its state and handles `env` once more, or drops it (see
/// [`heal_stage`]).
#[inline(always)]
fn guarded<S: Recover>(
    st: &mut S,
    s: Stage,
    env: &Envelope,
    out: &mut Emitted<'_>,
    ctx: &mut Ctx,
    step: impl Fn(&mut S, &Envelope, &mut Emitted<'_>),
) {
    if !attempt(st, s, env, out, &mut ctx.faults, &step) {
        heal_stage(st, s, env, out, ctx, &step);
    }
}

/// One try of a stage on `env` (and the fault plan's say after it); false if it panicked.
#[inline(always)]
fn attempt<S>(
    st: &mut S,
    s: Stage,
    env: &Envelope,
    out: &mut Emitted<'_>,
    faults: &mut Faults,
    step: &impl Fn(&mut S, &Envelope, &mut Emitted<'_>),
) -> bool {
    caught(|| {
        step(st, env, out);
        faults.after(s, env);
    })
}

/// After stage `s` panicked on `env`: restore, retry once where that is exact, else drop
/// what it emitted; journal either way (a safe stop once it fails too often).
#[cold]
#[inline(never)]
fn heal_stage<S: Recover>(
    st: &mut S,
    s: Stage,
    env: &Envelope,
    out: &mut Emitted<'_>,
    ctx: &mut Ctx,
    step: &impl Fn(&mut S, &Envelope, &mut Emitted<'_>),
) {
    out.len = 0;
    out.forward_at = usize::MAX;
    let input = HealInput::of(env);
    if st.recover(env) {
        let first = super::heal::take_panic();
        if attempt(st, s, env, out, &mut ctx.faults, step) {
            super::heal::set_panic(first);
            ctx.healer.failed(s, input, HealOutcome::Retried);
            return;
        }
        out.len = 0;
        out.forward_at = usize::MAX;
        st.recover(env);
    }
    ctx.healer.failed(s, input, HealOutcome::Lost);
}

impl Stages {
    /// Runs `env` through stage `s` and everything after it on this thread, depth first, so
    /// the order of events leaving the thread is the order a single thread would produce.
    fn run(&mut self, s: Stage, env: &Envelope, ctx: &mut Ctx) {
        // The stack leaves the context for the walk (a pointer swap) so that stages can
        // borrow the context beside it.
        let mut stack = std::mem::take(&mut ctx.stack);
        self.run_in(s, env, env.stamp_ns, &mut stack, ctx);
        ctx.stack = stack;
    }

    /// [`Stages::run`] with `stack` the free part of the emit stack. `since` is the previous
    /// stage's exit stamp (0 = not timed); on this thread it travels beside the envelope, not
    /// in it, so an envelope passed on unchanged is never rewritten.
    fn run_in(
        &mut self,
        s: Stage,
        env: &Envelope,
        since: u64,
        stack: &mut [Envelope],
        ctx: &mut Ctx,
    ) {
        if s.index() > ctx.last {
            ctx.send_out(Envelope {
                stamp_ns: since,
                ..*env
            });
            return;
        }
        let cap = stack.len().min(EMIT_MAX);
        let (mine, rest) = stack.split_at_mut(cap);
        let mut out = Emitted {
            slots: mine,
            len: 0,
            forward_at: usize::MAX,
        };
        match s {
            Stage::Parse => {}
            Stage::Arbiter => {
                if let Some(a) = &mut self.arbiter {
                    guarded(a, s, env, &mut out, ctx, |a, e, o| a.on_event(e, o));
                }
            }
            Stage::Candles => {
                if let Some(c) = &mut self.candles {
                    guarded(c, s, env, &mut out, ctx, |c, e, o| c.on_event(e, o));
                }
            }
            Stage::Indicators => {
                // The merged trades and quotes and the candles, as the pipeline uses them.
                if let Some(t) = &mut ctx.tap {
                    t.offer(env);
                }
                if let Some(i) = &mut self.indicators {
                    guarded(i, s, env, &mut out, ctx, |i, e, o| i.on_event(e, o));
                }
            }
            Stage::Signals => {
                if let Some(t) = self.trader.as_mut().filter(|_| !ctx.money_failed) {
                    if !caught(|| {
                        ctx.sync_venue(t);
                        t.on_signals(env);
                        ctx.faults.after(s, env);
                    }) {
                        ctx.money_failed(s, env);
                    }
                }
                out.forward(env);
            }
            Stage::Risk => {
                let venue_here = ctx.last >= Stage::Venue.index();
                if let Some(t) = self.trader.as_mut().filter(|_| !ctx.money_failed) {
                    let venue = if venue_here {
                        self.venue.as_mut()
                    } else {
                        None
                    };
                    if !caught(|| risk_step(t, venue, env, since, ctx)) {
                        ctx.money_failed(s, env);
                    }
                }
                return;
            }
            Stage::Venue => {
                // Reached only on a thread that starts at the venue (with the trader here, the
                // risk stage hands the venue its envelopes itself).
                if let Some(v) = self.venue.as_mut().filter(|_| !ctx.money_failed) {
                    if !caught(|| venue_step(v, None, env, since, ctx)) {
                        ctx.money_failed(s, env);
                    }
                }
                if let Some(d) = &ctx.venue_done {
                    // Everything this envelope caused is on the return ring.
                    d.fetch_add(1, Ordering::Release);
                }
                return;
            }
        }
        let (n, forward_at) = (out.len, out.forward_at);
        let now = Ctx::stamp(since);
        ctx.record(s, since, now);
        let Some(next) = STAGE_AFTER[s.index()] else {
            return;
        };
        for i in 0..=n {
            if i == forward_at {
                self.run_in(next, env, now, rest, ctx);
            }
            if i < n {
                if let Some(e) = mine.get(i) {
                    self.run_in(next, e, now, rest, ctx);
                }
            }
        }
    }
}

/// On an idle source: lets go the events the parse stage holds for corrected-time ordering
/// whose hold time is up (live sources only; a replay's clock is its data, so its held events
/// leave as later messages arrive, deterministically).
#[inline]
fn release_held(
    source: &Source,
    parser: &mut ParseStage,
    parse_out: &mut Vec<Envelope>,
    stages: &mut Stages,
    next: Stage,
    ctx: &mut Ctx,
) {
    if !parser.reorders() {
        return;
    }
    let Some(now_recv) = source.recv_now() else {
        return;
    };
    parse_out.clear();
    parser.on_idle(now_recv, parse_out);
    if parse_out.is_empty() {
        return;
    }
    let now = clock::mono_ns();
    for mut e in parse_out.iter().copied() {
        e.stamp_ns = now;
        stages.run(next, &e, ctx);
    }
}

impl HotThread {
    /// Runs until the source ends (or `stop`), or the input ring closes; then closes its output.
    pub fn run(self) -> ThreadReport {
        let setup_start = thread_allocations();
        let pinned = match self.core {
            Some(id) => core_affinity::set_for_current(core_affinity::CoreId { id }),
            None => false,
        };
        let HotThread {
            name,
            core,
            stage_list,
            wait,
            mut stages,
            mut input,
            output,
            exec_in,
            exec_out,
            venue_done,
            stop,
            sample_every,
            intervals,
            probe,
            heal,
            recorder,
        } = self;
        quiet_panics();
        let stall = heal.faults.stall.filter(|_| stages.parse.is_some());
        let drop_after = heal
            .faults
            .drop
            .filter(|(s, _)| stage_list.contains(s) && !stage_list.contains(&Stage::Parse))
            .map(|(_, n)| n);
        let mut hist: [Option<Histogram<u64>>; 7] = Default::default();
        for s in &stage_list {
            hist[s.index()] = Some(histogram());
        }
        let first = stage_list.first().copied().unwrap_or(Stage::Venue);
        let last = stage_list.last().copied().unwrap_or(Stage::Venue).index();
        let mut ctx = Ctx {
            last,
            output,
            exec_in,
            exec_out,
            venue_done,
            sent: 0,
            sample_every: sample_every.max(1),
            until_timed: sample_every.max(1),
            hist,
            tick_to_order: stage_list.contains(&Stage::Venue).then(histogram),
            end_to_end: stage_list.contains(&Stage::Venue).then(histogram),
            intervals: intervals.filter(|_| stage_list.contains(&Stage::Venue)),
            waiter: Waiter::new(wait),
            lost: 0,
            // Placeholders: each slot is written by a stage before it is read.
            stack: vec![
                Envelope::at(
                    0,
                    Payload::Cancel(crate::core::order::RoutedCancel {
                        cancel: crate::core::order::VenueCancel {
                            client_order_id: 0,
                            instrument: crate::core::InstrumentId(0),
                            sent_ns: 0,
                        },
                        venue: 0,
                    }),
                );
                EMIT_STACK
            ],
            faults: Faults::for_thread(&heal.faults, &stage_list),
            healer: Healer::new(
                probe.clone(),
                stop.clone(),
                heal.restart_max,
                heal.restart_window_s,
            ),
            probe,
            beats: 0,
            events: 0,
            money_failed: false,
            tap: recorder,
        };
        let mut idle = Waiter::new(wait);
        // One message may carry many events (a trade array, a book's quote): room for the
        // most the parse stage ever emits for one message, so pushing never reallocates.
        let mut parse_out: Vec<Envelope> = Vec::with_capacity(crate::feed::MAX_EVENTS_PER_MESSAGE);
        let loop_start = thread_allocations();

        // Taken out of `stages` so the fused stages can be borrowed beside it; dropped only after
        // the allocation count is read (a drop is a heap call too, and teardown is not hot).
        let mut parse_stage = stages.parse.take();
        if let Some((source, parser)) = parse_stage.as_mut() {
            // Source thread: pull, parse, push through the fused stages.
            let next = STAGE_AFTER[Stage::Parse.index()].unwrap_or(Stage::Arbiter);
            let parse_alone = ctx.last == Stage::Parse.index();
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match source.poll() {
                    Next::Msg(mut m) => {
                        idle.reset();
                        ctx.beat(1, loop_start);
                        ctx.until_timed -= 1;
                        let timed = ctx.until_timed == 0;
                        if timed {
                            ctx.until_timed = ctx.sample_every;
                            if m.ingress_ns == 0 {
                                // A source without arrival times: timed from here.
                                m.ingress_ns = clock::mono_ns();
                            }
                        }
                        if let Some((at, ms)) = stall {
                            if ctx.events == at {
                                // Injected: the feed goes silent.
                                std::thread::sleep(std::time::Duration::from_millis(ms));
                            }
                        }
                        let ingress = m.ingress_ns;
                        let lost_input = HealInput {
                            kind: "message",
                            instrument: None,
                            market_ns: m.market_ns.unwrap_or(m.recv_ns),
                            seq: ctx.events.saturating_sub(1),
                        };
                        if parse_alone {
                            // Nothing else on this thread: straight onto the ring.
                            let sink = &mut ToRing {
                                ctx: &mut ctx,
                                timed,
                            };
                            if !caught(|| parser.on_message(m, sink)) {
                                // The message is lost (what it emitted before went on).
                                ctx.healer
                                    .failed(Stage::Parse, lost_input, HealOutcome::Lost);
                            }
                            let now = if timed { clock::mono_ns() } else { 0 };
                            ctx.record(Stage::Parse, if now == 0 { 0 } else { ingress }, now);
                            continue;
                        }
                        parse_out.clear();
                        if !caught(|| parser.on_message(m, &mut parse_out)) {
                            parse_out.clear();
                            ctx.healer
                                .failed(Stage::Parse, lost_input, HealOutcome::Lost);
                        }
                        let now = if timed { clock::mono_ns() } else { 0 };
                        ctx.record(Stage::Parse, if now == 0 { 0 } else { ingress }, now);
                        for mut e in parse_out.iter().copied() {
                            e.stamp_ns = now;
                            stages.run(next, &e, &mut ctx);
                        }
                    }
                    Next::Wait => {
                        ctx.beat(0, loop_start);
                        ctx.publish(loop_start);
                        if let Some(t) = &mut stages.trader {
                            ctx.drain_exec(t);
                        }
                        release_held(source, parser, &mut parse_out, &mut stages, next, &mut ctx);
                        idle.idle();
                    }
                    Next::Busy => {
                        ctx.beat(0, loop_start);
                        release_held(source, parser, &mut parse_out, &mut stages, next, &mut ctx);
                    }
                    Next::Reset(line) => parser.reset_line(usize::from(line)),
                    Next::End => break,
                }
            }
            // Events still held for corrected-time ordering go out before the rings close.
            parse_out.clear();
            parser.flush(&mut parse_out);
            let now = clock::mono_ns();
            for mut e in parse_out.iter().copied() {
                e.stamp_ns = now;
                stages.run(next, &e, &mut ctx);
            }
        } else if let Some(rx) = &mut input {
            loop {
                let n = rx.pop_batch(64, |e| stages.run(first, &e, &mut ctx));
                ctx.beat(n as u64, loop_start);
                if n > 0 {
                    idle.reset();
                    if drop_after.is_some_and(|d| ctx.events >= d) {
                        // Injected: this thread stops reading, as if it had died.
                        break;
                    }
                    continue;
                }
                if rx.is_closed() {
                    break;
                }
                ctx.publish(loop_start);
                if let Some(t) = &mut stages.trader {
                    ctx.drain_exec(t);
                }
                idle.idle();
            }
        }

        if drop_after.is_some() {
            // The consumer goes away with whatever the ring still holds.
            drop(input.take());
        }
        // Drain in order: decisions still waiting are taken and their orders sent; then close
        // our output so the next thread finishes and, if the venue is elsewhere, apply its
        // last reports until it closes the return ring.
        if let Some(t) = &mut stages.trader {
            ctx.sync_venue(t);
            t.finish();
            let venue = if ctx.last >= Stage::Venue.index() {
                stages.venue.as_mut()
            } else {
                None
            };
            route(t, venue, clock::mono_ns(), &mut ctx);
            // A venue elsewhere answers the last orders before the ring closes, as on one
            // thread.
            ctx.sync_venue(t);
        }
        if let Some(out) = &mut ctx.output {
            out.close();
        }
        if let Some(t) = &mut stages.trader {
            while ctx.drain_exec(t) {
                idle.idle();
            }
            // Whatever the last reports caused can no longer reach the venue.
            while t.pop().is_some() {
                ctx.lost += 1;
            }
        }
        if let Some(tx) = &mut ctx.exec_out {
            tx.close();
        }
        let allocations = thread_allocations() - loop_start;
        ctx.publish(loop_start);
        ctx.probe.done.store(true, Ordering::Release);
        drop(parse_stage);
        ThreadReport {
            name,
            core,
            pinned,
            stages: stage_list.clone(),
            allocations,
            setup_allocations: loop_start - setup_start,
            stage_latency: stage_list
                .iter()
                .filter_map(|s| ctx.hist[s.index()].take().map(|h| (*s, h)))
                .collect(),
            tick_to_order: ctx.tick_to_order.take(),
            end_to_end: ctx.end_to_end.take(),
            intervals: ctx.intervals.take(),
            lost: ctx.lost,
        }
    }
}
