#!/usr/bin/env bash
# The latency lab in one command: builds tickwire, then writes latency-reports/<date>-<host>/
# with the latency report (`tickwire bench latency`: the pipeline at fixed rates beside the
# naive baseline, HDR .hgrm/.hlog files, plots, README.md), the throughput per topology
# (`throughput/`), the host check (`doctor.md`) and the criterion benches (`criterion.txt`).
#
#   scripts/latency.sh [--quick] [--config FILE] [more `tickwire bench latency` options]
#
# --quick skips the criterion benches (several minutes). Everything else is passed on to
# `bench latency` (e.g. --rates 10k,100k,1M,max --duration 5s --label "colo box A").
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
args=()
config=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --config) config=(--config "$2"); args+=("$1" "$2"); shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
host=$(hostname -s 2>/dev/null || echo host)
out="latency-reports/$(date -u +%Y-%m-%d)-${host}"
mkdir -p "$out"
cargo build --release --quiet
bin=./target/release/tickwire
"$bin" bench latency --out "$out" "${args[@]}"
capture=../shared/data/ws/binance_spot/hftbacktest_spot_btcusdt_20240808.jsonl.zst
if [ -f "$capture" ]; then
  mkdir -p "$out/throughput"
  "$bin" bench throughput --input "$capture" --loops 10 --out "$out/throughput" "${config[@]}" \
    | tee "$out/throughput/README.txt"
else
  echo "no $capture: skipping bench throughput (it needs a capture: --input FILE)"
fi
# Exit 2 means the plan cannot run here: still a finding worth filing.
"$bin" doctor --markdown "${config[@]}" > "$out/doctor.md" || true
if [ "$quick" = 0 ]; then
  cargo bench --bench '*' -- --warm-up-time 1 --measurement-time 3 2>&1 \
    | grep -v -e '^$' -e '^Benchmarking' > "$out/criterion.txt"
fi
echo "$out"
