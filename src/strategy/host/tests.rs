//! The host's decision flow, driven by a scripted strategy whose raw signal the test sets.

use std::cell::Cell;
use std::rc::Rc;

use super::*;
use crate::core::{Symbol, Trade};
use crate::strategy::api::Portfolio;
use crate::strategy::config::{HostConfig, StrategyConfig};

const MIN: u64 = 60_000_000_000;
const T0: u64 = 1_699_999_200_000_000_000; // a multiple of 1h

/// Returns whatever the test put in `next`; on a trade, emits one limit intent itself.
struct Scripted {
    next: Rc<Cell<Option<f64>>>,
}

impl Strategy for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn on_candle<P: PortfolioView + ?Sized>(
        &mut self,
        _ctx: &mut Ctx<'_, P>,
        _resolution: Resolution,
    ) -> Option<f64> {
        self.next.get()
    }
    fn on_trade<P: PortfolioView + ?Sized>(&mut self, ctx: &mut Ctx<'_, P>, trade: &Trade) {
        let i = ctx.intent(
            Side::Buy,
            OrderType::Limit,
            trade.price,
            trade.qty,
            TimeInForce::PostOnly,
            Purpose::Open,
        );
        ctx.emit(i);
    }
}

fn instrument() -> Instrument {
    Instrument {
        symbol: Symbol::new(b"BTCUSDT").unwrap(),
        tick: 1_000_000,
        lot: 1_000,
    }
}

fn candle(res: Resolution, open_ns: u64, close: f64) -> Candle {
    let px = Price((close * 1e8) as i64);
    Candle {
        instrument: InstrumentId(0),
        resolution: res,
        open_ns,
        open: px,
        high: px,
        low: px,
        close: px,
        volume: Qty(100_000_000),
        quote_volume: 0,
        trades: 1,
        sources: 1,
        taker_buy_volume: Qty(0),
        anomalies: 0,
        revision: 0,
        flags: 0,
    }
}

/// Scripted strategy settings: score = raw (alignment only, no regime), entry 0.3, exit
/// 0.1, fixed thresholds, 2 min cooldown, 3 min hold, 1000 quote per entry.
fn settings() -> StrategyConfig {
    toml::from_str(
        r#"
        scoring = { volume = 0.0, volatility = 0.0 }
        noise = { entry = 0.3, exit = 0.1, volatility_sensitivity = 0.0, cooldown_ms = 120000, min_hold_ms = 180000 }
        sizing = { mode = "fixed_notional", notional = "1000", scale_with_score = false }
        "#,
    )
    .unwrap()
}

struct Rig {
    host: StrategyHost<Scripted>,
    signals: Vec<Rc<Cell<Option<f64>>>>,
    pf: Portfolio,
    intents: Vec<OrderIntent>,
    decisions: Vec<Decision>,
}

impl Rig {
    fn new(resolutions: &str, strategies: usize, instrument_cooldown_ms: u64) -> Self {
        let cfg = HostConfig::from_toml(&format!(
            "resolutions = {resolutions}\nfilter = {{ instrument_cooldown_ms = {instrument_cooldown_ms} }}"
        ))
        .unwrap();
        let spec = cfg.validate().unwrap();
        let mut host = StrategyHost::new(&spec, &[instrument()]);
        let mut signals = Vec::new();
        for _ in 0..strategies {
            let next = Rc::new(Cell::new(None));
            let s = settings()
                .validate("s", &spec.resolutions, "scripted")
                .unwrap();
            host.add_custom(Scripted { next: next.clone() }, s).unwrap();
            signals.push(next);
        }
        Self {
            host,
            signals,
            pf: Portfolio::new(1, 100_000 * 100_000_000),
            intents: Vec::new(),
            decisions: Vec::new(),
        }
    }

    fn set(&self, x: Option<f64>) {
        for s in &self.signals {
            s.set(x);
        }
    }

    /// Feeds a 1m candle for minute `i` closing at 100 with raw signal `x`; returns the
    /// decision of strategy 0.
    fn minute(&mut self, i: u64, x: Option<f64>) -> Decision {
        self.set(x);
        let c = candle(Resolution::M1, T0 + i * MIN, 100.0);
        self.feed(&c);
        *self.decisions.last().unwrap()
    }

    fn feed(&mut self, c: &Candle) {
        let end = c.open_ns + c.resolution.nanos();
        self.host
            .on_candle(c, end, &self.pf, &mut self.intents, &mut self.decisions);
    }
}

#[test]
fn decides_once_per_step_after_the_coarser_candles_close() {
    let mut r = Rig::new(r#"["1m", "5m"]"#, 1, 0);
    r.set(Some(0.0));
    for i in 0..5 {
        r.feed(&candle(Resolution::M1, T0 + i * MIN, 100.0));
    }
    // Minute 4 closes at a 5m boundary: held back until the 5m candle arrives.
    assert_eq!(r.decisions.len(), 4);
    r.feed(&candle(Resolution::M5, T0, 100.0));
    assert_eq!(r.decisions.len(), 5);
    assert_eq!(r.decisions[4].market_ns, T0 + 5 * MIN);
    assert_eq!(r.host.stats().late_steps, 0);
    // The next 5m candle never comes: the step runs when minute 10 does.
    for i in 5..10 {
        r.feed(&candle(Resolution::M1, T0 + i * MIN, 100.0));
    }
    assert_eq!(r.decisions.len(), 9);
    r.feed(&candle(Resolution::M1, T0 + 10 * MIN, 100.0));
    assert_eq!(r.decisions.len(), 11);
    assert_eq!(r.host.stats().late_steps, 1);
    // A 5m candle that came first still completes its step.
    r.feed(&candle(Resolution::M5, T0 + 10 * MIN, 100.0));
    for i in 11..15 {
        r.feed(&candle(Resolution::M1, T0 + i * MIN, 100.0));
    }
    assert_eq!(r.decisions.len(), 15);
    // Both raw signals were scored.
    let d = r.decisions.last().unwrap();
    assert_eq!(d.parts.raw[Resolution::M5.index()], Some(0.0));
    assert_eq!(d.suppressed, None);
    // An old candle is stale; flush decides nothing pending.
    r.feed(&candle(Resolution::M1, T0, 100.0));
    assert_eq!(r.host.stats().stale, 1);
    r.host.flush(&r.pf, &mut r.intents, &mut r.decisions);
    assert_eq!(r.decisions.len(), 15);
}

#[test]
fn entry_hysteresis_min_hold_cooldown_and_reversal() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    assert_eq!(r.minute(0, None).suppressed, Some(Suppression::NotReady));
    let d = r.minute(1, Some(0.5));
    assert_eq!((d.action, d.position), (Action::EnterLong, 1));
    // 1000 quote at 100 = 10 units, already whole lots.
    assert_eq!(d.qty, Qty(10 * 100_000_000));
    let d = r.minute(2, Some(0.2));
    assert_eq!(
        (d.action, d.suppressed),
        (Action::Stay, Some(Suppression::Hysteresis))
    );
    let d = r.minute(3, Some(0.05));
    assert_eq!(
        (d.action, d.suppressed),
        (Action::Stay, Some(Suppression::MinHold))
    );
    let d = r.minute(4, Some(0.05));
    assert_eq!((d.action, d.position), (Action::ExitLong, 0));
    let d = r.minute(5, Some(-0.5));
    assert_eq!(d.suppressed, Some(Suppression::StrategyCooldown));
    let d = r.minute(6, Some(-0.5));
    assert_eq!((d.action, d.position), (Action::EnterShort, -1));
    let d = r.minute(8, Some(0.9));
    assert_eq!(
        d.suppressed,
        Some(Suppression::MinHold),
        "no reversal inside the hold"
    );
    let d = r.minute(9, Some(0.9));
    assert_eq!((d.action, d.position), (Action::ReverseToLong, 1));

    let got: Vec<(Side, Purpose)> = r.intents.iter().map(|i| (i.side, i.purpose)).collect();
    assert_eq!(
        got,
        vec![
            (Side::Buy, Purpose::Open),
            (Side::Sell, Purpose::Close),
            (Side::Sell, Purpose::Open),
            (Side::Buy, Purpose::Close),
            (Side::Buy, Purpose::Open),
        ]
    );
    let i = r.intents[0];
    assert_eq!(
        (i.order_type, i.tif, i.strategy),
        (OrderType::Market, TimeInForce::Ioc, 0)
    );
    assert_eq!(
        (i.price, i.decided_ns),
        (Price(100 * 100_000_000), T0 + 2 * MIN)
    );
    let st = r.host.strategy_stats(0).unwrap();
    assert_eq!((st.decisions, st.entries, st.exits), (9, 3, 2));
    assert_eq!(st.suppressed[Suppression::MinHold.index()], 2);
    assert_eq!(st.suppressed[Suppression::Hysteresis.index()], 1);
    assert_eq!(st.suppressed[Suppression::StrategyCooldown.index()], 1);
    assert_eq!(st.suppressed[Suppression::NotReady.index()], 1);
}

#[test]
fn anomalous_filled_live_and_revised_candles() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    r.set(Some(0.9));
    let mut c = candle(Resolution::M1, T0, 100.0);
    c.flags = Candle::FLAG_FILLED;
    r.feed(&c);
    assert_eq!(r.decisions[0].suppressed, Some(Suppression::Anomaly));
    let mut c = candle(Resolution::M1, T0 + MIN, 100.0);
    c.anomalies = 1 << 2;
    r.feed(&c);
    assert_eq!(r.decisions[1].suppressed, Some(Suppression::Anomaly));
    assert!(r.intents.is_empty());
    // The filtered candles never reached the strategy: no raw signal yet.
    assert_eq!(r.host.raw(InstrumentId(0), 0, Resolution::M1), None);
    let mut live = candle(Resolution::M1, T0 + 2 * MIN, 100.0);
    live.flags = Candle::FLAG_LIVE;
    r.feed(&live);
    let mut revised = candle(Resolution::M1, T0 + MIN, 100.0);
    revised.revision = 1;
    r.feed(&revised);
    // Unknown instrument, untracked resolution.
    let mut other = candle(Resolution::M1, T0 + 2 * MIN, 100.0);
    other.instrument = InstrumentId(7);
    r.feed(&other);
    r.feed(&candle(Resolution::H1, T0, 100.0));
    let s = r.host.stats();
    assert_eq!(
        (
            s.candles,
            s.applied,
            s.filtered,
            s.live_skipped,
            s.revisions_skipped,
            s.unknown
        ),
        (6, 2, 2, 1, 1, 2)
    );
    assert_eq!(r.decisions.len(), 2);
    // Indicators did see the filtered candles.
    assert_eq!(
        r.host.frame(InstrumentId(0), Resolution::M1).unwrap().count,
        2
    );
    let d = r.minute(3, Some(0.9));
    assert_eq!(d.action, Action::EnterLong);
    assert_eq!(
        r.host.strategy_stats(0).unwrap().suppressed[Suppression::Anomaly.index()],
        2
    );
}

#[test]
fn kill_switch_blocks_entries_but_not_exits() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    r.pf.set_kill_switch(true);
    assert_eq!(
        r.minute(0, Some(0.9)).suppressed,
        Some(Suppression::KillSwitch)
    );
    r.pf.set_kill_switch(false);
    assert_eq!(r.minute(1, Some(0.9)).action, Action::EnterLong);
    r.pf.set_kill_switch(true);
    assert_eq!(r.minute(5, Some(0.0)).action, Action::ExitLong);
}

#[test]
fn a_breach_widens_entries_but_not_exits() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    // Entry 0.3 × 2 = 0.6: a 0.5 score no longer opens, and says why.
    r.pf.set_entry_scale(2.0);
    let d = r.minute(0, Some(0.5));
    assert_eq!(d.action, Action::Stay);
    assert_eq!(d.suppressed, Some(Suppression::BreachThreshold));
    assert!((d.threshold - 0.6).abs() < 1e-12, "{}", d.threshold);
    // Under the plain threshold it is no breach matter.
    assert_eq!(r.minute(1, Some(0.2)).suppressed, None);
    // A strong enough score still opens.
    assert_eq!(r.minute(2, Some(0.7)).action, Action::EnterLong);
    // Exits keep their threshold (0.1): 0.05 closes after the minimum hold.
    assert_eq!(r.minute(6, Some(0.05)).action, Action::ExitLong);
    // A huge factor caps the entry at 1, and lifting the breach restores 0.3.
    r.pf.set_entry_scale(1e9);
    let d = r.minute(20, Some(0.5));
    assert_eq!(
        (d.threshold, d.suppressed),
        (1.0, Some(Suppression::BreachThreshold))
    );
    r.pf.set_entry_scale(1.0);
    assert_eq!(r.minute(21, Some(0.5)).action, Action::EnterLong);
}

#[test]
fn instrument_cooldown_spans_strategies() {
    let mut r = Rig::new(r#"["1m"]"#, 2, 60_000);
    r.minute(0, Some(0.9));
    let n = r.decisions.len();
    assert_eq!(r.decisions[n - 2].action, Action::EnterLong);
    assert_eq!(
        r.decisions[n - 1].suppressed,
        Some(Suppression::InstrumentCooldown)
    );
    r.minute(1, Some(0.9));
    assert_eq!(r.decisions.last().unwrap().action, Action::EnterLong);
}

#[test]
fn sizing_suppressions_and_shorts() {
    let cfg = HostConfig::from_toml("resolutions = [\"1m\"]").unwrap();
    let spec = cfg.validate().unwrap();
    let mut host: StrategyHost<Scripted> = StrategyHost::new(&spec, &[instrument()]);
    let next = Rc::new(Cell::new(Some(0.9)));
    let mut s = settings();
    s.allow_short = false;
    s.sizing =
        toml::from_str("mode = 'fixed_qty'\nqty = '0.05'\nscale_with_score = false").unwrap();
    host.add_custom(
        Scripted { next: next.clone() },
        s.validate("s", &spec.resolutions, "x").unwrap(),
    )
    .unwrap();
    let pf = Portfolio::new(1, 0);
    let (mut intents, mut decisions) = (Vec::new(), Vec::new());
    // 0.05 × 100 = 5 quote, under the default minimum of 10.
    host.on_candle(
        &candle(Resolution::M1, T0, 100.0),
        T0 + MIN,
        &pf,
        &mut intents,
        &mut decisions,
    );
    assert_eq!(decisions[0].suppressed, Some(Suppression::MinNotional));
    next.set(Some(-0.9));
    host.on_candle(
        &candle(Resolution::M1, T0 + MIN, 300.0),
        T0 + 2 * MIN,
        &pf,
        &mut intents,
        &mut decisions,
    );
    assert_eq!(decisions[1].suppressed, Some(Suppression::ShortsDisabled));
    next.set(Some(0.9));
    host.on_candle(
        &candle(Resolution::M1, T0 + 2 * MIN, 300.0),
        T0 + 3 * MIN,
        &pf,
        &mut intents,
        &mut decisions,
    );
    assert_eq!(decisions[2].action, Action::EnterLong);
    assert_eq!(intents[0].qty, Qty(5_000_000));
    assert_eq!(host.name(0), Some("x"));
}

#[test]
fn fills_and_rejects_correct_the_book() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    r.minute(0, Some(0.9));
    let open = r.intents[0];
    // Partly filled: the exit closes what was filled.
    let fill = Fill {
        instrument: open.instrument,
        strategy: 0,
        side: open.side,
        purpose: open.purpose,
        price: open.price,
        qty: Qty(4 * 100_000_000),
        market_ns: T0 + MIN,
    };
    r.host.on_fill(&fill, &r.pf, &mut r.intents);
    assert_eq!(
        r.host.book(InstrumentId(0), 0).unwrap().held,
        4 * 100_000_000
    );
    assert_eq!(r.minute(5, Some(0.0)).action, Action::ExitLong);
    assert_eq!(r.intents.last().unwrap().qty, Qty(4 * 100_000_000));
    // An entry refused with nothing filled leaves the strategy flat.
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    r.minute(0, Some(0.9));
    assert_eq!(r.host.book(InstrumentId(0), 0).unwrap().side, 1);
    let open = r.intents[0];
    r.host.on_reject(&open);
    assert_eq!(r.host.book(InstrumentId(0), 0).unwrap().side, 0);
    // Unknown strategy or instrument: ignored.
    r.host.on_reject(&OrderIntent {
        strategy: 9,
        ..open
    });
    r.host.on_fill(
        &Fill {
            strategy: 9,
            ..fill
        },
        &r.pf,
        &mut r.intents,
    );
    r.host.on_fill(
        &Fill {
            instrument: InstrumentId(5),
            ..fill
        },
        &r.pf,
        &mut r.intents,
    );
}

#[test]
fn a_reversal_whose_fills_arrive_late_closes_what_was_held() {
    // Orders fill after the latency, so the close and the new entry of a reversal are both
    // decided before either fills: the next exit must close the new position only.
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    let fill = |r: &mut Rig, i: &OrderIntent| {
        let f = Fill {
            instrument: i.instrument,
            strategy: 0,
            side: i.side,
            purpose: i.purpose,
            price: i.price,
            qty: i.qty,
            market_ns: T0,
        };
        r.host.on_fill(&f, &r.pf, &mut r.intents);
    };
    r.minute(0, Some(0.9));
    let long = r.intents[0];
    fill(&mut r, &long);
    assert_eq!(r.minute(5, Some(-0.9)).action, Action::ReverseToShort);
    let n = r.intents.len();
    let (close, short) = (r.intents[n - 2], r.intents[n - 1]);
    assert_eq!(close.qty, long.qty);
    fill(&mut r, &close);
    fill(&mut r, &short);
    let b = r.host.book(InstrumentId(0), 0).unwrap();
    assert_eq!((b.side, b.held), (-1, -short.qty.0));
    assert_eq!(r.minute(10, Some(0.9)).action, Action::ReverseToLong);
    let n = r.intents.len();
    assert_eq!(
        r.intents[n - 2].qty,
        short.qty,
        "closes the short, not long + short"
    );
    // A refused entry after a reversal leaves what fills say: flat once the close filled.
    let close = r.intents[n - 2];
    let open = r.intents[n - 1];
    fill(&mut r, &close);
    r.host.on_reject(&open);
    let b = r.host.book(InstrumentId(0), 0).unwrap();
    assert_eq!((b.side, b.held), (0, 0));
}

#[test]
fn strategies_emit_their_own_intents_from_any_callback() {
    let mut r = Rig::new(r#"["1m"]"#, 1, 0);
    let t = Trade {
        instrument: InstrumentId(0),
        trade_id: 1,
        price: Price(100),
        qty: Qty(3),
        trade_ns: T0,
        event_ns: T0,
        buyer_is_maker: false,
        source: 0,
        flags: 0,
        anomalies: 0,
    };
    r.host.on_trade(&t, T0, &r.pf, &mut r.intents);
    r.host.on_trade(
        &Trade {
            instrument: InstrumentId(3),
            ..t
        },
        T0,
        &r.pf,
        &mut r.intents,
    );
    assert_eq!(r.intents.len(), 1);
    let i = r.intents[0];
    assert_eq!(
        (i.order_type, i.tif, i.qty, i.decided_ns),
        (OrderType::Limit, TimeInForce::PostOnly, Qty(3), T0)
    );
    assert_eq!(r.host.stats().direct_intents, 1);
    r.host.on_timer(T0, &r.pf, &mut r.intents);
    let b = BookTicker {
        instrument: InstrumentId(0),
        update_id: 1,
        bid_px: Price(99),
        bid_qty: Qty(1),
        ask_px: Price(101),
        ask_qty: Qty(1),
        event_ns: 0,
        source: 0,
    };
    r.host.on_book_ticker(&b, T0, &r.pf, &mut r.intents);
    assert_eq!(r.intents.len(), 1);
}
