package detect_test

import (
	"fmt"

	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/event"
)

// A process seen once and then reported dead by the sampler gives a
// started and a crash event.
func Example() {
	cfg := detect.Defaults()
	cfg.Summary = 0
	e, _ := detect.New(cfg, func(rec any) error {
		if ev, ok := rec.(*event.Event); ok {
			fmt.Println(ev.Type, ev.Severity, ev.Msg)
		}
		return nil
	})
	proc := `"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":7,"name":"api","state":"S","cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1}`
	_ = e.Sample([]byte(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:10.000000000Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,` + proc + `}`))
	_ = e.Sample([]byte(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:10.500000000Z","host":"h","src":"sre-sample","target":"api","seq":2,"up":false,"matches":0,` + proc +
		`,"exit":{"pid":42,"noticed":"pidfd","code":3,"uptime_s":10.5}}`))
	_ = e.Flush()
	// Output:
	// started info api is up: api (pid 42).
	// crash critical api (pid 42) exited with code 3 after 10.5s up.
}
