#!/usr/bin/env bash
# Reproducibility benchmark: the default search twice and `compare --targets 2,4,8` twice, in one
# sitting, then `effscale diff` on each pair: Spearman of relative latency over the distinct networks,
# median and p90 of |difference| / relative latency, whether each run's winner lies in the other's tie
# group, and per target whether the strategy order agrees except for declared ties.
# Goals on the 2-core development machine: Spearman >= 0.9, median <= 2%, p90 <= 5%.
# usage: bench/reproducibility.sh [BUILD_DIR=build] [OUT_DIR=a temporary folder]   (about 5 minutes)
#   EFFSCALE_REPRO_ARGS: extra arguments for both searches (e.g. a smaller grid for a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/effscale
[[ -x $bin ]] || { echo "reproducibility: $bin not found; run scripts/setup.sh first" >&2; exit 1; }
out=${2:-$(mktemp -d)}
mkdir -p "$out"
# shellcheck disable=SC2206
extra=(${EFFSCALE_REPRO_ARGS:-})

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
for run in 1 2; do
  start=$(date +%s)
  "$bin" search "${extra[@]}" --output "$out/search$run.csv" --plot "$out/search$run.svg" > "$out/search$run.txt"
  echo "search run $run: $(( $(date +%s) - start )) s; $(grep -m1 '^the winner\|^tied' "$out/search$run.txt" || true)"
done
for run in 1 2; do
  start=$(date +%s)
  "$bin" compare --targets 2,4,8 --format csv > "$out/compare$run.csv"
  echo "compare run $run: $(( $(date +%s) - start )) s"
done
echo
status=0
"$bin" diff "$out/search1.csv" "$out/search2.csv" --check || status=1
echo
"$bin" diff "$out/compare1.csv" "$out/compare2.csv" --check || status=1
echo
echo "(reports in $out; commands: 'effscale search ${extra[*]}' twice, 'effscale compare --targets 2,4,8 --format csv' twice, 'effscale diff A B')"
exit $status
