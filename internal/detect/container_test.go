package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// ctrLine is a sample of container target "web" at second sec: its main
// process pid (0: none), the container's state, health and restart count,
// and extra fields (an exit, the container's exit code).
type ctrLine struct {
	min      int // minute of the hour
	sec      string
	up       bool
	pid      int
	state    string
	health   string
	output   string
	restarts int
	exit     string // the exit object, or ""
	ctrExtra string // more container fields, with a leading comma
}

func (l ctrLine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"v":1,"kind":"sample","ts":"2026-01-01T00:%02d:%sZ","host":"h","src":"sre-sample","target":"web","seq":1,"up":%t,"matches":%d`,
		l.min, l.sec, l.up, map[bool]int{true: 1}[l.up])
	if l.pid > 0 {
		fmt.Fprintf(&b, `,"process":{"pid":%d,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":%d,"name":"sh","state":"S","cpu_time_s":0,"rss_bytes":1000000,"vms_bytes":2000000,"threads":1}`, l.pid, l.pid*10)
	}
	fmt.Fprintf(&b, `,"container":{"id":"0991c5b74a51","name":"web","state":%q`, l.state)
	if l.health != "" {
		fmt.Fprintf(&b, `,"health":%q`, l.health)
	}
	if l.output != "" {
		fmt.Fprintf(&b, `,"health_output":%q`, l.output)
	}
	fmt.Fprintf(&b, `,"restart_count":%d%s}`, l.restarts, l.ctrExtra)
	if l.exit != "" {
		b.WriteString(`,"exit":` + l.exit)
	}
	b.WriteString("}")
	return b.String()
}

func runContainer(t *testing.T, lines []ctrLine) []*event.Event {
	t.Helper()
	e, got := eventsOf(t)
	for _, l := range lines {
		line := l.String()
		if err := e.Sample([]byte(line)); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	return *got
}

func types(evs []*event.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == "oom_kill" {
			continue
		}
		out = append(out, ev.Type)
	}
	return out
}

func TestContainerEvents(t *testing.T) {
	died := func(code int, oom bool) string {
		return fmt.Sprintf(`{"pid":42,"noticed":"docker_event","code":%d,"uptime_s":3,"oom_killed":%t}`, code, oom)
	}
	tests := []struct {
		name   string
		lines  []ctrLine
		want   []string
		detail map[string]any // of the last event
	}{{
		name: "exit 3 is a crash with its code",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02.5", pid: 42, state: "exited", exit: died(3, false), ctrExtra: `,"exit_code":3,"oom_killed":false`},
			{sec: "03", state: "exited"},
		},
		want:   []string{"started", "crash"},
		detail: map[string]any{"exit_code": 3, "noticed": "docker_event", "oom_suspected": false, "container_id": "0991c5b74a51", "restart_count": 0},
	}, {
		name: "Docker's OOMKilled is an OOM kill, though it gives an exit code",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02.5", pid: 42, state: "exited", exit: died(137, true)},
		},
		want: []string{"started", "crash"},
		detail: map[string]any{"exit_code": 137, "noticed": "docker_event", "oom_suspected": true, "oom_killed": true,
			"oom_confidence": "high", "oom_evidence": []string{"Docker says the OOM killer ended it (State.OOMKilled)"},
			"container_id": "0991c5b74a51", "restart_count": 0},
	}, {
		name: "the restart policy brings it back: restarted, no crash, no recovery",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02", pid: 42, state: "restarting", restarts: 1, exit: died(4, false)},
			{sec: "02.5", state: "restarting", restarts: 1},
			{sec: "03", up: true, pid: 43, state: "running", restarts: 1},
			{sec: "04", up: true, pid: 43, state: "running", restarts: 1},
		},
		want: []string{"started", "restarted"},
		detail: map[string]any{"by": "restart_policy", "restart_count": 1, "container_id": "0991c5b74a51", "prev_pid": 42,
			"exit_code": 4, "downtime_s": 0.0, "down_since": event.At(mustTime("2026-01-01T00:00:02Z"))},
	}, {
		name: "a restart count that rose, the death's sample already running again",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02", pid: 42, state: "running", restarts: 1, exit: died(4, false)},
			{sec: "02.1", up: true, pid: 43, state: "running", restarts: 1},
		},
		want: []string{"started", "restarted"},
	}, {
		name: "a restart between two samples, its death unseen: restarted",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02", up: true, pid: 43, state: "running", restarts: 1},
		},
		want: []string{"started", "restarted"},
	}, {
		name: "the policy gives up: the death is a crash after all",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02", pid: 42, state: "restarting", restarts: 1, exit: died(4, false)},
			{sec: "03", state: "restarting", restarts: 1},
			{sec: "04", state: "exited", restarts: 1},
			{sec: "05", state: "exited", restarts: 1},
		},
		want: []string{"started", "crash"},
	}, {
		name: "started again by hand after a crash: recovered",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running"},
			{sec: "02", pid: 42, state: "exited", exit: died(0, false)},
			{sec: "03", state: "exited"},
			{sec: "04", up: true, pid: 50, state: "running"},
		},
		want: []string{"started", "crash", "recovered"},
	}, {
		name: "unhealthy once per turn, with the check's output",
		lines: []ctrLine{
			{sec: "01", up: true, pid: 42, state: "running", health: "starting"},
			{sec: "02", up: true, pid: 42, state: "running", health: "unhealthy", output: "probe said no"},
			{sec: "03", up: true, pid: 42, state: "running", health: "unhealthy", output: "probe said no"},
			{sec: "04", up: true, pid: 42, state: "running", health: "healthy"},
			{sec: "05", up: true, pid: 42, state: "running", health: "unhealthy", output: "again"},
			{sec: "06", up: true, pid: 42, state: "running", health: "unhealthy", output: "again"},
		},
		want:   []string{"started", "unhealthy", "unhealthy"},
		detail: map[string]any{"container_id": "0991c5b74a51", "health_output": "again"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := runContainer(t, tt.lines)
			if d := cmp.Diff(tt.want, types(evs)); d != "" {
				t.Fatalf("events (-want +got):\n%s", d)
			}
			if tt.detail == nil {
				return
			}
			got := evs[len(evs)-1].Detail
			delete(got, "history")
			delete(got, "uptime_s")
			if d := cmp.Diff(tt.detail, got); d != "" {
				t.Errorf("detail of %s (-want +got):\n%s", evs[len(evs)-1].Type, d)
			}
		})
	}
}

// The crash of a run that the policy did not bring back is dated when it
// died, and a later start is its recovery.
func TestContainerPolicyGaveUp(t *testing.T) {
	evs := runContainer(t, []ctrLine{
		{sec: "01", up: true, pid: 42, state: "running"},
		{sec: "02", pid: 42, state: "restarting", restarts: 1, exit: `{"pid":42,"noticed":"docker_event","code":4,"uptime_s":1}`},
		{sec: "04", state: "exited", restarts: 1},
		{sec: "10", up: true, pid: 60, state: "running", restarts: 1},
	})
	if d := cmp.Diff([]string{"started", "crash", "recovered"}, types(evs)); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	if got := evs[1].TS.Time; !got.Equal(mustTime("2026-01-01T00:00:02Z")) {
		t.Errorf("crash at %v, want when it died", got)
	}
	if got := evs[1].Detail["exit_code"]; got != 4 {
		t.Errorf("crash exit_code %v, want 4", got)
	}
	if got := evs[2].Detail["down_since"]; got != event.At(mustTime("2026-01-01T00:00:02Z")) {
		t.Errorf("recovered down_since %v", got)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// A crash loop is flapping once per loop, counting restarts by Docker's
// policy as deaths; a quiet window arms it again.
func TestFlapping(t *testing.T) {
	died := func(pid, restarts int) ctrLine {
		return ctrLine{pid: pid, state: "restarting", restarts: restarts,
			exit: fmt.Sprintf(`{"pid":%d,"noticed":"docker_event","code":4,"uptime_s":1}`, pid)}
	}
	up := func(pid, restarts int) ctrLine {
		return ctrLine{up: true, pid: pid, state: "running", restarts: restarts}
	}
	var lines []ctrLine
	at := func(m, sec int, l ctrLine) {
		l.min, l.sec = m, fmt.Sprintf("%02d", sec)
		lines = append(lines, l)
	}
	at(0, 1, up(42, 0))
	for i := range 4 { // four deaths in 20 s
		at(0, 2+5*i, died(42+i, i+1))
		at(0, 3+5*i, up(43+i, i+1))
	}
	for i := range 2 { // two more half an hour later: not a loop yet
		at(30, 2+5*i, died(46+i, 5+i))
		at(30, 3+5*i, up(47+i, 5+i))
	}
	at(30, 20, died(48, 7)) // the third in the window
	at(30, 21, up(49, 7))
	evs := runContainer(t, lines)
	want := []string{"started", "restarted", "restarted", "flapping", "restarted", "restarted",
		"restarted", "restarted", "flapping", "restarted"}
	if d := cmp.Diff(want, types(evs)); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	f := evs[3]
	if f.Severity != event.SevCritical || f.Detail["deaths"] != 3 || f.Detail["exit_code"] != 4 || f.Detail["restart_count"] != 3 ||
		!strings.Contains(f.Msg, "restart policy") {
		t.Errorf("flapping %q %+v", f.Msg, f.Detail)
	}
}

func TestFlapConfig(t *testing.T) {
	for _, tt := range []struct {
		count  int
		window time.Duration
		err    string
	}{
		{3, time.Minute, ""},
		{0, 0, ""},
		{1, time.Minute, "--flap-count 1: must be 0 (off) or at least 2"},
		{-2, time.Minute, "--flap-count -2"},
		{3, 0, "--flap-window 0s: must be positive"},
	} {
		c := Defaults()
		c.FlapCount, c.FlapWindow = tt.count, tt.window
		err := c.Check()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("count %d window %v: %v, want %q", tt.count, tt.window, err, tt.err)
		}
	}
}

// eventsOf returns an engine with the default config and the events it
// emits, gathered.
func eventsOf(t *testing.T) (*Engine, *[]*event.Event) {
	t.Helper()
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
	return e, &evs
}
