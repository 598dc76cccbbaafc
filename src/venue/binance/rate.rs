//! Binance's rate limits, kept locally so that the venue never has to enforce them.
//!
//! The limits come from `exchangeInfo.rateLimits` (request weight per minute, orders per 10 s
//! and per day, raw requests per 5 minutes). Every request is counted in fixed windows aligned
//! to the epoch before it is sent, and the venue's own counts (`X-MBX-USED-WEIGHT-1M`,
//! `X-MBX-ORDER-COUNT-10S`, `X-MBX-ORDER-COUNT-1D` on every response) raise the local ones
//! when they are higher. A request that would pass `headroom_pct` of a limit is not sent: the
//! caller is told how long to wait (and may hold an order that long, or refuse it).
//! A 429 (too many requests) or 418 (IP banned) stops every request until the time the venue
//! gives in `Retry-After` (or a minute, when it gives none): sending more during a 429 is
//! what gets a key banned.

use super::filters::RateLimitSpec;

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// Request weight.
    RequestWeight,
    /// New orders.
    Orders,
    /// Requests of any kind.
    RawRequests,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    spec: RateLimitSpec,
    start_ms: u64,
    used: u64,
}

/// Why a request may not go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A local limit would be passed; the window ends in this many ms.
    Limit {
        /// Which.
        kind: LimitKind,
        /// ms until it resets.
        ms: u64,
    },
    /// The venue said 429 or 418; this many ms are left.
    BackOff {
        /// ms left.
        ms: u64,
        /// True after a 418 (banned).
        banned: bool,
    },
}

impl Wait {
    /// ms to wait.
    pub fn ms(self) -> u64 {
        match self {
            Wait::Limit { ms, .. } | Wait::BackOff { ms, .. } => ms,
        }
    }
}

/// The local count of every limit.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    windows: Vec<Window>,
    headroom_pct: u64,
    until_ms: u64,
    banned: bool,
    /// 429s and 418s seen.
    pub backoffs: u64,
}

/// How long a 429 or 418 without `Retry-After` stops requests.
const DEFAULT_RETRY_MS: u64 = 60_000;

impl RateLimiter {
    /// Limits from `exchangeInfo`; requests stop at `headroom_pct` % of each (1–100).
    pub fn new(specs: &[RateLimitSpec], headroom_pct: u64) -> Self {
        Self {
            windows: specs
                .iter()
                .map(|&spec| Window {
                    spec,
                    start_ms: 0,
                    used: 0,
                })
                .collect(),
            headroom_pct: headroom_pct.clamp(1, 100),
            until_ms: 0,
            banned: false,
            backoffs: 0,
        }
    }

    fn roll(&mut self, now_ms: u64) {
        for w in &mut self.windows {
            let start = now_ms - now_ms % w.spec.interval_ms.max(1);
            if start != w.start_ms {
                w.start_ms = start;
                w.used = 0;
            }
        }
    }

    fn cap(&self, w: &Window) -> u64 {
        (w.spec.limit * self.headroom_pct / 100).max(1)
    }

    /// Counts a request of `weight` (a new order when `order`) if every limit allows it now;
    /// otherwise counts nothing and says how long to wait.
    pub fn try_acquire(&mut self, now_ms: u64, weight: u64, order: bool) -> Result<(), Wait> {
        if now_ms < self.until_ms {
            return Err(Wait::BackOff {
                ms: self.until_ms - now_ms,
                banned: self.banned,
            });
        }
        self.roll(now_ms);
        let add = |w: &Window| match w.spec.kind {
            LimitKind::RequestWeight => weight,
            LimitKind::RawRequests => 1,
            LimitKind::Orders => u64::from(order),
        };
        for w in &self.windows {
            let n = add(w);
            if n > 0 && w.used + n > self.cap(w) {
                return Err(Wait::Limit {
                    kind: w.spec.kind,
                    ms: w.start_ms + w.spec.interval_ms - now_ms,
                });
            }
        }
        for w in &mut self.windows {
            w.used += add(w);
        }
        Ok(())
    }

    /// Takes in a response: the venue's counts from its headers (names in any case), and a
    /// back-off on 429 or 418.
    pub fn on_response(&mut self, now_ms: u64, status: u16, headers: &[(String, String)]) {
        self.roll(now_ms);
        let mut retry_after: Option<u64> = None;
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let value = value.trim();
            if name == "retry-after" {
                retry_after = value.parse::<u64>().ok();
                continue;
            }
            let (kind, suffix) = if let Some(s) = name.strip_prefix("x-mbx-used-weight-") {
                (LimitKind::RequestWeight, s)
            } else if let Some(s) = name.strip_prefix("x-mbx-order-count-") {
                (LimitKind::Orders, s)
            } else {
                continue;
            };
            let (Some(ms), Ok(n)) = (header_interval_ms(suffix), value.parse::<u64>()) else {
                continue;
            };
            for w in &mut self.windows {
                if w.spec.kind == kind && w.spec.interval_ms == ms {
                    w.used = w.used.max(n);
                }
            }
        }
        if status == 429 || status == 418 {
            self.backoffs += 1;
            // One ms more: `now_ms` is truncated, the venue counts from when it answered.
            let ms = retry_after.map_or(DEFAULT_RETRY_MS, |s| s.saturating_mul(1_000)) + 1;
            self.until_ms = self.until_ms.max(now_ms.saturating_add(ms));
            self.banned |= status == 418;
        } else if now_ms >= self.until_ms {
            self.banned = false;
        }
    }

    /// Used and allowed (after headroom) per limit, for the journal and metrics.
    pub fn usage(&self) -> Vec<(LimitKind, u64, u64, u64)> {
        self.windows
            .iter()
            .map(|w| (w.spec.kind, w.spec.interval_ms, w.used, self.cap(w)))
            .collect()
    }
}

/// `1m`, `10s`, `1d`, `1h` → ms.
fn header_interval_ms(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    let per = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    n.checked_mul(per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<RateLimitSpec> {
        vec![
            RateLimitSpec {
                kind: LimitKind::RequestWeight,
                interval_ms: 60_000,
                limit: 100,
            },
            RateLimitSpec {
                kind: LimitKind::Orders,
                interval_ms: 10_000,
                limit: 5,
            },
        ]
    }

    #[test]
    fn weight_and_orders_stop_at_the_headroom_and_reset_with_the_window() {
        let mut r = RateLimiter::new(&specs(), 90);
        let t0 = 1_700_000_020_000; // 40 s into a minute, 0 s into a 10 s window
        for _ in 0..4 {
            r.try_acquire(t0, 1, true).unwrap();
        }
        // The 5th order would pass 90 % of 5 (4).
        assert_eq!(
            r.try_acquire(t0 + 1, 1, true),
            Err(Wait::Limit {
                kind: LimitKind::Orders,
                ms: 9_999
            })
        );
        // Not an order: only weight counts.
        r.try_acquire(t0 + 1, 80, false).unwrap();
        assert!(matches!(
            r.try_acquire(t0 + 2, 10, false),
            Err(Wait::Limit {
                kind: LimitKind::RequestWeight,
                ms: 19_998
            })
        ));
        // Next 10 s window: orders again; the minute still holds the weight.
        r.try_acquire(t0 + 10_000, 1, true).unwrap();
        assert!(r.try_acquire(t0 + 10_000, 10, false).is_err());
        // Next minute.
        r.try_acquire(t0 + 20_000, 10, false).unwrap();
    }

    #[test]
    fn the_venues_counts_raise_ours_and_429_backs_off_as_told() {
        let mut r = RateLimiter::new(&specs(), 100);
        let t0 = 1_700_000_020_000;
        r.on_response(
            t0,
            200,
            &[
                ("X-MBX-USED-WEIGHT-1M".into(), "99".into()),
                ("x-mbx-order-count-10s".into(), "2".into()),
            ],
        );
        assert_eq!(r.usage()[0].2, 99);
        assert_eq!(r.usage()[1].2, 2);
        assert!(r.try_acquire(t0, 2, false).is_err());
        r.try_acquire(t0, 1, false).unwrap();
        // 429 with Retry-After: 7 → nothing for 7 s; then the minute's weight is still spent.
        r.on_response(t0 + 1, 429, &[("Retry-After".into(), "7".into())]);
        assert_eq!(
            r.try_acquire(t0 + 5_000, 1, false),
            Err(Wait::BackOff {
                ms: 2_002,
                banned: false
            })
        );
        assert_eq!(
            r.try_acquire(t0 + 7_002, 1, false),
            Err(Wait::Limit {
                kind: LimitKind::RequestWeight,
                ms: 12_998
            })
        );
        r.try_acquire(t0 + 20_000, 1, false).unwrap();
        let mut r2 = RateLimiter::new(&specs(), 100);
        r2.on_response(t0, 429, &[("Retry-After".into(), "7".into())]);
        assert_eq!(
            r2.try_acquire(t0 + 6_999, 1, false),
            Err(Wait::BackOff {
                ms: 2,
                banned: false
            })
        );
        r2.try_acquire(t0 + 7_001, 1, false).unwrap();
        // 418 without Retry-After: a minute, marked banned.
        r2.on_response(t0 + 8_000, 418, &[]);
        assert_eq!(
            r2.try_acquire(t0 + 8_000, 1, false),
            Err(Wait::BackOff {
                ms: 60_001,
                banned: true
            })
        );
        assert_eq!(r2.backoffs, 2);
        assert_eq!(header_interval_ms("10s"), Some(10_000));
        assert_eq!(header_interval_ms("x"), None);
    }
}
