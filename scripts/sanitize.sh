#!/usr/bin/env bash
# Builds the suite with AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer in
# build-asan/ and runs it; the first finding aborts the test that hit it, and the run fails.
# usage: scripts/sanitize.sh        (after scripts/setup.sh has installed the dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEFFSCALE_SANITIZE=ON -DCMAKE_CXX_FLAGS="-O1" >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
