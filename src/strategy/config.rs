//! Strategy-host configuration, in two steps: raw TOML ([`HostConfig`], unknown keys
//! rejected) validated into a typed [`HostSpec`] before the host is built.
//!
//! ```toml
//! resolutions = ["1m", "5m", "1h"]     # default; the finest one decides
//! [regime]
//! volume_period = 20                   # candles in the volume mean
//! atr_period = 50                      # candles in the ATR mean
//! [filter]
//! anomaly_mask = 65535                 # arbiter anomaly bits that disqualify a candle
//! flag_mask = 4                        # candle flags that do (4 = FLAG_FILLED)
//! instrument_cooldown_ms = 60000
//!
//! [[strategies]]
//! momentum = { fast = 12, slow = 26 }  # exactly one of momentum/reversal/breakout/pattern
//! allow_short = true
//! scoring = { alignment = 0.5, volume = 0.25, volatility = 0.25 }
//! noise = { entry = 0.3, exit = 0.05, cooldown_ms = 300000, min_hold_ms = 300000 }
//! sizing = { mode = "fixed_notional", notional = "1000", min_notional = "10" }
//! ```
//!
//! Cold path only: this module allocates freely.

use serde::Deserialize;

use super::breakout::BreakoutConfig;
use super::builtin::BuiltinSpec;
use super::cross::CrossConfig;
use super::momentum::MomentumConfig;
use super::noise::{FilterConfig, FilterSpec, NoiseConfig, NoiseSpec};
use super::pattern::PatternConfig;
use super::reversal::ReversalConfig;
use super::scoring::{ScoringConfig, ScoringSpec};
use super::sizing::{SizingConfig, SizingSpec};
use crate::core::num::parse_scaled;
use crate::core::Resolution;

/// A configuration error naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum StrategyConfigError {
    /// TOML syntax or schema (unknown key, wrong type).
    #[error("strategy config: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value out of range or inconsistent.
    #[error("strategy config: {key}: {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// An [`StrategyConfigError::Invalid`].
pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> StrategyConfigError {
    StrategyConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A decimal string at 10⁻⁸, exactly.
pub(crate) fn money(key: &str, s: &str) -> Result<i64, StrategyConfigError> {
    parse_scaled(s.trim().as_bytes()).map_err(|e| invalid(key, format!("{s:?}: {e}")))
}

/// The volume and ATR means behind the regime ratios.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeConfig {
    /// Candles in the volume mean. Default 20.
    #[serde(default = "default_volume_period")]
    pub volume_period: usize,
    /// Candles in the ATR mean. Default 50.
    #[serde(default = "default_atr_period")]
    pub atr_period: usize,
}

fn default_volume_period() -> usize {
    20
}
fn default_atr_period() -> usize {
    50
}

impl Default for RegimeConfig {
    fn default() -> Self {
        Self {
            volume_period: default_volume_period(),
            atr_period: default_atr_period(),
        }
    }
}

/// The whole host, as configured.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Resolutions tracked and scored, each dividing the next. Default `["1m", "5m", "1h"]`.
    #[serde(default = "default_resolutions")]
    pub resolutions: Vec<String>,
    /// Regime means.
    #[serde(default)]
    pub regime: RegimeConfig,
    /// Anomaly filter and instrument cooldown.
    #[serde(default)]
    pub filter: FilterConfig,
    /// Built-in strategies, in index order.
    #[serde(default)]
    pub strategies: Vec<StrategyConfig>,
}

fn default_resolutions() -> Vec<String> {
    vec!["1m".into(), "5m".into(), "1h".into()]
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            resolutions: default_resolutions(),
            regime: RegimeConfig::default(),
            filter: FilterConfig::default(),
            strategies: Vec::new(),
        }
    }
}

/// One strategy, as configured: a built-in's parameters (exactly one table, or none for a
/// custom strategy added in code) and what the host does with its signals.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Name for reports. Default: the kind.
    #[serde(default)]
    pub name: Option<String>,
    /// Momentum parameters.
    #[serde(default)]
    pub momentum: Option<MomentumConfig>,
    /// Reversal parameters.
    #[serde(default)]
    pub reversal: Option<ReversalConfig>,
    /// Breakout parameters.
    #[serde(default)]
    pub breakout: Option<BreakoutConfig>,
    /// Pattern parameters.
    #[serde(default)]
    pub pattern: Option<PatternConfig>,
    /// SMA-cross parameters (the reference strategy).
    #[serde(default)]
    pub sma_cross: Option<CrossConfig>,
    /// EMA-cross parameters.
    #[serde(default)]
    pub ema_cross: Option<CrossConfig>,
    /// May open shorts. Default true.
    #[serde(default = "default_true")]
    pub allow_short: bool,
    /// Multi-timeframe scoring.
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// Thresholds, cooldowns, holding time.
    #[serde(default)]
    pub noise: NoiseConfig,
    /// Position sizing.
    #[serde(default)]
    pub sizing: SizingConfig,
}

fn default_true() -> bool {
    true
}

/// How the host treats one strategy's signals (validated).
#[derive(Clone, Debug, PartialEq)]
pub struct StrategySpec {
    /// Name for reports.
    pub name: String,
    /// May open shorts.
    pub allow_short: bool,
    /// Scoring.
    pub scoring: ScoringSpec,
    /// Noise suppression.
    pub noise: NoiseSpec,
    /// Sizing.
    pub sizing: SizingSpec,
}

/// The validated host configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct HostSpec {
    /// Resolutions, finest first; the first decides.
    pub resolutions: Vec<Resolution>,
    /// Candles in the volume mean.
    pub volume_period: usize,
    /// Candles in the ATR mean.
    pub atr_period: usize,
    /// Anomaly filter and instrument cooldown.
    pub filter: FilterSpec,
    /// Built-in strategies.
    pub strategies: Vec<(BuiltinSpec, StrategySpec)>,
}

/// Most strategies a host runs (`u8::MAX` is the risk engine's index).
pub const MAX_STRATEGIES: usize = u8::MAX as usize;

impl HostConfig {
    /// Parses TOML text (unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<Self, StrategyConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// The host resolutions, validated: known, distinct, ascending, each dividing the next.
    pub fn validate_resolutions(&self) -> Result<Vec<Resolution>, StrategyConfigError> {
        let mut out: Vec<Resolution> = Vec::with_capacity(self.resolutions.len());
        for (i, l) in self.resolutions.iter().enumerate() {
            let key = format!("resolutions[{i}]");
            let r = Resolution::parse(l).ok_or_else(|| invalid(&key, format!("unknown {l:?}")))?;
            if let Some(&prev) = out.last() {
                if r <= prev || r.nanos() % prev.nanos() != 0 {
                    return Err(invalid(
                        key,
                        "resolutions must ascend, each dividing the next",
                    ));
                }
            }
            out.push(r);
        }
        if out.is_empty() {
            return Err(invalid("resolutions", "at least one"));
        }
        Ok(out)
    }

    /// Validates everything into a [`HostSpec`].
    pub fn validate(&self) -> Result<HostSpec, StrategyConfigError> {
        let resolutions = self.validate_resolutions()?;
        if self.regime.volume_period == 0 || self.regime.atr_period == 0 {
            return Err(invalid("regime", "periods must be >= 1"));
        }
        if self.strategies.len() > MAX_STRATEGIES {
            return Err(invalid("strategies", format!("at most {MAX_STRATEGIES}")));
        }
        let mut strategies = Vec::with_capacity(self.strategies.len());
        for (i, s) in self.strategies.iter().enumerate() {
            let key = format!("strategies[{i}]");
            let kind = s.builtin(&key)?.ok_or_else(|| {
                invalid(
                    &key,
                    "needs one of momentum, reversal, breakout, pattern, sma_cross, ema_cross",
                )
            })?;
            let spec = s.validate(&key, &resolutions, kind.kind())?;
            strategies.push((kind, spec));
        }
        Ok(HostSpec {
            resolutions,
            volume_period: self.regime.volume_period,
            atr_period: self.regime.atr_period,
            filter: self.filter.validate("filter")?,
            strategies,
        })
    }
}

impl StrategyConfig {
    /// The built-in it configures, validated; `None` when it names none (a custom strategy).
    pub fn builtin(&self, key: &str) -> Result<Option<BuiltinSpec>, StrategyConfigError> {
        let n = usize::from(self.momentum.is_some())
            + usize::from(self.reversal.is_some())
            + usize::from(self.breakout.is_some())
            + usize::from(self.pattern.is_some())
            + usize::from(self.sma_cross.is_some())
            + usize::from(self.ema_cross.is_some());
        if n > 1 {
            return Err(invalid(key, "more than one strategy kind in one entry"));
        }
        Ok(if let Some(c) = &self.momentum {
            c.validate(&format!("{key}.momentum"))?;
            Some(BuiltinSpec::Momentum(c.clone()))
        } else if let Some(c) = &self.reversal {
            c.validate(&format!("{key}.reversal"))?;
            Some(BuiltinSpec::Reversal(c.clone()))
        } else if let Some(c) = &self.breakout {
            c.validate(&format!("{key}.breakout"))?;
            Some(BuiltinSpec::Breakout(c.clone()))
        } else if let Some(c) = &self.pattern {
            c.validate(&format!("{key}.pattern"))?;
            Some(BuiltinSpec::Pattern(c.clone()))
        } else if let Some(c) = &self.sma_cross {
            c.validate(&format!("{key}.sma_cross"))?;
            Some(BuiltinSpec::SmaCross(c.clone()))
        } else if let Some(c) = &self.ema_cross {
            c.validate(&format!("{key}.ema_cross"))?;
            Some(BuiltinSpec::EmaCross(c.clone()))
        } else {
            None
        })
    }

    /// The host-side settings, validated against the host's `resolutions`; `default_name`
    /// when no name is set.
    pub fn validate(
        &self,
        key: &str,
        resolutions: &[Resolution],
        default_name: &str,
    ) -> Result<StrategySpec, StrategyConfigError> {
        Ok(StrategySpec {
            name: match &self.name {
                // Names go into CSV columns and the journal as they are.
                Some(n)
                    if n.is_empty()
                        || !n
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) =>
                {
                    return Err(invalid(
                        format!("{key}.name"),
                        format!("{n:?}: letters, digits, `_`, `-` and `.` only"),
                    ))
                }
                Some(n) => n.clone(),
                None => default_name.to_string(),
            },
            allow_short: self.allow_short,
            scoring: self
                .scoring
                .validate(&format!("{key}.scoring"), resolutions)?,
            noise: self.noise.validate(&format!("{key}.noise"))?,
            sizing: self
                .sizing
                .validate(&format!("{key}.sizing"), resolutions)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_validates() {
        let text = r#"
            resolutions = ["1m", "5m", "1h"]
            [regime]
            volume_period = 30
            [filter]
            flag_mask = 5
            [[strategies]]
            momentum = { fast = 8, slow = 21 }
            noise = { entry = 0.4, exit = 0.1 }
            [[strategies]]
            name = "fade"
            reversal = {}
            allow_short = false
            sizing = { mode = "equity_fraction", fraction = 0.01 }
            [[strategies]]
            breakout = { channel = 30 }
            scoring = { resolutions = { "1m" = 2.0, "5m" = 1.0 } }
            [[strategies]]
            pattern = {}
        "#;
        let spec = HostConfig::from_toml(text).unwrap().validate().unwrap();
        assert_eq!(
            spec.resolutions,
            vec![Resolution::M1, Resolution::M5, Resolution::H1]
        );
        assert_eq!((spec.volume_period, spec.atr_period), (30, 50));
        assert_eq!(spec.filter.flag_mask, 5);
        assert_eq!(spec.strategies.len(), 4);
        assert_eq!(spec.strategies[0].1.name, "momentum");
        assert_eq!(spec.strategies[0].1.noise.entry, 0.4);
        assert_eq!(spec.strategies[1].1.name, "fade");
        assert!(!spec.strategies[1].1.allow_short);
        assert_eq!(
            spec.strategies[2].1.scoring.weights[Resolution::H1.index()],
            0.0
        );
        assert_eq!(spec.strategies[3].0.kind(), "pattern");
    }

    #[test]
    fn mistakes_name_their_key() {
        let err = |t: &str| {
            HostConfig::from_toml(t)
                .and_then(|c| c.validate())
                .unwrap_err()
                .to_string()
        };
        assert!(err("resolutions = [\"5m\", \"1m\"]").contains("resolutions[1]"));
        assert!(err("resolutions = []").contains("resolutions"));
        assert!(err("resolutions = [\"2m\"]").contains("resolutions[0]"));
        assert!(err("[[strategies]]\nallow_short = true").contains("strategies[0]"));
        assert!(err("[[strategies]]\nmomentum = {}\npattern = {}").contains("more than one"));
        assert!(err("[[strategies]]\nname = 'a,b'\nmomentum = {}").contains("strategies[0].name"));
        assert!(
            err("[[strategies]]\nmomentum = { fast = 30 }").contains("strategies[0].momentum.slow")
        );
        assert!(err("[[strategies]]\nreversal = {}\nnoise = { exit = 0.9 }")
            .contains("strategies[0].noise.exit"));
        assert!(
            err("[[strategies]]\nbreakout = {}\nsizing = { mode = 'fixed_qty' }")
                .contains("strategies[0].sizing.qty")
        );
        assert!(err("[[strategies]]\nbreakout = { chanel = 3 }").contains("unknown field"));
        assert!(err("colour = 1").contains("unknown field"));
        assert!(err("[regime]\natr_period = 0").contains("regime"));
    }
}
