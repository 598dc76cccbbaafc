#!/usr/bin/env python3
"""Reference trades from backtesting.py (PyPI `backtesting`) for tickwire's SMA-cross backtest.

Runs backtesting.py's canonical `SmaCross` example on one real candle file and writes, to
the output directory,

    <stem>_trades.csv[.zst]   one row per closed trade, in closing order:
        entry_time_ms,exit_time_ms,direction,size,entry_price,exit_price,pnl,return_pct
    <stem>_summary.json       backtesting.py's headline stats, parameters, versions, the
                              trade left open at the end, and self-checks (see below)

Column meaning (all taken from backtesting.py's own Trade objects):
  entry_time_ms / exit_time_ms  open_time (ms since epoch, UTC) of the bar whose *open* filled
                                the order (backtesting.py `EntryBar` / `ExitBar`)
  direction                     long | short (sign of `Trade.size`)
  size                          |Trade.size|, whole units
  entry_price / exit_price      the fill price; it is always that bar's open, so the exact
                                decimal text of the source file's open is written
  pnl                           `Trade.pl` = size * (exit - entry), float64, repr()
  return_pct                    `Trade.pl_pct` (backtesting.py's `ReturnPct` column): a
                                FRACTION, sign(size) * (exit / entry - 1); 0.01 means 1 %

The strategy is the docs' example verbatim: n1 = 10, n2 = 20, `backtesting.test.SMA` of the
close, `crossover(sma1, sma2)` -> `position.close(); buy()`, `crossover(sma2, sma1)` ->
`position.close(); sell()`, run by `Backtest(df, SmaCross, cash=CASH, commission=0,
trade_on_close=False, exclusive_orders=False)` (spread 0, margin 1, hedging False,
finalize_trades False: all defaults).

Input: a kline CSV (optionally .zst): Binance kline rows (12 columns, with or without a
header, open_time in ms or µs, or as "YYYY-MM-DD HH:MM:SS[+00:00]" text), a
`timestamp,open,high,low,close,volume` file (FTX/nautilus), a CryptoDataDownload export
(banner line, `date,symbol,open,...`, newest first), or a `date,open,high,low,close,volume`
daily file. Rows are sorted by open time; `--first N` keeps the first N bars *after*
sorting (so slicing is part of the reproducible command line).

Self-checks written to the summary (the run fails if the first one fails):
  float_replay  an independent re-implementation of the semantics documented in
                tests/fixtures/parity/README.md, in float64 with pandas' SMA, must give the
                same trades (times, sizes, prices, pnl bit for bit) and final equity.
  exact_replay  the same simulation with exact rational SMAs, prices and cash (what a
                fixed-point engine computes); reports whether signals and sizes agree with
                backtesting.py's float64 run, and the first difference if not.

Deterministic: no randomness, no wall-clock values, fixed float formatting (repr), zstd
level 19 for outputs over 200 KB.

    python3 -m venv /work/venv-parity && /work/venv-parity/bin/pip install backtesting pandas numpy zstandard
    python3 scripts/parity_backtesting.py KLINE_FILE [--out tests/fixtures/parity] [--first N]
        [--cash 10000000] [--stem NAME]
"""

import argparse
import csv
import hashlib
import io
import json
import math
import os
import platform
import sys
import warnings
from datetime import datetime, timezone
from fractions import Fraction

import numpy as np
import pandas as pd

import backtesting
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

N1, N2 = 10, 20
ZSTD_OVER = 200 * 1024


class SmaCross(Strategy):
    # Verbatim from backtesting.py's README / Quick Start.
    n1 = 10
    n2 = 20

    def init(self):
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


# ---------------------------------------------------------------- loading


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw, raw.decode("utf-8")


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def to_ms(field):
    """open_time field -> integer ms since the epoch (UTC)."""
    f = field.strip()
    if f.lstrip("-").isdigit():
        v = int(f)
        if v >= 10**14:  # µs (Binance spot files from 2025)
            if v % 1000:
                raise ValueError(f"µs time {v} is not a whole ms")
            v //= 1000
        return v
    fmts = ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f",
            "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %I-%p", "%Y-%m-%d")
    for fmt in fmts:
        try:
            t = datetime.strptime(f, fmt)
        except ValueError:
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        d = t - datetime(1970, 1, 1, tzinfo=timezone.utc)
        us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        if us % 1000:
            raise ValueError(f"time {f!r} is not a whole ms")
        return us // 1000
    raise ValueError(f"unrecognised time {f!r}")


def load(path):
    """-> (format name, rows [(open_time_ms, open, high, low, close, volume) as text], sorted)."""
    raw, text = read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    fmt = None
    if lines and "cryptodatadownload" in lines[0].lower():
        lines = lines[1:]  # CDD banner
        fmt = "cryptodatadownload"
    rows = list(csv.reader(lines))
    header = None
    if not is_number(rows[0][0]) and not rows[0][0][:4].isdigit():
        header = [h.strip().lower() for h in rows[0]]
        rows = rows[1:]
    if header:
        idx = {h: i for i, h in enumerate(header)}
        cols = [0, idx["open"], idx["high"], idx["low"], idx["close"]]
        vol = idx.get("volume_btc", idx.get("volume"))
        fmt = fmt or ("binance_kline_header" if len(header) == 12 else "header:" + ",".join(header[:6]))
    else:
        if len(rows[0]) not in (6, 12):
            raise ValueError(f"{path}: {len(rows[0])} columns without a header")
        cols, vol = [0, 1, 2, 3, 4], 5
        fmt = "binance_kline_noheader" if len(rows[0]) == 12 else "ohlcv_noheader"
    out = []
    for r in rows:
        o, h, l, c = (r[k].strip() for k in cols[1:])
        out.append((to_ms(r[0]), o, h, l, c, r[vol].strip() if vol is not None else ""))
    out.sort(key=lambda x: x[0])
    times = [x[0] for x in out]
    if len(set(times)) != len(times):
        raise ValueError(f"{path}: duplicate open times")
    return fmt, out, raw


# ---------------------------------------------------------------- replays


def crossed(a_prev, b_prev, a, b):
    # backtesting.lib.crossover(a, b): a[-2] < b[-2] and a[-1] > b[-1]  (NaN -> False)
    return a_prev < b_prev and a > b


def float_replay(o, c, sma1, sma2, cash, start):
    """backtesting.py's semantics re-implemented in float64 (see README.md)."""
    eps_full = 1 - sys.float_info.epsilon
    trades, pos = [], None  # pos = (size, entry_price, entry_bar)
    pending = 0  # +1 buy, -1 sell, placed together with a position.close()
    for i in range(start, len(c)):
        if pending:
            if pos:
                size, ep, eb = pos
                pl = size * (o[i] - ep)
                cash += pl
                trades.append((eb, i, size, ep, o[i], pl))
                pos = None
            size = int((cash * 1.0 * eps_full) // (o[i] * (1 + math.copysign(0.0, pending)) + 0.0))
            if size:
                pos = (pending * size, o[i], i)
            pending = 0
        if crossed(sma1[i - 1], sma2[i - 1], sma1[i], sma2[i]):
            pending = 1
        elif crossed(sma2[i - 1], sma1[i - 1], sma2[i], sma1[i]):
            pending = -1
    equity = cash
    if pos:
        size, ep, _ = pos
        equity = cash + (c[-1] * size - size * ep)
    return trades, equity, pos


def exact_replay(opens_txt, closes_txt, cash, start):
    """Same simulation with exact rationals: SMA = sum/n exactly, cash exact, size = floor(cash/open)."""
    o = [Fraction(x) for x in opens_txt]
    c = [Fraction(x) for x in closes_txt]
    n = len(c)
    s1 = [None] * n
    s2 = [None] * n
    for i in range(n):
        if i >= N1 - 1:
            s1[i] = sum(c[i - N1 + 1:i + 1]) / N1
        if i >= N2 - 1:
            s2[i] = sum(c[i - N2 + 1:i + 1]) / N2
    cash = Fraction(cash)
    trades, pos, pending, signals = [], None, 0, []
    for i in range(start, n):
        if pending:
            if pos:
                size, ep, eb = pos
                pl = size * (o[i] - ep)
                cash += pl
                trades.append((eb, i, size, ep, o[i], pl))
                pos = None
            size = math.floor(cash / o[i])  # exact; float run uses cash*(1-2^-52) // open
            if size:
                pos = (pending * size, o[i], i)
            pending = 0
        if s2[i - 1] is None:
            continue
        if s1[i - 1] < s2[i - 1] and s1[i] > s2[i]:
            pending = 1
            signals.append((i, 1))
        elif s2[i - 1] < s1[i - 1] and s2[i] > s1[i]:
            pending = -1
            signals.append((i, -1))
    equity = cash + (pos[0] * (c[-1] - pos[1]) if pos else 0)
    return trades, equity, signals, s1, s2


# ---------------------------------------------------------------- main


def fnum(x):
    return repr(float(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="kline CSV file (.csv or .csv.zst)")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "parity"))
    ap.add_argument("--first", type=int, default=None, help="keep only the first N bars (after sorting by time)")
    ap.add_argument("--cash", type=int, default=10_000_000)
    ap.add_argument("--stem", default=None, help="output name stem (default: input file name without .csv[.zst])")
    a = ap.parse_args()

    base = os.path.basename(a.input)
    stem = a.stem or base.split(".csv")[0] + (f"_first{a.first}" if a.first else "")
    fmt, rows, raw = load(a.input)
    bars_in_file = len(rows)
    if a.first:
        rows = rows[:a.first]
    n = len(rows)
    t_ms = [r[0] for r in rows]
    txt = {k: [r[j] for r in rows] for j, k in enumerate(["t", "Open", "High", "Low", "Close", "Volume"]) if j}
    df = pd.DataFrame({k: np.array([float(x) for x in txt[k]]) for k in ["Open", "High", "Low", "Close"]},
                      index=pd.to_datetime(np.array(t_ms, dtype=np.int64), unit="ms"))
    df["Volume"] = np.array([float(x) if x else np.nan for x in txt["Volume"]])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bt = Backtest(df, SmaCross, cash=a.cash, commission=0, trade_on_close=False, exclusive_orders=False)
        stats = bt.run()
    warn_msgs = sorted({str(w.message) for w in caught})

    strat = stats["_strategy"]
    tr = stats["_trades"]
    sma1 = np.asarray(strat.sma1, dtype=float)
    sma2 = np.asarray(strat.sma2, dtype=float)
    o = df["Open"].to_numpy()
    c = df["Close"].to_numpy()
    start = 1 + int(max(np.isnan(sma1).argmin(), np.isnan(sma2).argmin()))  # backtesting's first next() bar

    # ---- trades file
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["entry_time_ms", "exit_time_ms", "direction", "size", "entry_price", "exit_price", "pnl", "return_pct"])
    bt_trades = []
    for r in tr.itertuples(index=False):
        eb, xb, size = int(r.EntryBar), int(r.ExitBar), int(r.Size)
        # Fills are at the bar's open: write the source's exact decimal text for it.
        assert float(txt["Open"][eb]) == r.EntryPrice and float(txt["Open"][xb]) == r.ExitPrice, (eb, xb)
        w.writerow([t_ms[eb], t_ms[xb], "long" if size > 0 else "short", abs(size),
                    txt["Open"][eb], txt["Open"][xb], fnum(r.PnL), fnum(r.ReturnPct)])
        bt_trades.append((eb, xb, size, float(r.EntryPrice), float(r.ExitPrice), float(r.PnL)))
    data = buf.getvalue().encode()
    os.makedirs(a.out, exist_ok=True)
    plain = os.path.join(a.out, stem + "_trades.csv")
    packed = plain + ".zst"
    for p in (plain, packed):
        if os.path.exists(p):
            os.remove(p)
    if len(data) > ZSTD_OVER:
        import zstandard

        with open(packed, "wb") as f:
            f.write(zstandard.ZstdCompressor(level=19, write_checksum=True).compress(data))
        trades_path = packed
    else:
        with open(plain, "wb") as f:
            f.write(data)
        trades_path = plain

    # ---- open trade left at the end (not in _trades, but in Equity Final)
    open_trades = list(strat.trades)
    open_at_end = None
    if open_trades:
        assert len(open_trades) == 1
        ot = open_trades[0]
        open_at_end = {
            "entry_time_ms": t_ms[ot.entry_bar], "direction": "long" if ot.size > 0 else "short",
            "size": abs(int(ot.size)), "entry_price": txt["Open"][ot.entry_bar],
            "marked_at_last_close": txt["Close"][-1], "unrealized_pnl": fnum(ot.pl),
        }
    pending_at_end = len(strat.orders)

    # ---- self-checks
    fr_trades, fr_equity, fr_pos = float_replay(o, c, sma1, sma2, float(a.cash), start)
    float_ok = bool(fr_trades == bt_trades and float(fr_equity) == float(stats["Equity Final [$]"]))
    ex_trades, ex_equity, ex_signals, ex_s1, ex_s2 = exact_replay(txt["Open"], txt["Close"], a.cash, start)
    bt_signals = []
    for i in range(start, n):
        if crossed(sma1[i - 1], sma2[i - 1], sma1[i], sma2[i]):
            bt_signals.append((i, 1))
        elif crossed(sma2[i - 1], sma1[i - 1], sma2[i], sma1[i]):
            bt_signals.append((i, -1))
    first_sig_diff = next((k for k in range(max(len(ex_signals), len(bt_signals)))
                           if k >= len(ex_signals) or k >= len(bt_signals) or ex_signals[k] != bt_signals[k]), None)
    first_trade_diff = None
    for k in range(max(len(ex_trades), len(bt_trades))):
        if k >= len(ex_trades) or k >= len(bt_trades) or ex_trades[k][:3] != bt_trades[k][:3]:
            first_trade_diff = k
            break
    err = [abs(float(sma1[i]) - float(ex_s1[i])) / float(ex_s1[i]) for i in range(N1 - 1, n)]
    err += [abs(float(sma2[i]) - float(ex_s2[i])) / float(ex_s2[i]) for i in range(N2 - 1, n)]
    gaps = [abs(ex_s1[i] - ex_s2[i]) / ex_s2[i] for i in range(N2 - 1, n)]
    ties = sum(1 for i in range(N2 - 1, n) if ex_s1[i] == ex_s2[i])
    sum_pnl_bt = math.fsum(p[5] for p in bt_trades)

    summary = {
        "source": {
            "file": base, "sha256": hashlib.sha256(raw).hexdigest(), "format": fmt,
            "bars_in_file": bars_in_file, "first": a.first, "bars_used": n,
            "first_open_time_ms": t_ms[0], "last_open_time_ms": t_ms[-1],
        },
        "strategy": {"name": "SmaCross", "n1": N1, "n2": N2, "sma": "backtesting.test.SMA (pandas rolling(n).mean())",
                     "on_cross_up": "position.close(); buy()", "on_cross_down": "position.close(); sell()"},
        "backtest_params": {"cash": a.cash, "commission": 0, "spread": 0.0, "margin": 1.0, "trade_on_close": False,
                            "hedging": False, "exclusive_orders": False, "finalize_trades": False},
        "stats": {
            "Start": str(stats["Start"]), "End": str(stats["End"]),
            "Return [%]": float(stats["Return [%]"]),
            "# Trades": int(stats["# Trades"]),
            "Equity Final [$]": float(stats["Equity Final [$]"]),
            "Equity Peak [$]": float(stats["Equity Peak [$]"]),
            "Buy & Hold Return [%]": float(stats["Buy & Hold Return [%]"]),
            "Exposure Time [%]": float(stats["Exposure Time [%]"]),
            "Win Rate [%]": None if pd.isna(stats["Win Rate [%]"]) else float(stats["Win Rate [%]"]),
        },
        "derived": {
            "first_next_bar_index": start,
            "first_signal": None if not bt_signals else {"bar_index": bt_signals[0][0], "open_time_ms": t_ms[bt_signals[0][0]]},
            "signals": len(bt_signals),
            "sum_closed_pnl": sum_pnl_bt,
            "open_trade_at_end": open_at_end,
            "orders_pending_at_end": pending_at_end,
            "trades_file": os.path.basename(trades_path),
        },
        "checks": {
            "float_replay_matches_backtesting": float_ok,
            "exact_replay": {
                "signals_identical": first_sig_diff is None,
                "first_signal_difference_index": first_sig_diff,
                "trade_bars_and_sizes_identical": first_trade_diff is None,
                "first_trade_difference_index": first_trade_diff,
                "equity_final": float(ex_equity),
                "equity_final_minus_backtesting": float(ex_equity - Fraction(float(stats["Equity Final [$]"]))),
                "sma_max_rel_error_pandas_vs_exact": max(err),
                "min_rel_gap_fast_slow_excluding_ties": float(min(g for g in gaps if g)),
                "exact_ties_fast_eq_slow": ties,
            },
        },
        "warnings": warn_msgs,
        "versions": {"backtesting": backtesting.__version__, "pandas": pd.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "command": "python3 scripts/parity_backtesting.py " + " ".join(
            [os.path.relpath(os.path.abspath(a.input), os.path.join(here, ".."))] +
            (["--first", str(a.first)] if a.first else []) + ["--cash", str(a.cash)] +
            (["--stem", a.stem] if a.stem else [])),
    }
    with open(os.path.join(a.out, stem + "_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"{stem}: {n} bars ({fmt}), {summary['stats']['# Trades']} trades, Return {summary['stats']['Return [%]']:.6f} %, "
          f"float_replay={float_ok}, exact signals={first_sig_diff is None}, exact trades={first_trade_diff is None} "
          f"-> {trades_path}", file=sys.stderr)
    if not float_ok:
        sys.exit("float replay disagrees with backtesting.py: the documented semantics are wrong")


if __name__ == "__main__":
    main()
