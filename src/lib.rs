//! # tickwire
//!
//! A featherweight, low-latency crypto trading engine. Market messages travel from the wire to
//! an order through pinned OS threads joined by preallocated single-producer rings, with no
//! allocation, no lock and no blocking call on the way; a cold thread does the writing.
//!
//! ```text
//!  source ─► parse ─► arbiter ─► candles ─► indicators ─► signals ─► risk+orders ─► venue
//!  (synthetic │ replay)                                                  ▲            │
//!                                                                       └── fills ◄──┘
//!  every stage ──► its cold ring (try_push; drops counted) ──► cold thread: journal, CSVs,
//!                                                             metrics, log, status, reports
//! ```
//!
//! Modules are listed in pipeline order. A stage depends on [`core`] and [`ring`] only; only
//! [`runtime`] knows the topology. `unsafe` lives in [`ring`] and in the counting allocator.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod core;
pub mod ring;

pub mod feed;

pub mod arbiter;
pub mod candles;
pub mod indicators;
pub mod patterns;
pub mod strategy;

pub mod orders;
pub mod risk;
pub mod trader;
pub mod venue;

pub mod cold;
pub mod ops;
pub mod runtime;

pub mod backtest;
pub mod plot;

pub mod bench;
pub mod catalog;
pub mod doctor;
pub mod tools;

/// The process-wide allocator: mimalloc, counted per thread (see [`core::alloc`]).
#[global_allocator]
static GLOBAL: core::alloc::CountingAlloc<mimalloc::MiMalloc> =
    core::alloc::CountingAlloc(mimalloc::MiMalloc);
