#!/usr/bin/env python3
"""tickwire's backtest throughput beside NautilusTrader's on the same Binance trades CSV.

Alternates the two tools for --rounds rounds on one CSV (id,price,qty,quote_qty,time_ms,
is_buyer_maker,is_best_match; no header, e.g. from ../shared/scripts/looped_trades.py) and prints
one JSON document with the medians and the ratios.

- NautilusTrader: ../shared/scripts/nautilus_trades.py run with the venv's python (EMACross 10/20 on
  internal 1-minute bars, market orders). Its own figure counts engine.run() only; the whole
  process (pandas CSV read, wrangling, engine setup) is timed here as well.
- tickwire: `TICKWIRE backtest --data CSV --strategy ema_cross --param fast=10 --param slow=20
  --param resolution=1m [--threads N] --report-dir DIR`, timed as a whole process, CSV reading included.
  Its own figure, stats.events_per_s of DIR/summary.json, is recorded when present.

Peak RSS of each child comes from GNU time's %M (wait4(2) if there is no GNU time). A tool that fails is reported in the JSON ("errors")
and the other tool's numbers are still printed.

    python3 scripts/bench_backtest.py TRADES.csv TICKWIRE_BIN [--rounds 3]
        [--nautilus-python /work/venv-nautilus/bin/python] [--nautilus-script PATH]
        [--report-dir DIR] [--timeout 1800] [--skip-nautilus | --skip-tickwire] [--out FILE]
        [--tickwire-threads 1,2]   # also time `backtest --threads 2` each round

The headline ratio is tickwire's whole-process trades/s over Nautilus's engine.run() trades/s,
which flatters Nautilus (its CSV read and setup are left out); the whole-process ratio is the
like-for-like one. On a 2-core machine a concurrent build skews everything: check "loadavg".
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NAUTILUS_SCRIPT = os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "scripts", "nautilus_trades.py"))
DEFAULT_NAUTILUS_PYTHON = "/work/venv-nautilus/bin/python"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return list(os.getloadavg())


def count_lines(path):
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def gnu_time():
    """/usr/bin/time when it is GNU time, else None."""
    path = "/usr/bin/time"
    try:
        p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU" in p.stdout + p.stderr else None


GNU_TIME = gnu_time()


def run_timed(cmd, timeout):
    """Runs cmd; returns (rc, wall_s, peak_rss_kib, stdout, stderr). rc is None when it could not
    start (stderr then says why) and -9 after a timeout kill.

    Peak RSS comes from GNU time's %M when /usr/bin/time is GNU time, else from wait4(2). wait4's
    ru_maxrss keeps the high-water mark of the forked parent's memory across exec, so without GNU
    time any figure below this script's own RSS (about 14 MiB) is a floor, not a measurement."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rssf:
        full = [GNU_TIME, "-f", "%M", "-o", rssf.name, *cmd] if GNU_TIME else cmd
        t0 = time.perf_counter()
        try:
            # Own session, so a timeout kills the tool and not just the time wrapper.
            p = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        except OSError as e:
            return None, 0.0, None, "", f"could not start {full[0]}: {e}"

        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, 9)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        rss = ru.ru_maxrss  # KiB on Linux
        if GNU_TIME:
            # GNU time's own failure to exec the tool (exit 126/127) goes to stderr as usual.
            lines = rssf.read().split()
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else None
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if timed_out:
            stderr += f"\nkilled after the {timeout:g} s timeout"
        return rc, wall, rss, out.read().decode(errors="replace"), stderr


def tail(text, n=2000):
    return text[-n:].strip()


def run_nautilus(a, trades):
    cmd = [a.nautilus_python, a.nautilus_script, a.trades]
    la = loadavg()
    rc, wall, rss, out, err = run_timed(cmd, a.timeout)
    rec = {"loadavg_before": la, "wall_s": round(wall, 3), "peak_rss_mib": rss and round(rss / 1024, 1)}
    if rc != 0:
        rec["error"] = f"exit {rc}: {tail(err) or tail(out)}"
        return rec
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        rec["error"] = f"unreadable output ({e}): {tail(out)}"
        return rec
    n = res.get("trade_ticks", trades)
    rec.update(res)
    rec["process_trades_per_s"] = round(n / wall)
    return rec


def run_tickwire(a, trades, round_no, threads=1):
    """One `tickwire backtest` of the CSV with `--threads threads`; its timings and counts."""
    report_dir = os.path.join(a.report_dir, f"round{round_no}-t{threads}")
    shutil.rmtree(report_dir, ignore_errors=True)
    cmd = [a.tickwire, "backtest", "--data", a.trades, "--strategy", "ema_cross",
           "--param", "fast=10", "--param", "slow=20", "--param", "resolution=1m",
           "--threads", str(threads), "--report-dir", report_dir]
    la = loadavg()
    rc, wall, rss, out, err = run_timed(cmd, a.timeout)
    rec = {"loadavg_before": la, "wall_s": round(wall, 3),
           "peak_rss_mib": rss and round(rss / 1024, 1), "report_dir": report_dir}
    if rc != 0:
        rec["error"] = f"exit {rc}: {tail(err) or tail(out)}"
        return rec
    rec["process_trades_per_s"] = round(trades / wall)
    try:
        with open(os.path.join(report_dir, "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError) as e:
        rec["summary_error"] = str(e)
        return rec
    stats = summary.get("stats") if isinstance(summary.get("stats"), dict) else {}
    if "events_per_s" in stats:
        rec["reported_events_per_s"] = stats["events_per_s"]
    events = summary.get("events")
    if isinstance(events, dict) and "trades" in events:
        rec["reported_trades"] = events["trades"]
        if events["trades"] != trades:
            rec["warning"] = f"summary counts {events['trades']} trades, the CSV has {trades}"
    for k in ("elapsed_s", "fills"):
        if k in summary:
            rec["reported_" + k] = summary[k]
    return rec


def median_of(runs, key):
    xs = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(xs) if xs else None


def ratio(x, y):
    return round(x / y, 3) if x and y else None


def nautilus_version(python):
    try:
        p = subprocess.run([python, "-c", "import nautilus_trader as n; print(n.__version__)"],
                           capture_output=True, text=True, timeout=120)
        return p.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trades", help="Binance public-data trades CSV (no header)")
    ap.add_argument("tickwire", help="path of the tickwire binary")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nautilus-python", default=DEFAULT_NAUTILUS_PYTHON)
    ap.add_argument("--nautilus-script", default=DEFAULT_NAUTILUS_SCRIPT)
    ap.add_argument("--report-dir", help="where tickwire's report dirs go (default: a temp dir, removed)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--skip-nautilus", action="store_true")
    ap.add_argument("--skip-tickwire", action="store_true")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--tickwire-threads", default="1",
                    help="comma-separated --threads values to run tickwire with each round (1,2)")
    a = ap.parse_args()
    a.trades = os.path.abspath(a.trades)
    if not os.path.isfile(a.trades):
        ap.error(f"no such file: {a.trades}")
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if os.sep in a.tickwire:
        a.tickwire = os.path.abspath(a.tickwire)
    tmp = None
    if a.report_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_backtest.")
        a.report_dir = tmp.name
    os.makedirs(a.report_dir, exist_ok=True)

    trades = count_lines(a.trades)
    doc = {
        "trades_csv": a.trades,
        "trade_count": trades,
        "csv_bytes": os.path.getsize(a.trades),
        "rounds": a.rounds,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "nautilus_version": None if a.skip_nautilus else nautilus_version(a.nautilus_python),
        "tickwire": a.tickwire,
        "tickwire_cmd": [a.tickwire, "backtest", "--data", a.trades, "--strategy", "ema_cross",
                         "--param", "fast=10", "--param", "slow=20", "--param", "resolution=1m",
                         "--report-dir", "DIR"],
        "nautilus_cmd": [a.nautilus_python, a.nautilus_script, a.trades],
    }
    naut, tick = [], []
    thread_counts = [int(x) for x in a.tickwire_threads.split(",") if x.strip()]
    by_threads = {n: [] for n in thread_counts}
    for i in range(1, a.rounds + 1):
        # Alternate which goes first so drift in machine load hits both tools alike.
        order = ["nautilus", "tickwire"] if i % 2 else ["tickwire", "nautilus"]
        for tool in order:
            if tool == "nautilus" and not a.skip_nautilus:
                r = run_nautilus(a, trades)
                naut.append(r)
            elif tool == "tickwire" and not a.skip_tickwire:
                for n in thread_counts:
                    r = run_tickwire(a, trades, i, n)
                    r["threads"] = n
                    by_threads[n].append(r)
                    if n == thread_counts[0]:
                        tick.append(r)
                    print(f"round {i} tickwire --threads {n}: {json.dumps(r)}",
                          file=sys.stderr, flush=True)
                continue
            else:
                continue
            print(f"round {i} {tool}: {json.dumps(r)}", file=sys.stderr, flush=True)
    doc["loadavg_end"] = loadavg()

    n_run = median_of(naut, "ticks_per_s")
    n_proc = median_of(naut, "process_trades_per_s")
    t_proc = median_of(tick, "process_trades_per_s")
    doc["nautilus"] = {
        "median_run_trades_per_s": n_run,
        "median_process_trades_per_s": n_proc,
        "median_run_s": median_of(naut, "run_s"),
        "median_wall_s": median_of(naut, "wall_s"),
        "median_peak_rss_mib": median_of(naut, "peak_rss_mib"),
        "runs": naut,
    }
    doc["tickwire_backtest"] = {
        "median_process_trades_per_s": t_proc,
        "median_reported_events_per_s": median_of(tick, "reported_events_per_s"),
        "median_wall_s": median_of(tick, "wall_s"),
        "median_peak_rss_mib": median_of(tick, "peak_rss_mib"),
        "runs": tick,
    }
    doc["ratio"] = {
        "tickwire_process_over_nautilus_run": ratio(t_proc, n_run),
        "tickwire_process_over_nautilus_process": ratio(t_proc, n_proc),
    }
    for n in thread_counts[1:]:
        p = median_of(by_threads[n], "process_trades_per_s")
        doc[f"tickwire_backtest_threads_{n}"] = {
            "median_process_trades_per_s": p,
            "median_wall_s": median_of(by_threads[n], "wall_s"),
            "median_peak_rss_mib": median_of(by_threads[n], "peak_rss_mib"),
            "runs": by_threads[n],
        }
        doc["ratio"][f"tickwire_threads_{n}_process_over_nautilus_run"] = ratio(p, n_run)
        doc["ratio"][f"tickwire_threads_{n}_process_over_nautilus_process"] = ratio(p, n_proc)
    errors = [f"{name} run {k + 1}: {r['error']}"
              for name, runs in (("nautilus", naut), ("tickwire", tick))
              for k, r in enumerate(runs) if "error" in r]
    if errors:
        doc["errors"] = errors
    text = json.dumps(doc, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    if tmp is not None:
        tmp.cleanup()
    ok_n = a.skip_nautilus or n_run is not None
    ok_t = a.skip_tickwire or t_proc is not None
    return 0 if ok_n and ok_t else 1


if __name__ == "__main__":
    sys.exit(main())
