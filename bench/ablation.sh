#!/usr/bin/env bash
# Ablation benchmark: each lowering choice switched off (or an alternative switched on), measured
# against the default lowering in the same run, alternating variants round by round.
# usage: bench/ablation.sh [-r ROUNDS=3] [-m "b0 b4"] [-t THREADS=2] [-b BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; models="b0 b4"; threads=2; build=build
while getopts "r:m:t:b:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;; m) models=$OPTARG ;; t) threads=$OPTARG ;; b) build=$OPTARG ;;
    *) sed -n '2,5p' "$0"; exit 2 ;;
  esac
done
bin=$build/effscale
[[ -x $bin ]] || { echo "ablation: $bin not found; run scripts/setup.sh first" >&2; exit 1; }

# name|effscale arguments|environment
variants=(
  "default||"
  "layout nhwc|--layout nhwc|"
  "SE multiply out of place|--lowering no-inplace-scale|"
  "residual as a binary add|--lowering separate-residual|"
  "per-primitive scratchpad|--lowering library-scratchpad|"
  "no buffer reuse|--lowering no-buffer-reuse|"
  "SE reduce as inner product|--lowering se-inner-product|"
  "oneDNN depthwise + SE primitives|--lowering no-own-depthwise|"
  "SE gate on the activation|--lowering no-gate-in-weights|"
  "expansion conv not fused|--lowering no-fused-expand|"
  "every expansion conv fused|--lowering fused-expand-all|"
  "projection conv not fused|--lowering no-fused-project|"
  "padded projection channels computed|--lowering no-pixel-pairs|"
  "head conv apart from the classifier|--lowering no-fused-classifier|"
  "oneDNN expansion convs|--lowering no-own-pointwise|"
  "oneDNN small-map 1x1 convs|--lowering no-small-map-pointwise|"
  "oneDNN stem conv|--lowering no-own-stem|"
  "oneDNN pool + classifier|--lowering no-own-classifier|"
  "own kernels: AVX2 path|--lowering kernels-avx2|"
  "own kernels: portable path|--lowering kernels-portable|"
  "OMP_WAIT_POLICY=active||OMP_WAIT_POLICY=active"
  "OMP_PROC_BIND=close||OMP_PROC_BIND=close"
)
source bench/common.sh
declare -A samples
for ((round = 1; round <= rounds; round++)); do
  for m in $models; do
    for v in "${variants[@]}"; do
      IFS='|' read -r name args envs <<<"$v"
      # shellcheck disable=SC2086
      ms=$(env $envs "$bin" bench "$m" --threads "$threads" --runs 30 --min-time 1 $args --format csv |
           awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median_ms") c = i } NR == 2 { print $c }')
      samples["$m|$name"]+="$ms "
      echo "round $round: $m $name: $ms ms" >&2
    done
  done
done
printf '%-6s %-30s %10s %8s\n' model variant median_ms vs_default
for m in $models; do
  base=$(tr ' ' '\n' <<<"${samples["$m|default"]}" | grep . | median)
  for v in "${variants[@]}"; do
    IFS='|' read -r name _ _ <<<"$v"
    med=$(tr ' ' '\n' <<<"${samples["$m|$name"]}" | grep . | median)
    printf '%-6s %-30s %10.3f %8s\n' "$m" "$name" "$med" "$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.3f", a / b }')"
  done
done
echo "(medians of $rounds rounds; each 'effscale bench MODEL --threads $threads --runs 30 --min-time 1 [variant]')"
