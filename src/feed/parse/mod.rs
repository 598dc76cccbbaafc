//! Venue message parsers: bytes in, fixed-size events out, zero-copy and allocation-free.
//!
//! Every venue parser has the same shape:
//!
//! ```text
//! fn parse(&mut self, buf: &[u8], resolve: &mut impl SymbolResolver, out: &mut impl FnMut(Event))
//!     -> Result<MsgKind, ParseError>
//! ```
//!
//! One message may carry many events (a Kraken trade array, an OKX `books` update with dozens of
//! levels), so events go to a callback as they are decoded; the return value says what the
//! message was as a whole. A message that fails part-way may already have emitted events: the
//! caller buffers them and forwards them only on `Ok` (see `ParseStage`), so a corrupted
//! message is refused whole.
//!
//! Parsers never panic, never allocate, and treat every field as hostile: a missing field, a
//! wrong type, a negative price or an overflowing timestamp is a [`ParseError`], never a default.
//! Messages that are valid but carry no market data we use (subscription replies, heartbeats,
//! status events, other instruments) are `Ok(MsgKind::Skipped(kind))`, never errors.

pub mod binance;
pub mod binance_csv;
pub mod bitfinex;
pub mod bitstamp;
pub mod book;
pub mod bybit;
pub mod coinbase;
pub mod json;
pub mod kraken;
pub mod okx;

use crate::core::{BookTicker, InstrumentId, Price, Qty, Side, Trade};
pub use json::JsonError;

/// The venues with a parser. Binance covers spot, USD-M and COIN-M futures (and Binance US);
/// Kraken covers WebSocket v1 and v2; Bybit covers the legacy v2 and the v5 public streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Binance spot / USD-M / COIN-M.
    Binance,
    /// Coinbase (legacy Pro feed and Advanced Trade).
    Coinbase,
    /// Kraken spot WebSocket v1 and v2.
    Kraken,
    /// Bybit v2 and v5 public.
    Bybit,
    /// OKX v5 public.
    Okx,
    /// Bitstamp v2.
    Bitstamp,
    /// Bitfinex v2.
    Bitfinex,
}

impl Venue {
    /// Every venue.
    pub const ALL: [Venue; 7] = [
        Venue::Binance,
        Venue::Coinbase,
        Venue::Kraken,
        Venue::Bybit,
        Venue::Okx,
        Venue::Bitstamp,
        Venue::Bitfinex,
    ];

    /// Name as used in config (`venue = "binance"`) and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Coinbase => "coinbase",
            Venue::Kraken => "kraken",
            Venue::Bybit => "bybit",
            Venue::Okx => "okx",
            Venue::Bitstamp => "bitstamp",
            Venue::Bitfinex => "bitfinex",
        }
    }

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Guesses the venue of a capture from its file name (`cryptofeed_KRAKEN...`,
    /// `hftbacktest_spot_...` is Binance). `None` when nothing matches.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let table: [(&str, Venue); 10] = [
            ("binance", Venue::Binance),
            ("hftbacktest", Venue::Binance),
            ("coinbase", Venue::Coinbase),
            ("kraken", Venue::Kraken),
            ("bybit", Venue::Bybit),
            ("okex", Venue::Okx),
            ("okx", Venue::Okx),
            ("bitstamp", Venue::Bitstamp),
            ("bitfinex", Venue::Bitfinex),
            ("tickwire", Venue::Binance),
        ];
        table
            .into_iter()
            .find(|(k, _)| lower.contains(k))
            .map(|(_, v)| v)
    }
}

/// Message kinds recognised but carrying nothing the pipeline uses. Dense, fixed names: they
/// key `summary.json`'s `messages.skipped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    /// Subscription replies, acknowledgements, info and config events.
    Response,
    /// Venue heartbeats and pongs sent as data frames.
    Heartbeat,
    /// System / connection status events.
    Status,
    /// A symbol outside this lane or not in the instrument table.
    OtherInstrument,
    /// Historical data replayed on subscribe (a trade snapshot), already seen or too old to act on.
    History,
    /// A known message type this parser deliberately does not decode (24h tickers, liquidations,
    /// a book format without prices, a depth update with no book to apply it to).
    Unsupported,
    /// Valid JSON of a type the parser does not know: also counted as an `unknown_type` anomaly.
    Unknown,
    /// A valid message with a price or size the fixed 10⁻⁸ scale cannot hold exactly.
    Unrepresentable,
}

impl SkipKind {
    /// Every kind, for report tables.
    pub const ALL: [SkipKind; 8] = [
        SkipKind::Response,
        SkipKind::Heartbeat,
        SkipKind::Status,
        SkipKind::OtherInstrument,
        SkipKind::History,
        SkipKind::Unsupported,
        SkipKind::Unknown,
        SkipKind::Unrepresentable,
    ];

    /// Name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            SkipKind::Response => "response",
            SkipKind::Heartbeat => "heartbeat",
            SkipKind::Status => "status",
            SkipKind::OtherInstrument => "other_instrument",
            SkipKind::History => "history",
            SkipKind::Unsupported => "unsupported",
            SkipKind::Unknown => "unknown",
            SkipKind::Unrepresentable => "unrepresentable",
        }
    }

    /// Dense index.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What one message was, as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// One or more trades ([`Event::Trade`]).
    Trades,
    /// Best bid/ask or ticker ([`Event::Quote`]).
    Quote,
    /// An order-book diff ([`Event::BookBegin`] with `snapshot: false`, levels, [`Event::BookEnd`]).
    Depth,
    /// A full order-book snapshot (`snapshot: true`).
    Snapshot,
    /// A venue candle ([`Event::Kline`]).
    Kline,
    /// Recognised; nothing used.
    Skipped(SkipKind),
}

impl MsgKind {
    /// Every non-skipped kind and its report name.
    pub const DATA: [(MsgKind, &'static str); 5] = [
        (MsgKind::Trades, "trades"),
        (MsgKind::Quote, "quotes"),
        (MsgKind::Depth, "depth"),
        (MsgKind::Snapshot, "snapshots"),
        (MsgKind::Kline, "klines"),
    ];
}

/// The market time of the first dated event `parser` reads from `line` (a trade's time, a
/// kline's open, a quote's or a book update's event time), if any.
pub fn event_time(parser: &mut VenueParser, line: &[u8]) -> Option<u64> {
    let mut t = None;
    let _ = parser.parse_checked(
        line,
        &mut |_: &[u8]| Some(crate::core::InstrumentId(0)),
        &mut |e| {
            let at = match e {
                Event::Trade(x) => x.trade_ns,
                Event::Kline(k) => k.open_ns,
                Event::Quote(q) => q.event_ns,
                Event::BookBegin(b) => b.event_ns,
                _ => 0,
            };
            if at > 0 && t.is_none() {
                t = Some(at);
            }
        },
    );
    t
}

/// A venue candle (Binance `kline`, OKX `candle`, Bybit `kline`): kept for cross-checking our
/// own candles, not traded on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kline {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Interval length in seconds (60 for `1m`).
    pub interval_s: u32,
    /// Open time (ns since epoch).
    pub open_ns: u64,
    /// Open.
    pub open: Price,
    /// High.
    pub high: Price,
    /// Low.
    pub low: Price,
    /// Close.
    pub close: Price,
    /// Base volume.
    pub volume: Qty,
    /// Trade count, 0 when the venue does not say.
    pub trades: u64,
    /// True once the venue marks the candle final.
    pub closed: bool,
    /// Venue event time (ns since epoch).
    pub event_ns: u64,
}

/// One decoded item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A public trade.
    Trade(Trade),
    /// Best bid / ask.
    Quote(BookTicker),
    /// A venue candle.
    Kline(Kline),
    /// Start of an order-book update; the [`Event::Level`]s that follow belong to it, until
    /// [`Event::BookEnd`].
    BookBegin(BookUpdate),
    /// One price level: `qty` is the new total at `price` (zero removes the level).
    Level {
        /// Bid or ask side.
        side: Side,
        /// Level price.
        price: Price,
        /// New quantity at the level; zero deletes it.
        qty: Qty,
    },
    /// End of the update opened by the last [`Event::BookBegin`].
    BookEnd,
}

/// Header of an order-book update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookUpdate {
    /// The instrument; `None` for a snapshot that does not name one (Binance's REST `/depth`
    /// response embedded in a capture), which applies to the feed's only book.
    pub instrument: Option<InstrumentId>,
    /// A full snapshot: the book is cleared first.
    pub snapshot: bool,
    /// First update id covered (Binance `U`); equal to `last_id` when the venue has one id.
    pub first_id: u64,
    /// Last update id covered (Binance `u`, OKX `seqId`, Bybit `u`); 0 when the venue has none.
    pub last_id: u64,
    /// The previous update's last id, when the venue sends it (Binance futures `pu`, OKX
    /// `prevSeqId`): continuity is then `prev_id == previous last_id`.
    pub prev_id: Option<u64>,
    /// Venue event time (ns since epoch), 0 when none.
    pub event_ns: u64,
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid JSON.
    Json(JsonError),
    /// A field the message type needs is missing.
    Missing(&'static str),
    /// A field has the wrong type or an unparseable value.
    Invalid(&'static str),
    /// Valid JSON that no message of this venue looks like.
    Unrecognised,
    /// A well-formed number the engine's fixed 10⁻⁸ scale cannot hold exactly (an instrument
    /// priced in 10⁻¹¹, or out of range). The message is valid; it is skipped and counted as
    /// `unrepresentable`, never rounded.
    Unrepresentable(&'static str),
}

impl From<JsonError> for ParseError {
    fn from(e: JsonError) -> Self {
        ParseError::Json(e)
    }
}

impl ParseError {
    /// Short reason and field for the journal.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            ParseError::Json(_) => ("invalid JSON", ""),
            ParseError::Missing(f) => ("missing field", f),
            ParseError::Invalid(f) => ("invalid field", f),
            ParseError::Unrecognised => ("unrecognised message", ""),
            ParseError::Unrepresentable(f) => ("beyond the 1e-8 scale", f),
        }
    }
}

/// Resolves a venue symbol to an instrument id: `None` means "not ours" (skipped, not an error).
pub trait SymbolResolver {
    /// Looks up (or registers) the symbol.
    fn resolve(&mut self, symbol: &[u8]) -> Option<InstrumentId>;
}

impl<F: FnMut(&[u8]) -> Option<InstrumentId>> SymbolResolver for F {
    fn resolve(&mut self, symbol: &[u8]) -> Option<InstrumentId> {
        self(symbol)
    }
}

/// A non-negative exact decimal from a JSON string or number (`"61837.63"`, `58721.2`,
/// `1.5e-7`). Binary floats are never involved: the text is scaled digit by digit.
pub fn decimal(text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    let v = match crate::core::num::parse_scaled_text(text) {
        Some(v) => v,
        None => match refused(text, field) {
            ParseError::Unrepresentable(_) if lenient() => 1,
            e => return Err(e),
        },
    };
    if v < 0 {
        return Err(ParseError::Invalid(field));
    }
    Ok(v)
}

/// Like [`decimal`] but keeps the sign (Bitfinex amounts: negative = sell).
pub fn signed_decimal(text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    match crate::core::num::parse_scaled_text(text) {
        Some(v) => Ok(v),
        None => match refused(text, field) {
            ParseError::Unrepresentable(_) if lenient() => Ok(1),
            e => Err(e),
        },
    }
}

thread_local! {
    /// While set, [`decimal`] reads an unrepresentable number as the smallest positive value
    /// instead of failing, so a second pass can check the rest of the message.
    static LENIENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with unrepresentable numbers accepted: the parse stage uses it to tell a valid
/// message carrying a number beyond 10⁻⁸ (skipped as unrepresentable) from a message that is
/// broken somewhere else too (malformed). Cold path: only after an `Unrepresentable` error.
pub fn with_unrepresentable_accepted<T>(f: impl FnOnce() -> T) -> T {
    LENIENT.with(|l| l.set(true));
    let r = f();
    LENIENT.with(|l| l.set(false));
    r
}

fn lenient() -> bool {
    LENIENT.with(|l| l.get())
}

/// Why decimal text was refused: a well-formed number that does not fit 10⁻⁸ is
/// `Unrepresentable`, anything else `Invalid`.
fn refused(text: &[u8], field: &'static str) -> ParseError {
    let mut digits = 0usize;
    let mut dots = 0usize;
    let mut exps = 0usize;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            b'e' | b'E' => exps += 1,
            b'-' | b'+' if i == 0 || matches!(text.get(i - 1), Some(b'e' | b'E')) => {}
            _ => return ParseError::Invalid(field),
        }
    }
    if digits > 0 && dots <= 1 && exps <= 1 {
        ParseError::Unrepresentable(field)
    } else {
        ParseError::Invalid(field)
    }
}

/// A field the message type needs: missing is an error naming it.
pub fn req<'a>(
    v: Option<json::Value<'a>>,
    name: &'static str,
) -> Result<json::Value<'a>, ParseError> {
    v.ok_or(ParseError::Missing(name))
}

/// A required non-negative integer field (number, or string of digits).
pub fn int(v: Option<json::Value<'_>>, name: &'static str) -> Result<u64, ParseError> {
    req(v, name)?.as_u64().ok_or(ParseError::Invalid(name))
}

/// Milliseconds → nanoseconds, refusing overflow.
pub fn ms_to_ns(ms: u64, field: &'static str) -> Result<u64, ParseError> {
    ms.checked_mul(1_000_000).ok_or(ParseError::Invalid(field))
}

/// An RFC 3339 UTC timestamp (`2021-04-17T16:43:37.123456Z`, any number of fraction digits up
/// to 9, `Z` or `+00:00`) → ns since epoch. Coinbase sends these.
pub fn rfc3339_ns(text: &[u8], field: &'static str) -> Result<u64, ParseError> {
    crate::core::clock::parse_rfc3339_ns(text).ok_or(ParseError::Invalid(field))
}

/// Decimal seconds (`"1617641222.123456"`, Kraken v1) → ns since epoch, exactly.
pub fn seconds_text_ns(text: &[u8], field: &'static str) -> Result<u64, ParseError> {
    // Seconds scaled by 1e9 = nanoseconds; parse_scaled_text scales by 1e8, so scale by 10 more.
    let v = crate::core::num::parse_scaled_text(text).ok_or(ParseError::Invalid(field))?;
    let ns = u64::try_from(v)
        .ok()
        .and_then(|v| v.checked_mul(10))
        .ok_or(ParseError::Invalid(field))?;
    Ok(ns)
}

/// Any venue parser, dispatched by a match (no vtable on the hot path).
// One per feed: Bitfinex's channel table (a few KiB) is kept inline so that no parser ever
// touches the heap, which makes that variant much larger than the stateless ones.
#[allow(clippy::large_enum_variant)]
pub enum VenueParser {
    /// Binance.
    Binance(binance::Parser),
    /// Coinbase.
    Coinbase(coinbase::Parser),
    /// Kraken.
    Kraken(kraken::Parser),
    /// Bybit.
    Bybit(bybit::Parser),
    /// OKX.
    Okx(okx::Parser),
    /// Bitstamp.
    Bitstamp(bitstamp::Parser),
    /// Bitfinex.
    Bitfinex(bitfinex::Parser),
    /// Binance public-data CSV rows of one file.
    BinanceCsv(binance_csv::Parser),
}

impl VenueParser {
    /// A fresh parser for `venue`.
    // `::default()` on purpose: a parser may gain per-connection state without this changing.
    #[allow(clippy::default_constructed_unit_structs)]
    pub fn new(venue: Venue) -> Self {
        match venue {
            Venue::Binance => VenueParser::Binance(binance::Parser::default()),
            Venue::Coinbase => VenueParser::Coinbase(coinbase::Parser::default()),
            Venue::Kraken => VenueParser::Kraken(kraken::Parser::default()),
            Venue::Bybit => VenueParser::Bybit(bybit::Parser::default()),
            Venue::Okx => VenueParser::Okx(okx::Parser::default()),
            Venue::Bitstamp => VenueParser::Bitstamp(bitstamp::Parser::default()),
            Venue::Bitfinex => VenueParser::Bitfinex(bitfinex::Parser::default()),
        }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        match self {
            VenueParser::Binance(_) => Venue::Binance,
            VenueParser::Coinbase(_) => Venue::Coinbase,
            VenueParser::Kraken(_) => Venue::Kraken,
            VenueParser::Bybit(_) => Venue::Bybit,
            VenueParser::Okx(_) => Venue::Okx,
            VenueParser::Bitstamp(_) => Venue::Bitstamp,
            VenueParser::Bitfinex(_) => Venue::Bitfinex,
            VenueParser::BinanceCsv(_) => Venue::Binance,
        }
    }

    /// Parses one message; see the module docs.
    #[inline]
    pub fn parse(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        match self {
            VenueParser::Binance(p) => p.parse(buf, resolve, out),
            VenueParser::Coinbase(p) => p.parse(buf, resolve, out),
            VenueParser::Kraken(p) => p.parse(buf, resolve, out),
            VenueParser::Bybit(p) => p.parse(buf, resolve, out),
            VenueParser::Okx(p) => p.parse(buf, resolve, out),
            VenueParser::Bitstamp(p) => p.parse(buf, resolve, out),
            VenueParser::Bitfinex(p) => p.parse(buf, resolve, out),
            VenueParser::BinanceCsv(p) => p.parse(buf, resolve, out),
        }
    }

    /// [`parse`](Self::parse), with `Unrepresentable` reserved for messages that are valid
    /// apart from a number beyond 10⁻⁸: parsers stop at their first problem, so on that error
    /// the message is parsed again accepting such numbers, and any other fault found then
    /// makes it an ordinary error (malformed). The second pass only runs on that rare error.
    #[inline]
    pub fn parse_checked(
        &mut self,
        buf: &[u8],
        resolve: &mut impl SymbolResolver,
        out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        match self.parse(buf, resolve, out) {
            Err(ParseError::Unrepresentable(f)) => {
                match with_unrepresentable_accepted(|| self.parse(buf, resolve, &mut |_| {})) {
                    Ok(_) => Err(ParseError::Unrepresentable(f)),
                    Err(ParseError::Unrepresentable(_)) => Err(ParseError::Invalid(f)),
                    Err(e) => Err(e),
                }
            }
            r => r,
        }
    }

    /// Forgets per-connection state (Bitfinex channel ids): call on reconnect.
    pub fn reset(&mut self) {
        if !matches!(self, VenueParser::BinanceCsv(_)) {
            *self = VenueParser::new(self.venue());
        }
    }
}
