//! Seeded synthetic crypto market that speaks Binance spot combined-stream JSON.
//!
//! It is both the default market of `tickwire run` and the benchmark load generator, and
//! its bytes go through the engine's real Binance parser, so every message is exactly what
//! Binance would send on `<symbol>@trade` and `<symbol>@bookTicker`.
//!
//! [`SyntheticMarket`] owns, per symbol: a latent mid price (log-space random walk with
//! GARCH(1,1) variance and slow mean reversion), the displayed best bid/ask with sizes,
//! the trade-id and book-update-id counters, a trade-flow momentum, and the JSON fragments
//! that never change. Market-wide it owns the PRNG (xoshiro256** seeded by splitmix64)
//! and a Hawkes (self-exciting) arrival clock in market time.
//!
//! All memory is allocated in [`SyntheticMarket::new`]; after that,
//! [`SyntheticMarket::next_message`] allocates nothing as long as `out` has at least
//! [`MAX_MESSAGE_LEN`] bytes of capacity. The stream is a pure function of the config
//! (given the platform's `f64` math library).

use std::f64::consts::{LN_2, TAU};

/// Capacity of `out` that guarantees [`SyntheticMarket::next_message`] never reallocates.
pub const MAX_MESSAGE_LEN: usize = 512;

/// Fixed-point scale of every price and quantity (8 decimals, as Binance prints them).
const SCALE: u64 = 100_000_000;
const NS_PER_SEC: f64 = 1e9;
const NS_PER_MS: u64 = 1_000_000;
const SECS_PER_YEAR: f64 = 365.0 * 86_400.0;
/// Bounds the symbol so that the longest message stays well under [`MAX_MESSAGE_LEN`].
const MAX_SYMBOL_LEN: usize = 32;
const MAX_SPREAD_TICKS: i64 = 16;
const FIRST_TRADE_ID: u64 = 1_000_000_000;
const FIRST_UPDATE_ID: u64 = 10_000_000_000;

/// One traded symbol. Prices and quantities are integers scaled by 1e8 (0.01 = 1_000_000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Exchange symbol in Binance spelling, e.g. `BTCUSDT` (ASCII alphanumeric, <= 32 bytes).
    pub symbol: String,
    /// Initial mid price, scaled by 1e8; also the level the price slowly reverts to.
    pub start_price: i64,
    /// Price tick, scaled by 1e8.
    pub tick: i64,
    /// Quantity step (lot), scaled by 1e8.
    pub lot: i64,
}

/// Parameters of a [`SyntheticMarket`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// PRNG seed; the same config always yields the same byte stream.
    pub seed: u64,
    /// Symbols to simulate; earlier symbols are busier (weight `1 / (index + 1)`).
    pub symbols: Vec<SymbolSpec>,
    /// Mean total message rate across all symbols (trades + book tickers), in market time.
    pub msgs_per_sec: f64,
    /// Market time of the first message, in milliseconds since the Unix epoch.
    pub start_ms: u64,
}

impl Default for SyntheticConfig {
    /// BTC/ETH/SOL against USDT with Binance's ticks and lots, 1000 msgs/s.
    fn default() -> Self {
        let spec = |symbol: &str, start_price: i64, tick: i64, lot: i64| SymbolSpec {
            symbol: symbol.to_owned(),
            start_price,
            tick,
            lot,
        };
        Self {
            seed: 1,
            symbols: vec![
                spec("BTCUSDT", 6_183_763_000_000, 1_000_000, 1_000),
                spec("ETHUSDT", 265_012_000_000, 1_000_000, 10_000),
                spec("SOLUSDT", 15_034_000_000, 1_000_000, 100_000),
            ],
            msgs_per_sec: 1_000.0,
            start_ms: 1_723_161_255_000,
        }
    }
}

/// Knobs of the simulation. Private so the engine cannot depend on them; tests switch
/// single mechanisms off to show that each statistical property comes from its mechanism.
#[derive(Debug, Clone, Copy)]
struct Model {
    /// Share of events that are trades; the rest are quote changes. Every trade is followed
    /// by one book ticker, so an event yields `1 + trade_share` messages on average, which
    /// is what lets the Hawkes clock hit `msgs_per_sec` exactly in expectation.
    trade_share: f64,
    /// Hawkes branching ratio: mean number of events directly triggered by one event.
    branching: f64,
    /// Hawkes kernel decay as a multiple of the mean event rate. Tying it to the rate keeps
    /// bursts distinct from the background at any `msgs_per_sec`; a fixed decay would blur
    /// into a Poisson stream at high rates.
    decay_per_event_rate: f64,
    /// Floor on the kernel decay, so that at low rates a burst still lasts milliseconds.
    min_decay_per_sec: f64,
    /// Long-run annualised volatility of the latent mid.
    annual_vol: f64,
    /// Half-life of a variance shock, in market seconds.
    vol_half_life_s: f64,
    /// Shape of the stationary (inverse-gamma) variance distribution; smaller is burstier.
    /// Infinity turns the GARCH feedback off (constant variance).
    vol_shape: f64,
    /// Variance clamp, as multiples of the long-run variance; keeps rare extremes printable.
    var_floor: f64,
    var_cap: f64,
    /// Half-life of the pull of log price back to the start price; infinity turns it off.
    reversion_half_life_s: f64,
    /// Probability of each extra spread tick per unit of variance relative to its mean.
    wide_spread_per_var: f64,
    max_wide_prob: f64,
    /// Chance that the size at an unchanged best level is replaced on a quote update.
    queue_churn: f64,
    /// Median trade and top-of-book notional, in quote currency, at the start price.
    trade_notional: f64,
    top_notional: f64,
    /// Log-normal body of size multipliers.
    size_sigma: f64,
    /// Share of sizes drawn from the Pareto tail, and its tail index.
    tail_share: f64,
    tail_alpha: f64,
    /// Logistic weights of the buy probability on the price shock and on trade momentum.
    flow_shock_weight: f64,
    flow_momentum_weight: f64,
    /// Per-trade decay of the momentum average of trade signs.
    momentum_decay: f64,
}

const DEFAULT_MODEL: Model = Model {
    trade_share: 0.35,
    branching: 0.7,
    decay_per_event_rate: 4.0,
    min_decay_per_sec: 200.0,
    annual_vol: 0.6,
    vol_half_life_s: 120.0,
    vol_shape: 3.0,
    var_floor: 0.05,
    var_cap: 25.0,
    reversion_half_life_s: 7.0 * 86_400.0,
    wide_spread_per_var: 0.08,
    max_wide_prob: 0.6,
    queue_churn: 0.5,
    trade_notional: 500.0,
    top_notional: 5_000.0,
    size_sigma: 1.0,
    tail_share: 0.1,
    tail_alpha: 1.5,
    flow_shock_weight: 1.0,
    flow_momentum_weight: 1.5,
    momentum_decay: 0.8,
};

/// xoshiro256** with a cached second Box–Muller normal.
#[derive(Debug, Clone)]
struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 spreads any seed, including 0, over the whole state, which xoshiro
        // needs (an all-zero state would be stuck at zero).
        let mut x = seed;
        let mut s = [0; 4];
        for word in &mut s {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *word = z ^ (z >> 31);
        }
        Self {
            s,
            spare_normal: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on the open interval (0, 1), so `ln` and negative powers are always finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let (sin, cos) = (TAU * self.uniform()).sin_cos();
        self.spare_normal = Some(radius * sin);
        radius * cos
    }

    fn exponential(&mut self) -> f64 {
        -self.uniform().ln()
    }
}

/// Draws a size in lots: mostly log-normal, sometimes Pareto, so sizes have a power-law tail.
fn draw_lots(rng: &mut Rng, model: &Model, typical: f64, max_lots: f64) -> i64 {
    let multiplier = if rng.uniform() < model.tail_share {
        // Scale the tail to start where the body thins out, so the mixture has no gap.
        model.size_sigma.exp() * rng.uniform().powf(-1.0 / model.tail_alpha)
    } else {
        (model.size_sigma * rng.normal()).exp()
    };
    (typical * multiplier).round().clamp(1.0, max_lots) as i64
}

/// State of one symbol; see the module doc.
#[derive(Debug, Clone)]
struct SymbolState {
    /// `{"stream":"btcusdt@trade","data":{"e":"trade","E":`
    trade_head: Box<[u8]>,
    /// `,"s":"BTCUSDT","t":`
    trade_symbol: Box<[u8]>,
    /// `{"stream":"btcusdt@bookTicker","data":{"u":`
    book_head: Box<[u8]>,
    /// `,"s":"BTCUSDT","b":"`
    book_symbol: Box<[u8]>,
    tick: i64,
    lot: i64,
    anchor_log_mid: f64,
    log_mid: f64,
    /// Per-event OU factor `exp(-kappa * h)`, `h` being the symbol's mean event gap.
    reversion: f64,
    /// Mean event gap `h` in seconds; variance is per second, so a step has variance `v * h`.
    step_secs: f64,
    var: f64,
    var_mean: f64,
    var_lo: f64,
    var_hi: f64,
    garch_omega: f64,
    garch_arch: f64,
    garch_persist: f64,
    bid_px: i64,
    bid_qty: i64,
    ask_px: i64,
    ask_qty: i64,
    next_trade_id: u64,
    update_id: u64,
    /// Exponential average of recent trade signs (+1 buy, -1 sell).
    momentum: f64,
    trade_lots: f64,
    top_lots: f64,
    max_lots: f64,
}

/// What a trade event did, for the trade message.
struct Fill {
    id: u64,
    price: i64,
    qty: i64,
    buyer_is_maker: bool,
}

impl SymbolState {
    fn new(spec: &SymbolSpec, event_rate: f64, model: &Model, rng: &mut Rng) -> Self {
        let sym = spec.symbol.as_str();
        assert!(
            !sym.is_empty()
                && sym.len() <= MAX_SYMBOL_LEN
                && sym.bytes().all(|b| b.is_ascii_alphanumeric()),
            "symbol {sym:?} must be 1..={MAX_SYMBOL_LEN} ASCII alphanumerics"
        );
        assert!(
            spec.start_price > 0 && spec.tick > 0 && spec.lot > 0,
            "{sym}: start_price, tick and lot must be positive"
        );
        let lower = sym.to_ascii_lowercase();
        let bytes = |s: String| s.into_bytes().into_boxed_slice();

        let h = 1.0 / event_rate;
        let var_mean = model.annual_vol * model.annual_vol / SECS_PER_YEAR;
        // GARCH(1,1) per event, v' = omega + arch * v * z^2 + persist * v, calibrated in
        // market seconds: total persistence exp(-theta h) fixes the shock half-life, and
        // arch = c sqrt(h) keeps the vol-of-vol independent of the event rate (Nelson's
        // diffusion limit), whose stationary variance is inverse-gamma with shape
        // 1 + theta / c^2.
        let theta = LN_2 / model.vol_half_life_s;
        let persistence = (-theta * h).exp();
        let vol_of_vol = if model.vol_shape.is_finite() {
            (theta / (model.vol_shape - 1.0)).sqrt()
        } else {
            0.0
        };
        // At very low event rates the diffusion scaling would exceed the persistence budget.
        let arch = (vol_of_vol * h.sqrt()).min(0.5 * persistence);
        let reversion = if model.reversion_half_life_s.is_finite() {
            (-LN_2 / model.reversion_half_life_s * h).exp()
        } else {
            1.0
        };

        // Size scales come from notional so that BTC and a penny coin both trade sensible
        // amounts; 1e16 = price scale * quantity scale.
        let lots_for = |notional: f64| {
            (notional * 1e16 / (spec.start_price as f64 * spec.lot as f64)).max(1.0)
        };
        let trade_lots = lots_for(model.trade_notional);
        let top_lots = lots_for(model.top_notional);
        // Keeps qty * 1e8-scaled sums far from i64 overflow even for the deepest tail draw.
        let max_lots = (top_lots * 1e6)
            .min((i64::MAX / 4 / spec.lot) as f64)
            .max(1.0);

        let anchor = (spec.start_price as f64).ln();
        let bid_ticks = (spec.start_price / spec.tick).max(1);
        let mut state = Self {
            trade_head: bytes(format!(
                r#"{{"stream":"{lower}@trade","data":{{"e":"trade","E":"#
            )),
            trade_symbol: bytes(format!(r#","s":"{sym}","t":"#)),
            book_head: bytes(format!(r#"{{"stream":"{lower}@bookTicker","data":{{"u":"#)),
            book_symbol: bytes(format!(r#","s":"{sym}","b":""#)),
            tick: spec.tick,
            lot: spec.lot,
            anchor_log_mid: anchor,
            log_mid: anchor,
            reversion,
            step_secs: h,
            var: var_mean,
            var_mean,
            var_lo: var_mean * model.var_floor,
            var_hi: var_mean * model.var_cap,
            garch_omega: var_mean * -(-theta * h).exp_m1(),
            garch_arch: arch,
            garch_persist: persistence - arch,
            bid_px: bid_ticks * spec.tick,
            bid_qty: 0,
            ask_px: (bid_ticks + 1) * spec.tick,
            ask_qty: 0,
            // Real ids are far from zero; a seeded offset keeps symbols distinguishable.
            next_trade_id: FIRST_TRADE_ID + rng.next_u64() % FIRST_TRADE_ID,
            update_id: FIRST_UPDATE_ID + rng.next_u64() % FIRST_UPDATE_ID,
            momentum: 0.0,
            trade_lots,
            top_lots,
            max_lots,
        };
        state.bid_qty = state.fresh_top_qty(rng, model);
        state.ask_qty = state.fresh_top_qty(rng, model);
        state
    }

    fn fresh_top_qty(&self, rng: &mut Rng, model: &Model) -> i64 {
        draw_lots(rng, model, self.top_lots, self.max_lots) * self.lot
    }

    /// A new size for a level whose price did not change; it must differ, or Binance would
    /// not have pushed a ticker.
    fn replaced_qty(&self, old: i64, rng: &mut Rng, model: &Model) -> i64 {
        let qty = self.fresh_top_qty(rng, model);
        if qty == old {
            qty + self.lot
        } else {
            qty
        }
    }

    /// One step of the latent mid with shock `z`, then the GARCH update from that shock.
    fn diffuse(&mut self, z: f64) {
        let shock = (self.var * self.step_secs).sqrt() * z;
        self.log_mid =
            self.anchor_log_mid + (self.log_mid - self.anchor_log_mid) * self.reversion + shock;
        let var =
            self.garch_omega + self.garch_arch * self.var * z * z + self.garch_persist * self.var;
        self.var = var.clamp(self.var_lo, self.var_hi);
    }

    /// Quote event: the book re-centres on the latent mid, with a spread that widens with
    /// variance, and fresh or churned sizes. Always changes the top.
    fn requote(&mut self, rng: &mut Rng, model: &Model) {
        self.diffuse(rng.normal());
        let wide_prob =
            (model.wide_spread_per_var * self.var / self.var_mean).min(model.max_wide_prob);
        let mut spread = 1;
        while spread < MAX_SPREAD_TICKS && rng.uniform() < wide_prob {
            spread += 1;
        }
        let centre = self.log_mid.exp() / self.tick as f64;
        let bid_ticks = ((centre - (spread - 1) as f64 * 0.5).floor() as i64).max(1);
        let bid_px = bid_ticks.saturating_mul(self.tick);
        let ask_px = (bid_ticks + spread).saturating_mul(self.tick);

        let mut changed = false;
        if bid_px != self.bid_px {
            self.bid_px = bid_px;
            self.bid_qty = self.fresh_top_qty(rng, model);
            changed = true;
        } else if rng.uniform() < model.queue_churn {
            self.bid_qty = self.replaced_qty(self.bid_qty, rng, model);
            changed = true;
        }
        if ask_px != self.ask_px {
            self.ask_px = ask_px;
            self.ask_qty = self.fresh_top_qty(rng, model);
            changed = true;
        } else if rng.uniform() < model.queue_churn {
            self.ask_qty = self.replaced_qty(self.ask_qty, rng, model);
            changed = true;
        }
        if !changed {
            if rng.next_u64() & 1 == 0 {
                self.bid_qty = self.replaced_qty(self.bid_qty, rng, model);
            } else {
                self.ask_qty = self.replaced_qty(self.ask_qty, rng, model);
            }
        }
    }

    /// Trade event: an aggressor takes liquidity at the displayed top. The side leans with
    /// the price shock (order flow moves price) and with recent flow (sign persistence).
    /// A fill that empties the level moves that side one tick away.
    fn trade(&mut self, rng: &mut Rng, model: &Model) -> Fill {
        let z = rng.normal();
        self.diffuse(z);
        let pull = model.flow_shock_weight * z + model.flow_momentum_weight * self.momentum;
        // P(buy) = 1 / (1 + exp(-pull)) without a division.
        let buy = rng.uniform() * (1.0 + (-pull).exp()) < 1.0;
        let sign = if buy { 1.0 } else { -1.0 };
        self.momentum = model.momentum_decay * self.momentum + (1.0 - model.momentum_decay) * sign;

        let wanted = draw_lots(rng, model, self.trade_lots, self.max_lots) * self.lot;
        let (price, qty) = if buy {
            let price = self.ask_px;
            let qty = wanted.min(self.ask_qty);
            if qty == self.ask_qty {
                self.ask_px = self.ask_px.saturating_add(self.tick);
                self.ask_qty = self.fresh_top_qty(rng, model);
            } else {
                self.ask_qty -= qty;
            }
            (price, qty)
        } else {
            let price = self.bid_px;
            let qty = wanted.min(self.bid_qty);
            if qty == self.bid_qty {
                // The lowest tick has no level below it; the bid refills in place instead.
                if self.bid_px > self.tick {
                    self.bid_px -= self.tick;
                    self.bid_qty = self.fresh_top_qty(rng, model);
                } else {
                    self.bid_qty = self.replaced_qty(self.bid_qty, rng, model);
                }
            } else {
                self.bid_qty -= qty;
            }
            (price, qty)
        };
        let id = self.next_trade_id;
        self.next_trade_id += 1;
        Fill {
            id,
            price,
            qty,
            buyer_is_maker: !buy,
        }
    }

    fn write_book(&mut self, rng: &mut Rng, out: &mut Vec<u8>) {
        // Binance's `u` counts every book change, most of which are below the top.
        self.update_id += 1 + (rng.next_u64() >> 61);
        out.extend_from_slice(&self.book_head);
        push_u64(out, self.update_id);
        out.extend_from_slice(&self.book_symbol);
        push_fixed8(out, self.bid_px);
        out.extend_from_slice(br#"","B":""#);
        push_fixed8(out, self.bid_qty);
        out.extend_from_slice(br#"","a":""#);
        push_fixed8(out, self.ask_px);
        out.extend_from_slice(br#"","A":""#);
        push_fixed8(out, self.ask_qty);
        out.extend_from_slice(br#""}}"#);
    }

    fn write_trade(&self, fill: &Fill, now_ns: u64, out: &mut Vec<u8>) {
        let trade_ms = now_ns / NS_PER_MS;
        // The push (E) trails the match (T) by under a millisecond, so E is T or T + 1 and
        // both stay monotone in market time.
        let event_ms = (now_ns + 400_000) / NS_PER_MS;
        out.extend_from_slice(&self.trade_head);
        push_u64(out, event_ms);
        out.extend_from_slice(&self.trade_symbol);
        push_u64(out, fill.id);
        out.extend_from_slice(br#","p":""#);
        push_fixed8(out, fill.price);
        out.extend_from_slice(br#"","q":""#);
        push_fixed8(out, fill.qty);
        out.extend_from_slice(br#"","T":"#);
        push_u64(out, trade_ms);
        out.extend_from_slice(if fill.buyer_is_maker {
            br#","m":true,"M":true}}"#
        } else {
            br#","m":false,"M":true}}"#
        });
    }
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(crate::core::num::u64_digits(v, &mut [0u8; 20]));
}

/// Writes a 1e8-scaled non-negative integer as `123.45000000`.
fn push_fixed8(out: &mut Vec<u8>, v: i64) {
    debug_assert!(v >= 0, "prices and quantities are positive");
    let v = v.max(0) as u64;
    let mut buf = [0u8; 32];
    let mut i = buf.len();
    let mut frac = v % SCALE;
    for _ in 0..8 {
        i -= 1;
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    i -= 1;
    buf[i] = b'.';
    let mut int = v / SCALE;
    loop {
        i -= 1;
        buf[i] = b'0' + (int % 10) as u8;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A seeded synthetic Binance spot market; see the module doc.
#[derive(Debug, Clone)]
pub struct SyntheticMarket {
    rng: Rng,
    model: Model,
    symbols: Box<[SymbolState]>,
    /// Cumulative, normalised symbol weights for picking which symbol an event hits.
    cumulative_weight: Box<[f64]>,
    now_ns: u64,
    /// Sub-nanosecond remainder of the clock, so rounding does not bias the mean rate.
    ns_carry: f64,
    /// Hawkes baseline intensity, kernel decay and jump, all per second.
    base_rate: f64,
    decay: f64,
    jump: f64,
    /// Self-excited part of the intensity just after the last event.
    excitation: f64,
    /// How many symbols have had their opening book ticker sent.
    snapshots_sent: usize,
    /// Symbol owing the book ticker that reports its last trade.
    owed_ticker: Option<usize>,
    messages: u64,
}

impl SyntheticMarket {
    /// Builds the market; all allocation happens here.
    ///
    /// # Panics
    /// If there are no symbols, a symbol is not 1..=32 ASCII alphanumerics, a price, tick
    /// or lot is not positive, or `msgs_per_sec` is not a positive finite number.
    pub fn new(cfg: &SyntheticConfig) -> Self {
        Self::with_model(cfg, DEFAULT_MODEL)
    }

    fn with_model(cfg: &SyntheticConfig, model: Model) -> Self {
        assert!(!cfg.symbols.is_empty(), "at least one symbol is required");
        assert!(
            cfg.msgs_per_sec.is_finite() && cfg.msgs_per_sec > 0.0,
            "msgs_per_sec must be positive and finite"
        );
        assert!((0.0..1.0).contains(&model.branching));
        let mut rng = Rng::new(cfg.seed);
        let event_rate = cfg.msgs_per_sec / (1.0 + model.trade_share);

        let weights: Vec<f64> = (0..cfg.symbols.len())
            .map(|i| 1.0 / (i + 1) as f64)
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative_weight = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        let symbols = cfg
            .symbols
            .iter()
            .zip(&weights)
            .map(|(spec, w)| SymbolState::new(spec, event_rate * w / total, &model, &mut rng))
            .collect();

        let decay = (model.decay_per_event_rate * event_rate).max(model.min_decay_per_sec);
        Self {
            rng,
            model,
            symbols,
            cumulative_weight,
            now_ns: cfg.start_ms.saturating_mul(NS_PER_MS),
            ns_carry: 0.0,
            // A stationary Hawkes process has mean rate base / (1 - branching).
            base_rate: event_rate * (1.0 - model.branching),
            decay,
            jump: model.branching * decay,
            excitation: 0.0,
            snapshots_sent: 0,
            owed_ticker: None,
            messages: 0,
        }
    }

    /// Writes the next message (clearing `out` first) and returns its market time in
    /// nanoseconds since the Unix epoch: monotonically non-decreasing, `start_ms * 1e6` for
    /// the first message. Never allocates if `out` has capacity >= [`MAX_MESSAGE_LEN`].
    ///
    /// The stream opens with one book ticker per symbol, and every trade is immediately
    /// followed (same market time) by the book ticker showing its effect on the top.
    pub fn next_message(&mut self, out: &mut Vec<u8>) -> u64 {
        out.clear();
        self.messages += 1;
        if self.snapshots_sent < self.symbols.len() {
            self.symbols[self.snapshots_sent].write_book(&mut self.rng, out);
            self.snapshots_sent += 1;
            return self.now_ns;
        }
        if let Some(i) = self.owed_ticker.take() {
            self.symbols[i].write_book(&mut self.rng, out);
            return self.now_ns;
        }

        self.advance_clock();
        let u = self.rng.uniform();
        let i = self
            .cumulative_weight
            .partition_point(|&c| c < u)
            .min(self.symbols.len() - 1);
        let sym = &mut self.symbols[i];
        if self.rng.uniform() < self.model.trade_share {
            let fill = sym.trade(&mut self.rng, &self.model);
            sym.write_trade(&fill, self.now_ns, out);
            self.owed_ticker = Some(i);
        } else {
            sym.requote(&mut self.rng, &self.model);
            sym.write_book(&mut self.rng, out);
        }
        self.now_ns
    }

    /// Number of messages emitted so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Moves the clock to the next event of a Hawkes process with exponential kernel,
    /// sampled exactly (Dassios & Zhao): the next event is the earlier of a baseline
    /// arrival and the first arrival of the decaying self-excited intensity.
    fn advance_clock(&mut self) {
        let base_wait = self.rng.exponential() / self.base_rate;
        let burst_wait = if self.excitation > 0.0 {
            // Solves excitation * (1 - exp(-decay w)) / decay = Exp(1); no root means the
            // burst dies out before producing another event.
            let d = 1.0 + self.decay * self.rng.uniform().ln() / self.excitation;
            if d > 0.0 {
                -d.ln() / self.decay
            } else {
                f64::INFINITY
            }
        } else {
            f64::INFINITY
        };
        let wait = base_wait.min(burst_wait);
        self.excitation = self.excitation * (-self.decay * wait).exp() + self.jump;

        let ns = wait * NS_PER_SEC + self.ns_carry;
        let whole = ns.floor();
        self.ns_carry = ns - whole;
        self.now_ns = self.now_ns.saturating_add(whole as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashMap;

    fn spec(symbol: &str, start_price: i64, tick: i64, lot: i64) -> SymbolSpec {
        SymbolSpec {
            symbol: symbol.to_owned(),
            start_price,
            tick,
            lot,
        }
    }

    /// Default symbols plus awkward ones: a coarse tick with whole-unit lots, and a
    /// sub-cent coin with a 1e-8 tick.
    fn mixed_config(seed: u64) -> SyntheticConfig {
        let mut cfg = SyntheticConfig {
            seed,
            ..SyntheticConfig::default()
        };
        cfg.symbols.push(spec("BNBBTC", 950_000, 100, 100_000_000));
        cfg.symbols.push(spec("SHIBUSDT", 1_723, 1, 100_000_000));
        cfg.symbols
            .push(spec("PAXG1USDT", 245_000_000_000, 100_000_000, 1));
        cfg
    }

    fn single(seed: u64, msgs_per_sec: f64) -> SyntheticConfig {
        SyntheticConfig {
            seed,
            symbols: vec![spec("BTCUSDT", 6_183_763_000_000, 1_000_000, 1_000)],
            msgs_per_sec,
            start_ms: 1_723_161_255_000,
        }
    }

    #[derive(Debug)]
    enum Msg {
        Trade {
            symbol: String,
            id: u64,
            price: i64,
            qty: i64,
            trade_ms: u64,
            event_ms: u64,
            buyer_is_maker: bool,
        },
        Book {
            symbol: String,
            update_id: u64,
            bid: i64,
            bid_qty: i64,
            ask: i64,
            ask_qty: i64,
        },
    }

    /// Parses a `"123.45000000"` field, insisting on exactly 8 decimals.
    fn fixed8(v: &Value) -> i64 {
        let s = v.as_str().expect("decimal fields are JSON strings");
        let (int, frac) = s.split_once('.').expect("decimal point");
        assert!(
            !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
        assert!(
            frac.len() == 8 && frac.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
        assert!(int == "0" || !int.starts_with('0'), "leading zero in {s}");
        int.parse::<i64>().unwrap() * SCALE as i64 + frac.parse::<i64>().unwrap()
    }

    fn text(v: &Value) -> &str {
        v.as_str().expect("string field")
    }

    /// Parses with serde_json, checks field set and types, and checks that re-rendering
    /// the parsed values in Binance's field order gives back the exact bytes.
    fn parse(bytes: &[u8]) -> Msg {
        let raw = std::str::from_utf8(bytes).expect("utf-8");
        let v: Value = serde_json::from_slice(bytes).expect("valid JSON");
        let top = v.as_object().unwrap();
        assert_eq!(top.len(), 2, "{raw}");
        let stream = text(&top["stream"]);
        let d = top["data"].as_object().expect("data object");
        let (prefix, kind) = stream.split_once('@').expect("stream has @");
        match kind {
            "trade" => {
                assert_eq!(d.len(), 9, "{raw}");
                assert_eq!(text(&d["e"]), "trade");
                assert_eq!(d["M"], Value::Bool(true));
                let symbol = text(&d["s"]).to_owned();
                assert_eq!(prefix, symbol.to_lowercase());
                let event_ms = d["E"].as_u64().unwrap();
                let trade_ms = d["T"].as_u64().unwrap();
                let id = d["t"].as_u64().unwrap();
                let buyer_is_maker = d["m"].as_bool().unwrap();
                let expected = format!(
                    r#"{{"stream":"{stream}","data":{{"e":"trade","E":{event_ms},"s":"{symbol}","t":{id},"p":"{}","q":"{}","T":{trade_ms},"m":{buyer_is_maker},"M":true}}}}"#,
                    text(&d["p"]),
                    text(&d["q"])
                );
                assert_eq!(raw, expected);
                Msg::Trade {
                    price: fixed8(&d["p"]),
                    qty: fixed8(&d["q"]),
                    symbol,
                    id,
                    trade_ms,
                    event_ms,
                    buyer_is_maker,
                }
            }
            "bookTicker" => {
                assert_eq!(d.len(), 6, "{raw}");
                let symbol = text(&d["s"]).to_owned();
                assert_eq!(prefix, symbol.to_lowercase());
                let update_id = d["u"].as_u64().unwrap();
                let expected = format!(
                    r#"{{"stream":"{stream}","data":{{"u":{update_id},"s":"{symbol}","b":"{}","B":"{}","a":"{}","A":"{}"}}}}"#,
                    text(&d["b"]),
                    text(&d["B"]),
                    text(&d["a"]),
                    text(&d["A"])
                );
                assert_eq!(raw, expected);
                Msg::Book {
                    bid: fixed8(&d["b"]),
                    bid_qty: fixed8(&d["B"]),
                    ask: fixed8(&d["a"]),
                    ask_qty: fixed8(&d["A"]),
                    symbol,
                    update_id,
                }
            }
            other => panic!("unexpected stream kind {other}"),
        }
    }

    /// Cheap field scan for the large statistical runs, where serde_json in a debug build
    /// would dominate the test time. Format correctness is covered by `parse`.
    fn scan_fixed8(msg: &[u8], key: &[u8]) -> i64 {
        let at = msg
            .windows(key.len())
            .position(|w| w == key)
            .expect("key present")
            + key.len();
        let mut v = 0i64;
        for &b in &msg[at..] {
            match b {
                b'0'..=b'9' => v = v * 10 + i64::from(b - b'0'),
                b'.' => {}
                _ => break,
            }
        }
        v
    }

    fn is_trade(msg: &[u8]) -> bool {
        msg.ends_with(br#""M":true}}"#)
    }

    fn mean_and_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    fn lag1_autocorrelation(xs: &[f64]) -> f64 {
        let (mean, var) = mean_and_var(xs);
        let cov = xs
            .windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>()
            / xs.len() as f64;
        cov / var
    }

    fn kurtosis(xs: &[f64]) -> f64 {
        let (mean, var) = mean_and_var(xs);
        let m4 = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / xs.len() as f64;
        m4 / (var * var)
    }

    #[test]
    fn fixed8_and_integer_formatting() {
        let fmt = |v: i64| {
            let mut out = Vec::new();
            push_fixed8(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(fmt(0), "0.00000000");
        assert_eq!(fmt(1), "0.00000001");
        assert_eq!(fmt(2_000_000), "0.02000000");
        assert_eq!(fmt(6_183_763_000_000), "61837.63000000");
        assert_eq!(fmt(100_000_000), "1.00000000");
        assert_eq!(fmt(i64::MAX), "92233720368.54775807");
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, b"0 18446744073709551615");
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Top {
        bid: i64,
        bid_qty: i64,
        ask: i64,
        ask_qty: i64,
    }

    impl Top {
        /// The side an aggressor of this direction takes from.
        fn side(&self, buy: bool) -> (i64, i64) {
            if buy {
                (self.ask, self.ask_qty)
            } else {
                (self.bid, self.bid_qty)
            }
        }
    }

    /// A trade whose book ticker has not been seen yet.
    struct OwedTicker {
        symbol: String,
        buy: bool,
        price: i64,
        qty: i64,
        before: Top,
    }

    #[test]
    fn every_message_is_valid_binance_json_with_consistent_book_and_ids() {
        let cfg = mixed_config(7);
        let specs: HashMap<&str, &SymbolSpec> =
            cfg.symbols.iter().map(|s| (s.symbol.as_str(), s)).collect();
        let mut market = SyntheticMarket::new(&cfg);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let mut last_ns = 0;
        let mut last_trade_id: HashMap<String, u64> = HashMap::new();
        let mut last_update_id: HashMap<String, u64> = HashMap::new();
        let mut top: HashMap<String, Top> = HashMap::new();
        let mut owed: Option<OwedTicker> = None;
        let (mut trades, mut walks, mut one_tick, mut books) = (0u64, 0u64, 0u64, 0u64);
        let mut longest = 0;

        for n in 0..200_000u64 {
            let ns = market.next_message(&mut out);
            longest = longest.max(out.len());
            if n == 0 {
                assert_eq!(ns, cfg.start_ms * 1_000_000);
            }
            assert!(ns >= last_ns, "time went backwards");
            last_ns = ns;
            match parse(&out) {
                Msg::Trade {
                    symbol,
                    id,
                    price,
                    qty,
                    trade_ms,
                    event_ms,
                    buyer_is_maker,
                } => {
                    trades += 1;
                    assert!(owed.is_none(), "trade must be followed by its ticker");
                    let s = specs[symbol.as_str()];
                    assert_eq!(trade_ms, ns / 1_000_000);
                    assert!(event_ms == trade_ms || event_ms == trade_ms + 1);
                    assert!(price > 0 && price % s.tick == 0);
                    assert!(qty > 0 && qty % s.lot == 0);
                    if let Some(prev) = last_trade_id.insert(symbol.clone(), id) {
                        assert_eq!(id, prev + 1, "trade ids must have no gaps");
                    } else {
                        assert!(id >= 1_000_000_000);
                    }
                    let before = top[&symbol];
                    let buy = !buyer_is_maker;
                    let (side_px, side_qty) = before.side(buy);
                    assert_eq!(price, side_px, "buys lift the ask, sells hit the bid");
                    assert!(qty <= side_qty);
                    owed = Some(OwedTicker {
                        symbol,
                        buy,
                        price,
                        qty,
                        before,
                    });
                }
                Msg::Book {
                    symbol,
                    update_id,
                    bid,
                    bid_qty,
                    ask,
                    ask_qty,
                } => {
                    books += 1;
                    let s = specs[symbol.as_str()];
                    assert!(bid > 0 && bid < ask, "bid {bid} ask {ask}");
                    assert!(bid % s.tick == 0 && ask % s.tick == 0);
                    assert!(bid_qty > 0 && ask_qty > 0);
                    assert!(bid_qty % s.lot == 0 && ask_qty % s.lot == 0);
                    if ask - bid == s.tick {
                        one_tick += 1;
                    }
                    if let Some(prev) = last_update_id.insert(symbol.clone(), update_id) {
                        assert!(update_id > prev, "u must increase");
                    } else {
                        assert!(update_id >= 10_000_000_000);
                    }
                    let now = Top {
                        bid,
                        bid_qty,
                        ask,
                        ask_qty,
                    };
                    if let Some(old) = top.insert(symbol.clone(), now) {
                        assert_ne!(old, now, "a ticker is only sent when the top changes");
                    }
                    if let Some(OwedTicker {
                        symbol: traded,
                        buy,
                        price,
                        qty,
                        before,
                    }) = owed.take()
                    {
                        assert_eq!(traded, symbol, "the ticker after a trade is its symbol's");
                        let (side_px, side_qty) = now.side(buy);
                        let (_, before_qty) = before.side(buy);
                        assert_eq!(
                            now.side(!buy),
                            before.side(!buy),
                            "a trade leaves the far side alone"
                        );
                        if qty == before_qty {
                            walks += 1;
                            let moved_away = if buy {
                                side_px > price
                            } else {
                                side_px < price
                            };
                            assert!(moved_away || side_px == s.tick, "emptied level must go");
                        } else {
                            assert_eq!((side_px, side_qty), (price, before_qty - qty));
                        }
                    }
                }
            }
        }
        assert!(longest < MAX_MESSAGE_LEN);
        assert_eq!(market.messages(), 200_000);
        assert!(trades > 40_000, "{trades} trades");
        assert!(
            walks > 100,
            "large trades should sometimes walk the top ({walks})"
        );
        let share = one_tick as f64 / books as f64;
        eprintln!("{trades} trades, {walks} walked the top, one-tick share {share:.3}");
        assert!(
            (0.5..0.98).contains(&share),
            "spread should usually be one tick ({share})"
        );
    }

    #[test]
    fn same_seed_same_bytes_and_different_seed_different_bytes() {
        let run = |seed| {
            let mut market = SyntheticMarket::new(&mixed_config(seed));
            let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
            let mut all = Vec::new();
            for _ in 0..100_000 {
                let ns = market.next_message(&mut out);
                all.extend_from_slice(&ns.to_le_bytes());
                all.extend_from_slice(&out);
            }
            all
        };
        let a = run(11);
        assert!(a == run(11), "same seed must reproduce the stream");
        assert!(a != run(12), "different seeds must differ");
    }

    /// Lag-1 autocorrelations of raw and absolute 1-second mid log returns of the first
    /// symbol, read back from the emitted tickers.
    fn one_second_return_acfs(model: Model) -> (f64, f64) {
        let mut cfg = single(3, 200.0);
        cfg.symbols
            .push(spec("ETHUSDT", 265_012_000_000, 1_000_000, 10_000));
        let mut market = SyntheticMarket::with_model(&cfg, model);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let prefix = br#"{"stream":"btcusdt@bookTicker""#;
        let mut last_ticker = Vec::with_capacity(MAX_MESSAGE_LEN);
        let mut second = cfg.start_ms / 1000;
        let mut mids = Vec::new();
        for _ in 0..2_000_000 {
            let ns = market.next_message(&mut out);
            while ns / NS_PER_SEC as u64 > second && !last_ticker.is_empty() {
                let mid = (scan_fixed8(&last_ticker, br#""b":""#)
                    + scan_fixed8(&last_ticker, br#""a":""#)) as f64;
                mids.push(mid);
                second += 1;
            }
            if out.starts_with(prefix) {
                last_ticker.clone_from(&out);
            }
        }
        let returns: Vec<f64> = mids.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        assert!(returns.len() > 5_000, "{} seconds", returns.len());
        let abs: Vec<f64> = returns.iter().map(|r| r.abs()).collect();
        (lag1_autocorrelation(&returns), lag1_autocorrelation(&abs))
    }

    #[test]
    fn volatility_clusters_but_returns_do_not_autocorrelate() {
        let (raw, abs) = one_second_return_acfs(DEFAULT_MODEL);
        eprintln!("1 s returns: acf(r) = {raw:.4}, acf(|r|) = {abs:.4}");
        assert!(abs > 0.08, "|r| lag-1 autocorrelation {abs}");
        assert!(raw.abs() < 0.04, "raw lag-1 autocorrelation {raw}");

        let flat = Model {
            vol_shape: f64::INFINITY,
            ..DEFAULT_MODEL
        };
        let (_, abs_flat) = one_second_return_acfs(flat);
        eprintln!("constant-variance control: acf(|r|) = {abs_flat:.4}");
        assert!(abs_flat.abs() < 0.04, "without GARCH |r| acf is {abs_flat}");
    }

    fn trade_size_kurtosis(model: Model) -> f64 {
        let mut market = SyntheticMarket::with_model(&single(5, 1_000.0), model);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let mut sizes = Vec::new();
        for _ in 0..500_000 {
            market.next_message(&mut out);
            if is_trade(&out) {
                sizes.push(scan_fixed8(&out, br#""q":""#) as f64);
            }
        }
        kurtosis(&sizes)
    }

    #[test]
    fn trade_sizes_are_heavy_tailed() {
        let heavy = trade_size_kurtosis(DEFAULT_MODEL);
        assert!(heavy > 20.0, "kurtosis {heavy}");
        let thin = Model {
            size_sigma: 0.3,
            tail_share: 0.0,
            ..DEFAULT_MODEL
        };
        let light = trade_size_kurtosis(thin);
        eprintln!("trade size kurtosis {heavy:.1}, thin-tailed control {light:.2}");
        assert!(light < 10.0, "thin-tailed control kurtosis {light}");
    }

    fn arrival_stats(model: Model, msgs_per_sec: f64) -> (f64, f64) {
        let cfg = mixed_config(9);
        let cfg = SyntheticConfig {
            msgs_per_sec,
            ..cfg
        };
        let mut market = SyntheticMarket::with_model(&cfg, model);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let n = 1_000_000;
        let first = market.next_message(&mut out);
        let mut last = first;
        let mut gaps = Vec::new();
        for _ in 1..n {
            let ns = market.next_message(&mut out);
            // A trade's ticker shares its timestamp; counting those zero gaps would
            // inflate the dispersion without any burstiness, so only events count.
            if ns != last {
                gaps.push((ns - last) as f64);
                last = ns;
            }
        }
        let (mean, var) = mean_and_var(&gaps);
        let rate = (n - 1) as f64 / ((last - first) as f64 / NS_PER_SEC);
        (var.sqrt() / mean, rate)
    }

    #[test]
    fn arrivals_are_bursty_at_the_configured_mean_rate() {
        for msgs_per_sec in [50.0, 1_000.0, 1e6] {
            let (cv, rate) = arrival_stats(DEFAULT_MODEL, msgs_per_sec);
            eprintln!("{msgs_per_sec}/s: inter-arrival CV {cv:.3}, rate {rate:.1}");
            assert!(cv > 1.2, "inter-arrival CV {cv} at {msgs_per_sec}/s");
            let err = (rate / msgs_per_sec - 1.0).abs();
            assert!(err < 0.1, "rate {rate} vs {msgs_per_sec}");
        }
        let poisson = Model {
            branching: 0.0,
            ..DEFAULT_MODEL
        };
        let (cv, rate) = arrival_stats(poisson, 1_000.0);
        eprintln!("Poisson control: CV {cv:.3}, rate {rate:.1}");
        assert!(cv < 1.05, "Poisson control CV {cv}");
        assert!((rate / 1_000.0 - 1.0).abs() < 0.1);
    }

    #[test]
    fn spread_widens_with_volatility() {
        let mut market = SyntheticMarket::new(&single(13, 1_000.0));
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let (mut calm, mut stressed) = ((0.0, 0.0), (0.0, 0.0));
        for _ in 0..1_000_000 {
            market.next_message(&mut out);
            let s = &market.symbols[0];
            let spread = ((s.ask_px - s.bid_px) / s.tick) as f64;
            let stress = s.var / s.var_mean;
            if stress < 0.6 {
                calm = (calm.0 + spread, calm.1 + 1.0);
            } else if stress > 2.0 {
                stressed = (stressed.0 + spread, stressed.1 + 1.0);
            }
        }
        let (calm, stressed) = (calm.0 / calm.1, stressed.0 / stressed.1);
        eprintln!("mean spread in ticks: calm {calm:.3}, stressed {stressed:.3}");
        assert!(calm >= 1.0 && stressed > calm + 0.1, "{calm} vs {stressed}");
    }

    fn same_side_share(model: Model) -> f64 {
        let mut market = SyntheticMarket::with_model(&single(17, 1_000.0), model);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let (mut same, mut pairs, mut last) = (0u32, 0u32, None);
        for _ in 0..200_000 {
            market.next_message(&mut out);
            if is_trade(&out) {
                let maker = out.ends_with(br#""m":true,"M":true}}"#);
                if let Some(prev) = last.replace(maker) {
                    pairs += 1;
                    same += u32::from(prev == maker);
                }
            }
        }
        f64::from(same) / f64::from(pairs)
    }

    #[test]
    fn trade_signs_persist_with_momentum() {
        let share = same_side_share(DEFAULT_MODEL);
        eprintln!("same-side share {share:.3}");
        assert!(share > 0.58, "same-side share {share}");
        let memoryless = Model {
            flow_momentum_weight: 0.0,
            ..DEFAULT_MODEL
        };
        let control = same_side_share(memoryless);
        assert!(
            (control - 0.5).abs() < 0.02,
            "control same-side share {control}"
        );
    }

    /// Price range of the first symbol over 20M messages, as (min, max) / start.
    fn long_run_range(model: Model) -> (f64, f64) {
        // 0.01 msgs/s stretches 20M messages over ~63 years of market time, the horizon on
        // which an unanchored walk at 60% annual vol would leave a factor-3 band.
        let cfg = single(23, 0.01);
        let start = cfg.symbols[0].start_price as f64;
        let mut market = SyntheticMarket::with_model(&cfg, model);
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for _ in 0..20_000_000 {
            market.next_message(&mut out);
            let s = &market.symbols[0];
            lo = lo.min(s.bid_px as f64);
            hi = hi.max(s.ask_px as f64);
        }
        (lo / start, hi / start)
    }

    #[test]
    #[cfg_attr(debug_assertions, ignore = "20M messages; runs in release")]
    fn price_stays_anchored_over_20m_messages() {
        let (lo, hi) = long_run_range(DEFAULT_MODEL);
        eprintln!("anchored range {lo:.3}..{hi:.3} of start");
        assert!(lo > 1.0 / 3.0 && hi < 3.0, "range {lo}..{hi}");
        let unanchored = Model {
            reversion_half_life_s: f64::INFINITY,
            ..DEFAULT_MODEL
        };
        let (lo, hi) = long_run_range(unanchored);
        eprintln!("unanchored control range {lo:.3}..{hi:.3} of start");
        assert!(lo < 1.0 / 3.0 || hi > 3.0, "control stayed in {lo}..{hi}");
    }

    #[test]
    #[should_panic(expected = "ASCII alphanumerics")]
    fn rejects_symbols_that_would_break_the_json() {
        let mut cfg = single(1, 10.0);
        cfg.symbols[0].symbol = "BTC\"USDT".to_owned();
        let _ = SyntheticMarket::new(&cfg);
    }

    #[test]
    #[ignore = "benchmark; run with --release -- --ignored --nocapture"]
    fn bench_next_message() {
        let mut market = SyntheticMarket::new(&SyntheticConfig::default());
        let mut out = Vec::with_capacity(MAX_MESSAGE_LEN);
        let n = 10_000_000u32;
        let start = std::time::Instant::now();
        let mut bytes = 0usize;
        for _ in 0..n {
            std::hint::black_box(market.next_message(&mut out));
            bytes += out.len();
        }
        let elapsed = start.elapsed();
        println!(
            "next_message: {:.1} ns/message over {n} messages ({:.1} B avg)",
            elapsed.as_nanos() as f64 / f64::from(n),
            bytes as f64 / f64::from(n)
        );
    }
}
