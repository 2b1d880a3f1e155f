#!/usr/bin/env bash
# Does a search timed by --latency-cmd rank the candidates as their standalone ONNX Runtime
# latencies do? Runs `effscale search --latency-cmd 'node scripts/ort_latency.js ...'` over a small
# grid, exports every distinct network of its report (export --from-report --rank R), times each
# one alone with ORT, ROUNDS rounds in shuffled order (each round also times the unscaled baseline;
# a network's standalone relative latency is the median over rounds of its time / the baseline's
# of the same round), and compares: Spearman's rank correlation of the two relative latencies, and
# for every pair of networks whose 95% intervals in the report are apart, whether the standalone
# times order them the same way.
#
# usage: bench/latency_cmd_agreement.sh [-r ROUNDS] [-t THREADS] [-n RUNS] [-o PREFIX] [-b BUILD_DIR]
#   RUNS: timed runs inside each ORT measurement (default 40); PREFIX: where the search report
#   goes (PREFIX.csv, default a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=7
threads=2
runs=40
prefix=
build=build
while getopts "r:t:n:o:b:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    n) runs=$OPTARG ;;
    o) prefix=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
bin=$build/effscale
[[ -x $bin ]] || { echo "latency_cmd_agreement: $bin not found; run scripts/setup.sh first" >&2; exit 1; }
NODE_PATH=$(bash scripts/ort_setup.sh | tail -n 1)
export NODE_PATH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=${prefix:+$prefix.csv}
report=${report:-$work/search.csv}
grid=(--alpha 1:1.4:0.2 --beta 1:1.2:0.1 --gamma 1:1.2:0.1 --tolerance 0.15)
command="node scripts/ort_latency.js {onnx} {resolution} {threads} $runs"

echo "# search --latency-cmd vs standalone ONNX Runtime $(node -p "require('onnxruntime-node/package.json').version")"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "# command: bench/latency_cmd_agreement.sh -r $rounds -t $threads -n $runs${prefix:+ -o $prefix}"
echo "+ effscale search ${grid[*]} --threads $threads --latency-cmd '$command'" >&2
"$bin" search "${grid[@]}" --threads "$threads" --latency-cmd "$command" -o "$report" >"$work/search.txt"
grep -m1 '^# timing:' "$report" | cut -c1-400

# One row per distinct network: rank, network, resolution, rel_latency, rel_ci_low, rel_ci_high.
grep -v '^#' "$report" | awk -F, '
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  $col["status"] == "ok" && !seen[$col["network"]]++ {
    print $col["rank"], $col["network"], $col["resolution"], $col["rel_latency"], $col["rel_ci_low"], $col["rel_ci_high"]
  }' >"$work/networks"
"$bin" export base --format onnx -o "$work/reference.onnx" 2>/dev/null
while read -r rank network resolution rest; do
  "$bin" export --from-report "$report" --rank "$rank" --format onnx -o "$work/$network.onnx" 2>/dev/null
done <"$work/networks"

source bench/common.sh
latency() { ort_median_ms "$1" "$2" "$threads" "$runs"; }
{ echo "reference 224"; awk '{ print $2, $3 }' "$work/networks"; } >"$work/models"
for ((round = 1; round <= rounds; round++)); do
  echo "+ standalone round $round of $rounds" >&2
  shuf "$work/models" | while read -r name resolution; do
    echo "$round $name $(latency "$work/$name.onnx" "$resolution")"
  done
done >"$work/times"

node - "$work/networks" "$work/times" <<'EOF'
const fs = require('fs');
const [networksFile, timesFile] = process.argv.slice(2);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const ranks = (v) => {  // average ranks, ties shared
  const order = v.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]);
  const r = new Array(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) ++j;
    for (let k = i; k <= j; ++k) r[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
};
const pearson = (a, b) => {
  const ma = a.reduce((x, y) => x + y) / a.length, mb = b.reduce((x, y) => x + y) / b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; ++i) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
};
const nets = fs.readFileSync(networksFile, 'utf8').trim().split('\n').map((l) => {
  const [rank, id, res, rel, low, high] = l.split(' ');
  return { rank: +rank, id, res: +res, rel: +rel, low: +low, high: +high };
});
const byRound = {};
for (const l of fs.readFileSync(timesFile, 'utf8').trim().split('\n')) {
  const [round, name, ms] = l.split(' ');
  (byRound[round] = byRound[round] || {})[name] = +ms;
}
for (const n of nets) {
  n.ratios = Object.values(byRound).filter((r) => r[n.id] && r.reference).map((r) => r[n.id] / r.reference);
  n.alone = median(n.ratios);
}
const aloneRanks = ranks(nets.map((n) => n.alone));
console.log('rank  network           res  report rel [95%]        standalone rel (range)     standalone rank');
nets.forEach((n, i) => {
  const lo = Math.min(...n.ratios), hi = Math.max(...n.ratios);
  console.log(`${String(n.rank).padStart(4)}  ${n.id}  ${String(n.res).padStart(3)}  ${n.rel.toFixed(3)} [${n.low.toFixed(3)}, ${n.high.toFixed(3)}]` +
              `    ${n.alone.toFixed(3)} (${lo.toFixed(3)}-${hi.toFixed(3)})    ${String(aloneRanks[i]).padStart(6)}`);
});
const rho = pearson(ranks(nets.map((n) => n.rel)), aloneRanks);
let apart = 0, same = 0;
for (let i = 0; i < nets.length; ++i)
  for (let j = i + 1; j < nets.length; ++j) {
    const [a, b] = [nets[i], nets[j]];
    if (a.high < b.low || b.high < a.low) {
      ++apart;
      if ((a.rel < b.rel) === (a.alone < b.alone)) ++same;
    }
  }
console.log(`spearman(report, standalone) = ${rho.toFixed(3)} over ${nets.length} networks`);
console.log(`pairs the report separates: ${apart}; ordered the same standalone: ${same} (${apart ? (100 * same / apart).toFixed(0) : 100}%)`);
const best = nets.reduce((a, b) => (b.alone < a.alone ? b : a));
console.log(`winner: report ${nets[0].id}; standalone ${best.id}${best.id === nets[0].id ? ' (the same)' : ''}`);
EOF
