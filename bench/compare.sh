#!/usr/bin/env bash
# Compares two chuted binaries on the gRPC figures that a change of the
# server's request path can move, in one run, turn about, so both see the
# same machine:
#
#   bench/compare.sh OLD_CHUTED NEW_CHUTED [ROUNDS] [LOADGEN]
#
# Each round starts each binary in turn (durability full, a fresh data
# directory on the build's disk) and measures burn_w8 (20 000 jobs, 8
# workers), lifecycle_c8 (20 000 jobs, 8 connections) and the open-loop p99
# at 10 000 jobs/s (2 s). Prints every figure as `bench: <name> <value>
# <unit>` with old_/new_ prefixes, then the medians over the rounds and the
# ratio new/old. Build the load generator first (make bench-deps build, or
# make bench once). Every broker it starts is stopped on exit.
set -euo pipefail
old=${1:?usage: bench/compare.sh OLD_CHUTED NEW_CHUTED [ROUNDS] [LOADGEN]}
new=${2:?usage: bench/compare.sh OLD_CHUTED NEW_CHUTED [ROUNDS] [LOADGEN]}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
loadgen=${4:-$root/build/bench/loadgen}
for f in "$old" "$new" "$loadgen"; do
  [ -x "$f" ] || { echo "compare: $f is missing or not executable" >&2; exit 1; }
done
data=$(mktemp -d "$root/build/compare-XXXXXX")
out="$data/figures.txt"
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

run_one() { # LABEL BINARY
  local label=$1 bin=$2 dir="$data/$1" addr
  rm -rf "$dir"; mkdir -p "$dir"
  "$bin" --data-dir "$dir" --grpc-listen 127.0.0.1:0 --http-listen off --durability full \
    2>"$dir/log" &
  pid=$!
  for _ in $(seq 1 100); do grep -q 'gRPC listening on' "$dir/log" && break; sleep 0.1; done
  addr=$(sed -n 's/.*gRPC listening on \([0-9.:]*\).*/\1/p' "$dir/log" | tail -1)
  [ -n "$addr" ] || { cat "$dir/log" >&2; exit 1; }
  "$loadgen" chute "$addr" burn name="${label}_burn_w8" n=20000 workers=8 batch=1000 reps=1 | tee -a "$out"
  "$loadgen" chute "$addr" lifecycle name="${label}_lifecycle_c8" n=20000 conns=8 batch=1000 reps=1 | tee -a "$out"
  "$loadgen" chute "$addr" rate name="${label}_lat" rates=10000 secs=2 workers=2 | grep '_p99_10k\|p99' | tee -a "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

for r in $(seq 1 "$rounds"); do
  echo "== round $r of $rounds"
  if [ $((r % 2)) -eq 1 ]; then run_one old "$old"; run_one new "$new"
  else run_one new "$new"; run_one old "$old"; fi
done

echo "== medians over $rounds rounds (new/old)"
awk '/^bench: /{ n=$2; v=$3; u=$4; split(n, p, "_"); who=p[1]; sub(/^(old|new)_/, "", n);
       vals[who, n] = vals[who, n] " " v; unit[n] = u; names[n] = 1 }
     function median(s,   a, k, i, j, t) { k = split(s, a, " ");
       for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
       return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
     END { for (n in names) { o = median(vals["old", n]); w = median(vals["new", n]);
       printf "%-22s old %10.1f  new %10.1f  %s  new/old %.2f\n", n, o, w, unit[n], (o > 0 ? w / o : 0) } }' "$out" | sort
