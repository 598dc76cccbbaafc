//! What a hot thread does when its ring is empty (or full): spin, yield, or park.
//!
//! Busy-spin gives the lowest latency on an isolated core and burns it; spin-then-yield lets
//! other threads of the core run; spin-then-park sleeps for `park_us` after a while, for
//! laptops, CI and two-core boxes where a spinning thread would starve the others. Parking is
//! a timed park with no wake-up from the producer, so the producer's hot path never makes a
//! syscall; the price is up to `park_us` of extra latency after an idle spell.

use super::sync::yield_now;

/// How a thread waits when idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin forever (isolated cores only).
    BusySpin,
    /// Spin `spins` rounds, then yield the CPU each round.
    SpinThenYield {
        /// Spin rounds before yielding.
        spins: u32,
    },
    /// Spin, then yield, then park for `park_us` microseconds each round.
    SpinThenPark {
        /// Spin rounds.
        spins: u32,
        /// Yield rounds after spinning.
        yields: u32,
        /// Park length once both are used up.
        park_us: u32,
    },
}

impl WaitStrategy {
    /// Parses `busy-spin`, `spin-then-yield` or `spin-then-park` (default counts).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "busy-spin" => Some(WaitStrategy::BusySpin),
            "spin-then-yield" => Some(WaitStrategy::SpinThenYield { spins: 1_000 }),
            "spin-then-park" => Some(WaitStrategy::SpinThenPark {
                spins: 1_000,
                yields: 100,
                park_us: 50,
            }),
            _ => None,
        }
    }

    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            WaitStrategy::BusySpin => "busy-spin",
            WaitStrategy::SpinThenYield { .. } => "spin-then-yield",
            WaitStrategy::SpinThenPark { .. } => "spin-then-park",
        }
    }
}

/// Per-thread idle state. Never allocates, never locks.
#[derive(Debug)]
pub struct Waiter {
    strategy: WaitStrategy,
    rounds: u32,
}

impl Waiter {
    /// A waiter for `strategy`.
    pub fn new(strategy: WaitStrategy) -> Self {
        Self {
            strategy,
            rounds: 0,
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// One idle round: a poll found nothing.
    #[inline]
    pub fn idle(&mut self) {
        self.rounds = self.rounds.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => spin(),
            WaitStrategy::SpinThenYield { spins } => {
                if self.rounds <= spins {
                    spin();
                } else {
                    yield_now();
                }
            }
            WaitStrategy::SpinThenPark {
                spins,
                yields,
                park_us,
            } => {
                if self.rounds <= spins {
                    spin();
                } else if self.rounds <= spins.saturating_add(yields) {
                    yield_now();
                } else {
                    park(park_us);
                }
            }
        }
    }

    /// Work was found: start the next idle spell from spinning again.
    #[inline]
    pub fn reset(&mut self) {
        self.rounds = 0;
    }
}

#[inline]
fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

fn park(us: u32) {
    #[cfg(loom)]
    {
        let _ = us;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    std::thread::park_timeout(std::time::Duration::from_micros(u64::from(us)));
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        for s in ["busy-spin", "spin-then-yield", "spin-then-park"] {
            assert_eq!(WaitStrategy::parse(s).unwrap().name(), s);
        }
        assert_eq!(WaitStrategy::parse("sleep"), None);
    }

    #[test]
    fn park_strategy_eventually_parks_and_resets() {
        let mut w = Waiter::new(WaitStrategy::SpinThenPark {
            spins: 2,
            yields: 2,
            park_us: 1,
        });
        for _ in 0..10 {
            w.idle();
        }
        assert_eq!(w.rounds, 10);
        w.reset();
        assert_eq!(w.rounds, 0);
    }
}
