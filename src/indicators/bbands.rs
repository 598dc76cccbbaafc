//! Bollinger bands, TA-Lib compatible (`TA_BBANDS` with an SMA middle band).
//!
//! Middle = [`Sma`]; bands = middle ± dev · σ, σ the population standard deviation of the
//! window. TA-Lib 0.8 does not take σ from Σx² − mean² (which cancels to noise at BTC prices):
//! it keeps moments about a shift `K`, Σ(x − K) and Σ(x − K)², and
//! `var = Σ(x−K)²/n − (Σ(x−K)/n)²` (products by `1/n`, not divisions). `K` starts as the
//! first input. It re-bases — `K` = the window's mean, both sums recomputed from the window
//! — when cancellation looms (`var < 10⁻⁶ · Σ(x−K)²/n` after removing the oldest value, or the
//! removed square exceeds `10⁶ ·` what is left) and every `32 · period` updates, and then
//! takes σ = 0 if `var < 10⁻¹² · Σ(x−K)²/n`. This module replays exactly that, so it gives
//! TA-Lib's doubles.
//!
//! Cost: O(1) per update, except a re-base, which re-reads the window (O(period)) once per
//! `32 · period` updates or on cancellation; amortized O(1). The window is the SMA's,
//! allocated in `new`.

use super::indicator::close_indicator;
use super::sma::Sma;

/// One Bollinger output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bands {
    /// Middle + dev_up · σ.
    pub upper: f64,
    /// The SMA.
    pub middle: f64,
    /// Middle − dev_down · σ.
    pub lower: f64,
}

/// Σ(x − K) and Σ(x − K)² about the shift K, and the updates left before a forced re-base.
#[derive(Clone, Copy, Debug)]
struct Moments {
    shift: f64,
    dev: f64,
    sq: f64,
    countdown: u64,
}

impl Moments {
    /// Adds `x`, computes σ over the full window, removes `oldest`. `window` yields the
    /// window's values including `x`, oldest first; it is read only on a re-base.
    #[inline]
    fn step<W>(&mut self, x: f64, oldest: f64, window: W, inv: f64, rebase_every: u64) -> f64
    where
        W: Iterator<Item = f64> + Clone,
    {
        let d = x - self.shift;
        self.dev += d;
        self.sq += d * d;
        let mean_dev = self.dev * inv;
        let var = self.sq * inv - mean_dev * mean_dev;
        let od = oldest - self.shift;
        let od_sq = od * od;
        self.sq -= od_sq;
        let cancelling = self.sq * inv * 1e-6 > var || od_sq > self.sq * 1e6;
        if !cancelling && self.countdown > 1 {
            self.countdown -= 1;
            self.dev -= od;
            return sigma(var);
        }
        self.rebase(oldest, window, inv, rebase_every)
    }

    /// Re-bases on the window's mean; returns σ and leaves the moments without `oldest`.
    #[cold]
    fn rebase<W>(&mut self, oldest: f64, window: W, inv: f64, rebase_every: u64) -> f64
    where
        W: Iterator<Item = f64> + Clone,
    {
        let mut sum = 0.0;
        for v in window.clone() {
            sum += v;
        }
        let shift = sum * inv;
        let (mut dev, mut sq) = (0.0, 0.0);
        for v in window {
            let d = v - shift;
            dev += d;
            sq += d * d;
        }
        let mean_dev = dev * inv;
        let mean_sq = sq * inv;
        let var = mean_sq - mean_dev * mean_dev;
        let od = oldest - shift;
        *self = Self {
            shift,
            dev: dev - od,
            sq: sq - od * od,
            countdown: rebase_every,
        };
        if mean_sq * 1e-12 > var {
            0.0
        } else {
            sigma(var)
        }
    }
}

/// σ from the variance; an exact zero stays zero.
#[inline]
fn sigma(var: f64) -> f64 {
    if var == 0.0 {
        0.0
    } else {
        var.sqrt()
    }
}

/// Incremental Bollinger bands.
#[derive(Clone, Debug)]
pub struct Bbands {
    sma: Sma,
    moments: Moments,
    inv: f64,
    dev_up: f64,
    dev_down: f64,
    rebase_every: u64,
    value: Option<Bands>,
}

impl Bbands {
    /// Becomes a copy of `other` without allocating.
    pub fn copy_from(&mut self, other: &Self) {
        self.sma.copy_from(&other.sma);
        self.moments = other.moments;
        self.inv = other.inv;
        self.dev_up = other.dev_up;
        self.dev_down = other.dev_down;
        self.rebase_every = other.rebase_every;
        self.value = other.value;
    }

    /// Bands over `period` closes (0 is treated as 1) at `dev_up` / `dev_down` standard
    /// deviations; TA-Lib's defaults are (20, 2.0, 2.0).
    pub fn new(period: usize, dev_up: f64, dev_down: f64) -> Self {
        let sma = Sma::new(period);
        let n = sma.period();
        Self {
            inv: 1.0 / n as f64,
            rebase_every: 32 * n as u64,
            moments: Moments {
                shift: 0.0,
                dev: 0.0,
                sq: 0.0,
                countdown: 32 * n as u64,
            },
            sma,
            dev_up,
            dev_down,
            value: None,
        }
    }

    /// Feeds one close; returns the bands once `period` closes were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<Bands> {
        if self.sma.window().is_empty() {
            self.moments.shift = x;
        }
        let Some(middle) = self.sma.update(x) else {
            let d = x - self.moments.shift;
            self.moments.dev += d;
            self.moments.sq += d * d;
            return None;
        };
        let window = self.sma.window();
        let oldest = window.oldest().unwrap_or(x);
        let sigma = self
            .moments
            .step(x, oldest, window.iter(), self.inv, self.rebase_every);
        let bands = self.bands(middle, sigma);
        self.value = Some(bands);
        Some(bands)
    }

    /// What [`update`](Self::update) would return for `x`, without changing state.
    #[inline]
    pub fn preview(&self, x: f64) -> Option<Bands> {
        let middle = self.sma.preview(x)?;
        let window = self.sma.window();
        let mut moments = self.moments;
        if window.is_empty() {
            moments.shift = x;
        }
        let sigma = moments.step(
            x,
            window.oldest_after_push(x),
            window.iter_after_push(x),
            self.inv,
            self.rebase_every,
        );
        Some(self.bands(middle, sigma))
    }

    #[inline]
    fn bands(&self, middle: f64, sigma: f64) -> Bands {
        if self.dev_up == self.dev_down {
            let w = sigma * self.dev_up;
            Bands {
                upper: middle + w,
                middle,
                lower: middle - w,
            }
        } else {
            Bands {
                upper: sigma.mul_add(self.dev_up, middle),
                middle,
                lower: middle - sigma * self.dev_down,
            }
        }
    }

    /// True once `period` closes were seen.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.value.is_some()
    }

    /// The last bands, once ready.
    #[inline]
    pub fn value(&self) -> Option<Bands> {
        self.value
    }

    /// Back to the state of `new`, keeping the window's storage.
    pub fn reset(&mut self) {
        self.sma.reset();
        self.moments = Moments {
            shift: 0.0,
            dev: 0.0,
            sq: 0.0,
            countdown: self.rebase_every,
        };
        self.value = None;
    }
}

close_indicator!(Bbands, Bands);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    fn naive(xs: &[f64], dev: f64) -> Bands {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        let s = var.sqrt();
        Bands {
            upper: m + dev * s,
            middle: m,
            lower: m - dev * s,
        }
    }

    #[test]
    fn close_to_a_two_pass_stddev_at_btc_prices() {
        let xs: Vec<f64> = (0..2000)
            .map(|i| 115_000.0 + (i as f64 * 0.37).sin() * 50.0 + (i % 7) as f64 * 0.01)
            .collect();
        let mut b = Bbands::new(20, 2.0, 2.0);
        for (t, &x) in xs.iter().enumerate() {
            let got = b.update(x);
            if t >= 19 {
                let want = naive(&xs[t - 19..=t], 2.0);
                let got = got.unwrap();
                assert!((got.middle - want.middle).abs() < 1e-9);
                assert!(
                    (got.upper - want.upper).abs() < 1e-7,
                    "t={t} {got:?} {want:?}"
                );
                assert!((got.lower - want.lower).abs() < 1e-7);
            } else {
                assert!(got.is_none());
            }
        }
    }

    #[test]
    fn flat_window_has_zero_width() {
        let mut b = Bbands::new(5, 2.0, 2.0);
        let mut last = None;
        for _ in 0..50 {
            last = b.update(64_000.5);
        }
        assert_eq!(
            last,
            Some(Bands {
                upper: 64_000.5,
                middle: 64_000.5,
                lower: 64_000.5
            })
        );
    }

    #[test]
    fn level_jump_rebases_and_stays_accurate() {
        // A window that moves from 1e5 to 1.0 forces the cancellation re-base.
        let mut xs = vec![100_000.0; 30];
        xs.extend((0..30).map(|i| 1.0 + i as f64 * 1e-3));
        let mut b = Bbands::new(10, 2.0, 1.0);
        for (t, &x) in xs.iter().enumerate() {
            let got = b.update(x);
            if t >= 9 {
                let want = naive(&xs[t - 9..=t], 2.0);
                let got = got.unwrap();
                let tol = 1e-9 * want.middle.abs().max(1.0);
                assert!(
                    (got.upper - want.upper).abs() < tol,
                    "t={t} {got:?} {want:?}"
                );
            }
        }
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(2000);
        for (p, up, dn) in [(1, 2.0, 2.0), (2, 2.0, 1.5), (20, 2.0, 2.0)] {
            testkit::check_contract(Bbands::new(p, up, dn), &bars);
            testkit::check_hostile_input(Bbands::new(p, up, dn));
        }
    }
}
