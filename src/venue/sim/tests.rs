//! Unit and property tests for the paper exchange. Prices here: tick 0.01, lot 0.001.

use super::*;
use crate::core::order::{OrderIntent, Purpose};
use crate::core::{Instrument, Symbol};

const S: i64 = SCALE;
const TICK: i64 = S / 100;
const LOT: i64 = S / 1_000;
const MS: u64 = NS_PER_MS;
const BTC: InstrumentId = InstrumentId(0);

fn table() -> InstrumentTable {
    let t = InstrumentTable::new(2);
    for s in ["BTCUSDT", "ETHUSDT"] {
        t.insert(Instrument {
            symbol: Symbol::new(s.as_bytes()).unwrap(),
            tick: TICK,
            lot: LOT,
        })
        .unwrap();
    }
    t
}

/// No latency, no fees, 10 bps slippage per touch, 10 levels.
fn instant() -> PaperSpec {
    PaperSpec {
        order_latency_ms: 0,
        md_latency_ms: 0,
        maker_fee_bps: Decimal8(0),
        taker_fee_bps: Decimal8(0),
        slippage_bps_per_touch: Decimal8::units(10),
        depth_touches: 10,
        initial_cash: Decimal8(0),
        book_from_trades: false,
    }
}

fn exchange(spec: &PaperSpec) -> PaperExchange {
    PaperExchange::new(spec, &table(), 16, 16).unwrap()
}

/// `px` in cents, quantities in thousandths.
fn book(ms: u64, bid: i64, bid_q: i64, ask: i64, ask_q: i64) -> BookTicker {
    BookTicker {
        instrument: BTC,
        update_id: ms,
        bid_px: Price(bid * TICK),
        bid_qty: Qty(bid_q * LOT),
        ask_px: Price(ask * TICK),
        ask_qty: Qty(ask_q * LOT),
        event_ns: ms * MS,
        source: 0,
    }
}

fn trade(ms: u64, px: i64, qty: i64, aggressor: Side) -> Trade {
    Trade {
        instrument: BTC,
        trade_id: ms,
        price: Price(px * TICK),
        qty: Qty(qty * LOT),
        trade_ns: ms * MS,
        event_ns: ms * MS,
        buyer_is_maker: aggressor == Side::Sell,
        source: 0,
        flags: 0,
        anomalies: 0,
    }
}

fn order(
    id: u64,
    side: Side,
    ty: OrderType,
    tif: TimeInForce,
    px: i64,
    qty: i64,
    ms: u64,
) -> VenueOrder {
    VenueOrder {
        client_order_id: id,
        intent: OrderIntent {
            instrument: BTC,
            strategy: 0,
            side,
            order_type: ty,
            price: Price(px * TICK),
            qty: Qty(qty * LOT),
            tif,
            purpose: Purpose::Open,
            decided_ns: ms * MS,
        },
        sent_ns: ms * MS,
    }
}

fn market(id: u64, side: Side, qty: i64, ms: u64) -> VenueOrder {
    order(id, side, OrderType::Market, TimeInForce::Ioc, 0, qty, ms)
}

fn limit(id: u64, side: Side, tif: TimeInForce, px: i64, qty: i64, ms: u64) -> VenueOrder {
    order(id, side, OrderType::Limit, tif, px, qty, ms)
}

fn cancel(id: u64, ms: u64) -> VenueCancel {
    VenueCancel {
        client_order_id: id,
        instrument: BTC,
        sent_ns: ms * MS,
    }
}

/// (exec, price in cents, qty in lots, leaves in lots, liquidity) of each report.
fn brief(v: &[Execution]) -> Vec<(ExecType, i64, i64, i64)> {
    v.iter()
        .map(|e| (e.exec, e.price.0 / TICK, e.qty.0 / LOT, e.leaves.0 / LOT))
        .collect()
}

const ACK: ExecType = ExecType::Ack;
const FILL: ExecType = ExecType::Fill;
const CXL: ExecType = ExecType::Cancelled;

// ---------------------------------------------------------------- taker

#[test]
fn market_order_fills_at_the_touch() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 2_000, 10_000, 1_500), &mut out);
    x.submit(&market(1, Side::Buy, 1_000, 1), &mut out);
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000), (FILL, 10_000, 1_000, 0)]);
    assert_eq!(out[1].liquidity, Liquidity::Taker);
    assert_eq!(out[1].market_ns, MS);
    x.submit(&market(2, Side::Sell, 500, 1), &mut out);
    assert_eq!(brief(&out[2..]), [(ACK, 0, 0, 500), (FILL, 9_999, 500, 0)]);
    assert!(x.resting().is_empty());
}

#[test]
fn size_beyond_the_touch_slips_per_touch_multiple() {
    // 10 bps of 100.00 = 0.10 per touch size walked.
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(1, Side::Buy, 2_500, 1), &mut out);
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 2_500),
            (FILL, 10_000, 1_000, 1_500),
            (FILL, 10_010, 1_000, 500),
            (FILL, 10_020, 500, 0),
        ]
    );
    // The taken size stays taken: the next buy starts half way into level 2.
    out.clear();
    x.submit(&market(2, Side::Buy, 1_000, 1), &mut out);
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 1_000),
            (FILL, 10_020, 500, 500),
            (FILL, 10_030, 500, 0)
        ]
    );
    // A new ticker gives the liquidity back.
    out.clear();
    x.on_book_ticker(&book(2, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(3, Side::Buy, 1_000, 2), &mut out);
    assert_eq!(brief(&out)[1], (FILL, 10_000, 1_000, 0));
}

#[test]
fn slippage_rounds_to_the_tick_against_the_taker_and_merges_equal_levels() {
    // 0.5 bps of 100.00 = 0.005 per level: level 1 → 0.01 (rounded out), level 2 → 0.01,
    // level 3 → 0.015 → 0.02. Sells round down.
    let spec = PaperSpec {
        slippage_bps_per_touch: Decimal8(S / 2),
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 10_000, 1_000, 10_001, 1_000), &mut out);
    x.submit(&market(1, Side::Sell, 3_500, 1), &mut out);
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 3_500),
            (FILL, 10_000, 1_000, 2_500),
            (FILL, 9_999, 2_000, 500),
            (FILL, 9_998, 500, 0),
        ]
    );
}

#[test]
fn market_order_beyond_the_ladder_is_cancelled_and_an_empty_book_rejects() {
    let spec = PaperSpec {
        depth_touches: 1,
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.submit(&market(1, Side::Buy, 1_000, 0), &mut out);
    assert_eq!(
        brief(&out),
        [(ExecType::Rejected(VenueReject::NoLiquidity), 0, 0, 0)]
    );
    out.clear();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(2, Side::Buy, 5_000, 1), &mut out);
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 5_000),
            (FILL, 10_000, 1_000, 4_000),
            (FILL, 10_010, 1_000, 3_000),
            (CXL, 0, 0, 0),
        ]
    );
    // Everything is taken now.
    out.clear();
    x.submit(&market(3, Side::Buy, 1_000, 1), &mut out);
    assert_eq!(out[0].exec, ExecType::Rejected(VenueReject::NoLiquidity));
    // A one-sided book: no bid.
    out.clear();
    x.on_book_ticker(&book(2, 0, 0, 10_000, 1_000), &mut out);
    x.submit(&market(4, Side::Sell, 1_000, 2), &mut out);
    assert_eq!(out[0].exec, ExecType::Rejected(VenueReject::NoLiquidity));
}

#[test]
fn ioc_remainder_is_cancelled() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Ioc, 10_015, 3_000, 1),
        &mut out,
    );
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 3_000),
            (FILL, 10_000, 1_000, 2_000),
            (FILL, 10_010, 1_000, 1_000),
            (CXL, 0, 0, 0),
        ]
    );
    // An IOC that does not cross: acked, then cancelled, never rests.
    out.clear();
    x.submit(
        &limit(2, Side::Buy, TimeInForce::Ioc, 9_990, 1_000, 1),
        &mut out,
    );
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000), (CXL, 0, 0, 0)]);
    assert!(x.resting().is_empty());
}

#[test]
fn crossing_limit_takes_then_rests_the_rest_with_no_queue() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 10_005, 2_000, 1),
        &mut out,
    );
    assert_eq!(
        brief(&out),
        [(ACK, 0, 0, 2_000), (FILL, 10_000, 1_000, 1_000)]
    );
    assert_eq!(out[1].liquidity, Liquidity::Taker);
    let r = x.resting()[0];
    assert_eq!(
        (r.price, r.leaves, r.queue_ahead),
        (Price(10_005 * TICK), Qty(1_000 * LOT), Some(Qty::ZERO))
    );
    // Now a maker at 100.05: a seller printing there fills it, as maker, at its price.
    out.clear();
    x.on_trade(&trade(2, 10_005, 400, Side::Sell), &mut out);
    assert_eq!(brief(&out), [(FILL, 10_005, 400, 600)]);
    assert_eq!(out[0].liquidity, Liquidity::Maker);
}

// ---------------------------------------------------------------- maker

#[test]
fn resting_order_fills_as_maker_on_a_trade_through() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    // Behind the touch: queue unknown.
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_998, 1_000, 1),
        &mut out,
    );
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000)]);
    assert_eq!(x.resting()[0].queue_ahead, None);
    out.clear();
    // At its price with an unknown queue: nothing.
    x.on_trade(&trade(2, 9_998, 5_000, Side::Sell), &mut out);
    // At a better price than its limit: not for it.
    x.on_trade(&trade(3, 9_999, 5_000, Side::Sell), &mut out);
    assert!(out.is_empty());
    // Through it: fills at its own price, up to the print.
    x.on_trade(&trade(4, 9_997, 400, Side::Sell), &mut out);
    assert_eq!(brief(&out), [(FILL, 9_998, 400, 600)]);
    assert_eq!(out[0].liquidity, Liquidity::Maker);
    // Either aggressor prints through.
    x.on_trade(&trade(5, 9_990, 5_000, Side::Buy), &mut out);
    assert_eq!(brief(&out)[1], (FILL, 9_998, 600, 0));
    assert!(x.resting().is_empty());
    // Finished: later prints do nothing.
    x.on_trade(&trade(6, 9_980, 5_000, Side::Sell), &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn queue_position_at_the_touch_with_partial_fills() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 3_000, 10_000, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_999, 2_000, 1),
        &mut out,
    );
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty(3_000 * LOT)));
    out.clear();
    x.on_trade(&trade(2, 9_999, 2_000, Side::Sell), &mut out);
    assert!(out.is_empty(), "2 of the 3 ahead traded");
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty(1_000 * LOT)));
    // A buyer lifting at the bid price does not work through the bid queue.
    x.on_trade(&trade(3, 9_999, 5_000, Side::Buy), &mut out);
    assert!(out.is_empty());
    // 1.5 traded: 1 clears the queue, 0.5 fills (partial).
    x.on_trade(&trade(4, 9_999, 1_500, Side::Sell), &mut out);
    assert_eq!(brief(&out), [(FILL, 9_999, 500, 1_500)]);
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty::ZERO));
    x.on_trade(&trade(5, 9_999, 1_000, Side::Sell), &mut out);
    x.on_trade(&trade(6, 9_999, 2_000, Side::Sell), &mut out);
    assert_eq!(
        brief(&out)[1..],
        [(FILL, 9_999, 1_000, 500), (FILL, 9_999, 500, 0)]
    );
    assert!(x.resting().is_empty());
}

#[test]
fn queue_is_capped_by_the_displayed_size_and_cleared_when_the_touch_moves_behind() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 3_000, 10_000, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_999, 1_000, 1),
        &mut out,
    );
    x.submit(
        &limit(2, Side::Buy, TimeInForce::Gtc, 9_998, 1_000, 1),
        &mut out,
    );
    x.on_book_ticker(&book(2, 9_999, 1_200, 10_000, 1_000), &mut out);
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty(1_200 * LOT)));
    assert_eq!(x.resting()[1].queue_ahead, None);
    // The bid drops to 99.98: order 1 is alone at 99.99, order 2 joins the touch's 0.7.
    x.on_book_ticker(&book(3, 9_998, 700, 10_000, 1_000), &mut out);
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty::ZERO));
    assert_eq!(x.resting()[1].queue_ahead, Some(Qty(700 * LOT)));
    // A seller at 99.98 for 1.0: prints through order 1 (fills 1.0 of its budget first).
    out.clear();
    x.on_trade(&trade(4, 9_998, 1_000, Side::Sell), &mut out);
    assert_eq!(brief(&out), [(FILL, 9_999, 1_000, 0)]);
    assert_eq!(out[0].client_order_id, 1);
    // Order 2's queue still went down by the print.
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty::ZERO));
}

#[test]
fn improving_the_touch_has_no_queue_and_own_orders_share_a_print() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 3_000, 10_002, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 10_000, 1_000, 1),
        &mut out,
    );
    x.submit(
        &limit(2, Side::Buy, TimeInForce::Gtc, 10_001, 1_000, 1),
        &mut out,
    );
    x.submit(
        &limit(3, Side::Buy, TimeInForce::Gtc, 10_000, 1_000, 1),
        &mut out,
    );
    assert_eq!(x.resting()[0].client_order_id, 2, "price priority");
    out.clear();
    // 1.5 at 100.00: order 2 (through) takes 1.0, order 1 (at price, no queue) 0.5, order 3
    // sits behind order 1 and gets nothing.
    x.on_trade(&trade(2, 10_000, 1_500, Side::Sell), &mut out);
    let ids: Vec<_> = out
        .iter()
        .map(|e| (e.client_order_id, e.qty.0 / LOT))
        .collect();
    assert_eq!(ids, [(2, 1_000), (1, 500)]);
    // 1.0 more: order 1's 0.5 first, then 0.5 to order 3.
    out.clear();
    x.on_trade(&trade(3, 10_000, 1_000, Side::Sell), &mut out);
    let ids: Vec<_> = out
        .iter()
        .map(|e| (e.client_order_id, e.qty.0 / LOT))
        .collect();
    assert_eq!(ids, [(1, 500), (3, 500)]);
}

#[test]
fn post_only_that_would_cross_is_rejected() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    let would_cross = ExecType::Rejected(VenueReject::WouldCross);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::PostOnly, 10_000, 1_000, 1),
        &mut out,
    );
    x.submit(
        &limit(2, Side::Sell, TimeInForce::PostOnly, 9_999, 1_000, 1),
        &mut out,
    );
    x.submit(
        &order(
            3,
            Side::Buy,
            OrderType::Market,
            TimeInForce::PostOnly,
            0,
            1_000,
            1,
        ),
        &mut out,
    );
    assert_eq!(
        out.iter().map(|e| e.exec).collect::<Vec<_>>(),
        [would_cross; 3]
    );
    out.clear();
    x.submit(
        &limit(4, Side::Sell, TimeInForce::PostOnly, 10_000, 1_000, 1),
        &mut out,
    );
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000)]);
    assert_eq!(x.resting()[0].queue_ahead, Some(Qty(1_000 * LOT)));
}

// ---------------------------------------------------------------- cancels

#[test]
fn cancels_working_in_transit_and_unknown() {
    let spec = PaperSpec {
        order_latency_ms: 10,
        md_latency_ms: 0,
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    // Working: acked at 11, cancel sent at 30 arrives at 40, reported at 50.
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_990, 1_000, 1),
        &mut out,
    );
    x.on_time(30 * MS, &mut out);
    x.cancel(&cancel(1, 30), &mut out).unwrap();
    x.on_time(49 * MS, &mut out);
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000)]);
    x.on_time(50 * MS, &mut out);
    assert_eq!(brief(&out)[1], (CXL, 0, 0, 0));
    assert_eq!((out[1].client_order_id, out[1].market_ns), (1, 40 * MS));
    assert!(x.resting().is_empty());
    x.on_trade(&trade(60, 9_980, 9_000, Side::Sell), &mut out);
    x.on_time(100 * MS, &mut out);
    assert_eq!(out.len(), 2, "a cancelled order never fills");

    // In transit: order and cancel both on the wire; the order arrives, rests, and the
    // cancel that follows it takes it out.
    out.clear();
    x.submit(
        &limit(2, Side::Buy, TimeInForce::Gtc, 9_990, 1_000, 100),
        &mut out,
    );
    x.cancel(&cancel(2, 101), &mut out).unwrap();
    assert_eq!(x.in_transit(), 2);
    x.on_time(200 * MS, &mut out);
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000), (CXL, 0, 0, 0)]);

    // In transit, too late: the market order fills on arrival, the cancel finds nothing.
    out.clear();
    x.on_book_ticker(&book(200, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(3, Side::Buy, 1_000, 200), &mut out);
    x.cancel(&cancel(3, 200), &mut out).unwrap();
    x.on_time(300 * MS, &mut out);
    let unknown = ExecType::Rejected(VenueReject::UnknownOrder);
    assert_eq!(
        brief(&out),
        [
            (ACK, 0, 0, 1_000),
            (FILL, 10_000, 1_000, 0),
            (unknown, 0, 0, 0)
        ]
    );

    // Unknown id, and a right id for the wrong instrument.
    out.clear();
    x.submit(
        &limit(4, Side::Buy, TimeInForce::Gtc, 9_990, 1_000, 300),
        &mut out,
    );
    x.cancel(&cancel(99, 300), &mut out).unwrap();
    let mut wrong = cancel(4, 300);
    wrong.instrument = InstrumentId(1);
    x.cancel(&wrong, &mut out).unwrap();
    x.on_time(400 * MS, &mut out);
    assert_eq!(
        out.iter()
            .map(|e| (e.client_order_id, e.exec))
            .collect::<Vec<_>>(),
        [(4, ACK), (99, unknown), (4, unknown)]
    );
    assert_eq!(x.resting().len(), 1);
}

// ---------------------------------------------------------------- latency

#[test]
fn an_order_matches_the_book_as_of_its_arrival() {
    // Sent at 0 on data 5 ms old, 10 ms on the wire: arrives at 15, reported at 25.
    let spec = PaperSpec {
        order_latency_ms: 10,
        md_latency_ms: 5,
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.on_book_ticker(&book(0, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(1, Side::Buy, 1_000, 0), &mut out);
    x.on_book_ticker(&book(14, 10_100, 1_000, 10_101, 1_000), &mut out);
    // The ticker at 15 is stamped at the arrival: the order gets there first.
    x.on_book_ticker(&book(15, 10_200, 1_000, 10_201, 1_000), &mut out);
    assert!(out.is_empty(), "nothing before the report latency");
    x.on_time(24 * MS, &mut out);
    assert!(out.is_empty());
    x.on_time(25 * MS, &mut out);
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000), (FILL, 10_101, 1_000, 0)]);
    assert_eq!(out[1].market_ns, 15 * MS);
    // Market data drives the clock as well as on_time does.
    out.clear();
    x.submit(&market(2, Side::Sell, 1_000, 15), &mut out);
    x.on_trade(&trade(40, 10_200, 1, Side::Buy), &mut out);
    assert_eq!(brief(&out), [(ACK, 0, 0, 1_000), (FILL, 10_200, 1_000, 0)]);
    assert_eq!(out[1].market_ns, 30 * MS);
}

#[test]
fn a_stale_send_arrives_now_and_the_wire_keeps_its_order() {
    let spec = PaperSpec {
        order_latency_ms: 10,
        md_latency_ms: 0,
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.on_book_ticker(&book(100, 9_999, 1_000, 10_000, 1_000), &mut out);
    // Stamped long ago: arrives at 100 (now), matched at once, reported at 110.
    x.submit(&market(1, Side::Buy, 500, 1), &mut out);
    assert_eq!(x.in_transit(), 0);
    // Sent later but stamped earlier than the one before it: still behind it on the wire.
    x.submit(&market(2, Side::Buy, 500, 120), &mut out);
    x.submit(&market(3, Side::Buy, 500, 50), &mut out);
    x.on_time(200 * MS, &mut out);
    let ids: Vec<_> = out
        .iter()
        .filter(|e| e.exec == FILL)
        .map(|e| (e.client_order_id, e.market_ns / MS))
        .collect();
    assert_eq!(ids, [(1, 100), (2, 130), (3, 130)]);
}

// ---------------------------------------------------------------- fees and accounting

#[test]
fn fees_maker_taker_and_rebate() {
    let spec = PaperSpec {
        taker_fee_bps: Decimal8::units(10),
        maker_fee_bps: Decimal8(-S / 4),
        ..instant()
    };
    let mut x = exchange(&spec);
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    x.submit(&market(1, Side::Buy, 1_000, 1), &mut out);
    // 100.00 × 1 × 10 bps = 0.1
    assert_eq!(out[1].fee, 10_000_000);
    x.submit(
        &limit(2, Side::Sell, TimeInForce::Gtc, 10_003, 1_000, 1),
        &mut out,
    );
    x.on_trade(&trade(2, 10_004, 333, Side::Buy), &mut out);
    // 100.03 × 0.333 × −0.25 bps = −0.00083274975 → −83_275 at 10⁻⁸ (half away from zero).
    let f = out.last().unwrap();
    assert_eq!((f.liquidity, f.fee), (Liquidity::Maker, -83_275));
    let a = x.account();
    assert_eq!(a.fees(), i128::from(10_000_000 - 83_275) * i128::from(S));
    assert_eq!(
        a.cash(),
        -(10_000 * TICK) as i128 * (1_000 * LOT) as i128
            + (10_003 * TICK) as i128 * (333 * LOT) as i128
            - a.fees()
    );
}

#[test]
fn fee_rounds_once_half_away_from_zero() {
    let bps = |b: i64| b * S;
    // 0.00006669 × 0.1 × 7.5 bps = 0.500175e-8 → 1.
    assert_eq!(fee_for(Price(6_669), Qty(S / 10), 75 * S / 10), 1);
    // Exactly half a unit: 1e-8 × 1 × 50 % = 0.5e-8 → 1, and −1 as a rebate.
    assert_eq!(fee_for(Price(1), Qty(S), bps(5_000)), 1);
    assert_eq!(fee_for(Price(1), Qty(S), bps(-5_000)), -1);
    assert_eq!(fee_for(Price(1), Qty(S), bps(4_999)), 0);
    // Large values stay exact: 1 000 000 × 1 000 × 100 % = 10⁹ quote; beyond i64 saturates.
    assert_eq!(
        fee_for(Price(1_000_000 * S), Qty(1_000 * S), bps(10_000)),
        1_000_000_000 * S
    );
    assert_eq!(
        fee_for(Price(i64::MAX), Qty(i64::MAX), bps(1_000)),
        i64::MAX
    );
    assert_eq!(
        fee_for(Price(i64::MIN), Qty(i64::MAX), bps(1_000)),
        -i64::MAX
    );
    assert_eq!(fee_for(Price(10_000 * TICK), Qty(0), bps(10)), 0);
    assert_eq!(money_to_e8(150_000_000), 2);
    assert_eq!(money_to_e8(-150_000_000), -2);
    assert_eq!(money_to_e8(149_999_999), 1);
}

#[test]
fn accounting_realizes_on_reduce_and_flip() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    let px = |c: i64| i128::from(c * TICK);
    let q = |l: i64| i128::from(l * LOT);
    x.on_book_ticker(&book(1, 9_999, 5_000, 10_000, 5_000), &mut out);
    x.submit(&market(1, Side::Buy, 1_000, 1), &mut out);
    x.on_book_ticker(&book(2, 11_000, 5_000, 11_001, 5_000), &mut out);
    x.submit(&market(2, Side::Sell, 500, 2), &mut out);
    let p = *x.account().position(BTC).unwrap();
    assert_eq!(p.qty, Qty(500 * LOT));
    assert_eq!(p.avg_entry(), Some(Price(10_000 * TICK)));
    assert_eq!(p.realized, (px(11_000) - px(10_000)) * q(500));
    // Mark = the mid, 110.005.
    assert_eq!(p.mark, Price(11_000 * TICK + TICK / 2));
    assert_eq!(p.unrealized(), (p.mark.0 as i128 - px(10_000)) * q(500));
    // Flip: sell 1.0 at 120.00 closes 0.5 (+10 each) and opens 0.5 short at 120.
    x.on_book_ticker(&book(3, 12_000, 5_000, 12_001, 5_000), &mut out);
    x.submit(&market(3, Side::Sell, 1_000, 3), &mut out);
    let p = *x.account().position(BTC).unwrap();
    assert_eq!(p.qty, Qty(-500 * LOT));
    assert_eq!(p.avg_entry(), Some(Price(12_000 * TICK)));
    assert_eq!(
        p.realized,
        (px(11_000) - px(10_000)) * q(500) + (px(12_000) - px(10_000)) * q(500)
    );
    x.on_trade(&trade(4, 11_500, 1, Side::Buy), &mut out);
    let a = x.account();
    assert_eq!(a.position(BTC).unwrap().mark, Price(11_500 * TICK));
    assert_eq!(a.unrealized(), (px(12_000) - px(11_500)) * q(500));
    assert_eq!(
        a.equity(),
        a.initial_cash() + a.realized() + a.unrealized() - a.fees()
    );
}

// ---------------------------------------------------------------- capacity, validation

#[test]
fn full_tables_reject_with_unavailable() {
    let spec = PaperSpec {
        order_latency_ms: 10,
        md_latency_ms: 0,
        ..instant()
    };
    let mut x = PaperExchange::new(&spec, &table(), 1, 2).unwrap();
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    let unavailable = ExecType::Rejected(VenueReject::Unavailable);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_990, 100, 1),
        &mut out,
    );
    x.submit(
        &limit(2, Side::Buy, TimeInForce::Gtc, 9_991, 100, 1),
        &mut out,
    );
    // The wire holds 2: the third is refused at once, and so is a cancel.
    x.submit(
        &limit(3, Side::Buy, TimeInForce::Gtc, 9_992, 100, 1),
        &mut out,
    );
    assert_eq!(brief(&out), [(unavailable, 0, 0, 0)]);
    assert_eq!(out[0].client_order_id, 3);
    assert_eq!(
        x.cancel(&cancel(1, 1), &mut out),
        Err(WireFull(cancel(1, 1)))
    );
    // One resting slot: order 2 is refused on arrival.
    x.on_time(100 * MS, &mut out);
    let got: Vec<_> = out[1..]
        .iter()
        .map(|e| (e.client_order_id, e.exec))
        .collect();
    assert_eq!(got, [(1, ACK), (2, unavailable)]);
    // An IOC needs no slot.
    x.submit(&market(4, Side::Buy, 100, 100), &mut out);
    x.on_time(200 * MS, &mut out);
    assert_eq!(out.last().unwrap().exec, FILL);
    assert_eq!(x.stats().rejects, 2);
}

#[test]
fn a_full_return_wire_delivers_early_and_loses_nothing() {
    let spec = PaperSpec {
        order_latency_ms: 10,
        md_latency_ms: 0,
        ..instant()
    };
    // Return wire: 4 × (1 + 1) + 64 = 72 reports.
    let mut x = PaperExchange::new(&spec, &table(), 1, 1).unwrap();
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_998, 1_000, 10_000, 1_000), &mut out);
    x.submit(
        &limit(1, Side::Buy, TimeInForce::Gtc, 9_999, 1_000, 1),
        &mut out,
    );
    x.on_time(50 * MS, &mut out);
    assert_eq!(out.len(), 1);
    // 200 prints within a millisecond, one lot each: 200 maker fills due 10 ms later.
    for i in 0..200 {
        let mut t = trade(100, 9_999, 1, Side::Sell);
        t.trade_ns += i;
        x.on_trade(&t, &mut out);
    }
    assert_eq!(x.stats().early_reports, 200 - 72);
    assert_eq!(out.len(), 1 + 200 - 72);
    x.on_time(200 * MS, &mut out);
    assert_eq!(out.len(), 201);
    let leaves: Vec<_> = out[1..].iter().map(|e| e.leaves.0 / LOT).collect();
    assert_eq!(leaves, (800..1_000).rev().collect::<Vec<_>>());
}

#[test]
fn malformed_orders_are_rejected_not_panicked_on() {
    let mut x = exchange(&instant());
    let mut out = Vec::new();
    x.on_book_ticker(&book(1, 9_999, 1_000, 10_000, 1_000), &mut out);
    let mut off_tick = limit(1, Side::Buy, TimeInForce::Gtc, 9_990, 100, 1);
    off_tick.intent.price.0 += 1;
    let mut off_lot = limit(2, Side::Buy, TimeInForce::Gtc, 9_990, 100, 1);
    off_lot.intent.qty.0 += 1;
    let zero = limit(3, Side::Buy, TimeInForce::Gtc, 9_990, 0, 1);
    let negative_px = limit(4, Side::Buy, TimeInForce::Gtc, -5, 100, 1);
    let mut unknown_inst = market(5, Side::Buy, 100, 1);
    unknown_inst.intent.instrument = InstrumentId(7);
    let ok = limit(6, Side::Buy, TimeInForce::Gtc, 9_990, 100, 1);
    let dup = limit(6, Side::Sell, TimeInForce::Gtc, 10_090, 100, 1);
    for o in [off_tick, off_lot, zero, negative_px, unknown_inst, ok, dup] {
        x.submit(&o, &mut out);
    }
    let other = ExecType::Rejected(VenueReject::Other);
    assert_eq!(
        out.iter().map(|e| e.exec).collect::<Vec<_>>(),
        [other, other, other, other, other, ACK, other]
    );
    // Garbage market data is ignored.
    let mut bad = trade(2, 0, 5, Side::Sell);
    x.on_trade(&bad, &mut out);
    bad.instrument = InstrumentId(9);
    x.on_trade(&bad, &mut out);
    let mut far = book(3, 1, 1, 2, 1);
    far.instrument = InstrumentId(9);
    x.on_book_ticker(&far, &mut out);
    x.on_book_ticker(&book(4, -5, -1, i64::MAX / TICK, i64::MAX / LOT), &mut out);
    x.submit(&market(8, Side::Buy, 10_000_000, 4), &mut out);
    x.submit(&market(9, Side::Sell, 10_000_000, 4), &mut out);
    assert_eq!(out.len(), 10);
}

#[test]
fn spec_parses_exact_decimals_and_refuses_unknown_keys_and_floats() {
    let s = PaperSpec::from_toml(
        "order_latency_ms = 3\nmaker_fee_bps = \"-0.25\"\ntaker_fee_bps = 4\n\
         slippage_bps_per_touch = \"0.5\"\ninitial_cash = \"10000.5\"",
    )
    .unwrap();
    assert_eq!(s.order_latency_ms, 3);
    assert_eq!(s.md_latency_ms, 5, "default");
    assert_eq!(s.maker_fee_bps, Decimal8(-S / 4));
    assert_eq!(s.taker_fee_bps, Decimal8::units(4));
    assert_eq!(s.slippage_bps_per_touch, Decimal8(S / 2));
    assert_eq!(s.initial_cash, Decimal8(10_000 * S + S / 2));
    assert_eq!(PaperSpec::from_toml("").unwrap(), PaperSpec::default());
    assert!(PaperSpec::from_toml("latency_ms = 3").is_err());
    let e = PaperSpec::from_toml("maker_fee_bps = 0.25").unwrap_err();
    assert!(e.to_string().contains("strings"), "{e}");
    let e = PaperSpec::from_toml("taker_fee_bps = \"-1\"").unwrap_err();
    assert!(matches!(
        e,
        PaperSpecError::OutOfRange {
            field: "taker_fee_bps",
            ..
        }
    ));
    assert!(PaperSpec::from_toml("depth_touches = 1001").is_err());
    assert!(PaperSpec::from_toml("md_latency_ms = 60001").is_err());
    let bad = PaperSpec {
        slippage_bps_per_touch: Decimal8(-1),
        ..PaperSpec::default()
    };
    assert!(PaperExchange::new(&bad, &table(), 1, 1).is_err());
}

// ---------------------------------------------------------------- determinism, allocation

/// A fixed script touching every path.
fn script(x: &mut PaperExchange, out: &mut impl Sink<Execution>, rounds: u64) {
    for r in 0..rounds {
        let t = r * 7;
        let m = 10_000 + (r % 13) as i64 - 6;
        x.on_book_ticker(&book(t, m - 1, 1_000 + (r % 5) as i64 * 100, m, 900), out);
        x.submit(&market(r * 10 + 1, Side::Buy, 1_500, t), out);
        x.submit(
            &limit(r * 10 + 2, Side::Sell, TimeInForce::Gtc, m + 2, 700, t),
            out,
        );
        x.submit(
            &limit(r * 10 + 3, Side::Buy, TimeInForce::PostOnly, m - 1, 400, t),
            out,
        );
        x.submit(
            &limit(r * 10 + 4, Side::Buy, TimeInForce::Ioc, m + 1, 2_000, t),
            out,
        );
        x.on_trade(&trade(t + 2, m + 3, 500, Side::Buy), out);
        x.on_trade(&trade(t + 3, m - 1, 900, Side::Sell), out);
        let _ = x.cancel(&cancel((r * 10 + 2).wrapping_sub(20), t + 3), out);
        let _ = x.cancel(&cancel(r * 10 + 3, t + 4), out);
        x.on_time((t + 5) * MS, out);
    }
    x.on_time(u64::MAX, out);
}

#[test]
fn same_calls_same_executions() {
    let spec = PaperSpec {
        order_latency_ms: 2,
        md_latency_ms: 1,
        maker_fee_bps: Decimal8(-S / 10),
        ..instant()
    };
    let run = || {
        let mut x = exchange(&spec);
        let mut out = Vec::new();
        script(&mut x, &mut out, 200);
        (out, x.account().cash(), x.account().equity(), x.stats())
    };
    let (a, b) = (run(), run());
    assert!(a.0.len() > 1_000, "{}", a.0.len());
    assert_eq!(a, b);
    let fills = a.0.iter().filter(|e| e.exec == FILL).count();
    let makers =
        a.0.iter()
            .filter(|e| e.exec == FILL && e.liquidity == Liquidity::Maker)
            .count();
    assert!(fills > 200 && makers > 50, "{fills} {makers}");
}

/// A sink that keeps a count and a checksum: no heap.
#[derive(Default)]
struct Tally {
    n: u64,
    sum: u64,
}

impl Sink<Execution> for Tally {
    fn emit(&mut self, e: Execution) {
        self.n += 1;
        self.sum = self
            .sum
            .wrapping_mul(31)
            .wrapping_add(e.client_order_id ^ e.qty.0 as u64);
    }
}

#[test]
fn no_allocation_after_new() {
    let spec = PaperSpec {
        order_latency_ms: 2,
        md_latency_ms: 1,
        ..instant()
    };
    // Small tables, so the full-table and early-report paths run too.
    let mut x = PaperExchange::new(&spec, &table(), 1, 2).unwrap();
    let mut sink = Tally::default();
    let before = crate::core::alloc::thread_allocations();
    script(&mut x, &mut sink, 2_000);
    let _ = x.account().equity();
    let after = crate::core::alloc::thread_allocations();
    assert_eq!(after - before, 0);
    assert!(sink.n > 10_000, "{}", sink.n);
    assert!(
        x.stats().rejects > 0 && x.stats().fills > 1_000,
        "{:?}",
        x.stats()
    );
}

mod props;

#[test]
fn a_trade_as_the_book_matches_the_two_call_path() {
    // Trades standing for the book, with orders resting and in flight at times, give the
    // same executions, clock and marks through `on_trade_as_book` (quiet fast path or not)
    // as through `on_book_ticker` then `on_trade`.
    let depth = Qty(i64::MAX / 4);
    let spec = PaperSpec {
        order_latency_ms: 2,
        ..instant()
    };
    let (mut a, mut b) = (exchange(&spec), exchange(&spec));
    let (mut ra, mut rb): (Vec<Execution>, Vec<Execution>) = (Vec::new(), Vec::new());
    let prices = [
        10_000, 10_010, 9_990, 10_005, 9_980, 10_020, 10_000, 9_995, 10_030, 10_001,
    ];
    for (k, &px) in prices.iter().enumerate() {
        let ms = 10 * k as u64;
        let t = trade(ms, px, 5, if k % 2 == 0 { Side::Buy } else { Side::Sell });
        a.on_trade_as_book(&t, depth, &mut ra);
        let bt = BookTicker {
            instrument: t.instrument,
            update_id: t.trade_id,
            bid_px: t.price,
            bid_qty: depth,
            ask_px: t.price,
            ask_qty: depth,
            event_ns: 0,
            source: t.source,
        };
        b.on_book_ticker(&bt, &mut rb);
        b.on_trade(&t, &mut rb);
        match k {
            2 => {
                let o = market(1, Side::Buy, 3, ms);
                a.submit(&o, &mut ra);
                b.submit(&o, &mut rb);
            }
            4 => {
                let o = limit(2, Side::Sell, TimeInForce::Gtc, 10_015, 2, ms);
                a.submit(&o, &mut ra);
                b.submit(&o, &mut rb);
            }
            _ => {}
        }
        assert_eq!(a.now(), b.now(), "clock after trade {k}");
        assert_eq!(
            a.account().position(BTC).map(|p| p.mark),
            b.account().position(BTC).map(|p| p.mark),
            "mark after trade {k}"
        );
    }
    assert_eq!(ra, rb);
    assert!(
        ra.iter().filter(|e| e.exec == ExecType::Fill).count() >= 2,
        "{ra:?}"
    );
    assert_eq!(a.account().cash(), b.account().cash());
}
