//! Backtest statistics: round trips from fills, and the performance figures of an equity
//! curve. Cold code (after the run): plain functions on vectors, allocation allowed.
//!
//! Conventions (documented in `report.md` too): returns are simple; Sharpe and Sortino use
//! daily returns (the last equity of each UTC day against the day before's), risk-free 0,
//! annualized with √365 (crypto trades every day); CAGR and annualized volatility use 365-day
//! years; the maximum drawdown is the largest fall from a running peak of the equity
//! snapshots, its duration the longest time from a peak to the recovery of that peak (or to the
//! end); Calmar is CAGR over the maximum drawdown.

use crate::core::num::SCALE;
use crate::core::order::Execution;
use crate::core::{InstrumentId, Side};

const DAY_NS: u64 = 86_400 * 1_000_000_000;
const YEAR_DAYS: f64 = 365.0;

/// One round trip: a position opened from flat and closed back to flat (or flipped).
#[derive(Clone, Debug, PartialEq)]
pub struct RoundTrip {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Long (`Buy`) or short (`Sell`).
    pub side: Side,
    /// Largest quantity held during the trip (10⁻⁸).
    pub qty: i64,
    /// First fill's market time.
    pub entry_ns: u64,
    /// Volume-weighted entry price (10⁻⁸).
    pub entry_price: i64,
    /// Last fill's market time.
    pub exit_ns: u64,
    /// Volume-weighted exit price (10⁻⁸).
    pub exit_price: i64,
    /// Profit before fees, quote.
    pub pnl: f64,
    /// Fees of the trip's fills (a flipping fill's fee is split by quantity), quote.
    pub fees: f64,
    /// (pnl − fees) over the entry notional, percent.
    pub return_pct: f64,
}

#[derive(Clone, Debug)]
struct Open {
    side: Side,
    pos: i128,
    max: i128,
    entry_ns: u64,
    /// Σ price × qty of opening fills, and their quantity.
    in_pq: i128,
    in_q: i128,
    out_pq: i128,
    out_q: i128,
    fees: f64,
}

/// Round trips of every instrument, in the order they close; a trip still open at the end is
/// left out (as the peers do).
pub fn round_trips(fills: &[Execution]) -> Vec<RoundTrip> {
    let mut open: Vec<Option<Open>> = Vec::new();
    let mut out = Vec::new();
    for f in fills {
        let i = f.instrument.index();
        if open.len() <= i {
            open.resize(i + 1, None);
        }
        let mut q = i128::from(f.qty.0.max(0));
        if q == 0 {
            continue;
        }
        let total = q;
        let px = i128::from(f.price.0);
        let fee = f.fee as f64 / SCALE as f64;
        while q > 0 {
            let slot = &mut open[i];
            match slot {
                None => {
                    *slot = Some(Open {
                        side: f.side,
                        pos: q,
                        max: q,
                        entry_ns: f.market_ns,
                        in_pq: px * q,
                        in_q: q,
                        out_pq: 0,
                        out_q: 0,
                        fees: fee * (q as f64 / total as f64),
                    });
                    q = 0;
                }
                Some(o) if o.side == f.side => {
                    o.pos += q;
                    o.max = o.max.max(o.pos);
                    o.in_pq += px * q;
                    o.in_q += q;
                    o.fees += fee * (q as f64 / total as f64);
                    q = 0;
                }
                Some(o) => {
                    let take = q.min(o.pos);
                    o.pos -= take;
                    o.out_pq += px * take;
                    o.out_q += take;
                    o.fees += fee * (take as f64 / total as f64);
                    q -= take;
                    if o.pos == 0 {
                        let entry = o.in_pq / o.in_q.max(1);
                        let exit = o.out_pq / o.out_q.max(1);
                        let sign = if o.side == Side::Buy { 1.0 } else { -1.0 };
                        // Realized on the closed quantity against the average entry.
                        let pnl = sign * (o.out_pq as f64 - entry as f64 * o.out_q as f64)
                            / (SCALE as f64 * SCALE as f64);
                        let notional =
                            entry as f64 * o.out_q as f64 / (SCALE as f64 * SCALE as f64);
                        out.push(RoundTrip {
                            instrument: f.instrument,
                            side: o.side,
                            qty: i64::try_from(o.max).unwrap_or(i64::MAX),
                            entry_ns: o.entry_ns,
                            entry_price: i64::try_from(entry).unwrap_or(i64::MAX),
                            exit_ns: f.market_ns,
                            exit_price: i64::try_from(exit).unwrap_or(i64::MAX),
                            pnl,
                            fees: o.fees,
                            return_pct: if notional > 0.0 {
                                (pnl - o.fees) / notional * 100.0
                            } else {
                                0.0
                            },
                        });
                        *slot = None;
                    }
                }
            }
        }
    }
    out
}

/// The performance figures of a backtest.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// First equity snapshot, market ns.
    pub start_ns: u64,
    /// Last equity snapshot, market ns.
    pub end_ns: u64,
    /// Days between them.
    pub days: f64,
    /// Equity at the start, quote.
    pub start_equity: f64,
    /// Equity at the end, quote.
    pub end_equity: f64,
    /// Total return, percent.
    pub total_return_pct: f64,
    /// Compound annual growth, percent (365-day years).
    pub cagr_pct: f64,
    /// Annualized volatility of daily returns, percent.
    pub volatility_pct: f64,
    /// Annualized Sharpe ratio of daily returns (risk-free 0).
    pub sharpe: f64,
    /// Annualized Sortino ratio of daily returns (downside deviation, target 0).
    pub sortino: f64,
    /// Largest fall from a peak, percent.
    pub max_drawdown_pct: f64,
    /// Longest time under a previous peak, days.
    pub max_drawdown_days: f64,
    /// CAGR over the maximum drawdown.
    pub calmar: f64,
    /// Round trips closed.
    pub trades: u64,
    /// Winning round trips (after fees), percent of trades.
    pub win_rate_pct: f64,
    /// Gross profit over gross loss of round trips (after fees).
    pub profit_factor: f64,
    /// Mean round-trip return, percent.
    pub avg_trade_pct: f64,
    /// Best round-trip return, percent.
    pub best_trade_pct: f64,
    /// Worst round-trip return, percent.
    pub worst_trade_pct: f64,
    /// Time with a position open, percent of the run.
    pub exposure_pct: f64,
    /// Fees paid, quote.
    pub fees: f64,
    /// Σ |fill notional| over the mean equity.
    pub turnover: f64,
    /// Buy-and-hold return of the traded instruments (equal weight), percent.
    pub buy_and_hold_return_pct: f64,
    /// Market events per second of wall time.
    pub events_per_s: f64,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

fn std_dev(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Finite or 0 (JSON has no infinity).
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The figures from account snapshots `(market ns, equity, position value)` (quote at
/// 10⁻⁸), round trips, fills, the buy-and-hold return and the throughput.
pub fn stats(
    equity: &[(u64, i64, i64)],
    trips: &[RoundTrip],
    fills: &[Execution],
    buy_and_hold_return_pct: f64,
    events_per_s: f64,
) -> Stats {
    let mut s = Stats {
        buy_and_hold_return_pct: finite(buy_and_hold_return_pct),
        events_per_s: finite(events_per_s),
        ..Stats::default()
    };
    let unit = SCALE as f64;
    s.fees = fills.iter().map(|f| f.fee as f64 / unit).sum();
    let (Some(first), Some(last)) = (equity.first(), equity.last()) else {
        return s;
    };
    s.start_ns = first.0;
    s.end_ns = last.0;
    s.start_equity = first.1 as f64 / unit;
    s.end_equity = last.1 as f64 / unit;
    s.days = (last.0.saturating_sub(first.0)) as f64 / DAY_NS as f64;
    if s.start_equity > 0.0 {
        s.total_return_pct = (s.end_equity / s.start_equity - 1.0) * 100.0;
        if s.days > 0.0 && s.end_equity > 0.0 {
            s.cagr_pct =
                finite(((s.end_equity / s.start_equity).powf(YEAR_DAYS / s.days) - 1.0) * 100.0);
        }
    }
    // Daily returns: the last equity of each UTC day against the previous day's last.
    let mut closes: Vec<f64> = vec![s.start_equity];
    let mut day = first.0 / DAY_NS;
    let mut last_eq = s.start_equity;
    for &(t, e, _) in equity {
        let d = t / DAY_NS;
        if d != day {
            closes.push(last_eq);
            day = d;
        }
        last_eq = e as f64 / unit;
    }
    closes.push(last_eq);
    let rets: Vec<f64> = closes
        .windows(2)
        .filter(|w| w[0] > 0.0)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    let sd = std_dev(&rets);
    s.volatility_pct = finite(sd * YEAR_DAYS.sqrt() * 100.0);
    if sd > 0.0 {
        s.sharpe = finite(mean(&rets) / sd * YEAR_DAYS.sqrt());
    }
    let downside: Vec<f64> = rets.iter().map(|r| r.min(0.0)).collect();
    let dd = (downside.iter().map(|r| r * r).sum::<f64>() / downside.len().max(1) as f64).sqrt();
    if dd > 0.0 {
        s.sortino = finite(mean(&rets) / dd * YEAR_DAYS.sqrt());
    }
    // Drawdown and its duration, exposure and turnover on the snapshots.
    let (mut peak, mut peak_t, mut under) = (f64::MIN, first.0, false);
    let mut exposed_ns = 0u64;
    for (k, &(t, e, pv)) in equity.iter().enumerate() {
        let e = e as f64 / unit;
        if e >= peak {
            // A drawdown ends when its peak is regained: its duration is peak to recovery.
            if under {
                s.max_drawdown_days = s
                    .max_drawdown_days
                    .max(t.saturating_sub(peak_t) as f64 / DAY_NS as f64);
            }
            peak = e;
            peak_t = t;
            under = false;
        } else {
            under = true;
            if peak > 0.0 {
                s.max_drawdown_pct = s.max_drawdown_pct.max((peak - e) / peak * 100.0);
            }
        }
        if pv != 0 {
            if let Some(next) = equity.get(k + 1) {
                exposed_ns += next.0.saturating_sub(t);
            }
        }
    }
    if under {
        // Still under water at the end.
        s.max_drawdown_days = s
            .max_drawdown_days
            .max(last.0.saturating_sub(peak_t) as f64 / DAY_NS as f64);
    }
    let span = last.0.saturating_sub(first.0);
    if span > 0 {
        s.exposure_pct = exposed_ns as f64 / span as f64 * 100.0;
    }
    if s.max_drawdown_pct > 0.0 {
        s.calmar = finite(s.cagr_pct / s.max_drawdown_pct);
    }
    let mean_equity = mean(
        &equity
            .iter()
            .map(|&(_, e, _)| e as f64 / unit)
            .collect::<Vec<_>>(),
    );
    let traded: f64 = fills
        .iter()
        .map(|f| f.price.0 as f64 * f.qty.0 as f64 / (unit * unit))
        .sum();
    if mean_equity > 0.0 {
        s.turnover = traded / mean_equity;
    }
    // Round trips.
    s.trades = trips.len() as u64;
    if !trips.is_empty() {
        let net: Vec<f64> = trips.iter().map(|t| t.pnl - t.fees).collect();
        let wins = net.iter().filter(|x| **x > 0.0).count();
        s.win_rate_pct = wins as f64 / trips.len() as f64 * 100.0;
        // `+ 0.0`: an empty f64 sum is −0.0.
        let gain: f64 = net.iter().filter(|x| **x > 0.0).sum::<f64>() + 0.0;
        let loss: f64 = -net.iter().filter(|x| **x < 0.0).sum::<f64>() + 0.0;
        s.profit_factor = if loss > 0.0 { finite(gain / loss) } else { 0.0 };
        let r: Vec<f64> = trips.iter().map(|t| t.return_pct).collect();
        s.avg_trade_pct = mean(&r);
        s.best_trade_pct = r.iter().copied().fold(f64::MIN, f64::max);
        s.worst_trade_pct = r.iter().copied().fold(f64::MAX, f64::min);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::order::{ExecType, Liquidity};
    use crate::core::{Price, Qty};

    const S: i64 = SCALE;

    fn fill(t: u64, side: Side, px: i64, q: i64, fee: i64) -> Execution {
        Execution {
            client_order_id: t,
            instrument: InstrumentId(0),
            side,
            exec: ExecType::Fill,
            price: Price(px * S),
            qty: Qty(q * S),
            leaves: Qty::ZERO,
            fee,
            liquidity: Liquidity::Taker,
            market_ns: t,
        }
    }

    #[test]
    fn round_trips_follow_the_position_through_flips() {
        let fills = [
            fill(1, Side::Buy, 100, 1, S),
            fill(2, Side::Buy, 110, 1, S),      // long 2 @ 105
            fill(3, Side::Sell, 120, 3, 3 * S), // close 2 @ 120, open short 1
            fill(4, Side::Buy, 100, 1, S),      // close the short
            fill(5, Side::Buy, 90, 1, 0),       // open, never closed: left out
        ];
        let t = round_trips(&fills);
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].side, t[0].qty, t[0].entry_price),
            (Side::Buy, 2 * S, 105 * S)
        );
        assert_eq!((t[0].exit_price, t[0].exit_ns), (120 * S, 3));
        assert!((t[0].pnl - 30.0).abs() < 1e-9);
        // Fees: 1 + 1 + two thirds of the flipping fill's 3.
        assert!((t[0].fees - 4.0).abs() < 1e-9, "{}", t[0].fees);
        assert_eq!(
            (t[1].side, t[1].entry_price, t[1].exit_price),
            (Side::Sell, 120 * S, 100 * S)
        );
        assert!((t[1].pnl - 20.0).abs() < 1e-9 && (t[1].fees - 2.0).abs() < 1e-9);
        assert!((t[1].return_pct - 18.0 / 120.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn figures_of_a_known_curve() {
        let day = DAY_NS;
        // 100 → 110 → 99 → 121 over three days, flat (no position) on the last snapshot.
        let eq = [
            (0, 100 * S, 5 * S),
            (day, 110 * S, 5 * S),
            (2 * day, 99 * S, 5 * S),
            (3 * day, 121 * S, 0),
        ];
        let s = stats(&eq, &[], &[], 5.0, 1e6);
        // Rising only: no drawdown, so no duration either.
        let up = [(0, 100 * S, 0), (day, 110 * S, 0), (5 * day, 120 * S, 0)];
        assert_eq!(stats(&up, &[], &[], 0.0, 0.0).max_drawdown_days, 0.0);
        assert!((s.total_return_pct - 21.0).abs() < 1e-9);
        assert!((s.max_drawdown_pct - 10.0).abs() < 1e-9);
        assert!(
            (s.max_drawdown_days - 2.0).abs() < 1e-9,
            "{}",
            s.max_drawdown_days
        );
        assert!((s.days - 3.0).abs() < 1e-12);
        assert!((s.exposure_pct - 100.0).abs() < 1e-9);
        // Day 0 runs from the start to its own last snapshot (the same one here): 0.
        let r = [0.0, 0.1, -0.1, 121.0 / 99.0 - 1.0];
        let m = r.iter().sum::<f64>() / 4.0;
        let sd = (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0).sqrt();
        assert!((s.sharpe - m / sd * 365f64.sqrt()).abs() < 1e-9);
        assert!(s.sortino > s.sharpe, "one down day only");
        assert!((s.cagr_pct - (1.21f64.powf(365.0 / 3.0) - 1.0) * 100.0).abs() < 1e-6);
        assert_eq!(s.buy_and_hold_return_pct, 5.0);
        // Nothing at all: zeros, no NaN.
        let z = stats(&[], &[], &[], f64::NAN, 0.0);
        assert_eq!(z, Stats::default());
    }
}
