//! The open-order table: every order sent and not yet finished, in a fixed array sized at
//! start. Lookups scan the live prefix (tens of entries); removal moves the last entry into
//! the hole, so nothing ever allocates after `new`.

use crate::core::event::Side;
use crate::core::order::Purpose;

/// One working order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenOrder {
    /// Client order id.
    pub id: u64,
    /// Instrument index.
    pub instrument: usize,
    /// Side.
    pub side: Side,
    /// Why it was sent.
    pub purpose: Purpose,
    /// Strategy (`u8::MAX` = the risk engine).
    pub strategy: u8,
    /// Quantity still working.
    pub leaves: i64,
    /// The kill switch asked for its cancel.
    pub cancel_requested: bool,
}

/// Fixed-capacity table of [`OpenOrder`]s.
pub(crate) struct OpenOrders {
    slots: Box<[OpenOrder]>,
    len: usize,
}

impl OpenOrders {
    /// A table for `capacity` orders, allocated now.
    pub fn new(capacity: usize) -> Self {
        let empty = OpenOrder {
            id: 0,
            instrument: 0,
            side: Side::Buy,
            purpose: Purpose::Open,
            strategy: 0,
            leaves: 0,
            cancel_requested: false,
        };
        Self {
            slots: vec![empty; capacity].into_boxed_slice(),
            len: 0,
        }
    }

    /// Orders working now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots in all.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The working orders, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut OpenOrder> {
        self.slots[..self.len].iter_mut()
    }

    /// Index of the order with id `id`.
    pub fn find(&self, id: u64) -> Option<usize> {
        self.slots[..self.len].iter().position(|o| o.id == id)
    }

    /// The order at `at` (from [`OpenOrders::find`]).
    pub fn get_mut(&mut self, at: usize) -> Option<&mut OpenOrder> {
        self.slots[..self.len].get_mut(at)
    }

    /// Adds an order; `false` when the table is full.
    pub fn insert(&mut self, order: OpenOrder) -> bool {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = order;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Removes and returns the order at `at`.
    pub fn remove(&mut self, at: usize) -> Option<OpenOrder> {
        if at >= self.len {
            return None;
        }
        let gone = self.slots[at];
        self.len -= 1;
        self.slots[at] = self.slots[self.len];
        Some(gone)
    }
}

/// The last `N` accepted orders' market times in a ring, `N` = the orders-per-second limit.
/// A new order is over the limit when the `N`-th most recent one was less than a second ago:
/// a sliding one-second window, answered in O(1).
pub(crate) struct RateWindow {
    times: Box<[u64]>,
    next: usize,
    len: usize,
}

/// One second of market time.
pub(crate) const SECOND_NS: u64 = 1_000_000_000;

impl RateWindow {
    /// A window for `limit` orders per second (≥ 1), allocated now.
    pub fn new(limit: usize) -> Self {
        Self {
            times: vec![0; limit.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
        }
    }

    /// Would one more order at `now_ns` exceed the limit?
    pub fn is_full(&self, now_ns: u64) -> bool {
        // The oldest kept entry is the limit-th most recent: `next` once the ring is full.
        self.len == self.times.len() && self.times[self.next].saturating_add(SECOND_NS) > now_ns
    }

    /// Records an accepted order at `now_ns`.
    pub fn record(&mut self, now_ns: u64) {
        self.times[self.next] = now_ns;
        self.next = (self.next + 1) % self.times.len();
        self.len = (self.len + 1).min(self.times.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_insert_find_remove() {
        let mut t = OpenOrders::new(2);
        let o = |id| OpenOrder {
            id,
            instrument: 0,
            side: Side::Sell,
            purpose: Purpose::Close,
            strategy: 1,
            leaves: 5,
            cancel_requested: false,
        };
        assert!(t.insert(o(7)) && t.insert(o(9)));
        assert!(!t.insert(o(11)), "full");
        assert_eq!(t.find(9), Some(1));
        assert_eq!(t.remove(0).map(|o| o.id), Some(7));
        assert_eq!(t.find(9), Some(0));
        assert_eq!(t.find(7), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(3), None);
    }

    #[test]
    fn window_slides() {
        let mut w = RateWindow::new(2);
        w.record(0);
        assert!(!w.is_full(10));
        w.record(500_000_000);
        assert!(w.is_full(999_999_999));
        assert!(!w.is_full(SECOND_NS), "the first left the window");
        w.record(SECOND_NS);
        assert!(w.is_full(SECOND_NS + 499_999_999));
        assert!(!w.is_full(SECOND_NS + 500_000_000));
    }
}
