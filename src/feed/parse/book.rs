//! A fixed-capacity L2 order book: price levels per side in sorted arrays allocated once.
//!
//! Each side keeps its levels sorted so the best price is at the end of the array: bids
//! ascending, asks descending. Venue updates cluster at the top of the book, so an insert or a
//! delete there moves few elements. When a side is full, a level worse than every kept level
//! is dropped (counted in `truncated`), and a better one evicts the worst: the top of the book,
//! which is what quotes are built from, is always exact.

use crate::core::{Price, Qty, Side};

/// One side's levels: (price, qty), best at the end.
#[derive(Clone, Debug)]
struct Ladder {
    levels: Vec<(i64, i64)>,
    /// Bids: ascending (best = highest = last). Asks: descending (best = lowest = last).
    ascending: bool,
}

impl Ladder {
    fn new(cap: usize, ascending: bool) -> Self {
        Self {
            levels: Vec::with_capacity(cap),
            ascending,
        }
    }

    /// Position of `price` (Ok) or where it would go (Err), in this side's order.
    fn find(&self, price: i64) -> Result<usize, usize> {
        if self.ascending {
            self.levels.binary_search_by(|l| l.0.cmp(&price))
        } else {
            self.levels.binary_search_by(|l| price.cmp(&l.0))
        }
    }

    /// Sets the quantity at `price` (0 removes). Returns true if a level was lost because the
    /// side is full: the new one (worse than every level kept) or the evicted worst.
    fn set(&mut self, price: i64, qty: i64) -> bool {
        match self.find(price) {
            Ok(i) => {
                if qty == 0 {
                    self.levels.remove(i);
                } else {
                    self.levels[i].1 = qty;
                }
                false
            }
            Err(_) if qty == 0 => false,
            Err(i) => {
                if self.levels.len() == self.levels.capacity() {
                    // Full: the worst level sits at index 0.
                    if i > 0 {
                        self.levels.remove(0);
                        self.levels.insert(i - 1, (price, qty));
                    }
                    true
                } else {
                    self.levels.insert(i, (price, qty));
                    false
                }
            }
        }
    }

    fn best(&self) -> Option<(Price, Qty)> {
        self.levels.last().map(|&(p, q)| (Price(p), Qty(q)))
    }
}

/// An L2 book with a fixed number of levels per side. Never allocates after `new`.
#[derive(Clone, Debug)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
    /// Last update id applied (venue sequence), 0 before the first.
    pub last_id: u64,
    /// True once a snapshot (or, for venues without snapshots, the first update) has been
    /// applied and no sequence gap has been seen since.
    pub synced: bool,
    /// Levels dropped because a side was full.
    pub truncated: u64,
}

impl Book {
    /// An empty book holding up to `levels` levels per side.
    pub fn new(levels: usize) -> Self {
        let levels = levels.max(1);
        Self {
            bids: Ladder::new(levels, true),
            asks: Ladder::new(levels, false),
            last_id: 0,
            synced: false,
            truncated: 0,
        }
    }

    /// Removes every level (before a snapshot, or after a gap).
    pub fn clear(&mut self) {
        self.bids.levels.clear();
        self.asks.levels.clear();
    }

    /// Sets one level: `qty` is the new total at `price`, zero deletes.
    pub fn apply(&mut self, side: Side, price: Price, qty: Qty) {
        let lost = match side {
            Side::Buy => self.bids.set(price.0, qty.0),
            Side::Sell => self.asks.set(price.0, qty.0),
        };
        if lost {
            self.truncated += 1;
        }
    }

    /// Best bid.
    pub fn best_bid(&self) -> Option<(Price, Qty)> {
        self.bids.best()
    }

    /// Best ask.
    pub fn best_ask(&self) -> Option<(Price, Qty)> {
        self.asks.best()
    }

    /// Number of (bid, ask) levels held.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.levels.len(), self.asks.levels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn top_of_book_follows_updates() {
        let mut b = Book::new(4);
        b.apply(Side::Buy, Price(100), Qty(1));
        b.apply(Side::Buy, Price(101), Qty(2));
        b.apply(Side::Sell, Price(103), Qty(3));
        b.apply(Side::Sell, Price(102), Qty(4));
        assert_eq!(b.best_bid(), Some((Price(101), Qty(2))));
        assert_eq!(b.best_ask(), Some((Price(102), Qty(4))));
        b.apply(Side::Buy, Price(101), Qty(0));
        b.apply(Side::Sell, Price(102), Qty(5));
        assert_eq!(b.best_bid(), Some((Price(100), Qty(1))));
        assert_eq!(b.best_ask(), Some((Price(102), Qty(5))));
        b.apply(Side::Sell, Price(999), Qty(0));
        assert_eq!(b.depth(), (1, 2));
    }

    #[test]
    fn a_full_side_keeps_the_best_levels() {
        let mut b = Book::new(2);
        for p in [10, 20, 30] {
            b.apply(Side::Buy, Price(p), Qty(1));
        }
        assert_eq!(b.best_bid(), Some((Price(30), Qty(1))));
        assert_eq!(b.depth().0, 2);
        b.apply(Side::Buy, Price(5), Qty(1));
        assert_eq!(b.truncated, 2, "10 was evicted, 5 was dropped");
    }

    proptest! {
        /// Against a BTreeMap model, with a capacity large enough never to truncate, the best
        /// levels always agree.
        #[test]
        fn matches_a_map_model(ops in proptest::collection::vec((any::<bool>(), 1i64..60, 0i64..4), 0..300)) {
            let mut b = Book::new(64);
            let mut bids = BTreeMap::new();
            let mut asks = BTreeMap::new();
            for (buy, p, q) in ops {
                let (side, m) = if buy { (Side::Buy, &mut bids) } else { (Side::Sell, &mut asks) };
                b.apply(side, Price(p), Qty(q));
                if q == 0 { m.remove(&p); } else { m.insert(p, q); }
                prop_assert_eq!(b.best_bid(), bids.iter().next_back().map(|(&p, &q)| (Price(p), Qty(q))));
                prop_assert_eq!(b.best_ask(), asks.iter().next().map(|(&p, &q)| (Price(p), Qty(q))));
            }
            prop_assert_eq!(b.truncated, 0);
        }
    }
}
