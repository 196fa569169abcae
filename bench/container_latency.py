#!/usr/bin/env python3
"""Container death -> crash event out of
`sre-sample --container NAME --interval 1s | sre-detect`, against the time
Docker gives the death in its own event (`die`, timeNano).

One `docker events` reader runs for the whole run and keeps, for each bench
container, the die event's timeNano and the wall time at which that line
reached it (a bare subscriber of the daemon's events: the floor of any
watcher that learns of deaths from Docker). Each round:

  - start a container that blocks reading a FIFO in a bind-mounted directory
    and then exits 3 (so its death comes after its first sample);
  - start the pipeline with --pass and read its first sample of the container;
  - write a line to the FIFO: the container exits;
  - read sre-detect's crash line for the container, stamped with the wall
    clock (ns) as it arrives, and check it says exit code 3;
  - latency = arrival of the crash line - the die event's timeNano.

The crash event carries its sample's `ts` (the time sre-sample made the record),
which splits the latency into the sampler's part and the pipe + sre-detect.

The bare subscriber also asks the Engine for the container's inspect the
moment the die line reaches it (over DOCKER_HOST's unix socket), and keeps
when the answer came: the floor of a watcher that asks the daemon about a
death before telling it.

Prints p50/p99/max for the pipeline and for the bare subscriber. Bar
(issue 14): pipeline p99 <= 50 ms after Docker's event.

    bench/container_latency.py BIN_DIR ROUNDS WORKDIR IMAGE LABEL
"""
import http.client
import json
import socket
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

bindir, rounds, work, image, label = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
TIMEOUT = 20  # s: ceiling for any one step on a loaded machine

die_events = {}  # name -> (timeNano, arrival ns, inspect answered ns or None)
cond = threading.Condition()
events = subprocess.Popen(
    ["docker", "events", "--format", "{{json .}}", "--filter", "type=container",
     "--filter", "event=die", "--filter", "label=" + label],
    stdout=subprocess.PIPE, bufsize=0)


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=TIMEOUT)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(self.unix_path)


host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
sock_path = host[len("unix://"):] if host.startswith("unix://") else None


def inspected(cid):
    """The wall time (ns) at which the Engine answers GET /containers/ID/json, or None."""
    if sock_path is None:
        return None
    c = UnixHTTP(sock_path)
    try:
        c.request("GET", "/containers/%s/json" % cid)
        c.getresponse().read()
        return time.time_ns()
    finally:
        c.close()


def follow():
    for line in events.stdout:
        arrived = time.time_ns()
        ev = json.loads(line)
        name = ev.get("Actor", {}).get("Attributes", {}).get("name", "")
        answered = inspected(ev.get("id", ""))  # what a watcher that asks the daemon at a die waits for
        with cond:
            die_events.setdefault(name, (int(ev["timeNano"]), arrived, answered))
            cond.notify_all()


threading.Thread(target=follow, daemon=True).start()
time.sleep(0.5)  # the subscription is made before the first container dies


def ts_ns(ts):
    """An RFC 3339 UTC time with up to 9 fractional digits, in ns since the epoch."""
    whole, _, frac = ts.rstrip("Z").partition(".")
    sec = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(sec) * 10**9 + int((frac + "000000000")[:9])


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def log(msg):
    print("container_latency: " + msg, file=sys.stderr, flush=True)


lat, floor, made, insp, noticed = [], [], [], [], {}
prefix = "sre-bench-lat-%d-" % os.getpid()
for r in range(rounds):
    name = prefix + str(r)
    d = os.path.join(work, name)
    os.mkdir(d)
    fifo = os.path.join(d, "go")
    os.mkfifo(fifo)
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", label, "--network", "none",
                    "-v", d + ":/w", image, "sh", "-c", "read x < /w/go; exit 3"],
                   check=True, stdout=subprocess.DEVNULL)
    pipe = subprocess.Popen(
        ["sh", "-c", '"$0/sre-sample" --container "$1" --interval 1s 2>>"$2/stderr" | '
         '"$0/sre-detect" --pass --summary 0 2>>"$2/stderr"', bindir, name, work],
        stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
    try:
        first = pipe.stdout.readline()
        if b'"kind":"sample"' not in first or b'"up":true' not in first:
            sys.exit("round %d: no first sample of %s: %r (see %s/stderr)" % (r, name, first[:300], work))
        with open(fifo, "w") as f:  # the container's read ends: it exits 3
            f.write("x\n")
        while True:
            line = pipe.stdout.readline()
            arrived = time.time_ns()
            if not line:
                sys.exit("round %d: the pipeline ended without a crash event (see %s/stderr)" % (r, work))
            if b'"type":"crash"' in line:
                break
        ev = json.loads(line)
        if ev.get("target") != name or ev.get("detail", {}).get("exit_code") != 3:
            sys.exit("round %d: crash of %s with exit code %r, want 3: %s" % (
                r, ev.get("target"), ev.get("detail", {}).get("exit_code"), line[:400]))
        how = ev["detail"].get("noticed", "?")
        noticed[how] = noticed.get(how, 0) + 1
        with cond:
            if not cond.wait_for(lambda: name in die_events, TIMEOUT):
                sys.exit("round %d: no die event from docker events for %s" % (r, name))
            tn, sub, answered = die_events[name]
        lat.append((arrived - tn) / 1e6)
        floor.append((sub - tn) / 1e6)
        made.append((ts_ns(ev["ts"]) - tn) / 1e6)
        if answered is not None:
            insp.append((answered - tn) / 1e6)
        log("round %d/%d: crash line %.2f ms after Docker's die (its sample's ts %.2f ms; docker events: %.2f ms, "
            "+ inspect: %s ms)" % (r + 1, rounds, lat[-1], made[-1], floor[-1],
                                   "%.2f" % insp[-1] if answered is not None else "-"))
    finally:
        os.killpg(pipe.pid, signal.SIGTERM)  # the pipeline's own process group
        pipe.wait()
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
events.terminate()
events.wait()

print("# container exit 3 -> crash event, ms after Docker's die event (timeNano), %d deaths; load %s" % (
    len(lat), " ".join(open("/proc/loadavg").read().split()[:3])))
print("what\tp50_ms\tp99_ms\tmax_ms")
print("sre-sample --container --interval 1s | sre-detect\t%.2f\t%.2f\t%.2f" % (pct(lat, 50), pct(lat, 99), max(lat)))
print("  of which: the sample's ts (sre-sample made the record)\t%.2f\t%.2f\t%.2f" % (pct(made, 50), pct(made, 99), max(made)))
print("docker events (bare subscriber)\t%.2f\t%.2f\t%.2f" % (pct(floor, 50), pct(floor, 99), max(floor)))
if insp:
    print("  + GET /containers/ID/json at the die, answered\t%.2f\t%.2f\t%.2f" % (pct(insp, 50), pct(insp, 99), max(insp)))
print("noticed\t" + " ".join("%s:%d" % kv for kv in sorted(noticed.items())))
print("bar p99 <= 50 ms\t%s" % ("PASS" if pct(lat, 99) <= 50 else "FAIL"))
