#!/usr/bin/env bash
# Throughput of the compiled components in the local host, side by side in one run, with wrk on
# loopback (bounded: DURATION seconds per route). Needs `make build native` and a migrated local
# database (`make up` once, or `solarhub migrate`). Not a test: numbers only, ratios are what
# travel between machines.
#
#   bench/run.sh            # 10 s per route, 16 connections
#   DURATION=5 CONNS=32 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
TARGET_DIR=${CARGO_TARGET_DIR:-target}
HOST=$TARGET_DIR/release/solarhub-host
CLI=$TARGET_DIR/release/solarhub
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
APP=127.0.0.1:3100
FIXTURE=127.0.0.1:3101
SECRET=$(head -c 32 /dev/urandom | base64)
PREFIX="bench$$_"
export SPIN_VARIABLE_JWT_SECRET=$SECRET SPIN_VARIABLE_TOKEN=bench SPIN_VARIABLE_REDIS_KEY_PREFIX=$PREFIX

"$HOST" up --quiet --listen $APP >/tmp/solarhub-bench-app.log 2>&1 &
app=$!
"$HOST" up --quiet --listen $FIXTURE --from tests/fixtures/spin.toml >/tmp/solarhub-bench-fixture.log 2>&1 &
fixture=$!
user="bench$$"
cleanup() {
  kill $app $fixture 2>/dev/null || true
  mysql -uroot ess -e "DELETE FROM users WHERE username = '$user'" 2>/dev/null || true
  redis-cli --scan --pattern "${PREFIX}*" | xargs -r redis-cli del >/dev/null
}
trap cleanup EXIT
for _ in $(seq 200); do
  curl -sf -o /dev/null http://$APP/.well-known/spin/health && curl -sf -o /dev/null http://$FIXTURE/.well-known/spin/health && break
  sleep 0.05
done
curl -sf -o /dev/null http://$APP/.well-known/spin/health || { echo "host did not start: see /tmp/solarhub-bench-app.log" >&2; exit 1; }

SOLARHUB_USER_PASSWORD="bench password $$" "$CLI" user create --username "$user" --email "$user@bench.invalid" --role viewer >/dev/null
TOKEN=$(curl -sf -H 'content-type: application/json' -d "{\"username\":\"$user\",\"password\":\"bench password $$\"}" http://$APP/api/v1/auth/login | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

run() {
  local name=$1; shift
  local rps
  rps=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@" 2>/dev/null | awk '/Requests\/sec/ {print $2}')
  printf '%-44s %10s req/s\n' "$name" "$rps"
}
echo "wrk -t2 -c$CONNS -d${DURATION}s, $(nproc) cores, $(date -u +%FT%TZ)"
run "host only (/.well-known/spin/health)" http://$APP/.well-known/spin/health
run "instance + 1 variable (fixture probe)" http://$FIXTURE/probe/var/greeting
run "GET /api/v1/health (19 dbs, 2 redis)" http://$APP/api/v1/health
run "GET /api/v1/auth/me (guard + redis + mysql)" -H "authorization: Bearer $TOKEN" http://$APP/api/v1/auth/me
