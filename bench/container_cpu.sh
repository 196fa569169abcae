#!/usr/bin/env bash
# CPU (user+sys, from wait4's rusage: bench/rusage.py) of
#   sre-sample --container-label sre-bench=cpu --interval 1s --duration D
# watching COUNT idle containers (busybox `sleep`), against
#   sre-sample --pid P1 … --pid PCOUNT --interval 1s --duration D
# watching COUNT idle host `sleep` processes, both running at the same time
# for the same DURATION. A --count 1 run of each measures its start-up, which
# the "net" figure subtracts. Bar (issue 14): containers <= 2x processes.
#
#   bench/container_cpu.sh     DURATION=600 COUNT=20 IMAGE=sre-busybox:local NO_BUILD=1
#                              DOCKERD_PID=PID (also print the daemon's CPU over the run)
#
# DURATION=30 is a smoke run. Needs a Docker daemon (DOCKER_HOST;
# scripts/dockerd-test.sh starts a private one). Every container it starts
# carries the label sre-bench=cpu (not a shorter one, so that the clean-up,
# which removes every container with it, touches nothing else) and is
# removed at the end, with the sleeps.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${DURATION:-600}
COUNT=${COUNT:-20}
IMAGE=${IMAGE:-sre-busybox:local}
LABEL=sre-bench=cpu
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 2)); then die "DURATION must be whole seconds, at least 2"; fi
if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT < 1)); then die "COUNT must be at least 1"; fi
need_docker
[[ -z $(docker ps -aq --filter "label=$LABEL") ]] || die "containers with label $LABEL are already there: remove them first"
build_and_check

work=$(mktemp -d)
sleeps=()
cleanup() {
	((${#sleeps[@]} == 0)) || kill "${sleeps[@]}" 2>/dev/null || true
	remove_labelled "$LABEL"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "container_cpu: starting $COUNT containers and $COUNT sleeps" >&2
pidargs=()
for ((i = 0; i < COUNT; i++)); do
	docker run -d --name "sre-bench-cpu-$$-$i" --label "$LABEL" --network none "$IMAGE" sleep 86400 >/dev/null
	sleep 86400 &
	sleeps+=($!)
	pidargs+=(--pid "$!")
done
cmd_ctr=("$SRE_SAMPLE" --container-label "$LABEL" --interval 1s)
cmd_pid=("$SRE_SAMPLE" "${pidargs[@]}" --interval 1s)

# Both see every one of their targets in one tick.
n=$("${cmd_ctr[@]}" --count 1 2>"$work/err" | grep -c '"kind":"sample".*"up":true' || true)
((n == COUNT)) || die "sre-sample --container-label $LABEL sampled $n containers, not $COUNT: $(tail -3 "$work/err")"
n=$("${cmd_pid[@]}" --count 1 2>"$work/err" | grep -c '"kind":"sample".*"up":true' || true)
((n == COUNT)) || die "sre-sample --pid … sampled $n processes, not $COUNT: $(tail -3 "$work/err")"

# Start-up alone: one tick each.
"$PYTHON" "$BENCH_DIR/rusage.py" "${cmd_ctr[@]}" --count 1 >"$work/ctr.1" 2>>"$work/err" || die "containers, --count 1: $(tail -3 "$work/err")"
"$PYTHON" "$BENCH_DIR/rusage.py" "${cmd_pid[@]}" --count 1 >"$work/pid.1" 2>>"$work/err" || die "processes, --count 1: $(tail -3 "$work/err")"

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime+stime, clock ticks
if [[ -n ${DOCKERD_PID:-} ]]; then d0=$(cpu_of "$DOCKERD_PID"); fi
echo "container_cpu: both for ${DURATION}s at once; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PYTHON" "$BENCH_DIR/rusage.py" "${cmd_ctr[@]}" --duration "${DURATION}s" >"$work/ctr.D" 2>>"$work/err" &
a=$!
"$PYTHON" "$BENCH_DIR/rusage.py" "${cmd_pid[@]}" --duration "${DURATION}s" >"$work/pid.D" 2>>"$work/err" &
b=$!
wait "$a" || die "containers: ${cmd_ctr[*]} failed: $(tail -3 "$work/err")"
wait "$b" || die "processes: ${cmd_pid[*]} failed: $(tail -3 "$work/err")"
if [[ -n ${DOCKERD_PID:-} ]]; then d1=$(cpu_of "$DOCKERD_PID"); fi
[[ ! -s $work/err ]] || { echo "container_cpu: sre-sample said:" >&2; sort "$work/err" | uniq -c | head >&2; }

echo "# CPU seconds (user+sys) of sre-sample over ${DURATION}s at 1s, $COUNT targets each, both at once; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'what\tcpu_s\tcpu_s_startup\tcpu_s_net\tcpu_ms_per_s_net\n'
row() {
	awk -v w="$1" -v d="$DURATION" 'NR == FNR {one = $1 + $2; next} {full = $1 + $2} END {
		printf "%s\t%.3f\t%.3f\t%.3f\t%.3f\n", w, full, one, full - one, (full - one) * 1000 / d }' "$2" "$3"
}
row "$COUNT containers (--container-label)" "$work/ctr.1" "$work/ctr.D" | tee "$work/table"
row "$COUNT processes (--pid)" "$work/pid.1" "$work/pid.D" | tee -a "$work/table"
if [[ -n ${DOCKERD_PID:-} ]]; then
	awk -v t="$(getconf CLK_TCK)" -v a="$d0" -v b="$d1" 'BEGIN {printf "dockerd (pid '"$DOCKERD_PID"'), same window\t%.3f\n", (b - a) / t}'
fi
awk -F'\t' 'NR == 1 {c = $2; cn = $4} NR == 2 {p = $2; pn = $4} END {
	printf "ratio containers/processes\t%.2f\tnet %.2f\tbar <= 2.00\t%s\n", c / p, cn / pn, (c / p <= 2 ? "PASS" : "FAIL") }' "$work/table"
