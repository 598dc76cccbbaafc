//! Volume-weighted average price: session-anchored ([`SessionVwap`], the UTC day) and rolling
//! over the last `n` bars ([`RollingVwap`]). Not a TA-Lib function; the reference fixtures
//! compute it in float64 as below, and so do these.
//!
//! Both: typical = `(high + low + close) / 3.0`, VWAP = Σ(typical·volume) / Σvolume, None
//! while that volume is 0. O(1) per update; the rolling window is allocated in `new`.

use super::indicator::bar_indicator;
use super::window::Window;
use super::Bar;

/// Nanoseconds in a UTC day.
const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

#[inline]
fn typical(bar: &Bar) -> f64 {
    (bar.high + bar.low + bar.close) / 3.0
}

/// VWAP since 00:00 UTC of the current bar's day: the sums restart when a bar's `open_ns`
/// falls on a new day.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionVwap {
    day: Option<u64>,
    pv: f64,
    volume: f64,
}

impl SessionVwap {
    /// A new session VWAP.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one bar; returns the session VWAP once the session has volume.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let day = bar.open_ns / NS_PER_DAY;
        if self.day != Some(day) {
            *self = Self {
                day: Some(day),
                ..Self::default()
            };
        }
        self.pv += typical(bar) * bar.volume;
        self.volume += bar.volume;
        self.value()
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<f64> {
        let mut next = *self;
        next.update(bar)
    }

    /// True while the current session has volume.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.volume != 0.0
    }

    /// The current session VWAP, while the session has volume.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then(|| self.pv / self.volume)
    }

    /// Back to the state of `new`.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

bar_indicator!(SessionVwap, f64);

/// VWAP over the last `n` bars, from running sums.
///
/// The sums are updated by adding the new bar and subtracting the one that left, so they
/// carry rounding from bars long gone (relative error grows like n·ε per pass over wildly
/// different levels, far below 1e-9 in practice); when the window holds no volume at all
/// they are reset to exact zeros, so a volume-less window reads None, never 0/ε.
#[derive(Clone, Debug)]
pub struct RollingVwap {
    pv_window: Window,
    volume_window: Window,
    pv: f64,
    volume: f64,
    with_volume: usize,
}

impl RollingVwap {
    /// A new rolling VWAP over `n` bars (0 is treated as 1).
    pub fn new(n: usize) -> Self {
        Self {
            pv_window: Window::new(n),
            volume_window: Window::new(n),
            pv: 0.0,
            volume: 0.0,
            with_volume: 0,
        }
    }

    /// The window length.
    pub fn period(&self) -> usize {
        self.volume_window.capacity()
    }

    /// Feeds one bar; returns the VWAP of the last `n` bars once `n` bars were seen and
    /// while they hold volume.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let pv = typical(bar) * bar.volume;
        self.pv += pv;
        self.volume += bar.volume;
        self.with_volume += usize::from(bar.volume != 0.0);
        if let (Some(old_pv), Some(old_volume)) =
            (self.pv_window.push(pv), self.volume_window.push(bar.volume))
        {
            self.pv -= old_pv;
            self.volume -= old_volume;
            self.with_volume -= usize::from(old_volume != 0.0);
        }
        if self.with_volume == 0 {
            self.pv = 0.0;
            self.volume = 0.0;
        }
        self.value()
    }

    /// What [`update`](Self::update) would return for `bar`, without changing state.
    #[inline]
    pub fn preview(&self, bar: &Bar) -> Option<f64> {
        let full = self.volume_window.is_full();
        if self.volume_window.len() + 1 < self.volume_window.capacity() {
            return None;
        }
        let mut pv = self.pv + typical(bar) * bar.volume;
        let mut volume = self.volume + bar.volume;
        let mut with_volume = self.with_volume + usize::from(bar.volume != 0.0);
        if full {
            let old_pv = self.pv_window.oldest().unwrap_or(0.0);
            let old_volume = self.volume_window.oldest().unwrap_or(0.0);
            pv -= old_pv;
            volume -= old_volume;
            with_volume -= usize::from(old_volume != 0.0);
        }
        (with_volume != 0).then(|| pv / volume)
    }

    /// True once `n` bars were seen and while they hold volume.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.volume_window.is_full() && self.with_volume != 0
    }

    /// The current VWAP, while ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.is_ready().then(|| self.pv / self.volume)
    }

    /// Back to the state of `new`, keeping the windows' storage.
    pub fn reset(&mut self) {
        self.pv_window.clear();
        self.volume_window.clear();
        self.pv = 0.0;
        self.volume = 0.0;
        self.with_volume = 0;
    }
}

bar_indicator!(RollingVwap, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::indicator::testkit;

    fn bar(day: u64, minute: u64, price: f64, volume: f64) -> Bar {
        Bar {
            open_ns: day * NS_PER_DAY + minute * 60_000_000_000,
            open: price,
            high: price + 1.0,
            low: price - 1.0,
            close: price,
            volume,
        }
    }

    #[test]
    fn session_restarts_at_utc_midnight() {
        let mut v = SessionVwap::new();
        assert_eq!(v.update(&bar(1, 0, 100.0, 0.0)), None);
        assert_eq!(v.update(&bar(1, 1, 100.0, 1.0)), Some(100.0));
        assert_eq!(v.update(&bar(1, 2, 130.0, 2.0)), Some(120.0));
        assert_eq!(v.update(&bar(1, 1439, 120.0, 0.0)), Some(120.0));
        assert_eq!(v.update(&bar(2, 0, 50.0, 0.0)), None);
        assert_eq!(v.update(&bar(2, 1, 50.0, 3.0)), Some(50.0));
    }

    #[test]
    fn typical_price_is_high_plus_low_plus_close_over_three() {
        let mut v = SessionVwap::new();
        let b = Bar {
            open_ns: 0,
            open: 0.1,
            high: 0.7,
            low: 0.1,
            close: 0.2,
            volume: 3.0,
        };
        assert_eq!(v.update(&b), Some((0.7 + 0.1 + 0.2) / 3.0 * 3.0 / 3.0));
    }

    #[test]
    fn rolling_window() {
        let mut v = RollingVwap::new(2);
        assert_eq!(v.update(&bar(0, 0, 100.0, 1.0)), None);
        assert_eq!(v.update(&bar(0, 1, 200.0, 1.0)), Some(150.0));
        assert_eq!(v.update(&bar(0, 2, 400.0, 3.0)), Some(350.0));
        assert_eq!(v.update(&bar(0, 3, 10.0, 0.0)), Some(400.0));
        assert_eq!(v.update(&bar(0, 4, 10.0, 0.0)), None);
        assert_eq!(v.update(&bar(0, 5, 20.0, 2.0)), Some(20.0));
    }

    #[test]
    fn contract() {
        let bars = testkit::bars(300);
        testkit::check_contract(SessionVwap::new(), &bars);
        testkit::check_hostile_input(SessionVwap::new());
        for n in [1, 3, 20] {
            testkit::check_contract(RollingVwap::new(n), &bars);
            testkit::check_hostile_input(RollingVwap::new(n));
        }
    }
}
