#!/usr/bin/env bash
# kill -9 -> crash report fsync'd through sample | detect | report (all
# collectors), p50/p99 over ROUNDS kills (default 30), against a bare fsync
# loop's p99 in the same run; with --stress, both under stress-ng --cpu 2.
# See bench/report_latency.py.
#
#   bench/report_latency.sh [ROUNDS] [--stress]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=30 stress=0
for a in "$@"; do
	case $a in
	--stress) stress=1 ;;
	*) rounds=$a ;;
	esac
done
[[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o bin/ ./cmd/...)
if [[ $stress == 1 ]]; then
	command -v stress-ng >/dev/null || { echo "bench: --stress needs stress-ng (apt-get install stress-ng)" >&2; exit 1; }
	stress-ng --cpu 2 --timeout 600s --quiet &
	spid=$!
	trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null || true' EXIT
	sleep 1
fi
/usr/bin/python3 "$ROOT/bench/report_latency.py" "$ROOT/bin" "$rounds" "$stress"
