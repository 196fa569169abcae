#!/usr/bin/env bash
# kill -9 -> crash event out of sre-sample | sre-detect (1 s interval),
# p50/p99 over ROUNDS kills (default 50). See bench/detect_kill_latency.py.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o bin/ ./cmd/sre-sample ./cmd/sre-detect)
exec /usr/bin/python3 "$ROOT/bench/detect_kill_latency.py" "$ROOT/bin" "${1:-50}"
