//! Textbook examples per pattern (each value checked with TA-Lib 0.8.2 on the same candles),
//! and the update / preview / reset contract. Agreement on real series is in
//! `tests/talib_patterns.rs`.

use super::*;

fn bar(open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar {
        open,
        high,
        low,
        close,
        ..Bar::default()
    }
}

/// Twenty ordinary white candles (body 1, range 2), so every average is known: long/short
/// body 1, doji 0.2, very short shadow 0.2, near 0.4, far 1.2.
fn base() -> PatternSet {
    let mut p = PatternSet::new();
    for _ in 0..20 {
        p.update(&bar(100.0, 101.5, 99.5, 101.0));
    }
    p
}

/// Open, high, low, close.
type Prices = (f64, f64, f64, f64);

/// The patterns at the last of `tail` after [`base`].
fn last(tail: &[Prices]) -> [i32; 12] {
    let mut p = base();
    let mut out = [0; 12];
    for &(o, h, l, c) in tail {
        out = p.update(&bar(o, h, l, c));
    }
    out
}

#[test]
fn textbook_examples() {
    let black = (101.0, 101.5, 99.5, 100.0);
    let long_white = (100.0, 103.2, 99.9, 103.0);
    let long_black = (103.0, 103.2, 99.9, 100.0);
    #[rustfmt::skip]
    let cases: &[(&str, &[Prices], usize, i32)] = &[
        ("doji", &[(100.0, 101.0, 99.0, 100.1)], DOJI, 100),
        ("body too long for a doji", &[(100.0, 101.0, 99.0, 100.5)], DOJI, 0),
        ("hammer", &[(99.6, 99.95, 98.5, 99.9)], HAMMER, 100),
        ("a hammer low down is no hanging man", &[(99.6, 99.95, 98.5, 99.9)], HANGING_MAN, 0),
        ("hanging man", &[(101.2, 101.55, 100.0, 101.5)], HANGING_MAN, -100),
        ("a hanging man up high is no hammer", &[(101.2, 101.55, 100.0, 101.5)], HAMMER, 0),
        ("shooting star", &[(101.3, 102.5, 101.05, 101.1)], SHOOTING_STAR, -100),
        ("shooting star without a gap", &[(101.0, 102.5, 100.95, 100.8)], SHOOTING_STAR, 0),
        ("inverted hammer", &[black, (99.7, 101.0, 99.65, 99.9)], INVERTED_HAMMER, 100),
        ("bullish engulfing", &[black, (99.8, 101.5, 99.7, 101.3)], ENGULFING, 100),
        ("engulfing from the same open", &[black, (100.0, 101.5, 99.7, 101.3)], ENGULFING, 80),
        ("bearish engulfing", &[(100.0, 101.5, 99.5, 101.0), (101.2, 101.5, 99.5, 99.7)], ENGULFING, -100),
        ("bearish harami", &[long_white, (101.0, 101.7, 100.8, 101.5)], HARAMI, -100),
        ("harami sharing the top", &[long_white, (102.5, 103.1, 102.4, 103.0)], HARAMI, -80),
        ("bullish harami", &[long_black, (101.0, 101.7, 100.8, 101.5)], HARAMI, 100),
        ("morning star", &[long_black, (99.5, 99.6, 99.1, 99.3), (99.6, 102.1, 99.5, 102.0)], MORNING_STAR, 100),
        ("morning star closing too low", &[long_black, (99.5, 99.6, 99.1, 99.3), (99.6, 100.9, 99.5, 100.8)], MORNING_STAR, 0),
        ("evening star", &[long_white, (103.5, 103.9, 103.4, 103.7), (103.4, 103.5, 100.9, 101.0)], EVENING_STAR, -100),
        ("three white soldiers", &[(100.0, 101.25, 99.9, 101.2), (100.9, 102.25, 100.8, 102.2), (101.9, 103.35, 101.8, 103.3)], THREE_WHITE_SOLDIERS, 100),
        ("soldier with a long upper shadow", &[(100.0, 101.25, 99.9, 101.2), (100.9, 102.25, 100.8, 102.2), (101.9, 104.0, 101.8, 103.3)], THREE_WHITE_SOLDIERS, 0),
        ("three black crows", &[(100.0, 102.5, 99.9, 102.0), (101.9, 102.0, 100.75, 100.8), (101.5, 101.6, 99.75, 99.8), (100.5, 100.6, 98.65, 98.7)], THREE_BLACK_CROWS, -100),
        ("crow opening outside the body", &[(100.0, 102.5, 99.9, 102.0), (101.9, 102.0, 100.75, 100.8), (102.0, 102.1, 99.75, 99.8), (100.5, 100.6, 98.65, 98.7)], THREE_BLACK_CROWS, 0),
        ("white marubozu", &[(100.0, 102.55, 99.98, 102.5)], MARUBOZU, 100),
        ("black marubozu", &[(102.5, 102.55, 99.98, 100.0)], MARUBOZU, -100),
    ];
    for (name, tail, col, want) in cases {
        assert_eq!(last(tail)[*col], *want, "{name} ({})", COLUMNS[*col]);
    }
}

#[test]
fn a_window_first_summed_later_keeps_talibs_double() {
    // Harami's "short" average for the current candle is first summed at candle 11, its
    // "long" average for the previous one at candle 10. Summed afresh, bodies 0.3 … 0.9, 10
    // make 14.600000000000001; moved there from candle 10's window they make 14.6. A body of
    // exactly 1.4600000000000002 is short under TA-Lib's double, and TA-Lib says -100.
    let bodies = [0.9, 0.3, 0.1, 1.1, 0.9, 0.9, 0.2, 0.1, 0.1, 0.9];
    let mut p = PatternSet::new();
    for b in bodies {
        p.update(&bar(0.0, b + 0.5, -0.5, b));
    }
    p.update(&bar(-5.0, 5.5, -5.5, 5.0));
    let x = 1.4600000000000002;
    assert_eq!(p.update(&bar(0.0, x + 0.5, -0.5, x))[HARAMI], -100);
}

#[test]
fn nothing_before_the_lookback() {
    // A perfect bullish engulfing on candles 0 and 1: TA-Lib's lookback for it is 2.
    let mut p = PatternSet::new();
    assert_eq!(p.update(&bar(101.0, 101.5, 99.5, 100.0)), [0; 12]);
    assert_eq!(p.update(&bar(99.8, 101.5, 99.7, 101.3)), [0; 12]);
    assert_eq!(p.update(&bar(101.5, 101.6, 99.0, 99.0))[ENGULFING], -100);
    // Doji candles: the first doji output is at index 10.
    let mut p = PatternSet::new();
    for i in 0..12 {
        let out = p.update(&bar(100.0, 101.0, 99.0, 100.0));
        assert_eq!(out[DOJI], if i >= 10 { 100 } else { 0 }, "candle {i}");
    }
}

/// A deterministic series with many equal prices.
fn series(n: usize) -> Vec<Bar> {
    let mut x: u64 = 12345;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) % m) as f64
    };
    let mut p = 1000.0;
    (0..n)
        .map(|_| {
            let o = p + next(7) - 3.0;
            let c = o + next(11) - 5.0;
            p = c;
            bar(o, o.max(c) + next(2), o.min(c) - next(2), c)
        })
        .collect()
}

#[test]
fn preview_is_the_next_update() {
    let mut p = PatternSet::new();
    for b in series(3000) {
        let seen = p.preview(&b);
        assert_eq!(p.preview(&b), seen, "preview must not change state");
        assert_eq!(p.update(&b), seen);
    }
}

#[test]
fn reset_repeats_outputs_exactly() {
    let bars = series(2000);
    let mut p = PatternSet::new();
    let first: Vec<[i32; 12]> = bars.iter().map(|b| p.update(b)).collect();
    assert!(first.iter().any(|o| o.iter().any(|&v| v != 0)));
    p.reset();
    assert_eq!(p.count(), 0);
    assert!(!p.is_ready());
    let again: Vec<[i32; 12]> = bars.iter().map(|b| p.update(b)).collect();
    assert_eq!(first, again);
}

#[test]
fn ready_after_the_longest_lookback() {
    let mut p = PatternSet::new();
    for b in series(14) {
        assert!(!p.is_ready());
        p.update(&b);
    }
    assert!(p.is_ready());
    assert_eq!(p.count(), 14);
    assert_eq!(MAX_LOOKBACK, *LOOKBACK.iter().max().unwrap());
}

#[test]
fn bad_prices_never_panic_and_heal() {
    let bars = series(60);
    let mut p = PatternSet::new();
    for b in &bars[..20] {
        p.update(b);
    }
    for bad in [
        bar(f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        bar(f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, 1.0),
        bar(f64::MAX, f64::MAX, -f64::MAX, -f64::MAX),
        bar(0.0, 0.0, 0.0, 0.0),
        bar(1.0, 0.0, 2.0, f64::MIN_POSITIVE),
    ] {
        p.update(&bad);
    }
    // Once the bad candles have left every window (14 candles), the outputs are those of a
    // set that never saw them (the prices are whole numbers, so every sum is exact).
    let mut q = PatternSet::new();
    for (i, b) in bars[20..].iter().enumerate() {
        let (x, y) = (p.update(b), q.update(b));
        if i >= 14 {
            assert_eq!(x, y, "candle {i} after the bad ones");
        }
    }
}

#[test]
fn zero_ranges_give_dojis_not_panics() {
    let mut p = PatternSet::new();
    let mut out = [0; 12];
    for _ in 0..20 {
        out = p.update(&bar(5.0, 5.0, 5.0, 5.0));
    }
    // Body 0 ≤ 0.1 × average range 0: a doji; nothing else holds with all lengths 0.
    assert_eq!(out[DOJI], 100);
    assert_eq!(out.iter().filter(|&&v| v != 0).count(), 1);
}

#[test]
fn updates_do_not_allocate() {
    let bars = series(5000);
    let mut p = PatternSet::new();
    let mut hits = 0usize;
    let before = crate::core::alloc::thread_allocations();
    for b in &bars {
        hits += p.update(b).iter().filter(|&&v| v != 0).count();
        hits += p.preview(b).iter().filter(|&&v| v != 0).count();
    }
    let after = crate::core::alloc::thread_allocations();
    assert_eq!(after - before, 0);
    assert!(hits > 0);
}
