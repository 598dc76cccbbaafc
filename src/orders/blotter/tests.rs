use std::collections::{HashMap, HashSet};

use super::*;
use crate::core::alloc::thread_allocations;
use crate::core::num::SCALE;
use crate::core::order::Liquidity;

const S: i64 = SCALE;
const MS: u64 = 1_000_000;
const I0: InstrumentId = InstrumentId(0);
const T0: u64 = 1_700_000_000_000_000_000;

fn rules(edit: impl FnOnce(&mut OrderPolicy)) -> OrderRules {
    let mut p = OrderPolicy::default();
    edit(&mut p);
    p.validate().unwrap()
}

fn manager(rules: OrderRules, capacity: usize) -> Blotter {
    Blotter::new(rules, capacity, 4, 7).unwrap()
}

fn intent(side: Side, order_type: OrderType, price: i64, qty: i64) -> OrderIntent {
    OrderIntent {
        instrument: I0,
        strategy: 0,
        side,
        order_type,
        price: Price(price * S),
        qty: Qty(qty * S),
        tif: TimeInForce::Gtc,
        purpose: Purpose::Open,
        decided_ns: T0,
    }
}

fn buy(price: i64, qty: i64) -> OrderIntent {
    intent(Side::Buy, OrderType::Limit, price, qty)
}

/// A report for order `id` with its own instrument and side (buy / instrument 0 if unknown).
fn report(m: &Blotter, id: u64, exec: ExecType, qty: i64, leaves: i64) -> Execution {
    let (instrument, side) = m
        .order(id)
        .map_or((I0, Side::Buy), |v| (v.intent.instrument, v.intent.side));
    Execution {
        client_order_id: id,
        instrument,
        side,
        exec,
        price: Price(100 * S),
        qty: Qty(qty * S),
        leaves: Qty(leaves * S),
        fee: 0,
        liquidity: Liquidity::Maker,
        market_ns: T0,
    }
}

fn ack(m: &Blotter, id: u64) -> Execution {
    report(m, id, ExecType::Ack, 0, 0)
}

fn fill(m: &Blotter, id: u64, qty: i64, leaves: i64) -> Execution {
    report(m, id, ExecType::Fill, qty, leaves)
}

fn status_of(m: &Blotter, id: u64, exec: ExecType) -> Execution {
    report(m, id, exec, 0, 0)
}

fn journal(out: &[OrderEvent]) -> Vec<(u64, OrderStatus, OrderStatus, Reason)> {
    out.iter()
        .filter_map(|e| match e {
            OrderEvent::Transition(t) => Some((t.client_order_id, t.from, t.to, t.reason)),
            _ => None,
        })
        .collect()
}

fn places(out: &[OrderEvent]) -> Vec<Routed> {
    out.iter()
        .filter_map(|e| match e {
            OrderEvent::Place(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn cancels(out: &[OrderEvent]) -> Vec<RoutedCancel> {
    out.iter()
        .filter_map(|e| match e {
            OrderEvent::Cancel(c) => Some(*c),
            _ => None,
        })
        .collect()
}

use OrderStatus::*;

// ---------------------------------------------------------------------------------------------
// States and edges

#[test]
fn status_names_match_orders_csv() {
    let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "new",
            "sent",
            "acked",
            "partially_filled",
            "filled",
            "cancelled",
            "rejected",
            "expired"
        ]
    );
    let terminal: Vec<OrderStatus> = OrderStatus::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(terminal, [Filled, Cancelled, Rejected, Expired]);
}

#[test]
fn edge_list_is_exactly_the_diagram() {
    let edges: HashSet<(OrderStatus, OrderStatus)> = [
        (New, Sent),
        (New, Cancelled),
        (Sent, Acked),
        (Sent, PartiallyFilled),
        (Sent, Filled),
        (Sent, Cancelled),
        (Sent, Rejected),
        (Sent, Expired),
        (Acked, PartiallyFilled),
        (Acked, Filled),
        (Acked, Cancelled),
        (Acked, Expired),
        (PartiallyFilled, PartiallyFilled),
        (PartiallyFilled, Filled),
        (PartiallyFilled, Cancelled),
        (PartiallyFilled, Expired),
    ]
    .into_iter()
    .collect();
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            assert_eq!(
                from.can_move_to(to),
                edges.contains(&(from, to)),
                "{from:?} -> {to:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Legal transitions

#[test]
fn submit_assigns_id_records_new_to_sent_and_emits_the_order() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let it = buy(100, 2);
    let id = m.submit(it, T0, &mut out).unwrap();
    assert_eq!(id >> 48, 7, "epoch in the top bits");
    assert_eq!(
        out[0],
        OrderEvent::Place(Routed {
            venue: 0,
            order: VenueOrder {
                client_order_id: id,
                intent: it,
                sent_ns: T0
            }
        })
    );
    assert_eq!(journal(&out), [(id, New, Sent, Reason::Submit)]);
    assert_eq!(m.state(id), Some(Sent));
    assert_eq!(m.in_flight(I0, Side::Buy), Qty(2 * S));
    assert_eq!(m.in_flight(I0, Side::Sell), Qty::ZERO);
    assert_eq!(m.open_orders(I0), 1);
    assert_eq!(m.open_ids(I0).collect::<Vec<_>>(), [id]);
    assert_eq!(m.counters().submitted, 1);
}

#[test]
fn ack_partial_fills_then_filled() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    out.clear();
    let a = m.on_execution(&ack(&m, id), T0 + 1, &mut out).unwrap();
    assert_eq!(a.status, Acked);
    let a = m
        .on_execution(&fill(&m, id, 3, 7), T0 + 2, &mut out)
        .unwrap();
    assert_eq!((a.status, a.fill), (PartiallyFilled, Qty(3 * S)));
    assert_eq!(m.in_flight(I0, Side::Buy), Qty(7 * S));
    let a = m
        .on_execution(&fill(&m, id, 4, 3), T0 + 3, &mut out)
        .unwrap();
    assert_eq!((a.status, a.fill), (PartiallyFilled, Qty(4 * S)));
    let a = m
        .on_execution(&fill(&m, id, 3, 0), T0 + 4, &mut out)
        .unwrap();
    assert_eq!((a.status, a.fill), (Filled, Qty(3 * S)));
    assert_eq!(
        journal(&out),
        [
            (id, Sent, Acked, Reason::Ack),
            (id, Acked, PartiallyFilled, Reason::Fill),
            (id, PartiallyFilled, PartiallyFilled, Reason::Fill),
            (id, PartiallyFilled, Filled, Reason::Fill),
        ]
    );
    assert_eq!(m.order(id).unwrap().filled, Qty(10 * S));
    assert_eq!(m.in_flight(I0, Side::Buy), Qty::ZERO);
    assert_eq!(m.open_orders(I0), 0);
    assert_eq!(m.live(), 0);
}

#[test]
fn fill_before_ack_implies_the_ack() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    let a = m.on_execution(&fill(&m, id, 4, 6), T0, &mut out).unwrap();
    assert_eq!(a.status, PartiallyFilled);
    assert_eq!(
        m.on_execution(&ack(&m, id), T0, &mut out),
        Err(Refusal::Duplicate)
    );
    // A one-shot full fill straight from Sent.
    let id2 = m.submit(buy(100, 1), T0, &mut out).unwrap();
    let a = m.on_execution(&fill(&m, id2, 1, 0), T0, &mut out).unwrap();
    assert_eq!(a.status, Filled);
}

#[test]
fn sent_and_acked_orders_expire_and_cancel() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let a = m.submit(buy(100, 1), T0, &mut out).unwrap();
    let b = m.submit(buy(100, 1), T0, &mut out).unwrap();
    let c = m.submit(buy(100, 3), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, b), T0, &mut out).unwrap();
    m.on_execution(&fill(&m, c, 1, 2), T0, &mut out).unwrap();
    out.clear();
    let e = m
        .on_execution(&status_of(&m, a, ExecType::Expired), T0, &mut out)
        .unwrap();
    assert_eq!(e.status, Expired);
    m.on_execution(&status_of(&m, b, ExecType::Expired), T0, &mut out)
        .unwrap();
    // An unsolicited cancel (the rest of an IOC) is journaled as the venue's.
    m.on_execution(&status_of(&m, c, ExecType::Cancelled), T0, &mut out)
        .unwrap();
    assert_eq!(
        journal(&out),
        [
            (a, Sent, Expired, Reason::Expired),
            (b, Acked, Expired, Reason::Expired),
            (c, PartiallyFilled, Cancelled, Reason::VenueCancel),
        ]
    );
    assert_eq!(m.order(c).unwrap().filled, Qty(S));
    assert_eq!(m.in_flight(I0, Side::Buy), Qty::ZERO);
}

#[test]
fn final_rejects_are_terminal_and_not_retried() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    for why in [
        VenueReject::NoLiquidity,
        VenueReject::WouldCross,
        VenueReject::UnknownOrder,
        VenueReject::Other,
    ] {
        out.clear();
        let id = m.submit(buy(100, 1), T0, &mut out).unwrap();
        out.clear();
        let r = m
            .on_execution(&status_of(&m, id, ExecType::Rejected(why)), T0, &mut out)
            .unwrap();
        assert_eq!(r.status, Rejected);
        assert_eq!(journal(&out), [(id, Sent, Rejected, Reason::Rejected(why))]);
        assert_eq!(Reason::Rejected(why).as_str(), why.as_str());
        assert!(places(&out).is_empty());
        assert_eq!(m.latest(id), Some(id));
    }
    assert_eq!(m.counters().retries, 0);
}

// ---------------------------------------------------------------------------------------------
// Refused reports

#[test]
fn illegal_unknown_and_malformed_reports_are_refused_and_counted() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    let before = m.order(id).unwrap();
    out.clear();
    let cases: Vec<(Execution, Refusal)> = vec![
        (ack(&m, id ^ (1 << 20)), Refusal::Unknown),
        (ack(&m, 0), Refusal::Unknown),
        (
            Execution {
                side: Side::Sell,
                ..fill(&m, id, 1, 9)
            },
            Refusal::Mismatch,
        ),
        (
            Execution {
                instrument: InstrumentId(1),
                ..fill(&m, id, 1, 9)
            },
            Refusal::Mismatch,
        ),
        (fill(&m, id, 0, 10), Refusal::Malformed),
        (fill(&m, id, -1, 9), Refusal::Malformed),
        (fill(&m, id, 1, -1), Refusal::Malformed),
        (fill(&m, id, 1, 11), Refusal::Malformed),
        (fill(&m, id, 5, 8), Refusal::Malformed), // 5 filled but cumulative only 2
        (fill(&m, id, 11, 0), Refusal::Malformed),
        (ack(&m, id), Refusal::Duplicate),
        (
            status_of(&m, id, ExecType::Rejected(VenueReject::Other)),
            Refusal::Illegal,
        ),
    ];
    for (e, want) in &cases {
        assert_eq!(m.on_execution(e, T0, &mut out), Err(*want), "{e:?}");
    }
    assert!(out.is_empty(), "a refused report emits nothing");
    assert_eq!(m.order(id).unwrap(), before);
    assert_eq!(m.counters().refused(Refusal::Unknown), 2);
    assert_eq!(m.counters().refused(Refusal::Mismatch), 2);
    assert_eq!(m.counters().refused(Refusal::Malformed), 6);
    assert_eq!(m.counters().refused(Refusal::Duplicate), 1);
    assert_eq!(m.counters().refused(Refusal::Illegal), 1);
    assert_eq!(m.counters().refused_total(), cases.len() as u64);

    // Overfill: 6 filled, a fill of 5 with the rest 0 is more than the 4 left.
    m.on_execution(&fill(&m, id, 6, 4), T0, &mut out).unwrap();
    assert_eq!(
        m.on_execution(&fill(&m, id, 5, 0), T0, &mut out),
        Err(Refusal::Overfill)
    );
    m.on_execution(&fill(&m, id, 4, 0), T0, &mut out).unwrap();
    // After Filled: a repeated fill is a duplicate, anything else stale.
    assert_eq!(
        m.on_execution(&fill(&m, id, 4, 0), T0, &mut out),
        Err(Refusal::Duplicate)
    );
    assert_eq!(
        m.on_execution(&ack(&m, id), T0, &mut out),
        Err(Refusal::Duplicate)
    );
    for e in [
        ExecType::Cancelled,
        ExecType::Expired,
        ExecType::Rejected(VenueReject::Other),
    ] {
        assert_eq!(
            m.on_execution(&status_of(&m, id, e), T0, &mut out),
            Err(Refusal::Stale)
        );
    }
    assert_eq!(m.state(id), Some(Filled));
    assert_eq!(m.counters().refused(Refusal::Overfill), 1);
}

#[test]
fn reports_on_cancelled_orders_are_stale_or_late_fills() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_execution(&fill(&m, id, 2, 8), T0, &mut out).unwrap();
    m.cancel(id, T0, &mut out);
    m.on_execution(&status_of(&m, id, ExecType::Cancelled), T0, &mut out)
        .unwrap();
    out.clear();
    assert_eq!(
        m.on_execution(&ack(&m, id), T0, &mut out),
        Err(Refusal::Stale)
    );
    assert_eq!(
        m.on_execution(&fill(&m, id, 2, 8), T0, &mut out),
        Err(Refusal::Duplicate)
    );
    assert_eq!(
        m.on_execution(&fill(&m, id, 1, 7), T0, &mut out),
        Err(Refusal::LateFill)
    );
    assert_eq!(
        m.on_execution(&status_of(&m, id, ExecType::Expired), T0, &mut out),
        Err(Refusal::Stale)
    );
    assert!(out.is_empty());
    assert_eq!(m.order(id).unwrap().filled, Qty(2 * S));
    assert_eq!(m.counters().refused(Refusal::LateFill), 1);
}

#[test]
fn reordered_fills_follow_the_venues_cumulative() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    let first = fill(&m, id, 3, 7);
    let second = fill(&m, id, 3, 4);
    // The second fill overtakes the first: it carries both (cumulative 6).
    let a = m.on_execution(&second, T0, &mut out).unwrap();
    assert_eq!(a.fill, Qty(6 * S));
    assert_eq!(m.counters().fill_gaps, 1);
    assert_eq!(
        m.on_execution(&first, T0, &mut out),
        Err(Refusal::Duplicate)
    );
    assert_eq!(m.order(id).unwrap().filled, Qty(6 * S));
    assert_eq!(m.in_flight(I0, Side::Buy), Qty(4 * S));
}

/// Every report kind, applied twice: the second application is refused and changes nothing.
#[test]
fn every_report_applied_twice_changes_nothing_the_second_time() {
    type Setup = fn(&mut Blotter, &mut Vec<OrderEvent>) -> u64;
    type Make = fn(&Blotter, u64) -> Execution;
    let sent: Setup = |m, out| m.submit(buy(100, 10), T0, out).unwrap();
    let acked: Setup = |m, out| {
        let id = m.submit(buy(100, 10), T0, out).unwrap();
        m.on_execution(&ack(m, id), T0, out).unwrap();
        id
    };
    let cancelling: Setup = |m, out| {
        let id = m.submit(buy(100, 10), T0, out).unwrap();
        m.on_execution(&ack(m, id), T0, out).unwrap();
        m.cancel(id, T0, out);
        id
    };
    let cases: Vec<(&str, Setup, Make)> = vec![
        ("ack", sent, |m, id| ack(m, id)),
        ("partial fill", acked, |m, id| fill(m, id, 4, 6)),
        ("full fill", acked, |m, id| fill(m, id, 10, 0)),
        ("fill before ack", sent, |m, id| fill(m, id, 4, 6)),
        ("cancelled", cancelling, |m, id| {
            status_of(m, id, ExecType::Cancelled)
        }),
        ("venue cancel", acked, |m, id| {
            status_of(m, id, ExecType::Cancelled)
        }),
        ("expired", acked, |m, id| {
            status_of(m, id, ExecType::Expired)
        }),
        ("rejected", sent, |m, id| {
            status_of(m, id, ExecType::Rejected(VenueReject::Other))
        }),
        ("rejected, retried", sent, |m, id| {
            status_of(m, id, ExecType::Rejected(VenueReject::Unavailable))
        }),
        ("cancel rejected", cancelling, |m, id| {
            status_of(m, id, ExecType::Rejected(VenueReject::UnknownOrder))
        }),
    ];
    for (name, setup, make) in cases {
        let mut m = manager(OrderRules::default(), 8);
        let mut out = Vec::new();
        let id = setup(&mut m, &mut out);
        let e = make(&m, id);
        assert!(m.on_execution(&e, T0, &mut out).is_ok(), "{name}: first");
        let before = snapshot(&m);
        let counters = *m.counters();
        out.clear();
        assert!(m.on_execution(&e, T0, &mut out).is_err(), "{name}: second");
        assert!(out.is_empty(), "{name}: emitted {out:?}");
        assert_eq!(before, snapshot(&m), "{name}");
        assert_eq!(counters.transitions, m.counters().transitions, "{name}");
        assert_eq!(
            counters.refused_total() + 1,
            m.counters().refused_total(),
            "{name}"
        );
    }
}

/// Every slot's record and timer, and the table's next due time.
fn snapshot(m: &Blotter) -> (Vec<(OrderView, u64)>, u64) {
    let slots = (0..m.capacity())
        .map(|i| (m.view(i), m.slots[i].due_ns))
        .collect();
    (slots, m.next_due)
}

// ---------------------------------------------------------------------------------------------
// Cancels

#[test]
fn cancel_requests_once_and_terminal_cancels_are_counted_noops() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    out.clear();
    assert_eq!(m.cancel(id, T0 + 5, &mut out), CancelOutcome::Requested);
    assert_eq!(
        cancels(&out),
        [RoutedCancel {
            venue: 0,
            cancel: VenueCancel {
                client_order_id: id,
                instrument: I0,
                sent_ns: T0 + 5
            }
        }]
    );
    assert!(
        journal(&out).is_empty(),
        "the state moves when the venue answers"
    );
    assert!(m.order(id).unwrap().cancel_pending);
    out.clear();
    assert_eq!(
        m.cancel(id, T0 + 6, &mut out),
        CancelOutcome::AlreadyPending
    );
    assert!(out.is_empty());
    m.on_execution(&status_of(&m, id, ExecType::Cancelled), T0 + 7, &mut out)
        .unwrap();
    assert_eq!(journal(&out), [(id, Acked, Cancelled, Reason::Cancel)]);
    out.clear();
    assert_eq!(m.cancel(id, T0 + 8, &mut out), CancelOutcome::Terminal);
    assert_eq!(m.cancel(12345, T0 + 8, &mut out), CancelOutcome::Unknown);
    assert!(out.is_empty());
    assert_eq!(m.counters().cancel_noops, 2);
    assert_eq!(m.counters().cancels_sent, 1);
}

#[test]
fn a_refused_cancel_leaves_the_order_working() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    m.cancel(id, T0, &mut out);
    out.clear();
    let r = m
        .on_execution(
            &status_of(&m, id, ExecType::Rejected(VenueReject::UnknownOrder)),
            T0,
            &mut out,
        )
        .unwrap();
    assert_eq!(r.status, Acked);
    assert!(out.is_empty());
    assert!(!m.order(id).unwrap().cancel_pending);
    assert_eq!(m.counters().cancel_rejects, 1);
    // The fill that raced the cancel still lands.
    let f = m.on_execution(&fill(&m, id, 10, 0), T0, &mut out).unwrap();
    assert_eq!(f.status, Filled);
}

#[test]
fn unanswered_cancels_are_sent_again() {
    let r = rules(|p| p.cancel_timeout_ms = 300);
    let mut m = manager(r, 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    m.cancel(id, T0, &mut out);
    out.clear();
    m.on_timer(T0 + 299 * MS, &mut out);
    assert!(out.is_empty());
    m.on_timer(T0 + 300 * MS, &mut out);
    assert_eq!(cancels(&out).len(), 1);
    m.on_timer(T0 + 300 * MS, &mut out);
    assert_eq!(cancels(&out).len(), 1, "re-armed, not re-fired");
    m.on_timer(T0 + 600 * MS, &mut out);
    assert_eq!(cancels(&out).len(), 2);
    assert!(journal(&out).is_empty());
    assert_eq!(m.counters().cancel_resends, 2);
    assert_eq!(m.state(id), Some(Acked));
}

// ---------------------------------------------------------------------------------------------
// Ack timeout

#[test]
fn ack_timeout_cancels_the_order_and_never_resends_it() {
    let r = rules(|p| p.ack_timeout_ms = 500);
    let mut m = manager(r, 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 10), T0, &mut out).unwrap();
    assert_eq!(m.next_due_ns(), Some(T0 + 500 * MS));
    out.clear();
    m.on_timer(T0 + 499 * MS, &mut out);
    assert!(out.is_empty());
    m.on_timer(T0 + 500 * MS, &mut out);
    assert_eq!(cancels(&out).len(), 1);
    assert!(places(&out).is_empty());
    assert_eq!(m.counters().ack_timeouts, 1);
    // The venue never had it: its cancel reject ends the order; no retry, even if "unavailable".
    out.clear();
    m.on_execution(
        &status_of(&m, id, ExecType::Rejected(VenueReject::Unavailable)),
        T0 + 501 * MS,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        journal(&out),
        [(
            id,
            Sent,
            Rejected,
            Reason::Rejected(VenueReject::Unavailable)
        )]
    );
    assert!(places(&out).is_empty());
    assert_eq!(m.counters().retries, 0);

    // A late ack, then the venue confirms our cancel: journaled as the ack timeout's.
    let id2 = m.submit(buy(100, 10), T0, &mut out).unwrap();
    m.on_timer(T0 + 500 * MS, &mut out);
    out.clear();
    m.on_execution(&ack(&m, id2), T0 + 600 * MS, &mut out)
        .unwrap();
    m.on_execution(
        &status_of(&m, id2, ExecType::Cancelled),
        T0 + 601 * MS,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        journal(&out),
        [
            (id2, Sent, Acked, Reason::Ack),
            (id2, Acked, Cancelled, Reason::AckTimeout)
        ]
    );
    assert_eq!(m.counters().ack_timeouts, 2);
}

// ---------------------------------------------------------------------------------------------
// Fallbacks

fn fallback_rules(mode: Fallback) -> OrderRules {
    rules(|p| {
        p.fallback = mode;
        p.fallback_after_ms = 1_000;
        p.ack_timeout_ms = 200;
        p.max_reprices = 2;
    })
}

#[test]
fn reprice_cancels_then_resends_the_rest_at_the_touch() {
    let mut m = manager(fallback_rules(Fallback::Reprice), 8);
    let mut out = Vec::new();
    m.on_quote(I0, Price(99 * S), Price(101 * S));
    let id = m.submit(buy(98, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0 + MS, &mut out).unwrap();
    m.on_execution(&fill(&m, id, 3, 7), T0 + 2 * MS, &mut out)
        .unwrap();
    out.clear();
    m.on_timer(T0 + 999 * MS, &mut out);
    assert!(out.is_empty(), "the fallback counts from the send");
    m.on_timer(T0 + 1_000 * MS, &mut out);
    assert_eq!(cancels(&out).len(), 1);
    assert!(
        places(&out).is_empty(),
        "no replacement before the cancel is confirmed"
    );
    // A fill races the cancel; the touch moves.
    m.on_execution(&fill(&m, id, 2, 5), T0 + 1_001 * MS, &mut out)
        .unwrap();
    m.on_quote(I0, Price(99 * S + S / 2), Price::ZERO);
    out.clear();
    m.on_execution(
        &status_of(&m, id, ExecType::Cancelled),
        T0 + 1_002 * MS,
        &mut out,
    )
    .unwrap();
    let p = places(&out);
    assert_eq!(p.len(), 1);
    let new = p[0].order;
    assert_eq!(new.intent.qty, Qty(5 * S), "the rest after both fills");
    assert_eq!(new.intent.price, Price(99 * S + S / 2), "the latest bid");
    assert_eq!(new.intent.order_type, OrderType::Limit);
    assert_eq!(
        journal(&out),
        [
            (id, PartiallyFilled, Cancelled, Reason::Reprice),
            (new.client_order_id, New, Sent, Reason::Reprice)
        ]
    );
    let v = m.order(new.client_order_id).unwrap();
    assert_eq!(v.parent, id);
    assert_eq!(m.latest(id), Some(new.client_order_id));
    assert_eq!(m.counters().reprices, 1);
    assert_eq!(m.in_flight(I0, Side::Buy), Qty(5 * S));
}

#[test]
fn reprice_waits_without_a_quote_or_at_the_touch_and_stops_at_the_limit() {
    let mut m = manager(fallback_rules(Fallback::Reprice), 8);
    let mut out = Vec::new();
    let mut id = m.submit(buy(99, 1), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    out.clear();
    m.on_timer(T0 + 1_000 * MS, &mut out);
    assert!(out.is_empty(), "no quote yet");
    m.on_quote(I0, Price(99 * S), Price(100 * S));
    m.on_timer(T0 + 2_000 * MS, &mut out);
    assert!(out.is_empty(), "already at the touch");
    assert_eq!(m.counters().reprice_skipped, 2);
    // Two reprices (the limit), then the fallback cancels instead.
    let mut now = T0 + 2_000 * MS;
    for k in 1..=2i64 {
        m.on_quote(I0, Price((99 + k) * S), Price::ZERO);
        now += 1_000 * MS;
        m.on_timer(now, &mut out);
        assert!(m.order(id).unwrap().cancel_pending);
        m.on_execution(&status_of(&m, id, ExecType::Cancelled), now, &mut out)
            .unwrap();
        id = m.latest(id).unwrap();
        m.on_execution(&ack(&m, id), now, &mut out).unwrap();
        assert_eq!(m.order(id).unwrap().intent.price, Price((99 + k) * S));
    }
    m.on_quote(I0, Price(105 * S), Price::ZERO);
    out.clear();
    m.on_timer(now + 1_000 * MS, &mut out);
    m.on_execution(&status_of(&m, id, ExecType::Cancelled), now, &mut out)
        .unwrap();
    assert_eq!(
        journal(&out),
        [(id, Acked, Cancelled, Reason::FallbackCancel)]
    );
    assert!(places(&out).is_empty());
    assert_eq!(m.counters().reprices, 2);
    assert_eq!(m.counters().fallback_cancels, 1);
}

#[test]
fn to_market_cancels_then_sends_the_rest_as_ioc_market() {
    let mut m = manager(fallback_rules(Fallback::ToMarket), 8);
    let mut out = Vec::new();
    m.on_quote(I0, Price(99 * S), Price(101 * S));
    let id = m
        .submit(intent(Side::Sell, OrderType::Limit, 105, 10), T0, &mut out)
        .unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    m.on_execution(&fill(&m, id, 4, 6), T0, &mut out).unwrap();
    m.on_timer(T0 + 1_000 * MS, &mut out);
    out.clear();
    m.on_execution(
        &status_of(&m, id, ExecType::Cancelled),
        T0 + 1_001 * MS,
        &mut out,
    )
    .unwrap();
    let p = places(&out);
    assert_eq!(p.len(), 1);
    let o = p[0].order;
    assert_eq!(o.intent.order_type, OrderType::Market);
    assert_eq!(o.intent.tif, TimeInForce::Ioc);
    assert_eq!(o.intent.qty, Qty(6 * S));
    assert_eq!(o.intent.side, Side::Sell);
    assert_eq!(o.intent.price, Price(99 * S), "a sell goes to the bid");
    assert_eq!(
        journal(&out),
        [
            (id, PartiallyFilled, Cancelled, Reason::ToMarket),
            (o.client_order_id, New, Sent, Reason::ToMarket)
        ]
    );
    assert_eq!(m.counters().to_market, 1);
    // A market order has no fallback of its own: only its ack timer runs.
    m.on_execution(&ack(&m, o.client_order_id), T0, &mut out)
        .unwrap();
    assert_eq!(m.next_due_ns(), Some(T0 + 1_001 * MS + 200 * MS));
    out.clear();
    m.on_timer(u64::MAX, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(m.next_due_ns(), None);
}

#[test]
fn cancel_fallback_cancels_without_replacement() {
    let mut m = manager(fallback_rules(Fallback::Cancel), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(98, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    m.on_timer(T0 + 1_000 * MS, &mut out);
    out.clear();
    m.on_execution(&status_of(&m, id, ExecType::Cancelled), T0, &mut out)
        .unwrap();
    assert_eq!(
        journal(&out),
        [(id, Acked, Cancelled, Reason::FallbackCancel)]
    );
    assert!(places(&out).is_empty());
    assert_eq!(m.counters().fallback_cancels, 1);
}

#[test]
fn a_caller_cancel_overrides_a_planned_replacement() {
    let mut m = manager(fallback_rules(Fallback::Reprice), 8);
    let mut out = Vec::new();
    m.on_quote(I0, Price(99 * S), Price(101 * S));
    let id = m.submit(buy(98, 10), T0, &mut out).unwrap();
    m.on_execution(&ack(&m, id), T0, &mut out).unwrap();
    m.on_timer(T0 + 1_000 * MS, &mut out);
    assert_eq!(m.cancel(id, T0, &mut out), CancelOutcome::AlreadyPending);
    out.clear();
    m.on_execution(&status_of(&m, id, ExecType::Cancelled), T0, &mut out)
        .unwrap();
    assert_eq!(journal(&out), [(id, Acked, Cancelled, Reason::Cancel)]);
    assert!(places(&out).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retries, backup venue, giving up

fn unavailable(m: &Blotter, id: u64) -> Execution {
    status_of(m, id, ExecType::Rejected(VenueReject::Unavailable))
}

#[test]
fn unavailable_is_retried_with_backoff_then_routed_to_backup_then_given_up() {
    let r = rules(|p| {
        p.max_retries = 2;
        p.retry_backoff_ms = 100;
        p.retry_backoff_max_ms = 150;
        p.backup_venue = Some(3);
    });
    assert_eq!(r.backoff_ns(1), 100 * MS);
    assert_eq!(r.backoff_ns(2), 150 * MS);
    let mut m = manager(r, 8);
    let mut out = Vec::new();
    let root = m.submit(buy(100, 10), T0, &mut out).unwrap();
    let mut id = root;
    let mut now = T0;
    for venue in [0u8, 3] {
        for backoff in [100 * MS, 150 * MS] {
            out.clear();
            m.on_execution(&unavailable(&m, id), now, &mut out).unwrap();
            assert_eq!(
                journal(&out),
                [(id, Sent, Rejected, Reason::RetryScheduled)]
            );
            let retry = m.latest(root).unwrap();
            assert_ne!(retry, id);
            assert_eq!(m.state(retry), Some(New));
            assert_eq!(m.order(retry).unwrap().parent, id);
            assert_eq!(
                m.on_execution(&ack(&m, retry), now, &mut out),
                Err(Refusal::NotSent)
            );
            assert_eq!(m.in_flight(I0, Side::Buy), Qty(10 * S), "still counts");
            out.clear();
            m.on_timer(now + backoff - 1, &mut out);
            assert!(out.is_empty());
            now += backoff;
            m.on_timer(now, &mut out);
            assert_eq!(journal(&out), [(retry, New, Sent, Reason::Retry)]);
            assert_eq!(places(&out)[0].venue, venue);
            id = retry;
        }
        out.clear();
        m.on_execution(&unavailable(&m, id), now, &mut out).unwrap();
        if venue == 0 {
            let backup = m.latest(root).unwrap();
            assert_eq!(
                journal(&out),
                [
                    (id, Sent, Rejected, Reason::RoutedToBackup),
                    (backup, New, Sent, Reason::Backup)
                ]
            );
            assert_eq!(places(&out)[0].venue, 3, "sent to the backup at once");
            id = backup;
        } else {
            assert_eq!(journal(&out), [(id, Sent, Rejected, Reason::GaveUp)]);
            assert!(places(&out).is_empty());
        }
    }
    assert_eq!(m.counters().retries, 4);
    assert_eq!(m.counters().routed_to_backup, 1);
    assert_eq!(m.counters().gave_up, 1);
    assert_eq!(m.live(), 0);
    assert_eq!(m.in_flight(I0, Side::Buy), Qty::ZERO);
}

#[test]
fn unavailable_without_retries_or_backup_gives_up_at_once() {
    let mut m = manager(rules(|p| p.max_retries = 0), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 1), T0, &mut out).unwrap();
    out.clear();
    m.on_execution(&unavailable(&m, id), T0, &mut out).unwrap();
    assert_eq!(journal(&out), [(id, Sent, Rejected, Reason::GaveUp)]);
    assert_eq!(m.counters().gave_up, 1);
}

#[test]
fn cancelling_a_waiting_retry_withdraws_it_without_the_venue() {
    let mut m = manager(OrderRules::default(), 8);
    let mut out = Vec::new();
    let id = m.submit(buy(100, 1), T0, &mut out).unwrap();
    m.on_execution(&unavailable(&m, id), T0, &mut out).unwrap();
    let retry = m.latest(id).unwrap();
    out.clear();
    assert_eq!(m.cancel(id, T0, &mut out), CancelOutcome::Withdrawn);
    assert_eq!(journal(&out), [(retry, New, Cancelled, Reason::Cancel)]);
    assert!(cancels(&out).is_empty());
    out.clear();
    m.on_timer(T0 + 10_000 * MS, &mut out);
    assert!(out.is_empty());
    assert_eq!(m.cancel(id, T0, &mut out), CancelOutcome::Terminal);
}

// ---------------------------------------------------------------------------------------------
// Capacity, recycling, ids

#[test]
fn a_full_table_refuses_and_terminal_slots_are_recycled_oldest_first() {
    let mut m = manager(OrderRules::default(), 4);
    let mut out = Vec::new();
    let ids: Vec<u64> = (0..4)
        .map(|_| m.submit(buy(100, 1), T0, &mut out).unwrap())
        .collect();
    out.clear();
    assert_eq!(m.submit(buy(100, 1), T0, &mut out), Err(SubmitError::Full));
    assert!(out.is_empty());
    assert_eq!(m.counters().submit_refused, 1);
    // Finish #2, then #0: #2's slot is reused first.
    m.on_execution(&fill(&m, ids[2], 1, 0), T0, &mut out)
        .unwrap();
    m.on_execution(&fill(&m, ids[0], 1, 0), T0, &mut out)
        .unwrap();
    let a = m.submit(buy(100, 1), T0, &mut out).unwrap();
    assert_eq!(a & SLOT_MASK, ids[2] & SLOT_MASK);
    assert_eq!(m.state(ids[2]), None, "recycled");
    assert_eq!(m.state(ids[0]), Some(Filled), "kept: finished later");
    let b = m.submit(buy(100, 1), T0, &mut out).unwrap();
    assert_eq!(b & SLOT_MASK, ids[0] & SLOT_MASK);
    assert_eq!(m.submit(buy(100, 1), T0, &mut out), Err(SubmitError::Full));
    assert_eq!(
        m.on_execution(&fill(&m, ids[2], 1, 0), T0, &mut out),
        Err(Refusal::Unknown)
    );
    assert_eq!(m.counters().recycled, 2);
    assert!(ids[3] < a && a < b);
}

#[test]
fn ids_are_unique_and_increasing_across_recycling_and_epochs() {
    let mut m = manager(OrderRules::default(), 2);
    let mut other = Blotter::new(OrderRules::default(), 2, 1, 8).unwrap();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut last = [0u64; 2];
    for _ in 0..10_000 {
        for (k, mgr) in [&mut m, &mut other].into_iter().enumerate() {
            out.clear();
            let id = mgr.submit(buy(100, 1), T0, &mut out).unwrap();
            assert!(seen.insert(id), "id {id:#x} reused");
            assert!(id > last[k]);
            last[k] = id;
            let f = report(mgr, id, ExecType::Fill, 1, 0);
            mgr.on_execution(&f, T0, &mut out).unwrap();
        }
    }
    assert_eq!(seen.len(), 20_000);
    assert_eq!(m.counters().recycled, 10_000 - 2);
}

#[test]
fn submit_refuses_malformed_intents() {
    let mut m = manager(OrderRules::default(), 4);
    let mut out = Vec::new();
    let mut it = buy(100, 1);
    it.instrument = InstrumentId(4);
    assert_eq!(
        m.submit(it, T0, &mut out),
        Err(SubmitError::UnknownInstrument)
    );
    assert_eq!(
        m.submit(buy(100, 0), T0, &mut out),
        Err(SubmitError::InvalidQty)
    );
    assert_eq!(
        m.submit(buy(0, 1), T0, &mut out),
        Err(SubmitError::InvalidPrice)
    );
    // A market order's decision price may be unknown (0).
    assert!(m
        .submit(intent(Side::Buy, OrderType::Market, 0, 1), T0, &mut out)
        .is_ok());
    assert!(Blotter::new(OrderRules::default(), 0, 1, 0).is_err());
    assert!(Blotter::new(OrderRules::default(), MAX_CAPACITY + 1, 1, 0).is_err());
    assert!(Blotter::new(OrderRules::default(), 4, 0, 0).is_err());
}

#[test]
fn ids_run_out_cleanly() {
    let mut m = manager(OrderRules::default(), 2);
    m.next_seq = MAX_SEQ;
    let mut out = Vec::new();
    let id = m.submit(buy(100, 1), T0, &mut out).unwrap();
    assert_eq!((id >> SEQ_SHIFT) & MAX_SEQ, MAX_SEQ);
    assert_eq!(
        m.submit(buy(100, 1), T0, &mut out),
        Err(SubmitError::IdsExhausted)
    );
    // A retry cannot get an id either: the order is given up, not corrupted.
    out.clear();
    m.on_execution(&unavailable(&m, id), T0, &mut out).unwrap();
    assert_eq!(journal(&out), [(id, Sent, Rejected, Reason::GaveUp)]);
}

// ---------------------------------------------------------------------------------------------
// No allocation after `new`

#[test]
fn nothing_allocates_after_new() {
    let r = rules(|p| {
        p.fallback = Fallback::Reprice;
        p.fallback_after_ms = 50;
        p.ack_timeout_ms = 20;
        p.cancel_timeout_ms = 10;
        p.max_retries = 1;
        p.retry_backoff_ms = 5;
        p.backup_venue = Some(1);
    });
    let mut m = Blotter::new(r, 8, 4, 1).unwrap();
    let mut out: Vec<OrderEvent> = Vec::with_capacity(1024);
    let before = thread_allocations();
    let mut now = T0;
    for step in 0..5_000u64 {
        out.clear();
        let inst = InstrumentId((step % 4) as u16);
        let mut it = buy(95, 4);
        it.instrument = inst;
        m.on_quote(inst, Price(96 * S), Price(97 * S));
        // Reprice: ack, part fill, fallback, cancel confirmed, replacement filled.
        let id = m.submit(it, now, &mut out).unwrap();
        m.on_execution(&ack(&m, id), now, &mut out).unwrap();
        m.on_execution(&fill(&m, id, 1, 3), now, &mut out).unwrap();
        let dup = fill(&m, id, 1, 3);
        assert_eq!(m.on_execution(&dup, now, &mut out), Err(Refusal::Duplicate));
        now += 50 * MS;
        m.on_timer(now, &mut out);
        m.on_execution(&status_of(&m, id, ExecType::Cancelled), now, &mut out)
            .unwrap();
        let new = m.latest(id).unwrap();
        m.on_execution(&ack(&m, new), now, &mut out).unwrap();
        m.on_execution(&fill(&m, new, 3, 0), now, &mut out).unwrap();
        // Unavailable, retry after the backoff, unavailable again, backup venue fills it.
        let id = m.submit(it, now, &mut out).unwrap();
        m.on_execution(&unavailable(&m, id), now, &mut out).unwrap();
        now += 5 * MS;
        m.on_timer(now, &mut out);
        let retry = m.latest(id).unwrap();
        m.on_execution(&unavailable(&m, retry), now, &mut out)
            .unwrap();
        let backup = m.latest(id).unwrap();
        m.on_execution(&fill(&m, backup, 4, 0), now, &mut out)
            .unwrap();
        // Ack timeout, cancel resent, cancel confirmed.
        let id = m.submit(it, now, &mut out).unwrap();
        now += 20 * MS;
        m.on_timer(now, &mut out);
        now += 10 * MS;
        m.on_timer(now, &mut out);
        m.on_execution(&status_of(&m, id, ExecType::Cancelled), now, &mut out)
            .unwrap();
        // A caller's cancel.
        it.side = Side::Sell;
        let id = m.submit(it, now, &mut out).unwrap();
        m.on_execution(&ack(&m, id), now, &mut out).unwrap();
        m.cancel(id, now, &mut out);
        m.on_execution(&status_of(&m, id, ExecType::Cancelled), now, &mut out)
            .unwrap();
        std::hint::black_box(m.open_ids(inst).count());
        std::hint::black_box(m.in_flight(inst, Side::Buy));
        assert_eq!(m.live(), 0);
    }
    let after = thread_allocations();
    assert_eq!(after - before, 0, "heap calls after new");
    let c = m.counters();
    assert_eq!(
        (
            c.reprices,
            c.retries,
            c.routed_to_backup,
            c.ack_timeouts,
            c.cancel_resends
        ),
        (5_000, 5_000, 5_000, 5_000, 5_000)
    );
    assert!(c.recycled > 30_000, "{c:?}");
}

// ---------------------------------------------------------------------------------------------
// Policy and CSV

#[test]
fn policy_parses_with_documented_defaults_and_refuses_unknown_keys() {
    let p: OrderPolicy = toml::from_str("").unwrap();
    assert_eq!(p, OrderPolicy::default());
    assert_eq!(p.ack_timeout_ms, 2_000);
    assert_eq!(p.fallback, Fallback::Cancel);
    assert_eq!(p.fallback_after_ms, 30_000);
    assert_eq!(p.backup_venue, None);
    let p: OrderPolicy = toml::from_str(
        "ack_timeout_ms = 500\nfallback = \"to_market\"\nfallback_after_ms = 0\n\
         max_retries = 5\nbackup_venue = 2\n",
    )
    .unwrap();
    assert_eq!(p.fallback, Fallback::ToMarket);
    assert_eq!(p.fallback.as_str(), "to_market");
    let r = p.validate().unwrap();
    assert_eq!(r.fallback, None, "0 turns fallbacks off");
    assert!(toml::from_str::<OrderPolicy>("ack_timeout = 5").is_err());
    assert!(toml::from_str::<OrderPolicy>("fallback = \"sideways\"").is_err());
    let bad = |edit: fn(&mut OrderPolicy)| {
        let mut p = OrderPolicy::default();
        edit(&mut p);
        p.validate().unwrap_err()
    };
    assert_eq!(
        bad(|p| p.ack_timeout_ms = 0),
        PolicyError::Zero("ack_timeout_ms")
    );
    assert_eq!(
        bad(|p| p.cancel_timeout_ms = 0),
        PolicyError::Zero("cancel_timeout_ms")
    );
    assert_eq!(
        bad(|p| p.retry_backoff_ms = 0),
        PolicyError::Zero("retry_backoff_ms")
    );
    assert_eq!(
        bad(|p| p.retry_backoff_max_ms = 1),
        PolicyError::BackoffOrder
    );
    assert_eq!(
        bad(|p| p.backup_venue = Some(0)),
        PolicyError::BackupIsPrimary
    );
    assert_eq!(
        bad(|p| p.ack_timeout_ms = u64::MAX),
        PolicyError::TooLarge("ack_timeout_ms")
    );
}

#[test]
fn transition_writes_an_orders_csv_row() {
    let t = OrderTransition {
        client_order_id: 42,
        parent: 0,
        venue: 0,
        instrument: I0,
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: Price(100 * S + S / 2),
        qty: Qty(S / 4),
        filled: Qty::ZERO,
        from: New,
        to: Sent,
        reason: Reason::Submit,
        market_ns: 123,
    };
    let mut s = String::from(OrderTransition::CSV_HEADER);
    s.push('\n');
    t.write_csv("BTCUSDT", &mut s);
    assert_eq!(
        s,
        "ts,client_order_id,instrument,side,type,price,qty,status,reason\n\
         123,42,BTCUSDT,buy,limit,100.5,0.25,sent,submit\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Submit {
            inst: u16,
            sell: bool,
            kind: u8,
            price: i64,
            qty: i64,
        },
        Cancel {
            pick: usize,
        },
        Timer {
            advance_ms: u64,
        },
        Quote {
            inst: u16,
            bid: i64,
            ask: i64,
        },
        Report {
            pick: usize,
            kind: u8,
            size: i64,
            twice: bool,
        },
        Replay {
            back: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..4, any::<bool>(), 0u8..4, 1i64..200, 1i64..20)
                .prop_map(|(inst, sell, kind, price, qty)| Op::Submit { inst, sell, kind, price, qty }),
            1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
            2 => prop_oneof![3 => 0u64..100, 1 => 100u64..3_000].prop_map(|advance_ms| Op::Timer { advance_ms }),
            2 => (0u16..4, 0i64..200, 0i64..200).prop_map(|(inst, bid, ask)| Op::Quote { inst, bid, ask }),
            7 => (any::<usize>(), 0u8..16, -3i64..25, any::<bool>())
                .prop_map(|(pick, kind, size, twice)| Op::Report { pick, kind, size, twice }),
            2 => any::<usize>().prop_map(|back| Op::Replay { back }),
        ]
    }

    fn policy() -> impl Strategy<Value = OrderRules> {
        (0u8..3, 0u8..3, any::<bool>(), 1u64..200, 0u8..4).prop_map(
            |(mode, retries, backup, backoff, reprices)| {
                rules(|p| {
                    p.fallback =
                        [Fallback::Reprice, Fallback::ToMarket, Fallback::Cancel][mode as usize];
                    p.fallback_after_ms = 400;
                    p.ack_timeout_ms = 500;
                    p.cancel_timeout_ms = 300;
                    p.max_retries = retries;
                    p.retry_backoff_ms = backoff;
                    p.retry_backoff_max_ms = 400;
                    p.backup_venue = backup.then_some(1);
                    p.max_reprices = reprices;
                })
            },
        )
    }

    /// What the journal says, checked against the table after every call.
    struct Checker {
        status: HashMap<u64, OrderStatus>,
        gone: HashSet<u64>,
        placed: HashSet<u64>,
        ids: Vec<u64>,
    }

    impl Checker {
        fn absorb(
            &mut self,
            m: &Blotter,
            out: &[OrderEvent],
            transitions: u64,
        ) -> Result<(), TestCaseError> {
            let mut journaled = 0;
            for e in out {
                match e {
                    OrderEvent::Transition(t) => {
                        journaled += 1;
                        prop_assert!(t.from.can_move_to(t.to), "illegal edge {t:?}");
                        prop_assert!(t.filled.0 >= 0 && t.filled <= t.qty, "{t:?}");
                        prop_assert!(!self.gone.contains(&t.client_order_id), "id reused: {t:?}");
                        match self.status.get(&t.client_order_id) {
                            Some(&s) => prop_assert_eq!(s, t.from, "chain broken: {:?}", t),
                            None => {
                                prop_assert_eq!(
                                    t.from,
                                    New,
                                    "first transition not from new: {:?}",
                                    t
                                );
                                self.ids.push(t.client_order_id);
                            }
                        }
                        self.status.insert(t.client_order_id, t.to);
                    }
                    OrderEvent::Place(p) => {
                        prop_assert!(
                            self.placed.insert(p.order.client_order_id),
                            "placed twice: {p:?}"
                        );
                        prop_assert!(p.order.intent.qty.0 > 0);
                    }
                    OrderEvent::Cancel(c) => {
                        prop_assert!(
                            self.placed.contains(&c.cancel.client_order_id),
                            "cancel of unsent {c:?}"
                        );
                    }
                }
            }
            prop_assert_eq!(journaled, transitions, "journaled vs counted");
            // A retry waiting out its backoff is the one order not journaled yet: it is New.
            for k in 0..4u16 {
                for id in m.open_ids(InstrumentId(k)) {
                    if !self.status.contains_key(&id) {
                        prop_assert_eq!(m.state(id), Some(New));
                        prop_assert!(!self.gone.contains(&id));
                        self.status.insert(id, New);
                        self.ids.push(id);
                    }
                }
            }
            // Every order the journal knows agrees with the table; recycled ones were terminal.
            let mut live = 0usize;
            let mut open = [0usize; 4];
            let mut flight = [[0i64; 2]; 4];
            for &id in &self.ids {
                let want = self.status[&id];
                match m.order(id) {
                    Some(v) => {
                        prop_assert!(!self.gone.contains(&id), "recycled id came back");
                        prop_assert_eq!(v.status, want, "table vs journal for {:#x}", id);
                        prop_assert!(v.filled.0 >= 0 && v.filled <= v.intent.qty, "{v:?}");
                        if !v.status.is_terminal() {
                            live += 1;
                            let k = v.intent.instrument.index();
                            open[k] += 1;
                            flight[k][side_index(v.intent.side)] += v.remaining().0;
                        }
                    }
                    None => {
                        prop_assert!(want.is_terminal(), "live order {:#x} lost", id);
                        self.gone.insert(id);
                    }
                }
            }
            prop_assert_eq!(m.live(), live);
            for k in 0..4u16 {
                let inst = InstrumentId(k);
                prop_assert_eq!(m.open_orders(inst), open[k as usize]);
                prop_assert_eq!(m.open_ids(inst).count(), open[k as usize]);
                prop_assert_eq!(m.in_flight(inst, Side::Buy).0, flight[k as usize][0]);
                prop_assert_eq!(m.in_flight(inst, Side::Sell).0, flight[k as usize][1]);
            }
            Ok(())
        }
    }

    /// Mostly a live order, sometimes any order ever seen, now and then an unknown id.
    fn pick(ids: &[u64], live: &[u64], k: usize) -> u64 {
        if k.is_multiple_of(17) || ids.is_empty() {
            (k as u64) | 1
        } else if !k.is_multiple_of(3) && !live.is_empty() {
            live[(k / 3) % live.len()]
        } else {
            ids[k % ids.len()]
        }
    }

    fn make_report(m: &Blotter, id: u64, kind: u8, size: i64) -> Execution {
        let v = m.order(id);
        let qty = v.map_or(10, |v| v.intent.qty.0 / S);
        let rem = v.map_or(10, |v| (v.intent.qty.0 - v.filled.0) / S);
        let base = report(m, id, ExecType::Ack, 0, 0);
        let f = |q: i64, leaves: i64| Execution {
            exec: ExecType::Fill,
            qty: Qty(q * S),
            leaves: Qty(leaves * S),
            ..base
        };
        match kind {
            0 => base,
            1..=3 if rem > 0 => {
                let q = 1 + size.rem_euclid(rem);
                f(q, rem - q)
            }
            1..=3 => f(size, 0),
            4 => f(size, qty - size), // oversized or malformed as size goes
            5 => f(size, size - 2),
            6 => Execution {
                exec: ExecType::Cancelled,
                ..base
            },
            7 => Execution {
                exec: ExecType::Rejected(VenueReject::Unavailable),
                ..base
            },
            8 => Execution {
                exec: ExecType::Rejected(VenueReject::NoLiquidity),
                ..base
            },
            9 => Execution {
                exec: ExecType::Expired,
                ..base
            },
            10 => Execution {
                side: match base.side {
                    Side::Buy => Side::Sell,
                    Side::Sell => Side::Buy,
                },
                ..f(1, 0)
            },
            11 => Execution {
                client_order_id: id ^ (1 << 40),
                ..base
            },
            // What a well-behaved venue would say next.
            _ => match v {
                Some(v) if v.cancel_pending => Execution {
                    exec: ExecType::Cancelled,
                    ..base
                },
                Some(v) if v.status == Sent => base,
                _ if rem > 0 => f(1, rem - 1),
                _ => base,
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

        #[test]
        fn random_sessions_keep_every_invariant(
            rules in policy(),
            capacity in 1usize..12,
            epoch in any::<u16>(),
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            let mut m = Blotter::new(rules, capacity, 4, epoch).unwrap();
            let mut out: Vec<OrderEvent> = Vec::with_capacity(512);
            let mut history: Vec<Execution> = Vec::new();
            let mut c = Checker { status: HashMap::new(), gone: HashSet::new(), placed: HashSet::new(), ids: Vec::new() };
            let mut now = T0;
            let mut last_id = 0u64;
            for op in ops {
                out.clear();
                let t0 = m.counters().transitions;
                let mut second: Option<Execution> = None;
                let mut report_made: Option<Execution> = None;
                let live: Vec<u64> = (0..4).flat_map(|k| m.open_ids(InstrumentId(k))).collect();
                let heap = thread_allocations();
                match op {
                    Op::Submit { inst, sell, kind, price, qty } => {
                        let mut it = intent(
                            if sell { Side::Sell } else { Side::Buy },
                            if kind == 3 { OrderType::Market } else { OrderType::Limit },
                            price,
                            qty,
                        );
                        it.instrument = InstrumentId(inst);
                        it.tif = [TimeInForce::Gtc, TimeInForce::PostOnly, TimeInForce::Ioc, TimeInForce::Ioc][kind as usize];
                        match m.submit(it, now, &mut out) {
                            Ok(id) => {
                                prop_assert!(id > last_id, "ids not increasing");
                                last_id = id;
                            }
                            Err(e) => {
                                prop_assert_eq!(e, SubmitError::Full);
                                prop_assert!(out.is_empty());
                            }
                        }
                    }
                    Op::Cancel { pick: k } => {
                        let id = pick(&c.ids, &live, k);
                        m.cancel(id, now, &mut out);
                    }
                    Op::Timer { advance_ms } => {
                        now += advance_ms * MS;
                        m.on_timer(now, &mut out);
                    }
                    Op::Quote { inst, bid, ask } => {
                        m.on_quote(InstrumentId(inst), Price(bid * S), Price(ask * S));
                    }
                    Op::Report { pick: k, kind, size, twice } => {
                        let id = pick(&c.ids, &live, k);
                        let e = make_report(&m, id, kind, size);
                        let r = m.on_execution(&e, now, &mut out);
                        if r.is_err() {
                            prop_assert!(out.is_empty(), "refused but emitted");
                        }
                        if twice {
                            second = Some(e);
                        }
                        report_made = Some(e);
                    }
                    Op::Replay { back } => {
                        if !history.is_empty() {
                            let e = history[history.len() - 1 - back % history.len()];
                            let r = m.on_execution(&e, now, &mut out);
                            if r.is_err() {
                                prop_assert!(out.is_empty(), "refused but emitted");
                            }
                        }
                    }
                }
                prop_assert_eq!(thread_allocations(), heap, "the table allocated");
                history.extend(report_made);
                c.absorb(&m, &out, m.counters().transitions - t0)?;
                if let Some(e) = second.take() {
                    let before = snapshot(&m);
                    let t = m.counters().transitions;
                    out.clear();
                    let heap = thread_allocations();
                    let r = m.on_execution(&e, now, &mut out);
                    prop_assert_eq!(thread_allocations(), heap);
                    prop_assert!(r.is_err(), "applied twice: {e:?}");
                    prop_assert!(out.is_empty());
                    prop_assert_eq!(t, m.counters().transitions);
                    prop_assert_eq!(before, snapshot(&m));
                }
            }
        }
    }
}
