#!/usr/bin/env bash
# Serves the FastAPI reference implementation: uvicorn, 2 workers, uvloop, httptools, no access log.
#
#   bench/reference/run.sh [HOST:PORT]      # default $REF_LISTEN, else 127.0.0.1:3200
#
# Configuration is the Spin variables' environment (SPIN_VARIABLE_JWT_SECRET is required;
# SPIN_VARIABLE_DB_*_URL, SPIN_VARIABLE_REDIS_*_URL, SPIN_VARIABLE_REDIS_KEY_PREFIX, ... default
# as in spin.toml). The virtualenv lives outside the source tree ($REF_VENV, default
# ~/.cache/solarhub-bench/venv) and is (re)built when requirements.txt changes.
# REF_WORKERS (default 2) and REF_MYSQL_POOL_SIZE (per worker and server, default 10) tune it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
listen=${1:-${REF_LISTEN:-127.0.0.1:3200}}
venv=${REF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/solarhub-bench/venv}
python=${PYTHON:-python3}

want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/uvicorn" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "run.sh: Python >= 3.11 is needed (set PYTHON)" >&2; exit 1; }
  echo "run.sh: installing requirements into $venv" >&2
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  echo "$want" >"$venv/.requirements.sha256"
fi

# No __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/uvicorn" app:app --app-dir "$here" \
  --host "${listen%:*}" --port "${listen##*:}" --workers "${REF_WORKERS:-2}" \
  --loop uvloop --http httptools --no-access-log --log-level warning
