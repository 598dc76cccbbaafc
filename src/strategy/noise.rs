//! Noise suppression: when a score may turn into an order, and why it did not.
//!
//! * **Adaptive entry threshold.** `entry × clamp(1 + sensitivity × (atr_ratio − 1),
//!   min_scale, max_scale)` (capped at 1): a more volatile regime than usual asks for a
//!   stronger score. The exit threshold scales by the same factor, so the hysteresis band
//!   keeps its shape. A score that passes the plain `entry` but not the scaled one is
//!   suppressed as [`Suppression::VolatilityThreshold`].
//! * **Hysteresis.** Enter long at `score ≥ entry`, leave at `score < exit` (exit < entry);
//!   mirrored for shorts. A position kept only because `exit ≤ score < entry` is counted as
//!   [`Suppression::Hysteresis`] (a single threshold would have closed it).
//! * **Cooldowns.** No entry by a strategy on an instrument within `cooldown` of its last
//!   entry or exit there ([`Suppression::StrategyCooldown`]), and no entry by any strategy
//!   on an instrument within `instrument_cooldown` of the last entry there
//!   ([`Suppression::InstrumentCooldown`]).
//! * **Minimum holding time.** No exit within `min_hold` of the entry
//!   ([`Suppression::MinHold`]).
//! * **Anomaly filter.** A deciding candle with an arbiter anomaly bit in `anomaly_mask`, or
//!   a flag in `flag_mask` (default [`Candle::FLAG_FILLED`]), decides nothing
//!   ([`Suppression::Anomaly`]); such a candle at another resolution leaves that resolution's
//!   raw signal as it was.
//!
//! Exits are never blocked by cooldowns or the kill switch: they reduce risk.
//!
//! Pure functions over small `Copy` state; nothing allocates.

use serde::Deserialize;

use super::config::{invalid, StrategyConfigError};
use crate::core::{Candle, Side};

/// Why a decision did less than its score asked for (or nothing at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suppression {
    /// A weighted resolution has no raw signal yet (warm-up).
    NotReady,
    /// The deciding candle carries a masked anomaly bit or flag.
    Anomaly,
    /// The score passed the plain entry threshold but not the volatility-scaled one.
    VolatilityThreshold,
    /// A position held inside the hysteresis band.
    Hysteresis,
    /// An exit before the minimum holding time.
    MinHold,
    /// An entry inside this strategy's cooldown on the instrument.
    StrategyCooldown,
    /// An entry inside the instrument's cooldown.
    InstrumentCooldown,
    /// An entry while the kill switch is on.
    KillSwitch,
    /// A short entry while shorts are disabled.
    ShortsDisabled,
    /// The size rounded down to zero lots.
    ZeroQty,
    /// The order's notional is under the minimum.
    MinNotional,
    /// The score passed the entry threshold but not the one a breach throttle widened.
    BreachThreshold,
}

impl Suppression {
    /// How many reasons there are.
    pub const COUNT: usize = 12;
    /// Every reason, in index order.
    pub const ALL: [Suppression; Self::COUNT] = [
        Suppression::NotReady,
        Suppression::Anomaly,
        Suppression::VolatilityThreshold,
        Suppression::Hysteresis,
        Suppression::MinHold,
        Suppression::StrategyCooldown,
        Suppression::InstrumentCooldown,
        Suppression::KillSwitch,
        Suppression::ShortsDisabled,
        Suppression::ZeroQty,
        Suppression::MinNotional,
        Suppression::BreachThreshold,
    ];

    /// Dense index for counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Snake-case name for the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Suppression::NotReady => "not_ready",
            Suppression::Anomaly => "anomaly",
            Suppression::VolatilityThreshold => "volatility_threshold",
            Suppression::Hysteresis => "hysteresis",
            Suppression::MinHold => "min_hold",
            Suppression::StrategyCooldown => "strategy_cooldown",
            Suppression::InstrumentCooldown => "instrument_cooldown",
            Suppression::KillSwitch => "kill_switch",
            Suppression::ShortsDisabled => "shorts_disabled",
            Suppression::ZeroQty => "zero_qty",
            Suppression::MinNotional => "min_notional",
            Suppression::BreachThreshold => "breach_threshold",
        }
    }
}

/// Per-strategy thresholds and timing, as configured.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Entry threshold on |score|, in (0, 1]. Default 0.3.
    #[serde(default = "default_entry")]
    pub entry: f64,
    /// Exit threshold (below `entry`): a long exits when the score falls under it, a short
    /// when the score rises above its negative. Default 0.05.
    #[serde(default = "default_exit")]
    pub exit: f64,
    /// How much the thresholds follow the ATR regime (0 = fixed). Default 0.5.
    #[serde(default = "default_sensitivity")]
    pub volatility_sensitivity: f64,
    /// Lowest threshold scale. Default 0.5.
    #[serde(default = "default_min_scale")]
    pub min_scale: f64,
    /// Highest threshold scale. Default 2.
    #[serde(default = "default_max_scale")]
    pub max_scale: f64,
    /// No entry by this strategy on an instrument within this long of its last entry or
    /// exit there (ms). Default 300000 (5 min).
    #[serde(default = "default_cooldown_ms")]
    pub cooldown_ms: u64,
    /// No exit within this long of the entry (ms). Default 300000 (5 min).
    #[serde(default = "default_min_hold_ms")]
    pub min_hold_ms: u64,
}

fn default_entry() -> f64 {
    0.3
}
fn default_exit() -> f64 {
    0.05
}
fn default_sensitivity() -> f64 {
    0.5
}
fn default_min_scale() -> f64 {
    0.5
}
fn default_max_scale() -> f64 {
    2.0
}
fn default_cooldown_ms() -> u64 {
    300_000
}
fn default_min_hold_ms() -> u64 {
    300_000
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            entry: default_entry(),
            exit: default_exit(),
            volatility_sensitivity: default_sensitivity(),
            min_scale: default_min_scale(),
            max_scale: default_max_scale(),
            cooldown_ms: default_cooldown_ms(),
            min_hold_ms: default_min_hold_ms(),
        }
    }
}

/// Validated per-strategy noise parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSpec {
    /// Entry threshold.
    pub entry: f64,
    /// Exit threshold.
    pub exit: f64,
    /// Threshold sensitivity to the ATR ratio.
    pub sensitivity: f64,
    /// Lowest scale.
    pub min_scale: f64,
    /// Highest scale.
    pub max_scale: f64,
    /// Strategy cooldown (ns).
    pub cooldown_ns: u64,
    /// Minimum holding time (ns).
    pub min_hold_ns: u64,
}

impl NoiseConfig {
    /// Validates; `key` names the table in errors.
    pub fn validate(&self, key: &str) -> Result<NoiseSpec, StrategyConfigError> {
        if !(self.entry > 0.0 && self.entry <= 1.0) {
            return Err(invalid(format!("{key}.entry"), "must be in (0, 1]"));
        }
        if !(self.exit >= 0.0 && self.exit < self.entry) {
            return Err(invalid(format!("{key}.exit"), "must be in [0, entry)"));
        }
        if !(self.volatility_sensitivity.is_finite() && self.volatility_sensitivity >= 0.0) {
            return Err(invalid(
                format!("{key}.volatility_sensitivity"),
                "must be >= 0",
            ));
        }
        let scales_ok = self.min_scale > 0.0
            && self.min_scale <= 1.0
            && self.max_scale >= 1.0
            && self.max_scale.is_finite();
        if !scales_ok {
            return Err(invalid(
                format!("{key}.min_scale"),
                "need 0 < min_scale <= 1 <= max_scale",
            ));
        }
        Ok(NoiseSpec {
            entry: self.entry,
            exit: self.exit,
            sensitivity: self.volatility_sensitivity,
            min_scale: self.min_scale,
            max_scale: self.max_scale,
            cooldown_ns: self.cooldown_ms.saturating_mul(1_000_000),
            min_hold_ns: self.min_hold_ms.saturating_mul(1_000_000),
        })
    }
}

/// Host-wide filter settings, as configured.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Arbiter anomaly bits (`AnomalyKind::index()`) that disqualify a candle. Default all.
    #[serde(default = "default_anomaly_mask")]
    pub anomaly_mask: u16,
    /// Candle flags that disqualify a candle. Default 4 ([`Candle::FLAG_FILLED`]).
    #[serde(default = "default_flag_mask")]
    pub flag_mask: u8,
    /// No entry by any strategy on an instrument within this long of the last entry there
    /// (ms). Default 60000 (1 min).
    #[serde(default = "default_instrument_cooldown_ms")]
    pub instrument_cooldown_ms: u64,
}

fn default_anomaly_mask() -> u16 {
    u16::MAX
}
fn default_flag_mask() -> u8 {
    Candle::FLAG_FILLED
}
fn default_instrument_cooldown_ms() -> u64 {
    60_000
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            anomaly_mask: default_anomaly_mask(),
            flag_mask: default_flag_mask(),
            instrument_cooldown_ms: default_instrument_cooldown_ms(),
        }
    }
}

/// Validated host-wide filter settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// Disqualifying anomaly bits.
    pub anomaly_mask: u16,
    /// Disqualifying flags.
    pub flag_mask: u8,
    /// Instrument cooldown (ns).
    pub instrument_cooldown_ns: u64,
}

impl FilterConfig {
    /// Validates (every value is allowed; the live flag is not a filter matter).
    pub fn validate(&self, key: &str) -> Result<FilterSpec, StrategyConfigError> {
        if self.flag_mask & Candle::FLAG_LIVE != 0 {
            return Err(invalid(
                format!("{key}.flag_mask"),
                "live candles are never decided on; leave bit 32 out",
            ));
        }
        Ok(FilterSpec {
            anomaly_mask: self.anomaly_mask,
            flag_mask: self.flag_mask,
            instrument_cooldown_ns: self.instrument_cooldown_ms.saturating_mul(1_000_000),
        })
    }
}

impl FilterSpec {
    /// True when `c` must not be decided on.
    #[inline]
    pub fn rejects(&self, c: &Candle) -> bool {
        c.anomalies & self.anomaly_mask != 0 || c.flags & self.flag_mask != 0
    }
}

/// `(entry, exit)` thresholds in the current ATR regime (unknown regime: unscaled).
#[inline]
pub fn thresholds(spec: &NoiseSpec, atr_ratio: Option<f64>) -> (f64, f64) {
    let scale = match atr_ratio {
        Some(r) if r.is_finite() => {
            (1.0 + spec.sensitivity * (r - 1.0)).clamp(spec.min_scale, spec.max_scale)
        }
        _ => 1.0,
    };
    let entry = (spec.entry * scale).min(1.0);
    (entry, (spec.exit * scale).min(entry))
}

/// One strategy's position on one instrument, as the host tracks it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Book {
    /// +1 long, −1 short, 0 flat (what the strategy's intents asked for).
    pub side: i8,
    /// Quantity of the opening intent.
    pub qty: i64,
    /// Signed quantity filled for this strategy (from fills).
    pub held: i64,
    /// Market time of the entry.
    pub entered_ns: u64,
    /// Market time of the last entry or exit, if any.
    pub last_action_ns: Option<u64>,
}

impl Book {
    /// The quantity an exit must close: what was filled, or (before any fill report) what
    /// the entry asked for.
    #[inline]
    pub fn exit_qty(&self) -> i64 {
        if self.held != 0 && self.held.signum() == i64::from(self.side) {
            self.held.saturating_abs()
        } else {
            self.qty
        }
    }
}

/// What a score asks of a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Nothing.
    Stay,
    /// Open on this side from flat.
    Enter(Side),
    /// Close the position.
    Exit,
    /// Close the position and open on this side.
    Reverse(Side),
}

/// What the score asks, with a threshold suppression: hysteresis, or the volatility scaling.
#[inline]
pub fn want(
    spec: &NoiseSpec,
    side: i8,
    score: f64,
    entry: f64,
    exit: f64,
) -> (Want, Option<Suppression>) {
    let s = f64::from(side);
    let toward = |x: f64| if x > 0.0 { Side::Buy } else { Side::Sell };
    if side == 0 {
        if score.abs() >= entry {
            (Want::Enter(toward(score)), None)
        } else if score.abs() >= spec.entry {
            (Want::Stay, Some(Suppression::VolatilityThreshold))
        } else {
            (Want::Stay, None)
        }
    } else {
        // Score seen from the position: positive means "keep".
        let keep = s * score;
        if keep <= -entry {
            (Want::Reverse(toward(score)), None)
        } else if keep < exit {
            (Want::Exit, None)
        } else if keep < entry {
            (Want::Stay, Some(Suppression::Hysteresis))
        } else {
            (Want::Stay, None)
        }
    }
}

/// Whether an exit is allowed now.
#[inline]
pub fn check_exit(spec: &NoiseSpec, book: &Book, now_ns: u64) -> Option<Suppression> {
    (now_ns.saturating_sub(book.entered_ns) < spec.min_hold_ns).then_some(Suppression::MinHold)
}

/// Whether an entry on `side` is allowed now. `last_instrument_entry_ns` is the last entry
/// by any strategy on the instrument.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn check_entry(
    spec: &NoiseSpec,
    filter: &FilterSpec,
    book: &Book,
    last_instrument_entry_ns: Option<u64>,
    now_ns: u64,
    side: Side,
    allow_short: bool,
    kill_switch: bool,
) -> Option<Suppression> {
    let within =
        |last: Option<u64>, span: u64| last.is_some_and(|t| now_ns.saturating_sub(t) < span);
    if side == Side::Sell && !allow_short {
        Some(Suppression::ShortsDisabled)
    } else if kill_switch {
        Some(Suppression::KillSwitch)
    } else if within(book.last_action_ns, spec.cooldown_ns) {
        Some(Suppression::StrategyCooldown)
    } else if within(last_instrument_entry_ns, filter.instrument_cooldown_ns) {
        Some(Suppression::InstrumentCooldown)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    fn spec() -> NoiseSpec {
        NoiseConfig {
            entry: 0.4,
            exit: 0.1,
            volatility_sensitivity: 1.0,
            min_scale: 0.5,
            max_scale: 2.0,
            cooldown_ms: 5 * 60_000,
            min_hold_ms: 3 * 60_000,
        }
        .validate("noise")
        .unwrap()
    }

    fn filter() -> FilterSpec {
        FilterConfig::default().validate("filter").unwrap()
    }

    #[test]
    fn threshold_follows_volatility() {
        let s = spec();
        assert_eq!(thresholds(&s, None), (0.4, 0.1));
        assert_eq!(thresholds(&s, Some(1.0)), (0.4, 0.1));
        let (e, x) = thresholds(&s, Some(1.5));
        assert!((e - 0.6).abs() < 1e-12 && (x - 0.15).abs() < 1e-12);
        assert_eq!(
            thresholds(&s, Some(0.1)),
            (0.2, 0.05),
            "floored at min_scale"
        );
        assert_eq!(thresholds(&s, Some(9.0)), (0.8, 0.2), "capped at max_scale");
        assert_eq!(thresholds(&s, Some(f64::NAN)), (0.4, 0.1));
        // Passing the plain threshold but not the scaled one is a suppression.
        let (e, x) = thresholds(&s, Some(1.5));
        assert_eq!(
            want(&s, 0, 0.5, e, x),
            (Want::Stay, Some(Suppression::VolatilityThreshold))
        );
        assert_eq!(want(&s, 0, 0.3, e, x), (Want::Stay, None));
        assert_eq!(want(&s, 0, -0.65, e, x), (Want::Enter(Side::Sell), None));
    }

    #[test]
    fn hysteresis_band() {
        let s = spec();
        let (e, x) = (0.4, 0.1);
        assert_eq!(want(&s, 0, 0.39, e, x), (Want::Stay, None));
        assert_eq!(want(&s, 0, 0.4, e, x), (Want::Enter(Side::Buy), None));
        assert_eq!(want(&s, 1, 0.5, e, x), (Want::Stay, None));
        assert_eq!(
            want(&s, 1, 0.2, e, x),
            (Want::Stay, Some(Suppression::Hysteresis))
        );
        assert_eq!(
            want(&s, 1, 0.1, e, x),
            (Want::Stay, Some(Suppression::Hysteresis))
        );
        assert_eq!(want(&s, 1, 0.09, e, x), (Want::Exit, None));
        assert_eq!(want(&s, 1, -0.4, e, x), (Want::Reverse(Side::Sell), None));
        assert_eq!(
            want(&s, -1, -0.2, e, x),
            (Want::Stay, Some(Suppression::Hysteresis))
        );
        assert_eq!(want(&s, -1, 0.0, e, x), (Want::Exit, None));
        assert_eq!(want(&s, -1, 0.45, e, x), (Want::Reverse(Side::Buy), None));
    }

    #[test]
    fn minimum_holding_time() {
        let s = spec();
        let b = Book {
            side: 1,
            qty: 5,
            entered_ns: 10 * MIN,
            ..Book::default()
        };
        assert_eq!(check_exit(&s, &b, 12 * MIN), Some(Suppression::MinHold));
        assert_eq!(check_exit(&s, &b, 13 * MIN - 1), Some(Suppression::MinHold));
        assert_eq!(check_exit(&s, &b, 13 * MIN), None);
        assert_eq!(
            check_exit(&s, &b, 0),
            Some(Suppression::MinHold),
            "time going backwards still holds"
        );
    }

    #[test]
    fn cooldowns_kill_switch_and_shorts() {
        let (s, f) = (spec(), filter());
        let fresh = Book::default();
        let go = |b: &Book, inst: Option<u64>, now, side, short, kill| {
            check_entry(&s, &f, b, inst, now, side, short, kill)
        };
        assert_eq!(go(&fresh, None, MIN, Side::Buy, false, false), None);
        assert_eq!(
            go(&fresh, None, MIN, Side::Sell, false, false),
            Some(Suppression::ShortsDisabled)
        );
        assert_eq!(
            go(&fresh, None, MIN, Side::Buy, true, true),
            Some(Suppression::KillSwitch)
        );
        let exited = Book {
            last_action_ns: Some(10 * MIN),
            ..Book::default()
        };
        assert_eq!(
            go(&exited, None, 14 * MIN, Side::Buy, true, false),
            Some(Suppression::StrategyCooldown)
        );
        assert_eq!(go(&exited, None, 15 * MIN, Side::Buy, true, false), None);
        // Another strategy entered this instrument 30 s ago.
        assert_eq!(
            go(
                &fresh,
                Some(20 * MIN),
                20 * MIN + MIN / 2,
                Side::Buy,
                true,
                false
            ),
            Some(Suppression::InstrumentCooldown)
        );
        assert_eq!(
            go(&fresh, Some(20 * MIN), 21 * MIN, Side::Buy, true, false),
            None
        );
    }

    #[test]
    fn anomaly_filter_masks() {
        let mut c = super::super::builtin::testkit::candle(0, 1.0, 1.0, 1.0, 1.0, 1.0);
        let f = filter();
        assert!(!f.rejects(&c));
        c.flags = Candle::FLAG_FILLED;
        assert!(f.rejects(&c));
        c.flags = Candle::FLAG_ID_GAP;
        assert!(!f.rejects(&c), "not in the default mask");
        c.anomalies = 1 << 3;
        assert!(f.rejects(&c));
        let only_bit0 = FilterConfig {
            anomaly_mask: 1,
            flag_mask: 0,
            ..FilterConfig::default()
        }
        .validate("f")
        .unwrap();
        assert!(!only_bit0.rejects(&c));
        c.anomalies = 1;
        assert!(only_bit0.rejects(&c));
        assert!(FilterConfig {
            flag_mask: Candle::FLAG_LIVE,
            ..FilterConfig::default()
        }
        .validate("f")
        .is_err());
    }

    #[test]
    fn exit_qty_prefers_fills() {
        let mut b = Book {
            side: -1,
            qty: 10,
            ..Book::default()
        };
        assert_eq!(b.exit_qty(), 10);
        b.held = -7;
        assert_eq!(b.exit_qty(), 7);
        b.held = 3;
        assert_eq!(
            b.exit_qty(),
            10,
            "fills on the other side: the intent's size"
        );
    }

    #[test]
    fn config_is_checked() {
        assert!(NoiseConfig {
            exit: 0.5,
            entry: 0.4,
            ..NoiseConfig::default()
        }
        .validate("n")
        .is_err());
        assert!(toml::from_str::<NoiseConfig>("cooldown = 1").is_err());
        assert_eq!(Suppression::ALL.len(), Suppression::COUNT);
        for (i, s) in Suppression::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }
}
