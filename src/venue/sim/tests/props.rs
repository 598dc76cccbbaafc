//! Property tests: random specs, book and trade paths, orders and cancels; every invariant
//! recomputed here, independently of the exchange's own bookkeeping.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Step {
    Book {
        dt: u64,
        drift: i64,
        spread: i64,
        bid_q: i64,
        ask_q: i64,
    },
    Trade {
        dt: u64,
        off: i64,
        qty: i64,
        sell: bool,
    },
    Submit {
        kind: u8,
        buy: bool,
        off: i64,
        qty: i64,
        stale_us: u64,
    },
    Cancel {
        pick: usize,
        unknown: bool,
    },
    Time {
        dt: u64,
    },
}

#[derive(Clone, Debug)]
struct Case {
    spec: PaperSpec,
    resting: usize,
    in_transit: usize,
    steps: Vec<Step>,
}

fn step() -> impl Strategy<Value = Step> {
    // Gaps of 1 ns to 3 ms: latencies of 0–3 ms land before, between and on events.
    let dt = 1u64..3_000_000;
    prop_oneof![
        3 => (dt.clone(), -3i64..=3, 1i64..=4, 0i64..3_000, 0i64..3_000).prop_map(
            |(dt, drift, spread, bid_q, ask_q)| Step::Book {
                dt,
                drift,
                spread,
                // Now and then an empty side.
                bid_q: if bid_q < 150 { 0 } else { bid_q },
                ask_q: if ask_q < 150 { 0 } else { ask_q },
            }
        ),
        3 => (dt.clone(), -5i64..=6, 1i64..2_500, any::<bool>())
            .prop_map(|(dt, off, qty, sell)| Step::Trade { dt, off, qty, sell }),
        4 => (0u8..4, any::<bool>(), -5i64..=5, 1i64..4_000, 0u64..3_000).prop_map(
            |(kind, buy, off, qty, stale_us)| Step::Submit {
                kind,
                buy,
                off,
                qty,
                stale_us,
            }
        ),
        1 => (any::<usize>(), prop::bool::weighted(0.15))
            .prop_map(|(pick, unknown)| Step::Cancel { pick, unknown }),
        1 => dt.prop_map(|dt| Step::Time { dt }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0u64..=3, 0u64..=3),
        (-300i64..=1_000, 0i64..=1_000, 0i64..=2_000, 0u32..=4),
        (-1_000_000i64..=1_000_000, 1usize..=12, 1usize..=12),
        prop::collection::vec(step(), 1..120),
    )
        .prop_map(
            |((ol, md), (maker, taker, slip, depth), (cash, resting, in_transit), steps)| Case {
                spec: PaperSpec {
                    order_latency_ms: ol,
                    md_latency_ms: md,
                    // Hundredths of a bp.
                    maker_fee_bps: Decimal8(maker * S / 100),
                    taker_fee_bps: Decimal8(taker * S / 100),
                    slippage_bps_per_touch: Decimal8(slip * S / 100),
                    depth_touches: depth,
                    initial_cash: Decimal8::units(cash),
                    book_from_trades: false,
                },
                resting,
                in_transit,
                steps,
            },
        )
}

/// What the test saw, to check the executions against.
#[derive(Default)]
struct Tape {
    orders: HashMap<u64, VenueOrder>,
    cancels: HashSet<u64>,
    /// (time, bid, bid qty, ask, ask qty), in order.
    books: Vec<(u64, i64, i64, i64, i64)>,
    /// time → (price, qty).
    trades: HashMap<u64, (i64, i64)>,
    /// Last mark by the model's rule: trade price, or mid of a two-sided book.
    mark: i64,
    end: u64,
}

fn run(c: &Case) -> (PaperExchange, Vec<Execution>, Tape) {
    let mut x = PaperExchange::new(&c.spec, &table(), c.resting, c.in_transit).unwrap();
    let mut out = Vec::new();
    let mut tape = Tape::default();
    let mut t: u64 = 1_000_000_000;
    let mut mid: i64 = 10_000;
    let mut ids: Vec<u64> = Vec::new();
    let mut next_id = 1u64;
    for s in &c.steps {
        match *s {
            Step::Book {
                dt,
                drift,
                spread,
                bid_q,
                ask_q,
            } => {
                t += dt;
                mid = (mid + drift).clamp(50, 1_000_000);
                let mut b = book(0, mid, bid_q, mid + spread, ask_q);
                b.event_ns = t;
                x.on_book_ticker(&b, &mut out);
                tape.books
                    .push((t, b.bid_px.0, b.bid_qty.0, b.ask_px.0, b.ask_qty.0));
                if bid_q > 0 && ask_q > 0 {
                    tape.mark = (b.bid_px.0 + b.ask_px.0) / 2;
                }
            }
            Step::Trade { dt, off, qty, sell } => {
                t += dt;
                let side = if sell { Side::Sell } else { Side::Buy };
                let mut tr = trade(0, (mid + off).max(1), qty, side);
                tr.trade_ns = t;
                tr.event_ns = t;
                x.on_trade(&tr, &mut out);
                tape.trades.insert(t, (tr.price.0, tr.qty.0));
                tape.mark = tr.price.0;
            }
            Step::Submit {
                kind,
                buy,
                off,
                qty,
                stale_us,
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let (ty, tif) = match kind {
                    0 => (OrderType::Market, TimeInForce::Ioc),
                    1 => (OrderType::Limit, TimeInForce::Gtc),
                    2 => (OrderType::Limit, TimeInForce::Ioc),
                    _ => (OrderType::Limit, TimeInForce::PostOnly),
                };
                let mut o = order(next_id, side, ty, tif, (mid + off).max(1), qty, 0);
                o.sent_ns = t.saturating_sub(stale_us * 1_000);
                tape.orders.insert(next_id, o);
                ids.push(next_id);
                next_id += 1;
                x.submit(&o, &mut out);
            }
            Step::Cancel { pick, unknown } => {
                let id = if unknown || ids.is_empty() {
                    1_000_000 + pick as u64 % 1_000
                } else {
                    ids[pick % ids.len()]
                };
                if x.cancel(&cancel(id, 0), &mut out).is_ok() {
                    tape.cancels.insert(id);
                }
            }
            Step::Time { dt } => {
                t += dt;
                x.on_time(t, &mut out);
            }
        }
    }
    // Everything still on either wire lands well within an hour.
    tape.end = t + 3_600_000 * MS;
    x.on_time(tape.end, &mut out);
    (x, out, tape)
}

/// The book in effect for a taker arriving at `m`: the last ticker before it or, for an
/// arrival clamped to "now", the one at it.
fn books_at(tape: &Tape, m: u64) -> impl Iterator<Item = (i64, i64, i64, i64)> + '_ {
    let before = tape.books.iter().rev().find(|b| b.0 < m);
    let at = tape.books.iter().rev().find(|b| b.0 <= m);
    before
        .into_iter()
        .chain(at)
        .map(|&(_, bp, bq, ap, aq)| (bp, bq, ap, aq))
}

/// The ladder prices behind a touch `p0`, recomputed from the documented rule.
fn on_ladder(spec: &PaperSpec, p0: i64, side: Side, px: i64) -> bool {
    (0..=i128::from(spec.depth_touches)).any(|k| {
        let raw = i128::from(p0) * k * i128::from(spec.slippage_bps_per_touch.0);
        let d = 10_000 * i128::from(S);
        let off = (raw + d - 1) / d;
        let tick = i128::from(TICK);
        let off = (off + tick - 1) / tick * tick;
        let want = match side {
            Side::Buy => i128::from(p0) + off,
            Side::Sell => i128::from(p0) - off,
        };
        want > 0 && want == i128::from(px)
    })
}

fn expected_fee(price: i64, qty: i64, bps: i64) -> i64 {
    // Realistic ranges only: the i128 product cannot overflow here.
    let num = i128::from(price) * i128::from(qty) * i128::from(bps);
    let d: i128 = 100_000_000_000_000_000_000;
    let (q, r) = (num / d, num % d);
    (if 2 * r.abs() >= d {
        q + num.signum()
    } else {
        q
    }) as i64
}

#[derive(Default)]
struct OrderState {
    acked: bool,
    done: bool,
    filled: i64,
}

fn check(c: &Case, x: &PaperExchange, out: &[Execution], tape: &Tape) -> Result<(), TestCaseError> {
    let spec = &c.spec;
    let entry = (spec.md_latency_ms + spec.order_latency_ms) * MS;
    let mut st: HashMap<u64, OrderState> = HashMap::new();
    let mut maker_at: HashMap<u64, i64> = HashMap::new();
    let (mut cash, mut pos) = (i128::from(spec.initial_cash.0) * i128::from(S), 0i128);
    let mut fees: i128 = 0;
    let mut fills = 0u64;
    for e in out {
        if e.exec == ExecType::Rejected(VenueReject::UnknownOrder) {
            prop_assert!(tape.cancels.contains(&e.client_order_id), "{e:?}");
            continue;
        }
        let o = tape.orders.get(&e.client_order_id);
        prop_assert!(o.is_some(), "execution for an order never submitted: {e:?}");
        let o = o.unwrap();
        let i = o.intent;
        prop_assert_eq!((e.instrument, e.side), (i.instrument, i.side));
        let s = st.entry(e.client_order_id).or_default();
        prop_assert!(!s.done, "execution after the order finished: {:?}", e);
        let immediate = e.exec == ExecType::Rejected(VenueReject::Unavailable) && !s.acked;
        if !immediate {
            prop_assert!(e.market_ns >= o.sent_ns + entry, "before arrival: {e:?}");
        }
        match e.exec {
            ExecType::Rejected(_) => {
                prop_assert!(!s.acked, "rejected after an ack: {e:?}");
                s.done = true;
            }
            ExecType::Ack => {
                prop_assert!(!s.acked);
                prop_assert_eq!(e.leaves, i.qty);
                s.acked = true;
            }
            ExecType::Cancelled => {
                prop_assert!(s.acked);
                prop_assert_eq!(e.leaves, Qty::ZERO);
                s.done = true;
            }
            ExecType::Expired => prop_assert!(false, "nothing expires: {e:?}"),
            ExecType::Fill => {
                prop_assert!(s.acked && e.qty.0 > 0, "{e:?}");
                s.filled += e.qty.0;
                prop_assert!(s.filled <= i.qty.0, "overfilled: {e:?}");
                prop_assert_eq!(e.leaves.0, i.qty.0 - s.filled);
                s.done = e.leaves.0 == 0;
                fills += 1;
                prop_assert_eq!(e.price.0 % TICK, 0);
                // Price: the model's, never worse.
                let limit = (i.order_type == OrderType::Limit).then_some(i.price.0);
                match e.liquidity {
                    Liquidity::Maker => {
                        let l = limit.unwrap_or(0);
                        prop_assert_eq!(Some(e.price.0), limit, "maker fills at its limit");
                        prop_assert!(i.tif != TimeInForce::Ioc);
                        let tr = tape.trades.get(&e.market_ns);
                        prop_assert!(tr.is_some(), "maker fill without a print: {e:?}");
                        let (tp, _) = *tr.unwrap();
                        prop_assert!(
                            match i.side {
                                Side::Buy => tp <= l,
                                Side::Sell => tp >= l,
                            },
                            "print {tp} does not reach {e:?}"
                        );
                        *maker_at.entry(e.market_ns).or_default() += e.qty.0;
                        prop_assert_eq!(
                            e.fee,
                            expected_fee(e.price.0, e.qty.0, spec.maker_fee_bps.0)
                        );
                    }
                    Liquidity::Taker => {
                        prop_assert!(i.tif != TimeInForce::PostOnly);
                        if let Some(l) = limit {
                            prop_assert!(!worse(i.side, e.price, Price(l)), "through limit: {e:?}");
                        }
                        let ok = books_at(tape, e.market_ns).any(|(bp, bq, ap, aq)| {
                            let (p0, q0) = match i.side {
                                Side::Buy => (ap, aq),
                                Side::Sell => (bp, bq),
                            };
                            p0 > 0 && q0 > 0 && on_ladder(spec, p0, i.side, e.price.0)
                        });
                        prop_assert!(ok, "taker price off the ladder: {e:?}");
                        prop_assert_eq!(
                            e.fee,
                            expected_fee(e.price.0, e.qty.0, spec.taker_fee_bps.0)
                        );
                    }
                }
                let sgn = i128::from(i.side.sign());
                cash -= sgn * i128::from(e.price.0) * i128::from(e.qty.0);
                cash -= i128::from(e.fee) * i128::from(S);
                fees += i128::from(e.fee) * i128::from(S);
                pos += sgn * i128::from(e.qty.0);
            }
        }
    }
    // Our maker fills never exceed the print that made them.
    for (m, q) in &maker_at {
        prop_assert!(
            *q <= tape.trades[m].1,
            "makers took {q} of {:?}",
            tape.trades[m]
        );
    }
    // Every order got an answer; the unfinished ones are exactly the resting ones.
    for (id, o) in &tape.orders {
        let s = st.get(id);
        prop_assert!(s.is_some(), "order {id} never answered");
        let s = s.unwrap();
        let r = x.resting().iter().find(|r| r.client_order_id == *id);
        if s.done {
            prop_assert!(r.is_none());
        } else {
            prop_assert!(r.is_some(), "order {id} neither finished nor resting");
            prop_assert_eq!(r.unwrap().leaves.0, o.intent.qty.0 - s.filled);
        }
    }
    prop_assert_eq!(x.in_transit(), 0);
    prop_assert_eq!(x.reports_in_flight(), 0);
    prop_assert_eq!(x.stats().fills, fills);
    // Money, exactly.
    let a = x.account();
    let p = a.position(BTC).unwrap();
    prop_assert_eq!(a.cash(), cash);
    prop_assert_eq!(a.fees(), fees);
    prop_assert_eq!(i128::from(p.qty.0), pos);
    prop_assert_eq!(p.mark.0, tape.mark);
    prop_assert_eq!(a.equity(), cash + pos * i128::from(tape.mark));
    prop_assert_eq!(
        a.equity(),
        a.initial_cash() + a.realized() + a.unrealized() - a.fees()
    );
    if pos == 0 {
        prop_assert_eq!(p.cost, 0);
    }
    Ok(())
}

proptest! {
    #[test]
    fn fee_is_the_exact_product_rounded_once(
        price in 1i64..=100_000_000_000_000,
        qty in 1i64..=1_000_000_000_000,
        bps in -1_000_000_000_000i64..=1_000_000_000_000,
    ) {
        prop_assert_eq!(fee_for(Price(price), Qty(qty), bps), expected_fee(price, qty, bps));
        prop_assert_eq!(fee_for(Price(-price), Qty(qty), bps), -expected_fee(price, qty, bps));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_paths_keep_every_invariant(c in case()) {
        let (x, out, tape) = run(&c);
        check(&c, &x, &out, &tape)?;
        // Deterministic: the same calls give the same executions and the same account.
        let (y, again, _) = run(&c);
        prop_assert_eq!(&out, &again);
        prop_assert_eq!(x.account().equity(), y.account().equity());
        prop_assert_eq!(x.stats(), y.stats());
    }
}

/// Any values at all, on an instrument with tick and lot 1 so that they get past validation.
#[derive(Clone, Debug)]
enum Garbage {
    Book(i64, i64, i64, i64, u64),
    Trade(i64, i64, u64, bool),
    Submit(u64, bool, bool, u8, i64, i64, u64),
    Cancel(u64, u64),
    Time(u64),
}

fn garbage() -> impl Strategy<Value = Garbage> {
    let px = prop_oneof![any::<i64>(), 1i64..1_000, (i64::MAX - 1_000)..=i64::MAX];
    let qty = prop_oneof![any::<i64>(), 1i64..1_000, (i64::MAX - 1_000)..=i64::MAX];
    let ns = prop_oneof![
        any::<u64>(),
        0u64..10_000_000,
        (u64::MAX - 1_000)..=u64::MAX
    ];
    prop_oneof![
        (px.clone(), qty.clone(), px.clone(), qty.clone(), ns.clone())
            .prop_map(|(a, b, c, d, t)| Garbage::Book(a, b, c, d, t)),
        (px.clone(), qty.clone(), ns.clone(), any::<bool>())
            .prop_map(|(p, q, t, s)| Garbage::Trade(p, q, t, s)),
        (
            0u64..8,
            any::<bool>(),
            any::<bool>(),
            0u8..3,
            px,
            qty,
            ns.clone()
        )
            .prop_map(|(id, b, m, tif, p, q, t)| Garbage::Submit(id, b, m, tif, p, q, t)),
        (0u64..8, ns.clone()).prop_map(|(id, t)| Garbage::Cancel(id, t)),
        ns.prop_map(Garbage::Time),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_input_is_answered_without_panicking(
        (ol, md, maker, taker, slip, depth) in (
            prop_oneof![Just(0u64), Just(60_000u64)],
            prop_oneof![Just(0u64), Just(60_000u64)],
            prop_oneof![Just(-10_000 * S), Just(10_000 * S), Just(0)],
            prop_oneof![Just(10_000 * S), Just(0)],
            prop_oneof![Just(10_000 * S), Just(0), Just(1)],
            prop_oneof![Just(0u32), Just(1_000u32)],
        ),
        steps in prop::collection::vec(garbage(), 1..60),
    ) {
        let spec = PaperSpec {
            order_latency_ms: ol,
            md_latency_ms: md,
            maker_fee_bps: Decimal8(maker),
            taker_fee_bps: Decimal8(taker),
            slippage_bps_per_touch: Decimal8(slip),
            depth_touches: depth,
            initial_cash: Decimal8(i64::MIN),
            book_from_trades: false,
        };
        let t = InstrumentTable::new(1);
        t.insert(Instrument { symbol: Symbol::new(b"X").unwrap(), tick: 1, lot: 1 }).unwrap();
        let mut x = PaperExchange::new(&spec, &t, 4, 4).unwrap();
        let mut out = Vec::new();
        for g in steps {
            match g {
                Garbage::Book(bp, bq, ap, aq, ns) => {
                    let mut b = book(0, 0, 0, 0, 0);
                    (b.bid_px, b.bid_qty, b.ask_px, b.ask_qty, b.event_ns) =
                        (Price(bp), Qty(bq), Price(ap), Qty(aq), ns);
                    x.on_book_ticker(&b, &mut out);
                }
                Garbage::Trade(p, q, ns, sell) => {
                    let mut tr = trade(0, 0, 0, if sell { Side::Sell } else { Side::Buy });
                    (tr.price, tr.qty, tr.trade_ns) = (Price(p), Qty(q), ns);
                    x.on_trade(&tr, &mut out);
                }
                Garbage::Submit(id, buy, mkt, tif, p, q, ns) => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let ty = if mkt { OrderType::Market } else { OrderType::Limit };
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::PostOnly]
                        [usize::from(tif)];
                    let mut o = order(id, side, ty, tif, 0, 0, 0);
                    (o.intent.price, o.intent.qty, o.sent_ns) = (Price(p), Qty(q), ns);
                    x.submit(&o, &mut out);
                }
                Garbage::Cancel(id, ns) => {
                    let mut c = cancel(id, 0);
                    c.sent_ns = ns;
                    let _ = x.cancel(&c, &mut out);
                }
                Garbage::Time(ns) => x.on_time(ns, &mut out),
            }
        }
        x.on_time(u64::MAX, &mut out);
        let a = x.account();
        let _ = (a.equity(), a.realized(), a.unrealized());
        for p in a.positions() {
            let _ = (p.avg_entry(), p.unrealized());
        }
        prop_assert_eq!(x.in_transit(), 0);
        prop_assert_eq!(x.reports_in_flight(), 0);
    }
}
