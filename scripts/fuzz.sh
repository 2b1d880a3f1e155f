#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer) of every
# parser of user input: baseline files, block strings, grid ranges, accuracy CSV, search reports,
# option values. Seeds come from tests/fuzz/corpus/<target>/; an input that finds a bug lands in
# build-fuzz/findings/ and belongs, once fixed, in tests/fuzz/corpus/<target>/ as a regression
# (the normal suite replays the corpus: tests/fuzz_test.cpp).
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(baseline_file block_string grid accuracy_csv report_csv from_report numbers output_path latency_table)

if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed'; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
bash scripts/setup.sh >/dev/null  # the other dependencies
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DEFFSCALE_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  echo "== $t: ${seconds}s" >&2
  log=build-fuzz/findings/$t.log
  if build-fuzz/tests/fuzz_"$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix=build-fuzz/findings/"$t"- -print_final_stats=1 >"$log" 2>&1; then
    result="no finding"
  else
    result="FINDING (see $log and build-fuzz/findings/$t-*)"
    status=1
  fi
  runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{ print $2 }')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
  printf '%-14s %10s runs  %6s edges  %s\n' "$t" "${runs:-?}" "${cov:-?}" "$result"
done
exit $status
