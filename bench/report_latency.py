#!/usr/bin/env python3
"""kill -9 -> crash report written and fsync'd, through the whole chain
`sre-sample --interval 1s --pid P | sre-detect | sre-report --log LOG`,
with every collector on (log tail, host, kernel, Docker, Kubernetes, tools).

sre-report emits the crash event, annotated with its report's path, only
after the report file and the directory are fsync'd; the time from the kill
to reading that line is the bar's figure. Prints p50/p99/max in ms.
Bar (DESIGN §7): p99 <= 300 ms.

    bench/report_latency.py BIN_DIR [ROUNDS]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

bindir = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
work = tempfile.mkdtemp(prefix="sre-report-bench.")
log = os.path.join(work, "app.log")
lat = []
for r in range(rounds):
    with open(log, "a") as f:
        f.write("round %d: the victim starts\n" % r)
    victim = subprocess.Popen(["sleep", "600"])
    pipe = subprocess.Popen(
        ["sh", "-c", '"$0/sre-sample" --interval 1s --pid "$1" 2>/dev/null | "$0/sre-detect" --pass --summary 0 |'
         ' "$0/sre-report" --dir "$2" --log "$3" 2>/dev/null',
         bindir, str(victim.pid), os.path.join(work, "reports"), log],
        stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
    first = pipe.stdout.readline()
    if b'"kind":"sample"' not in first:
        sys.exit("no first sample: %r" % first)
    time.sleep(0.2)  # let the collectors warm up as in a long-running chain
    t0 = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    while True:
        line = pipe.stdout.readline()
        if not line:
            sys.exit("pipeline ended without a crash event")
        if b'"type":"crash"' in line:
            dt = (time.monotonic() - t0) * 1000
            path = json.loads(line).get("report")
            if not path or not os.path.exists(path):
                sys.exit("crash event without a report on disk: %r" % line[:200])
            lat.append(dt)
            break
    victim.wait()
    os.killpg(pipe.pid, signal.SIGTERM)
    pipe.wait()
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print("kill -9 -> crash report fsync'd, sre-sample --interval 1s | sre-detect | sre-report --log, %d kills:" % len(lat))
print("  p50 %.1f ms, p99 %.1f ms, max %.1f ms (bar p99 <= 300 ms): %s" % (
    pct(50), pct(99), lat[-1], "PASS" if pct(99) <= 300 else "FAIL"))
