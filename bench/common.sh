# Shared by the bench scripts (source it from the repository root).

# The median of the numbers on stdin, one per line ("nan" for none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The bench scripts' model names: bN (EfficientNet-BN) or mbv2 (MobileNetV2). baseline_args NAME:
# effscale's --baseline option for it (none for EfficientNet); model_name NAME: its model there.
baseline_args() { if [[ $1 == mbv2 ]]; then echo "--baseline mobilenet-v2"; fi; }
model_name() { if [[ $1 == mbv2 ]]; then echo base; else echo "$1"; fi; }

# ort_median_ms MODEL.onnx RESOLUTION THREADS RUNS: ONNX Runtime's median latency of the model
# (scripts/ort_latency.js; NODE_PATH must hold onnxruntime-node).
ort_median_ms() { node scripts/ort_latency.js "$1" "$2" "$3" "$4" | tail -n 1 | sed -n 's/.*median_ms=\([0-9.e+-]*\).*/\1/p'; }

# spearman: Spearman's rank correlation of the two columns of stdin (x y per line; no ties expected
# beyond exact repeats, which get average ranks).
spearman() {
  awk '{ x[NR] = $1; y[NR] = $2 } END {
    n = NR
    if (n < 2) { print "nan"; exit }
    for (i = 1; i <= n; i++) { rx[i] = 1; ry[i] = 1; tx = 0; ty = 0
      for (j = 1; j <= n; j++) { if (x[j] < x[i]) rx[i]++; if (x[j] == x[i] && j != i) tx++
                                 if (y[j] < y[i]) ry[i]++; if (y[j] == y[i] && j != i) ty++ }
      rx[i] += tx / 2; ry[i] += ty / 2 }
    for (i = 1; i <= n; i++) { mx += rx[i] / n; my += ry[i] / n }
    for (i = 1; i <= n; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) ^ 2; syy += (ry[i] - my) ^ 2 }
    printf "%.3f\n", sxy / sqrt(sxx * syy) }'
}

# output_dir SCRIPT DIR: checks that build/effscale exists, creates DIR (a temporary folder when
# empty) and prints it.
output_dir() {
  [[ -x build/effscale ]] || { echo "$1: build/effscale not found; build first" >&2; exit 1; }
  local dir=${2:-$(mktemp -d)}
  mkdir -p "$dir"
  echo "$dir"
}
