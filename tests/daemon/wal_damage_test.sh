#!/usr/bin/env bash
# A damaged write-ahead log against a real chuted: acknowledged jobs are
# created one commit each, chuted is killed (SIGKILL), and the log is
# damaged the way disks and hands damage it.
#   1. 16 bytes flipped in the middle: SQLite's recovery would drop every
#      commit after them in silence. chuted must refuse to start, name the
#      file and the commits lost, and keep a copy of the log; with
#      --accept-wal-loss it starts and says what it dropped.
#   2. a torn last write (the last frame half written): chuted starts and
#      recovers every acknowledged job.
#
#   tests/daemon/wal_damage_test.sh <path-to-chuted>
set -euo pipefail
chuted=${1:?usage: wal_damage_test.sh <chuted>}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/chute-wal-test.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fails=0
checks=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check() { checks=$((checks + 1)); }

# start NAME [ARGS...]: chuted on NAME's data; waits for "ready" or its exit.
start() {
  local name=$1; shift
  "$chuted" --data-dir "$dir/$name" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --durability full "$@" 2>"$dir/$name.log" &
  pid=$!
  for _ in $(seq 200); do
    grep -q '^chuted: ready' "$dir/$name.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  port=$(sed -n 's/^chuted: HTTP listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/$name.log")
}

# fill NAME N: N jobs, each its own request and commit, then SIGKILL.
fill() {
  start "$1"
  [ -n "$port" ] || { cat "$dir/$1.log" >&2; echo "wal_damage_test: chuted did not start" >&2; exit 1; }
  local ok=0
  for i in $(seq "$2"); do
    s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"type\":\"wal\",\"variables\":{\"i\":$i}}" "http://127.0.0.1:$port/v1/jobs")
    [ "$s" = 201 ] && ok=$((ok + 1))
  done
  [ "$ok" = "$2" ] || fail "$1: $ok of $2 creates acknowledged"
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

wal_of() { ls "$dir/$1"/*.db-wal; }

# flip FILE OFFSET N: XORs N bytes at OFFSET.
flip() {
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
import sys
path, at, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, 'r+b') as f:
    f.seek(at); b = bytearray(f.read(n))
    f.seek(at); f.write(bytes(x ^ 0x5a for x in b))
PYEOF
}

page_size() { "$PY" -c "import struct,sys; print(struct.unpack('>I', open(sys.argv[1],'rb').read(12)[8:12])[0])" "$1"; }

# ---- 1. damage in the middle ---------------------------------------------------------
fill mid 289
wal=$(wal_of mid)
ps=$(page_size "$wal")
frames=$(( ($(stat -c %s "$wal") - 32) / (24 + ps) ))
echo "wal_damage_test: $frames frames of $ps bytes after 289 commits"
check; [ "$frames" -gt 100 ] || fail "expected a long log, got $frames frames"
flip "$wal" $((32 + 9 * (24 + ps) + 24 + 200)) 16
start mid
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check
if kill -0 "$pid" 2>/dev/null; then
  fail "chuted started on a damaged log"; kill -KILL "$pid"
  rc=0
else
  wait "$pid" && rc=0 || rc=$?
fi
pid=
check; [ "$rc" != 0 ] || fail "chuted exited 0 on a damaged log"
check; grep -q 'write-ahead log is damaged: frame 10 fails its checksum, and [0-9]* committed transactions after it' "$dir/mid.log" ||
  fail "no precise refusal: $(cat "$dir/mid.log")"
check; grep -q -- '--accept-wal-loss' "$dir/mid.log" || fail "the refusal does not name the flag"
check; ls "$dir"/mid/*.db-wal.damaged-* >/dev/null 2>&1 || fail "no copy of the damaged log kept"
grep 'damaged' "$dir/mid.log" | head -1
start mid --accept-wal-loss
check; grep -q '^chuted: ready' "$dir/mid.log" || fail "--accept-wal-loss did not start: $(cat "$dir/mid.log")"
check; grep -q 'opening it anyway as asked' "$dir/mid.log" || fail "the accepted loss is not logged"
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=

# ---- 2. a torn last write ------------------------------------------------------------------
fill torn 50
wal=$(wal_of torn)
ps=$(page_size "$wal")
size=$(stat -c %s "$wal")
truncate -s $((size - (24 + ps) / 2)) "$wal"
start torn
check; grep -q '^chuted: ready' "$dir/torn.log" || fail "a torn last write was refused: $(cat "$dir/torn.log")"
n=$(sed -n 's/^chuted: recovered \([0-9]*\) jobs.*/\1/p' "$dir/torn.log")
# The half-written frame belonged to a commit that fsync had made whole:
# truncating it loses at most that last commit's tail, never an earlier one.
check; [ "${n:-0}" -ge 49 ] || fail "torn write: recovered ${n:-none} of 50 jobs"
echo "wal_damage_test: torn last write: recovered $n of 50 jobs"
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; pid=

echo "wal_damage_test: $checks checks, $fails failures"
[ "$fails" = 0 ]
