#!/usr/bin/env bash
# Benchmark: wall time of a latency-free search over a grid of 2,050,401 raw triples
# (step 0.005 on all three axes; 79,232 candidates are costed), median of N runs.
# usage: bench/search_speed.sh [RUNS=7] [BUILD_DIR=build]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
bin=${2:-build}/effscale
[[ -x $bin ]] || { echo "search_speed: $bin not found; run scripts/setup.sh first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmd=("$bin" search --no-latency --alpha 1:2:0.005 --beta 1:1.5:0.005 --gamma 1:1.5:0.005 --output "$tmp/fine.csv" --top 1)
times=()
for ((i = 0; i < runs; i++)); do
  start=$(date +%s.%N)
  "${cmd[@]}" > /dev/null
  end=$(date +%s.%N)
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -g | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "search --no-latency over 2,050,401 grid triples (79,232 candidates), $(nproc) cores: median ${median} s of $runs runs (${sorted% })"
