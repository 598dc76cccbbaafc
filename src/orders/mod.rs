//! Orders: the lifecycle of every order from an accepted intent to its last report
//! ([`blotter::Blotter`]): client ids, a checked state machine, timeouts, fallbacks and
//! retries, and one journal record per transition.

pub mod blotter;
