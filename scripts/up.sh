#!/usr/bin/env bash
# `make up`: prepares the local stores and serves the app, with real `spin up` when a Spin >= 3.5
# is installed, else with the local host (tests/host).
set -euo pipefail
cd "$(dirname "$0")/.."
host=$1 cli=$2 listen=$3

"$cli" migrate
if "$cli" status --quiet-if-seeded 2>/dev/null; then
  echo "History present: not seeding (run \`$cli seed --days 7\` to regenerate)."
else
  "$cli" seed --days 7
fi

"$cli" simulate &
simulator=$!
trap 'kill $simulator 2>/dev/null || true' EXIT

spin_ok() {
  command -v spin >/dev/null 2>&1 || return 1
  local v; v=$(spin --version 2>/dev/null | awk '{print $2}')
  [ -n "$v" ] || return 1
  [ "$(printf '3.5.0\n%s\n' "$v" | sort -V | head -n1)" = 3.5.0 ]
}

if spin_ok; then
  echo "Using $(spin --version)"
  spin up --listen "$listen" --runtime-config-file runtime-config.toml
else
  "$host" up --listen "$listen" --runtime-config-file runtime-config.toml
fi
