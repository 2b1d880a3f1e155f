#!/usr/bin/env bash
# Accuracy of the latency predictor (effscale predict, search --latency predicted), per baseline:
#  - the default search's distinct networks: `search --latency predicted --verify 1000` predicts every
#    candidate from the latency table, then measures every distinct network next to the baseline in one
#    run with the calibration networks, and reports how many predictions lie within 10% of the
#    measurement and the Spearman correlation;
#  - 40 random formula models (alpha in [1, 2], beta and gamma in [1, 1.5] with alpha*beta^2*gamma^2
#    within 5% of 2, phi in [-1, 3], drawn by awk from the seed): `effscale predict` on all of them.
# Run 1 starts from an empty latency table (its build time is reported); run 2 reuses it.
# usage: bench/predict_accuracy.sh [-t THREADS=2] [-b "efficientnet-b0 mobilenet-v2"] [-s SEED=13] [-o OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bin=build/effscale
threads=2 baselines="efficientnet-b0 mobilenet-v2" seed=13 out=""
while getopts "t:b:s:o:" opt; do
  case $opt in
    t) threads=$OPTARG ;; b) baselines=$OPTARG ;; s) seed=$OPTARG ;; o) out=$OPTARG ;;
    *) echo "usage: $0 [-t THREADS] [-b BASELINES] [-s SEED] [-o OUT_DIR]" >&2; exit 2 ;;
  esac
done
out=$(output_dir predict_accuracy "$out")

# verified FILE: "network predicted measured" of a report's --verify lines.
verified() { sed -n 's/^# verified: measured rank.* network \([0-9a-f]*\) .*predicted \([0-9.]*\) .*measured \([0-9.]*\) .*/\1 \2 \3/p' "$1" | sort; }
# own FILE: "predicted measured" with the search's own predictions (its rows, from the refit it made
# before ranking) beside the --verify measurement, which came after.
own() { join <(grep -v '^#' "$1" | awk -F, 'NR > 1 && $19 != "" { print $2, $19 }' | sort -u) <(verified "$1") | awk '{ print $2, $4 }'; }
# agreement: "within/n (pct%), Spearman s" of "predicted measured" lines.
agreement() {
  local pairs; pairs=$(cat)
  echo "$(awk '{ e = $1 / $2 - 1; if (e < 0) e = -e; n++; w += e <= 0.1 } END { printf "%d/%d within 10%%", w, n }' <<< "$pairs"), Spearman $(spearman <<< "$pairs")"
}

# 40 models w<width>d<depth>r<resolution> of random triples near the constraint at random phi.
random_models() {
  awk -v seed="$seed" -v res="$1" 'BEGIN {
    srand(seed); n = 0
    while (n < 40) {
      a = 1 + rand(); b = 1 + 0.5 * rand(); g = 1 + 0.5 * rand()
      p = a * b * b * g * g
      if (p < 1.9 || p > 2.1) continue
      phi = -1 + 4 * rand()
      printf "w%.4fd%.4fr%d\n", b ^ phi, a ^ phi, int(res * g ^ phi + 0.5); n++
    }
  }'
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $threads threads; $(date -u '+%Y-%m-%d %H:%M UTC')"
for b in $baselines; do
  table="$out/table-$b-t$threads.tsv"
  rm -f "$table"
  res=$("$bin" describe base --baseline "$b" | sed -n 's/.*resolution \([0-9]*\).*/\1/p' | head -n 1)
  # shellcheck disable=SC2207
  models=($(random_models "${res:-224}"))
  for run in 1 2; do
    start=$(date +%s)
    "$bin" search --baseline "$b" --latency predicted --verify 1000 --latency-table "$table" --threads "$threads" \
      --output "$out/search-$b-run$run.csv" > "$out/search-$b-run$run.txt"
    echo "$b run $run, default search ($(( $(date +%s) - start )) s): $(grep -m1 '^timing' "$out/search-$b-run$run.txt" | sed 's/.*(\([0-9]* units\); \([0-9]*\) measured in this run in \([0-9.]*\) s.*/table \1, \2 units measured in \3 s/')"
    echo "  $(grep -m1 '^verified' "$out/search-$b-run$run.txt" | sed 's/.*predicts them; //')"
    echo "  the search's own predictions (its refit, before the measurement): $(own "$out/search-$b-run$run.csv" | agreement)"
    start=$(date +%s)
    "$bin" predict --baseline "$b" --latency-table "$table" --threads "$threads" "${models[@]}" > "$out/random-$b-run$run.txt"
    echo "$b run $run, 40 random formula models ($(( $(date +%s) - start )) s): $(grep -m1 '^predicted within' "$out/random-$b-run$run.txt")"
  done
  # How far two measurements of the same networks agree: the ceiling for predicted vs measured.
  join <(verified "$out/search-$b-run1.csv") <(verified "$out/search-$b-run2.csv") > "$out/verified-$b.txt"
  echo "$b, the default search's networks: measured run 1 vs measured run 2 Spearman $(awk '{ print $3, $5 }' "$out/verified-$b.txt" | spearman); predicted run 1 vs measured run 2 $(awk '{ print $2, $5 }' "$out/verified-$b.txt" | spearman); predicted run 2 vs measured run 1 $(awk '{ print $4, $3 }' "$out/verified-$b.txt" | spearman); over $(wc -l < "$out/verified-$b.txt") networks"
done
echo "(outputs in $out)"
