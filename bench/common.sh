# Shared by the bench scripts (source it from the repository root).

# The median of the numbers on stdin, one per line ("nan" for none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ort_median_ms MODEL.onnx RESOLUTION THREADS RUNS: ONNX Runtime's median latency of the model
# (scripts/ort_latency.js; NODE_PATH must hold onnxruntime-node).
ort_median_ms() { node scripts/ort_latency.js "$1" "$2" "$3" "$4" | tail -n 1 | sed -n 's/.*median_ms=\([0-9.e+-]*\).*/\1/p'; }
