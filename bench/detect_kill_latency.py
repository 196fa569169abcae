#!/usr/bin/env python3
"""kill -9 -> crash event out of `sre-sample --interval 1s --pid P | sre-detect`.

For each round: start a victim (sleep), start the pipeline with --pass, wait
for the first sample (the sampler now watches the victim), SIGKILL the
victim and time until the crash event line is read from sre-detect's
stdout. Prints p50/p99/max in ms. Bar (DESIGN §7): p50 <= 5 ms, p99 <= 25 ms.

    bench/detect_kill_latency.py BIN_DIR [ROUNDS]
"""
import os
import signal
import subprocess
import sys
import time

bindir = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
lat = []
for r in range(rounds):
    victim = subprocess.Popen(["sleep", "600"])
    pipe = subprocess.Popen(
        ["sh", "-c", '"$0/sre-sample" --interval 1s --pid "$1" 2>/dev/null | "$0/sre-detect" --pass --summary 0',
         bindir, str(victim.pid)], stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
    first = pipe.stdout.readline()
    if b'"kind":"sample"' not in first:
        sys.exit("no first sample: %r" % first)
    t0 = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    while True:
        line = pipe.stdout.readline()
        if not line:
            sys.exit("pipeline ended without a crash event")
        if b'"type":"crash"' in line:
            lat.append((time.monotonic() - t0) * 1000)
            break
    victim.wait()
    os.killpg(pipe.pid, signal.SIGTERM)  # the pipeline's own process group
    pipe.wait()
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print("kill -9 -> crash event through sre-sample --interval 1s | sre-detect, %d kills:" % len(lat))
print("  p50 %.2f ms, p99 %.2f ms, max %.2f ms (bar p50 <= 5 ms, p99 <= 25 ms): %s" % (
    pct(50), pct(99), lat[-1], "PASS" if pct(50) <= 5 and pct(99) <= 25 else "FAIL"))
