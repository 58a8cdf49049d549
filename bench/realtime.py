#!/usr/bin/env python3
"""Real-time benchmark: alert event published -> signed webhook received (the `notifier`
component on its Redis trigger), and the fan-out of alert events to concurrent server-sent-event
streams (`GET /api/v1/stream?topics=alerts`), on real Spin and on the local host side by side.

Standard library only; reuses bench.py's setup and cleanup (its own databases, Redis key prefix,
MySQL account, users, server processes). Started by bench/realtime.sh (`make bench-realtime`);
see bench/README.md ("Real-time") for what it measures.

Environment (all optional):
  WEBHOOK_EVENTS=1000       events published for the webhook latency, per runtime
  WEBHOOK_INTERVAL_MS=50    one event every this many ms (a fixed schedule, not "after the last")
  BURST_EVENTS=200          then this many back to back (the notifier's throughput; 0: none)
  WEBHOOK_MODES=keepalive,close   the receiver's modes: HTTP/1.1 keep-alive, or `connection:
                            close` on every answer (a new connection per delivery)
  STREAMS=100               concurrent SSE streams per runtime
  FANOUT_EVENTS=100         events published while the streams are open, per runtime
  FANOUT_INTERVAL_MS=100    one event every this many ms during the fan-out
  RUNTIMES=spin,host        which runtimes (a subset of spin, host)
  RESULTS=bench/results/realtime.md   where the table goes (a .json beside it)
  UPDATE_README=1           0: leave README.md's <!-- realtime:begin/end --> block alone
  MAX_SECONDS               hard limit of the whole run (default: computed)
  KEEP_TMP=1                keep the temp dir with the servers' logs
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import datetime as dt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (bench.py: stores, processes, setup and cleanup)

WEBHOOK_EVENTS = max(1, int(B.env_num("WEBHOOK_EVENTS", 1000)))
WEBHOOK_INTERVAL_MS = max(0.0, B.env_num("WEBHOOK_INTERVAL_MS", 50))
STREAMS = max(1, int(B.env_num("STREAMS", 100)))
FANOUT_EVENTS = max(1, int(B.env_num("FANOUT_EVENTS", 100)))
FANOUT_INTERVAL_MS = max(0.0, B.env_num("FANOUT_INTERVAL_MS", 100))
# After the last event: how long deliveries may still come in.
DRAIN_SECONDS = 30
BURST_EVENTS = max(0, int(B.env_num("BURST_EVENTS", 200)))
MODES = [m.strip() for m in os.environ.get("WEBHOOK_MODES", "keepalive,close").split(",")
         if m.strip()]
MODE_NAMES = {"keepalive": "keep-alive", "close": "conn. close"}
SECRET = secrets.token_urlsafe(24)
RUNTIMES = ("spin", "host")


def log(msg: str) -> None:
    print(f"[realtime {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": pct(values, 50), "p90_ms": pct(values, 90),
            "p99_ms": pct(values, 99), "max_ms": max(values) if values else None,
            "min_ms": min(values) if values else None}


# ---------------------------------------------------------------------------------------------
# The webhook receiver: a threaded http.server on a loopback port; every POST is timestamped
# when its body has been read, its HMAC signature checked, and answered 204 (keep-alive).
# ---------------------------------------------------------------------------------------------


class Receiver:
    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.keepalive = True
        self.lock = threading.Lock()
        self.arrivals: list[dict] = []  # {path, event_id, at, valid}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.1 keep-alive, as most webhook receivers; with `keepalive` off the answer
            # says `connection: close` (the next delivery opens a new connection).
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self._body()
                at = time.monotonic()
                ts = self.headers.get("x-solarhub-timestamp", "")
                sig = self.headers.get("x-solarhub-signature", "")
                expected = "sha256=" + hmac.new(outer.secret, ts.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                header_id = self.headers.get("x-solarhub-event-id", "")
                try:
                    body_id = json.loads(body).get("event_id", "")
                except ValueError:
                    body_id = ""
                with outer.lock:
                    outer.arrivals.append({
                        "path": self.path, "event_id": header_id or body_id, "at": at,
                        "valid": hmac.compare_digest(expected, sig) and header_id == body_id,
                    })
                self.send_response(204)
                self.send_header("content-length", "0")
                if not outer.keepalive:
                    self.send_header("connection", "close")
                self.end_headers()

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def for_path(self, path: str) -> list[dict]:
        with self.lock:
            return [a for a in self.arrivals if a["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------
# Publishing alert events the way their publishers do (shared/src/realtime/events.rs): XADD to
# `<prefix>alerts:log` (the id is the event's id), then PUBLISH the event with that id on the
# channel.
# ---------------------------------------------------------------------------------------------


class Publisher:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.redis = B.Redis()
        offset = B.site_offset_secs()
        self.tz = dt.timezone(dt.timedelta(seconds=offset))
        self.n = 0

    def event(self, level: str) -> dict:
        self.n += 1
        at = dt.datetime.now(self.tz).replace(microsecond=0).isoformat()
        rack = 1 + self.n % 12
        return {"type": "raised", "at": at, "alert": {
            "id": 900000 + self.n, "device_kind": "bess", "device_no": rack, "code": "BENCH",
            "level": level, "message": f"bench event {self.n} on rack {rack}", "started_at": at,
            "cleared_at": None, "active": True, "acknowledged": False, "acknowledged_by": None,
            "acknowledged_at": None}}

    def publish(self, channel: str, level: str = "critical") -> tuple[str, float, int]:
        """(event id, monotonic time just before the PUBLISH went out, subscribers reached)."""
        ev = self.event(level)
        event_id = self.redis.cmd("XADD", f"{self.prefix}alerts:log", "MAXLEN", "~", "10000", "*",
                                  "event", json.dumps(ev, separators=(",", ":")))
        event_id = event_id.decode() if isinstance(event_id, bytes) else event_id
        payload = json.dumps({"event_id": event_id, **ev}, separators=(",", ":"))
        t = time.monotonic()
        receivers = self.redis.cmd("PUBLISH", f"{self.prefix}{channel}", payload)
        return event_id, t, receivers

    def paced(self, channel: str, count: int, interval_ms: float, levels=("critical", "warning")):
        """Publishes `count` events on a fixed schedule (event i at start + i * interval: a slow
        publish does not shift the later ones); returns {event_id: published_at} and stats."""
        published: dict[str, float] = {}
        missed = 0
        start = time.monotonic()
        for i in range(count):
            due = start + i * interval_ms / 1000
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            event_id, t, receivers = self.publish(channel, levels[i % len(levels)])
            published[event_id] = t
            missed += receivers < 1
        took = time.monotonic() - start
        return published, {"publish_seconds": round(took, 3),
                           "events_per_s": round(count / took, 1) if took > 0 else None,
                           "publish_reached_no_subscriber": missed}

    def stats(self) -> dict:
        raw = self.redis.cmd("HGETALL", f"{self.prefix}notify:stats") or []
        return {raw[i].decode(): int(raw[i + 1]) for i in range(0, len(raw), 2)}

    def subscribers(self, channel: str) -> int:
        reply = self.redis.cmd("PUBSUB", "NUMSUB", f"{self.prefix}{channel}")
        return int(reply[1])


# ---------------------------------------------------------------------------------------------
# SSE streams: one thread, a selector over every stream's socket; each recv is timestamped, the
# chunked body de-chunked as it comes, events cut at blank lines, `event: alert` ones matched by
# their `id:` (the event id).
# ---------------------------------------------------------------------------------------------


class Stream:
    def __init__(self, n: int):
        self.n = n
        self.sock: socket.socket | None = None
        self.raw = b""
        self.head: str | None = None
        self.status = 0
        self.chunked = False
        self.chunk_left = -1  # bytes left in the current chunk (+2 for its CRLF); -1: size line
        self.text = b""
        self.preamble = False
        self.ended: str | None = None
        self.got: dict[str, float] = {}
        self.opened_at = 0.0
        self.head_at = 0.0

    def feed(self, data: bytes, at: float):
        self.raw += data
        if self.head is None:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head = self.raw[:i].decode("latin-1")
            self.head_at = at
            try:
                self.status = int(self.head.split(" ", 2)[1])
            except (IndexError, ValueError):
                self.status = -1
            self.chunked = "transfer-encoding: chunked" in self.head.lower()
            self.raw = self.raw[i + 4:]
        if self.chunked:
            while self.raw:
                if self.chunk_left < 0:
                    j = self.raw.find(b"\r\n")
                    if j < 0:
                        break
                    size = int(self.raw[:j].split(b";")[0].strip() or b"0", 16)
                    self.raw = self.raw[j + 2:]
                    if size == 0:
                        self.ended = self.ended or "end of body"
                        self.raw = b""
                        break
                    self.chunk_left = size + 2
                before = self.chunk_left
                take = self.raw[:before]
                self.raw = self.raw[len(take):]
                self.text += take[:max(0, before - 2)]  # the data, not the chunk's CRLF
                self.chunk_left = before - len(take)
                if self.chunk_left == 0:
                    self.chunk_left = -1
        else:
            self.text += self.raw
            self.raw = b""
        while True:
            k = self.text.find(b"\n\n")
            if k < 0:
                break
            block, self.text = self.text[:k].decode("utf-8", "replace"), self.text[k + 2:]
            self.event(block, at)

    def event(self, block: str, at: float):
        fields = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, value)
        if block.startswith("retry:"):
            self.preamble = True
        elif fields.get("event") == "alert" and "id" in fields:
            self.got.setdefault(fields["id"], at)
        elif fields.get("event") == "end":
            self.ended = "event: end"


class Streams:
    def __init__(self, port: int, token: str, count: int, seconds: int):
        self.port, self.token, self.count, self.seconds = port, token, count, seconds
        self.streams = [Stream(i) for i in range(count)]
        self.sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[str] = []

    def open(self, timeout: float = 60) -> float:
        """Connects every stream (one after another, as fast as the server accepts them) and
        waits until each has its head and preamble; returns the seconds that took."""
        started = time.monotonic()
        request = (f"GET /api/v1/stream?topics=alerts&max_seconds={self.seconds} HTTP/1.1\r\n"
                   f"host: 127.0.0.1:{self.port}\r\nauthorization: Bearer {self.token}\r\n"
                   "accept: text/event-stream\r\nconnection: close\r\n\r\n").encode()
        for s in self.streams:
            s.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            s.sock.sendall(request)
            s.sock.setblocking(False)
            s.opened_at = time.monotonic()
            self.sel.register(s.sock, selectors.EVENT_READ, s)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s.preamble or s.ended or (s.head is not None and s.status != 200)
                   for s in self.streams):
                break
            time.sleep(0.02)
        return time.monotonic() - started

    def _run(self):
        while not self._stop.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                at = time.monotonic()
                s: Stream = key.data
                try:
                    data = s.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    data = b""
                    self.errors.append(f"stream {s.n}: {e}")
                if not data:
                    s.ended = s.ended or "closed by the server"
                    self.sel.unregister(s.sock)
                    continue
                s.feed(data, at)

    def close(self):
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        for s in self.streams:
            if s.sock is not None:
                try:
                    s.sock.close()
                except OSError:
                    pass
        self.sel.close()


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


class Realtime:
    def __init__(self):
        wanted = [r.strip() for r in os.environ.get("RUNTIMES", "spin,host").split(",") if r.strip()]
        bad = [r for r in wanted if r not in RUNTIMES]
        if bad or not wanted:
            raise B.BenchError(f"RUNTIMES: {bad or wanted} (a subset of spin, host)")
        if not MODES or any(m not in MODE_NAMES for m in MODES):
            raise B.BenchError(f"WEBHOOK_MODES: {MODES} (a subset of keepalive, close)")
        os.environ["RUNTIMES"] = ",".join(wanted)  # what Bench() reads
        self.bench = B.Bench()
        self.receiver: Receiver | None = None
        self.publisher: Publisher | None = None
        self.results: dict = {"webhook": {}, "fanout": {}}
        self.open_streams: Streams | None = None
        self.notifiers: dict[str, subprocess.Popen] = {}

    @staticmethod
    def channel(key: str) -> str:
        # One channel per runtime (`alerts_channel`), so a PUBLISH reaches exactly the runtime
        # being measured while both run.
        return f"alerts_{key}"

    def setup(self):
        b = self.bench
        b.preflight(tools=("mysql",))
        self.receiver = Receiver(SECRET)
        log(f"webhook receiver on {self.receiver.origin}")
        env = b.environment()
        env.update({
            "SPIN_VARIABLE_NOTIFY_WEBHOOK_SECRET": SECRET,
            "SPIN_VARIABLE_NOTIFY_WEBHOOK_HOST": self.receiver.origin,
            "SPIN_VARIABLE_NOTIFY_WEBHOOK_MIN_LEVEL": "warning",
            # The streams outlive the fan-out; heartbeats stay at their default.
            "SPIN_VARIABLE_STREAM_MAX_SECONDS": "3600",
        })
        b.prepare_data(env, seed=False, simulate=False)
        b.define_runtimes(env)
        for key, rt in b.runtimes.items():
            rt.env = dict(rt.env, **{
                "SPIN_VARIABLE_ALERTS_CHANNEL": self.channel(key),
                "SPIN_VARIABLE_NOTIFY_WEBHOOK_URL": f"{self.receiver.origin}/hook/{key}",
            })
        b.start_servers()
        b.login()
        self.start_notifiers()
        self.publisher = Publisher(b.prefix)
        for key in b.runtimes:
            deadline = time.monotonic() + 120
            while self.publisher.subscribers(self.channel(key)) < 1:
                proc = self.notifiers.get(key)
                if time.monotonic() > deadline or proc is not None and proc.poll() is not None:
                    raise B.BenchError(f"{key}: nothing subscribed to "
                                       f"{b.prefix}{self.channel(key)}:\n"
                                       f"{b.runtimes[key].log_tail('notifier')}")
                time.sleep(0.05)
        log("both notifiers subscribed" if len(b.runtimes) > 1 else "notifier subscribed")
        # One event per runtime first (unmeasured): compile caches, first connections.
        for key in b.runtimes:
            event_id, _, _ = self.publisher.publish(self.channel(key))
            self.wait_webhooks(key, {event_id}, 30)

    def start_notifiers(self):
        """The notifier is an app of its own (spin-notifier.toml: Spin 4.0.2's Redis trigger ends
        `spin up` when Redis goes away, which must not take the API down), started beside each
        API server with the same variables; a tree whose spin.toml still holds the Redis trigger
        has nothing more to start."""
        b = self.bench
        manifest = os.path.join(B.REPO, "spin-notifier.toml")
        if not os.path.isfile(manifest):
            return
        rc = os.path.join(b.tmp, "runtime-config.toml")
        for key, rt in b.runtimes.items():
            logs = os.path.join(rt.workdir, "notifier")
            if key == "spin":
                argv = [b.spin, "up", "--from", manifest, "--runtime-config-file", rc, "--quiet",
                        "--log-dir", os.path.join(logs, "logs"),
                        "--state-dir", os.path.join(logs, "state")]
            else:
                # The host serves HTTP for every app; nothing is routed here.
                argv = [b.host, "up", "--quiet", "--from", manifest, "--listen", "127.0.0.1:0",
                        "--runtime-config-file", rc]
            app = B.Runtime(key, lambda _addr, argv=argv: argv, rt.env, b.tmp, rt.workdir)
            proc = app.spawn(0, "notifier")
            rt.spawned.append(proc)  # stopped with the API server by Bench.cleanup
            self.notifiers[key] = proc
            log(f"{B.RUNTIME_NAMES[key]}: notifier app (spin-notifier.toml) started, pid {proc.pid}")

    def notifier_root(self, key: str) -> int:
        """The process tree that delivers the webhooks (for its memory)."""
        proc = self.notifiers.get(key)
        return proc.pid if proc is not None else self.bench.runtimes[key].proc.pid

    def wait_webhooks(self, key: str, ids: set[str], patience: float) -> None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            got = {a["event_id"] for a in self.receiver.for_path(f"/hook/{key}")}
            if ids <= got:
                return
            time.sleep(0.05)

    def measure_webhook(self, key: str, mode: str):
        """Both passes of one runtime with the receiver in `mode`: WEBHOOK_EVENTS paced events,
        then BURST_EVENTS published back to back (how fast the notifier drains a backlog)."""
        self.receiver.keepalive = mode == "keepalive"
        # One unmeasured event: a connection the runtime keeps from before is closed by it.
        event_id, _, _ = self.publisher.publish(self.channel(key))
        self.wait_webhooks(key, {event_id}, 30)
        out = self.results["webhook"].setdefault(key, {}).setdefault(mode, {})
        out["paced"] = self.webhook_pass(key, mode, WEBHOOK_EVENTS, WEBHOOK_INTERVAL_MS)
        if BURST_EVENTS:
            out["burst"] = self.webhook_pass(key, mode, BURST_EVENTS, 0)

    def webhook_pass(self, key: str, mode: str, count: int, interval_ms: float) -> dict:
        rt = self.bench.runtimes[key]
        path = f"/hook/{key}"
        before = len(self.receiver.for_path(path))
        stats0 = self.publisher.stats()
        log(f"{key}, {MODE_NAMES[mode]}: publishing {count} events"
            + (f", one every {interval_ms:g} ms" if interval_ms else ", back to back"))
        with B.RssSampler(self.notifier_root(key)) as rss:
            published, pub = self.publisher.paced(self.channel(key), count, interval_ms)
            self.wait_webhooks(key, set(published), DRAIN_SECONDS + count * 0.1)
        time.sleep(0.3)  # the last outcomes' counters
        stats1 = self.publisher.stats()
        arrivals = self.receiver.for_path(path)[before:]
        first: dict[str, float] = {}
        for a in arrivals:
            if a["event_id"] in published:
                first.setdefault(a["event_id"], a["at"])
        latencies = [(first[e] - t) * 1000 for e, t in published.items() if e in first]
        span = (max(first.values()) - min(published.values())) if first else 0
        res = {
            "events": count, "interval_ms": interval_ms, **pub,
            "delivered": len(first), "arrivals": len(arrivals),
            "duplicates": len([a for a in arrivals if a["event_id"] in published]) - len(first),
            "unknown": len([a for a in arrivals if a["event_id"] not in published]),
            "bad_signature": len([a for a in arrivals if not a["valid"]]),
            "latency": summary(latencies),
            # first publish -> last delivery: with back-to-back events, the notifier's throughput
            "delivered_per_s": round(len(first) / span, 1) if span > 0 else None,
            "notify_stats_delta": {k: v - stats0.get(k, 0) for k, v in stats1.items()
                                   if v != stats0.get(k, 0)},
            "rss_max_kb": rss.max_kb,
        }
        lat = res["latency"]
        log(f"{key}, {MODE_NAMES[mode]}: delivered {res['delivered']}/{count} "
            f"({res['events_per_s']} events/s published, {res['delivered_per_s']} delivered/s), "
            f"p50 {fmt_ms(lat['p50_ms'])} p99 {fmt_ms(lat['p99_ms'])} max {fmt_ms(lat['max_ms'])}"
            f" ms, bad signatures {res['bad_signature']}, stats {res['notify_stats_delta']}")
        proc = self.notifiers.get(key, rt.proc)
        if proc.poll() is not None:
            raise B.BenchError(f"{key}'s notifier exited:\n{rt.log_tail('notifier')}")
        return res

    def measure_fanout(self, key: str):
        rt = self.bench.runtimes[key]
        idle_kb = B.tree_rss_kb(rt.proc.pid)
        seconds = int(30 + FANOUT_EVENTS * FANOUT_INTERVAL_MS / 1000 + DRAIN_SECONDS)
        streams = self.open_streams = Streams(rt.port, rt.tokens["viewer"], STREAMS, seconds)
        try:
            open_s = streams.open()
            ready = [s for s in streams.streams if s.preamble and not s.ended]
            statuses: dict[str, int] = {}
            for s in streams.streams:
                statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
            log(f"{key}: {len(ready)}/{STREAMS} streams open in {open_s:.2f} s "
                f"(statuses {statuses})")
            time.sleep(0.5)
            open_kb = B.tree_rss_kb(rt.proc.pid)
            log(f"{key}: publishing {FANOUT_EVENTS} events, one every {FANOUT_INTERVAL_MS:g} ms")
            with B.RssSampler(rt.proc.pid) as rss:
                published, pub = self.publisher.paced(self.channel(key), FANOUT_EVENTS,
                                                      FANOUT_INTERVAL_MS)
                ids = set(published)
                deadline = time.monotonic() + DRAIN_SECONDS
                while time.monotonic() < deadline:
                    if all(ids <= set(s.got) or s.ended for s in ready):
                        break
                    time.sleep(0.05)
            latencies = []
            for s in ready:
                latencies += [(s.got[e] - t) * 1000 for e, t in published.items() if e in s.got]
            per_event_last = [max((s.got[e] - t) * 1000 for s in ready if e in s.got)
                              for e, t in published.items() if any(e in s.got for s in ready)]
            res = {
                "streams": STREAMS, "events": FANOUT_EVENTS, "interval_ms": FANOUT_INTERVAL_MS,
                **pub, "open_seconds": round(open_s, 3), "opened": len(ready),
                "open_statuses": statuses,
                "head_p50_ms": pct([(s.head_at - s.opened_at) * 1000 for s in streams.streams
                                    if s.head is not None], 50),
                "complete_streams": sum(1 for s in ready if ids <= set(s.got)),
                "received": len(latencies), "expected": len(ready) * FANOUT_EVENTS,
                "ended_early": sum(1 for s in ready if s.ended),
                "end_reasons": sorted({s.ended for s in streams.streams if s.ended}),
                "latency": summary(latencies),
                "last_stream_latency": summary(per_event_last),
                "rss_idle_kb": idle_kb, "rss_streams_open_kb": open_kb, "rss_max_kb": rss.max_kb,
                "errors": streams.errors[:5],
            }
        finally:
            streams.close()
            self.open_streams = None
        self.results["fanout"][key] = res
        lat = res["latency"]
        log(f"{key}: fan-out {res['complete_streams']}/{len(ready)} streams got all "
            f"{FANOUT_EVENTS} events, {res['received']}/{res['expected']} deliveries, "
            f"p50 {fmt_ms(lat['p50_ms'])} p99 {fmt_ms(lat['p99_ms'])} max {fmt_ms(lat['max_ms'])}"
            f" ms, memory {idle_kb // 1024} -> {open_kb // 1024} -> max {rss.max_kb // 1024} MB")
        if rt.proc.poll() is not None:
            raise B.BenchError(f"{key} exited:\n{rt.log_tail('server')}")
        time.sleep(1)  # the server winds the closed streams down

    def run(self):
        load_start = "%.2f %.2f %.2f" % os.getloadavg()
        self.setup()
        keys = list(self.bench.runtimes)
        for mode in MODES:
            for key in keys:
                self.measure_webhook(key, mode)
        for key in reversed(keys):
            self.measure_fanout(key)
        self.bench.collect_meta()
        meta = self.bench.meta
        meta["load_start"], meta["load_end"] = load_start, meta.pop("load")
        for unused in ("wrk", "ref"):
            meta.pop(unused, None)
        text = self.report()
        print(text)
        self.write(text)

    # -- report --------------------------------------------------------------------------------

    @staticmethod
    def _table(columns: list[tuple[str, object]], rows: list[tuple[str, str, object]]) -> str:
        """rows: (label, metric, get(column key) -> value); a value None or missing shows —."""
        lines = ["| | metric | " + " | ".join(name for name, _ in columns) + " |",
                 "|" + "---|" * (len(columns) + 2)]
        for label, metric, get in rows:
            cells = []
            for _, col in columns:
                try:
                    v = get(col)
                except (KeyError, TypeError, ZeroDivisionError):
                    v = None
                cells.append("—" if v is None else v if isinstance(v, str) else
                             f"{v:,}" if isinstance(v, int) else f"{v:,.1f}")
            lines.append("| " + " | ".join([label, metric] + cells) + " |")
        return "\n".join(lines)

    def table(self) -> str:
        keys = list(self.bench.runtimes)
        w, f = self.results["webhook"], self.results["fanout"]
        cols = [(f"{B.RUNTIME_NAMES[k]}, {MODE_NAMES[m]}", (k, m)) for k in keys for m in MODES]

        def p(kind, field):
            return lambda c: w[c[0]][c[1]][kind][field]

        def lat(kind, q):
            return lambda c: w[c[0]][c[1]][kind]["latency"][q]

        rows = [
            (f"**paced**: {WEBHOOK_EVENTS} events, one every {WEBHOOK_INTERVAL_MS:g} ms",
             "delivered / published",
             lambda c: f"{w[c[0]][c[1]]['paced']['delivered']} / {WEBHOOK_EVENTS}"),
            ("", "publish → received p50, ms", lat("paced", "p50_ms")),
            ("", "p90, ms", lat("paced", "p90_ms")),
            ("", "p99, ms", lat("paced", "p99_ms")),
            ("", "max, ms", lat("paced", "max_ms")),
            ("", "events/s published (achieved)", p("paced", "events_per_s")),
            ("", "bad signatures / duplicates",
             lambda c: f"{p('paced', 'bad_signature')(c)} / {p('paced', 'duplicates')(c)}"),
            ("", "notifier app's memory max (PSS), MB",
             lambda c: p("paced", "rss_max_kb")(c) / 1024),
        ]
        if BURST_EVENTS:
            rows += [
                (f"**burst**: {BURST_EVENTS} events back to back", "delivered / published",
                 lambda c: f"{w[c[0]][c[1]]['burst']['delivered']} / {BURST_EVENTS}"),
                ("", "events/s published", p("burst", "events_per_s")),
                ("", "delivered/s (first publish → last arrival)", p("burst", "delivered_per_s")),
                ("", "publish → received p50, ms", lat("burst", "p50_ms")),
                ("", "max, ms", lat("burst", "max_ms")),
            ]
        rows.append(("**both passes**", "notifier outcomes (Redis `notify:stats`)",
                     lambda c: ", ".join(
                         f"{n} {sum(w[c[0]][c[1]][k]['notify_stats_delta'].get(n, 0) for k in w[c[0]][c[1]])}"
                         for n in sorted({n for k in w[c[0]][c[1]].values()
                                          for n in k["notify_stats_delta"]})) or "none"))
        webhook = self._table(cols, rows)

        fcols = [(B.RUNTIME_NAMES[k], k) for k in keys]
        fl = lambda q: lambda k: f[k]["latency"][q]  # noqa: E731
        fanout = self._table(fcols, [
            ("", "streams opened (200 + preamble)", lambda k: f"{f[k]['opened']} / {STREAMS}"),
            ("", f"time to open all {STREAMS}, s", lambda k: f"{f[k]['open_seconds']:.2f}"),
            ("", "streams that got every event",
             lambda k: f"{f[k]['complete_streams']} / {f[k]['opened']}"),
            ("", "deliveries received / expected",
             lambda k: f"{f[k]['received']:,} / {f[k]['expected']:,}"),
            ("", "publish → on a stream p50, ms", fl("p50_ms")),
            ("", "p90, ms", fl("p90_ms")),
            ("", "p99, ms", fl("p99_ms")),
            ("", "max, ms", fl("max_ms")),
            ("", "publish → on the last of the streams, p50 / p99 ms",
             lambda k: f"{f[k]['last_stream_latency']['p50_ms']:.1f} / "
             f"{f[k]['last_stream_latency']['p99_ms']:.1f}"),
            ("", "memory idle before the streams (PSS), MB", lambda k: f[k]["rss_idle_kb"] / 1024),
            ("", f"memory with {STREAMS} streams open, MB",
             lambda k: f[k]["rss_streams_open_kb"] / 1024),
            ("", "memory per open stream, KB",
             lambda k: (f[k]["rss_streams_open_kb"] - f[k]["rss_idle_kb"]) / max(1, f[k]["opened"])),
            ("", "memory max during the fan-out, MB", lambda k: f[k]["rss_max_kb"] / 1024),
        ])
        return "\n".join([
            "**Alert event → webhook.** "
            "Columns: runtime, and the receiver keeping connections alive (HTTP/1.1) or answering "
            "`connection: close` (a new connection per delivery).", "",
            webhook, "",
            f"**SSE fan-out: {STREAMS} streams `?topics=alerts`, {FANOUT_EVENTS} events, one "
            f"every {FANOUT_INTERVAL_MS:g} ms.**", "",
            fanout])

    def report(self) -> str:
        m = self.bench.meta
        keys = list(self.bench.runtimes)
        who = ", ".join(f"{B.RUNTIME_NAMES[k]} ({m[k]})" for k in keys)
        return "\n".join([
            f"# Real-time benchmark: {', '.join(B.RUNTIME_NAMES[k] for k in keys)}",
            "",
            f"{m['date']} · {m['machine']} · load average "
            + (f"at the start {m['load_start']}, " if m.get("load_start") else "")
            + f"at the end {m['load_end']} · commit {m['commit']}",
            "",
            f"Runtimes: {who}; {m['mysql']}; Redis {m['redis']}. Both runtimes run throughout, "
            "each as two processes, the API (`spin.toml`) and the notifier app "
            "(`spin-notifier.toml`), the notifier on a channel of its own (`alerts_channel` = "
            "`alerts_spin` / `alerts_host`) and pointed at one webhook receiver (Python "
            "`ThreadingHTTPServer` on a loopback port, HMAC checked, 204). An event is published "
            "as its publishers do: `XADD <prefix>alerts:log`, then `PUBLISH` of the event with "
            "that id; latency is from just before the `PUBLISH` to the webhook's body read "
            "(first arrival per event id), and to the `event: alert` with that id on each "
            "stream (`topics=alerts`; the stream looks for new events every 250 ms). Events "
            "are paced on a fixed schedule; runtimes measured one after the other. Memory: "
            "PSS of the process tree (the notifier app's for the webhook, the API's for the "
            "streams), sampled every 0.2 s.",
            "",
            self.table(),
            "",
        ])

    def write(self, text: str):
        path = os.path.abspath(os.environ.get("RESULTS") or
                               os.path.join(B.REPO, "bench", "results", "realtime.md"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        with open(os.path.splitext(path)[0] + ".json", "w") as fh:
            json.dump({"meta": self.bench.meta, "settings": {
                "webhook_events": WEBHOOK_EVENTS, "webhook_interval_ms": WEBHOOK_INTERVAL_MS,
                "streams": STREAMS, "fanout_events": FANOUT_EVENTS,
                "fanout_interval_ms": FANOUT_INTERVAL_MS}, **self.results}, fh, indent=1)
        log(f"written {path} (and .json)")
        readme = os.path.join(B.REPO, "README.md")
        begin, end = "<!-- realtime:begin -->", "<!-- realtime:end -->"
        if os.environ.get("UPDATE_README", "1") != "0" and not os.environ.get("RESULTS"):
            with open(readme) as fh:
                doc = fh.read()
            if begin in doc and end in doc:
                pre, rest = doc.split(begin, 1)
                post = rest.split(end, 1)[1]
                body = text.split("\n", 2)[2].strip()
                with open(readme, "w") as fh:
                    fh.write(f"{pre}{begin}\n{body}\n{end}{post}")
                log("README.md real-time block updated")

    def cleanup(self):
        if self.open_streams is not None:
            self.open_streams.close()
        if self.publisher is not None:
            self.publisher.redis.close()
        if self.receiver is not None:
            self.receiver.close()
        self.bench.cleanup()

    def budget(self) -> int:
        if os.environ.get("MAX_SECONDS"):
            return int(os.environ["MAX_SECONDS"])
        per = (WEBHOOK_EVENTS * WEBHOOK_INTERVAL_MS / 1000 + FANOUT_EVENTS * FANOUT_INTERVAL_MS
               / 1000 + 2 * DRAIN_SECONDS + 120)
        return int(2 * (per * len(self.bench.wanted) + 180))


def fmt_ms(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def main() -> int:
    rt = None

    def on_signal(signum, _frame):
        raise B.Timeout("time limit reached" if signum == signal.SIGALRM else f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, on_signal)
    try:
        rt = Realtime()
        limit = rt.budget()
        signal.alarm(limit)
        log(f"prefix {rt.bench.prefix}, runtimes {','.join(rt.bench.wanted)}, webhook "
            f"{WEBHOOK_EVENTS} events, fan-out {STREAMS} streams × {FANOUT_EVENTS} events, "
            f"hard limit {limit} s")
        rt.run()
        return 0
    except (B.BenchError, B.Timeout, subprocess.TimeoutExpired, OSError) as e:
        log(f"failed: {e}")
        return 1
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if rt is not None:
            rt.cleanup()


if __name__ == "__main__":
    sys.exit(main())
