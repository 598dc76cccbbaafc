//! The naive baseline: what a first version of this engine would look like. One unpinned
//! thread per stage joined by std `mpsc` channels, every message parsed into a
//! `serde_json::Value`, prices as `f64`, owned `String` symbols. Same stages, same decisions
//! (1s/1m candles, EMA cross, position limit, paper fill at the touch), so the throughput
//! ratio measures the engineering, not a difference in work.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::Value;

use crate::core::clock;
use crate::runtime::latency::{histogram, Intervals};

#[derive(Clone, Debug)]
enum Msg {
    Trade {
        sym: String,
        id: u64,
        px: f64,
        qty: f64,
        ms: u64,
    },
    Book {
        sym: String,
        u: u64,
        bid: f64,
        ask: f64,
    },
    Candle {
        sym: String,
        res_ms: u64,
        close: f64,
    },
    Ema {
        sym: String,
        fast: f64,
        slow: f64,
    },
    Signal {
        sym: String,
        dir: i8,
    },
    Order {
        sym: String,
        buy: bool,
        qty: f64,
    },
}

/// Counts the baseline produced, to check it did the same work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NaiveCounts {
    /// Messages read.
    pub messages: u64,
    /// Trades parsed.
    pub trades: u64,
    /// Book tickers parsed.
    pub book_tickers: u64,
    /// Candles closed.
    pub candles: u64,
    /// Signals.
    pub signals: u64,
    /// Fills.
    pub fills: u64,
}

fn parse(line: &[u8]) -> Option<Msg> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let d = v.get("data").unwrap_or(&v);
    let num = |k: &str| d.get(k)?.as_str()?.parse::<f64>().ok();
    match d.get("e").and_then(|e| e.as_str()) {
        Some("trade") => Some(Msg::Trade {
            sym: d.get("s")?.as_str()?.to_string(),
            id: d.get("t")?.as_u64()?,
            px: num("p")?,
            qty: num("q")?,
            ms: d.get("T")?.as_u64()?,
        }),
        None if d.get("u").is_some() && d.get("b").is_some() => Some(Msg::Book {
            sym: d.get("s")?.as_str()?.to_string(),
            u: d.get("u")?.as_u64()?,
            bid: num("b")?,
            ask: num("a")?,
        }),
        _ => None,
    }
}

struct Ema {
    n: usize,
    k: f64,
    count: usize,
    sum: f64,
    v: f64,
}

impl Ema {
    fn new(n: usize) -> Self {
        Self {
            n,
            k: 2.0 / (n as f64 + 1.0),
            count: 0,
            sum: 0.0,
            v: 0.0,
        }
    }
    fn update(&mut self, x: f64) -> Option<f64> {
        self.count += 1;
        if self.count < self.n {
            self.sum += x;
            return None;
        }
        if self.count == self.n {
            self.v = (self.sum + x) / self.n as f64;
        } else {
            self.v += self.k * (x - self.v);
        }
        Some(self.v)
    }
}

/// One message between naive stages: the value, its ingress stamp and the previous stage's
/// exit stamp (monotonic ns, the same clock as tickwire's).
type Hop = (Msg, u64, u64);
/// A naive stage's thread: what it counted, its name and its latency.
type StageThread = std::thread::JoinHandle<(u64, &'static str, Histogram<u64>)>;

/// What a timed baseline run measured.
pub struct NaiveRun {
    /// Work done.
    pub counts: NaiveCounts,
    /// Wall seconds from the first message sent to the last stage finished.
    pub elapsed_s: f64,
    /// Per stage (time from the previous stage's exit, channel hop included, to its own
    /// exit), `tick_to_order` (ingress to the order reaching the venue) and `end_to_end`
    /// (ingress to market data leaving the venue): the keys tickwire reports.
    pub latency: BTreeMap<String, Histogram<u64>>,
    /// `end_to_end` over time, when asked for.
    pub intervals: Option<Intervals>,
}

fn stage<F>(
    name: &'static str,
    rx: mpsc::Receiver<Hop>,
    mut f: F,
) -> (mpsc::Receiver<Hop>, StageThread)
where
    F: FnMut(Msg, &mut dyn FnMut(Msg)) -> u64 + Send + 'static,
{
    let (tx, out) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut n = 0;
        let mut hist = histogram();
        let mut outs = Vec::new();
        for (m, ingress, stamp) in rx {
            n += f(m, &mut |o| outs.push(o));
            let now = clock::mono_ns();
            hist.saturating_record(now.saturating_sub(stamp));
            for o in outs.drain(..) {
                let _ = tx.send((o, ingress, now));
            }
        }
        (n, name, hist)
    });
    (out, h)
}

/// Runs the baseline over `lines` at full speed; returns counts and wall seconds.
pub fn run(
    lines: &[Vec<u8>],
    fast: usize,
    slow: usize,
    order_qty: f64,
    max_pos: f64,
) -> (NaiveCounts, f64) {
    let r = run_timed(lines, fast, slow, order_qty, max_pos, None, None);
    (r.counts, r.elapsed_s)
}

/// Runs the baseline over `lines`, sent at `rate` messages per second (`None`: as fast as
/// it takes them), each stamped with the instant it was due (as tickwire's paced sources do,
/// so neither side hides a backlog); `intervals` = (ns, count) records end-to-end latency
/// over time.
pub fn run_timed(
    lines: &[Vec<u8>],
    fast: usize,
    slow: usize,
    order_qty: f64,
    max_pos: f64,
    rate: Option<f64>,
    intervals: Option<(u64, usize)>,
) -> NaiveRun {
    let (src_tx, src_rx) = mpsc::channel::<(Vec<u8>, u64)>();
    let (parsed_tx, parsed_rx) = mpsc::channel::<Hop>();
    let parse_h = std::thread::spawn(move || {
        let (mut t, mut b) = (0u64, 0u64);
        let mut hist = histogram();
        for (line, ingress) in src_rx {
            let m = parse(&line);
            let now = clock::mono_ns();
            hist.saturating_record(now.saturating_sub(ingress));
            if let Some(m) = m {
                match m {
                    Msg::Trade { .. } => t += 1,
                    Msg::Book { .. } => b += 1,
                    _ => {}
                }
                let _ = parsed_tx.send((m, ingress, now));
            }
        }
        (t, b, hist)
    });
    // Arbiter: drop repeated trade ids and stale quotes.
    let mut last_id: HashMap<String, u64> = HashMap::new();
    let mut last_u: HashMap<String, u64> = HashMap::new();
    let (arb_rx, arb_h) = stage("arbiter", parsed_rx, move |m, out| {
        let keep = match &m {
            Msg::Trade { sym, id, .. } => {
                let e = last_id.entry(sym.clone()).or_insert(0);
                let k = *id > *e;
                *e = (*e).max(*id);
                k
            }
            Msg::Book { sym, u, .. } => {
                let e = last_u.entry(sym.clone()).or_insert(0);
                let k = *u >= *e;
                *e = (*e).max(*u);
                k
            }
            _ => true,
        };
        if keep {
            out(m);
        }
        0
    });
    // Candles 1s and 1m.
    let mut open: HashMap<(String, u64), (u64, f64, f64)> = HashMap::new();
    let (candle_rx, candle_h) = stage("candles", arb_rx, move |m, out| {
        let mut closed = 0;
        if let Msg::Trade {
            sym, px, qty, ms, ..
        } = &m
        {
            for res in [1_000u64, 60_000] {
                let bucket = ms / res * res;
                let e = open.entry((sym.clone(), res)).or_insert((bucket, *px, 0.0));
                if bucket > e.0 {
                    out(Msg::Candle {
                        sym: sym.clone(),
                        res_ms: res,
                        close: e.1,
                    });
                    closed += 1;
                    *e = (bucket, *px, *qty);
                } else if bucket == e.0 {
                    e.1 = *px;
                    e.2 += *qty;
                }
            }
        }
        out(m);
        closed
    });
    let mut emas: HashMap<(String, u64), (Ema, Ema)> = HashMap::new();
    let (ind_rx, ind_h) = stage("indicators", candle_rx, move |m, out| {
        if let Msg::Candle { sym, res_ms, close } = &m {
            let e = emas
                .entry((sym.clone(), *res_ms))
                .or_insert_with(|| (Ema::new(fast), Ema::new(slow)));
            let (f, s) = (e.0.update(*close), e.1.update(*close));
            if let (Some(f), Some(s), 1_000) = (f, s, *res_ms) {
                out(Msg::Ema {
                    sym: sym.clone(),
                    fast: f,
                    slow: s,
                });
            }
        }
        out(m);
        0
    });
    let mut last_sign: HashMap<String, i8> = HashMap::new();
    let (sig_rx, sig_h) = stage("signals", ind_rx, move |m, out| {
        let mut n = 0;
        if let Msg::Ema {
            sym, fast, slow, ..
        } = &m
        {
            let sign = if fast > slow {
                1
            } else if fast < slow {
                -1
            } else {
                0
            };
            if sign != 0 {
                let prev = last_sign.insert(sym.clone(), sign).unwrap_or(0);
                if prev != 0 && prev != sign {
                    out(Msg::Signal {
                        sym: sym.clone(),
                        dir: sign,
                    });
                    n += 1;
                }
            }
        }
        out(m);
        n
    });
    let mut pos: HashMap<String, f64> = HashMap::new();
    let (risk_rx, risk_h) = stage("risk", sig_rx, move |m, out| {
        if let Msg::Signal { sym, dir } = &m {
            let p = pos.entry(sym.clone()).or_insert(0.0);
            let delta = f64::from(*dir) * order_qty - *p;
            if delta != 0.0 && (*p + delta).abs() <= max_pos {
                *p += delta;
                out(Msg::Order {
                    sym: sym.clone(),
                    buy: delta > 0.0,
                    qty: delta.abs(),
                });
            }
        }
        if matches!(m, Msg::Book { .. } | Msg::Order { .. } | Msg::Trade { .. }) {
            out(m);
        }
        0
    });
    let venue_h = std::thread::spawn(move || {
        let mut books: HashMap<String, (f64, f64)> = HashMap::new();
        let mut fills = 0u64;
        let mut cash = 0.0;
        let mut venue = histogram();
        let mut t2o = histogram();
        let mut e2e = histogram();
        let mut iv = intervals.map(|(every, n)| Intervals::new(every, n));
        for (m, ingress, stamp) in risk_rx {
            let market = matches!(m, Msg::Book { .. } | Msg::Trade { .. });
            let order = matches!(m, Msg::Order { .. });
            match m {
                Msg::Book { sym, bid, ask, .. } => {
                    books.insert(sym, (bid, ask));
                }
                Msg::Order { sym, buy, qty } => {
                    if let Some((bid, ask)) = books.get(&sym) {
                        cash += if buy { -ask * qty } else { bid * qty };
                        fills += 1;
                    }
                }
                _ => {}
            }
            let now = clock::mono_ns();
            venue.saturating_record(now.saturating_sub(stamp));
            let total = now.saturating_sub(ingress);
            if order {
                t2o.saturating_record(total);
            }
            if market {
                e2e.saturating_record(total);
                if let Some(iv) = &mut iv {
                    iv.record(now, total);
                }
            }
        }
        std::hint::black_box(cash);
        (fills, venue, t2o, e2e, iv)
    });
    let started = Instant::now();
    let start_ns = clock::mono_ns();
    for (i, l) in lines.iter().enumerate() {
        let ingress = match rate {
            Some(r) => {
                let due = start_ns + (i as f64 * 1e9 / r) as u64;
                while clock::mono_ns() < due {
                    std::hint::spin_loop();
                }
                due
            }
            None => clock::mono_ns(),
        };
        let _ = src_tx.send((l.clone(), ingress));
    }
    drop(src_tx);
    let mut latency = BTreeMap::new();
    let (trades, book_tickers, parse_hist) = parse_h.join().unwrap_or_else(|_| (0, 0, histogram()));
    latency.insert("parse".to_string(), parse_hist);
    let mut stage_done = |h: StageThread| {
        let (n, name, hist) = h.join().unwrap_or((0, "lost", histogram()));
        latency.insert(name.to_string(), hist);
        n
    };
    let _ = stage_done(arb_h);
    let candles = stage_done(candle_h);
    let _ = stage_done(ind_h);
    let signals = stage_done(sig_h);
    let _ = stage_done(risk_h);
    let (fills, venue, t2o, e2e, iv) = venue_h
        .join()
        .unwrap_or_else(|_| (0, histogram(), histogram(), histogram(), None));
    latency.insert("venue".to_string(), venue);
    latency.insert("tick_to_order".to_string(), t2o);
    latency.insert("end_to_end".to_string(), e2e);
    NaiveRun {
        counts: NaiveCounts {
            messages: lines.len() as u64,
            trades,
            book_tickers,
            candles,
            signals,
            fills,
        },
        elapsed_s: started.elapsed().as_secs_f64(),
        latency,
        intervals: iv,
    }
}
