#!/usr/bin/env bash
# Memory of every stage over many crash/restart cycles (DESIGN §7: steady
# RSS per stage; each restart is a new process identity, and what a stage
# keeps per identity must be let go). The whole chain runs on a victim that
# lives LIFE seconds and exits 1, restarted each time by sre-heal --apply:
#
#   sre-sample --interval INTERVAL --pidfile victim.pid | sre-detect --absent-after 1s |
#     sre-report --dir D | sre-heal --rules R --dir D --apply
#
# (A victim that dies before a tick saw it never "crashed"; on a loaded
# machine that happens, and the rule restarts on "absent" then.)
#
# Every STEP cycles (a cycle: the victim crashed, its report was written,
# sre-heal restarted it) the VmRSS of each stage is read from
# /proc/PID/status. The bar: after the first WARM cycles, no stage's RSS
# rises more than 10 % above its own RSS at WARM cycles — the baseline is
# each stage itself, in the same run.
#
#   bench/crash_cycles.sh     COUNT=10000 WARM=1000 STEP=250 INTERVAL=10ms LIFE=0.05 NO_BUILD=1
#
# Prints a table (cycles, then each stage's VmRSS in KiB) and the verdict;
# progress goes to stderr. It stops early, and fails, when no cycle
# completes for 60 s.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COUNT=${COUNT:-10000}
WARM=${WARM:-1000}
STEP=${STEP:-250}
INTERVAL=${INTERVAL:-10ms}
LIFE=${LIFE:-0.05}
((WARM < COUNT)) || die "WARM ($WARM) must be below COUNT ($COUNT)"
build_chain

work=$(mktemp -d)
stages=(sample detect report heal)
cleanup() {
	local s
	for s in "${stages[@]}"; do
		[[ ! -s $work/$s.pid ]] || kill "$(cat "$work/$s.pid")" 2>/dev/null || true
	done
	sleep 0.2
	[[ ! -s $work/victim.pid ]] || kill "$(cat "$work/victim.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

cat > victim.sh <<EOF
echo \$\$ > $work/victim.pid.tmp
mv $work/victim.pid.tmp $work/victim.pid
echo >> $work/starts
sleep \${1:-$LIFE}
exit 1
EOF
cat > rules.yaml <<EOF
rules:
  - on: [crash, absent]
    target: $work/victim.pid
    action: restart_process
    command: ["/bin/bash", "$work/victim.sh"]
    log: /dev/null
    start_check_seconds: 0.01
    max_retries: 1000
    retry_window_seconds: 1
    backoff: {initial: 10ms, factor: 1, max: 10ms, jitter: 0, reset_after: 1m}
EOF
chmod 600 rules.yaml

# stage NAME CMD...: records the stage's PID, then becomes CMD.
stage() {
	echo "$BASHPID" > "$work/$1.pid"
	shift
	exec "$@"
}

bash victim.sh 2 & # the first one lives until the chain is up
for _ in $(seq 100); do [[ -s victim.pid ]] && break; sleep 0.05; done
(
	(stage sample "$bin/sre-sample" --interval "$INTERVAL" --pidfile "$work/victim.pid" 2>sample.err) |
		(stage detect "$bin/sre-detect" --absent-after 1s 2>detect.err) |
		(stage report "$bin/sre-report" --dir "$work/reports" 2>report.err) |
		(stage heal "$bin/sre-heal" --rules rules.yaml --dir "$work/reports" --apply >/dev/null 2>heal.err)
) &
for _ in $(seq 100); do [[ -s heal.pid && -s sample.pid ]] && break; sleep 0.05; done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$(cat "$work/$1.pid")/status" 2>/dev/null || echo 0; }
cycles() { local n; n=$(wc -l < starts); echo $((n - 1)); }

echo "crash_cycles: $COUNT cycles, --interval $INTERVAL, victim lives ${LIFE}s; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start=$(date +%s)
printf 'cycles\t%s\n' "$(IFS=$'\t'; echo "${stages[*]}")" > table
next=0 last=0 stalled=$(date +%s)
while :; do
	n=$(cycles)
	if ((n > last)); then last=$n stalled=$(date +%s); fi
	if ((n >= next)); then
		row="$n"
		for s in "${stages[@]}"; do row+=$'\t'$(rss "$s"); done
		echo "$row" >> table
		echo "crash_cycles: $row  ($(($(date +%s) - start))s)" >&2
		((n < COUNT)) || break
		next=$(((n / STEP + 1) * STEP))
		((next <= COUNT)) || next=$COUNT
	fi
	(($(date +%s) - stalled < 60)) || die "no cycle for 60s at $n: $(tail -2 heal.err report.err 2>/dev/null)"
	sleep 0.2
done
elapsed=$(($(date +%s) - start))
crashes=$(find reports -name '*_crash_*.txt' | wc -l)

echo "# VmRSS (KiB) of each stage every $STEP cycles; $last cycles in ${elapsed}s, $crashes crash reports"
cat table
# each stage: RSS at the first row at or past WARM, the highest after it
awk -v warm="$WARM" -F'\t' '
NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; n = NF; next }
$1 >= warm && !based { for (i = 2; i <= n; i++) base[i] = $i; based = 1; next }
based { for (i = 2; i <= n; i++) if ($i > top[i]) top[i] = $i; last = $0 }
END {
	if (!based) { print "no row past WARM"; exit 1 }
	printf "stage\trss_at_%d_kib\tmax_after_kib\tratio\tbar\n", warm
	fail = 0
	for (i = 2; i <= n; i++) {
		if (top[i] == 0) top[i] = base[i]
		r = top[i] / base[i]
		ok = r <= 1.10
		if (!ok) fail = 1
		printf "%s\t%d\t%d\t%.3f\t%s\n", name[i], base[i], top[i], r, ok ? "PASS (<= 1.10)" : "FAIL (> 1.10)"
	}
	exit fail
}' table
