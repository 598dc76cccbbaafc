use super::*;
use crate::ring::channel;
use proptest::prelude::*;

const S: u64 = 1_000;

fn trade_at(id: u64, ms: u64, px: i64, qty: i64) -> Trade {
    Trade {
        instrument: InstrumentId(0),
        trade_id: id,
        price: Price(px),
        qty: Qty(qty),
        trade_ns: ms * 1_000_000,
        event_ns: ms * 1_000_000,
        buyer_is_maker: id.is_multiple_of(2),
        source: 0,
        flags: 0,
        anomalies: 0,
    }
}

fn env(t: Trade) -> Envelope {
    Envelope {
        ingress_ns: 0,
        stamp_ns: 0,
        recv_ns: 0,
        market_ns: t.trade_ns,
        seq: t.trade_id,
        payload: Payload::Trade(t),
    }
}

fn trade(id: u64, ms: u64, px: i64, qty: i64) -> Envelope {
    env(trade_at(id, ms, px, qty))
}

fn candles(out: &[Envelope]) -> Vec<Candle> {
    out.iter()
        .filter_map(|e| match e.payload {
            Payload::Candle(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn stage(res: &[Resolution], gaps: GapPolicy, lateness_ms: u64) -> (Candles, Arc<LaneStats>) {
    let stats = Arc::new(LaneStats::default());
    let (tx, rx) = channel(1024).unwrap();
    std::mem::forget(rx);
    let c = Candles::new(1, res, stats.clone(), ColdTx::new(tx))
        .with_policy(gaps, lateness_ms * 1_000_000);
    (c, stats)
}

#[test]
fn aggregates_and_closes_on_the_next_bucket() {
    let (mut c, stats) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Skip, 0);
    let mut out = Vec::new();
    c.on_event(&trade(1, 60 * S, 100, 1), &mut out);
    c.on_event(&trade(2, 60 * S + 500, 105, 2), &mut out);
    c.on_event(&trade(3, 60 * S + 900, 95, 3), &mut out);
    c.on_event(&trade(4, 61 * S, 101, 4), &mut out);
    let got = candles(&out);
    assert_eq!(got.len(), 1);
    let k = got[0];
    assert_eq!(
        (k.open, k.high, k.low, k.close),
        (Price(100), Price(105), Price(95), Price(95))
    );
    assert_eq!(k.volume, Qty(6));
    // Ids 1 and 3 have buyer_is_maker = false: the taker bought.
    assert_eq!(k.taker_buy_volume, Qty(4));
    assert_eq!(k.trades, 3);
    assert_eq!(k.open_ns, 60_000_000_000);
    assert_eq!((k.flags, k.revision, k.sources), (0, 0, 1));
    // The trade that closed it comes first: whoever acts on the close has seen it.
    assert!(matches!(out[3].payload, Payload::Trade(_)));
    assert!(matches!(out[4].payload, Payload::Candle(_)));
    // Next minute: the 1s and the 1m close together, finest first.
    c.on_event(&trade(5, 120 * S, 110, 1), &mut out);
    let got = candles(&out);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].resolution, Resolution::S1);
    assert_eq!(got[2].resolution, Resolution::M1);
    assert_eq!(got[2].trades, 4);
    assert_eq!((got[2].open, got[2].close), (Price(100), Price(101)));
    assert_eq!(got[2].volume, Qty(10));
    assert_eq!(stats.candles_closed(Resolution::S1), 2);
    assert_eq!(stats.candles_closed(Resolution::M1), 1);
}

#[test]
fn a_bar_close_trade_closes_its_candles_at_once() {
    let (mut c, stats) = stage(&[Resolution::M1, Resolution::H1], GapPolicy::Skip, 0);
    let mut out = Vec::new();
    // The last minute of an hour, played as a bar: open, extremes, close (flagged).
    let base = 59 * 60 * S;
    for (k, px) in [100, 90, 120, 110].into_iter().enumerate() {
        let mut e = trade(k as u64 + 1, base, px, 1);
        if let Payload::Trade(t) = &mut e.payload {
            t.trade_ns += k as u64;
            t.flags = Trade::FROM_BAR | if k == 3 { Trade::BAR_CLOSE } else { 0 };
        }
        c.on_event(&e, &mut out);
    }
    let got = candles(&out);
    // Both the minute and the hour it completes close on the close trade, after it.
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(out[3].payload, Payload::Trade(_)));
    assert_eq!(
        (got[0].resolution, got[1].resolution),
        (Resolution::M1, Resolution::H1)
    );
    assert_eq!(
        (
            got[0].open,
            got[0].high,
            got[0].low,
            got[0].close,
            got[0].volume
        ),
        (Price(100), Price(120), Price(90), Price(110), Qty(4))
    );
    assert_eq!(got[1].close, Price(110));
    // The next bar opens a new candle, not a late trade.
    c.on_event(&trade(5, 60 * 60 * S, 111, 1), &mut out);
    assert_eq!(candles(&out).len(), 2);
    assert_eq!(stats.candles_closed(Resolution::M1), 1);
    assert_eq!(
        c.open_candle(InstrumentId(0), Resolution::M1).unwrap().open,
        Price(111)
    );
}

#[test]
fn vwap_is_quote_over_volume() {
    let (mut c, _) = stage(&[Resolution::M1], GapPolicy::Skip, 0);
    let mut out = Vec::new();
    // 1 @ 100.00000000 and 3 @ 104.00000000 → vwap 103.
    c.on_event(&trade(1, 0, 100_0000_0000, 1_0000_0000), &mut out);
    c.on_event(&trade(2, 1, 104_0000_0000, 3_0000_0000), &mut out);
    c.on_event(&trade(3, 60 * S, 1, 1), &mut out);
    let k = candles(&out)[0];
    assert_eq!(k.vwap(), Some(Price(103_0000_0000)));
    assert_eq!(k.quote_volume, 412_0000_0000);
}

#[test]
fn skipped_gaps_flag_the_next_candle_and_fill_emits_flat_candles() {
    let (mut c, _) = stage(&[Resolution::S1], GapPolicy::Skip, 0);
    let mut out = Vec::new();
    c.on_event(&trade(1, 0, 100, 1), &mut out);
    c.on_event(&trade(2, 3 * S, 101, 1), &mut out);
    c.on_event(&trade(3, 4 * S, 102, 1), &mut out);
    let got = candles(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].open_ns, 3_000_000_000);
    assert_eq!(
        got[1].flags & Candle::FLAG_AFTER_GAP,
        Candle::FLAG_AFTER_GAP
    );

    let (mut c, stats) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Fill, 0);
    let mut out = Vec::new();
    c.on_event(&trade(1, 0, 100, 1), &mut out);
    c.on_event(&trade(2, 3 * S, 101, 1), &mut out);
    let got = candles(&out);
    // Bucket 0 closes, then buckets 1 and 2 are filled flat at 100.
    assert_eq!(got.len(), 3, "{got:?}");
    for (k, f) in got[1..].iter().enumerate() {
        assert_eq!(f.open_ns, (k as u64 + 1) * 1_000_000_000);
        assert_eq!(f.flags, Candle::FLAG_FILLED);
        assert_eq!(
            (f.open, f.high, f.low, f.close),
            (Price(100), Price(100), Price(100), Price(100))
        );
        assert_eq!((f.volume, f.trades), (Qty(0), 0));
    }
    assert_eq!(stats.candles.filled.get(), 2);
    // Filled 1s candles are not folded into the minute: its volume is the trades'.
    c.on_event(&trade(3, 60 * S, 1, 1), &mut out);
    let m = candles(&out)
        .into_iter()
        .find(|k| k.resolution == Resolution::M1)
        .unwrap();
    assert_eq!(
        (m.volume, m.trades, m.open, m.close),
        (Qty(2), 2, Price(100), Price(101))
    );
}

#[test]
fn a_long_outage_is_not_filled() {
    let (mut c, stats) = stage(&[Resolution::S1], GapPolicy::Fill, 0);
    let mut out = Vec::new();
    c.on_event(&trade(1, 0, 100, 1), &mut out);
    c.on_event(&trade(2, (MAX_FILL + 5) * S, 101, 1), &mut out);
    c.on_event(&trade(3, (MAX_FILL + 6) * S, 101, 1), &mut out);
    let got = candles(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].flags & Candle::FLAG_AFTER_GAP,
        Candle::FLAG_AFTER_GAP
    );
    assert_eq!(stats.candles.filled.get(), 0);
}

#[test]
fn late_trades_within_lateness_revise_every_resolution() {
    let (mut c, stats) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Skip, 2_000);
    let mut out = Vec::new();
    c.on_event(&trade(1, 59 * S + 100, 100, 1), &mut out);
    c.on_event(&trade(3, 60 * S + 100, 101, 1), &mut out); // closes 59 s and minute 0
    out.clear();
    // Trade 2 was at 59.9 s (a new low), 1.2 s late: within 2 s.
    c.on_event(&trade(2, 59 * S + 900, 90, 5), &mut out);
    let got = candles(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    for k in &got {
        assert_eq!(k.revision, 1);
        assert_eq!(
            (k.low, k.close, k.volume, k.trades),
            (Price(90), Price(90), Qty(6), 2)
        );
    }
    assert_eq!(got[0].resolution, Resolution::S1);
    assert_eq!(got[1].resolution, Resolution::M1);
    assert_eq!(stats.candles.revisions.get(), 2);
    assert_eq!(stats.candles.late.get(), 0);
    // A trade earlier than the first one changes the open, not the close.
    c.on_event(&trade(0, 59 * S, 80, 1), &mut out);
    let k = *candles(&out).last().unwrap();
    assert_eq!((k.open, k.close, k.revision), (Price(80), Price(90), 2));
}

#[test]
fn late_trade_into_a_still_open_coarse_candle_updates_it() {
    let (mut c, _) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Skip, 5_000);
    let mut out = Vec::new();
    c.on_event(&trade(1, 10 * S, 100, 1), &mut out);
    c.on_event(&trade(3, 11 * S, 100, 1), &mut out);
    c.on_event(&trade(2, 10 * S + 500, 120, 1), &mut out);
    let m = c.open_candle(InstrumentId(0), Resolution::M1).unwrap();
    assert_eq!((m.high, m.volume, m.trades), (Price(120), Qty(3), 3));
    assert_eq!(m.revision, 0);
}

#[test]
fn too_late_trades_are_counted_flagged_and_journaled() {
    let stats = Arc::new(LaneStats::default());
    let (tx, mut rx) = channel(64).unwrap();
    let mut c = Candles::new(1, &[Resolution::S1], stats.clone(), ColdTx::new(tx));
    let mut out = Vec::new();
    c.on_event(&trade(1, 2 * S, 100, 1), &mut out);
    c.on_event(&trade(2, 1_500, 1, 1), &mut out);
    let open = c.open_candle(InstrumentId(0), Resolution::S1).unwrap();
    assert_eq!(open.low, Price(100));
    assert_eq!(open.flags & Candle::FLAG_LATE, Candle::FLAG_LATE);
    assert_eq!(stats.candles.late.get(), 1);
    assert!(rx.try_pop().is_some());
}

#[test]
fn integrity_data_travels_up() {
    let (mut c, _) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Skip, 0);
    let mut out = Vec::new();
    let mut a = trade_at(1, 0, 100, 1);
    a.source = 2;
    a.anomalies = 1 << AnomalyKind::Spike.index();
    c.on_event(&env(a), &mut out);
    // Id 5 after id 1: a hole.
    let mut b = trade_at(5, S, 100, 1);
    b.source = 0;
    c.on_event(&env(b), &mut out);
    c.on_event(&trade(6, 60 * S, 100, 1), &mut out);
    let m = candles(&out)
        .into_iter()
        .find(|k| k.resolution == Resolution::M1)
        .unwrap();
    assert_eq!(m.sources, 0b101);
    assert_eq!(m.anomalies, 1 << AnomalyKind::Spike.index());
    assert_eq!(m.flags & Candle::FLAG_ID_GAP, Candle::FLAG_ID_GAP);
}

#[test]
fn unknown_instrument_is_ignored_not_a_panic() {
    let (mut c, _) = stage(&[Resolution::S1], GapPolicy::Skip, 0);
    let mut e = trade(1, 1, 1, 1);
    if let Payload::Trade(t) = &mut e.payload {
        t.instrument = InstrumentId(9);
    }
    let mut out = Vec::new();
    c.on_event(&e, &mut out);
    assert_eq!(out.len(), 1);
}

/// Builds candles at one resolution straight from trades, the obvious way.
fn direct(trades: &[(u64, i64, i64)], r: Resolution) -> Vec<(u64, i64, i64, i64, i64, i64, u32)> {
    let mut v: Vec<(u64, i64, i64, i64, i64, i64, u32)> = Vec::new();
    for &(ms, px, q) in trades {
        let b = ms * 1_000_000 - ms * 1_000_000 % r.nanos();
        match v.last_mut() {
            Some(k) if k.0 == b => {
                k.2 = k.2.max(px);
                k.3 = k.3.min(px);
                k.4 = px;
                k.5 += q;
                k.6 += 1;
            }
            _ => v.push((b, px, px, px, px, q, 1)),
        }
    }
    v
}

proptest! {
    /// The cascade gives every resolution exactly what aggregating the trades directly gives.
    #[test]
    fn cascade_equals_direct_aggregation(steps in proptest::collection::vec((0u64..90_000, 1i64..1_000, 1i64..100), 1..300)) {
        let mut ms = 1_700_000_000_000u64;
        let mut trades = Vec::new();
        for (dt, px, q) in steps {
            ms += dt;
            trades.push((ms, px, q));
        }
        let res = [Resolution::S1, Resolution::M1, Resolution::M5, Resolution::H1];
        let (mut c, _) = stage(&res, GapPolicy::Skip, 0);
        let mut out = Vec::new();
        for (i, &(ms, px, q)) in trades.iter().enumerate() {
            c.on_event(&trade(i as u64 + 1, ms, px, q), &mut out);
        }
        c.flush(&trade(0, 0, 0, 0), &mut out);
        let got = candles(&out);
        for r in res {
            let mine: Vec<_> = got
                .iter()
                .filter(|k| k.resolution == r)
                .map(|k| (k.open_ns, k.open.0, k.high.0, k.low.0, k.close.0, k.volume.0, k.trades))
                .collect();
            prop_assert_eq!(mine, direct(&trades, r), "{:?}", r);
        }
    }
}

#[test]
fn live_candles_show_the_bucket_so_far() {
    let (c, _) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Skip, 0);
    let mut c = c.with_live(&[Resolution::M1, Resolution::H1]);
    let mut out = Vec::new();
    c.on_event(&trade(1, 0, 100, 1), &mut out);
    c.on_event(&trade(2, S, 103, 2), &mut out);
    let live: Vec<Candle> = candles(&out)
        .into_iter()
        .filter(|k| k.flags & Candle::FLAG_LIVE != 0)
        .collect();
    // One per trade, for 1m only (1h is not built).
    assert_eq!(live.len(), 2);
    assert_eq!(live[1].resolution, Resolution::M1);
    assert_eq!(
        (live[1].open, live[1].close, live[1].volume, live[1].trades),
        (Price(100), Price(103), Qty(3), 2)
    );
}

#[test]
fn a_late_trade_into_a_filled_bucket_reaches_the_coarse_candle() {
    let (mut c, _) = stage(&[Resolution::S1, Resolution::M1], GapPolicy::Fill, 5_000);
    let mut out = Vec::new();
    // Minute 0 closes with a trade; in minute 1 second 0 is empty and filled when second 2
    // trades... then second 0's trade arrives late.
    c.on_event(&trade(1, 59 * S, 100, 1), &mut out);
    c.on_event(&trade(3, 62 * S, 102, 1), &mut out);
    c.on_event(&trade(2, 60 * S + 500, 90, 2), &mut out);
    c.on_event(&trade(4, 120 * S, 1, 1), &mut out);
    let m: Vec<Candle> = candles(&out)
        .into_iter()
        .filter(|k| k.resolution == Resolution::M1 && k.open_ns == 60_000_000_000)
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].open, m[0].low, m[0].close, m[0].volume, m[0].trades),
        (Price(90), Price(90), Price(102), Qty(3), 2)
    );
}
