//! The trader: the signals and risk + orders stages of one lane, on one thread.
//!
//! It owns the [`StrategyHost`] (strategies, scoring, noise suppression, sizing), the
//! [`RiskEngine`] (every intent is checked; the account as fills make it; kill switch and
//! stops) and the [`Blotter`] (client ids, state machine, timeouts, fallbacks). The two
//! stages share one thread because strategies read positions and risk state synchronously,
//! as in every serious engine: a strategy that sized an order on a stale position could break
//! a limit the risk engine would then have to catch.
//!
//! Per envelope:
//!
//! * **signals** ([`Trader::on_signals`]): trades and book tickers go to the strategies'
//!   callbacks, closed candles to [`StrategyHost::on_candle`]. Their intents and decisions are
//!   held for the risk stage.
//! * **risk** ([`Trader::on_risk`]): a trade moves the risk engine's marks (which may trip the
//!   kill switch, or fire a stop: the engine's own exits), a book ticker the blotter's
//!   quotes; due order timers fire; then every held intent is checked
//!   ([`RiskEngine::check`]) and, if accepted, submitted to the blotter, whose orders go
//!   out to the venue. Each decision is journaled with its score, its parts and the verdict on
//!   each of its intents. Trades, book tickers and orders leave in the order they happened,
//!   through [`Trader::pop`].
//! * **executions** ([`Trader::on_execution`]): the blotter, then the risk engine, then
//!   the strategy that owns the order see each report; fills are journaled.
//!
//! Nothing here allocates after [`Trader::new`]: every buffer is sized there (and bounded
//! writers count what does not fit instead of growing). No locks, no clocks (market time
//! only), no panics on any input.

use std::cell::Cell;
use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx, DecisionRecord, VerdictRecord};
use crate::core::num::e16_to_e8_i64;
use crate::core::order::{ExecType, Execution, OrderIntent, Purpose, Routed, Verdict};
use crate::core::sink::Fifo;
use crate::core::stats::LaneStats;
use crate::core::{Envelope, Instrument, InstrumentId, Payload, Price, Sink};
use crate::orders::blotter::{Blotter, OrderEvent, OrderRules, OrderStatus};
use crate::risk::engine::{
    Breach, BreachKind, Money, RiskAction, RiskEngine, RiskLimits, RiskLimitsError, RISK_STRATEGY,
};
use crate::strategy::api::{Fill, PortfolioView, Position};
use crate::strategy::config::HostSpec;
use crate::strategy::host::{Decision, StrategyHost};
use crate::strategy::noise::Suppression;

#[cfg(test)]
mod tests;

/// Cold stage index of the trader's records (the risk stage's).
const COLD_STAGE: usize = 5;

/// Holds the risk engine's breaches until the trader journals them, in order with the
/// decisions and orders around them (one cold ring keeps one order).
pub struct BreachTx {
    buf: Vec<Breach>,
    dropped: u64,
}

impl Sink<Breach> for BreachTx {
    #[inline]
    fn emit(&mut self, b: Breach) {
        if self.buf.len() < self.buf.capacity() {
            self.buf.push(b);
        } else {
            self.dropped += 1;
        }
    }
}

/// The risk engine as the strategies see it, with the breach policy's entry scale.
struct View<'a>(&'a RiskEngine<BreachTx>, f64);

impl PortfolioView for View<'_> {
    #[inline]
    fn position(&self, instrument: InstrumentId) -> Position {
        let v = self.0.view();
        Position {
            qty: v.position(instrument),
            avg_price: v.avg_price(instrument).unwrap_or(Price::ZERO),
        }
    }
    #[inline]
    fn equity(&self) -> i64 {
        e16_to_e8_i64(self.0.equity())
    }
    #[inline]
    fn kill_switch(&self) -> bool {
        self.0.view().kill_switch()
    }
    #[inline]
    fn entry_scale(&self) -> f64 {
        self.1
    }
}

/// A bounded writer: pushes while there is room, counts the rest.
struct Bounded<'a, T> {
    buf: &'a mut Vec<T>,
    dropped: &'a Cell<u64>,
    /// Updated with the length after each push (decisions read it to find their intents).
    len: Option<&'a Cell<usize>>,
}

impl<T> Sink<T> for Bounded<'_, T> {
    #[inline]
    fn emit(&mut self, v: T) {
        if self.buf.len() < self.buf.capacity() {
            self.buf.push(v);
            if let Some(l) = self.len {
                l.set(self.buf.len());
            }
        } else {
            self.dropped.set(self.dropped.get() + 1);
        }
    }
}

/// Decisions with the number of intents emitted before each.
struct Decisions<'a> {
    buf: &'a mut Vec<(Decision, usize)>,
    intents_len: &'a Cell<usize>,
    dropped: &'a Cell<u64>,
}

impl Sink<Decision> for Decisions<'_> {
    #[inline]
    fn emit(&mut self, d: Decision) {
        if self.buf.len() < self.buf.capacity() {
            self.buf.push((d, self.intents_len.get()));
        } else {
            self.dropped.set(self.dropped.get() + 1);
        }
    }
}

/// Why the trader could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TraderError {
    /// Risk limits that do not validate, or name an unknown instrument.
    #[error("risk: {0}")]
    Risk(#[from] RiskLimitsError),
    /// Order table size out of range.
    #[error("orders: {0}")]
    Orders(#[from] crate::orders::blotter::SetupError),
}

/// An envelope's header: what the envelopes an event causes inherit from it.
#[derive(Clone, Copy, Default)]
struct Head {
    ingress_ns: u64,
    stamp_ns: u64,
    recv_ns: u64,
    market_ns: u64,
    seq: u64,
}

/// Sizes of the trader's tables.
#[derive(Clone, Copy, Debug)]
pub struct TraderSizes {
    /// Orders the blotter can hold (live and recently finished).
    pub orders: usize,
    /// Envelopes the out-queue holds (one event's output at most).
    pub outbox: usize,
}

impl Default for TraderSizes {
    fn default() -> Self {
        Self {
            orders: 4096,
            outbox: 4096,
        }
    }
}

/// The signals + risk + orders stages of one lane (see the module docs).
pub struct Trader {
    host: StrategyHost,
    risk: RiskEngine<BreachTx>,
    orders: Blotter,
    instruments: usize,
    /// Intents held from the signals stage for the risk stage.
    intents: Vec<OrderIntent>,
    intents_len: Cell<usize>,
    /// Decisions held, with the intents length when each was made.
    decisions: Vec<(Decision, usize)>,
    dropped: Cell<u64>,
    actions: Vec<RiskAction>,
    events: Vec<OrderEvent>,
    /// Scratch: ids to cancel on a kill-switch trip.
    cancel_ids: Vec<u64>,
    /// Envelopes for the venue, in order.
    outbox: Fifo<Envelope>,
    /// The envelope being handled, less its payload (template for the ones it causes).
    current: Head,
    kill_seen: bool,
    /// The health monitor's requests, when it has any.
    control: Option<Arc<crate::core::health::Control>>,
    /// The monitor's kill request was acted on.
    control_killed: bool,
    /// The monitor's breach throttle is on (its actions applied).
    breach_on: bool,
    /// Factor on the strategies' entry thresholds (1 unless a breach widens them).
    entry_scale: f64,
    /// Market time before which the strategies only warm up: their intents are dropped.
    live_from_ns: u64,
    /// Market time between account snapshots.
    snapshot_ns: u64,
    last_snapshot: u64,
    last_sec: u64,
    /// First and last trade (market ns, price) per instrument, for buy-and-hold.
    marks: Vec<Option<(u64, Price, u64, Price)>>,
    last_market_ns: u64,
    /// Running digest of the closed-candle indicator updates received.
    indicator_digest: u64,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl Trader {
    /// Builds the host, the risk engine and the blotter for `instruments` (slot `k` is
    /// `InstrumentId(k)`); `epoch` goes into every client order id (see the blotter).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &HostSpec,
        limits: RiskLimits,
        rules: OrderRules,
        instruments: &[Instrument],
        epoch: u16,
        sizes: TraderSizes,
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Result<Self, TraderError> {
        let n = instruments.len().max(1);
        let strategies = host.strategies.len().max(1);
        let max_open = limits.max_open_orders as usize;
        let risk = RiskEngine::new(
            instruments,
            limits,
            BreachTx {
                buf: Vec::with_capacity(1024),
                dropped: 0,
            },
        )?;
        let orders = Blotter::new(rules, sizes.orders.clamp(1, 65_536), n, epoch)?;
        let host = StrategyHost::new(host, instruments);
        // One step decides every strategy on one instrument (two intents each), a late step
        // and a flush may add every instrument's; callbacks add up to 8 intents each.
        let intent_cap = strategies * n * 4 + 64;
        let mut t = Self {
            host,
            risk,
            orders,
            instruments: n,
            intents: Vec::with_capacity(intent_cap),
            intents_len: Cell::new(0),
            decisions: Vec::with_capacity(strategies * n * 2 + 16),
            dropped: Cell::new(0),
            // A kill-switch trip cancels every open order and flattens every instrument; a
            // timer pass can fire every order (place + transition, + a cancel if refused).
            actions: Vec::with_capacity(max_open + n * 2 + 16),
            events: Vec::with_capacity(sizes.orders.clamp(1, 65_536) * 3 + 64),
            cancel_ids: Vec::with_capacity(sizes.orders.clamp(1, 65_536)),
            outbox: Fifo::with_capacity(sizes.outbox.max(64)),
            current: Head::default(),
            kill_seen: false,
            control: None,
            control_killed: false,
            breach_on: false,
            entry_scale: 1.0,
            live_from_ns: 0,
            snapshot_ns: 1_000_000_000,
            last_snapshot: 0,
            last_sec: 0,
            marks: vec![None; n],
            last_market_ns: 0,
            indicator_digest: 0xcbf2_9ce4_8422_2325,
            stats,
            cold,
        };
        t.kill_seen = t.risk.view().kill_switch();
        t.stats.risk.kill_switch.set(i64::from(t.kill_seen));
        Ok(t)
    }

    /// Writes the venue outbox through at build, for long runs (see
    /// [`crate::core::sink::Fifo::prefault`]).
    pub fn prefault(&mut self) {
        let blank = crate::core::order::RoutedCancel {
            venue: 0,
            cancel: crate::core::order::VenueCancel {
                client_order_id: 0,
                instrument: InstrumentId(0),
                sent_ns: 0,
            },
        };
        self.outbox
            .prefault(Envelope::at(0, crate::core::event::Payload::Cancel(blank)));
    }

    /// Takes the health monitor's throttle and kill requests (see [`crate::ops`]).
    pub fn with_control(mut self, control: Arc<crate::core::health::Control>) -> Self {
        self.control = Some(control);
        self
    }

    /// Applies the health monitor's requests: the throttle follows its flag; a kill request
    /// trips the kill switch once.
    #[inline]
    fn poll_control(&mut self, now: u64) {
        let Some(c) = &self.control else {
            return;
        };
        let throttle = c.throttle.load(std::sync::atomic::Ordering::Relaxed);
        let kill = c.kill.load(std::sync::atomic::Ordering::Relaxed);
        if throttle != self.breach_on {
            self.breach_on = throttle;
            self.risk.set_throttle(throttle && c.actions.pause_openings);
            self.entry_scale = if throttle {
                c.actions.entry_widen.max(1.0)
            } else {
                1.0
            };
            self.stats.risk.throttled.set(i64::from(throttle));
        }
        if kill && !self.control_killed {
            self.control_killed = true;
            self.actions.clear();
            if self.risk.trip_kill(now, &mut self.actions) {
                self.flush_breaches();
                self.apply_actions(now);
            }
        }
    }

    /// Strategies see the market before `ns` (warm-up history) but do not trade on it: their
    /// intents are dropped (and their books stay flat) and their decisions not journaled.
    pub fn with_live_from(mut self, ns: u64) -> Self {
        self.live_from_ns = ns;
        self
    }

    /// Market time between account snapshots (`equity.csv` rows); at least 1 ms.
    pub fn with_snapshot_every(mut self, ns: u64) -> Self {
        self.snapshot_ns = ns.max(1_000_000);
        self
    }

    /// Orders not yet finished at the venue (live in the blotter).
    #[inline]
    pub fn live_orders(&self) -> usize {
        self.orders.live()
    }

    /// The strategy host, read-only.
    pub fn host(&self) -> &StrategyHost {
        &self.host
    }

    /// The risk engine, read-only.
    pub fn risk(&self) -> &RiskEngine<BreachTx> {
        &self.risk
    }

    /// The blotter, read-only.
    pub fn orders(&self) -> &Blotter {
        &self.orders
    }

    /// Intents and decisions the fixed buffers could not hold (must stay 0).
    pub fn dropped(&self) -> u64 {
        self.dropped.get() + self.outbox.overflows
    }

    /// Holds an intent as a strategy callback would emit it (tests: random intents).
    #[cfg(test)]
    pub(crate) fn inject(&mut self, intent: OrderIntent) {
        if self.intents.len() < self.intents.capacity() {
            self.intents.push(intent);
            self.intents_len.set(self.intents.len());
        }
    }

    /// The next envelope for the venue.
    #[inline]
    pub fn pop(&mut self) -> Option<Envelope> {
        self.outbox.pop()
    }

    #[inline]
    fn push_out(&mut self, payload: Payload) {
        let h = self.current;
        self.outbox.emit(Envelope {
            ingress_ns: h.ingress_ns,
            stamp_ns: h.stamp_ns,
            recv_ns: h.recv_ns,
            market_ns: h.market_ns,
            seq: h.seq,
            payload,
        });
    }

    /// Market data goes on to the venue ahead of what it causes: as the input itself when
    /// nothing waits before it (the caller hands it over; no copy), else queued in order.
    /// Returns whether the caller must hand the input over.
    #[inline]
    fn pass_on(&mut self, payload: Payload) -> bool {
        if self.outbox.is_empty() {
            return true;
        }
        self.push_out(payload);
        false
    }

    #[inline]
    fn send(&mut self, rec: ColdRecord) {
        self.cold.send(rec, &self.stats.cold_drops[COLD_STAGE]);
    }

    /// Journals the breaches the risk engine recorded since the last call.
    #[inline]
    fn flush_breaches(&mut self) {
        let n = self.risk.breaches().buf.len();
        for k in 0..n {
            let b = self.risk.breaches().buf[k];
            let kill = matches!(b.kind, BreachKind::KillSwitch);
            if kill {
                self.stats.risk.kill_trips.inc();
            }
            self.send(ColdRecord::Breach {
                rule: b.rule,
                limit: b.limit,
                value: b.value,
                instrument: b.instrument,
                market_ns: b.market_ns,
                kill,
            });
        }
        let sink = self.risk.breaches_mut();
        sink.buf.clear();
        let lost = std::mem::take(&mut sink.dropped);
        self.dropped.set(self.dropped.get() + lost);
    }

    // ------------------------------------------------------------------ signals

    /// The signals stage: strategies see the event; their intents and decisions wait for
    /// [`Trader::on_risk`].
    #[inline]
    pub fn on_signals(&mut self, env: &Envelope) {
        let view = View(&self.risk, self.entry_scale);
        let mut intents = Bounded {
            buf: &mut self.intents,
            dropped: &self.dropped,
            len: Some(&self.intents_len),
        };
        match env.payload {
            Payload::Trade(t) => self.host.on_trade(&t, env.market_ns, &view, &mut intents),
            Payload::BookTicker(b) => {
                self.host
                    .on_book_ticker(&b, env.market_ns, &view, &mut intents)
            }
            Payload::Candle(c) => {
                let mut decisions = Decisions {
                    buf: &mut self.decisions,
                    intents_len: &self.intents_len,
                    dropped: &self.dropped,
                };
                self.host
                    .on_candle(&c, env.market_ns, &view, &mut intents, &mut decisions);
            }
            Payload::Indicator(u) if !u.live => {
                self.indicator_digest = u.fold(self.indicator_digest);
                self.stats
                    .strategy
                    .indicator_digest
                    .store(self.indicator_digest);
            }
            _ => {}
        }
        let sec = env.market_ns / 1_000_000_000;
        if sec > self.last_sec && self.last_sec > 0 {
            self.host.on_timer(env.market_ns, &view, &mut intents);
        }
    }

    // ------------------------------------------------------------------ risk + orders

    /// The risk + orders stage (see the module docs). What goes to the venue waits in the
    /// out-queue ([`Trader::pop`]). Returns true when `env` itself goes to the venue first,
    /// before what `pop` gives: market data the venue must see, handed over by the caller
    /// rather than copied into the queue.
    #[inline]
    #[must_use]
    pub fn on_risk(&mut self, env: &Envelope) -> bool {
        self.current = Head {
            ingress_ns: env.ingress_ns,
            stamp_ns: env.stamp_ns,
            recv_ns: env.recv_ns,
            market_ns: env.market_ns,
            seq: env.seq,
        };
        let now = env.market_ns.max(self.last_market_ns);
        self.last_market_ns = now;
        self.poll_control(now);
        let mut forward = false;
        match env.payload {
            Payload::Trade(t) => {
                forward = self.pass_on(env.payload);
                if let Some(m) = self.marks.get_mut(t.instrument.index()) {
                    match m {
                        Some(x) => (x.2, x.3) = (now, t.price),
                        None => *m = Some((now, t.price, now, t.price)),
                    }
                }
                self.actions.clear();
                self.risk
                    .on_trade(t.instrument, t.price, now, &mut self.actions);
                self.flush_breaches();
                self.apply_actions(now);
            }
            Payload::BookTicker(b) => {
                forward = self.pass_on(env.payload);
                self.orders.on_quote(b.instrument, b.bid_px, b.ask_px);
            }
            _ => {}
        }
        if self.orders.next_due_ns().is_some_and(|d| d <= now) {
            self.events.clear();
            self.orders.on_timer(now, &mut self.events);
            self.route_events(now);
        }
        self.check_pending(now);
        self.last_sec = now / 1_000_000_000;
        // A division only when a new snapshot slot may have begun.
        if now
            >= self
                .last_snapshot
                .saturating_add(1)
                .saturating_mul(self.snapshot_ns)
        {
            let slot = now / self.snapshot_ns;
            if slot > self.last_snapshot {
                self.last_snapshot = slot;
                self.snapshot(now);
            }
        }
        forward
    }

    /// Checks and submits the held intents; journals the held decisions with their verdicts.
    fn check_pending(&mut self, now: u64) {
        if self.intents.is_empty() && self.decisions.is_empty() {
            return;
        }
        if now < self.live_from_ns {
            for k in 0..self.intents.len() {
                let intent = self.intents[k];
                self.host.on_reject(&intent);
            }
            self.intents.clear();
            self.intents_len.set(0);
            self.decisions.clear();
            return;
        }
        // Which held intents belong to a decision: the `intents` just before it.
        let mut d = 0;
        let mut i = 0;
        let n_intents = self.intents.len();
        let n_decisions = self.decisions.len();
        while i < n_intents || d < n_decisions {
            // Intents before the next decision's own are direct (callbacks).
            let (own_from, own_to) = match self.decisions.get(d) {
                Some((dec, at)) => (at.saturating_sub(usize::from(dec.intents)), *at),
                None => (n_intents, n_intents),
            };
            while i < own_from.min(n_intents) {
                let intent = self.intents[i];
                self.check_one(&intent, now, false);
                i += 1;
            }
            if d < n_decisions {
                let (dec, _) = self.decisions[d];
                self.journal_decision(&dec);
                while i < own_to.min(n_intents) {
                    let intent = self.intents[i];
                    self.check_one(&intent, now, true);
                    i += 1;
                }
                d += 1;
            } else {
                break;
            }
        }
        self.intents.clear();
        self.intents_len.set(0);
        self.decisions.clear();
    }

    fn journal_decision(&mut self, d: &Decision) {
        self.stats.strategy.decisions.inc();
        if d.action != crate::strategy::host::Action::Stay {
            self.stats.strategy.signals.inc();
        }
        let f = |x: Option<f64>| x.map_or(f32::NAN, |v| v as f32);
        let p = &d.parts;
        let rec = DecisionRecord {
            market_ns: d.market_ns,
            price: d.price,
            qty: d.qty,
            instrument: d.instrument,
            strategy: d.strategy,
            position: d.position,
            action: d.action.index() as u8,
            suppressed: d
                .suppressed
                .map_or(u8::MAX, |s| Suppression::index(s) as u8),
            intents: d.intents,
            score: d.score as f32,
            threshold: d.threshold as f32,
            exit_threshold: d.exit_threshold as f32,
            raw: [
                f(p.raw[0]),
                f(p.raw[1]),
                f(p.raw[2]),
                f(p.raw[3]),
                f(p.raw[4]),
            ],
            strength: p.strength as f32,
            alignment: p.alignment as f32,
            volume: p.volume as f32,
            volatility: p.volatility as f32,
            confidence: p.confidence as f32,
            volume_ratio: f(p.volume_ratio),
            atr_ratio: f(p.atr_ratio),
        };
        self.send(ColdRecord::Decision(rec));
    }

    /// One intent: the risk verdict, then the blotter; journaled either way.
    fn check_one(&mut self, intent: &OrderIntent, now: u64, decision: bool) {
        self.stats.strategy.intents.inc();
        self.stats.risk.checks.inc();
        let verdict = self.risk.check(intent, now);
        let mut id = 0;
        self.events.clear();
        if verdict == Verdict::Accept {
            match self.orders.submit(*intent, now, &mut self.events) {
                Ok(got) => id = got,
                Err(_) => self.stats.risk.submit_refused.inc(),
            }
        } else {
            self.stats.risk.rejected.inc();
            self.flush_breaches();
        }
        // The verdict first, then what the blotter did with it.
        self.send(ColdRecord::Verdict(VerdictRecord {
            market_ns: now,
            intent: *intent,
            verdict,
            client_order_id: id,
            decision,
        }));
        self.route_events(now);
        if id == 0 && intent.strategy != RISK_STRATEGY {
            // Refused, or accepted but the blotter could not take it: nothing was sent.
            self.host.on_reject(intent);
        }
    }

    /// The risk engine's requests: cancels (kill switch) and its own exits.
    fn apply_actions(&mut self, now: u64) {
        let kill = self.risk.view().kill_switch();
        if kill && !self.kill_seen {
            self.on_kill(now);
        }
        if !kill && self.kill_seen {
            self.kill_seen = false;
            self.stats.risk.kill_switch.set(0);
        }
        let mut k = 0;
        while k < self.actions.len() {
            match self.actions[k] {
                RiskAction::Cancel(c) => {
                    self.events.clear();
                    self.orders.cancel(c.client_order_id, now, &mut self.events);
                    self.route_events(now);
                }
                RiskAction::Submit(intent) => {
                    self.stats.risk.risk_exits.inc();
                    self.check_one(&intent, now, false);
                }
            }
            k += 1;
        }
        self.actions.clear();
    }

    /// The kill switch just went on: besides the engine's own cancels, withdraw every live
    /// opening order the blotter holds (retries waiting out a backoff included), so
    /// nothing opening can leave after the trip.
    fn on_kill(&mut self, now: u64) {
        self.kill_seen = true;
        self.stats.risk.kill_switch.set(1);
        self.cancel_ids.clear();
        for i in 0..self.instruments {
            for id in self.orders.open_ids(InstrumentId(i as u16)) {
                if self.cancel_ids.len() < self.cancel_ids.capacity() {
                    self.cancel_ids.push(id);
                }
            }
        }
        for k in 0..self.cancel_ids.len() {
            let id = self.cancel_ids[k];
            let opening = self
                .orders
                .order(id)
                .is_some_and(|o| o.intent.purpose.is_opening());
            if opening {
                self.events.clear();
                self.orders.cancel(id, now, &mut self.events);
                self.route_events(now);
            }
        }
    }

    /// Sends the blotter's orders and cancels out and journals its transitions. A
    /// retry or replacement of an accepted order is checked again: risk may have changed
    /// (the kill switch above all) since its parent was accepted.
    fn route_events(&mut self, now: u64) {
        let mut k = 0;
        while k < self.events.len() {
            match self.events[k] {
                OrderEvent::Place(r) => self.place(r, now),
                OrderEvent::Cancel(c) => self.push_out(Payload::Cancel(c)),
                OrderEvent::Transition(t) => {
                    let (purpose, strategy) = self
                        .orders
                        .order(t.client_order_id)
                        .map_or((Purpose::Open, 0), |o| {
                            (o.intent.purpose, o.intent.strategy)
                        });
                    self.send(ColdRecord::Order {
                        t,
                        purpose,
                        strategy,
                    });
                }
            }
            k += 1;
        }
        self.events.clear();
    }

    fn place(&mut self, r: Routed, now: u64) {
        let parent = self
            .orders
            .order(r.order.client_order_id)
            .map_or(0, |o| o.parent);
        if parent != 0 {
            let verdict = self.risk.check(&r.order.intent, now);
            if verdict != Verdict::Accept {
                // Never sent: cancel it here (the blotter treats it as lost).
                self.stats.risk.refused_replacements.inc();
                self.flush_breaches();
                self.send(ColdRecord::RefusedReplacement {
                    client_order_id: r.order.client_order_id,
                    verdict,
                    market_ns: now,
                });
                // The state machine treats it as lost: its cancel (appended to the events
                // being routed) finds nothing at the venue and ends it as rejected.
                self.orders
                    .cancel(r.order.client_order_id, now, &mut self.events);
                return;
            }
        }
        if self.risk.on_order_sent(&r.order).is_err() {
            // The risk engine could not record it (its table is full): it must not leave,
            // or its fills would move positions risk does not know of.
            self.stats.risk.bad_reports.inc();
            self.orders
                .cancel(r.order.client_order_id, now, &mut self.events);
            return;
        }
        self.stats.risk.orders.inc();
        self.push_out(Payload::Place(r));
    }

    // ------------------------------------------------------------------ executions

    /// Books a fill of an earlier run, read back from the order journal at a restart, into
    /// the risk engine (positions, cash, realized PnL, fees). False when it does not fit.
    pub fn restore_fill(&mut self, f: &crate::core::order::JournaledFill) -> bool {
        self.risk
            .restore_fill(f.instrument, f.side, f.price, f.qty, f.fee)
            .is_ok()
    }

    /// A venue report: blotter, risk engine, then the strategy that owns the order.
    /// Orders it causes (a fallback's replacement, a strategy's reaction) wait in the
    /// out-queue.
    #[inline]
    pub fn on_execution(&mut self, e: &Execution) {
        let now = e.market_ns.max(self.last_market_ns);
        self.last_market_ns = now;
        self.events.clear();
        let applied = self.orders.on_execution(e, now, &mut self.events);
        let Ok(applied) = applied else {
            self.route_events(now);
            self.stats.risk.bad_reports.inc();
            return;
        };
        // The risk engine first, so a replacement the report caused (a fallback) is checked
        // with its parent's quantity already released.
        if self.risk.on_execution(e).is_err() && e.exec == ExecType::Fill {
            // The blotter took a fill the risk engine could not: the books differ.
            self.stats.risk.bad_reports.inc();
        }
        self.route_events(now);
        let view = self.orders.order(e.client_order_id);
        if e.exec == ExecType::Fill && applied.fill.0 > 0 {
            self.stats.risk.fills.inc();
            self.send(ColdRecord::Fill(Execution {
                qty: applied.fill,
                ..*e
            }));
            if let Some(o) = view {
                let intent = o.intent;
                if intent.strategy == RISK_STRATEGY {
                    if self.risk.view().position(intent.instrument).0 == 0 {
                        self.host.on_position_closed(intent.instrument, now);
                    }
                } else {
                    let risk = View(&self.risk, self.entry_scale);
                    let mut intents = Bounded {
                        buf: &mut self.intents,
                        dropped: &self.dropped,
                        len: Some(&self.intents_len),
                    };
                    self.host.on_fill(
                        &Fill {
                            instrument: intent.instrument,
                            strategy: intent.strategy,
                            side: intent.side,
                            purpose: intent.purpose,
                            price: e.price,
                            qty: applied.fill,
                            market_ns: now,
                        },
                        &risk,
                        &mut intents,
                    );
                }
            }
        }
        if let Some(o) = view {
            // An order that ended with nothing filled and no retry or replacement: its
            // strategy's book goes back to what fills say.
            let done = matches!(
                o.status,
                OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired
            );
            if done && o.filled.0 == 0 && o.successor == 0 && o.intent.strategy != RISK_STRATEGY {
                self.host.on_reject(&o.intent);
            }
        }
        // A strategy's reaction to its fill goes through risk like any intent.
        self.check_pending(now);
    }

    // ------------------------------------------------------------------ accounting

    /// Publishes the account (gauges) and sends one `equity.csv` row.
    fn snapshot(&mut self, now: u64) {
        let v = self.risk.view();
        let equity = e16_to_e8_i64(v.equity());
        let cash = e16_to_e8_i64(v.cash());
        let mut unrealized: Money = 0;
        for i in 0..self.instruments {
            unrealized = unrealized.saturating_add(v.unrealized(InstrumentId(i as u16)));
        }
        let s = &self.stats.risk;
        s.realized.set(e16_to_e8_i64(v.realized()));
        s.fees.set(e16_to_e8_i64(v.fees()));
        s.unrealized.set(e16_to_e8_i64(unrealized));
        s.cash.set(cash);
        s.equity.set(equity);
        self.send(ColdRecord::Equity {
            market_ns: now,
            equity,
            cash,
            position_value: equity.saturating_sub(cash),
        });
        for i in 0..self.marks.len() {
            if let Some((_, _, last_ns, last)) = self.marks[i] {
                self.send(ColdRecord::Price {
                    instrument: InstrumentId(i as u16),
                    market_ns: last_ns,
                    price: last,
                });
            }
        }
    }

    /// End of the run: decisions still waiting for a coarser candle are taken (and their
    /// intents checked), and the account is published one last time.
    pub fn finish(&mut self) {
        let view = View(&self.risk, self.entry_scale);
        let mut intents = Bounded {
            buf: &mut self.intents,
            dropped: &self.dropped,
            len: Some(&self.intents_len),
        };
        let mut decisions = Decisions {
            buf: &mut self.decisions,
            intents_len: &self.intents_len,
            dropped: &self.dropped,
        };
        self.host.flush(&view, &mut intents, &mut decisions);
        let now = self.last_market_ns;
        self.check_pending(now);
        self.flush_breaches();
        self.snapshot(now);
        for i in 0..self.marks.len() {
            if let Some((first_ns, first, last_ns, last)) = self.marks[i] {
                self.send(ColdRecord::Marks {
                    instrument: InstrumentId(i as u16),
                    first_ns,
                    first,
                    last_ns,
                    last,
                });
            }
        }
    }
}
