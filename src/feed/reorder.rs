//! Corrected-time ordering of events from sources with different clocks.
//!
//! A lane that merges venues (a primary and a backup venue, say) sees their events in arrival
//! order, which is not the order they happened in: each venue has its own latency and its own
//! clock. The parse stage maps every event's venue time onto the primaries' clock (see
//! `ParseStage::corrected`) and parks it here; events leave in corrected-time order once
//! nothing earlier can still come:
//!
//! * **watermark**: each line sends its own events in order, so once every line that is
//!   speaking (received within the window) has delivered an event at or after `t`, nothing
//!   before `t` is still on its way;
//! * **bounded hold**: a line that lags or falls silent holds nothing back for longer than the
//!   window: an event leaves at the latest when its earliest possible arrival (its corrected
//!   time plus the primaries' minimum delay) is `window` in the past.
//!
//! So the out-of-orderness tolerated, and the most latency added, is the window (config
//! `arbiter.reorder_ms`). An event later than that still goes out (never lost), at once, and
//! is counted as `late`. The buffer is a binary heap allocated at start; it never grows: when
//! it is full, its earliest event leaves early.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::core::Envelope;

/// Events the buffer holds at most (per lane).
pub const REORDER_CAPACITY: usize = 16_384;

struct Held {
    at: u64,
    order: u64,
    env: Envelope,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first; ties
    /// keep arrival order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

#[derive(Clone, Copy, Default)]
struct LineClock {
    /// Receive time of the line's last message.
    last_recv: u64,
    /// Latest corrected time the line has delivered (0 = none yet).
    latest_at: u64,
}

/// What the buffer has done, for the stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReorderCounts {
    /// Events that left ahead of an event that had arrived before them.
    pub reordered: u64,
    /// Events that arrived after a later event had already left (beyond the window).
    pub late: u64,
}

/// The hold-back buffer. See the module docs.
pub struct Reorder {
    heap: BinaryHeap<Held>,
    lines: Vec<LineClock>,
    window_ns: u64,
    next_order: u64,
    /// Highest arrival order released so far.
    max_order_out: u64,
    /// Latest corrected time released so far.
    last_at_out: u64,
    released_any: bool,
    counts: ReorderCounts,
}

impl Reorder {
    /// A buffer for `lines` sources tolerating `window_ns` of disorder.
    pub fn new(lines: usize, window_ns: u64) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(REORDER_CAPACITY),
            lines: vec![LineClock::default(); lines.max(1)],
            window_ns,
            next_order: 0,
            max_order_out: 0,
            last_at_out: 0,
            released_any: false,
            counts: ReorderCounts::default(),
        }
    }

    /// Counts so far.
    pub fn counts(&self) -> ReorderCounts {
        self.counts
    }

    /// Events held now.
    pub fn held(&self) -> usize {
        self.heap.len()
    }

    /// A message from `line` was received at `recv_ns` (whatever it carried).
    #[inline]
    pub fn heard(&mut self, line: usize, recv_ns: u64) {
        if let Some(l) = self.lines.get_mut(line) {
            l.last_recv = recv_ns;
        }
    }

    /// Parks an event of `line` with corrected time `at`. A full buffer first lets its
    /// earliest event go.
    #[inline]
    pub fn push(&mut self, line: usize, at: u64, env: Envelope, out: &mut impl FnMut(Envelope)) {
        if self.heap.len() >= REORDER_CAPACITY {
            self.pop_one(out);
        }
        if let Some(l) = self.lines.get_mut(line) {
            l.latest_at = l.latest_at.max(at);
        }
        let order = self.next_order;
        self.next_order += 1;
        self.heap.push(Held { at, order, env });
    }

    /// Lets go every event nothing earlier can still precede. `now_recv` is the receive clock
    /// now; `delay_ns` the primaries' minimum delay (receive time − corrected time).
    pub fn release(&mut self, now_recv: u64, delay_ns: i64, out: &mut impl FnMut(Envelope)) {
        let mut watermark = u64::MAX;
        let mut speaking = false;
        for l in &self.lines {
            if l.latest_at != 0 && l.last_recv.abs_diff(now_recv) <= self.window_ns {
                watermark = watermark.min(l.latest_at);
                speaking = true;
            }
        }
        if !speaking {
            watermark = 0;
        }
        // Bounded hold: corrected time + delay + window <= now.
        let bound = (now_recv as i128 - i128::from(delay_ns) - i128::from(self.window_ns))
            .clamp(0, i128::from(u64::MAX)) as u64;
        let limit = watermark.max(bound);
        while self.heap.peek().is_some_and(|h| h.at <= limit) {
            self.pop_one(out);
        }
    }

    /// Lets every held event go, in order (end of stream).
    pub fn flush(&mut self, out: &mut impl FnMut(Envelope)) {
        while !self.heap.is_empty() {
            self.pop_one(out);
        }
    }

    fn pop_one(&mut self, out: &mut impl FnMut(Envelope)) {
        let Some(h) = self.heap.pop() else { return };
        if self.released_any {
            if h.order < self.max_order_out {
                self.counts.reordered += 1;
            }
            if h.at < self.last_at_out {
                self.counts.late += 1;
            }
        }
        self.released_any = true;
        self.max_order_out = self.max_order_out.max(h.order);
        self.last_at_out = self.last_at_out.max(h.at);
        out(h.env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{InstrumentId, Payload, Price, Qty, Trade};

    fn env(id: u64, market_ns: u64) -> Envelope {
        Envelope::at(
            market_ns,
            Payload::Trade(Trade {
                instrument: InstrumentId(0),
                trade_id: id,
                price: Price(1),
                qty: Qty(1),
                event_ns: market_ns,
                buyer_is_maker: false,
                trade_ns: market_ns,
                source: 0,
                flags: 0,
                anomalies: 0,
            }),
        )
    }

    fn ids(v: &[Envelope]) -> Vec<u64> {
        v.iter()
            .map(|e| match e.payload {
                Payload::Trade(t) => t.trade_id,
                _ => 0,
            })
            .collect()
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn two_lines_merge_in_corrected_order() {
        let mut r = Reorder::new(2, 50 * MS);
        let mut out2 = Vec::new();
        let mut o2 = |e| out2.push(e);
        // Both lines speaking.
        r.heard(0, 90 * MS);
        r.push(0, 60 * MS, env(1, 60 * MS), &mut o2);
        r.heard(1, 91 * MS);
        r.push(1, 90 * MS, env(3, 90 * MS), &mut o2);
        r.release(91 * MS, MS as i64, &mut o2);
        // Watermark = min(60, 90): event 1 leaves, event 3 waits for line 0.
        r.heard(0, 131 * MS);
        r.push(0, 100 * MS, env(2, 100 * MS), &mut o2);
        r.release(131 * MS, MS as i64, &mut o2);
        // Line 0 reached 100 > 90: event 3 (t=90) leaves, event 2 (t=100) waits for line 1.
        r.flush(&mut o2);
        assert_eq!(r.counts().late, 0);
        assert_eq!(ids(&out2), vec![1, 3, 2]);
    }

    #[test]
    fn arrival_order_differs_and_is_fixed() {
        let mut r = Reorder::new(2, 50 * MS);
        let mut out = Vec::new();
        let mut o = |e| out.push(e);
        // The fast line delivers t=110 before the slow line's t=100 arrives.
        r.heard(1, 111 * MS);
        r.push(1, 110 * MS, env(2, 110 * MS), &mut o);
        r.heard(0, 112 * MS);
        r.push(0, 100 * MS, env(1, 100 * MS), &mut o);
        r.release(112 * MS, MS as i64, &mut o);
        r.flush(&mut o);
        assert_eq!(ids(&out), vec![1, 2]);
        assert_eq!(r.counts().reordered, 1);
    }

    #[test]
    fn a_silent_line_holds_nothing_back_beyond_the_window() {
        let mut r = Reorder::new(2, 5 * MS);
        let mut out = Vec::new();
        let mut o = |e| out.push(e);
        r.heard(0, 1_000 * MS);
        r.push(0, 999 * MS, env(1, 999 * MS), &mut o);
        r.heard(1, 1_000 * MS);
        r.push(1, 999 * MS, env(2, 999 * MS), &mut o);
        r.heard(0, 1_001 * MS);
        r.push(0, 1_000 * MS, env(3, 1_000 * MS), &mut o);
        r.release(1_001 * MS, MS as i64, &mut o);
        // Line 1 is at 999: event 3 waits.
        let before = r.held();
        // Line 1 goes quiet; 6 ms on, the bound lets event 3 go without it.
        r.release(1_007 * MS, MS as i64, &mut o);
        let after = r.held();
        assert_eq!((before, after), (1, 0));
        assert_eq!(ids(&out), vec![1, 2, 3]);
    }

    #[test]
    fn a_late_event_still_leaves_and_is_counted() {
        let mut r = Reorder::new(1, MS);
        let mut out = Vec::new();
        let mut o = |e| out.push(e);
        r.heard(0, 100 * MS);
        r.push(0, 100 * MS, env(2, 100 * MS), &mut o);
        r.release(100 * MS, 0, &mut o);
        r.heard(0, 101 * MS);
        r.push(0, 50 * MS, env(1, 50 * MS), &mut o);
        r.release(101 * MS, 0, &mut o);
        assert_eq!(ids(&out), vec![2, 1]);
        assert_eq!(r.counts().late, 1);
    }

    #[test]
    fn a_full_buffer_lets_the_earliest_go_and_never_grows() {
        let mut r = Reorder::new(2, u64::MAX / 4);
        let mut out = Vec::new();
        let mut o = |e| out.push(e);
        let cap = r.heap.capacity();
        for i in 0..(REORDER_CAPACITY as u64 + 10) {
            r.push(0, 1_000 - (i % 1_000), env(i, 1), &mut o);
        }
        assert_eq!(r.heap.capacity(), cap);
        assert_eq!(r.held(), REORDER_CAPACITY);
        assert_eq!(out.len(), 10);
    }
}
