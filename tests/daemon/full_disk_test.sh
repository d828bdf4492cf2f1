#!/usr/bin/env bash
# A full disk against a real chuted and the chute CLI: the data directory on
# a small tmpfs, filled until commits fail.
#   - chute says the broker refused the command itself (it is running), not
#     "Is chuted running?";
#   - chuted's log holds a few lines for hundreds of failed commits, not one
#     per commit (rate limited);
#   - once space is freed, creates work again without a restart.
# Needs root (mount); `make test` runs as root, as it installs packages.
#
#   tests/daemon/full_disk_test.sh <path-to-chuted> <path-to-chute>
set -euo pipefail
chuted=${1:?usage: full_disk_test.sh <chuted> <chute>}
chute=${2:?usage: full_disk_test.sh <chuted> <chute>}
if [ "$(id -u)" != 0 ]; then
  echo "full_disk_test: needs root to mount a tmpfs; run make test as root" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/chute-disk-test.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  umount "$dir/fs" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/fs"
mount -t tmpfs -o size=8m tmpfs "$dir/fs"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$chuted" --data-dir "$dir/fs/data" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  2>"$dir/chuted.log" &
pid=$!
for _ in $(seq 200); do grep -q '^chuted: ready' "$dir/chuted.log" && break; sleep 0.05; done
grpc=$(sed -n 's/^chuted: gRPC listening on \(.*\)$/\1/p' "$dir/chuted.log")
http=$(sed -n 's/^chuted: HTTP listening on \(.*\)$/\1/p' "$dir/chuted.log")
[ -n "$grpc" ] && [ -n "$http" ] || { cat "$dir/chuted.log" >&2; exit 1; }

# Leave about 256 KiB free, then create 32 KiB jobs until the disk is full.
avail=$(df --output=avail -B1 "$dir/fs" | tail -1)
dd if=/dev/zero of="$dir/fs/filler" bs=64K count=$(( (avail - 262144) / 65536 )) status=none
big=$(head -c 32768 /dev/zero | tr '\0' 'x')
body="{\"type\":\"disk\",\"variables\":{\"pad\":\"$big\"}}"
created=0 refused=0
for i in $(seq 300); do
  s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary "$body" "http://$http/v1/jobs")
  case "$s" in 201) created=$((created + 1)) ;; 503) refused=$((refused + 1)) ;; *) fail "create answered $s" ;; esac
done
echo "full_disk_test: $created created, $refused refused on a full disk"
[ "$refused" -ge 100 ] || fail "expected most creates refused on a full disk, $refused were"

out=$("$chute" --address "$grpc" job create disk --variables "{\"pad\":\"$big\"}" 2>&1) && fail "chute job create succeeded on a full disk"
grep -q 'is running and refused this itself' <<<"$out" || fail "no precise CLI hint: $out"
grep -q 'Is chuted running' <<<"$out" && fail "the CLI asks whether chuted runs, though it answered: $out"
echo "full_disk_test: chute said: $(tail -1 <<<"$out")"

lines=$(grep -c 'commit failed' "$dir/chuted.log" || true)
echo "full_disk_test: $lines log lines about failed commits for $refused failures"
[ "$lines" -ge 1 ] || fail "no log line for the failed commits"
[ "$lines" -le 12 ] || fail "$lines log lines for failed commits: not rate limited"

rm -f "$dir/fs/filler"
ok=0
for _ in $(seq 50); do
  s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      --data-binary '{"type":"disk"}' "http://$http/v1/jobs")
  [ "$s" = 201 ] && { ok=1; break; }
  sleep 0.1
done
[ "$ok" = 1 ] || fail "creates still fail after space was freed"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
if [ "$fails" = 0 ]; then echo "full_disk_test: passed"; else echo "full_disk_test: $fails failures"; fi
[ "$fails" = 0 ]
