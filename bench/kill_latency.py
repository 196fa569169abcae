#!/usr/bin/python3
"""kill -9 -> "it is down" latency of several monitors watching the same
process, in one run (driven by bench/kill_latency.sh).

Each round starts a victim (`sleep 3600`), writes its PID to a pidfile that
every monitor watches, waits until each monitor has picked it up, waits a
random part of the interval (so the kill lands at a random phase of the
monitors' ticks), kills it with SIGKILL, and times, for each monitor, the
moment its "down" line is read from its stdout. Both timestamps are taken in
this process from CLOCK_MONOTONIC. The victim is reaped at once by a thread,
as a supervisor would.

Monitors:
  sre-sample  sre-sample --pidfile F --interval 1s: the up:false sample with
              "exit" for the victim's PID
  psutil      psutil_loop.py watch --pidfile F --interval 1: "gone PID"
  monit       monit -I, `set daemon 1`, `check process ... with pidfile F`:
              "'victim' process is not running"
  pidfd-floor pidfd_watch.py, told each PID on stdin: a bare pidfd waiter,
              the floor this machine allows (its tail is the machine's)
"""

import argparse
import calendar
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

NS = 1_000_000_000


def now():
    return time.monotonic_ns()


class Monitor:
    def __init__(self, name, argv, parse, stderr, stdin=subprocess.DEVNULL):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, stdin=stdin,
                                     start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.parse = parse
        self.acks = {}  # pid -> ns
        self.gone = {}  # pid -> ns
        self.lat = []  # ms, per round
        self.noticed = {}  # pid -> CLOCK_REALTIME ns of the record's ts (sre-sample)
        self.notice_lat = []  # ms, kill -> record's ts
        self.missed = 0

    def feed(self, data, t, ctx):
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.parse(self, line.decode("utf-8", "replace"), t, ctx)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def rfc3339_ns(ts):
    """Nanoseconds since the epoch of an RFC 3339 UTC time with up to 9
    fractional digits (what sre-sample writes)."""
    base, _, frac = ts.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * NS + int((frac + "000000000")[:9])


def parse_sre(m, line, t, ctx):
    try:
        rec = json.loads(line)
    except ValueError:
        return
    pr = rec.get("process") or {}
    if rec.get("up"):
        m.acks.setdefault(pr.get("pid"), t)
    elif "exit" in rec:
        pid = rec["exit"].get("pid")
        m.gone.setdefault(pid, t)
        # The record's own ts splits the latency: kill -> record made
        # (sre-sample noticed it) and record made -> line read here.
        try:
            m.noticed.setdefault(pid, rfc3339_ns(rec["ts"]))
        except (KeyError, ValueError):
            pass


def parse_psutil(m, line, t, ctx):
    f = line.split()
    if len(f) == 2 and f[1].isdigit():
        (m.acks if f[0] == "watch" else m.gone).setdefault(int(f[1]), t)


def parse_monit(m, line, t, ctx):
    # monit names the service, not the PID: a "not running" line belongs to
    # the victim killed last, a "running with pid N" line acknowledges N.
    if "process is running with pid" in line:
        m.acks.setdefault(int(line.rsplit(None, 1)[1]), t)
    elif "process is not running" in line and ctx.get("killed"):
        m.gone.setdefault(ctx["killed"], t)


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sre-sample", required=True)
    ap.add_argument("--psutil-loop", required=True)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--monit", default="", help="monit binary; empty: skip monit")
    ap.add_argument("--pidfd-watch", default="", help="bench/pidfd_watch.py, the machine's floor; empty: skip")
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--raw", default="", help="write per-kill latencies (TSV) here")
    args = ap.parse_args()
    random.seed(args.seed)

    tmp = tempfile.mkdtemp(prefix="sre-kill-")
    pidfile = os.path.join(tmp, "victim.pid")
    errlog = open(os.path.join(tmp, "stderr.log"), "wb")
    victims = []

    def new_victim():
        v = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
        victims.append(v)
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % v.pid)
        os.rename(pidfile + ".tmp", pidfile)
        for m in monitors:
            if m.name == "pidfd-floor":
                m.proc.stdin.write(b"%d\n" % v.pid)
                m.proc.stdin.flush()
        return v

    monitors = []
    ctx = {}
    sel = selectors.DefaultSelector()
    try:
        if args.pidfd_watch:
            monitors.append(Monitor("pidfd-floor", [args.python, args.pidfd_watch], parse_psutil, errlog,
                                    stdin=subprocess.PIPE))
        victim = new_victim()
        monitors.append(Monitor("sre-sample", [args.sre_sample, "--pidfile", pidfile, "--interval",
                                               "%dms" % int(args.interval * 1000)], parse_sre, errlog))
        monitors.append(Monitor("psutil", [args.python, args.psutil_loop, "watch", "--pidfile", pidfile,
                                           "--interval", str(args.interval)], parse_psutil, errlog))
        if args.monit:
            rc = os.path.join(tmp, "monitrc")
            with open(rc, "w") as f:
                f.write("set daemon %d\n" % max(1, round(args.interval)))
                for k in ("pidfile", "idfile", "statefile"):
                    f.write("set %s %s\n" % (k, os.path.join(tmp, "monit." + k)))
                f.write("set logfile %s\n" % os.path.join(tmp, "monit.log"))
                f.write("check process victim with pidfile %s\n" % pidfile)
            os.chmod(rc, 0o600)
            monitors.append(Monitor("monit", ["stdbuf", "-oL", args.monit, "-I", "-c", rc], parse_monit,
                                    subprocess.STDOUT))  # monit prints errors on stderr
        for m in monitors:
            sel.register(m.proc.stdout, selectors.EVENT_READ, m)

        def pump(until_ns, done):
            while not done():
                left = until_ns - now()
                if left <= 0:
                    return False
                for key, _ in sel.select(left / NS):
                    m = key.data
                    data = os.read(key.fileobj.fileno(), 65536)
                    t = now()
                    if not data:
                        raise SystemExit("kill_latency: monitor %s exited (see %s)" % (m.name, errlog.name))
                    m.feed(data, t, ctx)
            return True

        # Let every monitor run a couple of cycles (monit says nothing about
        # the first PID it watches).
        pump(now() + int(2.5 * args.interval * NS), lambda: False)
        for i in range(args.kills):
            if i > 0:
                victim = new_victim()
            pid = victim.pid
            acked = [m for m in monitors if not (m.name == "monit" and i == 0)]
            ok = pump(now() + 5 * NS, lambda: all(pid in m.acks for m in acked))
            if not ok:
                print("round %d: not every monitor picked up pid %d: %s" %
                      (i, pid, [m.name for m in acked if pid not in m.acks]), file=sys.stderr)
            time.sleep(random.uniform(0, args.interval))
            ctx["killed"] = pid
            t0 = now()
            t0_real = time.time_ns()
            os.kill(pid, signal.SIGKILL)
            threading.Thread(target=victim.wait, daemon=True).start()
            pump(now() + int(3 * args.interval * NS) + NS, lambda: all(pid in m.gone for m in monitors))
            row = [str(pid)]
            for m in monitors:
                if pid in m.gone:
                    m.lat.append((m.gone[pid] - t0) / 1e6)
                    row.append("%.3f" % m.lat[-1])
                    if pid in m.noticed:
                        m.notice_lat.append((m.noticed[pid] - t0_real) / 1e6)
                        row[-1] += " (record made at %.3f)" % m.notice_lat[-1]
                else:
                    m.missed += 1
                    row.append("miss")
            print("kill %2d pid %d: %s" % (i + 1, pid, "  ".join(
                "%s %s ms" % (m.name, r) for m, r in zip(monitors, row[1:]))), file=sys.stderr)
            if args.raw:
                with open(args.raw, "a") as f:
                    if i == 0:
                        f.write("pid\t" + "\t".join(m.name + "_ms" for m in monitors) + "\n")
                    f.write("\t".join(r.split(" ")[0] for r in row) + "\n")
            ctx["killed"] = None
    finally:
        for m in monitors:
            m.stop()
        for v in victims:
            if v.poll() is None:
                v.kill()
                v.wait()
        errlog.close()
        shutil.rmtree(tmp, ignore_errors=True)

    # One line per monitor: name kills missed p50 p99 max mean (ms).
    print("monitor\tkills\tmissed\tp50_ms\tp99_ms\tmax_ms\tmean_ms")
    for m in monitors:
        if m.lat:
            print("%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f" % (m.name, len(m.lat), m.missed, pct(m.lat, 50),
                                                         pct(m.lat, 99), max(m.lat), sum(m.lat) / len(m.lat)))
        else:
            print("%s\t0\t%d\t-\t-\t-\t-" % (m.name, m.missed))
    for m in monitors:
        if m.notice_lat:
            x = m.notice_lat
            print("%s(record ts)\t%d\t-\t%.2f\t%.2f\t%.2f\t%.2f" % (m.name, len(x), pct(x, 50), pct(x, 99),
                                                              max(x), sum(x) / len(x)))


if __name__ == "__main__":
    main()
