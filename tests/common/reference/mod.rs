//! Independent reference decoders for the differential tests: each venue's messages decoded
//! again with simd-json's DOM (a different JSON parser from tickwire's walker, and field logic
//! written separately), normalised to [`Ref`] so they can be compared with what tickwire's
//! parsers emit. Decimals go through `parse_scaled_text`, which has its own property tests.
#![allow(dead_code)]

pub mod binance;
pub mod bitfinex;
pub mod bitstamp;
pub mod bybit;
pub mod coinbase;
pub mod dom;
pub mod kraken;
pub mod okx;
pub mod simd;

use tickwire::feed::parse::Venue;

/// One normalised item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// A trade. `sell` = the aggressor sold (`Trade::buyer_is_maker`).
    Trade {
        symbol: String,
        id: u64,
        price: i64,
        qty: i64,
        time_ns: u64,
        sell: bool,
    },
    /// Best bid / ask.
    Quote {
        symbol: String,
        bid: i64,
        bid_qty: i64,
        ask: i64,
        ask_qty: i64,
    },
    /// An order-book message: snapshot or diff, with its levels as (is_bid, price, qty).
    Book {
        symbol: Option<String>,
        snapshot: bool,
        levels: Vec<(bool, i64, i64)>,
    },
    /// A venue candle.
    Kline {
        symbol: String,
        open_ns: u64,
        close: i64,
    },
}

/// A reference decoder. `Err` = the message is invalid or not recognised (tickwire must refuse
/// it too); `Ok(vec![])` = a valid message carrying no data (skipped).
pub trait Reference {
    fn decode(&mut self, line: &[u8]) -> Result<Vec<Ref>, String>;
}

/// The reference decoder for `venue`.
// `::default()` on purpose: a decoder may gain state without this changing.
#[allow(clippy::default_constructed_unit_structs)]
pub fn for_venue(venue: Venue) -> Box<dyn Reference> {
    match venue {
        Venue::Binance => Box::new(binance::Decoder::default()),
        Venue::Coinbase => Box::new(coinbase::Decoder::default()),
        Venue::Kraken => Box::new(kraken::Decoder::default()),
        Venue::Bybit => Box::new(bybit::Decoder::default()),
        Venue::Okx => Box::new(okx::Decoder::default()),
        Venue::Bitstamp => Box::new(bitstamp::Decoder::default()),
        Venue::Bitfinex => Box::new(bitfinex::Decoder::default()),
    }
}

/// Scaled decimal from text, for the decoders.
pub fn scaled(text: &str) -> Result<i64, String> {
    tickwire::core::num::parse_scaled_text(text.as_bytes())
        .ok_or_else(|| format!("bad decimal {text}"))
}

/// Runs tickwire's parser for `venue` over one line and normalises what it emitted to [`Ref`]s,
/// with symbols resolved through `names` (every symbol is accepted and registered). Depth
/// updates become one `Ref::Book` each, quotes and trades one `Ref` each.
pub struct Ours {
    parser: tickwire::feed::parse::VenueParser,
    pub names: Vec<String>,
}

impl Ours {
    pub fn new(venue: Venue) -> Self {
        Self {
            parser: tickwire::feed::parse::VenueParser::new(venue),
            names: Vec::new(),
        }
    }

    /// `Err` when tickwire refused the message; otherwise the message kind and its items.
    pub fn decode(
        &mut self,
        line: &[u8],
    ) -> Result<(tickwire::feed::parse::MsgKind, Vec<Ref>), tickwire::feed::parse::ParseError> {
        use tickwire::core::{InstrumentId, Side};
        use tickwire::feed::parse::Event;
        let names = &mut self.names;
        let mut resolve = |s: &[u8]| {
            let s = String::from_utf8_lossy(s).into_owned();
            let i = match names.iter().position(|n| *n == s) {
                Some(i) => i,
                None => {
                    names.push(s);
                    names.len() - 1
                }
            };
            Some(InstrumentId(i as u16))
        };
        let mut events = Vec::new();
        let kind = self
            .parser
            .parse_checked(line, &mut resolve, &mut |e| events.push(e))?;
        let name = |id: InstrumentId| self.names[id.index()].clone();
        let mut out = Vec::new();
        for e in events {
            match e {
                Event::Trade(t) => out.push(Ref::Trade {
                    symbol: name(t.instrument),
                    id: t.trade_id,
                    price: t.price.0,
                    qty: t.qty.0,
                    time_ns: t.trade_ns,
                    sell: t.buyer_is_maker,
                }),
                Event::Quote(q) => out.push(Ref::Quote {
                    symbol: name(q.instrument),
                    bid: q.bid_px.0,
                    bid_qty: q.bid_qty.0,
                    ask: q.ask_px.0,
                    ask_qty: q.ask_qty.0,
                }),
                Event::Kline(k) => out.push(Ref::Kline {
                    symbol: name(k.instrument),
                    open_ns: k.open_ns,
                    close: k.close.0,
                }),
                Event::BookBegin(b) => out.push(Ref::Book {
                    symbol: b.instrument.map(name),
                    snapshot: b.snapshot,
                    levels: Vec::new(),
                }),
                Event::Level { side, price, qty } => {
                    if let Some(Ref::Book { levels, .. }) = out.last_mut() {
                        levels.push((side == Side::Buy, price.0, qty.0));
                    } else {
                        panic!("level outside a book update");
                    }
                }
                Event::BookEnd => {}
            }
        }
        Ok((kind, out))
    }
}
