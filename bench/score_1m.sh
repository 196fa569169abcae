#!/usr/bin/env bash
# sre-score on an archive of N records (default 1,000,000, ~630 bytes each,
# 200 targets over 30 days, from bench/score_gen.go): wall time and peak RSS
# (/usr/bin/time -v), against `wc -l` on the same file in
# the same run (the floor of reading it at all).
# Bar (DESIGN §7): <= 2 s, memory bounded (the same peak RSS at any size).
#
#   bench/score_1m.sh [N]      RUNS=5
#
# SRE_SCORE_B: another sre-score build (e.g. before a change) measured in
# the same runs, alternating; its median and the ratio are printed too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-1000000}
RUNS=${RUNS:-5}
FILE=${FILE:-${TMPDIR:-/tmp}/sre-score-bench-$N.ndjson}
SCORE=${SRE_SCORE:-$ROOT/bin/sre-score}
SCORE_B=${SRE_SCORE_B:-}
[[ -z $SCORE_B || -x $SCORE_B ]] || { echo "bench: SRE_SCORE_B=$SCORE_B: not an executable" >&2; exit 1; }
[[ ${NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o bin/ ./cmd/sre-score)
if [[ ! -s $FILE ]]; then
	echo "generating $N records into $FILE" >&2
	(cd "$ROOT" && go run bench/score_gen.go "$N") > "$FILE.tmp" && mv "$FILE.tmp" "$FILE"
fi
lines=$(wc -l < "$FILE")
size=$(stat -c %s "$FILE")
cat "$FILE" > /dev/null # warm the page cache

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# measure CMD...: prints "seconds maxrss_kb" of one run (from time -v).
measure() {
	/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/Maximum resident set size/ { kb = $2 }
		END { print s, kb }'
}

sc_s=() sc_kb=() grep_s=() b_s=() b_kb=()
for ((i = 0; i < RUNS; i++)); do
	read -r s kb < <(measure "$SCORE" --format prom --window 1h,24h,7d "$FILE")
	sc_s+=("$s") sc_kb+=("$kb")
	echo "  sre-score run $((i + 1)): ${s}s, max RSS ${kb} KiB" >&2
	if [[ -n $SCORE_B ]]; then
		read -r s kb < <(measure "$SCORE_B" --format prom --window 1h,24h,7d "$FILE")
		b_s+=("$s") b_kb+=("$kb")
		echo "  sre-score B run $((i + 1)): ${s}s, max RSS ${kb} KiB" >&2
	fi
	read -r s _ < <(measure wc -l "$FILE")
	grep_s+=("$s")
done
s=$(printf '%s\n' "${sc_s[@]}" | median)
kb=$(printf '%s\n' "${sc_kb[@]}" | sort -g | tail -1)
g=$(printf '%s\n' "${grep_s[@]}" | median)
echo "archive: $lines records, $((size / 1000000)) MB"
echo "sre-score: median ${s}s over $RUNS runs ($(awk -v s="$s" -v n="$lines" 'BEGIN {printf "%.2f", s * 1e9 / n}') ns/record), peak RSS $((kb / 1024)) MiB"
echo "wc -l (read floor): median ${g}s; sre-score / wc -l = $(awk -v a="$s" -v b="$g" 'BEGIN {printf "%.1f", a / b}')x"
awk -v s="$s" 'BEGIN { exit !(s <= 2) }' && echo "bar <= 2 s: met" || echo "bar <= 2 s: NOT met"
if [[ -n $SCORE_B ]]; then
	bs=$(printf '%s\n' "${b_s[@]}" | median)
	bkb=$(printf '%s\n' "${b_kb[@]}" | sort -g | tail -1)
	echo "sre-score B ($SCORE_B): median ${bs}s, peak RSS $((bkb / 1024)) MiB; this / B = $(awk -v a="$s" -v b="$bs" 'BEGIN {printf "%.3f", a / b}') (time), $(awk -v a="$kb" -v b="$bkb" 'BEGIN {printf "%.3f", a / b}') (RSS)"
fi
