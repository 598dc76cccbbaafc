//! The one interface between stages.
//!
//! Every stage has the shape `on_event(&mut self, input, out: &mut impl Sink<Out>)`. In a fused
//! thread the sink is the next stage's call; across threads it is a ring producer; in a test it
//! is a `Vec`. Stages never see which.

/// Where a stage puts what it produces. `emit` must not allocate on a hot thread.
pub trait Sink<T> {
    /// Hands one value downstream.
    fn emit(&mut self, value: T);
}

impl<T> Sink<T> for Vec<T> {
    fn emit(&mut self, value: T) {
        self.push(value);
    }
}
