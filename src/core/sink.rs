//! The one interface between stages.
//!
//! Every stage has the shape `on_event(&mut self, input, out: &mut impl Sink<Out>)`. In a fused
//! thread the sink is the next stage's call; across threads it is a ring producer; in a test it
//! is a `Vec`. Stages never see which.

use std::collections::VecDeque;

/// Where a stage puts what it produces. `emit` must not allocate on a hot thread.
pub trait Sink<T> {
    /// Hands one value downstream.
    fn emit(&mut self, value: T);

    /// Hands the stage's own input downstream unchanged. A stage calls it only with the
    /// value it was handed, so a sink that can see that value itself (a fused thread's)
    /// passes it on in place instead of copying it; any other sink gets a copy.
    #[inline]
    fn forward(&mut self, input: &T)
    where
        T: Copy,
    {
        self.emit(*input);
    }
}

impl<T> Sink<T> for Vec<T> {
    fn emit(&mut self, value: T) {
        self.push(value);
    }
}

/// A FIFO of fixed capacity, allocated once: emitting into a full one refuses the value and
/// counts it instead of growing.
pub struct Fifo<T> {
    items: VecDeque<T>,
    cap: usize,
    /// Values refused because it was full.
    pub overflows: u64,
}

impl<T> Fifo<T> {
    /// Room for `cap` values, allocated now.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(cap.max(1)),
            cap: cap.max(1),
            overflows: 0,
        }
    }
    /// The oldest value.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }
    /// Values held.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Writes every slot of the reserved room once with `fill` and empties it again, so no
    /// page of it is first touched later: a queue goes round its whole buffer, and one that
    /// goes round once in hours (an order outbox) would otherwise grow the resident size for
    /// hours (seen in the soak). For long runs; call it while the queue is empty.
    pub fn prefault(&mut self, fill: T)
    where
        T: Clone,
    {
        if self.items.is_empty() {
            // Exactly the capacity: within the reserved room, so nothing reallocates.
            self.items.resize(self.items.capacity(), fill);
            self.items.clear();
        }
    }
}

impl<T> Sink<T> for Fifo<T> {
    #[inline]
    fn emit(&mut self, value: T) {
        if self.items.len() < self.cap {
            self.items.push_back(value);
        } else {
            self.overflows += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefaulted_fifo_is_empty_keeps_its_room_and_works() {
        let mut f: Fifo<u64> = Fifo::with_capacity(100);
        let (cap, ptr) = (f.items.capacity(), f.items.as_slices().0.as_ptr());
        f.prefault(7);
        assert!(f.is_empty());
        assert_eq!(f.items.capacity(), cap, "prefault must not grow the buffer");
        assert_eq!(f.items.as_slices().0.as_ptr(), ptr, "nor move it");
        for v in 0..150u64 {
            f.emit(v);
        }
        assert_eq!((f.len(), f.overflows), (100, 50));
        assert_eq!(f.pop(), Some(0));
        // Prefaulting a queue in use would lose what it holds: it does nothing then.
        f.prefault(0);
        assert_eq!(f.len(), 99);
    }
}
