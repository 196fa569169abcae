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
	want := map[string]any{"ts": event.At(time.Date(2026, 1, 1, 0, 0, 2, 20_000_000, time.UTC)), "rss_bytes": uint64(0), "vms_bytes": uint64(0), "threads": 1, "state": "R"}
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

// A reading the sampler marked exiting is a teardown reading even with the
// memory still there: after a SIGKILL the threads end (21 → 1) while RSS
// and vms_bytes are whole. It stays out of process, history, the summary
// and the detectors (no threads_changed), and detail.teardown says why.
func TestCrashAfterExitingReading(t *testing.T) {
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
	const mib = 1 << 20
	smp := func(ts string, seq int, up bool, rss uint64, threads int, state, exiting, exit string) {
		t.Helper()
		line := fmt.Sprintf(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:%sZ","host":"h","src":"sre-sample","target":"api","seq":%d,"up":%t,"matches":1,`+
			`"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"api","state":"%s"%s,"cpu_time_s":1,"rss_bytes":%d,"vms_bytes":%d,"threads":%d}%s}`,
			ts, seq, up, state, exiting, rss, 700*mib, threads, exit)
		if err := e.Sample([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	smp("01", 1, true, 512*mib, 21, "S", "", "")
	smp("02", 2, true, 513*mib, 21, "S", "", "")
	smp("02.010", 3, true, 513*mib, 1, "R", `,"exiting":true`, "")
	smp("02.020", 4, true, 200*mib, 1, "R", `,"exiting":true`, "")
	smp("02.030", 5, false, 200*mib, 1, "R", `,"exiting":true`, `,"exit":{"pid":42,"noticed":"pidfd","signal":"SIGKILL","signal_num":9}`)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if diff := cmp.Diff([]string{"started", "crash"}, types); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	c := evs[1]
	if c.Process == nil || c.Process.RSSBytes != 513*mib || c.Process.Threads != 21 || c.Process.Exiting {
		t.Errorf("crash process %+v, want the live reading (513 MiB, 21 threads, not exiting)", c.Process)
	}
	td, _ := c.Detail["teardown"].(map[string]any)
	want := map[string]any{"ts": event.At(time.Date(2026, 1, 1, 0, 0, 2, 20_000_000, time.UTC)), "rss_bytes": uint64(200 * mib),
		"vms_bytes": uint64(700 * mib), "threads": 1, "state": "R", "exiting": true}
	if diff := cmp.Diff(want, td); diff != "" {
		t.Errorf("detail.teardown (-want +got):\n%s", diff)
	}
	if got := c.Detail["last_sight"]; got != event.At(time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)) {
		t.Errorf("detail.last_sight %v, want the last live reading's time", got)
	}
	hist := c.Detail["history"].([]Point)
	if len(hist) != 2 {
		t.Errorf("history %+v: want the two live readings", hist)
	}
	for _, p := range hist {
		if p.RSS < 512*mib || p.Threads != 21 {
			t.Errorf("history holds a teardown reading: %+v", p)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].RSS == nil || sums[0].RSS.Min != 512*mib || sums[0].Threads == nil || sums[0].Threads.Min != 21 {
		t.Errorf("summaries %+v: want one, of the live readings only (RSS min 512 MiB, threads min 21)", sums)
	}
}

// A process first seen exiting has no live reading: that reading is its
// last sight, not a teardown kept apart.
func TestFirstSeenExiting(t *testing.T) {
	var evs []*event.Event
	e, err := New(Defaults(), func(rec any) error {
		if ev, ok := rec.(*event.Event); ok {
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:01Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,` +
			`"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"api","state":"R","exiting":true,"cpu_time_s":1,"rss_bytes":1000,"vms_bytes":2000,"threads":3}}`,
		`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:02Z","host":"h","src":"sre-sample","target":"api","seq":2,"up":false,"matches":0,` +
			`"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"api","state":"R","exiting":true,"cpu_time_s":1,"rss_bytes":1000,"vms_bytes":2000,"threads":3},` +
			`"exit":{"pid":42,"noticed":"pidfd","signal":"SIGKILL","signal_num":9}}`,
	} {
		if err := e.Sample([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) != 2 || evs[1].Type != "crash" {
		t.Fatalf("events %v, want started and crash", evs)
	}
	c := evs[1]
	if c.Process == nil || c.Process.Threads != 3 || c.Process.RSSBytes != 1000 {
		t.Errorf("crash process %+v, want its only reading", c.Process)
	}
	if _, ok := c.Detail["teardown"]; ok {
		t.Errorf("detail.teardown %v, want none: no live reading to keep it apart from", c.Detail["teardown"])
	}
}
