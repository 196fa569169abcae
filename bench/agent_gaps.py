#!/usr/bin/env python3
"""Every death accounted for while the watch itself is being killed.

sre-agent watches a service that a supervisor here kills (SIGKILL) and
starts again every PERIOD seconds, while a killer SIGKILLs a random stage
of the agent's chain (sre-sample, sre-detect or sre-report) KILLS times
spread over DURATION seconds. At the end every death must be accounted for
in the archive:
  - told: a crash of its pid, a restarted naming it as the process that
    went (prev_pid, or previous_pid while unwatched), or a crash "ended
    while unwatched" with its pid as last seen;
  - or inside a watch_gap the agent recorded (a death the watch could not
    see, said as such).
Prints the counts and exits 1 if any death is neither.

  bench/agent_gaps.py [DURATION] [KILLS] [PERIOD]      (600 100 5)
"""
import json
import os
import random
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SRE_BIN", os.path.join(ROOT, "bin"))
duration = float(sys.argv[1]) if len(sys.argv) > 1 else 600
kills = int(sys.argv[2]) if len(sys.argv) > 2 else 100
period = float(sys.argv[3]) if len(sys.argv) > 3 else 5

work = tempfile.mkdtemp(prefix="sre-gaps-")
victim = os.path.join(work, "gapvictim")
shutil.copy("/bin/sleep", victim)
reports = os.path.join(work, "reports")
cfg = os.path.join(work, "gaps.yaml")
with open(cfg, "w") as f:
    f.write("watch: {name: gapvictim}\ninterval: 200ms\ndetect: {absent_after: 0s}\ndir: %s\n" % reports)

agent = subprocess.Popen([os.path.join(BIN, "sre-agent"), "--config", cfg, "--output", "none"],
                         stderr=open(os.path.join(work, "agent.err"), "w"))


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            pp = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if pp == ppid:
            out.append((int(d), comm))
    return out


deaths = []  # (pid, unix time of the kill)
stage_kills = []
v = subprocess.Popen([victim, "3600"])
time.sleep(3)  # the watch is up
start = time.time()
next_death = start + period
next_kill = start + random.uniform(0, 2 * duration / kills)
while time.time() - start < duration:
    now = time.time()
    if now >= next_death:
        t = time.time()
        v.kill()
        v.wait()
        deaths.append((v.pid, t))
        v = subprocess.Popen([victim, "3600"])
        next_death += period
    if now >= next_kill and len(stage_kills) < kills:
        stages = [(p, c) for p, c in children(agent.pid) if c in ("sre-sample", "sre-detect", "sre-report")]
        killed = False
        if len(stages) == 3:  # a whole chain: not one still starting
            p, c = random.choice(stages)
            try:
                os.kill(p, signal.SIGKILL)
                stage_kills.append((c, time.time()))
                killed = True
            except ProcessLookupError:
                pass
        left = duration - (now - start)
        next_kill = now + (random.uniform(0, 2 * left / max(1, kills - len(stage_kills))) if killed else 0.1)
    time.sleep(0.02)
v.kill()
v.wait()
deaths.append((v.pid, time.time()))
time.sleep(3)  # the last death reaches the archive
agent.send_signal(signal.SIGTERM)
agent.wait(timeout=60)


def utc(s):
    """An RFC 3339 UTC time (nanoseconds cut to microseconds) as Unix time."""
    s = s.rstrip("Z")
    if "." in s:
        a, b = s.split(".")
        s = a + "." + b[:6]
    return datetime.fromisoformat(s + "+00:00").timestamp()


told = set()
gaps = []
for line in open(os.path.join(reports, "events.ndjson")):
    r = json.loads(line)
    d = r.get("detail") or {}
    if r.get("kind") == "notice" and r.get("code") == "watch_gap":
        gaps.append((utc(d["from"]), utc(d["to"])))
    if r.get("kind") != "event" or r.get("target") != "gapvictim":
        continue
    if r.get("type") == "crash" and r.get("process"):
        told.add(r["process"]["pid"])
    if r.get("type") == "restarted":
        for k in ("prev_pid", "previous_pid"):
            if k in d:
                told.add(d[k])
in_gap = lost = 0
for pid, t in deaths:
    if pid in told:
        continue
    if any(a - 0.5 <= t <= b + 0.5 for a, b in gaps):
        in_gap += 1
    else:
        lost += 1
        print("lost: the death of pid %d at %s is neither told nor in a recorded gap" % (pid, datetime.utcfromtimestamp(t).isoformat()), file=sys.stderr)
print("deaths %d, stage kills %d over %.0f s: told %d, inside a recorded gap %d, lost %d; gaps %d (%.1f s unwatched in all)" % (
    len(deaths), len(stage_kills), duration, len(deaths) - in_gap - lost, in_gap, lost, len(gaps), sum(b - a for a, b in gaps)))
if lost == 0 and not os.environ.get("KEEP"):
    shutil.rmtree(work, ignore_errors=True)
else:
    print("kept for a look:", work, file=sys.stderr)
sys.exit(1 if lost else 0)
