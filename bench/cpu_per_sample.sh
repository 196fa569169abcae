#!/usr/bin/env bash
# CPU seconds (user+sys of the child, from wait4's rusage) per 1,000
# single-process samples with host fields:
#   sre-sample --pid P --interval 10ms --count 1000
# against the psutil loop reading the same fields at the same rate and count
# (bench/psutil_loop.py sample), in the same run. Runs alternate, RUNS times
# each; medians. A --count 1 run of each measures its start-up and discovery
# cost, which the "net" figure subtracts:
#   net per 1,000 = (cpu(COUNT) - cpu(1)) * 1000 / (COUNT - 1)
# Bar (DESIGN §7): sre-sample <= 1/4 of psutil (net).
#
# A psutil-tight row runs the psutil loop without sleeping, for reference.
#
# Env: RUNS (5), COUNT (1000), INTERVAL (10ms), PYTHON, SRE_SAMPLE, NO_BUILD=1,
# SRE_SAMPLE_B (another sre-sample build measured alongside, e.g. before/after a change).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-5}
COUNT=${COUNT:-1000}
INTERVAL=${INTERVAL:-10ms}
[[ $INTERVAL == *ms ]] || die "INTERVAL must be given in ms, e.g. 10ms"
interval_s=$(awk -v d="${INTERVAL%ms}" 'BEGIN {print d/1000}')
((COUNT > 1)) || die "COUNT must be at least 2"
build_and_check

work=$(mktemp -d)
target=""
cleanup() {
	if [[ -n $target ]]; then kill "$target" 2>/dev/null || true; wait "$target" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sleep 3600 &
target=$!

tools=(sre-sample psutil)
declare -A argv=(
	[sre-sample]="$SRE_SAMPLE --pid $target --interval $INTERVAL"
	[psutil]="$PYTHON $BENCH_DIR/psutil_loop.py sample --pid $target --interval $interval_s"
)
# The same psutil loop without sleeping: the work per sample without the
# cost of waking up 100 times a second (compare with the Go benchmark
# BenchmarkTickOnePID/tight/ndjson). Informational; not part of the bar.
tools+=(psutil-tight)
argv[psutil-tight]="$PYTHON $BENCH_DIR/psutil_loop.py sample --pid $target --interval 0"
if [[ -n ${SRE_SAMPLE_B:-} ]]; then
	tools+=(sre-sample-B)
	argv[sre-sample-B]="$SRE_SAMPLE_B --pid $target --interval $INTERVAL"
fi
echo "cpu_per_sample: $RUNS runs of $COUNT samples at $INTERVAL; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= RUNS; r++)); do
	echo "cpu_per_sample: run $r/$RUNS" >&2
	for t in "${tools[@]}"; do
		for n in "$COUNT" 1; do
			# shellcheck disable=SC2086 # argv entries are word lists without spaces inside words
			"$PYTHON" "$BENCH_DIR/rusage.py" ${argv[$t]} --count "$n" 2>>"$work/stderr" >>"$work/$t.$n" ||
				die "$t: ${argv[$t]} --count $n failed: $(tail -3 "$work/stderr")"
		done
	done
done

cpu() { awk '{print $1+$2}' "$work/$1" | median; }
wall() { awk '{print $3}' "$work/$1" | median; }
echo "# CPU seconds (user+sys), medians of $RUNS runs, $COUNT samples per run at $INTERVAL"
printf 'tool\tcpu_s_%d_samples\twall_s\tcpu_s_startup\tcpu_s_per_1000_gross\tcpu_s_per_1000_net\n' "$COUNT"
for t in "${tools[@]}"; do
	awk -v t="$t" -v full="$(cpu "$t.$COUNT")" -v one="$(cpu "$t.1")" -v w="$(wall "$t.$COUNT")" -v n="$COUNT" 'BEGIN {
		printf "%s\t%.4f\t%.2f\t%.4f\t%.4f\t%.4f\n", t, full, w, one, full * 1000 / n, (full - one) * 1000 / (n - 1) }'
done | tee "$work/table"
awk -F'\t' '{g[$1] = $5; n[$1] = $6} END {
	for (t in g) if (t !~ /^psutil/) {
		printf "ratio_gross %s/psutil\t%.3f\n", t, g[t] / g["psutil"]
		printf "ratio_net %s/psutil\t%.3f\tbar <= 0.250\t%s\n", t, n[t] / n["psutil"], (n[t] / n["psutil"] <= 0.25 ? "PASS" : "FAIL")
	}
}' "$work/table" | sort
