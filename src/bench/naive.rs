//! The naive baseline: what a first version of this engine would look like. One unpinned
//! thread per stage joined by std `mpsc` channels, every message parsed into a
//! `serde_json::Value`, prices as `f64`, owned `String` symbols. Same stages, same decisions
//! (1s/1m candles, EMA cross, position limit, paper fill at the touch), so the throughput
//! ratio measures the engineering, not a difference in work.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;

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

fn stage<F>(
    rx: mpsc::Receiver<Msg>,
    mut f: F,
) -> (mpsc::Receiver<Msg>, std::thread::JoinHandle<u64>)
where
    F: FnMut(Msg, &mut dyn FnMut(Msg)) -> u64 + Send + 'static,
{
    let (tx, out) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut n = 0;
        for m in rx {
            n += f(m, &mut |o| {
                let _ = tx.send(o);
            });
        }
        n
    });
    (out, h)
}

/// Runs the baseline over `lines`; returns counts and wall seconds.
pub fn run(
    lines: &[Vec<u8>],
    fast: usize,
    slow: usize,
    order_qty: f64,
    max_pos: f64,
) -> (NaiveCounts, f64) {
    let started = Instant::now();
    let (src_tx, src_rx) = mpsc::channel::<Vec<u8>>();
    let (parsed_tx, parsed_rx) = mpsc::channel::<Msg>();
    let parse_h = std::thread::spawn(move || {
        let (mut t, mut b) = (0u64, 0u64);
        for line in src_rx {
            if let Some(m) = parse(&line) {
                match m {
                    Msg::Trade { .. } => t += 1,
                    Msg::Book { .. } => b += 1,
                    _ => {}
                }
                let _ = parsed_tx.send(m);
            }
        }
        (t, b)
    });
    // Arbiter: drop repeated trade ids and stale quotes.
    let mut last_id: HashMap<String, u64> = HashMap::new();
    let mut last_u: HashMap<String, u64> = HashMap::new();
    let (arb_rx, arb_h) = stage(parsed_rx, move |m, out| {
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
    let (candle_rx, candle_h) = stage(arb_rx, move |m, out| {
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
    let (ind_rx, ind_h) = stage(candle_rx, move |m, out| {
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
    let (sig_rx, sig_h) = stage(ind_rx, move |m, out| {
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
    let (risk_rx, risk_h) = stage(sig_rx, move |m, out| {
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
        for m in risk_rx {
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
        }
        std::hint::black_box(cash);
        fills
    });
    for l in lines {
        let _ = src_tx.send(l.clone());
    }
    drop(src_tx);
    let (trades, book_tickers) = parse_h.join().unwrap_or_default();
    let _ = arb_h.join();
    let candles = candle_h.join().unwrap_or(0);
    let _ = ind_h.join();
    let signals = sig_h.join().unwrap_or(0);
    let _ = risk_h.join();
    let fills = venue_h.join().unwrap_or(0);
    (
        NaiveCounts {
            messages: lines.len() as u64,
            trades,
            book_tickers,
            candles,
            signals,
            fills,
        },
        started.elapsed().as_secs_f64(),
    )
}
