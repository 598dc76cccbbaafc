//! Order state machine and position accounting, owned by the risk + orders stage.
//!
//! Orders live in a fixed table indexed by client order id; every transition is checked, and a
//! report that does not fit the order's state is refused (and counted by the caller) instead of
//! corrupting positions. Positions use average-cost accounting in exact integers: quantities at
//! 10⁻⁸, money at 10⁻¹⁶ (price × quantity) in `i128`, so no fill is ever rounded.

pub mod manager;

use crate::core::num::SCALE;
use crate::core::{ExecKind, ExecReport, InstrumentId, Price, Qty, Side};

/// Order lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Sent to the venue, nothing back yet.
    Sent,
    /// Part filled, more may come.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Done with part (or none) filled; the rest was cancelled by the venue (IOC).
    Canceled,
    /// Refused by risk or the venue.
    Rejected,
}

impl OrderState {
    /// True when no further report can arrive.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Canceled | OrderState::Rejected
        )
    }

    /// CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Sent => "sent",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Canceled => "canceled",
            OrderState::Rejected => "rejected",
        }
    }
}

/// A report that does not fit the order's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// No live order with that id.
    UnknownOrder,
    /// The order is already terminal.
    AlreadyDone,
    /// More filled than ordered, or wrong side/instrument.
    Inconsistent,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    id: u64,
    instrument: InstrumentId,
    side: Side,
    qty: i64,
    filled: i64,
    state: OrderState,
}

/// Fixed-capacity table of orders by client id.
pub struct OrderTable {
    slots: Vec<Option<Slot>>,
    open: usize,
}

impl OrderTable {
    /// Room for `capacity` orders in flight (rounded up to a power of two).
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: vec![None; capacity.max(2).next_power_of_two()],
            open: 0,
        }
    }

    fn idx(&self, id: u64) -> usize {
        (id as usize) & (self.slots.len() - 1)
    }

    /// Records a sent order. Returns false (and refuses it) if its slot still holds a live order.
    pub fn insert(&mut self, id: u64, instrument: InstrumentId, side: Side, qty: Qty) -> bool {
        let i = self.idx(id);
        if let Some(s) = self.slots[i] {
            if !s.state.is_terminal() {
                return false;
            }
        }
        self.slots[i] = Some(Slot {
            id,
            instrument,
            side,
            qty: qty.0,
            filled: 0,
            state: OrderState::Sent,
        });
        self.open += 1;
        true
    }

    /// Applies a report; returns the new state.
    pub fn apply(&mut self, r: &ExecReport) -> Result<OrderState, TransitionError> {
        let i = self.idx(r.client_order_id);
        let slot = match &mut self.slots[i] {
            Some(s) if s.id == r.client_order_id => s,
            _ => return Err(TransitionError::UnknownOrder),
        };
        if slot.state.is_terminal() {
            return Err(TransitionError::AlreadyDone);
        }
        if slot.side != r.side || slot.instrument != r.instrument {
            return Err(TransitionError::Inconsistent);
        }
        let next = match r.kind {
            ExecKind::Rejected(_) if slot.filled == 0 => OrderState::Rejected,
            ExecKind::Rejected(_) => OrderState::Canceled,
            ExecKind::Fill => {
                let filled = slot.filled.saturating_add(r.qty.0);
                if r.qty.0 < 0 || filled > slot.qty {
                    return Err(TransitionError::Inconsistent);
                }
                slot.filled = filled;
                if filled == slot.qty {
                    OrderState::Filled
                } else if r.done {
                    OrderState::Canceled
                } else {
                    OrderState::PartiallyFilled
                }
            }
        };
        slot.state = next;
        if next.is_terminal() {
            self.open -= 1;
        }
        Ok(next)
    }

    /// Orders not yet terminal.
    pub fn open_orders(&self) -> usize {
        self.open
    }

    /// State of an order still in the table.
    pub fn state(&self, id: u64) -> Option<OrderState> {
        match self.slots[self.idx(id)] {
            Some(s) if s.id == id => Some(s.state),
            _ => None,
        }
    }

    /// Quantity of a live order not yet filled (signed by side), for exposure checks.
    pub fn remaining(&self, id: u64) -> i64 {
        match self.slots[self.idx(id)] {
            Some(s) if s.id == id && !s.state.is_terminal() => (s.qty - s.filled) * s.side.sign(),
            _ => 0,
        }
    }
}

/// Position in one instrument with average-cost PnL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed quantity (10⁻⁸).
    pub qty: i64,
    /// Signed cost of the open quantity, price × qty (10⁻¹⁶).
    pub cost: i128,
    /// Realized PnL (10⁻¹⁶).
    pub realized: i128,
    /// Fees paid (10⁻⁸ quote).
    pub fees: i64,
}

impl Position {
    /// Applies a fill of `qty` (> 0) on `side` at `price`.
    pub fn fill(&mut self, side: Side, price: Price, qty: Qty, fee: i64) {
        let signed = qty.0 * side.sign();
        let px = i128::from(price.0);
        self.fees = self.fees.saturating_add(fee);
        if self.qty == 0 || self.qty.signum() == signed.signum() {
            self.cost += px * i128::from(signed);
            self.qty += signed;
            return;
        }
        // Reducing (and maybe flipping): close at average cost first.
        let closing = signed.abs().min(self.qty.abs());
        let avg_cost_closed = self.cost * i128::from(closing) / i128::from(self.qty.abs());
        let proceeds = px * i128::from(closing) * i128::from(self.qty.signum());
        self.realized += proceeds - avg_cost_closed;
        self.cost -= avg_cost_closed;
        self.qty += signed;
        let opening = signed.abs() - closing;
        if opening > 0 {
            self.cost = px * i128::from(opening) * i128::from(signed.signum());
        } else if self.qty == 0 {
            self.cost = 0;
        }
    }

    /// Unrealized PnL at `mark` (10⁻¹⁶).
    pub fn unrealized(&self, mark: Price) -> i128 {
        i128::from(mark.0) * i128::from(self.qty) - self.cost
    }
}

/// 10⁻¹⁶ money → 10⁻⁸, rounding toward zero, saturating.
pub fn money_to_scaled(v: i128) -> i64 {
    (v / i128::from(SCALE)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{InstrumentId, RejectReason};

    const S: i64 = SCALE;

    fn report(id: u64, side: Side, kind: ExecKind, qty: i64, done: bool) -> ExecReport {
        ExecReport {
            client_order_id: id,
            instrument: InstrumentId(0),
            side,
            kind,
            price: Price(100 * S),
            qty: Qty(qty),
            fee: 0,
            done,
            market_ns: 0,
        }
    }

    #[test]
    fn state_machine_transitions() {
        let mut t = OrderTable::new(4);
        assert!(t.insert(1, InstrumentId(0), Side::Buy, Qty(10)));
        assert_eq!(t.remaining(1), 10);
        assert_eq!(
            t.apply(&report(1, Side::Buy, ExecKind::Fill, 4, false)),
            Ok(OrderState::PartiallyFilled)
        );
        assert_eq!(t.remaining(1), 6);
        assert_eq!(
            t.apply(&report(1, Side::Buy, ExecKind::Fill, 6, true)),
            Ok(OrderState::Filled)
        );
        assert_eq!(t.open_orders(), 0);
        assert_eq!(
            t.apply(&report(1, Side::Buy, ExecKind::Fill, 1, true)),
            Err(TransitionError::AlreadyDone)
        );
        assert_eq!(
            t.apply(&report(9, Side::Buy, ExecKind::Fill, 1, true)),
            Err(TransitionError::UnknownOrder)
        );
        assert!(t.insert(2, InstrumentId(0), Side::Sell, Qty(5)));
        assert_eq!(
            t.apply(&report(2, Side::Buy, ExecKind::Fill, 1, true)),
            Err(TransitionError::Inconsistent)
        );
        assert_eq!(
            t.apply(&report(2, Side::Sell, ExecKind::Fill, 6, true)),
            Err(TransitionError::Inconsistent)
        );
        assert_eq!(
            t.apply(&report(2, Side::Sell, ExecKind::Fill, 2, true)),
            Ok(OrderState::Canceled)
        );
        assert!(t.insert(3, InstrumentId(0), Side::Sell, Qty(5)));
        assert_eq!(
            t.apply(&report(
                3,
                Side::Sell,
                ExecKind::Rejected(RejectReason::NoLiquidity),
                0,
                true
            )),
            Ok(OrderState::Rejected)
        );
        // Slot reuse: id 7 maps onto 3's slot, which is terminal, so it is free.
        assert!(t.insert(7, InstrumentId(0), Side::Buy, Qty(1)));
        assert!(
            !t.insert(11, InstrumentId(0), Side::Buy, Qty(1)),
            "slot of live order 7 must not be reused"
        );
    }

    #[test]
    fn average_cost_pnl() {
        let mut p = Position::default();
        p.fill(Side::Buy, Price(100 * S), Qty(2 * S), 0);
        p.fill(Side::Buy, Price(110 * S), Qty(2 * S), 0);
        // avg 105; sell 1 at 120 → +15
        p.fill(Side::Sell, Price(120 * S), Qty(S), 0);
        assert_eq!(money_to_scaled(p.realized), 15 * S);
        assert_eq!(p.qty, 3 * S);
        // flip: sell 5 at 100 → closes 3 at avg 105 (−15), opens short 2 at 100
        p.fill(Side::Sell, Price(100 * S), Qty(5 * S), 0);
        assert_eq!(money_to_scaled(p.realized), 0);
        assert_eq!(p.qty, -2 * S);
        assert_eq!(money_to_scaled(p.unrealized(Price(90 * S))), 20 * S);
        p.fill(Side::Buy, Price(90 * S), Qty(2 * S), 0);
        assert_eq!(p.qty, 0);
        assert_eq!(p.cost, 0);
        assert_eq!(money_to_scaled(p.realized), 20 * S);
    }

    proptest::proptest! {
        #[test]
        fn realized_plus_unrealized_equals_cash_flow(
            fills in proptest::collection::vec((proptest::bool::ANY, 1i64..1_000, 1i64..100), 1..50),
            mark in 1i64..1_000,
        ) {
            let mut p = Position::default();
            let mut cash: i128 = 0;
            for (buy, px, q) in fills {
                let side = if buy { Side::Buy } else { Side::Sell };
                let (px, q) = (Price(px * S), Qty(q * S));
                cash -= i128::from(px.0) * i128::from(q.0) * i128::from(side.sign());
                p.fill(side, px, q, 0);
            }
            let mark = Price(mark * S);
            let equity = cash + i128::from(mark.0) * i128::from(p.qty);
            // Integer division in partial closes may lose < 1 unit of 10⁻¹⁶ per fill.
            let diff = (p.realized + p.unrealized(mark) - equity).abs();
            proptest::prop_assert!(diff <= 64, "diff {}", diff);
            // Model-free check: once flat, whatever the method, everything is realized and
            // realized PnL is exactly the cash that flowed (no cost basis left behind).
            if p.qty != 0 {
                let side = if p.qty > 0 { Side::Sell } else { Side::Buy };
                cash -= i128::from(mark.0) * i128::from(p.qty.abs()) * i128::from(side.sign());
                p.fill(side, mark, Qty(p.qty.abs()), 0);
            }
            proptest::prop_assert_eq!(p.qty, 0);
            proptest::prop_assert_eq!(p.cost, 0);
            proptest::prop_assert!((p.realized - cash).abs() <= 64, "realized {} cash {}", p.realized, cash);
        }
    }
}
