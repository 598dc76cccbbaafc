#!/usr/bin/env python3
"""A/B timing of tickwire binaries on the same backtest, interleaved round by round so the
box's drift hits every arm alike; prints each arm's median, minimum and sorted times.

    scripts/ab_backtest.py ROUNDS 'label::BINARY [extra args]' ...
    scripts/ab_backtest.py 7 'base::/tmp/tw-base' 'new::target/release/tickwire' \
        'base2::/tmp/tw-base --threads 2' 'new2::target/release/tickwire --threads 2'

The data file is $TW_AB_DATA (default: the 5,015,808-trade file made by
scripts/bench_backtest.py's input, /work/bench-data/btcusdt_trades_x252.csv).
"""
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

rounds = int(sys.argv[1])
specs = [a.split("::", 1) for a in sys.argv[2:]]
data = os.environ.get("TW_AB_DATA", "/work/bench-data/btcusdt_trades_x252.csv")
out = "/tmp/tw_ab_report"
base = (
    f"backtest --data {data} --strategy ema_cross --param fast=10 --param slow=20 "
    f"--param resolution=1m --report-dir {out}"
)
times = {label: [] for label, _ in specs}
for _ in range(rounds):
    for label, command in specs:
        shutil.rmtree(out, ignore_errors=True)
        argv = shlex.split(command)
        cmd = [argv[0]] + shlex.split(base) + argv[1:]
        t = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.time() - t
        if p.returncode:
            print(label, "FAILED", p.stderr[-300:])
            sys.exit(1)
        times[label].append(elapsed)
for label, v in times.items():
    print(
        f"{label:12s} median {statistics.median(v):.3f}  min {min(v):.3f}  "
        + " ".join(f"{x:.3f}" for x in sorted(v))
    )
