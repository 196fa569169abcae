#!/usr/bin/env bash
# sre-detect throughput and steady RSS on a recorded stream of N samples
# (default 1,000,000, ~1.1 KB each, from bench/detect_gen.py), against
# jq -c 'select(.process.rss_bytes > N)' on the same file in the same run.
# Bar (DESIGN §7): sre-detect >= 5x jq; steady RSS <= 20 MiB.
#
#   bench/detect_throughput.sh [N]      RUNS=3 (sre-detect runs), JQ_RUNS=1
#
# SRE_DETECT_B: another sre-detect build (e.g. before a change) measured in
# the same run; its runs alternate with sre-detect's, so both see the same
# machine, and each gets its own ratio to jq.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-1000000}
RUNS=${RUNS:-3}
JQ_RUNS=${JQ_RUNS:-1}
FILE=${FILE:-${TMPDIR:-/tmp}/sre-detect-bench-$N.ndjson}
DETECT=${SRE_DETECT:-$ROOT/bin/sre-detect}
DETECT_B=${SRE_DETECT_B:-}
[[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o bin/ ./cmd/sre-detect)
command -v jq >/dev/null || { echo "bench: jq not found" >&2; exit 1; }
[[ -z $DETECT_B || -x $DETECT_B ]] || { echo "bench: SRE_DETECT_B=$DETECT_B: not an executable" >&2; exit 1; }
if [[ ! -s $FILE ]]; then
	echo "generating $N samples into $FILE" >&2
	/usr/bin/python3 "$ROOT/bench/detect_gen.py" "$N" > "$FILE.tmp" && mv "$FILE.tmp" "$FILE"
fi
lines=$(wc -l < "$FILE")
size=$(stat -c %s "$FILE")
cat "$FILE" > /dev/null # warm the page cache
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# measure CMD...: prints "seconds maxrss_kb" of one run, stdout discarded.
measure() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null < "$FILE" | tail -1; }

det_s=() det_kb=() b_s=() b_kb=() jq_s=()
for ((i = 0; i < RUNS; i++)); do
	read -r s kb < <(measure "$DETECT" --summary 1m)
	det_s+=("$s") det_kb+=("$kb")
	echo "  sre-detect run $((i + 1)): ${s}s, max RSS ${kb} KiB" >&2
	if [[ -n $DETECT_B ]]; then
		read -r s kb < <(measure "$DETECT_B" --summary 1m)
		b_s+=("$s") b_kb+=("$kb")
		echo "  sre-detect B run $((i + 1)): ${s}s, max RSS ${kb} KiB" >&2
	fi
done
for ((i = 0; i < JQ_RUNS; i++)); do
	read -r s _ < <(measure jq -c 'select(.process.rss_bytes > 629145600)')
	jq_s+=("$s")
	echo "  jq run $((i + 1)): ${s}s" >&2
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
d=$(printf '%s\n' "${det_s[@]}" | median)
j=$(printf '%s\n' "${jq_s[@]}" | median)
kb=$(printf '%s\n' "${det_kb[@]}" | sort -g | tail -1)
awk -v d="$d" -v j="$j" -v n="$lines" -v b="$size" -v kb="$kb" 'BEGIN {
	printf "input: %d samples, %.0f MB (%.0f bytes/line)\n", n, b/1e6, b/n
	printf "sre-detect: %.2f s median = %.0f samples/s, %.1f MB/s, %.2f us/sample\n", d, n/d, b/d/1e6, d/n*1e6
	printf "jq -c select: %.2f s = %.0f samples/s, %.2f us/sample\n", j, n/j, j/n*1e6
	printf "ratio: sre-detect is %.1fx jq (bar >= 5x): %s\n", j/d, (j/d >= 5 ? "PASS" : "FAIL")
	printf "sre-detect max RSS: %.1f MiB (bar <= 20 MiB): %s\n", kb/1024, (kb/1024 <= 20 ? "PASS" : "FAIL")
}'
if [[ -n $DETECT_B ]]; then
	bd=$(printf '%s\n' "${b_s[@]}" | median)
	bkb=$(printf '%s\n' "${b_kb[@]}" | sort -g | tail -1)
	awk -v d="$d" -v bd="$bd" -v j="$j" -v n="$lines" -v kb="$bkb" 'BEGIN {
		printf "sre-detect B: %.2f s median = %.2f us/sample, %.1fx jq, max RSS %.1f MiB\n", bd, bd/n*1e6, j/bd, kb/1024
		printf "sre-detect / B: %.2fx the speed of B\n", bd/d
	}'
fi
