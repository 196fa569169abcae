#!/usr/bin/env bash
# Peak RSS of every pipeline stage (DESIGN §7: steady RSS per stage
# <= 20 MiB, bounded with 10 MiB lines). Peak is at least the steady figure,
# so a peak under the bar is a pass. The figure is the stage process's own
# VmHWM, read from /proc every 50 ms until it exits (/usr/bin/time would
# count the programs a stage runs, such as journalctl, as its own).
#
# 1. The live chain, for DURATION seconds (default 60), on a crash-looping
#    victim that lives LIFE seconds (default 2) and exits 1, restarted by
#    sre-heal --apply:
#      sre-sample --interval 10ms --pidfile victim.pid | sre-detect |
#        sre-report --dir D | sre-heal --rules R --dir D --apply
#    each stage under /usr/bin/time (max RSS).
# 2. Oversize lines: 20 10 MiB lines (in turn a valid JSON object and a run
#    of bytes that is not JSON), each between two valid samples, fed to
#    sre-detect, sre-report and sre-heal (dry run) one at a time; each must
#    skip and count the 20 long lines and stay bounded.
#
#   bench/stage_rss.sh            DURATION=60 LIFE=2 NO_BUILD=1 SRE_BIN=DIR (another build)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-60}
LIFE=${LIFE:-2}
build_chain

work=$(mktemp -d)
chain=''
cleanup() {
	[[ -z $chain ]] || kill "$chain" 2>/dev/null || true
	pkill -f -- "--pidfile $work/victim.pid" 2>/dev/null || true
	[[ ! -s $work/victim.pid ]] || kill "$(cat "$work/victim.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

cat > victim.sh <<EOF
echo \$\$ > $work/victim.pid
exec sleep $LIFE
EOF
sed -i "s/^exec sleep $LIFE\$/sleep $LIFE; exit 1/" victim.sh
cat > rules.yaml <<EOF
rules:
  - name: restart-victim
    on: [crash]
    target: $work/victim.pid
    action: restart_process
    command: ["/bin/bash", "$work/victim.sh"]
    log: /dev/null
    start_check_seconds: 0.1
    max_retries: 100000
    retry_window_seconds: 60
    backoff: {initial: 100ms, factor: 1, max: 100ms, jitter: 0, reset_after: 1m}
EOF
# rss NAME CMD...: runs CMD in place of this subshell while a watcher
# records its VmHWM (KiB) in NAME.rss until it exits.
rss() {
	local name=$1 pid=$BASHPID
	shift
	(
		hwm=''
		while v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [[ -n $v ]]; do
			hwm=$v
			sleep 0.05
		done
		echo "$hwm" > "$work/$name.rss"
	) &
	exec "$@"
}

echo "stage_rss: live chain for ${DURATION}s, victim lives ${LIFE}s; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bash victim.sh &
for _ in $(seq 50); do [[ -s victim.pid ]] && break; sleep 0.1; done
(
	(rss sample "$bin/sre-sample" --interval 10ms --pidfile "$work/victim.pid" 2>sample.err) |
		(rss detect "$bin/sre-detect" 2>detect.err) |
		(rss report "$bin/sre-report" --dir "$work/reports" 2>report.err) |
		(rss heal "$bin/sre-heal" --rules rules.yaml --dir "$work/reports" --apply >chain.out 2>heal.err)
) &
chain=$!
sleep "$DURATION"
pkill -TERM -f -- "^$bin/sre-sample --interval 10ms --pidfile $work/victim.pid" || die "sre-sample is not running: $(tail -3 sample.err)"
wait "$chain" || true
chain=''
sleep 0.2 # the watchers' last words
crashes=$(grep -c '"type":"crash"' chain.out || true)
restarts=$(grep -c '"kind":"action".*"result":"ok"' chain.out || true)
reports=$(find reports -name '*_crash_*.txt' | wc -l)

echo "stage_rss: oversize lines" >&2
/usr/bin/python3 - > long.ndjson <<'EOF'
import sys
ok = ('{"v":1,"kind":"sample","ts":"2026-01-01T00:00:%02d.000000000Z","host":"vm","src":"sre-sample",'
      '"target":"api","seq":%d,"up":true,"matches":1,"process":{"pid":4242,"ppid":1,'
      '"start":"2026-01-01T00:00:00.000000000Z","start_ticks":7,"name":"api","state":"S",'
      '"cpu_time_s":1,"rss_bytes":104857600,"vms_bytes":209715200,"threads":4}}\n')
big_json = '{"v":1,"kind":"sample","pad":"' + "x" * (10 << 20) + '"}\n'
big_junk = "\x01" * (10 << 20) + "\n"
for i in range(20):
    sys.stdout.write(ok % (2 * i, 2 * i + 1))
    sys.stdout.write(big_json if i % 2 else big_junk)
    sys.stdout.write(ok % (2 * i + 1, 2 * i + 2))
EOF
# The input stays open a moment after the file, so the watcher reads the
# stage's peak before it exits.
feed() { cat long.ndjson; sleep 0.5; }
feed | (rss long-detect "$bin/sre-detect" > long-detect.out 2> long-detect.err)
feed | (rss long-report "$bin/sre-report" --dir "$work/long-reports" > long-report.out 2> long-report.err)
feed | (rss long-heal "$bin/sre-heal" --rules rules.yaml --dir "$work/long-reports" > long-heal.out 2> long-heal.err)
sleep 0.2

echo "# peak RSS (KiB, VmHWM); bar: 20 MiB = 20480 KiB per stage"
echo "# live chain: ${DURATION}s at --interval 10ms, $crashes crashes, $restarts restarts, $reports reports"
printf 'stage\tpeak_rss_kib\tbar\n'
for s in sample detect report heal long-detect long-report long-heal; do
	kb=$(cat "$s.rss" 2>/dev/null)
	[[ -n $kb ]] || die "no RSS figure for $s"
	printf '%s\t%s\t%s\n' "$s" "$kb" "$( ((kb <= 20480)) && echo PASS || echo FAIL)"
done
echo "# what each stage said about the 20 long lines (stderr):"
for s in long-detect long-report long-heal; do
	printf '%s\t%s\n' "$s" "$(grep -E 'lines skipped' "$s.err" | tail -1 || true)"
	grep -q 'lines skipped (oversize=20)' "$s.err" || die "$s did not count the 20 long lines: $(tail -2 "$s.err")"
done
