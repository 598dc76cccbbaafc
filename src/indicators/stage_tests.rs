use super::*;
use crate::core::{InstrumentId, Price, Qty};

fn candle(k: u64, close: i64, revision: u16, flags: u8) -> Envelope {
    let p = Price(close);
    Envelope::at(
        k,
        Payload::Candle(Candle {
            instrument: InstrumentId(0),
            resolution: Resolution::M1,
            open_ns: k * 60_000_000_000,
            open: Price(close - 50),
            high: Price(close + 100),
            low: Price(close - 100),
            close: p,
            volume: Qty(100_000_000),
            quote_volume: 0,
            trades: 1,
            sources: 1,
            taker_buy_volume: Qty(0),
            anomalies: 0,
            revision,
            flags,
        }),
    )
}

fn updates(out: &[Envelope]) -> Vec<IndicatorUpdate> {
    out.iter()
        .filter_map(|e| match e.payload {
            Payload::Indicator(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn stage() -> Indicators {
    Indicators::new(
        1,
        &[Resolution::S1, Resolution::M1],
        3,
        5,
        Arc::new(LaneStats::default()),
    )
}

fn closes(n: u64) -> impl Iterator<Item = i64> {
    (0..n).map(|k| 10_000_000_000 + ((k * 7919) % 613) as i64 * 1_000_000)
}

#[test]
fn a_revision_of_the_last_candle_equals_having_had_it_right() {
    // Stage A sees candle 39 with a wrong close, then its revision; stage B sees it right.
    let (mut a, mut b) = (stage(), stage());
    let (mut oa, mut ob) = (Vec::new(), Vec::new());
    for (k, c) in closes(40).enumerate() {
        let k = k as u64;
        if k == 39 {
            a.on_event(&candle(k, c - 5_000_000, 0, 0), &mut oa);
            a.on_event(&candle(k, c, 1, 0), &mut oa);
        } else {
            a.on_event(&candle(k, c, 0, 0), &mut oa);
        }
        b.on_event(&candle(k, c, 0, 0), &mut ob);
    }
    let (ua, ub) = (updates(&oa), updates(&ob));
    let (last_a, last_b) = (ua.last().unwrap(), ub.last().unwrap());
    assert_eq!(last_a.revision, 1);
    for (x, y) in [
        (last_a.ema_fast, last_b.ema_fast),
        (last_a.rsi, last_b.rsi),
        (last_a.macd_hist, last_b.macd_hist),
        (last_a.atr, last_b.atr),
        (last_a.adx, last_b.adx),
    ] {
        assert_eq!(x.to_bits(), y.to_bits());
    }
    assert_eq!(last_a.patterns, last_b.patterns);
    // Carry on: both stay identical.
    a.on_event(&candle(40, 10_100_000_000, 0, 0), &mut oa);
    b.on_event(&candle(40, 10_100_000_000, 0, 0), &mut ob);
    let (x, y) = (
        updates(&oa).last().copied().unwrap(),
        updates(&ob).last().copied().unwrap(),
    );
    assert_eq!(x.rsi.to_bits(), y.rsi.to_bits());
    assert_eq!(a.stats.strategy.indicator_rewinds.get(), 1);
}

#[test]
fn live_candles_preview_without_changing_state() {
    let (mut a, mut b) = (stage(), stage());
    let (mut oa, mut ob) = (Vec::new(), Vec::new());
    for (k, c) in closes(30).enumerate() {
        let k = k as u64;
        // A also sees two live previews of every candle before it closes.
        a.on_event(&candle(k, c - 3_000_000, 0, Candle::FLAG_LIVE), &mut oa);
        a.on_event(&candle(k, c, 0, Candle::FLAG_LIVE), &mut oa);
        a.on_event(&candle(k, c, 0, 0), &mut oa);
        b.on_event(&candle(k, c, 0, 0), &mut ob);
    }
    let ua = updates(&oa);
    let closed: Vec<_> = ua.iter().filter(|u| !u.live).collect();
    let ub = updates(&ob);
    assert_eq!(closed.len(), ub.len());
    for (x, y) in closed.iter().zip(&ub) {
        assert_eq!(x.rsi.to_bits(), y.rsi.to_bits());
        assert_eq!(x.adx.to_bits(), y.adx.to_bits());
    }
    // The preview with the final close equals the closed value.
    let n = ua.len();
    assert!(ua[n - 2].live && !ua[n - 1].live);
    assert_eq!(ua[n - 2].rsi.to_bits(), ua[n - 1].rsi.to_bits());
}

#[test]
fn stale_revisions_are_counted_not_applied() {
    let mut a = stage();
    let mut out = Vec::new();
    for (k, c) in closes(5).enumerate() {
        a.on_event(&candle(k as u64, c, 0, 0), &mut out);
    }
    let n = updates(&out).len();
    a.on_event(&candle(1, 1, 1, 0), &mut out);
    assert_eq!(updates(&out).len(), n);
    assert_eq!(a.stats.strategy.indicator_stale_revisions.get(), 1);
}

#[test]
fn patterns_pack_into_bits() {
    let mut p = [0; 12];
    p[0] = 100;
    p[5] = -80;
    assert_eq!(pack_patterns(&p), 1 | (1 << 11));
}
