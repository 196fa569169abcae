package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// A process caught being torn down: the crash carries the live reading,
// its history only live readings, the teardown reading in detail, and no
// detector reports the threads ending.
func TestCrashAfterTeardown(t *testing.T) {
	var evs []*event.Event
	var sums []*event.Summary
	cfg := Defaults()
	cfg.Summary = time.Minute
	e, err := New(cfg, func(rec any) error {
		switch r := rec.(type) {
		case *event.Event:
			evs = append(evs, r)
		case *event.Summary:
			sums = append(sums, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	smp := func(ts string, seq int, up bool, rss, vms uint64, threads int, state, exit string) {
		t.Helper()
		line := fmt.Sprintf(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:%sZ","host":"h","src":"sre-sample","target":"api","seq":%d,"up":%t,"matches":1,`+
			`"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"api","state":"%s","cpu_time_s":1,"rss_bytes":%d,"vms_bytes":%d,"threads":%d}%s}`,
			ts, seq, up, state, rss, vms, threads, exit)
		if err := e.Sample([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	smp("01", 1, true, 100<<20, 400<<20, 21, "S", "")
	smp("02", 2, true, 101<<20, 400<<20, 21, "S", "")
	smp("02.010", 3, true, 0, 0, 1, "R", "")
	smp("02.020", 4, true, 0, 0, 1, "R", "")
	smp("02.030", 5, false, 0, 0, 1, "R", `,"exit":{"pid":42,"noticed":"pidfd","signal":"SIGKILL","signal_num":9}`)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if diff := cmp.Diff([]string{"started", "crash"}, types); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	c := evs[1]
	if c.Process == nil || c.Process.RSSBytes != 101<<20 || c.Process.Threads != 21 {
		t.Errorf("crash process %+v, want the live reading (101 MiB, 21 threads)", c.Process)
	}
	td, _ := c.Detail["teardown"].(map[string]any)
	want := map[string]any{"ts": event.At(time.Date(2026, 1, 1, 0, 0, 2, 20_000_000, time.UTC)), "rss_bytes": uint64(0), "threads": 1, "state": "R"}
	if diff := cmp.Diff(want, td); diff != "" {
		t.Errorf("detail.teardown (-want +got):\n%s", diff)
	}
	if got := c.Detail["last_sight"]; got != event.At(time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)) {
		t.Errorf("detail.last_sight %v", got)
	}
	for _, p := range c.Detail["history"].([]Point) {
		if p.RSS == 0 || p.Threads != 21 {
			t.Errorf("history holds a teardown reading: %+v", p)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].RSS == nil || sums[0].RSS.Min != 100<<20 || sums[0].Threads == nil || sums[0].Threads.Min != 21 {
		t.Errorf("summaries %+v: want one, of the live readings only (RSS min 100 MiB, threads min 21)", sums)
	}
}
