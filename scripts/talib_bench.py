#!/usr/bin/env python3
"""TA-Lib's batch cost per element for the indicators tickwire computes incrementally.

Runs each TA-Lib function (TA-Lib python, the version that made the fixtures) over the whole
close/high/low/volume arrays of one fixture series, timing each call with
time.perf_counter_ns; repeats, takes the median and divides by the series length. Compare
with `cargo bench --bench indicators` (ns per incremental update on the same bars).

    python3 scripts/talib_bench.py [--series binance_btcusdt_1m] [--repeat 200]

Batch and incremental costs are not the same thing: a batch call amortizes the Python call
and NumPy conversions over the array and streams through memory, an incremental update
does one bar with its state in registers. The table shows what TA-Lib costs per element
when it recomputes a whole history, the usual way it is used.
"""

import argparse
import os
import statistics
import subprocess
import time

import numpy as np
import talib


def load(path):
    text = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout.decode()
    rows = [line.split(",") for line in text.splitlines()[1:]]
    return tuple(np.array([float(r[k]) for r in rows]) for k in (1, 2, 3, 4, 5))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", default="binance_btcusdt_1m")
    ap.add_argument("--repeat", type=int, default=200)
    a = ap.parse_args()
    path = os.path.join(here, "..", "tests", "fixtures", "talib", a.series + ".csv.zst")
    o, h, l, c, v = load(path)
    n = len(c)
    calls = [
        ("sma_20", lambda: talib.SMA(c, 20)),
        ("ema_12", lambda: talib.EMA(c, 12)),
        ("ema_26", lambda: talib.EMA(c, 26)),
        ("rsi_14", lambda: talib.RSI(c, 14)),
        ("macd_12_26_9", lambda: talib.MACD(c, 12, 26, 9)),
        ("bbands_20_2_2", lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0)),
        ("atr_14", lambda: talib.ATR(h, l, c, 14)),
        ("stoch_5_3_3", lambda: talib.STOCH(h, l, c, 5, 3, 0, 3, 0)),
        ("obv", lambda: talib.OBV(c, v)),
        ("adx_14", lambda: talib.ADX(h, l, c, 14)),
    ]

    def median_ns(f):
        f()  # warm up
        samples = []
        for _ in range(a.repeat):
            t0 = time.perf_counter_ns()
            f()
            samples.append(time.perf_counter_ns() - t0)
        return statistics.median(samples)

    print(f"TA-Lib {talib.__version__} (C {talib.__ta_version__.decode()}), numpy {np.__version__}")
    print(f"series {a.series}: {n} bars, median of {a.repeat} calls per function")
    print(f"{'function':<16}{'call us':>10}{'ns/element':>12}")
    total = 0.0
    for name, f in calls:
        t = median_ns(f)
        total += t
        print(f"{name:<16}{t / 1e3:>10.1f}{t / n:>12.2f}")
    print(f"{'sum (15 cols*)':<16}{total / 1e3:>10.1f}{total / n:>12.2f}")
    print("* every IndicatorSet column but the VWAP, which is not a TA-Lib function")


if __name__ == "__main__":
    main()
