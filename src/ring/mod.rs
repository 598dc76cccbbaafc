//! Rings: the preallocated single-producer single-consumer queue that joins hot threads, and
//! the wait strategies threads use when it is empty or full.
//!
//! This module (with the counting allocator) is the only place `unsafe` is allowed. Every
//! block carries a `// SAFETY:` comment and a `debug_assert!` of its precondition; the ring is
//! model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test --release --test ring_loom`).

#![allow(unsafe_code)]

mod spsc;
mod sync;
mod wait;

pub use spsc::Probe;
pub use spsc::{channel, channel_prefaulted, Consumer, Producer, RingError};
pub use wait::{WaitStrategy, Waiter};
