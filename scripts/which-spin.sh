#!/usr/bin/env bash
# Prints the real Spin the tests and `make up` use: $SOLARHUB_SPIN, else `spin` on PATH.
# With --describe, one line for a person (and exit 0 even when there is none).
set -euo pipefail
spin=${SOLARHUB_SPIN:-$(command -v spin || true)}
if [ "${1:-}" = --describe ]; then
  if [ -n "$spin" ] && version=$("$spin" --version 2>/dev/null); then
    echo "real Spin: $version ($spin) — end-to-end tests run on it and in the local host"
  else
    echo "real Spin: none found (set SOLARHUB_SPIN or put spin on PATH) — end-to-end tests run in the local host only"
  fi
  exit 0
fi
[ -n "$spin" ] || exit 1
echo "$spin"
