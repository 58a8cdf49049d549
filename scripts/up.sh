#!/usr/bin/env bash
# `make up`: prepares the stores and serves the app on $3 — with real `spin up` when a Spin >= 4.0
# is installed, else with the local host (tests/host) — and keeps the live values moving with the
# simulator until you stop it (Ctrl-C, or SIGTERM to this script).
#
# When the configured MariaDB or Redis does not answer, project-local ones are started from the
# machine's server binaries (scripts/local-stores.sh) and stopped again on exit.
#
# Environment: RUNTIME=spin|host|auto; SOLARHUB_ENV_FILE (default .env); SOLARHUB_LOCAL_DIR
# (default .local); SOLARHUB_LOCAL_STORES=auto|never; SOLARHUB_SEED_DAYS (default 7);
# SOLARHUB_MARIADBD, SOLARHUB_MARIADB_INSTALL_DB, SOLARHUB_REDIS_SERVER (server binaries to use).
set -euo pipefail
cd "$(dirname "$0")/.."
host=$1 cli=$2 listen=$3
env_file=${SOLARHUB_ENV_FILE:-.env}
# shellcheck source=scripts/local-stores.sh
. scripts/local-stores.sh

# The JWT secret is a required variable with no default: generate one for this checkout, once,
# into .env (git-ignored), where runtime-config.toml's env provider reads it.
if [ -z "${SPIN_VARIABLE_JWT_SECRET:-}" ] && ! grep -q '^SPIN_VARIABLE_JWT_SECRET=' "$env_file" 2>/dev/null; then
  echo "SPIN_VARIABLE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')" >> "$env_file"
  chmod 600 "$env_file"
  echo "Generated a JWT secret in $env_file"
fi

# .env as Spin's env provider reads it: a variable already in the environment wins.
if [ -f "$env_file" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    name=${line%%=*} value=${line#*=}
    name=${name#export }
    case $value in \"*\") value=${value#\"} value=${value%\"} ;; \'*\') value=${value#\'} value=${value%\'} ;; esac
    [ -n "${!name+x}" ] || export "$name=$value"
  done <"$env_file"
fi

children=()
stop_all() {
  local pid
  trap - EXIT INT TERM
  for pid in ${children[@]+"${children[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${children[@]+"${children[@]}"}; do wait "$pid" 2>/dev/null || true; done
  stop_local_stores
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_local_stores_if_needed

# The CLI reads its own names for the same settings (cli/README.md): give it the app's.
for var in $(compgen -e | grep '^SPIN_VARIABLE_' || true); do
  twin=$(cli_twin "${var#SPIN_VARIABLE_}")
  if [ -n "$twin" ] && [ -z "${!twin+x}" ]; then export "$twin=${!var}"; fi
done

"$cli" migrate
"$cli" seed --days "${SOLARHUB_SEED_DAYS:-7}" --if-empty

"$cli" simulate --quiet --history &
children+=($!)

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
# In the background, and waited for: a signal to this script then stops everything at once
# (bash runs a trap only between commands, and a foreground child would delay it).
if [ "$runtime" = spin ]; then
  echo "Using spin $v ($spin)"
  "$spin" up --listen "$listen" --runtime-config-file runtime-config.toml &
else
  echo "Using the local host (tests/host)"
  "$host" up --listen "$listen" --runtime-config-file runtime-config.toml &
fi
server=$!
children+=("$server")

# The notifier is an app of its own (spin-notifier.toml): Spin's Redis trigger ends it whenever
# Redis goes away, so it is started again after a pause, as systemd's Restart= does (deploy/).
notifier() {
  local child=
  trap 'kill "$child" 2>/dev/null; exit 0' TERM
  while :; do
    if [ "$runtime" = spin ]; then
      "$spin" up --from spin-notifier.toml --runtime-config-file runtime-config.toml &
    else
      "$host" up --from spin-notifier.toml --listen 127.0.0.1:0 --runtime-config-file runtime-config.toml &
    fi
    child=$!
    wait "$child" || true
    sleep 2
  done
}
notifier &
children+=($!)
status=0
wait "$server" || status=$?
exit "$status"
