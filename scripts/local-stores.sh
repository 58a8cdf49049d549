# Project-local MariaDB and Redis for `make up` (sourced by scripts/up.sh, not run on its own).
#
# When the stores the app is configured for do not answer, up.sh starts its own: the server
# binaries of the machine (nothing is installed, no system service is touched, no root needed),
# data under $SOLARHUB_LOCAL_DIR (default .local/, git-ignored), loopback only, on free ports. It
# writes $SOLARHUB_LOCAL_DIR/stores.env with the variables that point the app and the CLI at them
# (`. .local/stores.env` in another shell to use `solarhub user create` against them), and stops
# the servers when up.sh exits.

local_dir=${SOLARHUB_LOCAL_DIR:-.local}
local_pids=()

# True when something accepts TCP connections at host:port (within 2 s when `timeout` exists;
# macOS has none by default, and a refused loopback port answers at once anyway).
answers() {
  local host=${1%:*} port=${1##*:}
  if command -v timeout >/dev/null; then
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
  else
    bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
  fi
}

# A loopback port nothing listens on, starting at a random point of 20000-39999 so that two
# checkouts (or tests) starting at once rarely pick the same one.
free_port() {
  local port=$((20000 + RANDOM % 20000)) tries=0
  while answers "127.0.0.1:$port"; do
    port=$((port + 1)) tries=$((tries + 1))
    [ $tries -lt 200 ] || return 1
  done
  echo "$port"
}

# The program named by environment variable $1 when that is set (an unusual install, e.g. a
# MariaDB tarball), else the first of the other names found on PATH or where distributions and
# Homebrew put servers.
find_binary() {
  local override=$1 name dir
  shift
  if [ -n "${!override:-}" ]; then
    [ -x "${!override}" ] && echo "${!override}" && return 0
    return 1
  fi
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    for dir in /usr/sbin /usr/libexec /usr/local/sbin /usr/local/bin /opt/homebrew/bin /opt/homebrew/sbin; do
      if [ -x "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
    done
  done
  return 1
}

missing_binaries() {
  {
    printf '%s ' "make up: the configured stores do not answer ($1), and the server binaries to start" \
      "project-local ones were not found ($2). Install them; none needs to run as a service: make up" \
      "starts its own MariaDB and Redis under .local/ on free ports and stops them on exit." \
      "Debian/Ubuntu: sudo apt-get install mariadb-server redis-server (these also start system" \
      "services, which make up then simply uses). Fedora: sudo dnf install mariadb-server redis (on" \
      "Fedora 41 and later: valkey valkey-compat-redis). macOS with Homebrew: brew install mariadb redis." \
      "Or point the app at servers you already have: SPIN_VARIABLE_<NAME>=value lines in .env for the" \
      "store variables db_*_url, mysql_host, redis_*_url and redis_*_host."
    echo
  } | fold -s -w 100 >&2
  exit 1
}

# Waits until `pid` listens on `port`; false when it exited first or took longer than 60 s.
wait_listening() {
  local pid=$1 port=$2 i
  for i in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 1
    answers "127.0.0.1:$port" && return 0
    sleep 0.1
  done
  return 1
}

# A server of ours left running by an earlier up.sh that was killed outright: stop it, so its
# data directory is free again.
stop_stale() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "Stopping a project-local server left running (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

start_local_mariadb() {
  local server install data port sock pid as_root=()
  server=$(find_binary SOLARHUB_MARIADBD mariadbd mysqld) || return 1
  install=$(find_binary SOLARHUB_MARIADB_INSTALL_DB mariadb-install-db mysql_install_db) || return 1
  data="$local_dir/mariadb"
  mkdir -p "$local_dir"
  # mariadbd refuses to run as root unless told to (CI and containers run as root).
  [ "$(id -u)" = 0 ] && as_root=(--user=root)
  stop_stale "$local_dir/mariadb.pid"
  if [ ! -d "$data/mysql" ]; then
    echo "Creating a project-local MariaDB in $data"
    # Tried twice: it has failed now and then in the tests here (two installs at once on a busy
    # machine; cause not found, its log was gone with the test's directory). When the second try
    # fails too, the log's end is shown.
    local attempt
    for attempt in 1 2; do
      rm -rf "$data"
      # `normal`: root@localhost/127.0.0.1/::1 with an empty password, like the README's defaults.
      "$install" --no-defaults --datadir="$data" --auth-root-authentication-method=normal \
        ${as_root[@]+"${as_root[@]}"} >"$local_dir/mariadb-install.log" 2>&1 && break
      if [ "$attempt" = 2 ]; then
        echo "mariadb-install-db failed; see $local_dir/mariadb-install.log:" >&2
        tail -n 20 "$local_dir/mariadb-install.log" >&2
        return 2
      fi
    done
  fi
  port=$(free_port)
  # A socket path must stay under ~100 bytes; a deep checkout would pass that.
  sock="$(cd "$local_dir" && pwd)/mariadb.sock"
  [ ${#sock} -lt 100 ] || sock="$(mktemp -d)/mariadb.sock"
  "$server" --no-defaults --datadir="$data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$sock" --pid-file="$(cd "$local_dir" && pwd)/mariadbd.pid" \
    --log-error="$(cd "$local_dir" && pwd)/mariadb.err" --skip-name-resolve --skip-log-bin \
    --innodb-buffer-pool-size=64M ${as_root[@]+"${as_root[@]}"} >/dev/null 2>&1 &
  pid=$!
  echo "$pid" >"$local_dir/mariadb.pid"
  local_pids+=("$pid")
  if ! wait_listening "$pid" "$port"; then
    echo "The project-local MariaDB did not start; the end of $local_dir/mariadb.err:" >&2
    tail -n 15 "$local_dir/mariadb.err" >&2 || true
    return 2
  fi
  echo "Project-local MariaDB on 127.0.0.1:$port (pid $pid, data in $data)"
  local_mysql_port=$port
}

start_local_redis() {
  local server port pid
  server=$(find_binary SOLARHUB_REDIS_SERVER redis-server valkey-server) || return 1
  mkdir -p "$local_dir/redis"
  stop_stale "$local_dir/redis.pid"
  port=$(free_port)
  # Live values only (the simulator rewrites them every second): nothing kept on disk.
  "$server" --port "$port" --bind 127.0.0.1 --dir "$local_dir/redis" --save "" \
    --appendonly no --daemonize no --logfile "$(cd "$local_dir" && pwd)/redis.log" >/dev/null 2>&1 &
  pid=$!
  echo "$pid" >"$local_dir/redis.pid"
  local_pids+=("$pid")
  if ! wait_listening "$pid" "$port"; then
    echo "The project-local Redis did not start; the end of $local_dir/redis.log:" >&2
    tail -n 15 "$local_dir/redis.log" >&2 || true
    return 2
  fi
  echo "Project-local Redis on 127.0.0.1:$port (pid $pid)"
  local_redis_port=$port
}

# Stops what start_local_* started: SIGTERM (both shut down cleanly on it), then waits.
stop_local_stores() {
  local pid
  for pid in ${local_pids[@]+"${local_pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${local_pids[@]+"${local_pids[@]}"}; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$local_dir/mariadb.pid" "$local_dir/redis.pid" "$local_dir/stores.env"
  local_pids=()
}

# The CLI's name (cli/README.md "Environment") of Spin variable NAME, when it reads that setting.
cli_twin() {
  case $1 in
    DB_*_URL | REDIS_MAIN_URL | REDIS_GTR_URL) echo "SOLARHUB_$1" ;;
    REDIS_KEY_PREFIX) echo SOLARHUB_REDIS_PREFIX ;;
    SITE_UTC_OFFSET) echo SOLARHUB_SITE_UTC_OFFSET ;;
  esac
}

# Exports `SPIN_VARIABLE_<NAME>=value` for the app and the CLI's twin, and records both in
# stores.env.
point() {
  local twin
  export "SPIN_VARIABLE_$1=$2"
  echo "export SPIN_VARIABLE_$1='$2'" >>"$local_dir/stores.env"
  twin=$(cli_twin "$1")
  if [ -n "$twin" ]; then
    export "$twin=$2"
    echo "export $twin='$2'" >>"$local_dir/stores.env"
  fi
}

# Starts what does not answer and points the app (SPIN_VARIABLE_*) and the CLI (SOLARHUB_*) at it.
# SOLARHUB_LOCAL_STORES=never turns this off (the run then fails at the first connection).
use_local_stores_if_needed() {
  local mysql_hosts redis_hosts mysql_down="" redis_down="" h name db rc
  [ "${SOLARHUB_LOCAL_STORES:-auto}" != never ] || return 0
  mysql_hosts="${SPIN_VARIABLE_MYSQL_HOST:-127.0.0.1:3306} ${SPIN_VARIABLE_GTR_MYSQL_HOST:-127.0.0.1:3306}"
  redis_hosts="${SPIN_VARIABLE_REDIS_MAIN_HOST:-127.0.0.1:6379} ${SPIN_VARIABLE_REDIS_GTR_HOST:-127.0.0.1:6379}"
  for h in $mysql_hosts; do answers "$h" || mysql_down="$mysql_down $h"; done
  for h in $redis_hosts; do answers "$h" || redis_down="$redis_down $h"; done
  [ -n "$mysql_down$redis_down" ] || return 0

  local have_mysql=yes have_redis=yes
  [ -z "$mysql_down" ] || { find_binary SOLARHUB_MARIADBD mariadbd mysqld >/dev/null && find_binary SOLARHUB_MARIADB_INSTALL_DB mariadb-install-db mysql_install_db >/dev/null; } || have_mysql=no
  [ -z "$redis_down" ] || find_binary SOLARHUB_REDIS_SERVER redis-server valkey-server >/dev/null || have_redis=no
  if [ $have_mysql = no ] || [ $have_redis = no ]; then
    local wanted=""
    [ $have_mysql = yes ] || wanted="mariadbd and mariadb-install-db"
    [ $have_redis = yes ] || wanted="${wanted:+$wanted, }redis-server"
    missing_binaries "nothing answers at${mysql_down}${redis_down}" "$wanted"
  fi

  mkdir -p "$local_dir"
  : >"$local_dir/stores.env"
  chmod 600 "$local_dir/stores.env"
  if [ -n "$mysql_down" ]; then
    echo "MySQL does not answer at${mysql_down}: starting a project-local MariaDB"
    rc=0; start_local_mariadb || rc=$?
    [ $rc = 0 ] || exit 1
    point MYSQL_HOST "127.0.0.1:$local_mysql_port"
    point GTR_MYSQL_HOST "127.0.0.1:$local_mysql_port"
    # Every database URL, with the names spin.toml gives them by default.
    while read -r name db; do
      point "DB_${name}_URL" "mysql://root@127.0.0.1:$local_mysql_port/$db"
    done < <(sed -n 's|^db_\([a-z0-9]*\)_url = { default = "mysql://[^/]*/\([A-Za-z0-9]*\)".*|\1 \2|p' spin.toml \
      | awk '{ print toupper($1), $2 }')
  fi
  if [ -n "$redis_down" ]; then
    echo "Redis does not answer at${redis_down}: starting a project-local Redis"
    rc=0; start_local_redis || rc=$?
    [ $rc = 0 ] || exit 1
    for name in MAIN GTR; do
      point "REDIS_${name}_HOST" "127.0.0.1:$local_redis_port"
      point "REDIS_${name}_URL" "redis://127.0.0.1:$local_redis_port"
    done
  fi
  echo "The app and the CLI use them; in another shell: . $local_dir/stores.env"
}
