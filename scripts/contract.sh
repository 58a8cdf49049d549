#!/usr/bin/env bash
# `make contract`: schemathesis over the app's own OpenAPI document (/api/v1/openapi.json), every
# operation, as each role and without a token: response bodies and headers must match the
# document, every status must be documented, none may be a 5xx; user creation is followed through
# its OpenAPI links (update, delete). The app runs in the local host on stores of its own —
# databases and Redis keys under a unique prefix, migrated, seeded, with an admin, an operator
# and a viewer made by the CLI — which are removed afterwards, with everything else it started.
#
#   scripts/contract.sh HOST CLI      (the Makefile passes the built solarhub-host and solarhub)
#
# CONTRACT_MAX_EXAMPLES bounds the examples per operation and phase (default 25; CI uses fewer).
# Needs what `make test` needs (MariaDB on 127.0.0.1:3306 as root without a password, Redis on
# 127.0.0.1:6379, the mysql and redis-cli clients) and python3 >= 3.11; schemathesis is
# installed into a virtual environment under ~/.cache the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(readlink -f "$1") cli=$(readlink -f "$2")
examples=${CONTRACT_MAX_EXAMPLES:-25}

# Pinned: a new schemathesis may check more, which is welcome, but on purpose, not by surprise.
SCHEMATHESIS_VERSION=4.32.5

for tool in mysql redis-cli; do
  command -v "$tool" >/dev/null || { echo "contract: $tool is needed" >&2; exit 1; }
done

# A python3 schemathesis runs on (>= 3.11). CPython 3.11.7 and 3.12.1 break hypothesis' reading
# of its own source ("SystemError: AST constructor recursion depth mismatch", fixed in 3.11.8 and
# 3.12.2): another python3 on the machine is taken instead. CONTRACT_PYTHON chooses one. Debian
# 12's 3.11.2 shows the same error when two threads parse at once, hence one worker
# (scripts/contract/schemathesis.toml).
python=
for candidate in ${CONTRACT_PYTHON:-} python3 /usr/bin/python3 python3.13 python3.12 python3.11; do
  command -v "$candidate" >/dev/null || continue
  version=$("$candidate" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || continue
  case $version in 3.11.7 | 3.12.1 | 3.[0-9].* | 3.10.*) continue ;; esac
  python=$candidate
  break
done
[ -n "$python" ] || { echo "contract: no usable python3 (>= 3.11, not 3.11.7 or 3.12.1)" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/solarhub-contract
venv=$cache/schemathesis-$SCHEMATHESIS_VERSION-py$version

if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  echo "Installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  # Debian's python3 lacks ensurepip unless python3-venv is installed: then make the environment
  # without pip and let the system's pip install into it (pip >= 22.3 takes --python).
  if "$python" -m venv "$venv" 2>/dev/null; then
    "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  else
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv"
    "$python" -m pip --python "$venv/bin/python" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  fi
fi

prefix="contract_$$_$(date +%s)_"
work=$(mktemp -d)
pids=()
databases() {
  mysql -h 127.0.0.1 -P 3306 -u root -N -e "SHOW DATABASES" | grep "^${prefix}" || true
}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Only what this run created: its databases and its keys, all named with its prefix.
  for db in $(databases); do
    mysql -h 127.0.0.1 -P 3306 -u root -e "DROP DATABASE \`$db\`"
  done
  # In the server (keys the fuzzing made may hold any bytes, which a shell pipe would mangle).
  redis-cli -h 127.0.0.1 -p 6379 EVAL "local cursor = '0' repeat
      local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
      cursor = page[1]
      for _, key in ipairs(page[2]) do redis.call('DEL', key) end
    until cursor == '0'" 0 "${prefix}*" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export SOLARHUB_DB_PREFIX=$prefix SOLARHUB_REDIS_PREFIX=$prefix
"$cli" migrate --quiet
"$cli" seed --days 2 >/dev/null
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
declare -A ids
for role in admin operator viewer; do
  out=$(SOLARHUB_USER_PASSWORD=$password "$cli" user create --username "contract-$role" \
    --email "contract-$role@example.test" --full-name "Contract $role" --role "$role")
  # "created user contract-admin (id 1) with role admin"
  ids[$role]=$(sed -n 's/.*(id \([0-9]*\)).*/\1/p' <<<"$out")
done
# Live values, kept moving as the collectors would.
"$cli" simulate --quiet >"$work/simulate.log" 2>&1 &
pids+=($!)

# The app on a free port, with every database under the prefix (URLs from spin.toml's defaults)
# and every variable that matters here given explicitly; run from an empty directory so a
# developer's .env is not read.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
variables=()
while read -r name url; do
  variables+=(--variable "$name=${url%/*}/$prefix${url##*/}")
done < <(sed -n 's/^\(db_[a-z0-9]*_url\) = { default = "\([^"]*\)".*/\1 \2/p' spin.toml)
# Budgets and login throttling would turn the fuzzing into 429s (documented, so conformant, but
# testing nothing else): set far above what the run sends, so they are still counted and their
# headers still checked against the document.
for group in telemetry trading alerts admin session; do
  variables+=(--variable "rate_limit_$group=token=1000000,address=1000000,window=60")
done
variables+=(
  --variable "redis_key_prefix=$prefix"
  --variable "jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
  --variable "login_max_failures_per_user=1000000"
  --variable "login_max_attempts_per_address=1000000"
)
(cd "$work" && exec "$host" up --from "$OLDPWD/spin.toml" --listen "127.0.0.1:$port" \
  --quiet "${variables[@]}") >"$work/host.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
"$venv/bin/python" - "$base/api/v1/health" <<'WAIT' || { cat "$work/host.log" >&2; exit 1; }
import sys, time, urllib.error, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=2)
        sys.exit(0)
    except urllib.error.HTTPError as e:
        sys.exit(f"the app is up but not healthy: {e.code} {e.read()[:500]!r}")
    except OSError:
        time.sleep(0.2)
sys.exit("the app did not start")
WAIT

export SOLARHUB_CONTRACT_URL=$base SOLARHUB_CONTRACT_PASSWORD=$password
export SOLARHUB_CONTRACT_ACCOUNTS="${ids[admin]},${ids[operator]},${ids[viewer]}"
export PYTHONPATH=$PWD/scripts/contract SCHEMATHESIS_HOOKS=hooks
status=0
# Without a token first, the admin last: its run creates, changes and deletes users.
for role in none viewer operator admin; do
  echo "== schemathesis as ${role/none/an anonymous client}"
  if [ "$role" = none ]; then
    unset SOLARHUB_CONTRACT_ROLE SOLARHUB_CONTRACT_USER
  else
    export SOLARHUB_CONTRACT_ROLE=$role SOLARHUB_CONTRACT_USER=contract-$role
  fi
  "$venv/bin/schemathesis" --config-file scripts/contract/schemathesis.toml run \
    "$base/api/v1/openapi.json" --max-examples "$examples" || status=1
done
if [ "$status" != 0 ]; then
  echo "contract: schemathesis found failures (the host's log: below)" >&2
  tail -n 40 "$work/host.log" >&2
fi
exit "$status"
