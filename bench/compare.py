#!/usr/bin/env python3
"""Compares the FastAPI reference with real Spin (or the local host) response by response, on one
freshly seeded data set: the bench's own setup (databases, seed, users, simulator, servers), then
each path once on each runtime, status and JSON body compared; then the settled-day income cache
both ways (the entries one side writes are what the other reads). Cleans up like bench.py.

Floats are compared with a tolerance (relative and absolute 1e-9): the analysis routes' energies
are sums of thousands of trapezoids, and the two sides add the same terms in the same order, but
a difference in the last digit is reported as `near`, not as a difference. Everything else (keys
and their order, ints, strings, nulls, list lengths) must be equal.

  bench/compare.py                       # the trading and analysis paths, Spin against the reference
  RUNTIMES=host,ref bench/compare.py /api/v1/income/daily?date=2026-11-20 ...

Environment: as bench.py (SEED_DAYS, RUNTIMES: the first is compared with the second).
"""

from __future__ import annotations

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("RUNTIMES", "spin,ref")
import bench  # noqa: E402  (the bench's setup and cleanup)


def default_paths() -> list[str]:
    d = bench.DATES
    month = d["last_month"]
    return [
        "/api/v1/schedule?weeks=4", "/api/v1/schedule?mode=edreg&weeks=52", "/api/v1/schedule",
        "/api/v1/schedule?mode=both&weeks=53", "/api/v1/schedule?weeks=0",
        f"/api/v1/income/daily?date={d['settled_day']}", f"/api/v1/income/daily?date={month}-15",
        "/api/v1/income/daily", "/api/v1/income/daily?date=2026-02-30", "/api/v1/income/daily?date=1969-12-31",
        f"/api/v1/income/monthly?month={month}", "/api/v1/income/monthly", "/api/v1/income/monthly?month=2026-13",
        "/api/v1/income/monthly?month=2001-01",
        f"/api/v1/execution-rate?date={d['settled_day']}", "/api/v1/execution-rate",
        "/api/v1/execution-rate?event_id=1", "/api/v1/execution-rate?event_id=3",
        "/api/v1/execution-rate?event_id=999999", "/api/v1/execution-rate?event_id=0",
        "/api/v1/execution-rate?event_id=x", "/api/v1/execution-rate?event_id=1&date=2026-11-02",
        f"/api/income/month?month={month}", f"/api/exec_rate?date={d['settled_day']}",
        "/api/v1/system/overview",
    ] + analysis_paths()


def analysis_paths() -> list[str]:
    """Fixed windows inside the seeded history (the settled day and around it), so both sides
    integrate the same rows; the defaults (the last 24 h) move with the clock and are left out."""
    d = bench.DATES
    day, after = d["settled_day"], d["day_after"]
    window = f"from={day}&to={after}"
    odd = f"from={day}T10:17:23&to={after}T03:05"  # partial buckets, edges between samples
    three = f"from={d['last_month']}-10&to={d['last_month']}-13"
    v1 = "/api/v1/analysis"
    return [
        f"{v1}/power-loss?{window}", f"{v1}/power-loss?{odd}", f"{v1}/power-loss?{three}",
        f"{v1}/power-loss?from=2001-01-01&to=2001-01-02",
        f"{v1}/power-io?{window}", f"{v1}/power-io?{window}&interval=day", f"{v1}/power-io?{odd}",
        f"{v1}/power-io?{three}&interval=day", f"{v1}/power-io?{three}&interval=hour",
        f"{v1}/power-io?from=2001-01-01&to=2001-01-02&interval=day",
        f"{v1}/freq-power?{window}", f"{v1}/freq-power?{odd}",
        f"{v1}/freq-power?from={day}T13:00&to={day}T13:20",
        f"{v1}/freq-power?from=2001-01-01&to=2001-01-02",
        # 422s
        f"{v1}/power-loss?from=yesterday", f"{v1}/power-loss?from=x&to=2026-13-01",
        f"{v1}/power-loss?from={after}&to={day}", f"{v1}/power-loss?from=2026-01-01&to=2026-03-01",
        f"{v1}/power-io?{window}&interval=week", f"{v1}/power-io?from={after}&to={day}&interval=minute",
        f"{v1}/freq-power?from={day}&to={after}T00:00:01",
        # the legacy paths
        f"/api/power_loss?{window}", f"/api/power_io?{window}&interval=day", f"/api/freq_power?{odd}",
    ]


def get(rt, path: str, token: str | None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    status, body = bench.http_request(rt.port, path, headers=headers, timeout=300)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


VOLATILE = {"updated_at", "now", "checked_at"}


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


TOLERANCE = 1e-9
NEAR = [0]  # floats equal within TOLERANCE but not to the bit


def diff(a, b, where="", ordered=True) -> list[str]:
    """Differences of two JSON values; `ordered`: key order counts too; floats within TOLERANCE
    (relative or absolute) count as equal (and in NEAR when not identical)."""
    if type(a) is float and type(b) is float and a != b and \
            math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        NEAR[0] += 1
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        if list(a) != list(b) and (ordered or set(a) != set(b)):
            out.append(f"{where or '.'}: keys {list(a)} vs {list(b)}")
        for k in a.keys() & b.keys():
            out += diff(a[k], b[k], f"{where}.{k}", ordered)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{where}[{i}]", ordered)]
    if a != b or type(a) is not type(b):
        return [f"{where}: {a!r} vs {b!r}"]
    return []


def main() -> int:
    b = bench.Bench()
    paths = sys.argv[1:] or default_paths()
    first, second = b.wanted[:2]
    failures = 0
    try:
        b.preflight()
        env = b.environment()
        b.prepare_data(env)
        b.define_runtimes(env)
        b.start_servers()
        b.login()
        x, y = b.runtimes[first], b.runtimes[second]
        for path in paths:
            for token_of in ("viewer",):
                sx, bx = get(x, path, x.tokens[token_of])
                sy, by = get(y, path, y.tokens[token_of])
                # Error items' key order differs by design (bench/reference/README.md).
                problems = ([f"status {sx} vs {sy}"] if sx != sy else []) + \
                    diff(strip(bx), strip(by), ordered=sx < 400)
                failures += bool(problems)
                near, NEAR[0] = NEAR[0], 0
                print(f"{'SAME' if not problems else 'DIFF'} {sx} {path}"
                      + (f" ({near} float(s) equal within {TOLERANCE:g}, not to the bit)" if near else ""))
                for p in problems[:20]:
                    print(f"    {p}")
        # The settled-day cache, written by one side and read by the other.
        month = bench.DATES["last_month"]
        for writer, reader in ((x, y), (y, x)):
            b.redis.delete_prefix(b.prefix, "cache:income:*")
            sw, bw = get(writer, f"/api/v1/income/monthly?month={month}", writer.tokens["viewer"])
            keys = sorted(k.decode() for k in b.redis.cmd("KEYS", f"{b.prefix}cache:income:*"))
            before = b.mysql_user.stats()
            sr, br = get(reader, f"/api/v1/income/monthly?month={month}", reader.tokens["viewer"])
            after = b.mysql_user.stats()
            same = sw == sr == 200 and not diff(strip(bw), strip(br))
            print(f"cache written by {writer.key}: {len(keys)} keys like {keys[:1]}; {reader.key} reading "
                  f"it ran {bench.statements(before, after)} MySQL statements; answers "
                  f"{'SAME' if same else 'DIFF'}")
            failures += not same
        # Byte-for-byte: one day's entry as each side writes it.
        day = f"{month}-15"
        texts = {}
        for rt in (x, y):
            b.redis.delete_prefix(b.prefix, "cache:income:*")
            get(rt, f"/api/v1/income/daily?date={day}", rt.tokens["viewer"])
            keys = b.redis.cmd("KEYS", f"{b.prefix}cache:income:*")
            texts[rt.key] = (keys[0].decode(), b.redis.cmd("GET", keys[0])) if keys else None
        same = texts[x.key] == texts[y.key]
        failures += not same
        print(f"cache entry for {day}: {'byte-identical key and value' if same else 'DIFFERENT'}")
        if not same:
            for k, v in texts.items():
                print(f"    {k}: {v!r:.400}")
    finally:
        b.cleanup()
    print(f"{failures} difference(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
