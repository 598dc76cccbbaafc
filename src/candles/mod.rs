//! Trades → OHLCV candles at every configured resolution, UTC-aligned, in exchange time.
//!
//! * **Cascade.** Only the finest resolution reads trades. When one of its candles closes, it
//!   is folded into the open candle of the next resolution, and so on up: a 1d candle is built
//!   from 1h candles, never by re-reading trades. Resolutions nest (each divides the next), so
//!   a coarse candle closes on the same trade as the fine one that crosses its boundary: no
//!   candle waits for a later one. The trade is emitted first, then the candles it closed,
//!   finest first: whoever acts on a close (a strategy, and after it the venue) has already
//!   seen the trade that revealed it, as it would live.
//! * **Bars.** A trade flagged [`Trade::BAR_CLOSE`] (bar mode, fills at the close) closes its
//!   finest candle at once, and every coarser one whose bucket ends with it.
//! * **Integrity.** Each candle carries the sources whose trades it holds, the anomalies the
//!   arbiter flagged on them, its revision count and flags ([`Candle::FLAG_ID_GAP`] …).
//! * **Gaps.** A bucket without trades is either skipped (the next candle is flagged
//!   [`Candle::FLAG_AFTER_GAP`]) or, with `candles.gaps = "fill"`, emitted as a flat candle at
//!   the previous close with no volume ([`Candle::FLAG_FILLED`]). A gap longer than
//!   [`MAX_FILL`] buckets is an outage, not a quiet market: it is skipped and flagged.
//! * **Late trades.** A trade for a bucket that has already closed, at most
//!   `candles.lateness_ms` behind the newest trade, is applied to its candle at every
//!   resolution; a candle that had already closed is emitted again with `revision + 1`.
//!   Open and close follow trade time, so a late trade can change them too. A later trade,
//!   or one whose candle is no longer kept ([`KEPT`] per resolution), is counted, journaled
//!   and flags its bucket's open candle [`Candle::FLAG_LATE`].
//!
//! State is a fixed table of instruments × resolutions allocated at start; nothing allocates
//! after.

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{Candle, Envelope, InstrumentId, Payload, Price, Qty, Resolution, Sink, Trade};

/// Longest run of empty buckets filled with flat candles (per resolution, per gap).
pub const MAX_FILL: u64 = 4_096;

/// Closed candles kept per instrument and resolution for late trades to revise.
pub const KEPT: usize = 8;

/// What to do with a bucket that saw no trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GapPolicy {
    /// Emit nothing; the next candle is flagged [`Candle::FLAG_AFTER_GAP`].
    #[default]
    Skip,
    /// Emit a flat candle at the previous close, flagged [`Candle::FLAG_FILLED`].
    Fill,
}

/// A candle being built, with the trade times that decide its open and close.
#[derive(Clone, Copy, Debug)]
struct Part {
    c: Candle,
    /// Time (and id, for ties) of the trade that set the open.
    first: (u64, u64),
    /// Time and id of the trade that set the close.
    last: (u64, u64),
    /// Lowest and highest trade id.
    ids: (u64, u64),
    /// Σ price × qty, exact (10⁻¹⁶).
    quote: i128,
}

impl Part {
    fn of_trade(t: &Trade, r: Resolution, open_ns: u64) -> Self {
        let taker_buy = if t.buyer_is_maker { 0 } else { t.qty.0 };
        Self {
            c: Candle {
                instrument: t.instrument,
                resolution: r,
                open_ns,
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: t.qty,
                quote_volume: 0,
                trades: 1,
                taker_buy_volume: Qty(taker_buy),
                sources: source_bit(t.source),
                anomalies: t.anomalies,
                revision: 0,
                flags: if t.flags & Trade::FROM_BACKUP != 0 {
                    Candle::FLAG_BACKUP
                } else {
                    0
                },
            },
            first: (t.trade_ns, t.trade_id),
            last: (t.trade_ns, t.trade_id),
            ids: (t.trade_id, t.trade_id),
            quote: 0,
        }
        .with_quote(i128::from(t.price.0) * i128::from(t.qty.0))
    }

    fn with_quote(mut self, q: i128) -> Self {
        self.quote = q;
        self
    }

    /// The candle as it leaves the stage: its quote volume rounded to 10⁻⁸ once, here,
    /// rather than on every trade.
    fn candle(&self) -> Candle {
        let mut c = self.c;
        c.quote_volume = round_scaled(self.quote);
        c
    }

    /// A flat candle for an empty bucket.
    fn filled(instrument: InstrumentId, r: Resolution, open_ns: u64, close: Price) -> Candle {
        Candle {
            instrument,
            resolution: r,
            open_ns,
            open: close,
            high: close,
            low: close,
            close,
            volume: Qty(0),
            quote_volume: 0,
            trades: 0,
            taker_buy_volume: Qty(0),
            sources: 0,
            anomalies: 0,
            revision: 0,
            flags: Candle::FLAG_FILLED,
        }
    }

    /// Adds another part of the same bucket (a trade, or a finer candle).
    fn merge(&mut self, o: &Part) {
        let c = &mut self.c;
        if c.trades == 0 {
            // A filled candle taking its first trade becomes that trade's candle.
            let (r, open_ns, revision) = (c.resolution, c.open_ns, c.revision);
            *self = *o;
            self.c.resolution = r;
            self.c.open_ns = open_ns;
            self.c.revision = revision;
            self.c.flags &= !Candle::FLAG_FILLED;
            return;
        }
        if o.first < self.first {
            c.open = o.c.open;
            self.first = o.first;
        }
        if o.last >= self.last {
            c.close = o.c.close;
            self.last = o.last;
        }
        c.high = c.high.max(o.c.high);
        c.low = c.low.min(o.c.low);
        c.volume = Qty(c.volume.0.saturating_add(o.c.volume.0));
        self.quote = self.quote.saturating_add(o.quote);
        c.taker_buy_volume = Qty(c.taker_buy_volume.0.saturating_add(o.c.taker_buy_volume.0));
        c.trades = c.trades.saturating_add(o.c.trades);
        self.ids = (self.ids.0.min(o.ids.0), self.ids.1.max(o.ids.1));
        c.sources |= o.c.sources;
        c.anomalies |= o.c.anomalies;
        c.flags |= o.c.flags & !Candle::FLAG_FILLED;
    }

    /// Adds a trade that arrived in order: notes a hole in the trade ids.
    fn add_trade(&mut self, t: &Trade) {
        let ordered = t.flags & (Trade::UNORDERED_ID | Trade::FROM_BACKUP) == 0;
        if ordered && self.c.trades > 0 && t.trade_id != self.ids.1.wrapping_add(1) {
            self.c.flags |= Candle::FLAG_ID_GAP;
        }
        if self.c.trades == 0 {
            // A filled candle's first trade: the general path.
            let part = Part::of_trade(t, self.c.resolution, self.c.open_ns);
            return self.merge(&part);
        }
        // `merge` with a one-trade part, without building it (the per-trade path).
        let key = (t.trade_ns, t.trade_id);
        let c = &mut self.c;
        if key < self.first {
            c.open = t.price;
            self.first = key;
        }
        if key >= self.last {
            c.close = t.price;
            self.last = key;
        }
        c.high = c.high.max(t.price);
        c.low = c.low.min(t.price);
        c.volume = Qty(c.volume.0.saturating_add(t.qty.0));
        if !t.buyer_is_maker {
            c.taker_buy_volume = Qty(c.taker_buy_volume.0.saturating_add(t.qty.0));
        }
        c.trades = c.trades.saturating_add(1);
        self.ids = (self.ids.0.min(t.trade_id), self.ids.1.max(t.trade_id));
        c.sources |= source_bit(t.source);
        c.anomalies |= t.anomalies;
        if t.flags & Trade::FROM_BACKUP != 0 {
            c.flags |= Candle::FLAG_BACKUP;
        }
        self.quote = self
            .quote
            .saturating_add(i128::from(t.price.0) * i128::from(t.qty.0));
    }
}

#[derive(Clone, Copy)]
struct Level {
    open: Option<Part>,
    /// Recently closed candles, a ring (for revisions).
    kept: [Option<Part>; KEPT],
    next_kept: usize,
    /// Close and bucket of the last closed candle (gap handling).
    last_close: Option<(u64, Price)>,
    /// Empty buckets were skipped before the next candle.
    after_gap: bool,
}

impl Level {
    const EMPTY: Level = Level {
        open: None,
        kept: [None; KEPT],
        next_kept: 0,
        last_close: None,
        after_gap: false,
    };

    fn keep(&mut self, p: Part) {
        self.kept[self.next_kept] = Some(p);
        self.next_kept = (self.next_kept + 1) % KEPT;
    }

    fn kept_mut(&mut self, open_ns: u64) -> Option<&mut Part> {
        self.kept
            .iter_mut()
            .flatten()
            .find(|p| p.c.open_ns == open_ns)
    }
}

/// The candle stage.
pub struct Candles {
    resolutions: Vec<Resolution>,
    /// `instrument * resolutions.len() + r`.
    levels: Vec<Level>,
    /// Newest trade time per instrument (the lateness clock).
    newest: Vec<u64>,
    gaps: GapPolicy,
    lateness_ns: u64,
    /// Resolutions whose open candle is emitted after every trade ([`Candle::FLAG_LIVE`]).
    live: Vec<Resolution>,
    /// The breach policy's throttle: live candles are shed while it is on.
    control: Option<Arc<crate::core::health::Control>>,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

/// A trade may have been half applied when the stage panicked, and applying it again could
/// count it twice: the input is dropped (and journaled as lost); the open candles keep what
/// they had.
impl crate::core::health::Recover for Candles {
    fn recover(&mut self, _poison: &Envelope) -> bool {
        false
    }
}

impl Candles {
    /// Candles for up to `instruments` instruments at `resolutions` (each must divide the
    /// next; the config guarantees it), skipping empty buckets, with no lateness.
    pub fn new(
        instruments: usize,
        resolutions: &[Resolution],
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        let mut resolutions = resolutions.to_vec();
        resolutions.sort();
        resolutions.dedup();
        Self {
            levels: vec![Level::EMPTY; instruments * resolutions.len()],
            newest: vec![0; instruments],
            resolutions,
            gaps: GapPolicy::Skip,
            lateness_ns: 0,
            live: Vec::new(),
            control: None,
            stats,
            cold,
        }
    }

    /// Sets the gap policy and the lateness window.
    pub fn with_policy(mut self, gaps: GapPolicy, lateness_ns: u64) -> Self {
        self.gaps = gaps;
        self.lateness_ns = lateness_ns;
        self
    }

    /// Sheds the live candles (optional work) while `control`'s throttle is on.
    pub fn with_control(mut self, control: Arc<crate::core::health::Control>) -> Self {
        self.control = Some(control);
        self
    }

    /// After every trade, also emits the open candle of each of `live` (those built), flagged
    /// [`Candle::FLAG_LIVE`], so indicators can show values for the bucket so far.
    pub fn with_live(mut self, live: &[Resolution]) -> Self {
        self.live = live
            .iter()
            .copied()
            .filter(|r| self.resolutions.contains(r))
            .collect();
        self
    }

    /// Updates candles with an event; emits the event, then the candles it closed (or
    /// revised).
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        out.forward(env);
        if let Payload::Trade(t) = env.payload {
            self.on_trade(env, &t, out);
        }
    }

    fn on_trade(&mut self, env: &Envelope, t: &Trade, out: &mut impl Sink<Envelope>) {
        let n = self.resolutions.len();
        let i = t.instrument.index();
        if n == 0 || i >= self.newest.len() {
            return;
        }
        let r0 = self.resolutions[0];
        let base = i * n;
        // Most trades fall in the open candle's bucket: no division for them.
        let bucket = match &self.levels[base].open {
            Some(p) if t.trade_ns.wrapping_sub(p.c.open_ns) < r0.nanos() => p.c.open_ns,
            _ => t.trade_ns - t.trade_ns % r0.nanos(),
        };
        match self.levels[base].open {
            Some(p) if bucket == p.c.open_ns => {
                if let Some(p) = &mut self.levels[base].open {
                    p.add_trade(t);
                }
            }
            Some(p) if bucket < p.c.open_ns => return self.late(env, t, out),
            open => {
                if let Some(p) = open {
                    self.close(env, base, 0, p, t.trade_ns, out);
                } else if let Some((last, _)) = self.levels[base].last_close {
                    if bucket <= last {
                        return self.late(env, t, out);
                    }
                }
                self.start(env, base, 0, Part::of_trade(t, r0, bucket), out);
            }
        }
        self.newest[i] = self.newest[i].max(t.trade_ns);
        if t.flags & Trade::BAR_CLOSE != 0 {
            if let Some(p) = self.levels[base].open {
                // The bar is complete: close it as the next bucket's first trade would.
                let end = p.c.open_ns.saturating_add(r0.nanos());
                self.close(env, base, 0, p, end, out);
            }
        }
        if self.live.is_empty() {
            return;
        }
        if let Some(c) = &self.control {
            if c.actions.shed_live_candles && c.throttle.load(std::sync::atomic::Ordering::Relaxed)
            {
                self.stats.candles.live_shed.inc();
                return;
            }
        }
        for k in 0..self.live.len() {
            if let Some(mut c) = self.open_candle(t.instrument, self.live[k]) {
                c.flags |= Candle::FLAG_LIVE;
                out.emit(Envelope {
                    payload: Payload::Candle(c),
                    ..*env
                });
            }
        }
    }

    /// Opens a level's candle with its first part, after the gap before it (if any).
    fn start(
        &mut self,
        env: &Envelope,
        base: usize,
        ri: usize,
        mut p: Part,
        out: &mut impl Sink<Envelope>,
    ) {
        let r = self.resolutions[ri];
        let lv = &mut self.levels[base + ri];
        if let Some((last, close)) = lv.last_close {
            let missing = p.c.open_ns.saturating_sub(last) / r.nanos();
            let missing = missing.saturating_sub(1);
            if missing > 0 {
                if self.gaps == GapPolicy::Fill && missing <= MAX_FILL {
                    for k in 1..=missing {
                        let c = Part::filled(p.c.instrument, r, last + k * r.nanos(), close);
                        let part = Part {
                            c,
                            first: (c.open_ns, 0),
                            last: (c.open_ns, 0),
                            ids: (0, 0),
                            quote: 0,
                        };
                        lv.keep(part);
                        self.stats.candles.filled.inc();
                        self.stats.candles.closed[r.index()].inc();
                        out.emit(Envelope {
                            payload: Payload::Candle(c),
                            ..*env
                        });
                    }
                    lv.last_close = Some((last + missing * r.nanos(), close));
                } else {
                    lv.after_gap = true;
                }
            }
        }
        if std::mem::take(&mut lv.after_gap) {
            p.c.flags |= Candle::FLAG_AFTER_GAP;
        }
        lv.open = Some(p);
    }

    /// Closes a level's candle (a trade at `now_ns` starts the next bucket): emits it, folds
    /// it into the next resolution, and closes that one too if `now_ns` crosses its boundary.
    fn close(
        &mut self,
        env: &Envelope,
        base: usize,
        ri: usize,
        p: Part,
        now_ns: u64,
        out: &mut impl Sink<Envelope>,
    ) {
        let r = self.resolutions[ri];
        {
            let lv = &mut self.levels[base + ri];
            lv.open = None;
            lv.keep(p);
            lv.last_close = Some((p.c.open_ns, p.c.close));
        }
        self.stats.candles.closed[r.index()].inc();
        out.emit(Envelope {
            payload: Payload::Candle(p.candle()),
            ..*env
        });
        let Some(&up) = self.resolutions.get(ri + 1) else {
            return;
        };
        let up_bucket = p.c.open_ns - p.c.open_ns % up.nanos();
        let mut coarse = p;
        coarse.c.resolution = up;
        coarse.c.open_ns = up_bucket;
        coarse.c.revision = 0;
        coarse.c.flags &= !Candle::FLAG_AFTER_GAP;
        match self.levels[base + ri + 1].open {
            Some(ref mut o) if o.c.open_ns == up_bucket => {
                let ordered = p.c.flags & Candle::FLAG_BACKUP == 0;
                if ordered && p.ids.0 != o.ids.1.wrapping_add(1) {
                    o.c.flags |= Candle::FLAG_ID_GAP;
                }
                o.merge(&coarse);
            }
            Some(o) if o.c.open_ns < up_bucket => {
                // Cannot happen while resolutions nest; closed rather than lost if it does.
                self.close(env, base, ri + 1, o, up_bucket, out);
                self.start(env, base, ri + 1, coarse, out);
            }
            Some(_) => {}
            None => self.start(env, base, ri + 1, coarse, out),
        }
        if now_ns - now_ns % up.nanos() > up_bucket {
            if let Some(o) = self.levels[base + ri + 1].open {
                self.close(env, base, ri + 1, o, now_ns, out);
            }
        }
    }

    /// A trade for a bucket the finest level has moved past.
    fn late(&mut self, env: &Envelope, t: &Trade, out: &mut impl Sink<Envelope>) {
        let i = t.instrument.index();
        let n = self.resolutions.len();
        let base = i * n;
        let within = self.newest[i].saturating_sub(t.trade_ns) <= self.lateness_ns;
        let r0 = self.resolutions[0];
        let b0 = t.trade_ns - t.trade_ns % r0.nanos();
        if within && self.levels[base].kept_mut(b0).is_some() {
            for ri in 0..n {
                let r = self.resolutions[ri];
                let b = t.trade_ns - t.trade_ns % r.nanos();
                let part = Part::of_trade(t, r, b);
                let lv = &mut self.levels[base + ri];
                if let Some(o) = lv.open.as_mut().filter(|o| o.c.open_ns == b) {
                    o.merge(&part);
                } else if let Some(k) = lv.kept_mut(b) {
                    k.merge(&part);
                    k.c.revision = k.c.revision.saturating_add(1);
                    let c = k.candle();
                    self.stats.candles.revisions.inc();
                    out.emit(Envelope {
                        payload: Payload::Candle(c),
                        ..*env
                    });
                } else if ri > 0
                    && lv.open.is_none()
                    && lv.last_close.is_none_or(|(last, _)| last < b)
                {
                    // Every finer candle of this bucket so far was empty (filled, never
                    // folded): the late trade starts it.
                    lv.open = Some(part);
                }
            }
            return;
        }
        self.stats.candles.late.inc();
        if let Some(o) = &mut self.levels[base].open {
            o.c.flags |= Candle::FLAG_LATE;
        }
        self.cold.send(
            ColdRecord::Anomaly {
                source: t.source,
                market_ns: env.market_ns,
                kind: AnomalyKind::LateTrade,
                instrument: Some(t.instrument),
                seq: env.seq,
                expected: self.newest[i] as i64,
                got: t.trade_ns as i64,
            },
            &self.stats.cold_drops[2],
        );
    }

    /// Closes every open candle (end of a file or a run): emits them finest first.
    pub fn flush(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        let n = self.resolutions.len();
        for i in 0..self.newest.len() {
            let base = i * n;
            if let Some(p) = self.levels[base].open {
                // A time past every bucket closes the whole cascade.
                self.close(env, base, 0, p, u64::MAX, out);
            }
        }
    }

    /// The candle being built for an instrument at a resolution, including the finer
    /// candles not yet folded into it (what it would be if it closed now).
    pub fn open_candle(&self, id: InstrumentId, r: Resolution) -> Option<Candle> {
        let ri = self.resolutions.iter().position(|&x| x == r)?;
        let base = id.index() * self.resolutions.len();
        let mut acc: Option<Part> = None;
        for k in (0..=ri).rev() {
            if let Some(mut p) = self.levels.get(base + k)?.open {
                p.c.resolution = r;
                p.c.open_ns -= p.c.open_ns % r.nanos();
                match &mut acc {
                    None => acc = Some(p),
                    Some(a) if a.c.open_ns == p.c.open_ns => a.merge(&p),
                    Some(_) => {}
                }
            }
        }
        acc.map(|p| p.candle())
    }

    /// Resolutions built, finest first.
    pub fn resolutions(&self) -> &[Resolution] {
        &self.resolutions
    }
}

fn source_bit(source: u8) -> u32 {
    1u32 << u32::from(source.min(31))
}

/// A 10⁻¹⁶ value at 10⁻⁸, rounded half away from zero, saturating.
fn round_scaled(v: i128) -> i64 {
    crate::core::num::round_e16_to_e8(v).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests;
