#!/usr/bin/env bash
# REST lifecycle throughput with wrk: create + activate + complete, one job
# at a time per connection, with 1 and 8 keep-alive connections, against a
# chuted started here (127.0.0.1, ephemeral ports, temp data dir).
#
#   bench/wrk/run.sh CHUTED SECONDS DURABILITY
# Prints `bench: rest_lifecycle_<durability>_conn<N> <jobs/s> jobs/s`.
set -euo pipefail
chuted=$1
seconds=${2:-5}
durability=${3:-full}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "bench: wrk is not installed (scripts/deps.sh bench)" >&2; exit 1; }
data=$(mktemp -d "${TMPDIR:-/tmp}/chute-wrk.XXXXXX")
log="$data/chuted.log"
"$chuted" --data-dir "$data/db" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --durability "$durability" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  grep -q "HTTP listening" "$log" && break
  sleep 0.05
done
port=$(sed -n 's/.*HTTP listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { echo "bench: chuted did not start:" >&2; cat "$log" >&2; exit 1; }
for conns in 1 8; do
  out=$(wrk -t "$conns" -c "$conns" -d "${seconds}s" -s "$here/lifecycle.lua" "http://127.0.0.1:$port")
  line=$(echo "$out" | grep '^wrk-lifecycle:')
  errors=$(echo "$line" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
  rate=$(echo "$line" | sed -n 's/.*jobs_per_s=\([0-9]*\).*/\1/p')
  if [ "${errors:-1}" != 0 ]; then
    echo "bench: wrk lifecycle saw errors: $line" >&2
    exit 1
  fi
  echo "bench: rest_lifecycle_${durability}_conn${conns} ${rate} jobs/s"
done
