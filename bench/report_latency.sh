#!/usr/bin/env bash
# kill -9 -> crash report fsync'd through sample | detect | report (all
# collectors), p50/p99 over ROUNDS kills (default 50). See bench/report_latency.py.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o bin/ ./cmd/...)
exec /usr/bin/python3 "$ROOT/bench/report_latency.py" "$ROOT/bin" "${1:-50}"
