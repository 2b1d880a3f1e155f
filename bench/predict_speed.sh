#!/usr/bin/env bash
# Speed of `search --latency predicted` on the README's fine grid (step 0.005: 2,050,401 triples,
# 79,232 candidates): once from an empty latency table (the time to build it is in the report's
# timing line), then RUNS times with the table cached, with --no-recalibrate (the stored fit: no
# measurement at all) and with the default recalibration (the calibration networks timed again).
# usage: bench/predict_speed.sh [-r RUNS=5] [-t THREADS=2] [-o OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bin=build/effscale
runs=5 threads=2 out=""
while getopts "r:t:o:" opt; do
  case $opt in
    r) runs=$OPTARG ;; t) threads=$OPTARG ;; o) out=$OPTARG ;;
    *) echo "usage: $0 [-r RUNS] [-t THREADS] [-o OUT_DIR]" >&2; exit 2 ;;
  esac
done
out=$(output_dir predict_speed "$out")
table="$out/table.tsv"
rm -f "$table"
grid=(--alpha 1:2:0.005 --beta 1:1.5:0.005 --gamma 1:1.5:0.005 --latency predicted --latency-table "$table" --threads "$threads")
seconds() { local s; s=$(date +%s.%N); "$@" > /dev/null; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
first=$(seconds "$bin" search "${grid[@]}" --output "$out/grid-first.csv")
echo "empty table: $first s in all; $(grep -m1 '^# timing' "$out/grid-first.csv" | sed 's/^# timing: //')"
for mode in no-recalibrate recalibrate; do
  extra=()
  [[ $mode == no-recalibrate ]] && extra=(--no-recalibrate)
  times=()
  for ((i = 1; i <= runs; i++)); do times+=("$(seconds "$bin" search "${grid[@]}" "${extra[@]}" --output "$out/grid-$mode.csv")"); done
  echo "cached table, --$mode: median $(printf '%s\n' "${times[@]}" | median) s of $runs runs (${times[*]})"
done
rows=$(grep -vc '^#' "$out/grid-no-recalibrate.csv")
echo "report rows (with header): $rows; winner: $(grep -v '^#' "$out/grid-no-recalibrate.csv" | sed -n 2p | cut -d, -f1-6)"
echo "(reports in $out)"
