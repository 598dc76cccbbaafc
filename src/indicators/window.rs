//! Fixed-capacity sliding windows the indicators keep: the last `n` values, and the rolling
//! maximum or minimum of the last `n` values.
//!
//! Both allocate their storage once in `new` and never again: `push`, `clear` and every read
//! are allocation-free and O(1) (the extremum is amortized O(1): each value enters and
//! leaves its deque once). Rings have a power-of-two number of slots and are indexed by a
//! masked counter, so no wrap-around branch or integer division is on the update path.

/// The last `capacity` values pushed, oldest first.
///
/// Slots are indexed by push count masked to a power of two at least `capacity`, so the
/// value that falls out is still in its slot when the next one is written.
#[derive(Clone, Debug)]
pub struct Window {
    buf: Box<[f64]>,
    mask: usize,
    capacity: usize,
    pushed: usize,
}

impl Window {
    /// Becomes a copy of `other` without allocating (same capacity, as every copy of one
    /// indicator has); used to rewind an indicator when a candle is revised.
    pub fn copy_from(&mut self, other: &Self) {
        if self.buf.len() == other.buf.len() {
            self.buf.copy_from_slice(&other.buf);
        } else {
            self.buf = other.buf.clone();
        }
        self.mask = other.mask;
        self.capacity = other.capacity;
        self.pushed = other.pushed;
    }

    /// An empty window of `capacity` values (0 is treated as 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let slots = capacity.next_power_of_two();
        Self {
            buf: vec![0.0; slots].into_boxed_slice(),
            mask: slots - 1,
            capacity,
            pushed: 0,
        }
    }

    /// How many values it holds when full.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many values it holds now.
    #[inline]
    pub fn len(&self) -> usize {
        self.pushed.min(self.capacity)
    }

    /// True before the first push (and after `clear`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// True once `capacity` values were pushed.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pushed >= self.capacity
    }

    /// The value pushed `n`-th (0-based) since `new` or `clear`; valid while in the window.
    #[inline]
    fn nth(&self, n: usize) -> f64 {
        self.buf[n & self.mask]
    }

    /// Appends `x`; returns the value that fell out when the window was full.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let out = self
            .is_full()
            .then(|| self.nth(self.pushed - self.capacity));
        self.buf[self.pushed & self.mask] = x;
        self.pushed += 1;
        out
    }

    /// The oldest value held.
    #[inline]
    pub fn oldest(&self) -> Option<f64> {
        self.get(0)
    }

    /// The `i`-th value, oldest first.
    #[inline]
    pub fn get(&self, i: usize) -> Option<f64> {
        (i < self.len()).then(|| self.nth(self.pushed - self.len() + i))
    }

    /// The oldest value the window would hold after `push(x)`, without pushing.
    #[inline]
    pub fn oldest_after_push(&self, x: f64) -> f64 {
        let first = usize::from(self.is_full());
        self.get(first).unwrap_or(x)
    }

    /// The values, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + Clone + '_ {
        (self.pushed - self.len()..self.pushed).map(move |n| self.nth(n))
    }

    /// The values the window would hold after `push(x)`, oldest first, without pushing.
    pub fn iter_after_push(&self, x: f64) -> impl Iterator<Item = f64> + Clone + '_ {
        self.iter()
            .skip(usize::from(self.is_full()))
            .chain(std::iter::once(x))
    }

    /// Empties the window, keeping its storage.
    pub fn clear(&mut self) {
        self.pushed = 0;
    }
}

/// The rolling maximum (`MAX = true`) or minimum (`MAX = false`) of the last `period` values:
/// a monotonic deque of (sequence, value) in a fixed ring of at least `period` slots.
///
/// The deque holds the values that can still become the extremum: after a push every entry
/// is younger than `period` and strictly better than each entry behind it, so it never holds
/// more than `period` entries and its front is the answer. With NaN inputs the answer is
/// unspecified (but nothing panics).
#[derive(Clone, Debug)]
pub struct Extremum<const MAX: bool> {
    /// (sequence, value), at positions `head..tail` masked.
    deque: Box<[(usize, f64)]>,
    mask: usize,
    head: usize,
    tail: usize,
    next: usize,
    period: usize,
}

/// Rolling maximum of the last `period` values.
pub type RollingMax = Extremum<true>;
/// Rolling minimum of the last `period` values.
pub type RollingMin = Extremum<false>;

impl<const MAX: bool> Extremum<MAX> {
    /// Becomes a copy of `other` without allocating (see [`Window::copy_from`]).
    pub fn copy_from(&mut self, other: &Self) {
        if self.deque.len() == other.deque.len() {
            self.deque.copy_from_slice(&other.deque);
        } else {
            self.deque = other.deque.clone();
        }
        self.mask = other.mask;
        self.head = other.head;
        self.tail = other.tail;
        self.next = other.next;
        self.period = other.period;
    }

    /// Empty, over the last `period` values (0 is treated as 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        let slots = period.next_power_of_two();
        Self {
            deque: vec![(0, 0.0); slots].into_boxed_slice(),
            mask: slots - 1,
            head: 0,
            tail: 0,
            next: 0,
            period,
        }
    }

    /// True when `old` can never again be the extremum once `new` is in the window.
    #[inline]
    fn dominated(old: f64, new: f64) -> bool {
        if MAX {
            old <= new
        } else {
            old >= new
        }
    }

    #[inline]
    fn at(&self, i: usize) -> (usize, f64) {
        self.deque[i & self.mask]
    }

    /// True when the entry at deque position `i` leaves the window at the next push.
    #[inline]
    fn expires_next(&self, i: usize) -> bool {
        self.at(i).0 + self.period <= self.next
    }

    /// Adds `x`; returns the extremum of the last `period` values, `x` included.
    #[inline]
    pub fn push(&mut self, x: f64) -> f64 {
        // Sequences are consecutive, so at most the front expires.
        if self.head != self.tail && self.expires_next(self.head) {
            self.head += 1;
        }
        while self.head != self.tail && Self::dominated(self.at(self.tail - 1).1, x) {
            self.tail -= 1;
        }
        // At most `period - 1` entries survive expiry, so there is a free slot.
        self.deque[self.tail & self.mask] = (self.next, x);
        self.tail += 1;
        self.next += 1;
        self.at(self.head).1
    }

    /// What `push(x)` would return, without pushing.
    #[inline]
    pub fn peek_push(&self, x: f64) -> f64 {
        // Entries are strictly ordered, so the best survivor decides: it stays the front
        // unless `x` dominates it, and then `x` dominates everything behind it too.
        let mut first = self.head;
        if first != self.tail && self.expires_next(first) {
            first += 1;
        }
        if first != self.tail {
            let best = self.at(first).1;
            if !Self::dominated(best, x) {
                return best;
            }
        }
        x
    }

    /// The extremum of the last `period` values pushed, if any were.
    #[inline]
    pub fn current(&self) -> Option<f64> {
        (self.head != self.tail).then(|| self.at(self.head).1)
    }

    /// Forgets every value, keeping the storage.
    pub fn clear(&mut self) {
        self.head = 0;
        self.tail = 0;
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_last_n_in_order() {
        let mut w = Window::new(3);
        assert_eq!(w.push(1.0), None);
        assert_eq!(w.oldest_after_push(9.0), 1.0);
        assert_eq!(w.push(2.0), None);
        assert_eq!(w.push(3.0), None);
        assert!(w.is_full());
        assert_eq!(w.oldest_after_push(9.0), 2.0);
        assert_eq!(
            w.iter_after_push(9.0).collect::<Vec<_>>(),
            vec![2.0, 3.0, 9.0]
        );
        assert_eq!(w.push(4.0), Some(1.0));
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
        assert_eq!(w.get(2), Some(4.0));
        assert_eq!(w.get(3), None);
        w.clear();
        assert!(w.is_empty());
        assert_eq!(w.oldest_after_push(5.0), 5.0);
    }

    #[test]
    fn extremum_matches_a_scan() {
        // A deterministic jumpy series with ties.
        let xs: Vec<f64> = (0..500u64)
            .map(|i| ((i * 7919 + 13) % 23) as f64 - ((i / 50) % 3) as f64)
            .collect();
        for period in [1, 2, 3, 5, 14] {
            let mut hi = RollingMax::new(period);
            let mut lo = RollingMin::new(period);
            for (t, &x) in xs.iter().enumerate() {
                let w = &xs[t.saturating_sub(period - 1)..=t];
                let max = w.iter().cloned().fold(f64::MIN, f64::max);
                let min = w.iter().cloned().fold(f64::MAX, f64::min);
                assert_eq!(hi.peek_push(x), max, "peek max p={period} t={t}");
                assert_eq!(lo.peek_push(x), min, "peek min p={period} t={t}");
                assert_eq!(hi.push(x), max, "max p={period} t={t}");
                assert_eq!(lo.push(x), min, "min p={period} t={t}");
            }
        }
    }

    #[test]
    fn extremum_survives_nan_and_inf() {
        let mut hi = RollingMax::new(3);
        for x in [
            1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NAN,
            -1.0,
            f64::NEG_INFINITY,
            2.0,
        ] {
            hi.push(x);
            let _ = hi.peek_push(f64::NAN);
        }
        assert_eq!(hi.push(5.0), 5.0);
    }
}
