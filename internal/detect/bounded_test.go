package detect

import (
	"fmt"
	"testing"
	"time"
)

// TestStateBoundedOverIdentities: a target that crashes and is restarted
// 20,000 times is 20,000 process identities; what the engine keeps of
// them stays bounded (the live one, the last ended ones for duplicate and
// stale samples, the crash not yet answered). bench/crash_cycles.sh shows
// the same of the binaries' RSS.
func TestStateBoundedOverIdentities(t *testing.T) {
	e, err := New(Defaults(), func(any) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(up bool, pid int) []byte {
		at := ts.Format("2006-01-02T15:04:05.000000000Z07:00")
		proc := fmt.Sprintf(`"process":{"pid":%d,"ppid":1,"start":%q,"start_ticks":%d,"name":"api","rss_bytes":1000000,"threads":1}`, pid, at, pid)
		if up {
			return fmt.Appendf(nil, `{"v":1,"kind":"sample","ts":%q,"host":"vm","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,%s}`, at, proc)
		}
		return fmt.Appendf(nil, `{"v":1,"kind":"sample","ts":%q,"host":"vm","src":"sre-sample","target":"api","seq":1,"up":false,"matches":0,%s,"exit":{"pid":%d,"noticed":"pidfd","code":1,"uptime_s":0.03}}`, at, proc, pid)
	}
	for pid := 1; pid <= 20000; pid++ {
		for range 3 {
			ts = ts.Add(10 * time.Millisecond)
			if err := e.Sample(line(true, pid)); err != nil {
				t.Fatal(err)
			}
		}
		ts = ts.Add(10 * time.Millisecond)
		if err := e.Sample(line(false, pid)); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.targets) != 1 {
		t.Fatalf("%d targets, want 1", len(e.targets))
	}
	for _, tg := range e.targets {
		if len(tg.up) > 1 || len(tg.ended) > 64 || len(tg.pending) > 1 {
			t.Errorf("after 20,000 identities: %d up, %d ended, %d pending crashes kept", len(tg.up), len(tg.ended), len(tg.pending))
		}
		for _, sl := range tg.slots {
			// 20,000 deaths in 13 minutes, all but the first in one
			// --flap-window: the flapping detector keeps the last
			// --flap-count, not every death of the window.
			if fs, ok := sl.(*flapState); ok && len(fs.deaths) > Defaults().FlapCount {
				t.Errorf("flapping keeps %d deaths, want at most --flap-count %d", len(fs.deaths), Defaults().FlapCount)
			}
		}
	}
}
