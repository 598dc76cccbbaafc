//! Core types every stage shares: exact numbers, time, instruments, events, config and the
//! counting allocator. Nothing here knows about threads or other stages.

pub mod alloc;
pub mod clock;
pub mod cold;
pub mod config;
pub mod event;
pub mod health;
pub mod instrument;
pub mod num;
pub mod order;
pub mod sink;
pub mod stats;

pub use event::*;
pub use instrument::{Instrument, InstrumentId, InstrumentTable, Symbol};
pub use num::{Price, Qty};
pub use sink::Sink;
