#!/usr/bin/env python3
"""Bytes per trade: raw JSON, gzip, and the tickwire catalog, on real Binance captures.

    scripts/catalog_size.py [TICKWIRE_BIN] [CAPTURE.jsonl.zst ...]

For each capture, the trade messages are taken as received (`{"stream":…,"data":{"e":"trade",…}}`
lines): their raw size, gzip -6 and zstd -3 of them together, and the size of the catalog's
trade files after `tickwire data import` of the capture (Parquet, zstd, Parquet footer and
tickwire metadata included). Prints a Markdown table.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "..", "shared", "data", "ws")
DEFAULT = [
    "binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst",
    "binance_spot/hftbacktest_spot_btcusdt_20240809.jsonl.zst",
    "binance_spot/hftbacktest_spot_ethusdt_20240809.jsonl.zst",
    "binance_usdm_futures/hftbacktest_usdm_btcusdt_20240808.jsonl.zst",
]


def zstd_size(data: bytes) -> int:
    out = subprocess.run(["zstd", "-3", "-c", "-q"], input=data, capture_output=True, check=True)
    return len(out.stdout)


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/tickwire")
    files = sys.argv[2:] or [os.path.join(DATA, f) for f in DEFAULT]
    print("| capture | trades | raw JSON B/trade | gzip -6 B/trade | zstd -3 B/trade | catalog B/trade |")
    print("|---|--:|--:|--:|--:|--:|")
    for path in files:
        raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
        lines = [
            l for l in raw.split(b"\n")
            if l.strip() and json.loads(l).get("data", {}).get("e") == "trade"
        ]
        blob = b"\n".join(lines) + b"\n"
        n = len(lines)
        with tempfile.TemporaryDirectory() as cat:
            subprocess.run([binary, "data", "import", "--catalog", cat, path],
                           capture_output=True, check=True)
            with open(os.path.join(cat, "manifest.json")) as f:
                m = json.load(f)
            files_ = [e for e in m["files"] if e["kind"] == "trades"]
            rows = sum(e["rows"] for e in files_)
            size = sum(e["bytes"] for e in files_)
        assert rows == n, f"{path}: catalog holds {rows} trades, the capture {n}"
        print(f"| {os.path.basename(path)} | {n} | {len(blob) / n:.1f} | "
              f"{len(gzip.compress(blob, 6)) / n:.2f} | {zstd_size(blob) / n:.2f} | {size / n:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
