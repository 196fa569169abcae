package reportcmd

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// crashLine is a crash event as sre-detect writes it (run-up history
// included), with two fields a user added with jq.
const crashLine = `{"v":1,"kind":"event","ts":"2026-12-06T21:05:22.628531740Z","host":"h","src":"sre-detect","id":"20261206T210522.628531740Z-58ecf3fddca324e5","type":"crash","severity":"critical","target":"v.pid","msg":"sleep (pid 24204) of v.pid was killed by SIGKILL after 1.2s up.","process":{"pid":24204,"ppid":24202,"start":"2026-12-06T21:05:21.415367031Z","start_ticks":1018937,"name":"sleep","exe":"/usr/bin/sleep","args":["sleep","30"],"user":"root","uid":0,"state":"S","cpu_pct":0,"cpu_time_s":0,"rss_bytes":1511424,"vms_bytes":2990080,"threads":1,"fds":5,"fds_limit":20000,"cgroup":"/system.slice/api.service","cgroup_oom_kills":0},"system":{"mem_total_bytes":25276190720,"mem_available_bytes":24770707456,"swap_total_bytes":0,"swap_used_bytes":0,"load1":2.44,"load5":3.25,"load15":7.64,"disk":[{"path":"/","total_bytes":270553174016,"used_bytes":17435283456,"free_bytes":80358010880,"used_pct":17.83}],"psi_mem_some_avg10":0,"psi_mem_full_avg10":0,"oom_kills":28},"detail":{"history":[{"ts":"2026-12-06T21:05:21.627490784Z","rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:21.727525074Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:21.827527594Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:21.927528150Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.027530169Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.127534984Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.227524850Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.327522581Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.427531152Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.527523994Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5},{"ts":"2026-12-06T21:05:22.627529089Z","cpu_pct":0,"rss_bytes":1511424,"threads":1,"fds":5}],"noticed":"pidfd","oom_suspected":false,"signal":"SIGKILL","uptime_s":1.213},"team":"payments","labels":{"env":"prod"}}`

// BenchmarkAnnotatedEvent is what sre-report does, once the report is on
// disk, to make the annotated event it archives and passes on (the decode
// before is the same either way). "reencode" is the way before: the typed
// event encoded twice, by reflection (archive line, stdout), losing the
// fields it does not know; "splice" adds the report to the line's bytes;
// "splice_walked" is a line with a \u escape, walked once with
// encoding/json's tokenizer to look for a report member to replace.
func BenchmarkAnnotatedEvent(b *testing.B) {
	const path = "sre_reports/20261206T210522Z_api_crash_e2f0b1f6.txt"
	escaped := strings.Replace(crashLine, `"msg":"`, `"msg":"caf\u00e9 `, 1)
	var ev event.Event
	if err := json.Unmarshal([]byte(crashLine), &ev); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		line string
		make func(raw []byte, out *ndjson.Writer) error
	}{
		{"reencode", crashLine, func(raw []byte, out *ndjson.Writer) error {
			annotated := ev
			annotated.Report = path
			if _, err := json.Marshal(&annotated); err != nil {
				return err
			}
			passed := ev
			passed.Report = path
			return out.Encode(&passed)
		}},
		{"splice", crashLine, func(raw []byte, out *ndjson.Writer) error {
			return out.WriteLine(annotate(raw, path))
		}},
		{"splice_walked", escaped, func(raw []byte, out *ndjson.Writer) error {
			return out.WriteLine(annotate(raw, path))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			out := ndjson.NewWriter(io.Discard)
			raw := []byte(bc.line)
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.make(raw, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
