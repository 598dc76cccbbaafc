//! Venue message parsers: bytes in, fixed-size events out, zero-copy and allocation-free.

pub mod binance;
pub mod json;
