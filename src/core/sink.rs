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
