#!/usr/bin/env bash
# Runs tickwire and files its latency report under latency-reports/<date>-<host>/ with the exact
# command, config, versions, CPU and the raw .hgrm files.
#   scripts/latency_report.sh [DURATION] [extra tickwire run args...]
# e.g. scripts/latency_report.sh 30s --config tuning/colo-8core.toml
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
shift || true
host=$(hostname -s 2>/dev/null || echo host)
out="latency-reports/$(date -u +%Y-%m-%d)-${host}"
mkdir -p "$out"
cargo build --release --quiet
run_dir=$(mktemp -d)
cmd=(./target/release/tickwire run --duration "$duration" --report-dir "$run_dir/run" --set cold.status_line=false "$@")
"${cmd[@]}"
cp -r "$run_dir/run/latency" "$out/"
cp "$run_dir/run/summary.json" "$run_dir/run/report.md" "$out/"
sed -n '/^```toml/,/^```/p' "$run_dir/run/journal.md" > "$out/config.md"
{
  echo "# Latency report $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Command: \`${cmd[*]}\` (report dir replaced)"
  echo
  echo "- tickwire $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(rustc --version)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores allowed"
  echo "- kernel: $(uname -sr)"
  echo "- config: see config.md; raw histograms in latency/*.hgrm"
  echo
  sed -n '/^Latency/,$p' "$out/report.md"
} > "$out/README.md"
rm -rf "$run_dir"
echo "$out"
