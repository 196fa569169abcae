package eventtest

import (
	"fmt"
	"time"
)

// SampleLines makes n realistic sample lines (the shape sre-sample writes,
// with args, disk and unavailable) of one process with slowly varying RSS.
func SampleLines(n int) [][]byte {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		ts := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000000000Z07:00")
		out[i] = []byte(fmt.Sprintf(`{"v":1,"kind":"sample","ts":%q,"host":"vm","src":"sre-sample","target":"api","seq":%d,"up":true,"matches":1,`+
			`"process":{"pid":4242,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":14,"name":"api","exe":"/usr/bin/api",`+
			`"args":["/usr/bin/api","--addr","0.0.0.0:8080","--workers","4","--log-level","info","--config","/etc/api/config.yaml"],`+
			`"user":"api","uid":1000,"state":"S","cpu_pct":%d.5,"cpu_time_s":%d.25,"rss_bytes":%d,"vms_bytes":35999744,"threads":11,"fds":61,`+
			`"fds_limit":32768,"cgroup":"/system.slice/api.service","cgroup_oom_kills":0},`+
			`"system":{"mem_total_bytes":25276063744,"mem_available_bytes":24938176512,"swap_total_bytes":0,"swap_used_bytes":0,"load1":0.94,"load5":1.04,"load15":0.6,`+
			`"disk":[{"path":"/","total_bytes":270553174016,"used_bytes":12459864064,"free_bytes":85333430272,"used_pct":12.74}],`+
			`"psi_mem_some_avg10":0,"psi_mem_full_avg10":0,"oom_kills":0},`+
			`"unavailable":{"process.exe":"permission denied: another user's process or a restricted /proc (run as its user or root)"}}`,
			ts, i+1, i%7, i, 100<<20+(i%50)*4096))
	}
	return out
}
