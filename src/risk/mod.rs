//! Risk + orders: signals → checked orders; execution reports → positions.
//!
//! Every order passes pre-trade checks before it leaves: kill switch, a known market, a
//! non-zero lot-rounded quantity, the per-instrument position limit counting orders still in
//! flight (so two quick signals cannot together exceed it), and the maximum order notional.
//! An order refused here still travels to the venue edge, marked, so one thread writes every
//! order row in one deterministic order.
//!
//! Market orders only for now. Tables are sized at start; nothing allocates after.

pub mod engine;

use std::sync::Arc;

use crate::core::cold::{ColdRecord, ColdTx};
use crate::core::config::Config;
use crate::core::num::notional;
use crate::core::stats::{AnomalyKind, LaneStats};
use crate::core::{
    Envelope, ExecKind, ExecReport, InstrumentTable, OrderRequest, OrderType, Payload, Price, Qty,
    RejectReason, Side, Signal, Sink,
};
use crate::orders::{money_to_scaled, OrderTable, Position};

#[derive(Clone, Copy, Default)]
struct Limits {
    order_qty: i64,
    max_position: i64,
    lot: i64,
}

#[derive(Clone, Copy, Default)]
struct Market {
    bid: Price,
    ask: Price,
    last: Price,
}

impl Market {
    fn mark(&self) -> Price {
        if self.bid.0 > 0 && self.ask.0 > 0 {
            Price((self.bid.0 + self.ask.0) / 2)
        } else {
            self.last
        }
    }
}

/// The risk + orders stage.
pub struct RiskStage {
    limits: Vec<Limits>,
    markets: Vec<Market>,
    positions: Vec<Position>,
    pending: Vec<i64>,
    orders: OrderTable,
    next_id: u64,
    max_order_notional: i64,
    kill_switch: bool,
    cash: i128,
    realized: i128,
    fees: i64,
    last_market_ns: u64,
    /// One past the highest instrument index ever traded: snapshots scan only `..active`.
    active: usize,
    last_equity_sec: u64,
    stats: Arc<LaneStats>,
    cold: ColdTx,
}

impl RiskStage {
    /// Limits from the config for every configured instrument; instruments added later by an
    /// auto-instrument replay get order size 0 and are never traded.
    pub fn new(cfg: &Config, table: &InstrumentTable, stats: Arc<LaneStats>, cold: ColdTx) -> Self {
        let n = table.capacity();
        let mut limits = vec![Limits::default(); n];
        for spec in &cfg.instruments {
            if let Some(id) = table.lookup(spec.instrument.symbol.as_bytes()) {
                limits[id.index()] = Limits {
                    order_qty: spec.order_qty,
                    max_position: spec.max_position,
                    lot: spec.instrument.lot,
                };
            }
        }
        Self {
            limits,
            markets: vec![Market::default(); n],
            positions: vec![Position::default(); n],
            pending: vec![0; n],
            orders: OrderTable::new(1024),
            next_id: 1,
            max_order_notional: cfg.risk.max_order_notional,
            kill_switch: cfg.risk.kill_switch,
            cash: 0,
            realized: 0,
            fees: 0,
            last_market_ns: 0,
            active: 0,
            last_equity_sec: 0,
            stats,
            cold,
        }
    }

    /// Orders sent and not yet finished by the venue.
    pub fn in_flight(&self) -> usize {
        self.orders.open_orders()
    }

    /// Positions per instrument id.
    pub fn position(&self, i: usize) -> Option<Position> {
        self.positions.get(i).copied()
    }

    /// Engages or releases the kill switch.
    pub fn set_kill_switch(&mut self, on: bool) {
        self.kill_switch = on;
    }

    /// Handles one event: updates marks, turns signals into orders, forwards what the venue needs.
    #[inline]
    pub fn on_event(&mut self, env: &Envelope, out: &mut impl Sink<Envelope>) {
        match env.payload {
            Payload::Trade(t) => {
                if let Some(m) = self.markets.get_mut(t.instrument.index()) {
                    m.last = t.price;
                }
                out.emit(*env);
            }
            Payload::BookTicker(b) => {
                if let Some(m) = self.markets.get_mut(b.instrument.index()) {
                    m.bid = b.bid_px;
                    m.ask = b.ask_px;
                }
                out.emit(*env);
            }
            Payload::Signal(s) => {
                if let Some(order) = self.decide(&s) {
                    out.emit(Envelope {
                        payload: Payload::Order(order),
                        ..*env
                    });
                }
            }
            _ => {}
        }
        self.last_market_ns = self.last_market_ns.max(env.market_ns);
        let sec = env.market_ns / 1_000_000_000;
        if sec > self.last_equity_sec {
            self.last_equity_sec = sec;
            self.snapshot(env.market_ns);
        }
    }

    fn decide(&mut self, s: &Signal) -> Option<OrderRequest> {
        let i = s.instrument.index();
        let (lim, mkt) = (*self.limits.get(i)?, *self.markets.get(i)?);
        let pos = self.positions[i].qty;
        let exposure = pos + self.pending[i];
        let target = i64::from(s.direction) * lim.order_qty;
        let delta = target - exposure;
        if delta == 0 {
            return None;
        }
        let side = if delta > 0 { Side::Buy } else { Side::Sell };
        let lot = lim.lot.max(1);
        let qty = Qty(delta.abs() / lot * lot);
        let price = match side {
            Side::Buy if mkt.ask.0 > 0 => mkt.ask,
            Side::Sell if mkt.bid.0 > 0 => mkt.bid,
            _ => mkt.last,
        };
        let reject = if self.kill_switch {
            Some(RejectReason::KillSwitch)
        } else if price.0 <= 0 {
            Some(RejectReason::NoMarket)
        } else if qty.0 == 0 {
            Some(RejectReason::ZeroQty)
        } else if (exposure + qty.0 * side.sign()).abs() > lim.max_position {
            Some(RejectReason::MaxPosition)
        } else if notional(price, qty) > i128::from(self.max_order_notional) {
            Some(RejectReason::MaxNotional)
        } else {
            None
        };
        let id = self.next_id;
        self.next_id += 1;
        let order = OrderRequest {
            client_order_id: id,
            instrument: s.instrument,
            side,
            order_type: OrderType::Market,
            price,
            qty,
            risk_reject: reject,
        };
        if reject.is_some() || !self.orders.insert(id, s.instrument, side, qty) {
            self.stats.risk.rejected.inc();
            return Some(OrderRequest {
                risk_reject: reject.or(Some(RejectReason::MaxPosition)),
                ..order
            });
        }
        self.pending[i] += qty.0 * side.sign();
        self.stats.risk.orders.inc();
        Some(order)
    }

    /// Applies an execution report from the venue.
    pub fn on_exec(&mut self, r: &ExecReport) {
        let i = r.instrument.index();
        let before = self.orders.remaining(r.client_order_id);
        match self.orders.apply(r) {
            Ok(_) => {}
            Err(_) => {
                self.stats.risk.bad_reports.inc();
                self.cold.send(
                    ColdRecord::Anomaly {
                        source: crate::core::cold::NO_SOURCE,
                        market_ns: r.market_ns,
                        kind: AnomalyKind::OrderState,
                        instrument: Some(r.instrument),
                        seq: r.client_order_id,
                        expected: 0,
                        got: r.qty.0,
                    },
                    &self.stats.cold_drops[5],
                );
                return;
            }
        }
        let after = self.orders.remaining(r.client_order_id);
        if let Some(p) = self.pending.get_mut(i) {
            *p -= before - after;
        }
        if let (ExecKind::Fill, Some(pos)) = (r.kind, self.positions.get_mut(i)) {
            let realized_before = pos.realized;
            pos.fill(r.side, r.price, r.qty, r.fee);
            self.realized += pos.realized - realized_before;
            self.fees = self.fees.saturating_add(r.fee);
            self.active = self.active.max(i + 1);
            self.cash -= i128::from(r.price.0) * i128::from(r.qty.0) * i128::from(r.side.sign());
            self.stats.risk.fills.inc();
            self.stats.risk.realized.set(money_to_scaled(self.realized));
            self.stats.risk.fees.set(self.fees);
        }
    }

    /// Writes the closing account snapshot (the last fills and marks since the last
    /// once-a-second snapshot). Called once when the thread stops.
    pub fn finish(&mut self) {
        if self.last_market_ns > 0 {
            self.snapshot(self.last_market_ns);
        }
    }

    fn snapshot(&mut self, market_ns: u64) {
        let mut value: i128 = 0;
        let mut unrealized: i128 = 0;
        let n = self.active;
        for (p, m) in self.positions[..n].iter().zip(self.markets[..n].iter()) {
            if p.qty != 0 {
                value += i128::from(m.mark().0) * i128::from(p.qty);
                unrealized += p.unrealized(m.mark());
            }
        }
        self.stats.risk.unrealized.set(money_to_scaled(unrealized));
        self.cold.send(
            ColdRecord::Equity {
                market_ns,
                cash: money_to_scaled(self.cash).saturating_sub(self.fees),
                position_value: money_to_scaled(value),
            },
            &self.stats.cold_drops[5],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::ConfigSource;
    use crate::core::{BookTicker, InstrumentId};
    use crate::ring::channel;

    const S: i64 = crate::core::num::SCALE;

    fn env(payload: Payload) -> Envelope {
        Envelope::at(0, payload)
    }

    fn setup(sets: &[&str]) -> RiskStage {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let cfg = Config::load(ConfigSource::Default, &sets, &[0, 1]).unwrap();
        let table = cfg.instrument_table();
        let (tx, rx) = channel(1024).unwrap();
        std::mem::forget(rx);
        RiskStage::new(
            &cfg,
            &table,
            Arc::new(LaneStats::default()),
            ColdTx::new(tx),
        )
    }

    fn book(bid: i64, ask: i64) -> Envelope {
        env(Payload::BookTicker(BookTicker {
            instrument: InstrumentId(0),
            update_id: 1,
            bid_px: Price(bid * S),
            bid_qty: Qty(S),
            ask_px: Price(ask * S),
            ask_qty: Qty(S),
            source: 0,
            event_ns: 0,
        }))
    }

    fn signal(direction: i8) -> Envelope {
        env(Payload::Signal(Signal {
            instrument: InstrumentId(0),
            strategy: 0,
            direction,
            ref_price: Price(100 * S),
        }))
    }

    fn orders(out: &[Envelope]) -> Vec<OrderRequest> {
        out.iter()
            .filter_map(|e| match e.payload {
                Payload::Order(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn no_market_is_refused() {
        let mut r = setup(&[]);
        let mut out = Vec::new();
        r.on_event(&signal(1), &mut out);
        let o = orders(&out);
        assert_eq!(o[0].risk_reject, Some(RejectReason::NoMarket));
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn pending_counts_toward_the_position_limit() {
        // order_qty 0.01 BTC, max_position 0.05: long then short flips 0.02 each time.
        let mut r = setup(&[]);
        let mut out = Vec::new();
        r.on_event(&book(60_000, 60_001), &mut out);
        r.on_event(&signal(1), &mut out);
        r.on_event(&signal(-1), &mut out);
        let o = orders(&out);
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].side, o[0].qty), (Side::Buy, Qty(S / 100)));
        // Exposure counts the unfilled buy: target −0.01 needs a 0.02 sell.
        assert_eq!((o[1].side, o[1].qty), (Side::Sell, Qty(2 * S / 100)));
        assert_eq!(o[0].price, Price(60_001 * S));
        assert_eq!(r.in_flight(), 2);
    }

    #[test]
    fn notional_and_kill_switch() {
        let mut r = setup(&["risk.max_order_notional='100'"]);
        let mut out = Vec::new();
        r.on_event(&book(60_000, 60_001), &mut out);
        r.on_event(&signal(1), &mut out);
        assert_eq!(orders(&out)[0].risk_reject, Some(RejectReason::MaxNotional));
        r.set_kill_switch(true);
        r.on_event(&signal(-1), &mut out);
        assert_eq!(orders(&out)[1].risk_reject, Some(RejectReason::KillSwitch));
    }

    #[test]
    fn fills_update_position_and_release_pending() {
        let mut r = setup(&[]);
        let mut out = Vec::new();
        r.on_event(&book(60_000, 60_001), &mut out);
        r.on_event(&signal(1), &mut out);
        let o = orders(&out)[0];
        let fill = ExecReport {
            client_order_id: o.client_order_id,
            instrument: o.instrument,
            side: o.side,
            kind: ExecKind::Fill,
            price: o.price,
            qty: o.qty,
            fee: 0,
            done: true,
            market_ns: 0,
        };
        r.on_exec(&fill);
        assert_eq!(r.in_flight(), 0);
        assert_eq!(r.position(0).unwrap().qty, S / 100);
        // Same direction again: already at target, nothing to do.
        out.clear();
        r.on_event(&signal(1), &mut out);
        assert!(orders(&out).is_empty());
        // A duplicate report is refused, not double-counted.
        r.on_exec(&fill);
        assert_eq!(r.position(0).unwrap().qty, S / 100);
    }
}
