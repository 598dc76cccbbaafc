//! The arbiter: one clean stream per instrument out of every source that carries it.
//!
//! * **A/B lines** (several primary sources of the same stream): the first arrival of each
//!   trade id wins. A later copy from *another* line is redundancy working as intended
//!   (`redundant`, no anomaly); a second copy from the *same* line is a `duplicate` anomaly. An
//!   id that jumps ahead is a `gap`; if another line delivers a missing id later, it is passed
//!   on (late) and counted as `gaps_filled`. Ids are tracked in a window of the last
//!   [`ID_WINDOW`] ids per instrument; older ids are `out_of_order`. Aggregate trades
//!   (`aggTrade`) have their own id space and pass only while no raw trade was seen for the
//!   instrument. Ids that carry no order (Bybit UUIDs) are deduplicated by set membership.
//! * **Quotes**: an older update id from the same line is `out_of_order` (dropped); from another
//!   line it is a redundant copy (dropped silently). A bid at or above the ask is `crossed_book`.
//! * **Backup venues** (role `backup`): their prices cross-check the primaries; a gap beyond
//!   `arbiter.divergence_bps` is a `divergence` anomaly (once per episode). When every primary
//!   has been silent for `failover_after_ms` (receive time) while a backup speaks, the
//!   instrument fails over: the backup's trades and quotes flow on, and the primaries' are held
//!   back until they have been healthy again for `failback_after_ms`, then it fails back. One
//!   source of truth at any time, so nothing is counted twice.
//! * **Price spikes**: a trade that moves more than `arbiter.spike_bps`, or more than
//!   `arbiter.spike_z` times the running mean absolute move (a robust scale that one outlier
//!   barely shifts), is flagged `spike` (and passed on: real markets jump). A bar played as
//!   trades ([`Trade::FROM_BAR`]) is not a run of prints and is not checked.
//! * **Stale instrument**: no event for `arbiter.stale_after_ms` of market time (if set).
//!
//! State is fixed-size per instrument and allocated at start; nothing allocates after.

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx, FeedEvent, NO_SOURCE};
use crate::core::config::ArbiterSpec;
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{Envelope, InstrumentId, Payload, Sink, Trade};
use crate::feed::Role;

/// Trade ids remembered per instrument for deduplication and gap filling.
pub const ID_WINDOW: usize = 1024;

/// Unordered ids remembered per instrument.
const UNORDERED_WINDOW: usize = 256;

/// Outcome of offering a trade id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Next in sequence (or the first).
    New,
    /// Ahead of the next expected id: the ids in between are missing.
    Gap { expected: u64 },
    /// A missing id delivered late (by another line): passed on.
    Filled,
    /// Already delivered by another line.
    Redundant,
    /// Already delivered by the same line.
    Duplicate,
    /// Older than the window.
    TooOld { last: u64 },
}

/// Which sources delivered each of the last [`ID_WINDOW`] ids: a bit per source (sources 7
/// and up share the top bit), 0 = not delivered yet.
struct IdWindow {
    last: Option<u64>,
    by: Box<[u8; ID_WINDOW]>,
}

impl IdWindow {
    fn new() -> Self {
        Self {
            last: None,
            by: Box::new([0; ID_WINDOW]),
        }
    }

    fn slot(id: u64) -> usize {
        (id % ID_WINDOW as u64) as usize
    }

    fn admit(&mut self, id: u64, source: u8) -> Verdict {
        let tag = 1u8 << source.min(7);
        match self.last {
            None => {
                self.by.fill(0);
                self.by[Self::slot(id)] = tag;
                self.last = Some(id);
                Verdict::New
            }
            Some(l) if id > l => {
                let span = id - l;
                if span >= ID_WINDOW as u64 {
                    self.by.fill(0);
                } else {
                    for k in l + 1..id {
                        self.by[Self::slot(k)] = 0;
                    }
                }
                self.by[Self::slot(id)] = tag;
                self.last = Some(id);
                if span > 1 {
                    Verdict::Gap { expected: l + 1 }
                } else {
                    Verdict::New
                }
            }
            Some(l) if l - id < ID_WINDOW as u64 => {
                let s = &mut self.by[Self::slot(id)];
                let seen = *s;
                *s |= tag;
                if seen == 0 {
                    Verdict::Filled
                } else if seen & tag != 0 {
                    Verdict::Duplicate
                } else {
                    Verdict::Redundant
                }
            }
            Some(l) => Verdict::TooOld { last: l },
        }
    }
}

/// Recent ids without order (set membership in a ring).
struct UnorderedIds {
    ids: Box<[(u64, u8); UNORDERED_WINDOW]>,
    len: usize,
    pos: usize,
}

impl UnorderedIds {
    fn new() -> Self {
        Self {
            ids: Box::new([(0, 0); UNORDERED_WINDOW]),
            len: 0,
            pos: 0,
        }
    }

    fn admit(&mut self, id: u64, source: u8) -> Verdict {
        let tag = source.saturating_add(1);
        if let Some(&(_, by)) = self.ids[..self.len].iter().find(|(i, _)| *i == id) {
            return if by == tag {
                Verdict::Duplicate
            } else {
                Verdict::Redundant
            };
        }
        self.ids[self.pos] = (id, tag);
        self.pos = (self.pos + 1) % UNORDERED_WINDOW;
        self.len = (self.len + 1).min(UNORDERED_WINDOW);
        Verdict::New
    }
}

/// Per-instrument state.
struct Row {
    raw: IdWindow,
    agg: IdWindow,
    backup: IdWindow,
    unordered: UnorderedIds,
    raw_seen: bool,
    last_update_id: Option<u64>,
    last_quote_source: u8,
    /// Receive time of the first event of any source, and of the last primary one.
    first_recv: u64,
    primary_recv: u64,
    /// Backup source currently standing in, and since when the primaries are back.
    failed_over: Option<u8>,
    resumed_at: Option<u64>,
    /// Last primary price (trade or mid) and its receive time.
    primary_px: i64,
    primary_px_recv: u64,
    diverging: bool,
    /// Spike detector: last trade price, running mean absolute move (1e-6 units), count.
    last_px: i64,
    mean_abs_move: i64,
    moves: u32,
    last_market_ns: u64,
}

impl Row {
    fn new() -> Self {
        Self {
            raw: IdWindow::new(),
            agg: IdWindow::new(),
            backup: IdWindow::new(),
            unordered: UnorderedIds::new(),
            raw_seen: false,
            last_update_id: None,
            last_quote_source: 0,
            first_recv: 0,
            primary_recv: 0,
            failed_over: None,
            resumed_at: None,
            primary_px: 0,
            primary_px_recv: 0,
            diverging: false,
            last_px: 0,
            mean_abs_move: 0,
            moves: 0,
            last_market_ns: 0,
        }
    }
}

/// Backup and primary prices further apart than this in receive time are not compared.
const DIVERGENCE_MAX_AGE_NS: u64 = 5_000_000_000;

/// Moves below this (1e-6 relative, i.e. 1 bp = 100) never count as spikes by z-score alone.
const SPIKE_FLOOR: i64 = 1_000;

/// The arbiter stage.
pub struct Arbiter {
    rows: Vec<Row>,
    roles: Vec<Role>,
    spec: ArbiterSpec,
    stats: Arc<LaneStats>,
    cold: ColdTx,
    /// Anomalies flagged while checking the current event (bit per kind).
    marks: u16,
}

/// The dedupe window may already hold the input, so handling it again would drop it as a
/// duplicate: the input is dropped (and journaled as lost) instead.
impl crate::core::health::Recover for Arbiter {
    fn recover(&mut self, _poison: &Envelope) -> bool {
        false
    }
}

impl Arbiter {
    /// State for up to `instruments` instruments; `roles[s]` is source `s`'s role (sources
    /// beyond the list are primaries).
    pub fn new(
        instruments: usize,
        roles: Vec<Role>,
        spec: ArbiterSpec,
        stats: Arc<LaneStats>,
        cold: ColdTx,
    ) -> Self {
        Self {
            rows: (0..instruments).map(|_| Row::new()).collect(),
            roles,
            spec,
            stats,
            cold,
            marks: 0,
        }
    }

    fn role(&self, source: u8) -> Role {
        self.roles
            .get(usize::from(source))
            .copied()
            .unwrap_or(Role::Primary)
    }

    #[allow(clippy::too_many_arguments)]
    fn flag(
        &mut self,
        env: &Envelope,
        kind: AnomalyKind,
        source: u8,
        id: InstrumentId,
        expected: i64,
        got: i64,
    ) {
        self.stats.arbiter.anomalies[kind.index()].inc();
        self.marks |= 1 << kind.index();
        if source != NO_SOURCE {
            self.stats.source_arb.get(usize::from(source)).anomalies[kind.index()].inc();
        }
        self.cold.send(
            ColdRecord::Anomaly {
                market_ns: env.market_ns,
                kind,
                source,
                instrument: Some(id),
                seq: env.seq,
                expected,
                got,
            },
            &self.stats.cold_drops[1],
        );
    }

    fn feed_event(&mut self, source: u8, recv_ns: u64, event: FeedEvent) {
        self.cold.send(
            ColdRecord::Feed {
                source,
                wall_ns: recv_ns,
                event,
            },
            &self.stats.cold_drops[1],
        );
    }

    /// Checks one event; passes it on, or drops it (duplicate, stale, held back).
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        let (instrument, source, price) = match env.payload {
            Payload::Trade(t) => (t.instrument, t.source, t.price.0),
            Payload::BookTicker(b) => (b.instrument, b.source, (b.bid_px.0 + b.ask_px.0) / 2),
            _ => {
                self.stats.arbiter.passed.inc();
                out.forward(env);
                return;
            }
        };
        let i = instrument.index();
        if i >= self.rows.len() {
            self.stats.arbiter.passed.inc();
            out.forward(env);
            return;
        }
        self.marks = 0;
        let pass = self.route(env, i, instrument, source, price) && self.check(env, i, source);
        if pass {
            self.stats.arbiter.passed.inc();
            let backup = self.role(source) == Role::Backup;
            if let (Payload::Trade(_), true) = (env.payload, self.marks != 0 || backup) {
                let mut e = *env;
                if let Payload::Trade(t) = &mut e.payload {
                    // Candles carry what was wrong with the trades they hold.
                    t.anomalies |= self.marks;
                    if backup {
                        t.flags |= Trade::FROM_BACKUP;
                    }
                }
                out.emit(e);
            } else {
                out.forward(env);
            }
        } else {
            self.stats.arbiter.dropped.inc();
        }
    }

    /// Redundancy routing: may this source's event flow for the instrument now?
    fn route(
        &mut self,
        env: &Envelope,
        i: usize,
        instrument: InstrumentId,
        source: u8,
        price: i64,
    ) -> bool {
        let r = env.recv_ns;
        let failover_ns = self.spec.failover_after_ms.saturating_mul(1_000_000);
        let failback_ns = self.spec.failback_after_ms.saturating_mul(1_000_000);
        let role = self.role(source);
        let row = &mut self.rows[i];
        if row.first_recv == 0 {
            row.first_recv = r;
        }
        match role {
            Role::Primary => {
                // A silence long enough to fail over again restarts the failback clock.
                if row.primary_recv != 0 && r.saturating_sub(row.primary_recv) >= failover_ns {
                    row.resumed_at = None;
                }
                row.primary_recv = r;
                if price > 0 {
                    row.primary_px = price;
                    row.primary_px_recv = r;
                }
                let Some(backup) = row.failed_over else {
                    return true;
                };
                let since = *row.resumed_at.get_or_insert(r);
                if r.saturating_sub(since) < failback_ns {
                    return false; // held back: the backup is still the source of truth
                }
                row.failed_over = None;
                row.resumed_at = None;
                self.stats.arbiter.failbacks.inc();
                self.stats.source_arb.get(usize::from(backup)).active.set(0);
                self.feed_event(source, r, FeedEvent::Failback { instrument });
                true
            }
            Role::Backup => {
                // Cross-validation against the primaries' latest price.
                if price > 0
                    && row.primary_px > 0
                    && r.abs_diff(row.primary_px_recv) <= DIVERGENCE_MAX_AGE_NS
                {
                    let p = i128::from(row.primary_px);
                    let gap_bps_scaled = (i128::from(price) - p).abs() * 10_000 * 100_000_000 / p;
                    let limit = i128::from(self.spec.divergence_bps);
                    if !row.diverging && gap_bps_scaled > limit {
                        row.diverging = true;
                        let (px, pp) = (price, row.primary_px);
                        self.flag(env, AnomalyKind::Divergence, source, instrument, pp, px);
                    } else if self.rows[i].diverging && gap_bps_scaled * 2 < limit {
                        self.rows[i].diverging = false;
                    }
                }
                let row = &mut self.rows[i];
                self.stats
                    .source_arb
                    .get(usize::from(source))
                    .last_price
                    .set(price);
                match row.failed_over {
                    Some(b) if b == source => true,
                    Some(_) => false,
                    None => {
                        let quiet_since = row.primary_recv.max(row.first_recv);
                        let silent = r.saturating_sub(quiet_since);
                        if silent < failover_ns {
                            return false;
                        }
                        row.failed_over = Some(source);
                        row.resumed_at = None;
                        row.backup.reset();
                        self.stats.arbiter.failovers.inc();
                        self.stats.source_arb.get(usize::from(source)).active.set(1);
                        self.feed_event(
                            source,
                            r,
                            FeedEvent::Failover {
                                instrument,
                                silent_ms: silent / 1_000_000,
                            },
                        );
                        true
                    }
                }
            }
        }
    }

    /// Integrity checks of an event allowed to flow: dedupe, gaps, order, crossed, spikes.
    fn check(&mut self, env: &Envelope, i: usize, source: u8) -> bool {
        let stale_ns = self.spec.stale_after_ms.saturating_mul(1_000_000);
        if stale_ns > 0 {
            let last = self.rows[i].last_market_ns;
            if last != 0 && env.market_ns.saturating_sub(last) > stale_ns {
                let id = InstrumentId(i as u16);
                let gap_ms = (env.market_ns - last) / 1_000_000;
                self.flag(
                    env,
                    AnomalyKind::Stale,
                    source,
                    id,
                    self.spec.stale_after_ms as i64,
                    gap_ms as i64,
                );
            }
            self.rows[i].last_market_ns = env.market_ns;
        }
        match env.payload {
            Payload::Trade(t) => self.check_trade(env, i, &t),
            Payload::BookTicker(b) => {
                let row = &mut self.rows[i];
                match row.last_update_id {
                    // Older, or the same update again from the other A/B line.
                    Some(last)
                        if b.update_id < last
                            || (b.update_id == last && b.source != row.last_quote_source) =>
                    {
                        if b.source == row.last_quote_source {
                            self.flag(
                                env,
                                AnomalyKind::OutOfOrder,
                                b.source,
                                b.instrument,
                                last as i64,
                                b.update_id as i64,
                            );
                        }
                        false
                    }
                    _ => {
                        row.last_update_id = Some(b.update_id);
                        row.last_quote_source = b.source;
                        if b.bid_px >= b.ask_px && b.ask_px.0 > 0 {
                            self.flag(
                                env,
                                AnomalyKind::CrossedBook,
                                b.source,
                                b.instrument,
                                b.ask_px.0,
                                b.bid_px.0,
                            );
                        }
                        true
                    }
                }
            }
            _ => true,
        }
    }

    fn check_trade(&mut self, env: &Envelope, i: usize, t: &Trade) -> bool {
        let row = &mut self.rows[i];
        let backup_active = row.failed_over == Some(t.source);
        let verdict = if backup_active {
            row.backup.admit(t.trade_id, t.source)
        } else if t.flags & Trade::UNORDERED_ID != 0 {
            row.unordered.admit(t.trade_id, t.source)
        } else if t.flags & Trade::AGGREGATED != 0 {
            if row.raw_seen {
                // Raw trades carry the same fills: aggregates would count them twice.
                return false;
            }
            row.agg.admit(t.trade_id, t.source)
        } else {
            row.raw_seen = true;
            row.raw.admit(t.trade_id, t.source)
        };
        let sa = self.stats.source_arb.get(usize::from(t.source));
        let pass = match verdict {
            Verdict::New => true,
            Verdict::Gap { expected } => {
                self.flag(
                    env,
                    AnomalyKind::Gap,
                    t.source,
                    t.instrument,
                    expected as i64,
                    t.trade_id as i64,
                );
                true
            }
            Verdict::Filled => {
                self.stats.arbiter.gaps_filled.inc();
                true
            }
            Verdict::Redundant => {
                sa.redundant.inc();
                false
            }
            Verdict::Duplicate => {
                self.flag(
                    env,
                    AnomalyKind::Duplicate,
                    t.source,
                    t.instrument,
                    t.trade_id as i64,
                    t.trade_id as i64,
                );
                false
            }
            Verdict::TooOld { last } => {
                self.flag(
                    env,
                    AnomalyKind::OutOfOrder,
                    t.source,
                    t.instrument,
                    last as i64,
                    t.trade_id as i64,
                );
                false
            }
        };
        if pass {
            self.stats.source_arb.get(usize::from(t.source)).first.inc();
            if t.flags & Trade::FROM_BAR == 0 {
                self.spike(env, i, t);
            }
        }
        pass
    }

    fn spike(&mut self, env: &Envelope, i: usize, t: &Trade) {
        let row = &mut self.rows[i];
        let px = t.price.0;
        let last = row.last_px;
        row.last_px = px;
        if last <= 0 || px <= 0 {
            return;
        }
        // Relative move in 1e-6 (100 = 1 bp).
        // In 64 bits when the move fits (always, for real prices): a 128-bit division is a
        // library call on every trade.
        let moved = match (px - last)
            .checked_abs()
            .and_then(|d| d.checked_mul(1_000_000))
        {
            Some(m) => m / last,
            None => ((i128::from(px) - i128::from(last)).abs() * 1_000_000 / i128::from(last))
                .min(i128::from(i64::MAX)) as i64,
        };
        let hard = self.spec.spike_bps / 1_000_000; // bps at 1e-8 → 1e-6 relative ×100 / 1e8
        let by_z = row.moves >= 32
            && moved > SPIKE_FLOOR
            && (moved as f64) > self.spec.spike_z * (row.mean_abs_move.max(1) as f64);
        let spike = (hard > 0 && moved > hard) || by_z;
        // Running mean of absolute moves (EWMA, 1/32), updated after the check so a spike
        // does not mask itself; a spike moves it by at most 1/32 of its size.
        row.mean_abs_move += (moved - row.mean_abs_move) / 32;
        row.moves = row.moves.saturating_add(1);
        if spike {
            self.flag(env, AnomalyKind::Spike, t.source, t.instrument, last, px);
        }
    }
}

impl IdWindow {
    /// Forgets everything, keeping the allocation.
    fn reset(&mut self) {
        self.last = None;
        self.by.fill(0);
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{BookTicker, Price, Qty, Trade};
    use crate::ring::channel;

    fn trade(id: u64) -> Envelope {
        Envelope {
            ingress_ns: 0,
            stamp_ns: 0,
            recv_ns: 0,
            market_ns: 0,
            seq: id,
            payload: Payload::Trade(Trade {
                instrument: InstrumentId(0),
                trade_id: id,
                price: Price(1),
                qty: Qty(1),
                trade_ns: 0,
                event_ns: 0,
                buyer_is_maker: false,
                source: 0,
                flags: 0,
                anomalies: 0,
            }),
        }
    }

    fn spec() -> ArbiterSpec {
        ArbiterSpec {
            spike_bps: 300 * 100_000_000,
            spike_z: 12.0,
            divergence_bps: 50 * 100_000_000,
            failover_after_ms: 3_000,
            failback_after_ms: 10_000,
            stale_after_ms: 0,
            reorder_ms: 2,
        }
    }

    /// A trade from `source` received at `recv_s` seconds.
    fn tr(id: u64, source: u8, px: i64, recv_s: u64) -> Envelope {
        let mut e = trade(id);
        e.recv_ns = recv_s * 1_000_000_000;
        e.market_ns = e.recv_ns;
        if let Payload::Trade(t) = &mut e.payload {
            t.source = source;
            t.price = Price(px);
        }
        e
    }

    fn arbiter(roles: Vec<Role>) -> (Arbiter, Arc<LaneStats>, crate::ring::Consumer<ColdRecord>) {
        let stats = Arc::new(LaneStats::default());
        let (tx, rx) = channel(1024).unwrap();
        (
            Arbiter::new(4, roles, spec(), stats.clone(), ColdTx::new(tx)),
            stats,
            rx,
        )
    }

    fn ids(out: &[Envelope]) -> Vec<u64> {
        out.iter()
            .filter_map(|e| match e.payload {
                Payload::Trade(t) => Some(t.trade_id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ab_lines_merge_first_arrival_and_fill_gaps() {
        let (mut a, stats, _rx) = arbiter(vec![Role::Primary, Role::Primary]);
        let mut out = Vec::new();
        // Line 0 loses 3 and 4; line 1 is a little behind and has them.
        for (id, src) in [
            (1, 0),
            (2, 0),
            (1, 1),
            (2, 1),
            (5, 0),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 1),
            (6, 0),
        ] {
            a.on_event(&tr(id, src, 100, 1), &mut out);
        }
        assert_eq!(
            ids(&out),
            vec![1, 2, 5, 3, 4, 6],
            "every id once, late fills passed on"
        );
        let an = &stats.arbiter.anomalies;
        assert_eq!(
            an[AnomalyKind::Gap.index()].get(),
            1,
            "5 arrived before 3 and 4"
        );
        assert_eq!(
            an[AnomalyKind::Duplicate.index()].get(),
            0,
            "copies from the other line are not anomalies"
        );
        assert_eq!(stats.arbiter.gaps_filled.get(), 2);
        assert_eq!(stats.source_arb.get(1).redundant.get(), 3);
        assert_eq!(stats.source_arb.get(0).redundant.get(), 1);
        // The same line repeating itself is a duplicate.
        a.on_event(&tr(6, 0, 100, 1), &mut out);
        assert_eq!(an[AnomalyKind::Duplicate.index()].get(), 1);
        assert_eq!(
            stats.source_arb.get(0).anomalies[AnomalyKind::Duplicate.index()].get(),
            1
        );
    }

    #[test]
    fn unordered_and_aggregated_ids() {
        let (mut a, stats, _rx) = arbiter(vec![]);
        let mut out = Vec::new();
        let u = |id: u64, src: u8| {
            let mut e = tr(id, src, 100, 1);
            if let Payload::Trade(t) = &mut e.payload {
                t.flags = Trade::UNORDERED_ID;
            }
            e
        };
        for e in [u(900, 0), u(7, 0), u(900, 1), u(7, 0)] {
            a.on_event(&e, &mut out);
        }
        assert_eq!(
            ids(&out),
            vec![900, 7],
            "no gap or order assumed for unordered ids"
        );
        assert_eq!(stats.arbiter.anomalies[AnomalyKind::Gap.index()].get(), 0);
        assert_eq!(
            stats.arbiter.anomalies[AnomalyKind::Duplicate.index()].get(),
            1
        );
        // Aggregates pass only until raw trades appear.
        let mut agg = tr(50, 0, 100, 1);
        if let Payload::Trade(t) = &mut agg.payload {
            t.instrument = InstrumentId(1);
            t.flags = Trade::AGGREGATED;
        }
        out.clear();
        a.on_event(&agg, &mut out);
        assert_eq!(out.len(), 1);
        let mut raw = tr(1000, 0, 100, 1);
        if let Payload::Trade(t) = &mut raw.payload {
            t.instrument = InstrumentId(1);
        }
        a.on_event(&raw, &mut out);
        if let Payload::Trade(t) = &mut agg.payload {
            t.trade_id = 51;
        }
        a.on_event(&agg, &mut out);
        assert_eq!(
            out.len(),
            2,
            "aggregates after raw trades would double count"
        );
    }

    #[test]
    fn backup_diverges_fails_over_and_back() {
        let (mut a, stats, mut rx) = arbiter(vec![Role::Primary, Role::Backup]);
        let mut out = Vec::new();
        a.on_event(&tr(1, 0, 10_000, 1), &mut out);
        // Backup agrees within 50 bps: observed, not passed, no anomaly.
        a.on_event(&tr(500, 1, 10_030, 1), &mut out);
        // 1% away: divergence, flagged once per episode.
        a.on_event(&tr(501, 1, 10_100, 2), &mut out);
        a.on_event(&tr(502, 1, 10_100, 2), &mut out);
        assert_eq!(ids(&out), vec![1]);
        assert_eq!(
            stats.arbiter.anomalies[AnomalyKind::Divergence.index()].get(),
            1
        );
        // Primary silent for 3 s (receive time): the backup takes over.
        a.on_event(&tr(503, 1, 10_000, 4), &mut out);
        a.on_event(&tr(504, 1, 10_000, 5), &mut out);
        assert_eq!(ids(&out), vec![1, 503, 504]);
        assert_eq!(stats.arbiter.failovers.get(), 1);
        // Primary back: held until healthy for 10 s, then failback; the backup stops.
        a.on_event(&tr(9, 0, 10_000, 6), &mut out);
        a.on_event(&tr(505, 1, 10_000, 7), &mut out);
        for (k, t) in (8..=14).step_by(2).enumerate() {
            a.on_event(&tr(10 + k as u64, 0, 10_000, t), &mut out);
        }
        a.on_event(&tr(20, 0, 10_000, 16), &mut out);
        a.on_event(&tr(506, 1, 10_000, 16), &mut out);
        assert_eq!(ids(&out), vec![1, 503, 504, 505, 20]);
        assert_eq!(stats.arbiter.failbacks.get(), 1);
        let mut feed_events = 0;
        while let Some(r) = rx.try_pop() {
            if matches!(r, ColdRecord::Feed { .. }) {
                feed_events += 1;
            }
        }
        assert_eq!(feed_events, 2, "failover and failback are journaled");
    }

    #[test]
    fn spikes_are_flagged_not_dropped() {
        let (mut a, stats, _rx) = arbiter(vec![]);
        let mut out = Vec::new();
        let mut px = 1_000_000;
        for id in 1..=100 {
            px += if id % 2 == 0 { 50 } else { -50 }; // ±0.5 bp wiggle
            a.on_event(&tr(id, 0, px, 1), &mut out);
        }
        assert_eq!(stats.arbiter.anomalies[AnomalyKind::Spike.index()].get(), 0);
        a.on_event(&tr(101, 0, px + 2_000, 1), &mut out); // +20 bp: 40× the usual move
        assert_eq!(stats.arbiter.anomalies[AnomalyKind::Spike.index()].get(), 1);
        a.on_event(&tr(102, 0, px * 2, 1), &mut out); // +100%: beyond 300 bp
        assert_eq!(stats.arbiter.anomalies[AnomalyKind::Spike.index()].get(), 2);
        assert_eq!(out.len(), 102);
    }

    fn book(u: u64, bid: i64, ask: i64) -> Envelope {
        let mut e = trade(0);
        e.payload = Payload::BookTicker(BookTicker {
            instrument: InstrumentId(0),
            update_id: u,
            bid_px: Price(bid),
            bid_qty: Qty(1),
            ask_px: Price(ask),
            ask_qty: Qty(1),
            source: 0,
            event_ns: 0,
        });
        e
    }

    #[test]
    fn drops_duplicates_flags_gaps_and_crossed_books() {
        let stats = Arc::new(LaneStats::default());
        let (tx, mut rx) = channel(64).unwrap();
        let mut a = Arbiter::new(4, vec![], spec(), stats.clone(), ColdTx::new(tx));
        let mut out = Vec::new();
        for id in [1, 2, 2, 1, 5, 6] {
            a.on_event(&trade(id), &mut out);
        }
        a.on_event(&book(10, 1, 2), &mut out);
        a.on_event(&book(9, 1, 2), &mut out);
        a.on_event(&book(11, 3, 2), &mut out);
        assert_eq!(out.len(), 4 + 2);
        let a_st = &stats.arbiter;
        assert_eq!(a_st.anomalies[AnomalyKind::Duplicate.index()].get(), 2);
        assert_eq!(a_st.anomalies[AnomalyKind::Gap.index()].get(), 1);
        assert_eq!(a_st.anomalies[AnomalyKind::OutOfOrder.index()].get(), 1);
        assert_eq!(a_st.anomalies[AnomalyKind::CrossedBook.index()].get(), 1);
        assert_eq!(a_st.dropped.get(), 3);
        let mut recs = 0;
        while rx.try_pop().is_some() {
            recs += 1;
        }
        assert_eq!(recs, 5);
    }
}
