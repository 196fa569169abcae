#!/usr/bin/python3
"""The psutil baseline for sre-sample's benchmarks (run with /usr/bin/python3,
which has Debian's python3-psutil).

    psutil_loop.py watch  --pidfile FILE [--interval 1]
        A 1 s polling monitor: re-reads FILE every cycle, prints "watch PID"
        when it starts watching a PID and "gone PID" when that process has
        died (gone, reused, or a zombie) -- the job sre-sample --pidfile does.
    psutil_loop.py sample --pid P [--interval 0.01] [--count 1000]
        Samples one process and the host every interval and prints one JSON
        line per sample: the fields sre-sample reports for --pid P.
    psutil_loop.py scan   [--pid P]
        One pass over every process with a command line (what
        sre-sample --match . --count 1 selects), or over P alone (the
        start-up-cost run), printing one JSON line per process.
"""

import argparse
import json
import os
import pwd
import sys
import time

import psutil


def host_fields():
    """The host part of a sample, read the way a psutil user would."""
    out = {}
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    out["mem_total_bytes"] = vm.total
    out["mem_available_bytes"] = vm.available
    out["swap_total_bytes"] = sw.total
    out["swap_used_bytes"] = sw.used
    out["load1"], out["load5"], out["load15"] = os.getloadavg()
    du = psutil.disk_usage("/")
    out["disk"] = [{"path": "/", "total_bytes": du.total, "used_bytes": du.used,
                    "free_bytes": du.free, "used_pct": du.percent}]
    try:
        with open("/proc/pressure/memory") as f:
            for line in f:
                kind, rest = line.split(None, 1)
                avg10 = float(rest.split()[0].split("=")[1])
                out["psi_mem_%s_avg10" % kind] = avg10
    except OSError:
        pass
    with open("/proc/vmstat") as f:
        for line in f:
            if line.startswith("oom_kill "):
                out["oom_kills"] = int(line.split()[1])
                break
    return out


def watch(args):
    watched = None  # psutil.Process
    reported = False
    out = sys.stdout
    while True:
        try:
            with open(args.pidfile) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None and (watched is None or watched.pid != pid):
            try:
                watched = psutil.Process(pid)
                if watched.status() != psutil.STATUS_ZOMBIE:
                    reported = False
                    out.write("watch %d\n" % pid)
                    out.flush()
                else:
                    watched, reported = None, True
            except psutil.Error:
                watched = None
        if watched is not None and not reported:
            try:
                dead = not watched.is_running() or watched.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                dead = True
            if dead:
                out.write("gone %d\n" % watched.pid)
                out.flush()
                reported = True
        time.sleep(args.interval)


def sample(args):
    p = psutil.Process(args.pid)
    # Read once, as sre-sample does at discovery.
    static = {"pid": p.pid, "exe": p.exe(), "args": p.cmdline(), "user": p.username()}
    last_cpu = last_at = None
    nxt = time.monotonic()
    for seq in range(1, args.count + 1):
        now = time.monotonic()
        pr = dict(static)
        with p.oneshot():
            ct = p.cpu_times()
            mi = p.memory_info()
            pr["ppid"] = p.ppid()
            pr["name"] = p.name()
            pr["state"] = p.status()
            pr["start"] = p.create_time()
            pr["threads"] = p.num_threads()
            pr["fds"] = p.num_fds()
            pr["rss_bytes"] = mi.rss
            pr["vms_bytes"] = mi.vms
            cpu = ct.user + ct.system
            pr["cpu_time_s"] = cpu
            if last_at is not None and now > last_at:
                pr["cpu_pct"] = round((cpu - last_cpu) / (now - last_at) * 100, 2)
            last_cpu, last_at = cpu, now
        rec = {"v": 1, "kind": "sample", "ts": time.time(), "src": "psutil", "target": "pid:%d" % p.pid,
               "seq": seq, "up": True, "process": pr, "system": host_fields()}
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
        if seq == args.count:
            break
        nxt += args.interval
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def scan(args):
    me = os.getpid()
    sysf = host_fields()
    procs = [psutil.Process(args.pid)] if args.pid else psutil.process_iter()
    n = 0
    users = {}
    for p in procs:
        if p.pid == me:
            continue
        try:
            with p.oneshot():
                cmd = p.cmdline()
                if not cmd:  # kernel threads: --match . selects none of them
                    continue
                # A field this user may not read is left out, as sre-sample does.
                d = p.as_dict(attrs=["ppid", "name", "status", "create_time", "cpu_times", "memory_info",
                                     "num_threads", "num_fds", "exe", "uids"], ad_value=None)
                pr = {"pid": p.pid, "ppid": d["ppid"], "name": d["name"], "args": cmd, "state": d["status"],
                      "start": d["create_time"], "threads": d["num_threads"], "fds": d["num_fds"], "exe": d["exe"]}
                if d["cpu_times"]:
                    pr["cpu_time_s"] = d["cpu_times"].user + d["cpu_times"].system
                if d["memory_info"]:
                    pr["rss_bytes"], pr["vms_bytes"] = d["memory_info"].rss, d["memory_info"].vms
                try:
                    pr["fds_limit"] = p.rlimit(psutil.RLIMIT_NOFILE)[0]
                except psutil.AccessDenied:
                    pass
                if d["uids"]:
                    uid = d["uids"].real
                    if uid not in users:  # cached per uid, as sre-sample does
                        try:
                            users[uid] = pwd.getpwuid(uid).pw_name
                        except KeyError:
                            users[uid] = None
                    if users[uid]:
                        pr["user"] = users[uid]
                try:
                    with open("/proc/%d/cgroup" % p.pid) as f:
                        pr["cgroup"] = f.read()
                except OSError:
                    pass
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rec = {"v": 1, "kind": "sample", "ts": time.time(), "src": "psutil", "target": ".",
               "up": True, "process": pr, "system": sysf}
        sys.stdout.write(json.dumps(rec) + "\n")
        n += 1
    sys.stdout.flush()
    print("psutil scan: %d processes" % n, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--pidfile", required=True)
    w.add_argument("--interval", type=float, default=1.0)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--count", type=int, default=1000)
    c = sub.add_parser("scan")
    c.add_argument("--pid", type=int, default=0)
    args = ap.parse_args()
    try:
        {"watch": watch, "sample": sample, "scan": scan}[args.mode](args)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()
