#!/usr/bin/env bash
# Is effscale's ONNX export as fast in ONNX Runtime as the reference architecture exported the
# usual way? Exports each model twice, `effscale export MODEL --format onnx` and torchvision's
# efficientnet_bN through torch.onnx.export (opset 13, eval mode: BatchNorm folded into the convs,
# input 'input' with a symbolic batch, output 'logits'), and times both with ONNX Runtime
# (scripts/ort_latency.js) in alternating, shuffled order, ROUNDS rounds, so that drift of a shared
# machine falls on both alike. Prints each side's median and the ratio effscale / torchvision:
# the median of the per-round ratios, with their range.
#
# usage: bench/onnx_vs_torchvision.sh [-r ROUNDS] [-m "b0 b4"] [-t "2 1"] [-n RUNS] [-b BUILD_DIR]
#   RUNS: timed runs inside each ORT measurement (default 50)
# Needs node + onnxruntime-node (scripts/ort_setup.sh) and Debian's python3-torchvision
# (scripts/torch_setup.sh); both are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=10
models="b0"
threads_list="2 1"
runs=50
build=build
while getopts "r:m:t:n:b:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    m) models=$OPTARG ;;
    t) threads_list=$OPTARG ;;
    n) runs=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
bin=$build/effscale
[[ -x $bin ]] || { echo "onnx_vs_torchvision: $bin not found; run scripts/setup.sh first" >&2; exit 1; }
NODE_PATH=$(bash scripts/ort_setup.sh | tail -n 1)
export NODE_PATH
bash scripts/torch_setup.sh >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source bench/common.sh
latency() { ort_median_ms "$1" "$2" "$3" "$runs"; }

echo "# effscale export vs torchvision export, both in ONNX Runtime $(node -p "require('onnxruntime-node/package.json').version")"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "# command: bench/onnx_vs_torchvision.sh -r $rounds -m \"$models\" -t \"$threads_list\" -n $runs"
printf '%-6s %4s %7s %14s %16s %8s %18s\n' model res threads "effscale ms" "torchvision ms" ratio "range of rounds"
for model in $models; do
  res=$("$bin" table --models "$model" --format csv | awk -F, 'NR == 2 { print $4 }')
  [[ -n $res ]] || { echo "onnx_vs_torchvision: effscale does not know model '$model'" >&2; exit 1; }
  "$bin" export "$model" --format onnx -o "$work/effscale-$model.onnx" 2>/dev/null
  /usr/bin/python3 - "$model" "$res" "$work/torchvision-$model.onnx" <<'EOF'
import sys
import torch
import torchvision

name, resolution, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
model = getattr(torchvision.models, "efficientnet_" + name)().eval()
torch.onnx.export(model, torch.zeros(1, 3, resolution, resolution), path, opset_version=13,
                  input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
EOF
  for threads in $threads_list; do
    : >"$work/e" ; : >"$work/t" ; : >"$work/ratio"
    for ((round = 1; round <= rounds; round++)); do
      # Shuffled order each round: neither side always goes first.
      if ((RANDOM % 2)); then
        e=$(latency "$work/effscale-$model.onnx" "$res" "$threads"); t=$(latency "$work/torchvision-$model.onnx" "$res" "$threads")
      else
        t=$(latency "$work/torchvision-$model.onnx" "$res" "$threads"); e=$(latency "$work/effscale-$model.onnx" "$res" "$threads")
      fi
      echo "$e" >>"$work/e"; echo "$t" >>"$work/t"
      awk -v e="$e" -v t="$t" 'BEGIN { printf "%.4f\n", e / t }' >>"$work/ratio"
    done
    range=$(sort -g "$work/ratio" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }')
    printf '%-6s %4s %7s %14.3f %16.3f %8.3f %18s\n' "$model" "$res" "$threads" "$(median <"$work/e")" \
      "$(median <"$work/t")" "$(median <"$work/ratio")" "$range"
  done
done
