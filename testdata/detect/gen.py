#!/usr/bin/python3
"""Writes the synthetic sample streams of the sre-detect golden tests.

Each case is CASE.in.ndjson (samples shaped exactly as sre-sample writes
them) plus CASE.args (the flags). The expected output, CASE.want.ndjson, is
written by `go test ./internal/detectcmd -run Golden -update` and reviewed.
crash_real.in.ndjson is a real recording and is not made here.

    cd testdata/detect && /usr/bin/python3 gen.py
"""
import json
import math
import random
from datetime import datetime, timedelta, timezone

BASE = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
GIB = 1 << 30
MIB = 1 << 20


def ts(sec):
    t = BASE + timedelta(microseconds=round(sec * 1e6))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d000Z" % t.microsecond


class Stream:
    def __init__(self, name, args):
        self.name, self.args, self.lines, self.seq = name, args, [], 0

    def sample(self, t, target, pid=None, start=None, rss=100 * MIB, threads=4, cpu=1.0, fds=20,
               fds_limit=1024, up=True, exit=None, matches=None, avail=12 * GIB, psi=0.0,
               oom_kills=0, cgroup_oom=None, cgroup_max=None, name=None, host="web1", start_ts=0.0):
        self.seq += 1
        s = {"v": 1, "kind": "sample", "ts": ts(t), "host": host, "src": "sre-sample",
             "target": target, "seq": self.seq, "up": up,
             "matches": matches if matches is not None else (1 if up else 0)}
        if pid is not None:
            p = {"pid": pid, "ppid": 1, "start": ts(start_ts), "start_ticks": start if start is not None else pid * 10,
                 "name": name or target, "args": [name or target, "--serve"], "user": "app", "uid": 1000,
                 "state": "S", "cpu_time_s": round(t * (cpu or 0) / 100, 2), "rss_bytes": int(rss),
                 "vms_bytes": int(rss) * 4, "threads": threads, "cgroup": "/system.slice/%s.service" % target}
            if cpu is not None:
                p["cpu_pct"] = cpu
            if fds is not None:
                p["fds"] = fds
            if fds_limit is not None:
                p["fds_limit"] = fds_limit
            if cgroup_max is not None:
                p["cgroup_mem_max_bytes"] = cgroup_max
            if cgroup_oom is not None:
                p["cgroup_oom_kills"] = cgroup_oom
            # keep the schema's key order: cpu_pct before cpu_time_s is not required
            s["process"] = p
        s["system"] = {"mem_total_bytes": 16 * GIB, "mem_available_bytes": int(avail),
                       "swap_total_bytes": 0, "swap_used_bytes": 0, "load1": 0.5,
                       "psi_mem_some_avg10": psi, "psi_mem_full_avg10": 0, "oom_kills": oom_kills}
        if exit is not None:
            s["exit"] = exit
            s["matches"] = matches if matches is not None else 0
        self.lines.append(json.dumps(s, separators=(",", ":")))

    def raw(self, line):
        self.lines.append(line)

    def write(self):
        with open(self.name + ".in.ndjson", "w") as f:
            f.write("\n".join(self.lines) + "\n")
        with open(self.name + ".args", "w") as f:
            f.write(self.args + "\n")


def kill(pid, uptime, signal="SIGKILL", noticed="pidfd"):
    e = {"pid": pid, "noticed": noticed, "uptime_s": uptime}
    if signal:
        e["signal"], e["signal_num"] = signal, {"SIGKILL": 9, "SIGSEGV": 11, "SIGTERM": 15}[signal]
    return e


def main():
    random.seed(7)

    # restarted: pid 100 replaced by pid 200 between two ticks, no exit seen.
    s = Stream("restarted", "--summary 0")
    for i in range(3):
        s.sample(i, "api", pid=100)
    for i in range(3, 6):
        s.sample(i, "api", pid=200, start_ts=2.5)
    s.write()

    # absent: never seen for 40s, then up; later gone (exit) and absent again.
    s = Stream("absent", "--summary 0 --absent-after 30s")
    for i in range(0, 41, 2):
        s.sample(i, "db", up=False)
    for i in range(42, 50, 2):
        s.sample(i, "db", pid=300, start_ts=41)
    s.sample(50.3, "db", pid=300, up=False, exit={"pid": 300, "noticed": "pidfd", "code": 1, "uptime_s": 9.3})
    for i in range(52, 100, 2):
        s.sample(i, "db", up=False)
    s.write()

    # memory_flapping: RSS around 1 GiB for a minute. Exactly one
    # memory_high / memory_ok pair: hysteresis 10% and --mem-for 5s.
    s = Stream("memory_flapping", "--summary 0 --mem-max 1GiB --mem-for 5s --hysteresis 10% --cooldown 1m")
    for i in range(0, 80):
        if i < 10:
            rss = 0.7 * GIB
        elif i < 60:
            rss = GIB * (1.0 + (0.05 if i % 2 else -0.04))  # flaps across 1 GiB, stays above 0.9 GiB
        else:
            rss = 0.6 * GIB
        s.sample(i, "cache", pid=400, rss=rss)
    s.write()

    # memory_host: host available memory dips below 5% of 16 GiB, and PSI
    # climbs; a short dip (below --mem-for) gives nothing.
    s = Stream("memory_host", "--summary 0 --host-mem-min 5% --psi-max 20 --mem-for 3s")
    for i in range(0, 40):
        avail = 12 * GIB
        psi = 0.0
        if i == 5:
            avail = 0.5 * GIB  # one sample: not long enough
        if 10 <= i < 25:
            avail = 0.4 * GIB
            psi = 35.0
        s.sample(i, "batch", pid=500, avail=avail, psi=psi)
    s.write()

    # leak: RSS grows ~2 MiB/s with noise for 10 minutes; a flat neighbour
    # (same noise, no growth) gives nothing.
    s = Stream("leak", "--summary 0 --leak-window 5m --leak-rate 1MiB/m --leak-r2 0.8")
    for i in range(0, 600, 5):
        s.sample(i, "leaky", pid=600, rss=200 * MIB + i * 2 * MIB + random.uniform(-3, 3) * MIB, avail=8 * GIB - i * 2 * MIB)
        s.sample(i, "steady", pid=601, rss=200 * MIB + random.uniform(-3, 3) * MIB, avail=8 * GIB - i * 2 * MIB)
    s.write()

    # leak_cgroup: growth toward a cgroup limit: the projection uses it.
    s = Stream("leak_cgroup", "--summary 0 --leak-window 2m --leak-rate 100KiB/s")
    for i in range(0, 180, 2):
        s.sample(i, "jvm", pid=610, rss=300 * MIB + i * MIB, cgroup_max=GIB)
    s.write()

    # threads: 8 threads, then 20 (>= 50%), then 21 (not), then 8 again.
    s = Stream("threads", "--summary 0 --threads-delta 50% --cooldown 10s")
    for i, n in enumerate([8, 8, 9, 20, 21, 20, 20, 20, 20, 20, 20, 20, 20, 8, 8]):
        s.sample(i * 2, "pool", pid=700, threads=n)
    s.write()

    # fds: near 80% of a 1024 limit, then back; another process without a
    # known limit against --fds-max 100.
    s = Stream("fds", "--summary 0 --fds-max 100 --cooldown 0")
    for i in range(0, 30):
        n = 900 if 10 <= i < 20 else 300
        s.sample(i, "proxy", pid=800, fds=n, fds_limit=1024)
        s.sample(i, "nolimit", pid=801, fds=150 if 5 <= i < 15 else 50, fds_limit=None)
    s.write()

    # cpu: 99% for 90s with one dip to 85% (inside the hysteresis band),
    # then idle. --cpu-for 1m.
    s = Stream("cpu", "--summary 0 --cpu-max 90 --cpu-for 1m")
    for i in range(0, 150, 5):
        cpu = 2.0
        if 10 <= i < 100:
            cpu = 85.0 if i == 70 else 99.0
        s.sample(i, "spin", pid=900, cpu=cpu)
    s.write()

    # oom: the host counter rises and the process dies by SIGKILL in the same
    # breath: crash with oom_suspected, and one oom_kill. A cgroup counter
    # rise on another target.
    s = Stream("oom", "--summary 0")
    for i in range(0, 5):
        s.sample(i, "hog", pid=1000, rss=3 * GIB, oom_kills=2)
        s.sample(i, "ctr", pid=1001, cgroup_oom=0, cgroup_max=GIB, rss=900 * MIB, oom_kills=2)
    s.sample(5.2, "hog", pid=1000, rss=3 * GIB, up=False, exit=kill(1000, 5.2), oom_kills=3)
    for i in range(6, 9):
        s.sample(i, "hog", up=False, oom_kills=3)
        s.sample(i, "ctr", pid=1001, cgroup_oom=1 if i >= 7 else 0, cgroup_max=GIB, rss=900 * MIB, oom_kills=3)
    s.write()

    # custom: a jq condition with --when-for and a severity.
    s = Stream("custom", "--summary 0 --when 'big=.process.rss_bytes > 500000000' --when-for big=5s "
                         "--when-severity big=critical --when 'down=.up == false' --cooldown 0")
    for i in range(0, 30):
        rss = 600e6 if 5 <= i < 20 else 100e6
        if i in (12,):
            rss = 100e6  # one dip resets nothing once firing: the condition clears
        s.sample(i, "svc", pid=1100, rss=rss)
    s.sample(30, "svc", up=False)
    s.sample(31, "svc", up=False)
    s.sample(32, "svc", pid=1101, start_ts=31.5)
    s.write()

    # pid_reuse: pid 1200 dies, and a new process gets pid 1200 again: a new
    # identity, so recovered — and a late sample of the old one is stale.
    s = Stream("pid_reuse", "--summary 0")
    for i in range(0, 3):
        s.sample(i, "worker", pid=1200, start=5000)
    s.sample(3.1, "worker", pid=1200, start=5000, up=False, exit=kill(1200, 3.1, signal="SIGSEGV"))
    s.sample(4, "worker", up=False)
    for i in range(5, 8):
        s.sample(i, "worker", pid=1200, start=5450, start_ts=4.5)
    s.sample(8, "worker", pid=1200, start=5000)  # the old identity again: stale
    s.write()

    # multi: three processes under one target; one is killed (exit), one
    # vanishes at a tick (no exit), a new one starts.
    s = Stream("multi", "--summary 10s")
    pids = [1300, 1301, 1302]
    for i in range(0, 4):
        for p in pids:
            s.sample(i, "nginx", pid=p, matches=3, rss=(50 + p - 1300) * MIB)
    s.sample(4.4, "nginx", pid=1301, up=False, exit=kill(1301, 4.4, signal="SIGTERM", noticed="pidfd"), matches=2)
    for i in range(5, 8):
        for p in [1300, 1302]:
            s.sample(i, "nginx", pid=p, matches=2, rss=(50 + p - 1300) * MIB)
    for i in range(8, 12):
        for p in [1300, 1303]:  # 1302 is gone without an exit; 1303 replaces it
            s.sample(i, "nginx", pid=p, matches=2, start_ts=7.5, rss=(50 + p - 1300) * MIB)
    for i in range(12, 15):
        s.sample(i, "nginx", pid=1300, matches=1, rss=50 * MIB)  # 1303 vanished: a crash seen only by absence
    s.write()

    # bad_input: bad lines, a newer schema, out-of-order and duplicate
    # samples, missing fields; other records pass through in order.
    s = Stream("bad_input", "--summary 0")
    s.raw('{"v":1,"kind":"notice","ts":"2026-01-01T12:00:00.000000000Z","host":"web1","src":"sre-sample","code":"hello","msg":"first record"}')
    s.sample(0, "app", pid=1400)
    s.raw('not json at all')
    s.raw('{"v":2,"kind":"sample","ts":"2026-01-01T12:00:01.000000000Z","target":"app"}')
    s.raw('{"kind":"sample"}')
    s.sample(1, "app", pid=1400)
    s.sample(1, "app", pid=1400)  # duplicate
    s.sample(0.5, "app", pid=1400)  # out of order
    s.raw('{"v":1,"kind":"sample","ts":"2026-01-01T12:00:02.000000000Z","host":"web1","src":"sre-sample","target":"app","seq":99,"up":true,"matches":1}')
    s.raw('{"v":1,"kind":"sample","ts":"2026-01-01T12:00:02.000000000Z","host":"web1","src":"sre-sample","target":"app","seq":98,"up":true,"matches":1,"process":{"pid":1400}}')
    s.raw('{"v":1,"kind":"event","ts":"2026-01-01T12:00:02.000000000Z","host":"web1","src":"sre-other","id":"x1","type":"custom","severity":"info","target":"app","msg":"an event from upstream passes through."}')
    s.sample(2, "app", pid=1400, up=False, exit=kill(1400, 2.0))
    s.sample(2.1, "app", pid=1400, up=False, exit=kill(1400, 2.1))  # a second exit of the same identity
    s.write()

    # summary: two targets over 2.5 minutes, 1-minute summaries.
    s = Stream("summary", "--summary 1m")
    for i in range(0, 150, 10):
        s.sample(i, "a", pid=1500, rss=100 * MIB + i * 10000, cpu=10 + i % 3, threads=4 + i // 60, fds=10 + i // 10)
        s.sample(i, "b", pid=1501, rss=50 * MIB, cpu=None, fds=None)
    s.write()


main()
