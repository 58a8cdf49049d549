#!/usr/bin/env python3
"""Side-by-side benchmark: real Spin, the local host (tests/host) and the FastAPI reference
(bench/reference), on the same freshly seeded data, route by route, interleaved.

Standard library only. Started by bench/run.sh; see bench/README.md for what it measures.
Everything it creates (databases `bench<pid><hex>_*`, Redis keys with that prefix, a temp dir,
the server processes, the live-value simulator) is removed on exit; nothing else is touched. All
traffic is to 127.0.0.1.

Environment (all optional):
  DURATION=5        seconds per measured wrk run
  WARMUP=1          seconds of unmeasured wrk -c8 per route and runtime before its runs (0: none)
  STARTS=3          fresh starts per runtime for the start-up time (median)
  SEED_DAYS=1       days of demo history to seed
  RUNTIMES=spin,host,ref   which runtimes to run (the default needs all three)
  ROUTES=a,b        only routes whose key is listed (keys: first column of ROUTES below)
  RESULTS=bench/results/latest.md   where the table goes (a .json with the raw numbers beside it)
  MAX_SECONDS       hard limit for the whole run (default: computed from the above, x2 + 5 min)
  KEEP_TMP=1        keep the temp dir with the servers' logs
  SOLARHUB_SPIN, CARGO_TARGET_DIR   as for the rest of the project
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import dataclasses
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------------------------
# The routes. One row per route class; later issues add rows here.
#   key      short id (ROUTES=... filter, JSON)
#   label    what the table shows
#   path     request path (same on every runtime)
#   auth     None (no token), "viewer" or "admin": whose bearer token is sent
#   expect   the status every response must have; non-2xx expectations are checked once before
#            the runs and wrk's "Non-2xx" count is then the expected outcome, not an error
#   method / body / content_type   for non-GET routes (sent through a generated wrk Lua script)
#   only     runtimes that have the route (None: all)
#   cold     Redis keys (glob after the prefix) holding a cache the route fills: its first request
#            with them deleted is timed and counted on each runtime before the runs
# Paths may name {settled_day} (a settled day of the seeded history: local today - 3),
# {day_after} (the day after it: `from={settled_day}&to={day_after}` is that whole local day, a
# fixed 24 h window of the seeded history) and {last_month} (the previous calendar month, fully
# seeded by the default SEED_DAYS).
# ---------------------------------------------------------------------------------------------


@dataclass
class Route:
    key: str
    label: str
    path: str
    auth: str | None = None
    expect: int = 200
    method: str = "GET"
    body: str | None = None
    content_type: str | None = None
    only: tuple[str, ...] | None = None
    cold: str | None = None


ROUTES = [
    Route("trivial", "runtime only: `/.well-known/spin/health`", "/.well-known/spin/health",
          only=("spin", "spin-lean", "host")),
    Route("no-token", "no token: `GET /api/v1/auth/me` → 401", "/api/v1/auth/me", expect=401),
    Route("me", "`GET /api/v1/auth/me` (viewer)", "/api/v1/auth/me", auth="viewer"),
    Route("admin-users", "`GET /api/v1/admin/users` (admin)", "/api/v1/admin/users", auth="admin"),
    Route("health", "`GET /api/v1/health`", "/api/v1/health"),
    Route("openapi", "`GET /api/v1/openapi.json`", "/api/v1/openapi.json"),
    # Live values kept fresh by `solarhub simulate` during the runs: the rack answers from Redis.
    Route("bess", "`GET /api/v1/bess/1` (viewer)", "/api/v1/bess/1", auth="viewer"),
    Route("overview", "`GET /api/v1/system/overview` (viewer)", "/api/v1/system/overview",
          auth="viewer"),
    Route("header", "`GET /api/v1/config/header` (viewer)", "/api/v1/config/header", auth="viewer"),
    # SCAN of the meter hashes, then one HGETALL per meter; fresh, so no MySQL query.
    Route("meters", "`GET /api/v1/meters` (viewer)", "/api/v1/meters", auth="viewer"),
    # One indexed SELECT on ess.alerts; the COUNT only when the page is full (20 of them).
    Route("alerts", "`GET /api/v1/alerts?limit=20` (viewer)", "/api/v1/alerts?limit=20", auth="viewer"),
    # Trading (trading:read, which viewers have). The schedule: one events query.
    Route("schedule", "`GET /api/v1/schedule?weeks=4` (viewer)", "/api/v1/schedule?weeks=4", auth="viewer"),
    # A settled day: computed once (events query + PCS/MMAIN sample queries), then a Redis MGET.
    Route("income-daily", "`GET /api/v1/income/daily?date=` a settled day (viewer)",
          "/api/v1/income/daily?date={settled_day}", auth="viewer"),
    # A whole past month: the cold first request computes and caches every day (one events query,
    # then two sample queries per 40k slots); the runs measure the steady state, one MGET.
    Route("income-monthly", "`GET /api/v1/income/monthly?month=` last month (viewer)",
          "/api/v1/income/monthly?month={last_month}", auth="viewer", cold="cache:income:*"),
    # This month: the settled days from the cache, the last days (today included) computed.
    Route("income-month-now", "`GET /api/v1/income/monthly` this month (viewer)",
          "/api/v1/income/monthly", auth="viewer"),
    Route("execution-rate", "`GET /api/v1/execution-rate?date=` a settled day (viewer)",
          "/api/v1/execution-rate?date={settled_day}", auth="viewer"),
    # Analysis (telemetry:read) over the settled day's 24 h: no cache, every request reads its rows
    # in keyset pages (6 h / 4000 rows a query; freq-power 2 h pages) plus the edge samples.
    # power-loss: 2 PCS + MAUX integrals (edge lookup + 4 pages each) + one rack statement.
    Route("power-loss", "`GET /api/v1/analysis/power-loss` 24 h (viewer)",
          "/api/v1/analysis/power-loss?from={settled_day}&to={day_after}", auth="viewer"),
    # power-io hourly: MMAIN, 2 PCS and the inverter integrated into 24 local hours.
    Route("power-io", "`GET /api/v1/analysis/power-io?interval=hour` 24 h (viewer)",
          "/api/v1/analysis/power-io?from={settled_day}&to={day_after}&interval=hour", auth="viewer"),
    # freq-power: the events query, then 12 two-hour pages of MMAIN + PCS totals + base line,
    # streamed (8640 samples, ~850 KB).
    Route("freq-power", "`GET /api/v1/analysis/freq-power` 24 h, streamed (viewer)",
          "/api/v1/analysis/freq-power?from={settled_day}&to={day_after}", auth="viewer"),
]

# Start-up time is spawn → first 200 of this path (public, no stores on any runtime).
READY_PATH = "/api/v1/openapi.json"

# wrk runs per route and runtime: (name, threads, connections). p50/p99 are read from "c1".
LEVELS = [("c8", 2, 8), ("c64", 2, 64), ("c1", 1, 1)]
RSS_LEVEL = "c64"  # the run during which the process tree's RSS is sampled

RUNTIME_NAMES = {"spin": "Spin", "spin-lean": "Spin, keep-resident 0", "host": "local host",
                 "ref": "FastAPI ref"}
# `spin-lean` (only when asked for in RUNTIMES) is the same `spin up` with Spin's own knob
# SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT=0 (and the table twin): its pooling allocator then
# returns an instance's memory when the instance ends instead of keeping 2 MiB of each slot
# resident, which is most of Spin's memory under load.
LEAN_ENV = {"SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT": "0", "SPIN_WASMTIME_TABLE_KEEP_RESIDENT": "0"}
MYSQL_HOST, MYSQL_PORT, MYSQL_USER = "127.0.0.1", 3306, "root"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def env_num(name: str, default: float) -> float:
    v = os.environ.get(name, "").strip()
    return float(v) if v else default


def site_offset_secs() -> int:
    """spin.toml's `site_utc_offset` default (the bench does not override it), in seconds."""
    with open(os.path.join(REPO, "spin.toml")) as f:
        m = re.search(r'^site_utc_offset\s*=\s*\{[^}]*default\s*=\s*"([^"]*)"', f.read(), re.M)
    z = m.group(1).strip() if m else "+08:00"
    if z in ("Z", "z"):
        return 0
    h, _, mins = z[1:].partition(":")
    return (int(h) * 3600 + int(mins or 0) * 60) * (-1 if z[0] == "-" else 1)


def bench_dates(now: float | None = None) -> dict:
    """The site-local dates the trading routes name, and the seeded days that cover them."""
    now = int(time.time() if now is None else now)
    offset = site_offset_secs()
    today = dt.date(1970, 1, 1) + dt.timedelta(days=(now + offset) // 86_400)
    first = today.replace(day=1)
    last_month = (first - dt.timedelta(days=1)).replace(day=1)
    start = (last_month - dt.date(1970, 1, 1)).days * 86_400 - offset
    end = now // 60 * 60  # where `solarhub seed` ends its window
    return {"settled_day": (today - dt.timedelta(days=3)).isoformat(),
            "day_after": (today - dt.timedelta(days=2)).isoformat(),
            "last_month": last_month.strftime("%Y-%m"),
            # enough days that the previous calendar month is entirely in the window
            "days_for_last_month": -(-(end - start) // 86_400)}


DATES = bench_dates()
DURATION = max(1, int(env_num("DURATION", 5)))
WARMUP = max(0, int(env_num("WARMUP", 1)))
STARTS = max(1, int(env_num("STARTS", 3)))
SEED_DAYS = max(1, int(env_num("SEED_DAYS", DATES["days_for_last_month"])))
COUNT_REQUESTS = max(1, int(env_num("COUNT_REQUESTS", 20)))
COLD_RUNS = max(1, int(env_num("COLD_RUNS", 3)))


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Stores: MySQL through the `mysql` client, Redis through a tiny RESP client (one persistent
# connection, so reading Redis' counters does not move them).
# ---------------------------------------------------------------------------------------------


def mysql(sql: str, timeout: float = 60) -> str:
    out = subprocess.run(
        ["mysql", f"-h{MYSQL_HOST}", f"-P{MYSQL_PORT}", f"-u{MYSQL_USER}", "-N", "-B", "-e", sql],
        capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise BenchError(f"mysql: {out.stderr.strip()}")
    return out.stdout


def mysql_counters() -> tuple[int, int]:
    """MySQL's `Connections` (the `mysql` client reading it is one itself) and
    `Connection_errors_max_connections` (connections refused: max_connections reached)."""
    out = mysql("SHOW GLOBAL STATUS WHERE Variable_name IN "
                "('Connections', 'Connection_errors_max_connections')")
    values = dict(line.split("\t") for line in out.strip().splitlines())
    return int(values["Connections"]), int(values["Connection_errors_max_connections"])


class Redis:
    def __init__(self, host: str = REDIS_HOST, port: int = REDIS_PORT):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.file = self.sock.makefile("rb")

    def cmd(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self):
        line = self.file.readline()
        if not line:
            raise BenchError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BenchError(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise BenchError(f"redis: unexpected reply {line!r}")

    def info_field(self, section: str, name: str) -> str:
        text = self.cmd("INFO", section).decode()
        m = re.search(rf"^{re.escape(name)}:(\S+)", text, re.M)
        if not m:
            raise BenchError(f"redis INFO {section} has no {name}")
        return m.group(1)

    def connections(self) -> int:
        return int(self.info_field("stats", "total_connections_received"))

    def delete_prefix(self, prefix: str, glob: str = "*") -> int:
        """Deletes the keys `prefix` + `glob` (the bench's prefix, and a glob of its own keys)."""
        assert re.fullmatch(r"[A-Za-z0-9_]+", prefix) and re.fullmatch(r"[A-Za-z0-9_:*]+", glob), \
            (prefix, glob)
        cursor, deleted = b"0", 0
        while True:
            cursor, keys = self.cmd("SCAN", cursor, "MATCH", prefix + glob, "COUNT", 1000)
            keys = [k for k in keys if k.startswith(prefix.encode())]
            if keys:
                deleted += self.cmd("DEL", *keys)
            if cursor in (b"0", "0"):
                return deleted

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class MysqlUser:
    """The MySQL account every server under test connects as (created for the run), so the
    server's own per-account counters (MariaDB `information_schema.USER_STATISTICS`, collected
    while `userstat` is on) count their statements and connections and nobody else's: the bench
    and the CLI connect as root, and other MySQL clients on the machine as themselves."""

    FIELDS = ("TOTAL_CONNECTIONS", "SELECT_COMMANDS", "UPDATE_COMMANDS", "OTHER_COMMANDS",
              "ROWS_SENT", "ROWS_READ")

    def __init__(self, prefix: str):
        self.name = prefix + "srv"
        self.password = secrets.token_hex(16)
        self.created = False
        self.enabled_userstat = False
        self.available = False

    def create(self, db_prefix: str):
        assert re.fullmatch(r"[A-Za-z0-9_]+", db_prefix)
        pattern = db_prefix.replace("_", "\\_")
        self.created = True
        mysql(f"CREATE USER '{self.name}'@'%' IDENTIFIED BY '{self.password}'; "
              f"GRANT ALL PRIVILEGES ON `{pattern}%`.* TO '{self.name}'@'%'")
        try:
            if mysql("SELECT @@GLOBAL.userstat").strip() not in ("1", "ON"):
                mysql("SET GLOBAL userstat = ON")
                self.enabled_userstat = True
            self.available = True
        except BenchError as e:
            log(f"note: no per-account MySQL statistics ({e}): statements per request not measured")

    def url(self, database: str) -> str:
        return f"mysql://{self.name}:{self.password}@{MYSQL_HOST}:{MYSQL_PORT}/{database}"

    def stats(self) -> dict | None:
        """The account's counters (zeros before its first statement), or None when unavailable."""
        if not self.available:
            return None
        out = mysql(f"SELECT {', '.join(self.FIELDS)} FROM information_schema.USER_STATISTICS "
                    f"WHERE USER = '{self.name}'").split()
        return dict(zip(self.FIELDS, (int(x) for x in out))) if out else dict.fromkeys(self.FIELDS, 0)

    def drop(self):
        if self.enabled_userstat:
            mysql("SET GLOBAL userstat = OFF")
            self.enabled_userstat = False
        if self.created:
            mysql(f"DROP USER IF EXISTS '{self.name}'@'%'")
            self.created = False


def statements(before: dict | None, after: dict | None) -> int | None:
    if before is None or after is None:
        return None
    return sum(after[f] - before[f] for f in ("SELECT_COMMANDS", "UPDATE_COMMANDS", "OTHER_COMMANDS"))


def tcp_ports_to(pids: list[int], remote_port: int) -> set[int]:
    """Local ports of the TCP connections `pids` hold to `remote_port` on this machine."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == remote_port:
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


class RedisCommandCounter:
    """Redis commands sent by one server's process tree while running, from MONITOR: Redis 7 has no
    per-client command counters, so every command is seen and attributed by the client's address:
    the TCP ports the server's processes hold to Redis (sampled every 20 ms), plus commands naming
    the run's key prefix from connections that are neither the simulator's nor the bench's own
    (a connection opened and closed between two samples). Other clients of the shared Redis are
    left out either way."""

    LINE = re.compile(rb"^\+\d+\.\d+ \[\d+ (?:[\d.]+|\[[0-9a-f:]+\]):(\d+)\] (.*)$")

    def __init__(self, server_root: int, others: list[int], prefix: str):
        self.server_root, self.others, self.prefix = server_root, others, prefix.encode()
        self.ports: set[int] = set()
        self.lines: list[tuple[int, bytes]] = []
        self.commands = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            self.ports |= tcp_ports_to(self.pids, REDIS_PORT)
            self._stop.wait(0.02)

    def _read(self):
        for raw in self.file:
            m = self.LINE.match(raw.rstrip(b"\r\n"))
            if m:
                self.lines.append((int(m.group(1)), m.group(2)))
            if self.marker in raw:
                return

    def __enter__(self):
        self.marker = b"bench-monitor-end-" + secrets.token_hex(8).encode()
        self.own = Redis()  # sends the end marker
        self.mon = Redis()
        if self.mon.cmd("MONITOR") != "OK":
            raise BenchError("redis MONITOR refused")
        self.file = self.mon.file
        self.own_ports = {self.own.sock.getsockname()[1], self.mon.sock.getsockname()[1]}
        self.pids = process_tree(self.server_root)
        self.ports |= tcp_ports_to(self.pids, REDIS_PORT)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._sampler.join()
        self.ports |= tcp_ports_to(process_tree(self.server_root), REDIS_PORT)
        self.own.cmd("ECHO", self.marker)
        self.mon.sock.settimeout(10)
        try:
            self._read()
        finally:
            self.mon.close()
            self.own.close()
        excluded = tcp_ports_to([p for root in self.others for p in process_tree(root)], REDIS_PORT)
        excluded |= self.own_ports
        self.commands = sum(1 for port, args in self.lines
                            if port in self.ports or (port not in excluded and self.prefix in args))


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_rss_kb(root: int) -> int:
    """Memory of a process tree: the sum of each process's PSS (its private pages plus its share
    of pages shared with others), so pages `spin up` shares with its trigger process, or uvicorn's
    master with its forked workers, count once. Falls back to RSS where PSS is unreadable."""
    total = 0
    for pid in process_tree(root):
        total += _pss_kb(pid)
    return total


def _pss_kb(pid: int) -> int:
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def tree_cpu_ticks(root: int) -> int:
    """utime + stime of a process tree, in clock ticks."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total


class RssSampler:
    """Max RSS of a process tree, sampled every 0.2 s while running."""

    def __init__(self, root: int):
        self.root, self.max_kb, self._stop = root, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max_kb = max(self.max_kb, tree_rss_kb(self.root))
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.max_kb = max(self.max_kb, tree_rss_kb(self.root))


def http_request(port: int, path: str, method: str = "GET", headers=None, body=None,
                 timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@dataclass
class Runtime:
    key: str
    argv_for: object  # callable(addr) -> argv
    env: dict
    cwd: str
    workdir: str
    proc: subprocess.Popen | None = None
    port: int = 0
    tokens: dict = field(default_factory=dict)
    spawned: list = field(default_factory=list)  # every process started, for cleanup

    def spawn(self, port: int, tag: str) -> subprocess.Popen:
        out = open(os.path.join(self.workdir, f"{tag}.out"), "wb")
        err = open(os.path.join(self.workdir, f"{tag}.err"), "wb")
        try:
            # Its own session: the server and its children form one process group, ended together.
            proc = subprocess.Popen(self.argv_for(f"127.0.0.1:{port}"), cwd=self.cwd, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            self.spawned.append(proc)
            return proc
        finally:
            out.close()
            err.close()

    def log_tail(self, tag: str, lines: int = 15) -> str:
        text = ""
        for ext in ("err", "out"):
            try:
                with open(os.path.join(self.workdir, f"{tag}.{ext}"), errors="replace") as f:
                    text += "".join(f.readlines()[-lines:])
            except OSError:
                pass
        return text


def wait_ready(proc: subprocess.Popen, port: int, timeout: float) -> float | None:
    """Seconds until READY_PATH answers 200, or None when the process died or timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        try:
            status, _ = http_request(port, READY_PATH, timeout=2)
            if status == 200:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    return None


def stop(proc: subprocess.Popen | None) -> None:
    """Ends a server we started, with its whole process group (its own session)."""
    if proc is None or proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + wait
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _group_alive(proc.pid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise BenchError(f"wrk: cannot read duration {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    r = {"requests": 0, "rps": 0.0, "non2xx": 0, "socket_errors": 0}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", out, re.M)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["socket_errors"] = sum(int(x) for x in m.groups())
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if m:
            r[f"p{pct}_ms"] = to_ms(m.group(1))
    return r


# Counts the responses by status in every thread and prints them at the end ("status 200 1234").
STATUS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do io.write(string.format("status %d %d\\n", k, v)) end
  end
end
"""


def wrk_script(route: Route, lua_dir: str) -> str:
    path = os.path.join(lua_dir, f"{route.key}.lua")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(f"wrk.method = {json.dumps(route.method)}\n")
            if route.body is not None:
                f.write(f"wrk.body = {json.dumps(route.body)}\n")
            if route.content_type:
                f.write(f'wrk.headers["Content-Type"] = {json.dumps(route.content_type)}\n')
            f.write(STATUS_LUA)
    return path


def wrk(port: int, route: Route, token: str | None, threads: int, conns: int, seconds: int,
        lua_dir: str) -> dict:
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "--latency",
            "-s", wrk_script(route, lua_dir)]
    if token:
        argv += ["-H", f"authorization: Bearer {token}"]
    argv.append(f"http://127.0.0.1:{port}{route.path}")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise BenchError(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    r = parse_wrk(out.stdout)
    r["statuses"] = {}
    for status, n in re.findall(r"^status (\d+) (\d+)$", out.stdout, re.M):
        r["statuses"][status] = r["statuses"].get(status, 0) + int(n)
    return r


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def read_variables_from_manifest() -> dict[str, str]:
    """spin.toml [variables] defaults (name -> default), for the db_*_url list."""
    path = os.path.join(REPO, "spin.toml")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        import tomllib
        doc = tomllib.loads(raw.decode())
        return {k: v.get("default", "") for k, v in doc.get("variables", {}).items()}
    except ImportError:
        section = raw.decode().split("[variables]", 1)[1].split("\n[", 1)[0]
        return dict(re.findall(r'^(\w+)\s*=\s*\{[^}]*default\s*=\s*"([^"]*)"', section, re.M))


def component_sources() -> list[str]:
    with open(os.path.join(REPO, "spin.toml")) as f:
        return re.findall(r'^source\s*=\s*"([^"]+)"', f.read(), re.M)


def find_spin() -> str | None:
    for cand in (os.environ.get("SOLARHUB_SPIN"), shutil.which("spin"),
                 os.path.join(REPO, "..", "shared", "tools", "spin")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    return None


def target_dir() -> str:
    if os.environ.get("CARGO_TARGET_DIR"):
        return os.environ["CARGO_TARGET_DIR"]
    cache = os.path.join(os.path.expanduser("~"), ".cache", "solarhub-target")
    return cache if os.path.isdir(cache) else os.path.join(REPO, "target")


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def git_version() -> str:
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def reference_venv() -> str:
    """Where bench/reference/run.sh keeps its virtualenv."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("REF_VENV") or os.path.join(cache, "solarhub-bench", "venv")


def reference_version(ref_dir: str) -> str:
    """Python / FastAPI / uvicorn versions from the reference's own virtualenv."""
    for py in (os.path.join(reference_venv(), "bin", "python"),
               os.path.join(ref_dir, ".venv", "bin", "python")):
        if os.access(py, os.X_OK):
            code = ("import importlib.metadata as m, platform;"
                    "print('Python', platform.python_version(), *["
                    "f'{p} {m.version(p)}' for p in ('fastapi','uvicorn') ])")
            return version_of([py, "-c", code])
    return "?"


class Bench:
    def __init__(self):
        self.wanted = [r.strip() for r in os.environ.get("RUNTIMES", "spin,host,ref").split(",")
                       if r.strip()]
        for r in self.wanted:
            if r not in RUNTIME_NAMES:
                raise BenchError(f"RUNTIMES: unknown runtime {r!r} (spin, host, ref)")
        only = {k.strip() for k in os.environ.get("ROUTES", "").split(",") if k.strip()}
        self.routes = [dataclasses.replace(r, path=r.path.format(**DATES))
                       for r in ROUTES if not only or r.key in only]
        if not self.routes:
            raise BenchError("ROUTES selects no route")
        self.prefix = f"bench{os.getpid()}{secrets.token_hex(2)}_"
        self.tmp = tempfile.mkdtemp(prefix="solarhub-bench-")
        self.runtimes: dict[str, Runtime] = {}
        self.redis: Redis | None = None
        self.databases: list[str] = []
        self.created_databases = False
        self.results: dict = {"routes": {}, "startup_ms": {}, "idle_rss_kb": {}}
        self.meta: dict = {}
        self.simulator: subprocess.Popen | None = None
        self.mysql_user = MysqlUser(self.prefix)

    # -- setup ---------------------------------------------------------------------------------

    def preflight(self, tools: tuple[str, ...] = ("wrk", "mysql")):
        for tool in tools:
            if not shutil.which(tool):
                raise BenchError(f"{tool} is needed (apt-get install {tool})")
        tdir = target_dir()
        self.cli = os.path.join(tdir, "release", "solarhub")
        self.host = os.path.join(tdir, "release", "solarhub-host")
        if not os.access(self.cli, os.X_OK):
            raise BenchError(f"{self.cli} missing: make native")
        if "host" in self.wanted and not os.access(self.host, os.X_OK):
            raise BenchError(f"{self.host} missing: make native")
        if {"spin", "spin-lean", "host"} & set(self.wanted):
            missing = [s for s in component_sources() if not os.path.isfile(os.path.join(REPO, s))]
            if missing:
                raise BenchError(f"components missing ({', '.join(missing)}): make build")
        self.spin = find_spin()
        if {"spin", "spin-lean"} & set(self.wanted) and not self.spin:
            raise BenchError("no real Spin: set SOLARHUB_SPIN, put spin on PATH or provide "
                             "../shared/tools/spin (or leave it out: RUNTIMES=host,ref)")
        self.ref_dir = os.path.join(REPO, "bench", "reference")
        self.ref_run = os.path.join(self.ref_dir, "run.sh")
        if "ref" in self.wanted and not os.access(self.ref_run, os.X_OK):
            raise BenchError(f"{self.ref_run} missing or not executable "
                             "(or leave the reference out: RUNTIMES=spin,host)")
        mysql("SELECT 1")
        self.redis = Redis()
        self.redis.cmd("PING")

    def environment(self) -> dict:
        """The servers' environment: a clean one, only SPIN_VARIABLE_* on top of the basics."""
        manifest_vars = read_variables_from_manifest()
        variables = {}
        for name, default in manifest_vars.items():
            m = re.fullmatch(r"db_(\w+)_url", name)
            if m:
                db = default.split("?", 1)[0].rsplit("/", 1)[1]
                self.databases.append(self.prefix + db)
                variables[name] = self.mysql_user.url(self.prefix + db)
        if len(self.databases) != 19:
            log(f"note: spin.toml names {len(self.databases)} databases (19 expected)")
        self.mysql_user.create(self.prefix)
        redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}"
        variables.update({
            "mysql_host": f"{MYSQL_HOST}:{MYSQL_PORT}",
            "gtr_mysql_host": f"{MYSQL_HOST}:{MYSQL_PORT}",
            "redis_main_url": redis_url, "redis_gtr_url": redis_url,
            "redis_main_host": f"{REDIS_HOST}:{REDIS_PORT}",
            "redis_gtr_host": f"{REDIS_HOST}:{REDIS_PORT}",
            "redis_key_prefix": self.prefix,
            "jwt_secret": secrets.token_urlsafe(48),
            "access_token_ttl_secs": "14400",
            # The bench logs in a few times from one address; keep throttling out of the way.
            "login_max_failures_per_user": "1000000",
            "login_max_attempts_per_address": "1000000",
        })
        # API request budgets stay on, so Spin and the host pay for counting every guarded request
        # (one Redis round trip), but so large that the bench's load never spends them.
        variables.update({name: "token=1000000000,address=1000000000,window=60"
                          for name in manifest_vars if name.startswith("rate_limit_")})
        self.variables = variables
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "XDG_CACHE_HOME",
                                          "CARGO_TARGET_DIR", "SOLARHUB_SPIN", "PYTHON", "REF_VENV",
                                          "REF_WORKERS", "REF_MYSQL_POOL_SIZE")
               if k in os.environ}
        env.update({f"SPIN_VARIABLE_{k.upper()}": v for k, v in variables.items()})
        return env

    def prepare_data(self, env: dict, seed: bool = True, simulate: bool = True):
        """Migrates the run's databases, seeds SEED_DAYS of history (unless `seed` is false),
        creates the two users and starts the live-value simulator (unless `simulate` is false;
        bench/realtime.py wants neither: the simulator publishes alert events of its own)."""
        cli_env = dict(env)
        # The CLI connects as root: only the servers under test use the run's MySQL account.
        cli_env.update({f"SOLARHUB_DB_{k[3:-4].upper()}_URL":
                        f"mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{v.rsplit('/', 1)[1]}"
                        for k, v in self.variables.items() if re.fullmatch(r"db_\w+_url", k)})
        cli_env.update({
            "SOLARHUB_MYSQL_URL": f"mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}",
            "SOLARHUB_DB_PREFIX": self.prefix,
            "SOLARHUB_REDIS_MAIN_URL": self.variables["redis_main_url"],
            "SOLARHUB_REDIS_GTR_URL": self.variables["redis_gtr_url"],
            "SOLARHUB_REDIS_PREFIX": self.prefix,
        })
        self.created_databases = True  # from here on, cleanup drops whatever got created

        def cli(*args, extra=None, timeout=600):
            e = dict(cli_env, **(extra or {}))
            out = subprocess.run([self.cli, *args], env=e, capture_output=True, text=True,
                                 timeout=timeout, cwd=self.tmp)
            if out.returncode != 0:
                raise BenchError(f"solarhub {' '.join(args)}: {out.stderr.strip()}")

        started = time.monotonic()
        cli("migrate")
        seeding = time.monotonic()
        if seed:
            cli("seed", "--days", str(SEED_DAYS), timeout=1800)
            self.results["seed_s"] = round(time.monotonic() - seeding, 1)
            log(f"seeded {SEED_DAYS} day(s) in {self.results['seed_s']} s")
        if seed and SEED_DAYS < DATES["days_for_last_month"]:
            log(f"note: SEED_DAYS={SEED_DAYS} does not cover {DATES['last_month']} "
                f"({DATES['days_for_last_month']} needed): its monthly income is partly empty")
        self.password = "bench " + secrets.token_urlsafe(18)
        for role in ("viewer", "admin"):
            cli("user", "create", "--username", f"bench{role}", "--email",
                f"bench{role}@bench.invalid", "--role", role,
                extra={"SOLARHUB_USER_PASSWORD": self.password})
        # The reference serves the very document the docs component serves (same bytes to send).
        document = os.path.join(self.tmp, "openapi.json")
        with open(document, "w") as f:
            f.write(subprocess.run([self.cli, "openapi"], capture_output=True, text=True,
                                   check=True, timeout=60).stdout)
        env["SOLARHUB_REF_OPENAPI"] = document
        log(f"databases {self.prefix}* migrated, {SEED_DAYS if seed else 0} day(s) seeded, "
            f"2 users ({time.monotonic() - started:.1f} s)")
        if simulate:
            self.start_simulator(cli_env)

    def start_simulator(self, cli_env: dict):
        """`solarhub simulate`: the live hashes (racks, PCS, meters, inverter) updated every second
        from the seeded state on, so live routes answer from fresh Redis values as on a running
        site. One connection per Redis store, opened now; it writes no MySQL rows."""
        out = open(os.path.join(self.tmp, "simulate.out"), "wb")
        try:
            # Its own session, like the servers: stopped with its whole process group.
            self.simulator = subprocess.Popen([self.cli, "simulate", "--quiet"], env=cli_env,
                                              cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out,
                                              stderr=out, start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + 30
        while not self.redis.cmd("EXISTS", f"{self.prefix}bess:1"):
            if self.simulator.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"solarhub simulate wrote no live values:\n{self.simulator_log()}")
            time.sleep(0.1)
        log(f"solarhub simulate running (pid {self.simulator.pid}), live values fresh")

    def simulator_log(self) -> str:
        try:
            with open(os.path.join(self.tmp, "simulate.out"), errors="replace") as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return ""

    def stop_simulator(self):
        if self.simulator is not None:
            stop(self.simulator)
            log("solarhub simulate stopped")
            self.simulator = None

    def define_runtimes(self, env: dict):
        shutil.copy(os.path.join(REPO, "runtime-config.toml"), self.tmp)
        rc = os.path.join(self.tmp, "runtime-config.toml")
        manifest = os.path.join(REPO, "spin.toml")
        for key in self.wanted:
            workdir = os.path.join(self.tmp, key)
            os.makedirs(workdir)
            if key in ("spin", "spin-lean"):
                def argv(addr, workdir=workdir):
                    return [self.spin, "up", "--from", manifest, "--listen", addr,
                            "--runtime-config-file", rc, "--quiet",
                            "--log-dir", os.path.join(workdir, "logs"),
                            "--state-dir", os.path.join(workdir, "state")]
            elif key == "host":
                def argv(addr):
                    return [self.host, "up", "--quiet", "--from", manifest, "--listen", addr,
                            "--runtime-config-file", rc]
            else:
                def argv(addr):
                    return [self.ref_run, addr]
            # cwd: the temp dir, where no .env is (runtime-config.toml's dotenv_path is relative).
            run_env = dict(env, **LEAN_ENV) if key == "spin-lean" else env
            self.runtimes[key] = Runtime(key, argv, run_env, self.tmp, workdir)

    def start_servers(self):
        for key, rt in self.runtimes.items():
            for attempt in range(3):
                rt.port = free_port()
                rt.proc = rt.spawn(rt.port, "server")
                # The reference's first start may build its virtualenv (pip install).
                if wait_ready(rt.proc, rt.port, 900 if key == "ref" else 120) is not None:
                    break
                stop(rt.proc)
                log(f"{key} did not start (attempt {attempt + 1}):\n{rt.log_tail('server')}")
            else:
                raise BenchError(f"{RUNTIME_NAMES[key]} did not start")
            time.sleep(0.5)
            self.results["idle_rss_kb"][key] = tree_rss_kb(rt.proc.pid)
            log(f"{RUNTIME_NAMES[key]} serving on 127.0.0.1:{rt.port} (pid {rt.proc.pid})")

    def login(self):
        for key, rt in self.runtimes.items():
            for role in ("viewer", "admin"):
                body = json.dumps({"username": f"bench{role}", "password": self.password})
                status, data = http_request(rt.port, "/api/v1/auth/login", "POST",
                                            {"content-type": "application/json"}, body)
                if status != 200:
                    raise BenchError(f"{key}: login as bench{role} gave {status}: {data[:300]!r}")
                rt.tokens[role] = json.loads(data)["access_token"]

    def check_statuses(self) -> None:
        """Every route answers its expected status once on every runtime that has it."""
        self.skip = set()
        for route in self.routes:
            for key, rt in self.runtimes.items():
                if route.only and key not in route.only:
                    continue
                headers = {"authorization": f"Bearer {rt.tokens[route.auth]}"} if route.auth else {}
                if route.content_type:
                    headers["content-type"] = route.content_type
                status, data = http_request(rt.port, route.path, route.method, headers, route.body)
                if status != route.expect:
                    log(f"WARNING {key} {route.path}: {status}, expected {route.expect}: "
                        f"{data[:200]!r} — not measured")
                    self.skip.add((route.key, key))

    # -- measurements --------------------------------------------------------------------------

    def measure_startup(self):
        samples: dict[str, list[float]] = {k: [] for k in self.runtimes}
        for i in range(STARTS):
            for key, rt in self.runtimes.items():
                port = free_port()
                t0 = time.monotonic()
                proc = rt.spawn(port, f"start{i}")
                t1 = wait_ready(proc, port, 120)
                stop(proc)
                if t1 is None:
                    log(f"{key}: start {i + 1} failed:\n{rt.log_tail(f'start{i}')}")
                    continue
                samples[key].append((t1 - t0) * 1000)
        for key, s in samples.items():
            self.results["startup_ms"][key] = {
                "median": statistics.median(s) if s else None, "samples": s}
        log("start-up (median ms): " + ", ".join(
            f"{k} {v['median']:.0f}" if v["median"] is not None else f"{k} failed"
            for k, v in self.results["startup_ms"].items()))

    def measure_routes(self):
        keys = list(self.runtimes)
        lua_dir = self.tmp
        for i, route in enumerate(self.routes):
            if self.simulator is not None and self.simulator.poll() is not None:
                raise BenchError("solarhub simulate exited (live values would go stale):\n"
                                 f"{self.simulator_log()}")
            present = [k for k in keys if (not route.only or k in route.only)
                       and (route.key, k) not in self.skip]
            order = present[i % len(present):] + present[:i % len(present)] if present else []
            res = self.results["routes"].setdefault(route.key, {})
            for key in order:
                res[key] = {"mysql_conns": 0, "mysql_refused": 0, "redis_conns": 0,
                            "requests": 0, "unexpected": 0, "rss_max_kb": 0}
            if route.cold:
                self.measure_cold(route, order, res)
            for key in order:
                if WARMUP:
                    rt = self.runtimes[key]
                    wrk(rt.port, route, rt.tokens.get(route.auth), 2, 8, WARMUP, lua_dir)
            for level, threads, conns in LEVELS:
                for key in order:
                    rt = self.runtimes[key]
                    token = rt.tokens.get(route.auth) if route.auth else None
                    waited = self.wait_quiet()
                    if waited > 2:
                        log(f"{route.key:12} waited {waited:.1f} s for the servers to finish "
                            "earlier requests")
                    (my0, refused0), re0 = self.mysql_counters(), self.redis.connections()
                    if level == RSS_LEVEL:
                        with RssSampler(rt.proc.pid) as sampler:
                            r = wrk(rt.port, route, token, threads, conns, DURATION, lua_dir)
                        res[key]["rss_max_kb"] = sampler.max_kb
                    else:
                        r = wrk(rt.port, route, token, threads, conns, DURATION, lua_dir)
                    (my1, refused1), re1 = self.mysql_counters(), self.redis.connections()
                    # Without per-account counters, the `mysql` client reading `Connections`
                    # after the run is one connection.
                    own = 0 if self.mysql_user.available else 1
                    res[key]["mysql_conns"] += max(0, my1 - my0 - own)
                    res[key]["mysql_refused"] += refused1 - refused0
                    res[key]["redis_conns"] += max(0, re1 - re0)
                    res[key]["requests"] += r["requests"]
                    # Responses with another status than the route's, and socket errors.
                    bad = sum(n for st, n in r["statuses"].items() if int(st) != route.expect)
                    res[key]["unexpected"] += bad + r["socket_errors"]
                    res[key][level] = r
                    if rt.proc.poll() is not None:
                        raise BenchError(f"{RUNTIME_NAMES[key]} exited during the run:\n"
                                         f"{rt.log_tail('server')}")
                    log(f"{route.key:12} {level:4} {key:5} {r['rps']:9.0f} req/s"
                        f"  p50 {r.get('p50_ms', 0):7.2f} ms  p99 {r.get('p99_ms', 0):7.2f} ms"
                        f"  statuses {r['statuses']}  socket errors {r['socket_errors']}")
            # Store work per request, after the timed runs (caches as warm as during them).
            for key in order:
                self.wait_quiet()
                c = self.count(self.runtimes[key], route, COUNT_REQUESTS)
                res[key]["counted"] = c
                log(f"{route.key:12} count {key:5} {COUNT_REQUESTS} requests: MySQL statements "
                    f"{c['mysql_statements']} {c['mysql_by_kind']}, Redis commands "
                    f"{c['redis_commands']}, "
                    f"statuses {c['statuses']}")

    def wait_quiet(self, timeout: float = 180) -> float:
        """Waits until no server is still working off an earlier run (a slow route's requests that
        wrk gave up on keep running): no statement on the servers' MySQL account and under 3 % of
        a core of CPU across all servers for 0.3 s. Returns the seconds waited."""
        started = time.monotonic()
        roots = [rt.proc.pid for rt in self.runtimes.values() if rt.proc is not None]
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        while time.monotonic() - started < timeout:
            s0 = statements(self.mysql_user.stats(), dict.fromkeys(MysqlUser.FIELDS, 0))
            c0 = sum(tree_cpu_ticks(r) for r in roots)
            time.sleep(0.3)
            s1 = statements(self.mysql_user.stats(), dict.fromkeys(MysqlUser.FIELDS, 0))
            c1 = sum(tree_cpu_ticks(r) for r in roots)
            if s0 == s1 and (c1 - c0) / ticks_per_s <= 0.3 * 0.03:
                return time.monotonic() - started
        log(f"note: servers still busy after {timeout:.0f} s; measuring anyway")
        return time.monotonic() - started

    def mysql_counters(self) -> tuple[int, int]:
        """MySQL connections opened by the servers (their account's `TOTAL_CONNECTIONS`; without
        per-account statistics the server's `Connections`, less the `mysql` client reading it),
        and connections refused at max_connections (server-wide: refused before any account)."""
        conns, refused = mysql_counters()
        stats = self.mysql_user.stats()
        return (stats["TOTAL_CONNECTIONS"] if stats else conns), refused

    def count(self, rt: Runtime, route: Route, n: int) -> dict:
        """`n` requests one after another on one connection (untimed), with the MySQL statements
        and Redis commands they cost the server: its MySQL account's statement counters, and the
        Redis commands from its processes (RedisCommandCounter)."""
        headers = {"authorization": f"Bearer {rt.tokens[route.auth]}"} if route.auth else {}
        if route.content_type:
            headers["content-type"] = route.content_type
        statuses: dict[str, int] = {}
        conn = http.client.HTTPConnection("127.0.0.1", rt.port, timeout=300)
        others = [self.simulator.pid] if self.simulator is not None else []
        try:
            before = self.mysql_user.stats()
            with RedisCommandCounter(rt.proc.pid, others, self.prefix) as redis_count:
                for _ in range(n):
                    conn.request(route.method, route.path, body=route.body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            time.sleep(0.05)  # the last statement's counters
            after = self.mysql_user.stats()
        finally:
            conn.close()
        return {"requests": n, "statuses": statuses,
                "mysql_statements": statements(before, after),
                "mysql_by_kind": None if before is None else {
                    f: after[f] - before[f] for f in ("SELECT_COMMANDS", "UPDATE_COMMANDS",
                                                      "OTHER_COMMANDS", "TOTAL_CONNECTIONS")},
                "mysql_rows_sent": None if before is None else after["ROWS_SENT"] - before["ROWS_SENT"],
                "redis_commands": redis_count.commands}

    def measure_cold(self, route: Route, order: list[str], res: dict):
        """The route's first request with its cache (`route.cold`) deleted: COLD_RUNS timed ones per
        runtime (interleaved, nothing else measuring meanwhile), then one more counted."""
        for _ in range(COLD_RUNS):
            for key in order:
                rt = self.runtimes[key]
                self.wait_quiet()
                self.redis.delete_prefix(self.prefix, route.cold)
                headers = {"authorization": f"Bearer {rt.tokens[route.auth]}"} if route.auth else {}
                t0 = time.monotonic()
                status, _ = http_request(rt.port, route.path, route.method, headers, route.body,
                                         timeout=300)
                ms = (time.monotonic() - t0) * 1000
                if status != route.expect:
                    raise BenchError(f"{key} {route.path} (cold): {status}, expected {route.expect}")
                res[key].setdefault("cold_ms", []).append(round(ms, 2))
        for key in order:
            self.wait_quiet()
            self.redis.delete_prefix(self.prefix, route.cold)
            res[key]["cold_counted"] = c = self.count(self.runtimes[key], route, 1)
            res[key]["cold_median_ms"] = statistics.median(res[key]["cold_ms"])
            log(f"{route.key:12} cold  {key:5} {res[key]['cold_median_ms']:9.1f} ms (median of "
                f"{COLD_RUNS}: {res[key]['cold_ms']}), MySQL statements {c['mysql_statements']}, "
                f"Redis commands {c['redis_commands']}")

    # -- report --------------------------------------------------------------------------------

    def collect_meta(self):
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
                cpu = m.group(1).strip() if m else "?"
        except OSError:
            pass
        self.meta = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}",
            "load": "%.2f %.2f %.2f" % os.getloadavg(),
            "commit": git_version(),
            "spin": " ".join(version_of([self.spin, "--version"]).split()[:2])
            if {"spin", "spin-lean"} & set(self.runtimes) else "—",
            "host": "solarhub-host (tests/host, wasmtime 44)" if "host" in self.runtimes else "—",
            "ref": reference_version(self.ref_dir) if "ref" in self.runtimes else "—",
            "wrk": version_of(["wrk", "-v"]).split(" [")[0],
            "mysql": mysql("SELECT VERSION()").strip(),
            "max_connections": mysql("SELECT @@max_connections").strip(),
            "redis": self.redis.info_field("server", "redis_version"),
        }

    def table(self) -> str:
        keys = list(self.runtimes)
        ratio_keys = [k for k in keys if k != "ref"] if "ref" in keys else []
        head = ["route", "metric"] + [RUNTIME_NAMES[k] for k in keys] + \
               [f"{k}/ref" for k in ratio_keys]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

        def fmt(v, kind):
            if v is None:
                return "—"
            if kind == "rps":
                return f"{v:,.0f}"
            if kind == "ms":
                return f"{v:.2f}" if v < 10 else f"{v:.1f}"
            if kind == "mb":
                return f"{v / 1024:.0f}"
            if kind == "per":
                return f"{v:.2f}"
            return f"{v:,.0f}" if isinstance(v, float) else f"{v:,}"

        def ratio(a, b):
            if a is None or b is None or b == 0:
                return "—"
            return f"{a / b:.2f}"

        def row(label, metric, values, kind, with_ratio=True):
            cells = [label, metric] + [fmt(values.get(k), kind) for k in keys]
            cells += [ratio(values.get(k), values.get("ref")) if with_ratio else "—"
                      for k in ratio_keys]
            lines.append("| " + " | ".join(cells) + " |")

        st = self.results["startup_ms"]
        row("**process**", "start → first answer, median ms",
            {k: st.get(k, {}).get("median") for k in keys}, "ms")
        row("", "memory idle after start (PSS), MB", self.results["idle_rss_kb"], "mb")
        overall = {k: max((self.results["routes"][r.key].get(k, {}).get("rss_max_kb", 0)
                           for r in self.routes if r.key in self.results["routes"]), default=0)
                   or None for k in keys}
        row("", "memory max under load, 64 conns (PSS), MB", overall, "mb")
        for route in self.routes:
            res = self.results["routes"].get(route.key, {})

            def per(field_, level=None):
                return {k: res[k][level].get(field_) if level else res[k].get(field_)
                        for k in keys if k in res}

            def per_request(store):
                return {k: res[k][store] / res[k]["requests"] for k in keys
                        if k in res and res[k]["requests"]}

            label = route.label
            row(label, "req/s, 8 conns", per("rps", "c8"), "rps")
            row("", "req/s, 64 conns", per("rps", "c64"), "rps")
            row("", "p50 ms, 1 conn", per("p50_ms", "c1"), "ms")
            row("", "p99 ms, 1 conn", per("p99_ms", "c1"), "ms")
            # No ratios: the pooled servers open next to none, and x / 0.001 says nothing.
            row("", "MySQL conns opened / req", per_request("mysql_conns"), "per", False)
            row("", "Redis conns opened / req", per_request("redis_conns"), "per", False)

            def counted(field_, which="counted"):
                return {k: res[k][which][field_] / res[k][which]["requests"] for k in keys
                        if k in res and res[k].get(which) and res[k][which][field_] is not None}

            row("", f"MySQL statements / req ({COUNT_REQUESTS} sequential)",
                counted("mysql_statements"), "per", False)
            row("", f"Redis commands / req ({COUNT_REQUESTS} sequential)",
                counted("redis_commands"), "per", False)
            if route.cold:
                row("", f"cold: first request, cache deleted, median of {COLD_RUNS}, ms",
                    {k: res[k].get("cold_median_ms") for k in res}, "ms")
                row("", "cold: MySQL statements", counted("mysql_statements", "cold_counted"), "int",
                    False)
                row("", "cold: Redis commands", counted("redis_commands", "cold_counted"), "int",
                    False)
            row("", "memory max at 64 conns (PSS), MB", {k: res[k]["rss_max_kb"] for k in res}, "mb")
            row("", "unexpected status or socket errors", per("unexpected"), "int",
                with_ratio=False)
        notes = []
        for route in self.routes:
            for k, r in self.results["routes"].get(route.key, {}).items():
                odd = {}
                for level, *_ in LEVELS:
                    for st, n in r.get(level, {}).get("statuses", {}).items():
                        if int(st) != route.expect:
                            odd[st] = odd.get(st, 0) + n
                    if r.get(level, {}).get("socket_errors"):
                        odd["socket errors"] = odd.get("socket errors", 0) + r[level]["socket_errors"]
                if odd:
                    notes.append(f"- {RUNTIME_NAMES[k]}, {route.label} (expected {route.expect}): "
                                 + ", ".join(f"{n} × {st}" for st, n in sorted(odd.items())))
                if r.get("mysql_refused"):
                    notes.append(f"- during {RUNTIME_NAMES[k]}, {route.label}: MySQL refused "
                                 f"{r['mysql_refused']} connections (max_connections "
                                 f"{self.meta.get('max_connections', '?')} reached)")
        for route_key, k in sorted(getattr(self, "skip", ())):
            notes.append(f"- {RUNTIME_NAMES[k]}, route `{route_key}`: wrong status before the "
                         "runs, not measured")
        if notes:
            lines += ["", "Unexpected responses and refused connections:", *notes]
        return "\n".join(lines)

    def report(self) -> str:
        m = self.meta
        who = ", ".join(f"{RUNTIME_NAMES[k]} ({m['spin' if k == 'spin-lean' else k]})"
                        for k in self.runtimes)
        text = [
            f"# Benchmark: {', '.join(RUNTIME_NAMES[k] for k in self.runtimes)}",
            "",
            f"{m['date']} · {m['machine']} · load before the run {m['load']} · commit {m['commit']}",
            "",
            f"Runtimes: {who}. {m['wrk']}; {m['mysql']} (max_connections "
            f"{m['max_connections']}); Redis {m['redis']}. All servers run throughout.",
            f"Each route: {WARMUP} s warm-up, then wrk for {DURATION} s at 8 connections "
            "(`-t2 -c8`), 64 (`-t2 -c64`) and 1 (`-t1 -c1 --latency`), runtimes interleaved "
            "(order rotated per route). Data: freshly migrated databases with "
            f"{SEED_DAYS} seeded day(s), users created by the CLI, tokens from `/auth/login`. "
            f"Start-up: median of {STARTS} fresh start(s), spawn → first 200 of `{READY_PATH}` "
            "(compile caches warm). Memory: the sum of PSS over the process tree (`spin up` and its trigger process; uvicorn's master and workers), so shared pages count once. "
            "Connections opened per request: the servers' own counters over all runs of the "
            "route ÷ requests (MySQL: the servers' own account's `TOTAL_CONNECTIONS`; Redis: "
            "`total_connections_received`, to which anything else using Redis meanwhile adds). "
            f"Statements and commands per request: {COUNT_REQUESTS} requests one after another "
            "after the timed runs (caches as warm as during them), MySQL statements from the "
            "servers' own account (`USER_STATISTICS`: SELECT + UPDATE + other statements, SHOW "
            "not counted), Redis commands from MONITOR attributed to the server's own connections "
            "(the simulator, the bench and other clients left out). "
            f"Seeded {SEED_DAYS} day(s) in {self.results.get('seed_s', '?')} s; trading routes: "
            f"settled day {DATES['settled_day']}, last month {DATES['last_month']}, and the "
            "settled-day cache shared by all runtimes (same keys), as the overview's energy is; "
            f"analysis routes: the local day {DATES['settled_day']} (`from={DATES['settled_day']}"
            f"&to={DATES['day_after']}`), read from MySQL on every request (no cache); "
            "`cold` rows: the first request after deleting that cache, timed alone.",
            "",
            "Ratios are runtime ÷ reference: above 1 is better for req/s, worse for the rest.",
            "",
            self.table(),
            "",
        ]
        return "\n".join(text)

    def write(self, text: str):
        path = os.environ.get("RESULTS") or os.path.join(REPO, "bench", "results", "latest.md")
        path = os.path.abspath(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        with open(os.path.splitext(path)[0] + ".json", "w") as f:
            json.dump({"meta": self.meta, "duration_s": DURATION, "warmup_s": WARMUP,
                       "starts": STARTS, "seed_days": SEED_DAYS, **self.results}, f, indent=1)
        log(f"written {path} (and .json)")
        # README.md: replace the block between the markers, when it has them.
        readme = os.path.join(REPO, "README.md")
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        if os.environ.get("UPDATE_README", "1") != "0" and not os.environ.get("RESULTS"):
            with open(readme) as f:
                doc = f.read()
            if begin in doc and end in doc:
                body = text.split("\n", 2)[2].strip()  # without the "# Benchmark" heading
                pre, rest = doc.split(begin, 1)
                post = rest.split(end, 1)[1]
                with open(readme, "w") as f:
                    f.write(f"{pre}{begin}\n{body}\n{end}{post}")
                log("README.md table updated")

    # -- cleanup -------------------------------------------------------------------------------

    def cleanup(self):
        try:  # first: it reads and writes the stores that go next
            self.stop_simulator()
        except Exception as e:  # keep cleaning
            log(f"stopping solarhub simulate: {e}")
        for rt in self.runtimes.values():
            for proc in rt.spawned:
                try:
                    stop(proc)
                except Exception as e:  # keep cleaning
                    log(f"stopping {rt.key} (pid {proc.pid}): {e}")
        if self.created_databases:
            try:
                ours = [d for d in mysql("SHOW DATABASES").split() if d.startswith(self.prefix)]
                if ours:
                    mysql("; ".join(f"DROP DATABASE IF EXISTS `{d}`" for d in ours))
                log(f"dropped {len(ours)} databases {self.prefix}*")
            except Exception as e:
                log(f"dropping databases {self.prefix}*: {e}")
        try:
            self.mysql_user.drop()
        except Exception as e:
            log(f"dropping MySQL account {self.mysql_user.name}: {e}")
        try:
            r = self.redis or Redis()
            n = r.delete_prefix(self.prefix)
            r.close()
            log(f"deleted {n} redis keys {self.prefix}*")
        except Exception as e:
            log(f"deleting redis keys {self.prefix}*: {e}")
        if os.environ.get("KEEP_TMP") == "1":
            log(f"kept {self.tmp} (server logs)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def budget(self) -> int:
        if os.environ.get("MAX_SECONDS"):
            return int(os.environ["MAX_SECONDS"])
        runs = sum(len([k for k in self.wanted if not r.only or k in r.only]) for r in self.routes)
        # per route and runtime: the runs, the counted requests; the seed (about 1 s a day);
        # cold first requests (seconds each on the reference)
        cold = sum(len(self.wanted) for r in self.routes if r.cold) * (COLD_RUNS + 1) * 10
        estimate = runs * (len(LEVELS) * (DURATION + 2) + WARMUP + 2 + 5) + \
            STARTS * len(self.wanted) * 15 + 120 + SEED_DAYS * 2 + cold
        if "ref" in self.wanted and not os.path.isdir(reference_venv()):
            estimate += 900  # run.sh builds the reference's virtualenv first
        return 2 * estimate + 300

    def run(self):
        self.preflight()
        env = self.environment()
        self.prepare_data(env)
        self.define_runtimes(env)
        self.start_servers()
        self.login()
        self.check_statuses()
        self.measure_startup()
        self.measure_routes()
        self.stop_simulator()
        self.collect_meta()
        text = self.report()
        print(text)
        self.write(text)


class Timeout(Exception):
    pass


def main() -> int:
    bench = None

    def on_signal(signum, _frame):
        raise Timeout("time limit reached" if signum == signal.SIGALRM else f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    try:
        bench = Bench()
        limit = bench.budget()
        signal.alarm(limit)
        log(f"prefix {bench.prefix}, runtimes {','.join(bench.wanted)}, "
            f"{len(bench.routes)} routes, DURATION={DURATION} s, hard limit {limit} s")
        bench.run()
        return 0
    except (BenchError, Timeout, subprocess.TimeoutExpired, OSError) as e:
        log(f"failed: {e}")
        return 1
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if bench is not None:
            bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
