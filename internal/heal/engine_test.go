package heal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// fakeClock is the engine's clock in tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

const loopRules = `rules:
  - name: restart-api
    on: [crash]
    target: api
    action: restart_process
    command: ["/opt/api/bin/api", "--id", "{target}"]
    max_retries: 5
    retry_window_seconds: 3600
    backoff: {initial: 1s, factor: 2, max: 5s, jitter: 0, reset_after: 1m}
    escalate: notify
  - name: notify
    on: []
    action: run
    command: ["/usr/bin/notify", "{target} gave up after {attempt}"]
`

func newTestEngine(t *testing.T, yaml string, clk *fakeClock) *Engine {
	t.Helper()
	rs, err := Parse("rules.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{
		Rules: rs, State: NewState(), Now: clk.Now,
		Rand:   func() float64 { t.Fatal("rand used with jitter 0"); return 0 },
		Exists: func(string) bool { return true },
		Apply:  true, MaxEventAge: DefaultMaxEventAge,
	}
}

var evSeq int

func ev(clk *fakeClock, typ, target string) *event.Event {
	evSeq++
	return &event.Event{
		Header: event.NewHeader(event.KindEvent, "sre-detect", "h", clk.Now()),
		ID:     fmt.Sprintf("e%d", evSeq), Type: typ, Severity: event.SevCritical, Target: target,
		Msg: "x", Report: "/r/" + typ, Process: &event.Process{PID: 100 + evSeq, StartTicks: 7},
	}
}

// step is one decision, summarised.
type step struct {
	Rule    string
	Result  string
	Attempt int
	Delay   time.Duration
}

func summarise(ds []Decision) []step {
	var s []step
	for _, d := range ds {
		s = append(s, step{d.Rule.Name, d.Result, d.Attempt, d.Delay})
	}
	return s
}

// crashLoop delivers a crash, runs the scheduled restart after its delay
// and lets the restarted process live for `up` before the next crash.
func crashLoop(e *Engine, clk *fakeClock, up time.Duration) []step {
	ds, _ := e.Handle(ev(clk, "crash", "api"))
	for _, d := range ds {
		if d.Result == "" && !d.Escalation {
			clk.Advance(d.Delay)
			e.Done(&d)
			e.Handle(ev(clk, "recovered", "api"))
			clk.Advance(up)
		}
	}
	return summarise(ds)
}

// TestBackoffBudgetSequence follows one crash-looping target through the
// whole policy with a fake clock, as Kubernetes' flowcontrol backoff tests
// do: exact delays 1,2,4 then the 5s cap; the budget of 5 spent gives one
// gave_up and one escalation; further crashes are skipped; staying up for
// reset_after resets the delay and the budget.
func TestBackoffBudgetSequence(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newTestEngine(t, loopRules, clk)
	var got []step
	for range 8 {
		got = append(got, crashLoop(e, clk, 2*time.Second)...)
		clk.Advance(time.Second)
	}
	want := []step{
		{"restart-api", "", 1, 1 * time.Second},
		{"restart-api", "", 2, 2 * time.Second},
		{"restart-api", "", 3, 4 * time.Second},
		{"restart-api", "", 4, 5 * time.Second}, // capped: 8s > max 5s
		{"restart-api", "", 5, 5 * time.Second},
		{"restart-api", event.ResultGaveUp, 5, 0},
		{"notify", "", 5, 0}, // the escalation, once
		{"restart-api", event.ResultSkipped, 5, 0},
		{"restart-api", event.ResultSkipped, 5, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sequence (-want +got):\n%s", diff)
	}
	// Still gave up while it keeps crashing without a stable run.
	if ds, _ := e.Handle(ev(clk, "crash", "api")); len(ds) != 1 || ds[0].Result != event.ResultSkipped {
		t.Fatalf("after give-up: %+v", summarise(ds))
	}
	// Up for less than reset_after: no reset.
	e.Handle(ev(clk, "recovered", "api"))
	clk.Advance(59 * time.Second)
	if ds, _ := e.Handle(ev(clk, "crash", "api")); ds[0].Result != event.ResultSkipped {
		t.Fatalf("reset before reset_after: %+v", summarise(ds))
	}
	// Up for reset_after, then a crash: attempt 1 with the initial delay.
	e.Handle(ev(clk, "recovered", "api"))
	clk.Advance(time.Minute)
	ds, _ := e.Handle(ev(clk, "crash", "api"))
	if diff := cmp.Diff([]step{{"restart-api", "", 1, time.Second}}, summarise(ds)); diff != "" {
		t.Fatalf("after reset (-want +got):\n%s", diff)
	}
}

// TestBudgetWindow: attempts older than retry_window no longer count, so a
// target that crashes rarely is never given up on.
func TestBudgetWindow(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newTestEngine(t, strings.Replace(loopRules, "max_retries: 5\n    retry_window_seconds: 3600", "max_retries: 2\n    retry_window_seconds: 10", 1), clk)
	var got []step
	for range 4 {
		got = append(got, crashLoop(e, clk, 20*time.Second)...) // < reset_after 1m, > window
	}
	want := []step{
		{"restart-api", "", 1, 1 * time.Second},
		{"restart-api", "", 2, 2 * time.Second},
		{"restart-api", "", 3, 4 * time.Second},
		{"restart-api", "", 4, 5 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestCooldownDelays(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newTestEngine(t, strings.Replace(loopRules, "max_retries: 5", "max_retries: 5\n    cooldown_seconds: 30", 1), clk)
	var got []step
	for range 3 {
		got = append(got, crashLoop(e, clk, time.Second)...)
	}
	// The first action at +1s; the next no sooner than 30s after it.
	want := []step{
		{"restart-api", "", 1, 1 * time.Second},
		{"restart-api", "", 2, 29 * time.Second}, // 1s after the first run + 1s up → 29s to go
		{"restart-api", "", 3, 29 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestJitter(t *testing.T) {
	b := Backoff{Initial: 10 * time.Second, Factor: 2, Max: time.Minute, Jitter: 0.1}
	for _, tt := range []struct {
		r    float64
		n    int
		want time.Duration
	}{{0, 1, 9 * time.Second}, {0.5, 1, 10 * time.Second}, {0.75, 2, 21 * time.Second}, {0.5, 10, time.Minute}} {
		if got := b.Delay(tt.n, func() float64 { return tt.r }); got != tt.want {
			t.Errorf("Delay(%d) rand %v = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestEngineGates(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	t.Run("old event ignored", func(t *testing.T) {
		e := newTestEngine(t, loopRules, clk)
		old := ev(clk, "crash", "api")
		clk.Advance(2*time.Minute + time.Second)
		if ds, _ := e.Handle(old); len(ds) != 0 || e.Old != 1 {
			t.Fatalf("old event: %+v, old=%d", summarise(ds), e.Old)
		}
	})
	t.Run("crash without report skipped", func(t *testing.T) {
		e := newTestEngine(t, loopRules, clk)
		e.Exists = func(string) bool { return false }
		ds, _ := e.Handle(ev(clk, "crash", "api"))
		if len(ds) != 1 || ds[0].Result != event.ResultSkipped || !strings.Contains(ds[0].Err, "never without artifacts") {
			t.Fatalf("%+v", ds)
		}
		e.AllowUnreported = true
		if ds, _ := e.Handle(ev(clk, "crash", "api")); ds[0].Result != "" {
			t.Fatalf("--allow-unreported: %+v", summarise(ds))
		}
	})
	t.Run("other target ignored", func(t *testing.T) {
		e := newTestEngine(t, loopRules, clk)
		if ds, _ := e.Handle(ev(clk, "crash", "db")); len(ds) != 0 {
			t.Fatalf("%+v", summarise(ds))
		}
	})
	t.Run("pending skips", func(t *testing.T) {
		e := newTestEngine(t, loopRules, clk)
		e.Handle(ev(clk, "crash", "api"))
		ds, _ := e.Handle(ev(clk, "crash", "api"))
		if ds[0].Result != event.ResultSkipped || !strings.Contains(ds[0].Err, "already scheduled") {
			t.Fatalf("%+v", ds)
		}
	})
	t.Run("when condition", func(t *testing.T) {
		e := newTestEngine(t, strings.Replace(loopRules, "    target: api\n", "    target: api\n    when: '.detail.oom_suspected != true'\n", 1), clk)
		oom := ev(clk, "crash", "api")
		oom.Detail = map[string]any{"oom_suspected": true}
		if ds, _ := e.Handle(oom); len(ds) != 0 {
			t.Fatalf("oom crash: %+v", summarise(ds))
		}
		if ds, _ := e.Handle(ev(clk, "crash", "api")); len(ds) != 1 {
			t.Fatalf("plain crash: %+v", summarise(ds))
		}
	})
}

// TestStateSurvivesRestart: a new engine reading the saved state continues
// the budget where the old one stopped.
func TestStateSurvivesRestart(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), StateName)
	e := newTestEngine(t, loopRules, clk)
	for range 3 {
		crashLoop(e, clk, time.Second)
	}
	if err := e.State.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	e2 := newTestEngine(t, loopRules, clk)
	e2.State = st
	ds, _ := e2.Handle(ev(clk, "crash", "api"))
	if diff := cmp.Diff([]step{{"restart-api", "", 4, 5 * time.Second}}, summarise(ds)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("state file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if _, err := LoadState(filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Errorf("missing state: %v", err)
	}
}

// An oom_kill with scope "host" (an older sre-detect's way of telling a
// kill somewhere on the host) is not the target's: no rule on oom_kill acts
// on it. One in the target's cgroup is.
func TestHostOOMKillIgnored(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newTestEngine(t, strings.Replace(loopRules, "on: [crash]", "on: [crash, oom_kill]", 1), clk)
	host := ev(clk, "oom_kill", "api")
	host.Detail = map[string]any{"scope": "host", "kills": 1}
	if ds, _ := e.Handle(host); len(ds) != 0 {
		t.Fatalf("host oom_kill: %+v", summarise(ds))
	}
	group := ev(clk, "oom_kill", "api")
	group.Detail = map[string]any{"scope": "cgroup", "cgroup": "/api", "kills": 1}
	if d := cmp.Diff([]step{{"restart-api", "", 1, time.Second}}, summarise(mustHandle(e, group))); d != "" {
		t.Errorf("cgroup oom_kill (-want +got):\n%s", d)
	}
}

func mustHandle(e *Engine, ev *event.Event) []Decision {
	ds, _ := e.Handle(ev)
	return ds
}

// TestStateBoundedOverIdentities: budgets are per rule and target, never per
// process: 20,000 crash/restart cycles (each a new identity) keep one
// budget, and the retry window prunes what it holds.
func TestStateBoundedOverIdentities(t *testing.T) {
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newTestEngine(t, "rules:\n  - on: [crash, absent]\n    action: run\n    command: [/bin/true]\n    max_retries: 1000\n    retry_window_seconds: 1\n    backoff: {initial: 10ms, factor: 1, max: 10ms}\n", clk)
	for range 20000 {
		ds, _ := e.Handle(ev(clk, "crash", "api"))
		if len(ds) != 1 || ds[0].Result != "" {
			t.Fatalf("decisions %+v", ds)
		}
		e.Done(&ds[0])
		clk.Advance(100 * time.Millisecond)
		e.Handle(ev(clk, "recovered", "api"))
		clk.Advance(100 * time.Millisecond)
	}
	if len(e.State.budgets) != 1 {
		t.Fatalf("%d budgets, want 1", len(e.State.budgets))
	}
	for _, b := range e.State.budgets {
		if len(b.Attempts) > 5 {
			t.Errorf("%d attempts kept within a 1s window of crashes 200ms apart", len(b.Attempts))
		}
	}
}

// IsDown: what releases a held child's zombie. A host-scoped oom_kill
// names no process's end, so it must not.
func TestIsDown(t *testing.T) {
	tests := []struct {
		typ    string
		detail map[string]any
		want   bool
	}{
		{"crash", nil, true},
		{"absent", nil, true},
		{"oom_kill", map[string]any{"scope": "cgroup"}, true},
		{"oom_kill", map[string]any{"scope": "host"}, false},
		{"recovered", nil, false},
		{"memory_high", nil, false},
	}
	for _, tt := range tests {
		if got := IsDown(&event.Event{Type: tt.typ, Detail: tt.detail}); got != tt.want {
			t.Errorf("IsDown(%s %v) = %v, want %v", tt.typ, tt.detail, got, tt.want)
		}
	}
}
