#!/usr/bin/env bash
# `make up`: prepares the local stores and serves the app on $3 — with real `spin up` when a
# Spin >= 4.0 is installed, else with the local host (tests/host) — and keeps the live values
# moving with the simulator until you stop it (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
host=$1 cli=$2 listen=$3

# The JWT secret is a required variable with no default: generate one for this checkout, once,
# into .env (git-ignored), where runtime-config.toml's env provider reads it.
if [ -z "${SPIN_VARIABLE_JWT_SECRET:-}" ] && ! grep -q '^SPIN_VARIABLE_JWT_SECRET=' .env 2>/dev/null; then
  echo "SPIN_VARIABLE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')" >> .env
  chmod 600 .env
  echo "Generated a JWT secret in .env"
fi
set -a
# shellcheck disable=SC1091
. ./.env
set +a

"$cli" migrate
"$cli" seed --days 7 --if-empty

"$cli" simulate --quiet --history &
simulator=$!
trap 'kill $simulator 2>/dev/null || true' EXIT INT TERM

# RUNTIME=spin|host|auto (default auto: real Spin when a new enough one is installed).
runtime=${RUNTIME:-auto}
spin=$(scripts/which-spin.sh || true)
v=$([ -n "$spin" ] && "$spin" --version 2>/dev/null | awk '{print $2}' || true)
new_enough() { [ -n "$v" ] && [ "$(printf '4.0.0\n%s\n' "$v" | sort -V | head -n1)" = 4.0.0 ]; }
case "$runtime" in
  spin) new_enough || { echo "RUNTIME=spin: no Spin >= 4.0 found (SOLARHUB_SPIN or PATH)" >&2; exit 1; } ;;
  host) ;;
  auto) new_enough && runtime=spin || runtime=host ;;
  *) echo "RUNTIME must be spin, host or auto" >&2; exit 2 ;;
esac
if [ "$runtime" = spin ]; then
  echo "Using spin $v ($spin)"
  "$spin" up --listen "$listen" --runtime-config-file runtime-config.toml
else
  echo "Using the local host (tests/host)"
  "$host" up --listen "$listen" --runtime-config-file runtime-config.toml
fi
