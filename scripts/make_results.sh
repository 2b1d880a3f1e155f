#!/usr/bin/env bash
# Regenerates every report in results/ (see results/README.md for what each one is).
# usage: scripts/make_results.sh [BUILD_DIR=build]      (about 25 minutes on a 2-core machine)
# The latency columns are measurements: every measured conclusion comes from two runs in the same
# sitting, compared with `effscale diff`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/effscale
[[ -x $bin ]] || { echo "make_results: $bin not found; run scripts/setup.sh first" >&2; exit 1; }

run() {  # run OUTPUT COMMAND...: runs COMMAND with its standard output into results/OUTPUT
  local out=$1; shift
  echo "+ $* > results/$out" >&2
  "$@" > "results/$out.tmp"
  mv "results/$out.tmp" "results/$out"
}

# The B0-B7 table (and the formula models phi = 0..7 beside them); MobileNetV2 scaled.
run table_b0_b7.txt "$bin" table --phi 0,1,2,3,4,5,6,7
run table_b0_b7.csv "$bin" table --phi 0,1,2,3,4,5,6,7 --format csv
run table_mobilenet_v2.txt "$bin" table --baseline mobilenet-v2 --models base,b1,b2,b3,b4

# The default search (the README's main job) twice and compare --targets 2,4,8 twice, diffed.
rm -rf results/reproducibility
run reproducibility.txt bench/reproducibility.sh "$build" results/reproducibility || true

# Every strategy at s = 1..128, measured twice (CSV and plot of the first), diffed; the costs as a table.
run compare.csv "$bin" compare --format csv --plot results/compare.svg
run compare_run2.csv "$bin" compare --format csv
run compare_diff.txt "$bin" diff results/compare.csv results/compare_run2.csv
run compare_costs.txt "$bin" compare --no-latency

# effscale against ONNX Runtime, alternating, same run.
run compare_ort.txt bench/compare_ort.sh -r 3 -t "2 1" -m "b0:224 b1:240 b2:260 b3:300 b4:380"
