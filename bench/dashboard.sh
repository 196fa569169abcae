#!/usr/bin/env bash
# The dashboard on real history (DESIGN §7: with 100,000 events and 5,000
# reports, the index page in < 200 ms, the server < 50 MiB RSS).
#
#   bench/dashboard.sh [EVENTS] [REPORTS]     RUNS=30
#
# Fills a report directory with bench/dashboard_gen.go (20 targets over 30
# days, real chained reports, heal actions, a summary per target every 15
# min; cached in $DIR), starts `sre-report serve` on it, and times, with
# curl, RUNS answers of each page, against the server's own floor in the
# same run: its stylesheet, a static file from memory. Then the server's peak
# RSS (VmHWM) after all of it, beside sre-score's reading the same archive
# once (/usr/bin/time -v).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EVENTS=${1:-100000}
REPORTS=${2:-5000}
RUNS=${RUNS:-30}
DIR=${DIR:-${TMPDIR:-/tmp}/sre-dashboard-bench-$EVENTS-$REPORTS}
bin=${SRE_BIN:-$ROOT/bin}
[[ ${NO_BUILD:-0} == 1 || $bin != "$ROOT/bin" ]] || (cd "$ROOT" && make -s build) || die "go build failed"
command -v curl >/dev/null || die "curl: not installed (apt-get install curl)"
if [[ ! -s $DIR/events.ndjson ]]; then
	echo "filling $DIR: $EVENTS events, $REPORTS reports" >&2
	rm -rf "$DIR.tmp"
	(cd "$ROOT" && go run bench/dashboard_gen.go "$DIR.tmp" "$EVENTS" "$REPORTS") && mv "$DIR.tmp" "$DIR"
fi
cat "$DIR/events.ndjson" > /dev/null # warm the page cache

err=$(mktemp)
"$bin/sre-report" serve --dir "$DIR" --listen 127.0.0.1:0 2> "$err" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -f "$err"' EXIT
for _ in $(seq 300); do grep -q 'read-only' "$err" && break; sleep 0.1; done
addr=$(grep -o 'http://127.0.0.1:[0-9]*' "$err") || die "sre-report serve did not start: $(cat "$err")"
t0=$(date +%s.%N)
curl -sf -o /dev/null "$addr/" || die "no index page"
t1=$(date +%s.%N)
echo "first read of the directory (the first page waits for it): $(echo "$t1 - $t0" | bc) s"

# times PATH: RUNS answers' total time in ms, one a line.
times() {
	local i
	for ((i = 0; i < RUNS; i++)); do
		curl -sf -o /dev/null -w '%{time_total}\n' "$addr$1" | awk '{print $1 * 1000}'
	done
}
p95() { sort -g | awk '{a[NR]=$1} END {i = int(NR * 0.95 + 0.5); if (i < 1) i = 1; print a[i]}'; }
report() { # LABEL PATH
	local ts
	ts=$(times "$2")
	printf '%-44s median %8.2f ms  p95 %8.2f ms  %8d bytes\n' "$1" "$(median <<<"$ts")" "$(p95 <<<"$ts")" \
		"$(curl -sf -o /dev/null -w '%{size_download}' "$addr$2")"
}
report "floor: /static/style.css" /static/style.css
report "index / (24h, 20 targets)" /
report "index /?w=30d" "/?w=30d"
report "incidents, first page" /incidents
report "incidents, text search (reads the archive)" "/incidents?severity=all&q=leak"
report "a target's page, 30 days of trends" "/target?name=svc-03&w=30d"
report "an incident with its report and chain" "/incident?id=e0000020"
idx=$(times / | median)
floor=$(times /static/style.css | median)
echo "index / : $idx ms, $(echo "scale=1; $idx / $floor" | bc)x the floor ($floor ms); bar < 200 ms"
hwm=$(awk '/VmHWM/ {print $2}' /proc/$srv/status)
echo "server peak RSS after all of it: $((hwm / 1024)) MiB (bar < 50 MiB)"
score_kb=$(/usr/bin/time -v "$bin/sre-score" --format json "$DIR/events.ndjson" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')
echo "sre-score reading the same archive once: $((score_kb / 1024)) MiB peak RSS"
