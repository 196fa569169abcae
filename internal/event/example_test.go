package event_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// A sample of a running process: absent fields are left out and named in
// Unavailable, never written as zero.
func Example() {
	fds := 37
	start := time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC)
	// Any zone in, UTC with nine fraction digits out.
	now := time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 60*60))

	s := event.Sample{
		Header:  event.NewHeader(event.KindSample, "sre-sample", "web1", now),
		Target:  "nginx",
		Seq:     1,
		Matches: 1,
		Up:      true,
		Process: &event.Process{
			PID: 4242, PPID: 1, Start: event.At(start), StartTicks: 987654,
			Name: "nginx", State: "S", RSSBytes: 52428800, VMSBytes: 209715200,
			Threads: 4, FDs: &fds,
		},
		Unavailable: map[string]string{"process.cpu_pct": "first sample"},
	}
	if err := s.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	line, err := json.Marshal(s)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(line))
	// Output:
	// {"v":1,"kind":"sample","ts":"2026-01-02T03:04:05.000000000Z","host":"web1","src":"sre-sample","target":"nginx","seq":1,"up":true,"matches":1,"process":{"pid":4242,"ppid":1,"start":"2026-01-02T02:00:00.000000000Z","start_ticks":987654,"name":"nginx","state":"S","cpu_time_s":0,"rss_bytes":52428800,"vms_bytes":209715200,"threads":4,"fds":37},"unavailable":{"process.cpu_pct":"first sample"}}
}
