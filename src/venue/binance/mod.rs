//! Binance spot, live: signed REST requests, the venue's filters and rate limits applied
//! locally, keys kept out of every output.
//!
//! - [`sign`]: HMAC-SHA256 and Ed25519 request signatures.
//! - [`keys`]: API keys from the environment or an owner-only key file.
//! - [`filters`]: `exchangeInfo`: tick, lot and notional filters; rate limits.
//! - [`rate`]: request weight and order counts, tracked and enforced before the venue would.
//! - [`http`]: a small blocking HTTP/1.1 client (TLS or plain).
//! - [`rest`]: the signed, timed, rate-limited REST client.
//! - [`user`]: the user data stream's events mapped onto order reports.

pub mod filters;
pub mod http;
pub mod keys;
pub mod rate;
pub mod rest;
pub mod sign;
pub mod user;
