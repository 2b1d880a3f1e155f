#!/usr/bin/env bash
# Does `search --latency predicted --verify 10` find the winner of a full measured search? In one
# sitting: the default measured search (every distinct network timed, racing), then the predicted
# search with --verify 10; pass when the measured winner's network is among the 10 verified ones, or
# the verified winner lies in the measured search's tie group (the two are tied). Twice.
# usage: bench/verify_vs_measured.sh [-t THREADS=2] [-k K=10] [-o OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bin=build/effscale
threads=2 k=10 out=""
while getopts "t:k:o:" opt; do
  case $opt in
    t) threads=$OPTARG ;; k) k=$OPTARG ;; o) out=$OPTARG ;;
    *) echo "usage: $0 [-t THREADS] [-k K] [-o OUT_DIR]" >&2; exit 2 ;;
  esac
done
out=$(output_dir verify_vs_measured "$out")
table="$out/table.tsv"

# column NAME FILE: the values of a report column, rows in report order.
column() { grep -v '^#' "$2" | awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $threads threads; $(date -u '+%Y-%m-%d %H:%M UTC')"
status=0
for run in 1 2; do
  "$bin" search --threads "$threads" --output "$out/measured$run.csv" > "$out/measured$run.txt"
  "$bin" search --threads "$threads" --latency predicted --verify "$k" --latency-table "$table" \
    --output "$out/predicted$run.csv" > "$out/predicted$run.txt"
  winner=$(column network "$out/measured$run.csv" | head -n 1)
  tie_group=$(paste -d' ' <(column network "$out/measured$run.csv") <(column tied "$out/measured$run.csv") | awk '$2 == "true" { print $1 }' | sort -u)
  verified=$(grep '^# verified: measured rank' "$out/predicted$run.csv" | sed 's/.* network \([0-9a-f]*\) .*/\1/')
  verified_winner=$(echo "$verified" | head -n 1)
  rank_of_winner=$(grep '^# verified: measured rank' "$out/predicted$run.csv" | grep -n " network $winner " | cut -d: -f1 || true)
  echo "run $run: measured winner $winner ($(grep -m1 '^the winner\|^tied' "$out/measured$run.txt" | cut -c1-90)...)"
  echo "  $(grep -m1 '^verified' "$out/predicted$run.txt" | sed 's/^verified: //')"
  if [[ -n $rank_of_winner ]]; then
    echo "  PASS: the measured winner is among the $k verified networks (verified rank $rank_of_winner)"
  elif grep -qx "$verified_winner" <<< "$tie_group"; then
    echo "  PASS (tied): the verified winner $verified_winner is in the measured search's tie group"
  else
    echo "  FAIL: the measured winner is not among the verified networks, and the verified winner is not tied with it"
    status=1
  fi
done
echo "(reports in $out)"
exit $status
