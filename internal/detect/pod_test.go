package detect

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// Pod samples are built as sre-kube writes them: event.Sample with a Pod,
// through the one encoder.

var podT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func podAt(sec float64) *event.Time {
	t := event.At(podT0.Add(time.Duration(sec * float64(time.Second))))
	return &t
}

func running(sec float64) event.PodContainerState {
	return event.PodContainerState{Status: event.PodRunning, StartedAt: podAt(sec)}
}

func backoff() event.PodContainerState {
	return event.PodContainerState{Status: event.PodWaiting, Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container=app"}
}

func ended(reason string, code int, started, finished float64) *event.PodContainerState {
	return &event.PodContainerState{Status: event.PodTerminated, Reason: reason, ExitCode: &code, StartedAt: podAt(started), FinishedAt: podAt(finished)}
}

// webPod is pod shop/web-1 (uid u1) of Deployment web with one container
// app: its restart count, state and last state.
func webPod(restarts int, state event.PodContainerState, last *event.PodContainerState) event.Pod {
	ready := state.Status == event.PodRunning
	return event.Pod{Namespace: "shop", Name: "web-1", UID: "u1", Node: "n1", Phase: "Running", Ready: ready,
		Owner:      &event.PodOwner{Kind: "Deployment", Name: "web", ReplicaSet: "web-7d9c"},
		Containers: []event.PodContainer{{Name: "app", Ready: ready, RestartCount: restarts, State: state, LastState: last}}}
}

// podLine is a sample of p at second sec, up as the watcher says it.
type podLine struct {
	sec float64
	p   event.Pod
}

func (l podLine) bytes(t testing.TB) []byte {
	t.Helper()
	p := l.p
	up := p.Phase == "Running" && !p.Deleting
	for _, c := range p.Containers {
		up = up && c.State.Status == event.PodRunning
	}
	s := event.Sample{Header: event.NewHeader(event.KindSample, "sre-sample", "h", podT0.Add(time.Duration(l.sec*float64(time.Second)))),
		Target: p.Ref(), Seq: 1, Up: up, Matches: map[bool]int{true: 1}[up], Pod: &p}
	b, err := s.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// got is an event as the tests compare it: type, ts second, and the
// detail keys asked for.
func podEvents(t *testing.T, cfg Config, lines []podLine) []*event.Event {
	t.Helper()
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
	for _, l := range lines {
		if err := e.Sample(l.bytes(t)); err != nil {
			t.Fatalf("sample at %vs: %v", l.sec, err)
		}
	}
	return evs
}

// brief is an event in short: "type@sec key=value …" for the keys given.
func brief(ev *event.Event, keys ...string) string {
	s := fmt.Sprintf("%s@%g", ev.Type, ev.TS.Sub(podT0).Seconds())
	for _, k := range keys {
		if v, ok := ev.Detail[k]; ok {
			if tv, isT := v.(event.Time); isT {
				v = tv.Sub(podT0).Seconds()
			}
			s += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	return s
}

func TestPodEvents(t *testing.T) {
	keys := []string{"container", "restart_count", "reason", "exit_code", "oom_killed", "observed", "downtime_s", "down_since"}
	up0 := podLine{0, webPod(0, running(0), nil)}
	restart1 := webPod(1, running(20), ended("Error", 1, 0, 15))
	oom := webPod(1, running(18), ended("OOMKilled", 137, 0, 15))
	crashing := webPod(1, backoff(), ended("Error", 1, 0, 15))
	unready := webPod(0, running(0), nil)
	unready.Ready, unready.Containers[0].Ready = false, false
	evicted := webPod(0, event.PodContainerState{Status: event.PodTerminated}, nil)
	evicted.Phase, evicted.Reason, evicted.Message, evicted.Ready = "Failed", "Evicted", "The node was low on resource: memory.", false
	deleting := webPod(0, event.PodContainerState{Status: event.PodTerminated, Reason: "Completed"}, nil)
	deleting.Deleting, deleting.Ready = true, false
	deletedDown := webPod(1, backoff(), ended("Error", 1, 0, 15))
	deletedDown.Deleting, deletedDown.Ready = true, false
	other := webPod(0, running(30), nil)
	other.Name, other.UID = "web-2", "u2"
	tests := []struct {
		name  string
		lines []podLine
		want  []string
	}{
		{"one restart: a crash with its reason and exit code, dated by the death, and its recovery",
			[]podLine{up0, {21, restart1}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"recovered@21 container=app restart_count=1 downtime_s=5 down_since=15"}},
		{"the same status sent three times: one crash",
			[]podLine{up0, {21, restart1}, {22, restart1}, {23, restart1}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"recovered@21 container=app restart_count=1 downtime_s=5 down_since=15"}},
		{"a relist after a gap, with an older status first: nothing",
			[]podLine{up0, {21, restart1}, {300, up0.p}, {301, restart1}, {302, restart1}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"recovered@21 container=app restart_count=1 downtime_s=5 down_since=15"}},
		{"two restarts between samples: two crashes, the one not seen says so",
			[]podLine{up0, {40, webPod(2, running(38), ended("Error", 2, 20, 30))}},
			[]string{"started@0",
				"crash@20 container=app restart_count=1 observed=false", "recovered@40 container=app restart_count=1 observed=false",
				"crash@30 container=app restart_count=2 reason=Error exit_code=2 oom_killed=false observed=true",
				"recovered@40 container=app restart_count=2 downtime_s=8 down_since=30"}},
		{"OOMKilled",
			[]podLine{up0, {20, oom}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=OOMKilled exit_code=137 oom_killed=true observed=true",
				"recovered@20 container=app restart_count=1 downtime_s=3 down_since=15"}},
		{"CrashLoopBackOff: crashloop once per entry, recovered with the kubelet's downtime",
			[]podLine{up0, {16, crashing}, {17, crashing}, {18, crashing}, {41, webPod(1, running(40), ended("Error", 1, 0, 15))},
				{60, webPod(2, backoff(), ended("Error", 1, 40, 55))}, {61, webPod(2, backoff(), ended("Error", 1, 40, 55))}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"crashloop@16 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false", "unready@16",
				"recovered@41 container=app restart_count=1 downtime_s=25 down_since=15",
				"crash@55 container=app restart_count=2 reason=Error exit_code=1 oom_killed=false observed=true",
				"crashloop@60 container=app restart_count=2 reason=Error exit_code=1 oom_killed=false", "unready@60"}},
		{"a crash still down when the next restart comes: answered by the run that ended",
			[]podLine{up0, {16, crashing}, {60, webPod(2, backoff(), ended("Error", 1, 40, 55))}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"crashloop@16 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false", "unready@16",
				"recovered@60 container=app restart_count=1 downtime_s=25 down_since=15",
				"crash@55 container=app restart_count=2 reason=Error exit_code=1 oom_killed=false observed=true"}},
		{"unready once per turn",
			[]podLine{up0, {5, unready}, {6, unready}, {7, up0.p}, {8, unready}},
			[]string{"started@0", "unready@5", "unready@8"}},
		{"not ready from the start is no turn",
			[]podLine{{0, unready}, {5, unready}},
			[]string{"started@0"}},
		{"evicted once",
			[]podLine{up0, {5, evicted}, {6, evicted}},
			[]string{"started@0", "evicted@5 reason=Evicted"}},
		{"a pod deleted and a new one: no crash for the deletion, which is told once",
			[]podLine{up0, {30, deleting}, {31, other}, {90, deleting}},
			[]string{"started@0", "deleted@30", "started@31"}},
		{"a pod deleted while its container is down: down until the deletion",
			[]podLine{up0, {16, crashing}, {40, deletedDown}},
			[]string{"started@0", "crash@15 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"crashloop@16 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false", "unready@16",
				"deleted@40 container=app restart_count=1 downtime_s=25 down_since=15"}},
		{"a pod recreated under the same name counts its restarts afresh",
			[]podLine{{0, webPod(3, running(0), nil)}, {10, func() event.Pod { p := webPod(0, running(10), nil); p.UID = "u9"; return p }()},
				{30, func() event.Pod { p := webPod(1, running(25), ended("Error", 1, 10, 20)); p.UID = "u9"; return p }()}},
			[]string{"started@0", "crash@20 container=app restart_count=1 reason=Error exit_code=1 oom_killed=false observed=true",
				"recovered@30 container=app restart_count=1 downtime_s=5 down_since=20"}},
		{"restarts before the first sight are history, not crashes",
			[]podLine{{21, restart1}, {22, restart1}},
			[]string{"started@21"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := podEvents(t, Defaults(), tc.lines)
			var got []string
			for _, ev := range evs {
				got = append(got, brief(ev, keys...))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPodEventFields: what sre-report and sre-heal read of a pod crash:
// the pod's identity and owner, the container, the kubelet's times; a
// recovered names the crash it answers; no process.
func TestPodEventFields(t *testing.T) {
	evs := podEvents(t, Defaults(), []podLine{{0, webPod(0, running(0), nil)}, {20, webPod(2, running(18), ended("OOMKilled", 137, 2, 15))}})
	if len(evs) != 5 {
		t.Fatalf("%d events, want started, 2 crashes and 2 recovered", len(evs))
	}
	c, r := evs[3], evs[4]
	if c.Type != "crash" || c.Severity != event.SevCritical || c.Target != "shop/web-1" || c.Process != nil {
		t.Errorf("crash %+v", c)
	}
	want := map[string]any{"namespace": "shop", "pod": "web-1", "uid": "u1", "container": "app", "owner_kind": "Deployment",
		"owner_name": "web", "replicaset": "web-7d9c", "node": "n1", "reason": "OOMKilled", "exit_code": 137, "oom_killed": true,
		"restart_count": 2, "observed": true, "started_at": *podAt(2), "finished_at": *podAt(15), "uptime_s": 13.0}
	if diff := cmp.Diff(want, c.Detail); diff != "" {
		t.Errorf("crash detail (-want +got):\n%s", diff)
	}
	if c.Msg != "shop/web-1 container app was OOM-killed (exit code 137) after 13s up; restart 2." {
		t.Errorf("msg %q", c.Msg)
	}
	if r.Type != "recovered" || r.Detail["crash_id"] != c.ID || r.Detail["downtime_s"] != 3.0 || r.Detail["down_since"] != *podAt(15) {
		t.Errorf("recovered %+v, crash id %s", r.Detail, c.ID)
	}
	if !c.TS.Equal(podAt(15).Time) || !strings.HasPrefix(c.ID, "20260101T000015.") {
		t.Errorf("crash ts %v id %s: want the kubelet's finished_at", c.TS, c.ID)
	}
	if evs[1].Detail["observed"] != false || evs[2].Detail["crash_id"] != evs[1].ID {
		t.Errorf("unobserved crash %+v answered by %+v", evs[1].Detail, evs[2].Detail)
	}
	if _, has := evs[2].Detail["downtime_s"]; has {
		t.Errorf("a recovery no sample showed has no downtime: %+v", evs[2].Detail)
	}
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", ev.Type, err)
		}
	}
}

// TestPodBadSamples: a pod sample the detector cannot count with is
// skipped as a bad sample, and the samples after it still count.
func TestPodBadSamples(t *testing.T) {
	good := podLine{0, webPod(0, running(0), nil)}
	neg := webPod(-1, running(0), nil)
	twice := webPod(0, running(0), nil)
	twice.Containers = append(twice.Containers, twice.Containers[0])
	noName := webPod(0, running(0), nil)
	noName.Containers[0].Name = ""
	g := string(good.bytes(t))
	for _, c := range []struct{ name, line string }{
		{"negative restart_count", string(podLine{1, neg}.bytes(t))},
		{"a container named twice", string(podLine{1, twice}.bytes(t))},
		{"a container without a name", string(podLine{1, noName}.bytes(t))},
		{"a pod that is not an object", strings.Replace(g, `"pod":{`, `"pod":"web-1","x":{`, 1)},
		{"a pod with a namespace of the wrong type", strings.Replace(g, `"namespace":"shop"`, `"namespace":7`, 1)},
		{"a restart_count that is not a number", strings.Replace(g, `"restart_count":0`, `"restart_count":"0"`, 1)},
		{"a pod cut short", strings.Replace(g, `"containers":[`, `"containers":[[`, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, got := eventsOf(t)
			if err := e.Sample([]byte(g)); err != nil {
				t.Fatal(err)
			}
			err := e.Sample([]byte(c.line))
			var se *SkipError
			if !errors.As(err, &se) || se.Reason != SkipBadSample {
				t.Fatalf("%s: got %v, want a bad_sample skip", c.line, err)
			}
			if err := e.Sample(podLine{30, webPod(1, running(25), ended("Error", 1, 0, 20))}.bytes(t)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"started", "crash", "recovered"}, types(*got)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPodState: --state carries each container's restart count, so a
// restarted sre-detect does not tell old restarts again and does tell
// those made while it was away.
func TestPodState(t *testing.T) {
	e1, _ := eventsOf(t)
	if err := e1.Sample(podLine{0, webPod(2, running(0), nil)}.bytes(t)); err != nil {
		t.Fatal(err)
	}
	sg := e1.Sightings()
	if len(sg) != 1 || !sg[0].Up || len(sg[0].Sample) == 0 {
		t.Fatalf("sightings %+v", sg)
	}
	for _, c := range []struct {
		name string
		p    event.Pod
		want []string
	}{
		{"the same count", webPod(2, running(0), nil), []string{"started@60"}},
		{"two restarts while away", webPod(4, running(50), ended("Error", 1, 30, 40)),
			[]string{"started@60", "crash@30 restart_count=3 observed=false unwatched=true", "recovered@60 restart_count=3 observed=false",
				"crash@40 restart_count=4 observed=true unwatched=true", "recovered@60 restart_count=4 downtime_s=10"}},
		{"another pod of the same name", func() event.Pod { p := webPod(5, running(0), nil); p.UID = "u2"; return p }(), []string{"started@60"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.Prior = sg
			evs := podEvents(t, cfg, []podLine{{60, c.p}})
			var got []string
			for _, ev := range evs {
				got = append(got, brief(ev, "restart_count", "observed", "unwatched", "downtime_s"))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	// Down when last seen, a pod deleted meanwhile: no crash for it.
	cfg := Defaults()
	cfg.Prior = sg
	e2, got := func() (*Engine, *[]*event.Event) {
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
		return e, &evs
	}()
	gone := `{"v":1,"kind":"sample","ts":"2026-01-01T00:01:00Z","host":"h","src":"sre-sample","target":"shop/web-1","seq":1,"up":false,"matches":0,"unavailable":{"pod":"no such pod"}}`
	if err := e2.Sample([]byte(gone)); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 0 {
		t.Errorf("a pod gone while unwatched: %v, want nothing", types(*got))
	}
}

// TestPodWhen: custom conditions see pod samples.
func TestPodWhen(t *testing.T) {
	cfg := Defaults()
	cfg.Whens = []When{{Name: "restarting", Expr: `.pod.containers[0].restart_count > 0`}}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	evs := podEvents(t, cfg, []podLine{{0, webPod(0, running(0), nil)}, {20, webPod(1, running(18), ended("Error", 1, 0, 15))}})
	var got []string
	for _, ev := range evs {
		got = append(got, brief(ev, "name"))
	}
	want := []string{"started@0", "crash@15", "recovered@20", "custom@20 name=restarting"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestPodDisabled: --disable pod turns off every pod event, and the pod
// samples still take the pod path (nothing from the process life cycle).
func TestPodDisabled(t *testing.T) {
	cfg := Defaults()
	cfg.Disabled = []string{"pod"}
	cfg.AbsentAfter = time.Second
	deleted := webPod(1, event.PodContainerState{Status: event.PodTerminated}, ended("Error", 1, 0, 15))
	deleted.Deleting = true
	evs := podEvents(t, cfg, []podLine{{0, webPod(0, running(0), nil)}, {20, webPod(1, running(18), ended("Error", 1, 0, 15))}, {30, deleted}, {90, deleted}})
	if len(evs) != 0 {
		t.Errorf("events %v, want none", types(evs))
	}
}

// TestPodHugeJump: a count far beyond what samples can miss is still one
// crash per restart up to a bound, the oldest told as one crash that
// says how many it stands for; a count beyond the API's int32 is a bad
// sample.
func TestPodHugeJump(t *testing.T) {
	evs := podEvents(t, Defaults(), []podLine{{0, webPod(0, running(0), nil)}, {20, webPod(5000, running(18), ended("Error", 1, 10, 15))}})
	crashes, restarts := 0, 0
	for _, ev := range evs {
		if ev.Type != "crash" {
			continue
		}
		crashes++
		if n, ok := ev.Detail["restarts"].(int); ok {
			restarts += n
		} else {
			restarts++
		}
	}
	if crashes != maxUnseen+1 || restarts != 5000 {
		t.Errorf("%d crashes telling %d restarts, want %d telling 5000", crashes, restarts, maxUnseen+1)
	}
	big := strings.Replace(string(podLine{30, webPod(7, running(0), nil)}.bytes(t)), `"restart_count":7`, `"restart_count":4294967296`, 1)
	e, _ := eventsOf(t)
	var se *SkipError
	if err := e.Sample([]byte(big)); !errors.As(err, &se) || se.Reason != SkipBadSample {
		t.Errorf("restart_count 2^32: %v, want a bad_sample skip", err)
	}
}

// FuzzPodSamples feeds pod samples with any bytes in place of their pod
// through the engine after a good one: never a panic, every event valid.
func FuzzPodSamples(f *testing.F) {
	pods := []event.Pod{webPod(1, running(20), ended("Error", 1, 0, 15)), webPod(3, backoff(), ended("OOMKilled", 137, 0, 15))}
	for _, p := range pods {
		s := event.Sample{Header: event.NewHeader(event.KindSample, "sre-sample", "h", podT0.Add(time.Minute)), Target: p.Ref(), Up: true, Matches: 1, Pod: &p}
		b, err := s.AppendJSON(nil)
		if err != nil {
			f.Fatal(err)
		}
		i := strings.Index(string(b), `"pod":`)
		f.Add(string(b[i+6 : len(b)-1]))
	}
	f.Add(`{"namespace":"shop","name":"web-1","phase":"Running","ready":true,"containers":[{"name":"app","ready":true,"restart_count":99999999,"state":{"status":"running"}}]}`)
	f.Add(`{"namespace":"shop","name":"web-1","containers":[{"name":"app","restart_count":-3,"state":{}}]}`)
	first := string(podLine{0, webPod(0, running(0), nil)}.bytes(f))
	f.Fuzz(func(t *testing.T, pod string) {
		e, err := New(Defaults(), func(rec any) error {
			if ev, ok := rec.(*event.Event); ok {
				if err := ev.Validate(); err != nil {
					t.Fatalf("%s: %v", ev.Type, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Sample([]byte(first)); err != nil {
			t.Fatal(err)
		}
		line := `{"v":1,"kind":"sample","ts":"2026-01-01T00:01:00Z","host":"h","src":"sre-sample","target":"shop/web-1","seq":2,"up":true,"matches":1,"pod":` + pod + `}`
		err = e.Sample([]byte(line))
		var se *SkipError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("%s: %v", line, err)
		}
	})
}
