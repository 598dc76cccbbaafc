//! The indicators allocate nothing after `new`: update, preview and reset run on the
//! crate's counting allocator (`tickwire::core::alloc`) and must leave this thread's count
//! where it was.

use std::hint::black_box;

use tickwire::core::alloc::thread_allocations;
use tickwire::indicators::ema::Ema;
use tickwire::indicators::{
    Adx, Atr, Bar, Bbands, Indicator, IndicatorSet, Macd, Obv, RollingVwap, Rsi, SessionVwap, Sma,
    Stoch,
};

/// Bars with trends, level jumps (which force BBANDS re-bases), flat and zero-volume bars.
fn bars(n: usize) -> Vec<Bar> {
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut price = 60_000.0;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if i % 5000 == 4999 {
                price = if price > 1000.0 { 1.5 } else { 60_000.0 };
            }
            let open = price;
            price += ((s % 2001) as f64 - 1000.0) * price * 1e-6;
            let wick = ((s >> 24) % 100) as f64 * price * 1e-5;
            Bar {
                open_ns: 1_700_000_000_000_000_000 + i as u64 * 60_000_000_000,
                open,
                high: open.max(price) + wick,
                low: open.min(price) - wick,
                close: price,
                volume: if i % 13 == 0 {
                    0.0
                } else {
                    ((s >> 40) % 500) as f64 / 3.0
                },
            }
        })
        .collect()
}

fn run<I: Indicator>(ind: &mut I, bars: &[Bar]) {
    for b in bars {
        black_box(ind.preview_bar(b));
        black_box(ind.update_bar(b));
    }
    ind.reset();
    for b in &bars[..100] {
        black_box(ind.update_bar(b));
    }
    black_box(ind.value());
}

#[test]
fn update_preview_and_reset_never_allocate() {
    let bars = bars(50_000);
    let mut set = IndicatorSet::new();
    let mut sma = Sma::new(20);
    let mut ema = Ema::new(12);
    let mut rsi = Rsi::new(14);
    let mut macd = Macd::new(12, 26, 9);
    let mut bb = Bbands::new(20, 2.0, 1.5);
    let mut atr = Atr::new(14);
    let mut stoch = Stoch::new(5, 3, 3);
    let mut obv = Obv::new();
    let mut adx = Adx::new(14);
    let mut vwap = SessionVwap::new();
    let mut rolling = RollingVwap::new(390);

    let before = thread_allocations();
    run(&mut set, &bars);
    run(&mut sma, &bars);
    run(&mut ema, &bars);
    run(&mut rsi, &bars);
    run(&mut macd, &bars);
    run(&mut bb, &bars);
    run(&mut atr, &bars);
    run(&mut stoch, &bars);
    run(&mut obv, &bars);
    run(&mut adx, &bars);
    run(&mut vwap, &bars);
    run(&mut rolling, &bars);
    let after = thread_allocations();
    assert_eq!(after - before, 0, "heap calls on the update path");
    // The counter does count on this thread.
    black_box(Vec::<u64>::with_capacity(4));
    assert!(thread_allocations() > after);
}
