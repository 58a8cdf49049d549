#!/usr/bin/env bash
# Real Spin, the local host and the FastAPI reference side by side, on the same freshly seeded
# data: req/s at 8 and 64 connections, p50/p99 at 1, start-up time, RSS of the process tree and
# MySQL/Redis connections opened per request, route by route. Prints one table with ratios to the
# reference and writes it to bench/results/latest.md (see bench/README.md).
#
#   bench/run.sh                              # 5 s per run, 3 start-up samples
#   DURATION=1 WARMUP=0 STARTS=1 bench/run.sh # a quick check
#   RUNTIMES=spin,host ROUTES=me,health bench/run.sh
#
# Needs `make build native` (or `make bench`), wrk, the mysql client, MariaDB on 127.0.0.1:3306
# (root) and Redis on 127.0.0.1:6379; the reference needs what bench/reference/README says.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/bench.py "$@"
