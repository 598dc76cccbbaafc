#!/usr/bin/env bash
# Soak: the built-in synthetic market through the whole pipeline at a fixed high rate for a
# long time, the process's resident memory sampled every second; reports the RSS growth after
# warm-up (the first tenth of the run, at least 60 s).
#
#   scripts/soak.sh [DURATION] [RATE] [more `tickwire run` args]
#   scripts/soak.sh 30m 100k/s
#
# Writes runs/soak-<UTC>/: rss.csv (t_s,rss_kib), soak.md (the figures), run/ (the run's report).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30m}
rate=${2:-100k/s}
shift $(( $# < 2 ? $# : 2 ))
cargo build --release --quiet
out="runs/soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
./target/release/tickwire run --duration "$duration" --report-dir "$out/run" \
  --set "source.speed=\"$rate\"" --set cold.status_line=false "$@" > "$out/run.log" 2>&1 &
pid=$!
echo "t_s,rss_kib,anon_kib,file_kib" > "$out/rss.csv"
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
  # Resident memory, and its anonymous (heap, stacks) and file-backed (code, mapped files) parts.
  rss=$(awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {if (r) print r "," a "," f}' \
    "/proc/$pid/status" 2>/dev/null || true)
  if [ -n "$rss" ]; then echo "$(( $(date +%s) - start )),$rss" >> "$out/rss.csv"; fi
  sleep 1
done
rc=0
wait "$pid" || rc=$?
awk -F, -v rate="$rate" -v duration="$duration" -v rc="$rc" '
  NR > 1 { t[n] = $1; r[n] = $2; n++ }
  END {
    if (n < 20) { print "too few samples (" n "): run longer"; exit 1 }
    w = int(n / 10); if (w < 60 && n > 120) w = 60;
    # Mean of ten samples just after warm-up, and of the last ten.
    for (i = w; i < w + 10; i++) a += r[i]; a /= 10;
    for (i = n - 10; i < n; i++) b += r[i]; b /= 10;
    max = 0; for (i = w; i < n; i++) if (r[i] > max) max = r[i];
    printf "# Soak\n\n- rate %s for %s, exit code %d, %d RSS samples (1 s)\n", rate, duration, rc, n;
    printf "- warm-up: the first %d s\n", t[w];
    printf "- RSS after warm-up %.1f MiB, at the end %.1f MiB, peak after warm-up %.1f MiB\n", a / 1024, b / 1024, max / 1024;
    printf "- growth after warm-up: %+.2f %%\n", (b - a) / a * 100;
  }' "$out/rss.csv" | tee "$out/soak.md"
# The heap the program holds (metrics.jsonl, every few seconds): tells real heap growth from
# allocator and page effects in the resident size.
python3 - "$out/run/metrics.jsonl" <<'PY' | tee -a "$out/soak.md" || true
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# The last line is written after the threads stop: leave it out.
rows = [r for r in rows if r.get("heap_live_kib") is not None][:-1]
if len(rows) >= 20:
    w = len(rows) // 10
    a, b = rows[w]["heap_live_kib"], rows[-1]["heap_live_kib"]
    print(f"- heap held after warm-up {a} KiB, at the end {b} KiB: {(b - a) / max(a, 1) * 100:+.2f} %")
PY
grep -E '"(received|allocations)"' "$out/run/summary.json" | head -5 >> "$out/soak.md" || true
echo "$out"
exit "$rc"
