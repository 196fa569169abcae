#!/usr/bin/env bash
# kill -9 -> "down" latency, 1 s interval, KILLS kills: sre-sample --pidfile
# (the up:false sample with "exit" on its stdout) against a 1 s psutil
# polling loop (bench/psutil_loop.py watch) and, where installed, monit with
# a 1 s cycle, all watching the same victims in the same run. Each latency
# runs from just before kill(2) to the moment the measuring process reads the
# monitor's line, both from CLOCK_MONOTONIC in bench/kill_latency.py.
# A bare pidfd waiter (bench/pidfd_watch.py) runs alongside as the floor:
# a tail it shares with sre-sample is the machine's, not sre-sample's.
# Bar (DESIGN §7): sre-sample p50 <= 5 ms, p99 <= 25 ms.
#
# Env: KILLS (50), INTERVAL (1, seconds), MONIT (auto|0), PYTHON, SRE_SAMPLE,
# NO_BUILD=1, RAW (a file for the per-kill latencies).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KILLS=${KILLS:-50}
INTERVAL=${INTERVAL:-1}
MONIT=${MONIT:-auto}
build_and_check

monit_bin=""
if [[ $MONIT != 0 ]] && command -v monit >/dev/null; then
	monit_bin=$(command -v monit)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
raw=${RAW:-$work/raw.tsv}
echo "kill_latency: $KILLS kills, interval ${INTERVAL}s, monitors: pidfd-floor sre-sample psutil${monit_bin:+ monit}; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The driver cleans up its victims and monitors itself (also on Ctrl-C).
"$PYTHON" "$BENCH_DIR/kill_latency.py" --sre-sample "$SRE_SAMPLE" --psutil-loop "$BENCH_DIR/psutil_loop.py" \
	--python "$PYTHON" --monit "$monit_bin" --pidfd-watch "$BENCH_DIR/pidfd_watch.py" --kills "$KILLS" --interval "$INTERVAL" --raw "$raw" >"$work/summary.tsv"
echo "# latency kill -9 -> line read, ms; nearest-rank percentiles over $KILLS kills"
cat "$work/summary.tsv"
awk -F'\t' '$1 == "sre-sample" {
	printf "bar\tp50 <= 5 ms: %s\tp99 <= 25 ms: %s\n", ($4 <= 5 ? "PASS" : "FAIL"), ($5 <= 25 ? "PASS" : "FAIL") }' "$work/summary.tsv"
