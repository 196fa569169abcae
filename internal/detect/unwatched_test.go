package detect

import (
	"strconv"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/event"
)

func procJSON(pid, ticks int) string {
	return `"process":{"pid":` + strconv.Itoa(pid) + `,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":` + strconv.Itoa(ticks) +
		`,"name":"api","state":"S","cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1}`
}

// TestUnwatched: the first sample of a run against the last sighting of
// the run before: down now after up then is a crash ended while
// unwatched, with the last process; another process is a restart; the
// same process, or a target seen down then, says nothing; and the
// sightings an engine hands on include the targets it has not seen yet.
func TestUnwatched(t *testing.T) {
	up1 := `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:10Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,` + procJSON(42, 7) + `}`
	// A first run sees api up, and hands its sighting on.
	e1, _ := eventsOf(t)
	if err := e1.Sample([]byte(up1)); err != nil {
		t.Fatal(err)
	}
	sg := e1.Sightings()
	if len(sg) != 1 || !sg[0].Up || sg[0].PID != 42 || sg[0].StartTicks != 7 || len(sg[0].Sample) == 0 {
		t.Fatalf("sightings %+v", sg)
	}
	later := func(up bool, pid, ticks int) string {
		s := `{"v":1,"kind":"sample","ts":"2026-01-01T00:01:00Z","host":"h","src":"sre-sample","target":"api","seq":1,"matches":`
		if !up {
			return s + `0,"up":false}`
		}
		return s + `1,"up":true,` + procJSON(pid, ticks) + `}`
	}
	for _, c := range []struct {
		name, line, want string
	}{
		{"down", later(false, 0, 0), "crash"},
		{"another process", later(true, 43, 9), "restarted"},
		{"the same process", later(true, 42, 7), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.Prior = sg
			var evs []*event.Event
			e, err := New(cfg, func(rec any) error {
				if ev, ok := rec.(*event.Event); ok {
					evs = append(evs, ev)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Sample([]byte(c.line)); err != nil {
				t.Fatal(err)
			}
			var got *event.Event
			for _, ev := range evs {
				if ev.Detail["unwatched"] == true {
					got = ev
				}
			}
			switch {
			case c.want == "" && got != nil:
				t.Errorf("the same process: %s %q", got.Type, got.Msg)
			case c.want == "":
			case got == nil || got.Type != c.want:
				t.Errorf("want %s, got %+v", c.want, got)
			case c.want == "crash" && (got.Process == nil || got.Process.PID != 42 || got.Severity != event.SevCritical || !strings.Contains(got.Msg, "ended while unwatched")):
				t.Errorf("crash %+v %+v", got, got.Process)
			case c.want == "restarted" && (got.Detail["previous_pid"] != 42 || got.Process == nil || got.Process.PID != 43):
				t.Errorf("restarted %+v", got)
			}
		})
	}
	// A target the second run has not seen yet keeps its sighting.
	cfg := Defaults()
	cfg.Prior = append(sg, Sighting{Host: "h", Target: "db", Up: true, PID: 7})
	e3, _ := New(cfg, func(any) error { return nil })
	e3.Sample([]byte(later(true, 42, 7)))
	if s := e3.Sightings(); len(s) != 2 || s[1].Target != "db" {
		t.Errorf("sightings kept: %+v", s)
	}
}
