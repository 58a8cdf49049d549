#!/usr/bin/env bash
# Real-time benchmark: alert event published -> signed webhook received (the notifier on its
# Redis trigger), and fan-out of alert events to concurrent SSE streams (/api/v1/stream), on real
# Spin and the local host side by side. Writes bench/results/realtime.md (see bench/README.md).
#
#   bench/realtime.sh                                   # 1000 webhook events, 100 streams
#   WEBHOOK_EVENTS=50 STREAMS=10 FANOUT_EVENTS=10 bench/realtime.sh   # a quick check
#   RUNTIMES=host bench/realtime.sh
#
# Needs `make build native` (or `make bench-realtime`), the mysql client, MariaDB on
# 127.0.0.1:3306 (root) and Redis on 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/realtime.py "$@"
