//! The fixed-size, `Copy` values that travel the hot path.
//!
//! Every ring carries [`Envelope`]s: a payload plus the stamps that latency and determinism
//! need. No variant owns heap memory, so a ring slot is written in place and never allocates.

use super::instrument::InstrumentId;
use super::num::{Price, Qty};

/// Order or aggressor side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy / bid.
    Buy,
    /// Sell / ask.
    Sell,
}

impl Side {
    /// `"buy"` or `"sell"`, as written in CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
    /// +1 for buy, −1 for sell.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// One public trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Venue trade id (strictly increasing per instrument on Binance).
    pub trade_id: u64,
    /// Trade price.
    pub price: Price,
    /// Trade quantity.
    pub qty: Qty,
    /// Trade time at the venue (ns since epoch).
    pub trade_ns: u64,
    /// Event (message) time at the venue (ns since epoch).
    pub event_ns: u64,
    /// True when the buyer was the maker, i.e. the aggressor sold.
    pub buyer_is_maker: bool,
    /// Which configured source (feed line) delivered it; set by the parse stage.
    pub source: u8,
    /// `Trade::AGGREGATED` for a Binance `aggTrade` (ids are aggregate ids, a separate
    /// sequence from raw trade ids).
    pub flags: u8,
    /// Anomalies the arbiter flagged on this trade: bit `AnomalyKind::index()` (a spike, a
    /// gap before it, a late gap fill, …); 0 from the parsers. Candles carry them on.
    pub anomalies: u16,
}

impl Trade {
    /// An aggregate trade (Binance `aggTrade`): one taker order's fills at one price.
    pub const AGGREGATED: u8 = 1;
    /// Delivered by a backup venue while the instrument was failed over (its ids are the
    /// backup's, not the primary's sequence).
    pub const FROM_BACKUP: u8 = 4;
    /// Bar mode: the last trade of a bar played as trades; the candle closes on it (see
    /// [`crate::feed::BarFill::Close`]).
    pub const BAR_CLOSE: u8 = 8;
    /// Bar mode: one of the four trades a bar is played as (its prices are the bar's, not
    /// prints; the arbiter's spike check, a print-to-print test, skips them).
    pub const FROM_BAR: u8 = 16;
    /// The id identifies the trade but says nothing about order (a Bybit UUID folded to 64
    /// bits): duplicates are found by set membership, gaps cannot be seen.
    pub const UNORDERED_ID: u8 = 2;

    /// The aggressor's side.
    pub fn aggressor(&self) -> Side {
        if self.buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        }
    }
}

/// Best bid and ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookTicker {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Order book update id (`u`).
    pub update_id: u64,
    /// Best bid price.
    pub bid_px: Price,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask_px: Price,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
    /// Venue event time (ns since epoch), 0 when the venue sends none (Binance spot).
    pub event_ns: u64,
    /// Which configured source (feed line) delivered it; set by the parse stage.
    pub source: u8,
}

/// Candle resolutions, UTC-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    /// 1 second.
    S1,
    /// 1 minute.
    M1,
    /// 5 minutes.
    M5,
    /// 1 hour.
    H1,
    /// 1 day.
    D1,
}

impl Resolution {
    /// Every resolution, finest first.
    pub const ALL: [Resolution; 5] = [
        Resolution::S1,
        Resolution::M1,
        Resolution::M5,
        Resolution::H1,
        Resolution::D1,
    ];

    /// Length in nanoseconds.
    pub const fn nanos(self) -> u64 {
        const S: u64 = 1_000_000_000;
        match self {
            Resolution::S1 => S,
            Resolution::M1 => 60 * S,
            Resolution::M5 => 300 * S,
            Resolution::H1 => 3_600 * S,
            Resolution::D1 => 86_400 * S,
        }
    }

    /// Label as used in config and reports (`1s`, `1m`, `5m`, `1h`, `1d`).
    pub const fn label(self) -> &'static str {
        match self {
            Resolution::S1 => "1s",
            Resolution::M1 => "1m",
            Resolution::M5 => "5m",
            Resolution::H1 => "1h",
            Resolution::D1 => "1d",
        }
    }

    /// Parses a label.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.label() == s)
    }

    /// Dense index 0..5 for per-resolution arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A closed OHLCV candle with its integrity data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Resolution.
    pub resolution: Resolution,
    /// Bucket start (ns since epoch, UTC-aligned).
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
    /// Quote volume (Σ price × qty, summed exactly, rounded half away from zero to 10⁻⁸).
    pub quote_volume: i64,
    /// Trades aggregated.
    pub trades: u32,
    /// Sources whose trades it holds: bit `source` (sources 31 and up share bit 31).
    pub sources: u32,
    /// Base volume bought by takers (the aggressor was the buyer).
    pub taker_buy_volume: Qty,
    /// Anomalies the arbiter flagged on its trades: bit `AnomalyKind::index()`.
    pub anomalies: u16,
    /// 0 when first closed; each late trade applied afterwards emits it again, one higher.
    pub revision: u16,
    /// Integrity flags: [`Candle::FLAG_ID_GAP`], [`Candle::FLAG_LATE`],
    /// [`Candle::FLAG_FILLED`], [`Candle::FLAG_AFTER_GAP`], [`Candle::FLAG_BACKUP`].
    pub flags: u8,
}

impl Candle {
    /// Trade ids inside the candle were not contiguous.
    pub const FLAG_ID_GAP: u8 = 1;
    /// A trade for this bucket arrived too late to be applied (beyond `candles.lateness_ms`):
    /// counted and journaled, not applied.
    pub const FLAG_LATE: u8 = 2;
    /// No trades in the bucket: a flat candle at the previous close (`candles.gaps = "fill"`).
    pub const FLAG_FILLED: u8 = 4;
    /// Empty buckets come right before this candle and were not filled (policy `skip`, or a
    /// gap longer than [`crate::candles::MAX_FILL`] buckets).
    pub const FLAG_AFTER_GAP: u8 = 8;
    /// Holds trades a backup venue delivered while the instrument was failed over.
    pub const FLAG_BACKUP: u8 = 16;
    /// Not closed: the bucket's candle so far (`candles.live`), for live indicator values.
    pub const FLAG_LIVE: u8 = 32;

    /// Volume-weighted average price (quote volume ÷ volume) at 10⁻⁸, rounded half away
    /// from zero; `None` without volume.
    pub fn vwap(&self) -> Option<Price> {
        if self.volume.0 <= 0 {
            return None;
        }
        // quote (10⁻⁸) / volume (10⁻⁸) → price scaled by 10⁸.
        let num = i128::from(self.quote_volume) * 100_000_000;
        let den = i128::from(self.volume.0);
        let q = (num + den / 2 * num.signum()) / den;
        i64::try_from(q).ok().map(Price)
    }
}

/// Indicator values for one candle (the subset strategies read; the full set is
/// [`crate::indicators::IndicatorSet`]). A value not ready yet is NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndicatorUpdate {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Resolution of the candle that produced it.
    pub resolution: Resolution,
    /// From a live (not yet closed) candle: a preview, state unchanged.
    pub live: bool,
    /// The revision of the candle it was computed from (0 = first close).
    pub revision: u16,
    /// Candle patterns: bit `2k` bullish, bit `2k + 1` bearish, for pattern `k` of
    /// [`crate::patterns::COLUMNS`].
    pub patterns: u32,
    /// Bucket start of that candle.
    pub open_ns: u64,
    /// The candle's close.
    pub close: Price,
    /// The EMA-cross strategy's fast EMA.
    pub ema_fast: f64,
    /// Its slow EMA.
    pub ema_slow: f64,
    /// RSI 14 (Wilder).
    pub rsi: f64,
    /// MACD (12, 26, 9) histogram.
    pub macd_hist: f64,
    /// ATR 14 (Wilder).
    pub atr: f64,
    /// ADX 14.
    pub adx: f64,
}

impl IndicatorUpdate {
    /// Folds this update into a running FNV-1a digest `h` (every field, floats by their bits).
    pub fn fold(&self, h: u64) -> u64 {
        let words = [
            u64::from(self.instrument.0),
            self.resolution.nanos(),
            u64::from(self.live),
            u64::from(self.revision),
            u64::from(self.patterns),
            self.open_ns,
            self.close.0 as u64,
            self.ema_fast.to_bits(),
            self.ema_slow.to_bits(),
            self.rsi.to_bits(),
            self.macd_hist.to_bits(),
            self.atr.to_bits(),
            self.adx.to_bits(),
        ];
        words.iter().fold(h, |h, w| {
            w.to_le_bytes()
                .iter()
                .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
        })
    }
}

/// Order types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    /// Take liquidity now at the best price.
    Market,
    /// Rest at a price.
    Limit,
}

impl OrderType {
    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
        }
    }
}

/// Everything a hot ring can carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Payload {
    /// A public trade.
    Trade(Trade),
    /// A best bid/ask update.
    BookTicker(BookTicker),
    /// A closed candle.
    Candle(Candle),
    /// Indicator values.
    Indicator(IndicatorUpdate),
    /// An order on its way to a venue.
    Place(super::order::Routed),
    /// A cancel on its way to a venue.
    Cancel(super::order::RoutedCancel),
}

/// A payload with the stamps every stage needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Envelope {
    /// Monotonic ns when the source received the bytes (latency only).
    pub ingress_ns: u64,
    /// Monotonic ns when the previous stage finished with it (latency only).
    pub stamp_ns: u64,
    /// Wall-clock receive time (ns since epoch).
    pub recv_ns: u64,
    /// Market time: the venue's time for the event, or the receive time when the venue has none.
    pub market_ns: u64,
    /// Position of the source message in its stream (0-based).
    pub seq: u64,
    /// The value.
    pub payload: Payload,
}

impl Envelope {
    /// An envelope with only a payload and a market time (tests, benches, synthetic inputs).
    pub fn at(market_ns: u64, payload: Payload) -> Self {
        Self {
            ingress_ns: 0,
            stamp_ns: 0,
            recv_ns: market_ns,
            market_ns,
            seq: 0,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_stays_small() {
        // Two cache lines at most: the ring copies it twice per hop.
        assert!(
            std::mem::size_of::<Envelope>() <= 128,
            "{}",
            std::mem::size_of::<Envelope>()
        );
    }

    #[test]
    fn resolutions_round_trip() {
        for r in Resolution::ALL {
            assert_eq!(Resolution::parse(r.label()), Some(r));
        }
        assert_eq!(Resolution::parse("2m"), None);
    }
}
