//! Real 1m candles (Binance BTCUSDT, the TA-Lib fixture: 14,400 minutes) through the strategy
//! host at 1m / 5m / 1h with all four built-in strategies at their defaults: each must
//! decide at every step and trade, and two runs must be identical.
//!
//! 5m and 1h candles are aggregated here from the 1m ones, emitted finest first at each
//! boundary, as the candle stage does. Intents fill at once at their price (the venue and
//! risk engine are not part of this test); fills go back to the host and the portfolio.

use std::path::Path;

use tickwire::core::order::OrderIntent;
use tickwire::core::{Candle, Instrument, InstrumentId, Price, Qty, Resolution, Symbol};
use tickwire::strategy::api::{Fill, Portfolio};
use tickwire::strategy::config::HostConfig;
use tickwire::strategy::host::{Action, Decision, StrategyHost};
use tickwire::strategy::noise::Suppression;

const CONFIG: &str = r#"
resolutions = ["1m", "5m", "1h"]
[[strategies]]
momentum = {}
[[strategies]]
reversal = {}
[[strategies]]
breakout = {}
[[strategies]]
pattern = {}
"#;

fn load_1m() -> Vec<Candle> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/talib/binance_btcusdt_1m.csv.zst");
    let bytes = std::fs::read(&path).expect("fixture");
    let text = String::from_utf8(zstd::decode_all(&bytes[..]).expect("zstd")).expect("utf8");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.splitn(7, ',').collect();
            let px = |i: usize| Price::parse(f[i].as_bytes()).expect("price");
            Candle {
                instrument: InstrumentId(0),
                resolution: Resolution::M1,
                open_ns: f[0].parse::<u64>().expect("time") * 1_000_000,
                open: px(1),
                high: px(2),
                low: px(3),
                close: px(4),
                volume: Qty::parse(f[5].as_bytes()).expect("volume"),
                quote_volume: 0,
                trades: 1,
                sources: 1,
                taker_buy_volume: Qty(0),
                anomalies: 0,
                revision: 0,
                flags: 0,
            }
        })
        .collect()
}

/// 1m candles plus 5m and 1h ones folded from them, in emission order (finest first).
fn cascade(m1: &[Candle]) -> Vec<Candle> {
    let coarse = [Resolution::M5, Resolution::H1];
    let mut open: [Option<Candle>; 2] = [None, None];
    let mut out = Vec::with_capacity(m1.len() * 5 / 4);
    for c in m1 {
        out.push(*c);
        let end = c.open_ns + Resolution::M1.nanos();
        for (k, r) in coarse.iter().enumerate() {
            let start = c.open_ns - c.open_ns % r.nanos();
            if let Some(o) = open[k].filter(|o| o.open_ns != start) {
                out.push(o); // a gap: the bucket closed without its last minute
                open[k] = None;
            }
            let agg = open[k].get_or_insert(Candle {
                resolution: *r,
                open_ns: start,
                volume: Qty(0),
                ..*c
            });
            agg.high = agg.high.max(c.high);
            agg.low = agg.low.min(c.low);
            agg.close = c.close;
            agg.volume = Qty(agg.volume.0 + c.volume.0);
            if end.is_multiple_of(r.nanos()) {
                out.push(*agg);
                open[k] = None;
            }
        }
    }
    out
}

struct Run {
    intents: Vec<OrderIntent>,
    decisions: Vec<Decision>,
    host: StrategyHost,
}

fn run(candles: &[Candle]) -> Run {
    let spec = HostConfig::from_toml(CONFIG).unwrap().validate().unwrap();
    let btc = Instrument {
        symbol: Symbol::new(b"BTCUSDT").unwrap(),
        tick: 1_000_000,
        lot: 1_000,
    };
    let mut host = StrategyHost::new(&spec, &[btc]);
    let mut pf = Portfolio::new(1, 100_000 * 100_000_000);
    let mut intents = Vec::new();
    let mut decisions = Vec::new();
    for c in candles {
        let end = c.open_ns + c.resolution.nanos();
        let before = intents.len();
        host.on_candle(c, end, &pf, &mut intents, &mut decisions);
        // Fill every new intent at once at its price.
        for i in before..intents.len() {
            let it: OrderIntent = intents[i];
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
            host.on_fill(&fill, &pf, &mut intents);
        }
    }
    host.flush(&pf, &mut intents, &mut decisions);
    Run {
        intents,
        decisions,
        host,
    }
}

#[test]
fn four_strategies_trade_real_candles_deterministically() {
    let m1 = load_1m();
    assert!(m1.len() > 14_000);
    let candles = cascade(&m1);
    let a = run(&candles);
    let b = run(&candles);
    assert_eq!(a.intents, b.intents, "intents differ between runs");
    assert_eq!(a.decisions, b.decisions, "decisions differ between runs");

    let steps = a.host.stats().steps;
    assert_eq!(steps, m1.len() as u64, "one decision step per 1m candle");
    assert_eq!(a.host.stats().late_steps, 0);
    for s in 0..4u8 {
        let name = a.host.name(s).unwrap();
        let st = a.host.strategy_stats(s).unwrap();
        let entries = a
            .intents
            .iter()
            .filter(|i| i.strategy == s && i.purpose.is_opening())
            .count() as u64;
        let acted = a
            .decisions
            .iter()
            .filter(|d| d.strategy == s && d.action != Action::Stay)
            .count();
        eprintln!(
            "{name:>9}: decisions {} entries {} exits {} acted {acted} suppressed {:?}",
            st.decisions,
            st.entries,
            st.exits,
            Suppression::ALL
                .iter()
                .map(|r| (r.as_str(), st.suppressed[r.index()]))
                .filter(|(_, n)| *n > 0)
                .collect::<Vec<_>>()
        );
        assert_eq!(st.decisions, steps, "{name} decides at every step");
        assert_eq!(entries, st.entries);
        assert!(st.entries > 0, "{name} never entered");
        assert!(st.exits > 0, "{name} never exited");
        // Noise suppression is doing something on real data.
        assert!(st.suppressed[Suppression::NotReady.index()] > 0);
        assert!(
            st.suppressed[Suppression::Hysteresis.index()]
                + st.suppressed[Suppression::MinHold.index()]
                > 0
        );
    }
    // Every decision is finite, and every intent a whole number of lots.
    for d in &a.decisions {
        assert!(d.score.is_finite() && (-1.0..=1.0).contains(&d.score));
        assert!(d.threshold.is_finite() && d.exit_threshold <= d.threshold);
    }
    for i in &a.intents {
        assert!(i.qty.0 > 0 && i.qty.0 % 1_000 == 0, "{i:?}");
    }
}
