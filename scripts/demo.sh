#!/usr/bin/env bash
# make demo: an incident, start to finish, without root. A demo service
# writes its log and leaks memory; the chain sre-sample | sre-detect |
# sre-report watches it, suspects the leak, and when the service is killed
# writes the crash report. Then: the report, and sre-report list.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin/sre-report" ] || make -s build BIN="$bin"
export PATH="$bin:$PATH"
work=${DEMO_DIR:-$(mktemp -d /tmp/sre-demo.XXXXXX)}
mkdir -p "$work"
holder='' chain=''
cleanup() {
	if [ -n "$holder" ]; then kill "$holder" 2>/dev/null || true; fi
	if [ -n "$chain" ]; then kill "$chain" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Bold headings for a person at a terminal; plain text into a pipe or a
# file, on a dumb terminal, or when NO_COLOR is set (https://no-color.org).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

say "starting demo-service (log: $work/demo.log)"
# Its parent never reaps it, as a slow supervisor would not: the exit status
# is then readable from the dead process, and the report shows the signal.
sh -c "scripts/demo-service '$work/demo.log' '$work/demo.pid' & exec sleep 600" &
holder=$!
for _ in $(seq 50); do [ -s "$work/demo.pid" ] && break; sleep 0.1; done
pid=$(cat "$work/demo.pid")
echo "demo-service runs as pid $pid"

say "watching it: sre-sample --pidfile demo.pid | sre-detect | sre-report --log demo.log"
(
	sre-sample --interval 250ms --pidfile "$work/demo.pid" |
		sre-detect --summary 0 --leak-window 8s --leak-rate 200KiB/s --absent-after 0 |
		sre-report --dir "$work/reports" --log "$work/demo.log" --retry 1s |
		while IFS= read -r line; do
			if command -v jq >/dev/null; then
				printf '%s\n' "$line" | jq -r 'select(.kind == "event") | "  \(.ts[11:23])  \(.severity | ascii_upcase)  \(.type): \(.msg)" + (if .report then "\n                report: \(.report)" else "" end)'
			else
				printf '%s\n' "$line"
			fi
		done
) &
chain=$!

sleep 7
say "kill -9 $pid"
kill -9 "$pid"
sleep 1.5
kill "$chain" 2>/dev/null || true
pkill -f "sre-sample --interval 250ms --pidfile $work/demo.pid" 2>/dev/null || true
wait "$chain" 2>/dev/null || true

say "the crash report (first 45 lines): $(ls "$work"/reports/*_crash_*.txt)"
head -45 "$work"/reports/*_crash_*.txt
echo "  [...]"

say "sre-report list --dir $work/reports --format table"
sre-report list --dir "$work/reports" --format table

say "sre-report verify --dir $work/reports"
sre-report verify --dir "$work/reports"
echo
echo "Everything is in $work. Next: scripts/sre-watch NAME --log FILE on your own service."
exit 0
