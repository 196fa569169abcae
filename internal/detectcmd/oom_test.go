package detectcmd

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A SIGKILL while the host's OOM kill counter rose is an OOM kill of the
// target only with evidence that it was the target: the kernel's log
// naming it (exit.oom_killed, which the sampler adds), or its own cgroup's
// counter rising. The log naming another process clears the suspicion.
func TestCrashOOMEvidence(t *testing.T) {
	up := func(ts string, cgroupKills int) string {
		return fmt.Sprintf(`{"v":1,"kind":"sample","ts":"2026-01-01T12:00:%s.000000000Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,`+
			`"process":{"pid":500,"ppid":1,"start":"2026-01-01T11:00:00.000000000Z","start_ticks":100,"name":"api","state":"S","cpu_time_s":1,"rss_bytes":1000,"vms_bytes":2000,"threads":2,"cgroup":"/system.slice/api.service","cgroup_oom_kills":%d},`+
			`"system":{"oom_kills":4}}`, ts, cgroupKills)
	}
	exit := func(exitExtra string, cgroupKills int) string {
		return fmt.Sprintf(`{"v":1,"kind":"sample","ts":"2026-01-01T12:00:02.000000000Z","host":"h","src":"sre-sample","target":"api","seq":3,"up":false,"matches":0,`+
			`"process":{"pid":500,"ppid":1,"start":"2026-01-01T11:00:00.000000000Z","start_ticks":100,"name":"api","state":"S","cpu_time_s":1,"rss_bytes":1000,"vms_bytes":2000,"threads":2,"cgroup":"/system.slice/api.service","cgroup_oom_kills":%d},`+
			`"system":{"oom_kills":5},"exit":{"pid":500,"noticed":"pidfd","signal":"SIGKILL","signal_num":9,"uptime_s":3602%s}}`, cgroupKills, exitExtra)
	}
	type verdict struct {
		Suspected  bool     `json:"oom_suspected"`
		Confidence string   `json:"oom_confidence"`
		Evidence   []string `json:"oom_evidence"`
		Killed     bool     `json:"oom_killed"`
	}
	tests := []struct {
		name string
		exit string
		want verdict
	}{
		{"the kernel named it", exit(`,"oom_killed":true,"oom_kernel_msg":"Out of memory: Killed process 500 (api)"`, 0),
			verdict{true, "high", []string{"the kernel's log names it", "host oom_kill counter rose", "killed by SIGKILL"}, true}},
		{"the kernel named another process", exit(`,"oom_killed":false`, 0), verdict{}},
		{"no log: the host's counter alone", exit("", 0),
			verdict{true, "medium", []string{"host oom_kill counter rose", "killed by SIGKILL"}, false}},
		{"its cgroup counted a kill", exit(`,"oom_killed":false`, 1),
			verdict{true, "high", []string{"cgroup oom_kill counter rose", "killed by SIGKILL"}, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := up("00", 0) + "\n" + up("01", 0) + "\n" + tt.exit + "\n"
			out, stderr, err := run(t, []byte(in), "--summary", "0")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			var crashes []verdict
			var oomEvents int
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var rec struct {
					Type   string
					Detail verdict
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				switch rec.Type {
				case "crash":
					crashes = append(crashes, rec.Detail)
				case "oom_kill":
					oomEvents++
				}
			}
			if d := cmp.Diff([]verdict{tt.want}, crashes); d != "" {
				t.Errorf("crash verdict (-want +got):\n%s\n%s", d, out)
			}
			if oomEvents != 0 {
				t.Errorf("%d oom_kill events: the crash carries the verdict\n%s", oomEvents, out)
			}
		})
	}
}
