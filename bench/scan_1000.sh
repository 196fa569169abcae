#!/usr/bin/env bash
# One pass over 1,000 processes: start N `sleep` processes, then time
#   sre-sample --match . --count 1      (one tick samples every process)
# against the psutil script reading the same per-process fields for every
# process once (bench/psutil_loop.py scan), with hyperfine, in the same run.
# Each tool's start-up cost is measured by the same command on one process
# (sre-sample --pid P --count 1; psutil_loop.py scan --pid P) and subtracted,
# so the ratio compares the pass itself:
#   pass = median(all processes) - median(one process)
# Bar (DESIGN §7): sre-sample <= 1/2 of psutil.
#
# Env: PROCS (1000), RUNS (20), WARMUP (3), PYTHON, SRE_SAMPLE, NO_BUILD=1,
# SRE_SAMPLE_B (another sre-sample build measured alongside, e.g. before/after a change).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROCS=${PROCS:-1000}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
command -v hyperfine >/dev/null || die "hyperfine not found: apt-get install hyperfine"
build_and_check

work=$(mktemp -d)
holder=""
cleanup() {
	if [[ -n $holder ]]; then
		kill -TERM "$holder" 2>/dev/null || true
		wait "$holder" 2>/dev/null || true
		# Whatever is left of the holder's process group (the sleeps are alone in it).
		kill -KILL -- "-$holder" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setsid puts the holder and its sleeps in a process group of their own, so
# one kill ends them all, whatever happens to this script.
# The holder reaps its sleeps on SIGTERM (orphans are reaped late on some hosts).
setsid bash -c 'trap "kill \$(jobs -p) 2>/dev/null; wait; exit 0" TERM
	for ((i = 0; i < $1; i++)); do sleep 3600 & done; echo "$!" >"$2.tmp"; mv "$2.tmp" "$2"; wait' \
	holder "$PROCS" "$work/last" &
holder=$!
for _ in $(seq 200); do [[ -s $work/last ]] && break; sleep 0.05; done
[[ -s $work/last ]] || die "the $PROCS sleeps did not start"
one=$(cat "$work/last")
procs=(/proc/[0-9]*)
total=${#procs[@]}
echo "scan_1000: $PROCS sleeps started; $total processes on the host; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

cmds=(
	-n sre-sample "$SRE_SAMPLE --match . --count 1"
	-n psutil "$PYTHON $BENCH_DIR/psutil_loop.py scan"
	-n sre-sample-one "$SRE_SAMPLE --pid $one --count 1"
	-n psutil-one "$PYTHON $BENCH_DIR/psutil_loop.py scan --pid $one"
)
tools=(sre-sample psutil)
if [[ -n ${SRE_SAMPLE_B:-} ]]; then
	cmds+=(-n sre-sample-B "$SRE_SAMPLE_B --match . --count 1" -n sre-sample-B-one "$SRE_SAMPLE_B --pid $one --count 1")
	tools+=(sre-sample-B)
fi
hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/h.json" "${cmds[@]}" >&2

# How many processes each pass really sampled (stderr, which hyperfine drops).
ours_n=$("$SRE_SAMPLE" --match . --count 1 2>/dev/null | wc -l)
theirs_n=$("$PYTHON" "$BENCH_DIR/psutil_loop.py" scan 2>/dev/null | wc -l)

"$PYTHON" - "$work/h.json" "$ours_n" "$theirs_n" "$PROCS" "${tools[@]}" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
tools = sys.argv[5:]
med = {k: r["median"] * 1000 for k, r in res.items()}
print("# wall ms, medians of %d runs; %s sleeps; sre-sample sampled %s processes, psutil %s"
      % (len(res["sre-sample"]["times"]), sys.argv[4], sys.argv[2], sys.argv[3]))
# hyperfine gives CPU (user+sys of the child) as means only.
cpu = {k: (r["user"] + r["system"]) * 1000 for k, r in res.items()}
print("tool\tall_ms\tone_ms(start-up)\tpass_ms\tcpu_all_ms(mean)\tcpu_one_ms(mean)\tcpu_pass_ms")
for t in tools:
    print("%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f" % (t, med[t], med[t + "-one"], med[t] - med[t + "-one"],
                                                  cpu[t], cpu[t + "-one"], cpu[t] - cpu[t + "-one"]))
for t in tools:
    if t == "psutil":
        continue
    gross = med[t] / med["psutil"]
    net = (med[t] - med[t + "-one"]) / (med["psutil"] - med["psutil-one"])
    cnet = (cpu[t] - cpu[t + "-one"]) / (cpu["psutil"] - cpu["psutil-one"])
    print("ratio_gross %s/psutil\t%.3f" % (t, gross))
    print("ratio_cpu_pass %s/psutil\t%.3f" % (t, cnet))
    print("ratio_pass %s/psutil\t%.3f\tbar <= 0.500\t%s" % (t, net, "PASS" if net <= 0.5 else "FAIL"))
PY
