//! The strategy host: owns, per instrument × resolution, the indicator state (an
//! [`IndicatorSet`], a [`PatternSet`] and the volume / ATR means of the regime) and, per
//! strategy, its raw signals, its position book and its counters; turns raw signals into
//! scored, filtered, sized [`OrderIntent`]s and a [`Decision`] record for every decision.
//!
//! **Candles.** Closed candles only: a live candle ([`Candle::FLAG_LIVE`]) and a revision
//! (`revision > 0`, a late trade) are counted and skipped. Acting on a revision would
//! re-judge a decision already acted on, and the indicator stage's rewind-and-reapply is not
//! repeated here (yet); previews of live candles are left for later. A candle older than the
//! last one at its resolution is counted as stale and skipped.
//!
//! **When it decides.** Once per closed candle of the finest configured resolution, after
//! every coarser candle closing at the same instant has been applied (the candle stage emits
//! finest first, so at 10:05 the 1m candle is held back until the 5m one arrives). If a
//! coarser candle never comes, the decision runs when the instrument's next later candle
//! does, or at [`StrategyHost::flush`].
//!
//! **Per decision and strategy:** score ([`super::scoring`]) → what the score wants
//! ([`super::noise`]: adaptive threshold, hysteresis) → exit checks (minimum holding time) →
//! entry checks (shorts allowed, kill switch, cooldowns) → size ([`super::sizing`]) →
//! intents (market, IOC, priced at the deciding close). The host tracks each strategy's
//! position from its own intents and corrects it from [`Fill`]s and rejections.
//!
//! **Hot path.** Every table is allocated in [`StrategyHost::new`] / `add_custom`; events
//! allocate nothing (proved by `tests/strategy_alloc.rs`). No locks, no `dyn`, no panics:
//! unknown instruments and resolutions are counted and ignored.

use super::api::{unit, Ctx, Fill, Frame, IntentBuffer, NoCustom, PortfolioView, Strategy};
use super::builtin::Builtin;
use super::config::{HostSpec, StrategySpec, MAX_STRATEGIES};
use super::noise::{
    check_entry, check_exit, thresholds, want, Book, FilterSpec, Suppression, Want,
};
use super::scoring::{score, Parts};
use super::sizing::{size, SizeError};
use crate::core::order::{OrderIntent, Purpose, TimeInForce};
use crate::core::{
    BookTicker, Candle, Instrument, InstrumentId, OrderType, Price, Qty, Resolution, Side, Sink,
    Trade,
};
use crate::indicators::{Bar, IndicatorSet, Sma};
use crate::patterns::PatternSet;

use super::api::col;

/// The indicator state of one instrument at one resolution.
#[derive(Clone, Debug)]
pub(crate) struct Track {
    set: IndicatorSet,
    patterns: PatternSet,
    volume_mean: Sma,
    atr_mean: Sma,
    count: u64,
}

impl Track {
    /// Empty, with the regime means' periods.
    pub(crate) fn new(volume_period: usize, atr_period: usize) -> Self {
        Self {
            set: IndicatorSet::new(),
            patterns: PatternSet::new(),
            volume_mean: Sma::new(volume_period),
            atr_mean: Sma::new(atr_period),
            count: 0,
        }
    }

    /// Applies a closed candle; the frame after it.
    #[inline]
    pub(crate) fn update(&mut self, c: &Candle) -> Frame {
        let bar = Bar::of(c);
        let row = self.set.update(&bar);
        let patterns = self.patterns.update(&bar);
        // Ratios against the means of the candles before this one, so a spike stands out.
        let volume_ratio = self
            .volume_mean
            .value()
            .filter(|m| *m > 0.0)
            .map(|m| bar.volume / m);
        self.volume_mean.update(bar.volume);
        let atr = row.values[col::ATR_14];
        let atr_ratio = match (atr, self.atr_mean.value()) {
            (Some(a), Some(m)) if m > 0.0 => Some(a / m),
            _ => None,
        };
        if let Some(a) = atr {
            self.atr_mean.update(a);
        }
        self.count = self.count.saturating_add(1);
        Frame {
            candle: *c,
            row,
            patterns,
            volume_ratio,
            atr_ratio,
            count: self.count,
        }
    }
}

/// What a decision did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing.
    Stay,
    /// Opened a long.
    EnterLong,
    /// Opened a short.
    EnterShort,
    /// Closed a long.
    ExitLong,
    /// Closed a short.
    ExitShort,
    /// Closed a short and opened a long.
    ReverseToLong,
    /// Closed a long and opened a short.
    ReverseToShort,
}

impl Action {
    /// Every action, in index order.
    pub const ALL: [Action; 7] = [
        Action::Stay,
        Action::EnterLong,
        Action::EnterShort,
        Action::ExitLong,
        Action::ExitShort,
        Action::ReverseToLong,
        Action::ReverseToShort,
    ];

    /// Position in [`Action::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Snake-case name for the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stay => "stay",
            Action::EnterLong => "enter_long",
            Action::EnterShort => "enter_short",
            Action::ExitLong => "exit_long",
            Action::ExitShort => "exit_short",
            Action::ReverseToLong => "reverse_to_long",
            Action::ReverseToShort => "reverse_to_short",
        }
    }
}

/// One strategy's decision on one instrument at one step, for the journal. Every field is
/// finite (no NaN), so records compare and print deterministically.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy index.
    pub strategy: u8,
    /// Score in [-1, 1] (0 when not scored).
    pub score: f64,
    /// What the score was made of.
    pub parts: Parts,
    /// Entry threshold in force (volatility-scaled).
    pub threshold: f64,
    /// Exit threshold in force.
    pub exit_threshold: f64,
    /// What was done.
    pub action: Action,
    /// Why less (or nothing) was done, if anything held it back.
    pub suppressed: Option<Suppression>,
    /// The strategy's position after it: +1, 0, −1.
    pub position: i8,
    /// Quantity of the opening intent (0 when none).
    pub qty: Qty,
    /// The deciding close (the intents' price).
    pub price: Price,
    /// Market time of the decision.
    pub market_ns: u64,
    /// Intents this decision emitted (0–2); they reach the intent sink just before it.
    pub intents: u8,
}

/// Host-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Candles offered.
    pub candles: u64,
    /// Closed candles applied to indicators.
    pub applied: u64,
    /// Live candles skipped.
    pub live_skipped: u64,
    /// Revisions skipped.
    pub revisions_skipped: u64,
    /// Candles at an untracked resolution or for an unknown instrument.
    pub unknown: u64,
    /// Candles older than the last one at their resolution.
    pub stale: u64,
    /// Candles the anomaly filter kept from the strategies.
    pub filtered: u64,
    /// Decision steps (each decides every strategy).
    pub steps: u64,
    /// Steps run late because a coarser candle never arrived.
    pub late_steps: u64,
    /// Intents strategies emitted themselves.
    pub direct_intents: u64,
    /// Intents refused by a full callback buffer.
    pub dropped_intents: u64,
}

/// Per-strategy counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyStats {
    /// Decisions.
    pub decisions: u64,
    /// Entries (opening intents).
    pub entries: u64,
    /// Exits (closing intents).
    pub exits: u64,
    /// Decisions held back, by [`Suppression::index`].
    pub suppressed: [u64; Suppression::COUNT],
}

enum Entry<C> {
    Builtin(Builtin),
    Custom(C),
}

impl<C: Strategy> Entry<C> {
    fn name(&self) -> &str {
        match self {
            Entry::Builtin(s) => s.name(),
            Entry::Custom(s) => s.name(),
        }
    }
}

/// Dispatches a [`Strategy`] method to whichever kind the entry holds.
macro_rules! dispatch {
    ($entry:expr, $s:ident => $call:expr) => {
        match $entry {
            Entry::Builtin($s) => $call,
            Entry::Custom($s) => $call,
        }
    };
}

struct Slot<C> {
    strategy: Entry<C>,
    spec: StrategySpec,
    /// Raw signal per instrument, per [`Resolution::index`].
    raw: Vec<[Option<f64>; 5]>,
    /// Position book per instrument.
    books: Vec<Book>,
    stats: StrategyStats,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    end_ns: u64,
    market_ns: u64,
    filtered: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Step {
    /// The finest resolution's candle closed at `end_ns` and waits for coarser ones.
    pending: Option<Pending>,
    /// End time of the last candle applied, per [`Resolution::index`].
    last_end: [u64; 5],
    /// Last entry by any strategy (instrument cooldown).
    last_entry_ns: Option<u64>,
}

/// The strategy host (see the module docs). `C` is the custom strategy type, if any.
pub struct StrategyHost<C: Strategy = NoCustom> {
    resolutions: Vec<Resolution>,
    /// Position of each resolution in `resolutions`, by [`Resolution::index`].
    res_pos: [Option<usize>; 5],
    finest: Resolution,
    instruments: Vec<Instrument>,
    /// `instrument * resolutions.len() + position`.
    tracks: Vec<Track>,
    /// Latest frame per instrument, per [`Resolution::index`].
    frames: Vec<[Option<Frame>; 5]>,
    books: Vec<Option<BookTicker>>,
    steps: Vec<Step>,
    slots: Vec<Slot<C>>,
    filter: FilterSpec,
    buf: IntentBuffer,
    stats: HostStats,
}

/// The host is full ([`MAX_STRATEGIES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFull;

impl<C: Strategy> StrategyHost<C> {
    /// A host for `instruments` (indexed by [`InstrumentId`]) running the built-ins of `spec`.
    /// Allocates every table (cold path).
    pub fn new(spec: &HostSpec, instruments: &[Instrument]) -> Self {
        let n = instruments.len();
        let mut res_pos = [None; 5];
        for (i, r) in spec.resolutions.iter().enumerate() {
            res_pos[r.index()] = Some(i);
        }
        let track = Track::new(spec.volume_period, spec.atr_period);
        let mut host = Self {
            finest: spec.resolutions.first().copied().unwrap_or(Resolution::M1),
            resolutions: spec.resolutions.clone(),
            res_pos,
            instruments: instruments.to_vec(),
            tracks: vec![track; n * spec.resolutions.len()],
            frames: vec![[None; 5]; n],
            books: vec![None; n],
            steps: vec![Step::default(); n],
            slots: Vec::with_capacity(spec.strategies.len()),
            filter: spec.filter,
            buf: IntentBuffer::new(),
            stats: HostStats::default(),
        };
        for (kind, s) in &spec.strategies {
            // Validation caps the count, so this cannot be full.
            let _ = host.push(Entry::Builtin(Builtin::new(kind, s.allow_short)), s.clone());
        }
        host
    }

    /// Adds a custom strategy with its host-side settings (cold path); returns its index.
    /// Validate `spec` with [`super::config::StrategyConfig::validate`] against this host's
    /// resolutions.
    pub fn add_custom(&mut self, strategy: C, spec: StrategySpec) -> Result<u8, HostFull> {
        self.push(Entry::Custom(strategy), spec)
    }

    fn push(&mut self, mut strategy: Entry<C>, spec: StrategySpec) -> Result<u8, HostFull> {
        if self.slots.len() >= MAX_STRATEGIES {
            return Err(HostFull);
        }
        let n = self.instruments.len();
        dispatch!(&mut strategy, s => s.reserve(n));
        self.slots.push(Slot {
            strategy,
            spec,
            raw: vec![[None; 5]; n],
            books: vec![Book::default(); n],
            stats: StrategyStats::default(),
        });
        Ok((self.slots.len() - 1) as u8)
    }

    /// Strategies held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True with no strategy.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A strategy's name.
    pub fn name(&self, strategy: u8) -> Option<&str> {
        self.slots.get(usize::from(strategy)).map(|s| {
            if s.spec.name.is_empty() {
                s.strategy.name()
            } else {
                s.spec.name.as_str()
            }
        })
    }

    /// The resolutions tracked, finest first.
    pub fn resolutions(&self) -> &[Resolution] {
        &self.resolutions
    }

    /// Host counters.
    pub fn stats(&self) -> &HostStats {
        &self.stats
    }

    /// A strategy's counters.
    pub fn strategy_stats(&self, strategy: u8) -> Option<&StrategyStats> {
        self.slots.get(usize::from(strategy)).map(|s| &s.stats)
    }

    /// A strategy's position book on an instrument.
    pub fn book(&self, instrument: InstrumentId, strategy: u8) -> Option<Book> {
        self.slots
            .get(usize::from(strategy))?
            .books
            .get(instrument.index())
            .copied()
    }

    /// The latest frame of an instrument at a resolution.
    pub fn frame(&self, instrument: InstrumentId, resolution: Resolution) -> Option<&Frame> {
        self.frames.get(instrument.index())?[resolution.index()].as_ref()
    }

    /// A strategy's latest raw signal on an instrument at a resolution.
    pub fn raw(
        &self,
        instrument: InstrumentId,
        strategy: u8,
        resolution: Resolution,
    ) -> Option<f64> {
        self.slots
            .get(usize::from(strategy))?
            .raw
            .get(instrument.index())?[resolution.index()]
    }

    /// A candle: closed candles update indicators and raw signals and may complete a
    /// decision step (see the module docs).
    pub fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        c: &Candle,
        market_ns: u64,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
        decisions: &mut impl Sink<Decision>,
    ) {
        self.stats.candles += 1;
        if c.flags & Candle::FLAG_LIVE != 0 {
            self.stats.live_skipped += 1;
            return;
        }
        if c.revision > 0 {
            self.stats.revisions_skipped += 1;
            return;
        }
        let ii = c.instrument.index();
        let (Some(pos), true) = (
            self.res_pos[c.resolution.index()],
            ii < self.instruments.len(),
        ) else {
            self.stats.unknown += 1;
            return;
        };
        let ri = c.resolution.index();
        let end = c.open_ns.saturating_add(c.resolution.nanos());
        if let Some(p) = self.steps[ii].pending {
            if p.end_ns < end {
                self.steps[ii].pending = None;
                self.stats.late_steps += 1;
                self.decide(ii, p, portfolio, intents, decisions);
            }
        }
        if end <= self.steps[ii].last_end[ri] {
            self.stats.stale += 1;
            return;
        }
        self.steps[ii].last_end[ri] = end;
        self.stats.applied += 1;

        let nres = self.resolutions.len();
        let frame = self.tracks[ii * nres + pos].update(c);
        self.frames[ii][ri] = Some(frame);
        let filtered = self.filter.rejects(c);
        if filtered {
            self.stats.filtered += 1;
        } else {
            let id = c.instrument;
            for (si, slot) in self.slots.iter_mut().enumerate() {
                let mut ctx = Ctx::new(
                    id,
                    &self.instruments[ii],
                    si as u8,
                    market_ns,
                    &self.frames[ii],
                    self.books[ii].as_ref(),
                    portfolio,
                    &mut self.buf,
                );
                let raw = dispatch!(&mut slot.strategy, s => s.on_candle(&mut ctx, c.resolution));
                slot.raw[ii][ri] = raw.filter(|x| !x.is_nan()).map(unit);
                drain(&mut self.buf, &mut self.stats, intents);
            }
        }

        if c.resolution == self.finest {
            self.steps[ii].pending = Some(Pending {
                end_ns: end,
                market_ns,
                filtered,
            });
        }
        if let Some(p) = self.steps[ii].pending {
            if p.end_ns == end && self.step_complete(ii, end) {
                self.steps[ii].pending = None;
                self.decide(ii, p, portfolio, intents, decisions);
            }
        }
    }

    /// True when every coarser resolution with a boundary at `end` has applied its candle.
    fn step_complete(&self, ii: usize, end: u64) -> bool {
        let last = &self.steps[ii].last_end;
        self.resolutions[1..]
            .iter()
            .all(|r| !end.is_multiple_of(r.nanos()) || last[r.index()] >= end)
    }

    /// Runs every decision still waiting for a coarser candle.
    pub fn flush<P: PortfolioView + ?Sized>(
        &mut self,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
        decisions: &mut impl Sink<Decision>,
    ) {
        for ii in 0..self.steps.len() {
            if let Some(p) = self.steps[ii].pending.take() {
                self.stats.late_steps += 1;
                self.decide(ii, p, portfolio, intents, decisions);
            }
        }
    }

    fn decide<P: PortfolioView + ?Sized>(
        &mut self,
        ii: usize,
        p: Pending,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
        decisions: &mut impl Sink<Decision>,
    ) {
        self.stats.steps += 1;
        let Some(base) = self.frames[ii][self.finest.index()] else {
            return;
        };
        let m = Market {
            id: InstrumentId(ii as u16),
            now: p.market_ns,
            price: base.candle.close,
            lot: self.instruments[ii].lot,
            kill: portfolio.kill_switch(),
            equity: portfolio.equity(),
            entry_scale: portfolio.entry_scale(),
        };
        let step = &mut self.steps[ii];
        for (si, slot) in self.slots.iter_mut().enumerate() {
            let spec = &slot.spec;
            let book = &mut slot.books[ii];
            let mut d = Decision {
                instrument: m.id,
                strategy: si as u8,
                score: 0.0,
                parts: Parts::default(),
                threshold: spec.noise.entry,
                exit_threshold: spec.noise.exit,
                action: Action::Stay,
                suppressed: None,
                position: book.side,
                qty: Qty::ZERO,
                price: m.price,
                market_ns: m.now,
                intents: 0,
            };
            if p.filtered {
                d.suppressed = Some(Suppression::Anomaly);
            } else if let Some((x, parts)) = score(
                &spec.scoring,
                &slot.raw[ii],
                base.volume_ratio,
                base.atr_ratio,
            ) {
                d.score = x;
                d.parts = parts;
                let atr = self.frames[ii][spec.sizing.atr_resolution.index()]
                    .and_then(|f| f.value(col::ATR_14));
                let out = judge(
                    spec,
                    &self.filter,
                    book,
                    &mut step.last_entry_ns,
                    &m,
                    atr,
                    &mut d,
                    &mut slot.stats,
                );
                for i in out.into_iter().flatten() {
                    d.intents += 1;
                    intents.emit(i);
                }
            } else {
                d.suppressed = Some(Suppression::NotReady);
            }
            d.position = book.side;
            slot.stats.decisions += 1;
            if let Some(s) = d.suppressed {
                slot.stats.suppressed[s.index()] += 1;
            }
            decisions.emit(d);
        }
    }

    /// A public trade: handed to every strategy.
    pub fn on_trade<P: PortfolioView + ?Sized>(
        &mut self,
        trade: &Trade,
        market_ns: u64,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
    ) {
        let ii = trade.instrument.index();
        if ii >= self.instruments.len() {
            return;
        }
        for (si, slot) in self.slots.iter_mut().enumerate() {
            let mut ctx = Ctx::new(
                trade.instrument,
                &self.instruments[ii],
                si as u8,
                market_ns,
                &self.frames[ii],
                self.books[ii].as_ref(),
                portfolio,
                &mut self.buf,
            );
            dispatch!(&mut slot.strategy, s => s.on_trade(&mut ctx, trade));
            drain(&mut self.buf, &mut self.stats, intents);
        }
    }

    /// A best bid/ask update: kept for [`Ctx::book`], then handed to every strategy.
    pub fn on_book_ticker<P: PortfolioView + ?Sized>(
        &mut self,
        book: &BookTicker,
        market_ns: u64,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
    ) {
        let ii = book.instrument.index();
        let Some(kept) = self.books.get_mut(ii) else {
            return;
        };
        *kept = Some(*book);
        for (si, slot) in self.slots.iter_mut().enumerate() {
            let mut ctx = Ctx::new(
                book.instrument,
                &self.instruments[ii],
                si as u8,
                market_ns,
                &self.frames[ii],
                self.books[ii].as_ref(),
                portfolio,
                &mut self.buf,
            );
            dispatch!(&mut slot.strategy, s => s.on_book_ticker(&mut ctx, book));
            drain(&mut self.buf, &mut self.stats, intents);
        }
    }

    /// A fill of one of a strategy's intents: updates its book, then tells the strategy.
    pub fn on_fill<P: PortfolioView + ?Sized>(
        &mut self,
        fill: &Fill,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
    ) {
        let ii = fill.instrument.index();
        let Some(slot) = self.slots.get_mut(usize::from(fill.strategy)) else {
            return;
        };
        let Some(book) = slot.books.get_mut(ii) else {
            return;
        };
        book.held = book
            .held
            .saturating_add(fill.side.sign().saturating_mul(fill.qty.0.max(0)));
        let mut ctx = Ctx::new(
            fill.instrument,
            &self.instruments[ii],
            fill.strategy,
            fill.market_ns,
            &self.frames[ii],
            self.books[ii].as_ref(),
            portfolio,
            &mut self.buf,
        );
        dispatch!(&mut slot.strategy, s => s.on_fill(&mut ctx, fill));
        drain(&mut self.buf, &mut self.stats, intents);
    }

    /// One of the host's own intents was refused (by risk or the venue) with nothing
    /// filled: an entry that never filled leaves the strategy flat again; an exit that did
    /// not happen leaves it holding what fills say it holds.
    pub fn on_reject(&mut self, intent: &OrderIntent) {
        let Some(book) = self
            .slots
            .get_mut(usize::from(intent.strategy))
            .and_then(|s| s.books.get_mut(intent.instrument.index()))
        else {
            return;
        };
        match intent.purpose {
            // The entry never happened: the book is what fills say (flat, or what a close
            // still on its way has not yet closed).
            Purpose::Open if i64::from(book.side) == intent.side.sign() => {
                book.side = book.held.signum() as i8;
                book.qty = book.held.saturating_abs();
            }
            Purpose::Close if book.side == 0 && book.held != 0 => {
                book.side = book.held.signum() as i8;
                book.qty = book.held.saturating_abs();
            }
            _ => {}
        }
    }

    /// The risk engine closed the instrument's whole position itself (a stop-loss,
    /// take-profit or trailing stop, or the kill switch's flattening): every strategy's book
    /// there is flat again, and counts the close as its last action (for cooldowns).
    pub fn on_position_closed(&mut self, instrument: InstrumentId, market_ns: u64) {
        for slot in &mut self.slots {
            if let Some(b) = slot.books.get_mut(instrument.index()) {
                if b.side != 0 || b.held != 0 {
                    *b = Book {
                        last_action_ns: Some(market_ns),
                        ..Book::default()
                    };
                }
            }
        }
    }

    /// A timer tick: every strategy, for every instrument.
    pub fn on_timer<P: PortfolioView + ?Sized>(
        &mut self,
        now_ns: u64,
        portfolio: &P,
        intents: &mut impl Sink<OrderIntent>,
    ) {
        for ii in 0..self.instruments.len() {
            for (si, slot) in self.slots.iter_mut().enumerate() {
                let mut ctx = Ctx::new(
                    InstrumentId(ii as u16),
                    &self.instruments[ii],
                    si as u8,
                    now_ns,
                    &self.frames[ii],
                    self.books[ii].as_ref(),
                    portfolio,
                    &mut self.buf,
                );
                dispatch!(&mut slot.strategy, s => s.on_timer(&mut ctx, now_ns));
                drain(&mut self.buf, &mut self.stats, intents);
            }
        }
    }
}

/// Moves a callback's intents to the sink, counting them.
#[inline]
fn drain(buf: &mut IntentBuffer, stats: &mut HostStats, intents: &mut impl Sink<OrderIntent>) {
    let dropped = buf.dropped();
    stats.dropped_intents = dropped;
    stats.direct_intents += buf.drain(|i| intents.emit(i)) as u64;
}

/// The market facts one decision step shares across strategies.
struct Market {
    id: InstrumentId,
    now: u64,
    price: Price,
    lot: i64,
    kill: bool,
    equity: i64,
    /// Breach factor on entry thresholds (≥ 1).
    entry_scale: f64,
}

impl Market {
    #[inline]
    fn intent(&self, strategy: u8, side: Side, qty: Qty, purpose: Purpose) -> OrderIntent {
        OrderIntent {
            instrument: self.id,
            strategy,
            side,
            order_type: OrderType::Market,
            price: self.price,
            qty,
            tif: TimeInForce::Ioc,
            purpose,
            decided_ns: self.now,
        }
    }
}

/// One strategy's step on one instrument once scored (`d.score`): thresholds, hysteresis,
/// exit and entry checks, sizing. Updates the book, the decision and the counters; returns
/// the intents (an exit, then an entry).
#[allow(clippy::too_many_arguments)]
#[inline]
fn judge(
    spec: &StrategySpec,
    filter: &FilterSpec,
    book: &mut Book,
    last_entry: &mut Option<u64>,
    m: &Market,
    atr: Option<f64>,
    d: &mut Decision,
    stats: &mut StrategyStats,
) -> [Option<OrderIntent>; 2] {
    let strategy = d.strategy;
    let x = d.score;
    let (entry, exit) = thresholds(&spec.noise, d.parts.atr_ratio);
    // A breach throttle asks for stronger entries; exits keep their threshold.
    let widened = if m.entry_scale > 1.0 {
        (entry * m.entry_scale).min(1.0)
    } else {
        entry
    };
    d.threshold = widened;
    d.exit_threshold = exit;
    let (w, s) = want(&spec.noise, book.side, x, widened, exit);
    d.suppressed = if book.side == 0 && w == Want::Stay && x.abs() >= entry && widened > entry {
        Some(Suppression::BreachThreshold)
    } else {
        s
    };
    let mut out = [None, None];
    let side = match w {
        Want::Stay => return out,
        Want::Enter(side) => side,
        Want::Exit | Want::Reverse(_) => {
            if let Some(s) = check_exit(&spec.noise, book, m.now) {
                d.suppressed = Some(s);
                return out;
            }
            let long = book.side > 0;
            let close = if long { Side::Sell } else { Side::Buy };
            out[0] = Some(m.intent(strategy, close, Qty(book.exit_qty()), Purpose::Close));
            stats.exits += 1;
            d.action = if long {
                Action::ExitLong
            } else {
                Action::ExitShort
            };
            // The entry's cooldown still counts from the action before this exit; what has
            // filled stays counted until the close's own fills arrive (after the latency).
            let (before, held) = (book.last_action_ns, book.held);
            *book = Book {
                last_action_ns: before,
                held,
                ..Book::default()
            };
            match w {
                Want::Reverse(side) => side,
                _ => {
                    book.last_action_ns = Some(m.now);
                    return out;
                }
            }
        }
    };
    let exited = d.action != Action::Stay;
    let refused = check_entry(
        &spec.noise,
        filter,
        book,
        *last_entry,
        m.now,
        side,
        spec.allow_short,
        m.kill,
    )
    .or_else(
        || match size(&spec.sizing, x, m.price, m.lot, m.equity, atr) {
            Ok(q) => {
                d.qty = q;
                None
            }
            Err(SizeError::ZeroQty) => Some(Suppression::ZeroQty),
            Err(SizeError::MinNotional) => Some(Suppression::MinNotional),
        },
    );
    if let Some(s) = refused {
        d.suppressed = Some(s);
        if exited {
            book.last_action_ns = Some(m.now);
        }
        return out;
    }
    out[1] = Some(m.intent(strategy, side, d.qty, Purpose::Open));
    stats.entries += 1;
    let long = side == Side::Buy;
    d.action = match (exited, long) {
        (false, true) => Action::EnterLong,
        (false, false) => Action::EnterShort,
        (true, true) => Action::ReverseToLong,
        (true, false) => Action::ReverseToShort,
    };
    *book = Book {
        side: if long { 1 } else { -1 },
        qty: d.qty.0,
        held: book.held,
        entered_ns: m.now,
        last_action_ns: Some(m.now),
    };
    *last_entry = Some(m.now);
    out
}

#[cfg(test)]
mod tests;
