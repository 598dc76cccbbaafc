#!/usr/bin/env python3
"""Reads a tickwire catalog with DuckDB, as a quant would, and prints what it sees.

    scripts/catalog_duckdb.py CATALOG KIND VENUE INSTRUMENT

Prints JSON: {"rows": N, "rows_glob": N, "csv": "..."} where `csv` holds every row of the
series in time order as DuckDB reads it (times as ns since the epoch, decimals as text), read
through the manifest's file list; `rows_glob` counts the same series through a Hive-partitioned
glob of the kind's directory (what a user would type), which must agree.
"""
import json
import os
import sys

import duckdb


def main() -> int:
    cat, kind, venue, instrument = sys.argv[1:5]
    with open(os.path.join(cat, "manifest.json")) as f:
        manifest = json.load(f)
    files = [
        os.path.join(cat, e["path"])
        for e in manifest["files"]
        if e["kind"] == kind and e["venue"] == venue and e["instrument"] == instrument
    ]
    con = duckdb.connect()
    time_col = "open_time" if kind.startswith("candles_") else "ts"
    rel = con.read_parquet(files)
    cols = [c for c in rel.columns]
    select = ", ".join(
        f"epoch_ns({c})::BIGINT AS {c}" if c == time_col else f"CAST({c} AS VARCHAR) AS {c}"
        for c in cols
    )
    rows = con.execute(
        f"SELECT {select} FROM read_parquet(?) ORDER BY {time_col}", [files]
    ).fetchall()
    csv = "\n".join(",".join(str(v) for v in r) for r in rows)
    glob = os.path.join(cat, kind, "**", "*.parquet")
    rows_glob = con.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = true) "
        "WHERE venue = ? AND instrument = ?",
        [glob, venue, instrument],
    ).fetchone()[0]
    print(json.dumps({"rows": len(rows), "rows_glob": rows_glob, "columns": cols, "csv": csv}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
