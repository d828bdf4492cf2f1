#!/usr/bin/env bash
# Installs the Debian packages Chute needs to build and test, and only those
# that are missing. Safe to run any number of times.
#
#   scripts/deps.sh          build and test dependencies
#   scripts/deps.sh bench    also the peers the benchmarks compare against
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libuv1-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
      libsqlite3-dev libjansson-dev libhttp-parser-dev libcmocka-dev zlib1g-dev libexpat1-dev libpcre2-dev
      sqlite3 nodejs npm curl jq python3-yaml)
if [ "${1:-}" = bench ]; then
  pkgs+=(beanstalkd redis-server postgresql libpq-dev libhiredis-dev wrk)
fi

missing=()
for p in "${pkgs[@]}"; do
  # nodejs/npm may come from outside Debian (a preinstalled toolchain): a
  # working command is as good as the package.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm)    command -v npm  >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
