//! A custom strategy run through the strategy host: `cargo run --example custom_strategy`.
//!
//! `VwapDrift` wants to be long while price holds above the session VWAP and short while it
//! holds below, by how many ATRs it is away: `raw = tanh((close − VWAP) / ATR)`. It reads
//! both from the indicator row the host keeps for it ([`col::VWAP`], [`col::ATR_14`]); it
//! keeps no state of its own, so it needs no [`Strategy::reserve`].
//!
//! The host does the rest from config: it scores the raw signals at 1m and 5m (do they
//! agree?), applies the entry / exit thresholds, cooldowns and holding time, sizes the entry
//! at a fixed notional rounded down to the lot, and writes a [`Decision`] for every step.
//! Here the candles are synthetic: an hour and a half of chop, then a steady climb, then a
//! drop.

use tickwire::core::order::OrderIntent;
use tickwire::core::{Candle, Instrument, InstrumentId, Price, Qty, Resolution, Symbol};
use tickwire::strategy::api::{col, Ctx, Portfolio, PortfolioView, Strategy};
use tickwire::strategy::config::{HostConfig, StrategyConfig};
use tickwire::strategy::host::{Action, Decision, StrategyHost};
use tickwire::strategy::noise::Suppression;

/// Long above the session VWAP, short below it, scaled by the distance in ATRs.
struct VwapDrift;

impl Strategy for VwapDrift {
    fn name(&self) -> &str {
        "vwap_drift"
    }

    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        resolution: Resolution,
    ) -> Option<f64> {
        let frame = ctx.frame(resolution)?;
        // `None` until both are ready: the host reports the step as not ready.
        let vwap = frame.value(col::VWAP)?;
        let atr = frame.value(col::ATR_14)?;
        if atr <= 0.0 {
            return Some(0.0);
        }
        Some(((frame.bar().close - vwap) / atr).tanh())
    }
}

/// The host: 1m and 5m, short regime means so a few candles are enough.
const HOST: &str = r#"
resolutions = ["1m", "5m"]
regime = { volume_period = 5, atr_period = 5 }
filter = { instrument_cooldown_ms = 0 }
"#;

/// What the host does with the strategy's signals.
const SETTINGS: &str = r#"
name = "vwap_drift"
scoring = { resolutions = { "1m" = 1.0, "5m" = 1.0 }, alignment = 1.0, volume = 0.0, volatility = 0.0 }
noise = { entry = 0.4, exit = 0.1, cooldown_ms = 120000, min_hold_ms = 300000 }
sizing = { mode = "fixed_notional", notional = "2500", min_notional = "10", scale_with_score = true }
"#;

fn main() {
    let spec = HostConfig::from_toml(HOST)
        .and_then(|c| c.validate())
        .expect("host config");
    let btc = Instrument {
        symbol: Symbol::new(b"BTCUSDT").expect("symbol"),
        tick: 1_000_000, // 0.01
        lot: 1_000,      // 0.00001
    };
    let mut host: StrategyHost<VwapDrift> = StrategyHost::new(&spec, &[btc]);
    let settings = toml::from_str::<StrategyConfig>(SETTINGS)
        .map_err(Into::into)
        .and_then(|c| c.validate("custom", &spec.resolutions, "vwap_drift"))
        .expect("strategy settings");
    let idx = host.add_custom(VwapDrift, settings).expect("room");

    let portfolio = Portfolio::new(1, 100_000 * 100_000_000);
    let mut intents: Vec<OrderIntent> = Vec::new();
    let mut decisions: Vec<Decision> = Vec::new();
    for c in synthetic() {
        let end = c.open_ns + c.resolution.nanos();
        host.on_candle(&c, end, &portfolio, &mut intents, &mut decisions);
    }

    for d in decisions.iter().filter(|d| d.action != Action::Stay) {
        println!(
            "minute {:>3}  {:<16} score {:+.3} (alignment {:+.2}, 1m {:+.2}, 5m {:+.2}) threshold {:.2} qty {}",
            (d.market_ns - T0) / MINUTE,
            d.action.as_str(),
            d.score,
            d.parts.alignment,
            d.parts.raw[Resolution::M1.index()].unwrap_or(0.0),
            d.parts.raw[Resolution::M5.index()].unwrap_or(0.0),
            d.threshold,
            d.qty.format(5),
        );
    }
    for i in &intents {
        println!(
            "intent: {} {} {} @ {} ({})",
            i.side.as_str(),
            i.qty.format(5),
            host.name(i.strategy).unwrap_or("?"),
            i.price.format(2),
            i.purpose.as_str()
        );
    }
    let st = host.strategy_stats(idx).expect("stats");
    let suppressed: Vec<(&str, u64)> = Suppression::ALL
        .iter()
        .map(|s| (s.as_str(), st.suppressed[s.index()]))
        .filter(|(_, n)| *n > 0)
        .collect();
    println!(
        "{} decisions, {} entries, {} exits; suppressed: {suppressed:?}",
        st.decisions, st.entries, st.exits
    );
    assert!(st.entries > 0, "the example should trade");
}

const MINUTE: u64 = 60_000_000_000;
/// A multiple of 1h (UTC).
const T0: u64 = 1_699_999_200_000_000_000;

/// 1m candles (and 5m ones folded from them, emitted after the 1m candle that closes them):
/// 90 minutes of chop around 60 000 (the 5m ATR needs 70 to warm up), an hour of climb,
/// 50 minutes of drop.
fn synthetic() -> Vec<Candle> {
    let mut out = Vec::new();
    let mut five: Option<Candle> = None;
    let mut close = 60_000.0_f64;
    for i in 0..200u64 {
        let open = close;
        close += match i {
            0..=89 => [12.0, -15.0, 9.0, -6.0][(i % 4) as usize],
            90..=149 => 18.0,
            _ => -30.0,
        };
        let px = |x: f64| Price((x * 100.0).round() as i64 * 1_000_000);
        let c = Candle {
            instrument: InstrumentId(0),
            resolution: Resolution::M1,
            open_ns: T0 + i * MINUTE,
            open: px(open),
            high: px(open.max(close) + 4.0),
            low: px(open.min(close) - 4.0),
            close: px(close),
            volume: Qty(2 * 100_000_000 + (i % 7) as i64 * 10_000_000),
            quote_volume: 0,
            trades: 10,
            sources: 1,
            taker_buy_volume: Qty(0),
            anomalies: 0,
            revision: 0,
            flags: 0,
        };
        out.push(c);
        let f = five.get_or_insert(Candle {
            resolution: Resolution::M5,
            volume: Qty(0),
            ..c
        });
        f.high = f.high.max(c.high);
        f.low = f.low.min(c.low);
        f.close = c.close;
        f.volume = Qty(f.volume.0 + c.volume.0);
        if (i + 1) % 5 == 0 {
            out.push(*f);
            five = None;
        }
    }
    out
}
