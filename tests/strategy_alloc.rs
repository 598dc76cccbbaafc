//! The strategy host allocates nothing per event after construction: candles (indicators,
//! all four built-in strategies, scoring, suppression, sizing, decisions), fills, trades,
//! book tickers and timers run on the crate's counting allocator
//! (`tickwire::core::alloc`) and must leave this thread's count where it was.
//!
//! The sinks are `Vec`s reserved up front, so they do not allocate either.

use std::hint::black_box;

use tickwire::core::alloc::thread_allocations;
use tickwire::core::order::OrderIntent;
use tickwire::core::{
    BookTicker, Candle, Instrument, InstrumentId, Price, Qty, Resolution, Symbol, Trade,
};
use tickwire::strategy::api::{Fill, Portfolio};
use tickwire::strategy::config::HostConfig;
use tickwire::strategy::host::{Decision, StrategyHost};

/// A jumpy random walk at 1m with volume bursts, filled and anomalous candles, plus 5m
/// and 1h candles folded from it, finest first.
fn candles(n: u64) -> Vec<Candle> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut price: i64 = 60_000 * 100_000_000;
    let t0: u64 = 1_699_999_200_000_000_000;
    let mut out = Vec::new();
    let mut agg: [Option<Candle>; 2] = [None, None];
    for i in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let open = price;
        price += ((s % 20_001) as i64 - 10_000) * 1_000_000;
        let wick = ((s >> 20) % 3_000) as i64 * 1_000_000;
        let mut c = Candle {
            instrument: InstrumentId(0),
            resolution: Resolution::M1,
            open_ns: t0 + i * Resolution::M1.nanos(),
            open: Price(open),
            high: Price(open.max(price) + wick),
            low: Price(open.min(price) - wick),
            close: Price(price),
            volume: Qty(((s >> 40) % 5_000) as i64 * 1_000_000 * if i % 97 == 0 { 8 } else { 1 }),
            quote_volume: 0,
            trades: 1,
            sources: 1,
            taker_buy_volume: Qty(0),
            anomalies: if i % 211 == 0 { 1 } else { 0 },
            revision: 0,
            flags: if i % 173 == 0 { Candle::FLAG_FILLED } else { 0 },
        };
        if c.flags != 0 {
            c.volume = Qty(0);
        }
        out.push(c);
        let end = c.open_ns + Resolution::M1.nanos();
        for (k, r) in [Resolution::M5, Resolution::H1].into_iter().enumerate() {
            let a = agg[k].get_or_insert(Candle {
                resolution: r,
                open_ns: c.open_ns - c.open_ns % r.nanos(),
                volume: Qty(0),
                flags: 0,
                anomalies: 0,
                ..c
            });
            a.high = a.high.max(c.high);
            a.low = a.low.min(c.low);
            a.close = c.close;
            a.volume = Qty(a.volume.0 + c.volume.0);
            if end.is_multiple_of(r.nanos()) {
                out.push(*a);
                agg[k] = None;
            }
        }
    }
    out
}

#[test]
fn the_per_event_path_never_allocates() {
    let spec = HostConfig::from_toml(
        "[[strategies]]\nmomentum = {}\n[[strategies]]\nreversal = {}\n\
         [[strategies]]\nbreakout = {}\n[[strategies]]\npattern = {}\n\
         [[strategies]]\nmomentum = { fast = 5, slow = 13 }\nsizing = { mode = 'vol_target', risk_fraction = 0.01 }\n\
         [[strategies]]\nbreakout = {}\nsizing = { mode = 'equity_fraction', fraction = 0.1 }",
    )
    .unwrap()
    .validate()
    .unwrap();
    let btc = Instrument {
        symbol: Symbol::new(b"BTCUSDT").unwrap(),
        tick: 1_000_000,
        lot: 1_000,
    };
    let all = candles(20_000);
    let mut host: StrategyHost = StrategyHost::new(&spec, &[btc, btc]);
    let mut pf = Portfolio::new(2, 100_000 * 100_000_000);
    let mut intents: Vec<OrderIntent> = Vec::with_capacity(all.len() * 4);
    let mut decisions: Vec<Decision> = Vec::with_capacity(all.len() * 6);

    let feed = |host: &mut StrategyHost,
                pf: &mut Portfolio,
                intents: &mut Vec<OrderIntent>,
                decisions: &mut Vec<Decision>,
                cs: &[Candle]| {
        for c in cs {
            let end = c.open_ns + c.resolution.nanos();
            let before = intents.len();
            host.on_candle(c, end, &*pf, intents, decisions);
            for k in before..intents.len() {
                let it = intents[k];
                pf.apply_fill(it.instrument, it.side, it.price, it.qty);
                let fill = Fill {
                    instrument: it.instrument,
                    strategy: it.strategy,
                    side: it.side,
                    purpose: it.purpose,
                    price: it.price,
                    qty: it.qty,
                    market_ns: end,
                };
                host.on_fill(&fill, &*pf, intents);
                if k % 7 == 0 {
                    host.on_reject(&it);
                }
            }
            if c.resolution == Resolution::M1 {
                let t = Trade {
                    instrument: InstrumentId(1),
                    trade_id: end,
                    price: c.close,
                    qty: Qty(1_000),
                    trade_ns: end,
                    event_ns: end,
                    buyer_is_maker: false,
                    source: 0,
                    flags: 0,
                    anomalies: 0,
                };
                host.on_trade(&t, end, &*pf, intents);
                let b = BookTicker {
                    instrument: InstrumentId(0),
                    update_id: end,
                    bid_px: c.close,
                    bid_qty: Qty(1),
                    ask_px: Price(c.close.0 + 1_000_000),
                    ask_qty: Qty(1),
                    event_ns: end,
                    source: 0,
                };
                host.on_book_ticker(&b, end, &*pf, intents);
                host.on_timer(end, &*pf, intents);
            }
        }
        host.flush(&*pf, intents, decisions);
    };

    // Warm-up, then the measured run.
    let split = all.len() / 4;
    feed(
        &mut host,
        &mut pf,
        &mut intents,
        &mut decisions,
        &all[..split],
    );
    let before = thread_allocations();
    feed(
        &mut host,
        &mut pf,
        &mut intents,
        &mut decisions,
        &all[split..],
    );
    let heap_calls = thread_allocations() - before;
    black_box((&intents, &decisions));
    assert!(intents.len() > 100, "the run traded: {}", intents.len());
    assert!(decisions.len() > 50_000);
    assert_eq!(heap_calls, 0, "heap calls on the per-event path");
}
