//! Strategies: the [`api::Strategy`] trait user code implements, the four built-ins
//! (momentum, reversal, breakout, pattern), multi-timeframe scoring, noise suppression and
//! position sizing, and the [`host::StrategyHost`] that runs them on closed candles and turns
//! their signals into scored, filtered, sized order intents. The pipeline's signals stage is
//! the host, driven by [`crate::trader::Trader`].

pub mod api;
pub mod breakout;
pub mod builtin;
pub mod config;
pub mod cross;
pub mod host;
pub mod momentum;
pub mod noise;
pub mod pattern;
pub mod reversal;
pub mod scoring;
pub mod sizing;
