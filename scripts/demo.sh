#!/usr/bin/env bash
# A two-minute tour without root: start a victim process, watch it, kill it,
# and see the crash reported the moment it happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
[ -x "$bin/sre-sample" ] || go build -o "$bin/" ./cmd/...
work=$(mktemp -d)
trap 'kill $victim $watcher 2>/dev/null || true; rm -rf "$work"' EXIT

sleep 3600 &
victim=$!
echo "demo: victim is 'sleep 3600', pid $victim"
echo "demo: sampling it every 500ms:  $bin/sre-sample --interval 500ms --pid $victim"
"$bin/sre-sample" --interval 500ms --pid "$victim" >"$work/samples.ndjson" &
watcher=$!
sleep 1.6
echo "demo: kill -9 $victim"
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
sleep 1.2
kill "$watcher"
wait "$watcher" || true

show() {
	if command -v jq >/dev/null; then
		jq -r '[.ts[11:23], (if .up then "up  " else "DOWN" end),
			"pid=\(.process.pid // "-")",
			"rss=\(.process.rss_bytes // "-")",
			"cpu=\(.process.cpu_pct // "-")%",
			(if .exit then "exit: noticed by \(.exit.noticed) after \(.exit.uptime_s)s" else "" end)] | join("  ")' "$1"
	else
		cat "$1"
	fi
}
echo
echo "demo: what sre-sample printed (one NDJSON record per line, shown through jq):"
show "$work/samples.ndjson"
echo
echo "demo: the crash record in full:"
grep '"exit"' "$work/samples.ndjson" | head -1
