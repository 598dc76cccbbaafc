//! Risk: the engine consulted before every order ([`engine::RiskEngine`]): pre-trade limits,
//! the account as fills make it, the kill switch and per-position stops.

pub mod engine;
