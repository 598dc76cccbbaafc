//! Multi-timeframe scoring: one strategy's raw signals at each configured resolution, plus
//! the volume and volatility regime, combined into one score in [-1, 1].
//!
//! With `w_r` the configured weight of resolution `r` (0 = not used), `W = Σ w_r`, and each
//! raw signal `x_r` in [-1, 1]:
//!
//! * **strength** `D = Σ w_r x_r / W`: the weighted consensus (direction and size);
//! * **alignment** `A = Σ w_r s_r / W` with `s_r` = sign of `x_r` (0 inside ±`neutral`): +1
//!   when every resolution points up, −1 when all point down, near 0 when they disagree;
//! * **volume** `V = min(1, volume_ratio / volume_full)`: the deciding candle's volume over
//!   its rolling mean, full credit from `volume_full` times the mean;
//! * **volatility** `S = max(0, 1 − |ln atr_ratio| / ln volatility_span)`: ATR over its
//!   rolling mean; 1 in a usual regime, falling to 0 when ATR is `volatility_span` times
//!   above or below its mean (dead or wild markets both make signals unreliable).
//!
//! `score = D × (w_a · max(0, A · sign D) + w_v · V + w_s · S) / (w_a + w_v + w_s)`
//! (the bracket is 1 when all three weights are 0). The bracket is a confidence in [0, 1],
//! so the score never exceeds the consensus, and a regime part that is not known yet
//! (warm-up, no volume) counts 0. The score is `None` until every weighted resolution has
//! a raw signal (with `partial`, until the finest weighted one has; the others join as they
//! warm up).
//!
//! Pure functions on `Copy` values: no state, no allocation.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::api::{sign, unit};
use super::config::{invalid, StrategyConfigError};
use crate::core::Resolution;

/// Scoring weights, as configured.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Weight per resolution label (`"1m" = 1.0`); only host resolutions are allowed.
    /// Default: 1 for every host resolution.
    #[serde(default)]
    pub resolutions: BTreeMap<String, f64>,
    /// Weight of alignment in the confidence. Default 0.5.
    #[serde(default = "default_alignment")]
    pub alignment: f64,
    /// Weight of volume. Default 0.25.
    #[serde(default = "default_quarter")]
    pub volume: f64,
    /// Weight of the volatility regime. Default 0.25.
    #[serde(default = "default_quarter")]
    pub volatility: f64,
    /// Raw signals within ±this count as neutral for alignment. Default 0.1.
    #[serde(default = "default_neutral")]
    pub neutral: f64,
    /// Volume ratio that earns full volume credit. Default 1.5.
    #[serde(default = "default_volume_full")]
    pub volume_full: f64,
    /// ATR ratio (or its inverse) at which volatility credit reaches 0 (> 1). Default 3.
    #[serde(default = "default_volatility_span")]
    pub volatility_span: f64,
    /// Score from the resolutions that are ready while coarser ones warm up (the finest
    /// weighted one must be ready); otherwise no score until every weighted one is. A
    /// missing resolution counts as neither agreeing nor disagreeing, and its weight is left
    /// out of `W`. Default false.
    #[serde(default)]
    pub partial: bool,
}

fn default_alignment() -> f64 {
    0.5
}
fn default_quarter() -> f64 {
    0.25
}
fn default_neutral() -> f64 {
    0.1
}
fn default_volume_full() -> f64 {
    1.5
}
fn default_volatility_span() -> f64 {
    3.0
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            resolutions: BTreeMap::new(),
            alignment: default_alignment(),
            volume: default_quarter(),
            volatility: default_quarter(),
            neutral: default_neutral(),
            volume_full: default_volume_full(),
            volatility_span: default_volatility_span(),
            partial: false,
        }
    }
}

/// Validated scoring parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoringSpec {
    /// Weight per [`Resolution::index`]; 0 = not used.
    pub weights: [f64; 5],
    /// Alignment weight.
    pub alignment: f64,
    /// Volume weight.
    pub volume: f64,
    /// Volatility weight.
    pub volatility: f64,
    /// Neutral band for alignment.
    pub neutral: f64,
    /// Volume ratio for full credit.
    pub volume_full: f64,
    /// `ln(volatility_span)`.
    pub ln_span: f64,
    /// Score on the ready resolutions during warm-up.
    pub partial: bool,
}

impl ScoringConfig {
    /// Validates against the host's resolutions; `key` names the table in errors.
    pub fn validate(
        &self,
        key: &str,
        host: &[Resolution],
    ) -> Result<ScoringSpec, StrategyConfigError> {
        let mut weights = [0.0; 5];
        if self.resolutions.is_empty() {
            for r in host {
                weights[r.index()] = 1.0;
            }
        }
        for (label, &w) in &self.resolutions {
            let k = format!("{key}.resolutions.{label}");
            let r = Resolution::parse(label)
                .filter(|r| host.contains(r))
                .ok_or_else(|| invalid(&k, "not one of the host's resolutions"))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(invalid(k, "weight must be >= 0"));
            }
            weights[r.index()] = w;
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            return Err(invalid(
                format!("{key}.resolutions"),
                "at least one weight must be > 0",
            ));
        }
        for (name, w) in [
            ("alignment", self.alignment),
            ("volume", self.volume),
            ("volatility", self.volatility),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(invalid(format!("{key}.{name}"), "weight must be >= 0"));
            }
        }
        if !(0.0..1.0).contains(&self.neutral) {
            return Err(invalid(format!("{key}.neutral"), "must be in [0, 1)"));
        }
        if !(self.volume_full.is_finite() && self.volume_full > 0.0) {
            return Err(invalid(format!("{key}.volume_full"), "must be > 0"));
        }
        if !(self.volatility_span.is_finite() && self.volatility_span > 1.0) {
            return Err(invalid(format!("{key}.volatility_span"), "must be > 1"));
        }
        Ok(ScoringSpec {
            weights,
            alignment: self.alignment,
            volume: self.volume,
            volatility: self.volatility,
            neutral: self.neutral,
            volume_full: self.volume_full,
            ln_span: self.volatility_span.ln(),
            partial: self.partial,
        })
    }
}

/// The parts of a score, for the decision journal.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parts {
    /// Raw signal per [`Resolution::index`] (`None`: not used or not ready).
    pub raw: [Option<f64>; 5],
    /// Weighted consensus `D`.
    pub strength: f64,
    /// Alignment `A` in [-1, 1].
    pub alignment: f64,
    /// Volume credit `V` in [0, 1].
    pub volume: f64,
    /// Volatility credit `S` in [0, 1].
    pub volatility: f64,
    /// Confidence (the bracket) in [0, 1].
    pub confidence: f64,
    /// The deciding candle's volume ÷ its rolling mean, when known.
    pub volume_ratio: Option<f64>,
    /// ATR ÷ its rolling mean, when known.
    pub atr_ratio: Option<f64>,
}

/// Volume credit `V` (0 when unknown).
#[inline]
pub fn volume_credit(spec: &ScoringSpec, volume_ratio: Option<f64>) -> f64 {
    match volume_ratio {
        Some(r) if r.is_finite() && r > 0.0 => (r / spec.volume_full).min(1.0),
        _ => 0.0,
    }
}

/// Volatility credit `S` (0 when unknown).
#[inline]
pub fn volatility_credit(spec: &ScoringSpec, atr_ratio: Option<f64>) -> f64 {
    match atr_ratio {
        Some(r) if r.is_finite() && r > 0.0 => (1.0 - r.ln().abs() / spec.ln_span).max(0.0),
        _ => 0.0,
    }
}

/// The score and its parts; `None` while a weighted resolution has no raw signal.
#[inline]
pub fn score(
    spec: &ScoringSpec,
    raw: &[Option<f64>; 5],
    volume_ratio: Option<f64>,
    atr_ratio: Option<f64>,
) -> Option<(f64, Parts)> {
    let mut parts = Parts {
        volume_ratio,
        atr_ratio,
        ..Parts::default()
    };
    let (mut total, mut sum, mut agree) = (0.0, 0.0, 0.0);
    let mut finest = true;
    for (i, &w) in spec.weights.iter().enumerate() {
        if w <= 0.0 {
            continue;
        }
        let Some(r) = raw[i] else {
            if spec.partial && !finest {
                continue;
            }
            return None;
        };
        finest = false;
        let x = unit(r);
        parts.raw[i] = Some(x);
        total += w;
        sum += w * x;
        if x.abs() > spec.neutral {
            agree += w * sign(x);
        }
    }
    if total <= 0.0 {
        return None;
    }
    parts.strength = unit(sum / total);
    parts.alignment = unit(agree / total);
    parts.volume = volume_credit(spec, volume_ratio);
    parts.volatility = volatility_credit(spec, atr_ratio);
    let weights = spec.alignment + spec.volume + spec.volatility;
    parts.confidence = if weights > 0.0 {
        let aligned = (parts.alignment * sign(parts.strength)).max(0.0);
        ((spec.alignment * aligned
            + spec.volume * parts.volume
            + spec.volatility * parts.volatility)
            / weights)
            .clamp(0.0, 1.0)
    } else {
        1.0
    };
    Some((unit(parts.strength * parts.confidence), parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R3: [Resolution; 3] = [Resolution::M1, Resolution::M5, Resolution::H1];

    fn spec(cfg: ScoringConfig) -> ScoringSpec {
        cfg.validate("scoring", &R3).unwrap()
    }

    fn raw(m1: f64, m5: f64, h1: f64) -> [Option<f64>; 5] {
        let mut r = [None; 5];
        r[Resolution::M1.index()] = Some(m1);
        r[Resolution::M5.index()] = Some(m5);
        r[Resolution::H1.index()] = Some(h1);
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn alignment_rewards_agreement_across_resolutions() {
        let s = spec(ScoringConfig {
            volume: 0.0,
            volatility: 0.0,
            ..ScoringConfig::default()
        });
        let (all, p) = score(&s, &raw(0.6, 0.6, 0.6), None, None).unwrap();
        assert!(close(p.alignment, 1.0) && close(all, 0.6), "{p:?}");
        // Only 1m has an opinion: consensus 0.2, alignment 1/3.
        let (one, p) = score(&s, &raw(0.6, 0.0, 0.0), None, None).unwrap();
        assert!(close(p.strength, 0.2) && close(p.alignment, 1.0 / 3.0));
        assert!(close(one, 0.2 / 3.0), "{one}");
        // 1h against: alignment 1/3, consensus 0.2.
        let (against, p) = score(&s, &raw(0.6, 0.6, -0.6), None, None).unwrap();
        assert!(close(p.alignment, 1.0 / 3.0) && close(against, 0.2 / 3.0));
        // All down: symmetric.
        let (down, p) = score(&s, &raw(-0.6, -0.6, -0.6), None, None).unwrap();
        assert!(close(down, -0.6) && close(p.alignment, -1.0));
        // Within the neutral band: no alignment credit.
        let (_, p) = score(&s, &raw(0.05, 0.05, 0.05), None, None).unwrap();
        assert_eq!(p.alignment, 0.0);
    }

    #[test]
    fn partial_scores_on_what_is_ready_but_never_without_the_finest() {
        let cfg = ScoringConfig {
            volume: 0.0,
            volatility: 0.0,
            ..ScoringConfig::default()
        };
        let strict = spec(cfg.clone());
        let partial = spec(ScoringConfig {
            partial: true,
            ..cfg
        });
        let mut r = [None; 5];
        r[Resolution::M1.index()] = Some(0.6);
        // 5m and 1h warming up: strict waits, partial scores 1m alone.
        assert!(score(&strict, &r, None, None).is_none());
        let (x, p) = score(&partial, &r, None, None).unwrap();
        assert!(close(x, 0.6) && close(p.alignment, 1.0), "{x} {p:?}");
        assert_eq!(p.raw[Resolution::M5.index()], None);
        // 5m joins against it: consensus and alignment both drop.
        r[Resolution::M5.index()] = Some(-0.6);
        let (x, p) = score(&partial, &r, None, None).unwrap();
        assert!(close(p.strength, 0.0) && close(p.alignment, 0.0) && close(x, 0.0));
        // Without the finest resolution there is no score, partial or not.
        let mut r = [None; 5];
        r[Resolution::H1.index()] = Some(0.9);
        assert!(score(&partial, &r, None, None).is_none());
    }

    #[test]
    fn resolution_weights_and_readiness() {
        let mut w = BTreeMap::new();
        w.insert("1m".to_string(), 3.0);
        w.insert("1h".to_string(), 1.0);
        let s = spec(ScoringConfig {
            resolutions: w,
            volume: 0.0,
            volatility: 0.0,
            ..ScoringConfig::default()
        });
        assert_eq!(s.weights[Resolution::M5.index()], 0.0);
        // 5m not weighted: its missing value does not hold the score back.
        let mut r = raw(0.8, 0.0, 0.0);
        r[Resolution::M5.index()] = None;
        let (x, p) = score(&s, &r, None, None).unwrap();
        assert!(close(p.strength, 0.6) && close(p.alignment, 0.75) && close(x, 0.45));
        r[Resolution::H1.index()] = None;
        assert!(
            score(&s, &r, None, None).is_none(),
            "1h weighted, not ready"
        );
    }

    #[test]
    fn volume_part() {
        let s = spec(ScoringConfig {
            alignment: 0.0,
            volatility: 0.0,
            ..ScoringConfig::default()
        });
        let r = raw(0.5, 0.5, 0.5);
        let at = |v| score(&s, &r, v, None).unwrap();
        assert_eq!(at(None).0, 0.0);
        assert!(close(at(Some(0.75)).1.volume, 0.5));
        assert!(close(at(Some(0.75)).0, 0.25));
        assert_eq!(at(Some(1.5)).1.volume, 1.0);
        assert_eq!(at(Some(9.0)).0, 0.5);
        assert_eq!(at(Some(f64::NAN)).1.volume, 0.0);
    }

    #[test]
    fn volatility_part() {
        let s = spec(ScoringConfig {
            alignment: 0.0,
            volume: 0.0,
            ..ScoringConfig::default()
        });
        let r = raw(-1.0, -1.0, -1.0);
        let at = |a| score(&s, &r, None, a).unwrap();
        assert_eq!(at(Some(1.0)).0, -1.0, "usual regime: full credit");
        assert!(close(at(Some(3.0)).1.volatility, 0.0), "wild");
        assert!(close(at(Some(1.0 / 3.0)).1.volatility, 0.0), "dead");
        assert!(close(at(Some(3f64.sqrt())).1.volatility, 0.5));
        assert_eq!(at(Some(10.0)).1.volatility, 0.0);
        assert_eq!(at(None).0, 0.0);
    }

    #[test]
    fn combined_and_bounded() {
        let s = spec(ScoringConfig::default());
        let (x, p) = score(&s, &raw(1.0, 1.0, 1.0), Some(2.0), Some(1.0)).unwrap();
        assert_eq!((x, p.confidence), (1.0, 1.0));
        let (x, p) = score(&s, &raw(9.0, f64::INFINITY, 1.0), Some(0.75), Some(1.0)).unwrap();
        assert!(
            close(p.confidence, 0.5 + 0.125 + 0.25) && close(x, 0.875),
            "{p:?}"
        );
        let zero = spec(ScoringConfig {
            alignment: 0.0,
            volume: 0.0,
            volatility: 0.0,
            ..ScoringConfig::default()
        });
        assert!(close(
            score(&zero, &raw(0.4, 0.4, 0.4), None, None).unwrap().0,
            0.4
        ));
    }

    #[test]
    fn config_is_checked() {
        let mut w = BTreeMap::new();
        w.insert("1d".to_string(), 1.0);
        assert!(ScoringConfig {
            resolutions: w,
            ..ScoringConfig::default()
        }
        .validate("s", &R3)
        .is_err());
        assert!(ScoringConfig {
            volatility_span: 1.0,
            ..ScoringConfig::default()
        }
        .validate("s", &R3)
        .is_err());
        let c: ScoringConfig =
            toml::from_str("resolutions = { \"1m\" = 2.0 }\nvolume = 0.5").unwrap();
        assert_eq!(
            c.validate("s", &R3).unwrap().weights[Resolution::M1.index()],
            2.0
        );
    }
}
