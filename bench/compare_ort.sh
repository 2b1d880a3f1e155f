#!/usr/bin/env bash
# Peer benchmark: effscale's oneDNN graph against ONNX Runtime on the same models, measured in one
# run and alternating, each round timing each model in both right after each other, which of the
# two first drawn at random every time, so that drift of a shared machine falls on both alike
# (with a fixed order, a drift within every round, such as the machine slowing after the peak's
# matmul, would fall on one side only); with fewer threads than cores, both timings of a pair run
# pinned to the same cores. Prints the median of the per-round medians and the ratio
# effscale / ORT.
#
# usage: bench/compare_ort.sh [-r ROUNDS] [-m "b0:224 b2:260 b4:380 mbv2:224"] [-t "2 1"] [-b BUILD_DIR]
#   Models: bN (EfficientNet-BN) or mbv2 (MobileNetV2), each with its resolution.
#   ORT_ANCHOR: the peer's latency script (default ../shared/anchors/ort_latency.sh), which prints
#   "... median_ms=X ..." for a torchvision model name and resolution.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
models="b0:224 b2:260 b4:380"
threads_list="2 1"
build=build
while getopts "r:m:t:b:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    m) models=$OPTARG ;;
    t) threads_list=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
bin=$build/effscale
[[ -x $bin ]] || { echo "compare_ort: $bin not found; run scripts/setup.sh first" >&2; exit 1; }
anchor=${ORT_ANCHOR:-../shared/anchors/ort_latency.sh}

peer=yes
if [[ ! -f $anchor ]]; then
  peer="no: $anchor not found (set ORT_ANCHOR)"
elif ! out=$(bash "$anchor" efficientnet_b0 224 1 3 2>&1) || [[ $out != *median_ms=* ]]; then
  peer="no: $anchor failed: $(echo "$out" | tail -n 1)"
fi
if [[ $peer != yes ]]; then
  echo "ONNX Runtime peer not available ($peer); measuring effscale only." >&2
fi

source bench/common.sh

# effscale's baseline option, its model name, and torchvision's name for a model of -m.
ort_name() { if [[ $1 == mbv2 ]]; then echo mobilenet_v2; else echo "efficientnet_b${1#b}"; fi; }
for m in $models; do
  name=${m%%:*}
  [[ $name == mbv2 || $name =~ ^b[0-8]$ ]] || { echo "compare_ort: unknown model '$name' (bN or mbv2)" >&2; exit 2; }
done

# Each model's MACs, for the fraction of the machine's float32 peak: 2 x MACs / latency / peak,
# with the peak (oneDNN's 2048^3 matmul, 'effscale bench --peak', about 2 s) measured right before
# and right after each effscale timing it divides, their mean: a peak taken at another moment of a
# machine whose speed drifts by a third within a minute would move the fraction with it.
declare -A macs
for m in $models; do
  name=${m%%:*}; res=${m##*:}
  # shellcheck disable=SC2046
  macs[$name]=$("$bin" table $(baseline_args "$name") --models "$(model_name "$name")" --format csv |
                awk -F, 'NR == 2 { print $6 }')
done
# With fewer threads than the machine has cores, both timings of a pair (and the peaks beside
# effscale's) run on the same cores, drawn at random for each pair: the cores of a shared VM run
# at different speeds, which trade places within minutes (a 2-core Zen 5 VM: MobileNetV2 with 1
# thread 3.4 ms on one core and 4.6 on the other, and a minute later the other way round), and
# an unpinned 1-thread process lands on either, so an unpinned pair could compare two cores.
# The cores drawn from are those this script may run on (its own affinity, e.g. under taskset).
cpus=()
IFS=, read -ra spans <<<"$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status 2>/dev/null)"
for span in "${spans[@]}"; do
  if [[ $span =~ ^([0-9]+)-([0-9]+)$ ]]; then
    for ((c = BASH_REMATCH[1]; c <= BASH_REMATCH[2]; c++)); do cpus+=("$c"); done
  elif [[ $span =~ ^[0-9]+$ ]]; then
    cpus+=("$span")
  fi
done
cores=${#cpus[@]}
pin=()
can_pin=no
if ! command -v taskset >/dev/null 2>&1; then
  echo "compare_ort: taskset not found; timings not pinned to cores" >&2
elif ((cores == 0)); then
  echo "compare_ort: no Cpus_allowed_list in /proc/self/status; timings not pinned to cores" >&2
  cores=$(nproc)
else
  can_pin=yes
fi
# pin_for THREADS: sets pin (a taskset prefix, or nothing) to THREADS of the cores, drawn at random.
pin_for() {
  pin=()
  if [[ $can_pin == yes ]] && (($1 < cores)); then
    pin=(taskset -c "$(shuf -n "$1" -e "${cpus[@]}" | sort -n | paste -sd,)")
  fi
}
peak_now() {
  "${pin[@]}" "$bin" bench b0 --peak --threads "$1" --runs 3 --min-time 0 --warmup 1 --format csv |
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "peak_fraction") f = i; if ($i == "gmacs_per_s") g = i } }
             NR == 2 { printf "%.1f", 2 * $g / $f }'
}

# One model's latency in effscale (into ms) and in ORT (into line), for the loop's name, res and threads.
time_ours() {
  # shellcheck disable=SC2046
  ms=$("${pin[@]}" "$bin" bench $(baseline_args "$name") "$(model_name "$name")" --threads "$threads" --runs 30 --min-time 1 --format csv |
       awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median_ms") c = i } NR == 2 { print $c }')
}
# time_ours between two peaks (into pk, their mean, and pk_pair, both).
time_ours_at_peak() {
  local before after
  before=$(peak_now "$threads"); time_ours; after=$(peak_now "$threads")
  pk=$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (a + b) / 2 }')
  pk_pair="$before-$after"
}
time_peer() {
  line=$("${pin[@]}" bash "$anchor" "$(ort_name "$name")" "$res" "$threads" 30 2>/dev/null | grep median_ms= || true)
  line=${line#*median_ms=}
}

declare -A ours theirs ratios fractions peaks
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')" >&2
for ((round = 1; round <= rounds; round++)); do
  for threads in $threads_list; do
    for m in $models; do
      name=${m%%:*}; res=${m##*:}
      key="$name $res $threads"
      line="" ms="" first=effscale
      pin_for "$threads"
      if [[ $peer == yes ]] && ((RANDOM % 2)); then
        first=ORT; time_peer; time_ours_at_peak
      else
        time_ours_at_peak; if [[ $peer == yes ]]; then time_peer; fi
      fi
      peaks[$threads]+="$pk "
      echo "round $round: $key float32 peak with $threads threads $pk GFLOP/s (before-after $pk_pair)" >&2
      ours[$key]+="$ms "
      fractions[$key]+="$(awk -v m="${macs[$name]}" -v t="$ms" -v pk="$pk" 'BEGIN { print 100 * 2 * m / (t * 1e6) / pk }') "
      if [[ $peer == yes ]]; then
        theirs[$key]+="${line%% *} "
        ratios[$key]+="$(awk -v a="$ms" -v b="${line%% *}" 'BEGIN { print a / b }') "
      fi
      echo "round $round: $key effscale ${ms} ms${line:+, ORT ${line%% *} ms} ($first first${pin[*]:+, ${pin[*]}})" >&2
    done
  done
done

printf '%-6s %5s %8s %14s %10s %8s %19s %8s\n' model res threads effscale_ms ort_ms ratio paired_ratio of_peak
for threads in $threads_list; do
  for m in $models; do
    name=${m%%:*}; res=${m##*:}
    key="$name $res $threads"
    a=$(tr ' ' '\n' <<<"${ours[$key]}" | grep . | median)
    if [[ $peer == yes ]]; then
      b=$(tr ' ' '\n' <<<"${theirs[$key]}" | grep . | median)
      r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
      sorted=$(tr ' ' '\n' <<<"${ratios[$key]}" | grep . | sort -g)
      pr=$(printf '%.2f (%.2f-%.2f)' "$(median <<<"$sorted")" "$(head -n 1 <<<"$sorted")" "$(tail -n 1 <<<"$sorted")")
    else
      b=n/a; r=n/a; pr=n/a
    fi
    p=$(tr ' ' '\n' <<<"${fractions[$key]}" | grep . | median | awk '{ printf "%.0f%%", $1 }')
    printf '%-6s %5s %8s %14.3f %10s %8s %19s %8s\n' "$name" "$res" "$threads" "$a" "$b" "$r" "$pr" "$p"
  done
done
echo "(medians of $rounds alternating rounds, each timing a model in effscale and ORT right after each other in random order, with fewer threads than the $cores cores both on the same cores drawn at random; ratio: of the medians; paired_ratio: median (min-max) of each round's effscale / ORT; effscale: 'effscale bench MODEL --threads T --runs 30 --min-time 1' (mbv2: '--baseline mobilenet-v2 base'); ORT: '$anchor efficientnet_bN|mobilenet_v2 RES T 30')"
for threads in $threads_list; do
  echo "(float32 peak with $threads threads, 'effscale bench --peak' right before and after each effscale timing: $(tr ' ' '\n' <<<"${peaks[$threads]}" | grep . | median) GFLOP/s median, $(tr ' ' '\n' <<<"${peaks[$threads]}" | grep . | sort -g | head -n 1)-$(tr ' ' '\n' <<<"${peaks[$threads]}" | grep . | sort -g | tail -n 1) range; of_peak: median over the rounds of 2 x MACs / effscale latency / the mean of the two peaks beside it)"
done
