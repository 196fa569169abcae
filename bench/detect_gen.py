#!/usr/bin/python3
"""Writes N sample records (default 1,000,000) to stdout, shaped exactly as
sre-sample writes them (args, disk, unavailable: ~1.1 KB a line): four
targets sampled once a second, RSS wandering, one process in a hundred
samples above 600 MiB. Deterministic, so runs compare.

    bench/detect_gen.py 1000000 > /tmp/samples.ndjson
"""
import sys
from datetime import datetime, timedelta, timezone

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
base = datetime(2026, 1, 1, tzinfo=timezone.utc)
targets = ["api", "worker", "db", "cache"]
out = sys.stdout
tmpl = ('{"v":1,"kind":"sample","ts":"%s","host":"vm","src":"sre-sample","target":"%s","seq":%d,"up":true,"matches":1,'
        '"process":{"pid":%d,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":%d,"name":"%s","exe":"/usr/bin/%s",'
        '"args":["/usr/bin/%s","--addr","0.0.0.0:8080","--workers","4","--log-level","info","--config","/etc/%s/config.yaml"],'
        '"user":"app","uid":1000,"state":"S","cpu_pct":%d.5,"cpu_time_s":%d.25,"rss_bytes":%d,"vms_bytes":35999744,"threads":11,"fds":61,'
        '"fds_limit":32768,"cgroup":"/system.slice/%s.service","cgroup_oom_kills":0},'
        '"system":{"mem_total_bytes":25276063744,"mem_available_bytes":%d,"swap_total_bytes":0,"swap_used_bytes":0,"load1":0.94,"load5":1.04,"load15":0.6,'
        '"disk":[{"path":"/","total_bytes":270553174016,"used_bytes":12459864064,"free_bytes":85333430272,"used_pct":12.74}],'
        '"psi_mem_some_avg10":0,"psi_mem_full_avg10":0,"oom_kills":0},'
        '"unavailable":{"process.exe":"permission denied: another user\'s process or a restricted /proc (run as its user or root)"}}\n')
buf = []
for i in range(n):
    sec, k = divmod(i, len(targets))
    t = targets[k]
    ts = (base + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    rss = (100 << 20) + ((i * 7919) % 400) * (1 << 20)
    if i % 100 == 0:
        rss = 700 << 20
    buf.append(tmpl % (ts, t, i + 1, 1000 + k, 14 + k, t, t, t, t, i % 7, sec, rss, t, 24938176512 - (i % 1000) * 4096))
    if len(buf) == 10000:
        out.write("".join(buf))
        buf = []
out.write("".join(buf))
