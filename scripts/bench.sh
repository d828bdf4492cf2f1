#!/usr/bin/env bash
# Runs the benchmarks against the optimised build.
#
#   scripts/bench.sh BUILD_DIR short|full
#
# Prints `bench: <name> <value> <unit>` lines. Data goes to BUILD_DIR/bench-data
# (a real disk, so fsync costs what it costs), removed afterwards.
set -euo pipefail
build=${1:-build}
mode=${2:-short}
data="$build/bench-data"
mkdir -p "$data"
trap 'rm -rf "$data"' EXIT
echo "== engine, in-process (no network); generator and engine share the 2 cores"
"$build/bench/bench_engine" "$data" "$mode"
