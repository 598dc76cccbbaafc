//! One instrument's position, kept exactly: quantity, cost basis and realized PnL, all from
//! fills. Money here is quote currency at 10⁻¹⁶ (price × quantity, never rounded), so the
//! books balance to the last unit: `realized − cost` moves by exactly the cash each fill
//! pays or receives.

use super::Money;

/// Quantity (signed, 10⁻⁸), cost basis of the open quantity and realized PnL (10⁻¹⁶).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// Signed quantity: > 0 long, < 0 short.
    pub qty: i64,
    /// Σ signed entry value of the open quantity (negative when short). `cost / qty` is the
    /// average entry price.
    pub cost: Money,
    /// Realized PnL before fees.
    pub realized: Money,
}

/// What a fill did to the position's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Same direction, bigger or smaller.
    Kept,
    /// From flat, or through zero: a new entry.
    Entered,
    /// Back to flat.
    Flat,
}

impl Position {
    /// The quantity after a fill of `sign × qty`, or `None` if it would not fit an `i64`.
    pub fn after(&self, sign: i64, qty: i64) -> Option<i64> {
        self.qty.checked_add(sign.checked_mul(qty)?)
    }

    /// Applies a fill of `qty` (> 0) at `price` (> 0) on side `sign` (±1). The caller has
    /// checked [`Position::after`]. A reduction removes the closed share of the cost basis
    /// (rounded toward zero; the remainder leaves with the last unit, so a round trip is
    /// exact) and realizes the difference.
    pub fn fill(&mut self, sign: i64, price: i64, qty: i64) -> Change {
        let was = self.qty;
        if was == 0 || was.signum() == sign {
            self.qty += sign * qty;
            self.cost += Money::from(sign) * Money::from(price) * Money::from(qty);
            return if was == 0 {
                Change::Entered
            } else {
                Change::Kept
            };
        }
        let open = was.unsigned_abs();
        let closing = qty.unsigned_abs().min(open);
        // |cost × closing| < |cost| × 2^64 holds only for realistic books; `checked_mul`
        // keeps an absurd one from panicking (the whole basis leaves instead).
        let removed = self
            .cost
            .checked_mul(Money::from(closing))
            .map_or(self.cost, |c| c / Money::from(open));
        let paid = Money::from(sign) * Money::from(price) * Money::from(closing);
        self.realized = self.realized.wrapping_sub(paid).wrapping_sub(removed);
        self.cost -= removed;
        self.qty += sign * closing as i64;
        let rest = qty - closing as i64;
        if rest > 0 {
            self.qty += sign * rest;
            self.cost = Money::from(sign) * Money::from(price) * Money::from(rest);
            return Change::Entered;
        }
        if self.qty == 0 {
            Change::Flat
        } else {
            Change::Kept
        }
    }

    /// Average entry price (10⁻⁸), rounded toward zero; `None` when flat.
    pub fn avg_price(&self) -> Option<i64> {
        if self.qty == 0 {
            return None;
        }
        i64::try_from((self.cost / Money::from(self.qty)).abs()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = crate::core::num::SCALE;

    #[test]
    fn average_entry_and_realized() {
        let mut p = Position::default();
        assert_eq!(p.fill(1, 100 * S, S), Change::Entered);
        assert_eq!(p.fill(1, 110 * S, S), Change::Kept);
        assert_eq!(p.avg_price(), Some(105 * S));
        assert_eq!(p.fill(-1, 120 * S, S), Change::Kept);
        assert_eq!(p.realized, Money::from(15 * S) * Money::from(S));
        assert_eq!(p.avg_price(), Some(105 * S));
        // Through zero: 1 closed at 100 (−5), 2 opened short at 100.
        assert_eq!(p.fill(-1, 100 * S, 3 * S), Change::Entered);
        assert_eq!(p.qty, -2 * S);
        assert_eq!(p.realized, Money::from(10 * S) * Money::from(S));
        assert_eq!(p.avg_price(), Some(100 * S));
        assert_eq!(p.fill(1, 90 * S, 2 * S), Change::Flat);
        assert_eq!(p.realized, Money::from(30 * S) * Money::from(S));
        assert_eq!(p.cost, 0);
    }

    #[test]
    fn thirds_round_trip_exactly() {
        // 1/3 of the basis is not representable; what rounding keeps leaves with the last unit.
        let mut p = Position::default();
        p.fill(1, 100 * S + 1, 1);
        p.fill(1, 100 * S, 2);
        assert_eq!(p.cost % 3, 1);
        let mut paid: Money = Money::from(300 * S + 1);
        for _ in 0..3 {
            p.fill(-1, 100 * S + 7, 1);
            paid -= Money::from(100 * S + 7);
        }
        assert_eq!((p.qty, p.cost), (0, 0));
        assert_eq!(p.realized, -paid);
    }
}
