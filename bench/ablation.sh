#!/usr/bin/env bash
# Ablation benchmark: each lowering choice switched off (or an alternative switched on), each round
# timed right next to the default lowering, the variants in a random order.
# usage: bench/ablation.sh [-r ROUNDS=3] [-m "b0 b4"] [-t THREADS=2] [-v REGEX] [-b BUILD_DIR]
#   Models: bN (EfficientNet-BN) or mbv2 (MobileNetV2). -v: only the variants whose name matches.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; models="b0 b4"; threads=2; build=build; only=""
while getopts "r:m:t:v:b:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;; m) models=$OPTARG ;; t) threads=$OPTARG ;; v) only=$OPTARG ;; b) build=$OPTARG ;;
    *) sed -n '2,6p' "$0"; exit 2 ;;
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
  "buffers reused with several threads|--lowering reuse-buffers-with-threads|"
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
if [[ -n $only ]]; then
  kept=("${variants[0]}")
  for v in "${variants[@]:1}"; do [[ ${v%%|*} =~ $only ]] && kept+=("$v"); done
  ((${#kept[@]} > 1)) || { echo "ablation: no variant matches '$only'" >&2; exit 2; }
  variants=("${kept[@]}")
fi
source bench/common.sh
# time_variant MODEL "NAME|ARGS|ENV": prints the variant's median latency in ms.
time_variant() {
  local name args envs
  IFS='|' read -r name args envs <<<"$2"
  # shellcheck disable=SC2086
  env $envs "$bin" bench $(baseline_args "$1") "$(model_name "$1")" --threads "$threads" --runs 30 --min-time 1 $args \
    --format csv | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median_ms") c = i } NR == 2 { print $c }'
}
# Each round visits the variants in a random order, and times each right next to the default, the
# two in a random order: a variant's ratio is the median of its rounds' variant / default.
declare -A samples ratios
for ((round = 1; round <= rounds; round++)); do
  for m in $models; do
    while read -r i; do
      v=${variants[$i]}
      name=${v%%|*}
      if ((RANDOM % 2)); then
        base=$(time_variant "$m" "${variants[0]}"); ms=$(time_variant "$m" "$v")
      else
        ms=$(time_variant "$m" "$v"); base=$(time_variant "$m" "${variants[0]}")
      fi
      samples["$m|$name"]+="$ms "
      samples["$m|default"]+="$base "
      ratios["$m|$name"]+="$(awk -v a="$ms" -v b="$base" 'BEGIN { printf "%.4f", a / b }') "
      echo "round $round: $m $name: $ms ms, default $base ms" >&2
    done < <(seq 1 $((${#variants[@]} - 1)) | shuf)
  done
done
printf '%-6s %-38s %10s %8s %13s\n' model variant median_ms vs_default range
for m in $models; do
  printf '%-6s %-38s %10.3f %8s %13s\n' "$m" default "$(tr ' ' '\n' <<<"${samples["$m|default"]}" | grep . | median)" 1.000 ""
  for v in "${variants[@]:1}"; do
    name=${v%%|*}
    med=$(tr ' ' '\n' <<<"${samples["$m|$name"]}" | grep . | median)
    r=$(tr ' ' '\n' <<<"${ratios["$m|$name"]}" | grep .)
    printf '%-6s %-38s %10.3f %8.3f %13s\n' "$m" "$name" "$med" "$(median <<<"$r")" \
      "$(sort -g <<<"$r" | sed -n '1p;$p' | paste -sd- | sed 's/^\([^-]*\)$/\1-\1/')"
  done
done
echo "(each variant timed right next to the default in every round, variants in a random order; vs_default: the median of the rounds' variant / default, range: their min-max; median_ms: the variant's median over the rounds; $rounds rounds, each 'effscale bench MODEL --threads $threads --runs 30 --min-time 1 [variant]')"
