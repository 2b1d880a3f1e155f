#!/usr/bin/env bash
# Regenerates every report in results/ with the commands recorded beside them.
# usage: scripts/make_results.sh [BUILD_DIR=build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/effscale
[[ -x $bin ]] || { echo "make_results: $bin not found; run scripts/setup.sh first" >&2; exit 1; }

run() {  # run OUTPUT COMMAND...: records the command, then runs it into OUTPUT
  local out=$1; shift
  echo "+ $*" >&2
  "$@" > "results/$out.tmp"
  mv "results/$out.tmp" "results/$out"
}

run table_b0_b7.txt "$bin" table --phi 0,1,2,3,4,5,6,7
run table_b0_b7.csv "$bin" table --phi 0,1,2,3,4,5,6,7 --format csv
run table_mobilenet_v2.txt "$bin" table --baseline mobilenet-v2 --models base,b1,b2,b3,b4
