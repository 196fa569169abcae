//go:build ignore

// score_gen writes an event archive of N records for bench/score_1m.sh:
// 200 targets over 30 days, each a mix of what sre-detect and sre-report
// archive (started, crash with a short history, recovered, restarted,
// memory_high, leak_suspected, report_written notices, heal actions), in
// time order. Usage: go run bench/score_gen.go N > archive.ndjson
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: score_gen N")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-30 * 24 * time.Hour)
	step := end.Sub(start) / time.Duration(n)
	const proc = `"process":{"pid":4242,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":123456,"name":"app","exe":"/usr/bin/app","user":"app","state":"S","cpu_time_s":12.5,"rss_bytes":104857600,"vms_bytes":524288000,"threads":12},"system":{"mem_total_bytes":8589934592,"mem_available_bytes":4294967296,"load1":0.42}`
	lastCrash := map[int]string{}
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step)
		t := fmt.Sprintf("app-%03d", i%200)
		tsS := ts.Format("2006-01-02T15:04:05.000000000Z")
		id := ts.Format("20060102T150405.000000000Z") + fmt.Sprintf("-%016x", i)
		k := i % 200
		var line string
		switch (i / 200) % 10 {
		case 0:
			line = fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"vm","src":"sre-detect","id":"%s","type":"crash","severity":"critical","target":"%s","msg":"app (pid 4242) of %s was killed by SIGKILL after 7.4s up.",%s,"detail":{"noticed":"pidfd","signal":"SIGKILL","uptime_s":7.35,"oom_suspected":false,"history":[{"ts":"%s","rss_bytes":104857600,"threads":12},{"ts":"%s","rss_bytes":104867600,"threads":12}]},"report":"/var/lib/sre/reports/x.txt"}`,
				tsS, id, t, t, proc, tsS, tsS)
			lastCrash[k] = id + "|" + tsS
		case 1:
			line = fmt.Sprintf(`{"v":1,"kind":"notice","ts":"%s","host":"vm","src":"sre-report","code":"report_written","msg":"report written for crash %s of %s","detail":{"event_id":"%s","name":"x.txt","path":"/var/lib/sre/reports/x.txt","sha256":"3ad92d4b1c5cc8ac8fc986607a2d21895bfee368f5d553f178f63d9f8b4952fb"}}`,
				tsS, id, t, id)
		case 2:
			line = fmt.Sprintf(`{"v":1,"kind":"action","ts":"%s","host":"vm","src":"sre-heal","rule":"restart-app","action":"restart","event_id":"%s","target":"%s","dry_run":false,"attempt":1,"max_attempts":3,"delay_s":0,"argv":["/usr/bin/systemctl","restart","app"],"result":"ok"}`,
				tsS, id, t)
		case 3:
			cid, cts := id, tsS
			if c, ok := lastCrash[k]; ok {
				cid, cts = c[:len(c)-31], c[len(c)-30:]
			}
			line = fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"vm","src":"sre-detect","id":"%s","type":"recovered","severity":"info","target":"%s","msg":"%s is up again.",%s,"detail":{"downtime_s":12.5,"crash_id":"%s","down_since":"%s","prev_pid":4241}}`,
				tsS, id, t, t, proc, cid, cts)
		case 4:
			line = fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"vm","src":"sre-detect","id":"%s","type":"restarted","severity":"warning","target":"%s","msg":"%s restarted: app (pid 4243) replaced pid 4242 between two samples.",%s,"detail":{"prev_pid":4242,"prev_start_ticks":12345,"prev_last_seen":"%s"}}`,
				tsS, id, t, t, proc, tsS)
		case 5:
			line = fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"vm","src":"sre-detect","id":"%s","type":"oom_kill","severity":"critical","target":"%s","msg":"The kernel OOM killer fired in the cgroup of %s.",%s,"detail":{"scope":"cgroup","kills":1,"cgroup_oom_kills":3}}`,
				tsS, id, t, t, proc)
		default:
			line = fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"vm","src":"sre-detect","id":"%s","type":"memory_high","severity":"warning","target":"%s","msg":"app (pid 4242) of %s uses 100 MiB, at or above 90 MiB for 10s.",%s,"detail":{"condition":"process_rss","value":104857600,"threshold":94371840,"for_s":10}}`,
				tsS, id, t, t, proc)
		}
		w.WriteString(line)
		w.WriteByte('\n')
	}
}
