#!/usr/bin/env bash
# Compatibility suite: real Zeebe clients from the npm registry against chuted.
#
#   tests/compat/run.sh <path-to-chuted> [test files...]
#
# Installs the pinned clients with `npm ci` when node_modules is missing or the
# lockfile changed, runs every test/*.test.js (or the files given) with node's
# test runner, and ends with the line "N passed, N failed". Exits non-zero on
# any failure.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 <path-to-chuted> [test files...]" >&2
  exit 2
fi
chuted=$1
shift
if [ ! -x "$chuted" ]; then
  echo "compat: $chuted is not an executable" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
CHUTED=$(cd "$(dirname "$chuted")" && pwd)/$(basename "$chuted")
export CHUTED

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

command -v node >/dev/null || { echo "compat: node is not installed" >&2; echo "0 passed, 1 failed"; exit 1; }
command -v npm >/dev/null || { echo "compat: npm is not installed" >&2; echo "0 passed, 1 failed"; exit 1; }

# npm ci only when needed: the stamp holds the hash of the lockfile it installed.
stamp=node_modules/.chute-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "compat: npm ci"
  log=$(mktemp "${TMPDIR:-/tmp}/chute-compat-npm.XXXXXX")
  if ! npm ci --no-audit --no-fund --loglevel=error --userconfig "$here/.npmrc" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "0 passed, 1 failed"
    exit 1
  fi
  rm -f "$log"
  echo "$want" >"$stamp"
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=(test/*.test.js)
fi

tap=$(mktemp "${TMPDIR:-/tmp}/chute-compat-tap.XXXXXX")
trap 'rm -f "$tap"' EXIT
start=$(date +%s)
set +e
node --test --test-concurrency=1 --test-timeout=180000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}"
rc=$?
set -e

# Only the root summary lines (no indentation) of the TAP stream.
pass=$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tap" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tap" | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9]\+\)$/\1/p' "$tap" | tail -1)
pass=${pass:-0}
fail=$(( ${fail:-0} + ${cancelled:-0} ))
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
  fail=1   # the runner failed without counting a test (a crash, a file that did not load)
fi
echo "compat: $(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
