package score_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
	"github.com/localsre/sre-agent/internal/score"
)

var at = time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)

// step is one entry of a failure schedule, relative to at.
type step struct {
	target string
	typ    string        // started, crash, restarted, oom_kill, heal
	off    time.Duration // when, before (negative) or after at
	down   time.Duration // crash: down this long, then recovered; < 0: never recovered
}

// gen writes the archive sre-detect and sre-report would have written for
// a schedule: a crash and, down later, the recovered that answers it.
func gen(t testing.TB, steps []step) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i, s := range steps {
		ts := at.Add(s.off)
		id := fmt.Sprintf("%s-%04d", ts.Format("20060102T150405.000000000Z"), i)
		if s.typ == "heal" {
			enc.Encode(event.Action{Header: event.NewHeader(event.KindAction, "sre-heal", "h", ts),
				Rule: "restart-web", Action: "restart", EventID: "x", Target: s.target, Attempt: 1, MaxAttempts: 3, Result: event.ResultOK})
			continue
		}
		ev := event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", ts), ID: id, Type: s.typ,
			Severity: event.SevCritical, Target: s.target, Msg: s.typ + " of " + s.target}
		if s.typ == "crash" {
			ev.Detail = map[string]any{"noticed": "pidfd", "uptime_s": 12.5}
		}
		enc.Encode(ev)
		if s.typ == "crash" && s.down >= 0 {
			rts := ts.Add(s.down)
			enc.Encode(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", rts),
				ID: id + "-r", Type: "recovered", Severity: event.SevInfo, Target: s.target, Msg: "recovered",
				Detail: map[string]any{"downtime_s": s.down.Seconds(), "crash_id": id,
					"down_since": event.At(ts), "prev_pid": 42}})
		}
	}
	return b.Bytes()
}

func fold(t testing.TB, agg *score.Aggregator, data []byte) ndjson.Counts {
	t.Helper()
	rd := ndjson.NewReader(bytes.NewReader(data))
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Counts()
		}
		if err != nil {
			t.Fatal(err)
		}
		r, ok, err := score.Decode(rec.Kind, rec.Raw)
		if err != nil {
			t.Fatalf("line %d: %v", rec.Line, err)
		}
		if ok {
			agg.Add(&r)
		}
	}
}

func windows(t testing.TB, s string) []score.Window {
	t.Helper()
	w, err := score.ParseWindows(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func snapshot(t testing.TB, data []byte, win string) score.Snapshot {
	agg := score.New(windows(t, win), at)
	fold(t, agg, data)
	return agg.Snapshot(at)
}

// want is what a person works out from the schedule, by the formula of
// docs/score.md written out again here, independently of Compute.
type want struct {
	Target, Window           string
	Crashes, Failures        int
	Restarts, OOMKills       int
	Incidents                int
	Observed, Down           float64
	MTBF, MTTR               *float64
	Availability, Score      float64
	FailuresPerDay, FailureF float64
}

func f(v float64) *float64 { return &v }

func expect(target, window string, crashes, failures, incidents int, observed, down float64) want {
	up := observed - down
	w := want{Target: target, Window: window, Crashes: crashes, Failures: failures, Incidents: incidents,
		Observed: observed, Down: down, Availability: up / observed}
	if failures > 0 {
		w.MTBF = f(up / float64(failures))
	}
	if incidents > 0 {
		w.MTTR = f(down / float64(incidents))
	}
	days := math.Max(observed/86400, 1)
	w.FailuresPerDay = float64(failures) / days
	w.FailureF = 1 / (1 + w.FailuresPerDay)
	w.Score = math.Round(100*w.Availability*w.FailureF*100) / 100
	return w
}

func got(r score.Result) want {
	return want{Target: r.Target, Window: r.Window, Crashes: r.Crashes, Failures: r.Failures,
		Restarts: r.Restarts, OOMKills: r.OOMKills, Incidents: r.Incidents, Observed: r.ObservedS,
		Down: r.DowntimeS, MTBF: r.MTBFS, MTTR: r.MTTRS, Availability: r.Availability, Score: r.Score,
		FailuresPerDay: r.Explain.FailuresPerDay, FailureF: r.Explain.FailureFactor}
}

const (
	h   = time.Hour
	day = 24 * h
	m   = time.Minute
)

func TestGroundTruth(t *testing.T) {
	tests := []struct {
		name  string
		win   string
		steps []step
		want  []want
	}{
		{
			// Up for 8 days; a 10-minute incident 2 h ago; a crash 30 min
			// ago still open at --at.
			name: "open incident at --at",
			win:  "1h,24h,7d",
			steps: []step{
				{"web", "started", -8 * day, 0},
				{"web", "crash", -2 * h, 10 * m},
				{"web", "crash", -30 * m, -1},
			},
			want: []want{
				expect("web", "1h", 1, 1, 1, 3600, 1800),
				expect("web", "24h", 2, 2, 2, 86400, 600+1800),
				expect("web", "7d", 2, 2, 2, 7*86400, 600+1800),
			},
		},
		{
			// 20 min down from 70 min ago: the 1h window holds its last
			// 10 min and not its crash.
			name: "window cuts an incident in two",
			win:  "1h,24h",
			steps: []step{
				{"api", "started", -3 * day, 0},
				{"api", "crash", -70 * m, 20 * m},
			},
			want: []want{
				expect("api", "1h", 0, 0, 1, 3600, 600),
				expect("api", "24h", 1, 1, 1, 86400, 1200),
			},
		},
		{
			// Seen 3 days ago only: nothing in 1h or 24h, so no score there.
			name:  "no events in a window: no score",
			win:   "1h,24h,7d",
			steps: []step{{"idle", "started", -3 * day, 0}},
			want:  []want{expect("idle", "7d", 0, 0, 0, 3*86400, 0)},
		},
		{
			// First seen 6 h ago: observed time starts there; a rate over
			// less than a day is taken over a day.
			name: "young target",
			win:  "24h",
			steps: []step{
				{"new", "started", -6 * h, 0},
				{"new", "crash", -1 * h, 30 * time.Second},
			},
			want: []want{expect("new", "24h", 1, 1, 1, 6*3600, 30)},
		},
		{
			// Recovered after --at: open at --at; a crash after --at is
			// not counted at all.
			name: "records after --at",
			win:  "1h",
			steps: []step{
				{"late", "started", -2 * h, 0},
				{"late", "crash", -10 * m, 15 * m},
				{"late", "crash", 30 * m, 1 * m},
			},
			want: []want{expect("late", "1h", 1, 1, 1, 3600, 600)},
		},
		{
			name: "restarted is a failure without downtime; heal and oom counted",
			win:  "24h",
			steps: []step{
				{"svc", "started", -2 * day, 0},
				{"svc", "restarted", -3 * h, 0},
				{"svc", "oom_kill", -3 * h, 0},
				{"svc", "heal", -3 * h, 0},
			},
			want: func() []want {
				w := expect("svc", "24h", 0, 1, 0, 86400, 0)
				w.Restarts, w.OOMKills = 1, 1
				return []want{w}
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snapshot(t, gen(t, tt.steps), tt.win)
			var g []want
			for _, r := range s.Results {
				g = append(g, got(r))
			}
			if d := cmp.Diff(tt.want, g, cmpopts.EquateApprox(0, 1e-9)); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
		})
	}
}

// A recovered without crash_id (an older sre-detect) still ends the crash
// before it: the incident is not left open until --at.
func TestRecoveredWithoutCrashID(t *testing.T) {
	data := gen(t, []step{{"old", "started", -2 * day, 0}, {"old", "crash", -2 * h, 10 * m}})
	data = bytes.Replace(data, []byte(`"crash_id":`), []byte(`"x_crash_id":`), 1)
	s := snapshot(t, data, "24h")
	if d := cmp.Diff([]want{expect("old", "24h", 1, 1, 1, 86400, 600)}, []want{got(s.Results[0])}, cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// The order of records in the archive does not change any figure.
func TestOutOfOrder(t *testing.T) {
	data := gen(t, []step{
		{"web", "started", -8 * day, 0},
		{"web", "crash", -5 * day, 2 * h},
		{"web", "crash", -2 * h, 10 * m},
		{"web", "crash", -30 * m, -1},
		{"api", "started", -1 * day, 0},
		{"api", "crash", -70 * m, 20 * m},
		{"api", "heal", -69 * m, 0},
	})
	want := snapshot(t, data, "1h,24h,7d")
	lines := bytes.SplitAfter(data, []byte("\n"))
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 1))
		r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		got := snapshot(t, bytes.Join(lines, nil), "1h,24h,7d")
		if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); d != "" {
			t.Fatalf("seed %d: shuffled archive scores differently (-sorted +shuffled):\n%s", seed, d)
		}
	}
}

// One crash a week ranks above ten crashes today, in every window where
// both have a score; 100 only without failure or downtime.
func TestRanking(t *testing.T) {
	steps := []step{{"weekly", "started", -30 * day, 0}, {"daily", "started", -30 * day, 0}}
	for w := 1; w <= 4; w++ {
		steps = append(steps, step{"weekly", "crash", -time.Duration(w)*7*day + h, 1 * m})
	}
	for i := 1; i <= 10; i++ {
		steps = append(steps, step{"daily", "crash", -time.Duration(i) * h, 1 * m})
	}
	steps = append(steps, step{"steady", "started", -5 * day, 0}, step{"weekly", "started", -2 * h, 0})
	s := snapshot(t, gen(t, steps), "1h,24h,7d,30d")
	by := map[string]map[string]score.Result{}
	for _, r := range s.Results {
		if by[r.Window] == nil {
			by[r.Window] = map[string]score.Result{}
		}
		by[r.Window][r.Target] = r
		if (r.Score == 100) != (r.Failures == 0 && r.DowntimeS == 0) {
			t.Errorf("%s %s: score %v with %d failures and %vs down", r.Target, r.Window, r.Score, r.Failures, r.DowntimeS)
		}
	}
	compared := 0
	for win, m := range by {
		wk, ok1 := m["weekly"]
		dy, ok2 := m["daily"]
		if !ok1 || !ok2 {
			continue
		}
		compared++
		if wk.Score <= dy.Score {
			t.Errorf("%s: weekly %v not above ten-today %v", win, wk.Score, dy.Score)
		}
	}
	if compared < 3 {
		t.Errorf("compared %d windows, want at least 3", compared)
	}
	if r := by["7d"]["steady"]; r.Score != 100 {
		t.Errorf("steady 7d: score %v, want 100", r.Score)
	}
}

// A failure can never round up to 100.
func TestComputeCapsBelow100(t *testing.T) {
	tests := []struct {
		name     string
		avail    float64
		failures int
		observed float64
		down     float64
		want     float64
	}{
		{"clean", 1, 0, 86400, 0, 100},
		{"a blink of downtime", 1 - 1e-9, 0, 30 * 86400, 30 * 86400 * 1e-9, 99.99},
		{"one crash in a year", 1, 1, 365 * 86400, 0, 99.73},
		{"down all the time", 0, 3, 86400, 86400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, e := score.Compute(tt.avail, tt.failures, tt.observed, tt.down)
			if got != tt.want {
				t.Errorf("score %v, want %v (%+v)", got, tt.want, e)
			}
			if sum := 100 - e.LostDowntime - e.LostFailures; math.Abs(sum-got) > 0.01 && !e.Capped {
				t.Errorf("terms add up to %v, score %v", sum, got)
			}
		})
	}
}

func TestParseWindows(t *testing.T) {
	tests := []struct {
		in      string
		want    []score.Window
		wantErr bool
	}{
		{"1h,24h,7d", []score.Window{{"1h", h}, {"24h", day}, {"7d", 7 * day}}, false},
		{"30m, 2w ,1h,1h", []score.Window{{"30m", 30 * m}, {"2w", 14 * day}, {"1h", h}}, false},
		{"1.5d", []score.Window{{"1.5d", 36 * h}}, false},
		{"", nil, true},
		{"0h", nil, true},
		{"-1h", nil, true},
		{"xd", nil, true},
		{"1y", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := score.ParseWindows(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "nginx"},
		{"/run/app.pid", "/run/app.pid"},
		{"python3 app.py --password=hunter2", "python3"},
		{"TOKEN=abc", "TOKEN=***"},
	}
	for _, tt := range tests {
		if got := score.Label(tt.in); got != tt.want {
			t.Errorf("Label(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A started from a fresh sre-detect (the watcher itself restarted, so it
// cannot know the crash before it) closes the crash: the target was down
// from the crash until the process seen came up, not until --at.
func TestStartedClosesCrash(t *testing.T) {
	ev := func(off time.Duration, typ, id string, detail map[string]any) []byte {
		b, err := json.Marshal(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", at.Add(off)),
			ID: id, Type: typ, Severity: event.SevInfo, Target: "web", Msg: typ, Detail: detail})
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	first := ev(-190*time.Second, "started", "a", map[string]any{"matches": 1, "process_start": event.At(at.Add(-300 * time.Second))})
	crash := ev(-185*time.Second, "crash", "c", map[string]any{"noticed": "pidfd"})
	second := func(start time.Duration) []byte {
		d := map[string]any{"matches": 1}
		if start != 0 {
			d["process_start"] = event.At(at.Add(start))
		}
		return ev(-120*time.Second, "started", "b", d)
	}
	recovered := ev(-175*time.Second, "recovered", "r", map[string]any{"crash_id": "c", "downtime_s": 10.0,
		"down_since": event.At(at.Add(-185 * time.Second))})
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		data []byte
		want want
	}{
		{
			name: "up again 59 s after the crash",
			data: cat(first, crash, second(-126*time.Second)),
			want: expect("web", "1h", 1, 1, 1, 190, 59),
		},
		{
			name: "archive out of order",
			data: cat(second(-126*time.Second), crash, first),
			want: expect("web", "1h", 1, 1, 1, 190, 59),
		},
		{
			name: "no process_start: down until the sighting",
			data: cat(first, crash, second(0)),
			want: expect("web", "1h", 1, 1, 1, 190, 65),
		},
		{
			name: "the process seen was up before the crash: no downtime",
			data: cat(first, crash, second(-250*time.Second)),
			want: expect("web", "1h", 1, 1, 1, 190, 0),
		},
		{
			name: "a recovered of the same watcher wins",
			data: cat(first, crash, recovered, second(-126*time.Second)),
			want: expect("web", "1h", 1, 1, 1, 190, 10),
		},
		{
			name: "a recovered wins, read last",
			data: cat(second(-126*time.Second), first, crash, recovered),
			want: expect("web", "1h", 1, 1, 1, 190, 10),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snapshot(t, tt.data, "1h")
			if len(s.Results) != 1 {
				t.Fatalf("%d results, want 1: %+v", len(s.Results), s.Results)
			}
			opt := cmpopts.EquateApprox(0, 1e-9)
			if diff := cmp.Diff(tt.want, got(s.Results[0]), opt); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A crash and the started that ended it, both before the longest window,
// leave the window up: the sighting still closes the crash, however old.
func TestOldStartedClosesOldCrash(t *testing.T) {
	ev := func(off time.Duration, typ, id string, detail map[string]any) []byte {
		b, err := json.Marshal(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", at.Add(off)),
			ID: id, Type: typ, Severity: event.SevInfo, Target: "web", Msg: typ, Detail: detail})
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	data := bytes.Join([][]byte{
		ev(-3*h, "started", "a", map[string]any{"process_start": event.At(at.Add(-4 * h))}),
		ev(-2*h, "crash", "c", map[string]any{"noticed": "pidfd"}),
		ev(-90*m, "started", "b", map[string]any{"process_start": event.At(at.Add(-91 * m))}),
		ev(-10*m, "restarted", "r", nil),
	}, nil)
	s := snapshot(t, data, "1h")
	if len(s.Results) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(s.Results), s.Results)
	}
	if r := s.Results[0]; r.DowntimeS != 0 || r.Availability != 1 {
		t.Errorf("1h: downtime %v s, availability %v; want 0 and 1 (the crash ended 90 minutes before the window)", r.DowntimeS, r.Availability)
	}
}

// A host-wide OOM kill is charged to no target: neither the host_oom_kill
// notice sre-detect tells now, nor the oom_kill event with scope "host"
// that older builds told under whichever target's sample showed it. A kill
// in the target's own cgroup counts.
func TestHostOOMNotCharged(t *testing.T) {
	data := gen(t, []step{{"svc", "started", -2 * day, 0}})
	ts := event.At(at.Add(-3 * h))
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.Encode(event.Notice{Header: event.NewHeader(event.KindNotice, "sre-detect", "h", ts.Time), Code: "host_oom_kill",
		Msg: "The kernel OOM killer ended 1 process(es) on host h.", Detail: map[string]any{"scope": "host", "kills": 1}})
	enc.Encode(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", ts.Time), ID: "old-host", Type: "oom_kill",
		Severity: event.SevWarning, Target: "svc", Msg: "The kernel OOM killer ended 1 process(es) on host h.",
		Detail: map[string]any{"scope": "host", "kills": 1, "oom_kills": 4}})
	enc.Encode(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", ts.Time.Add(m)), ID: "cg", Type: "oom_kill",
		Severity: event.SevCritical, Target: "svc", Msg: "The kernel OOM killer ended 1 process(es) in cgroup /svc of svc.",
		Detail: map[string]any{"scope": "cgroup", "cgroup": "/svc", "kills": 1, "cgroup_oom_kills": 1}})
	data = append(data, b.Bytes()...)
	s := snapshot(t, data, "24h")
	w := expect("svc", "24h", 0, 0, 0, 86400, 0)
	w.OOMKills = 1
	if d := cmp.Diff([]want{w}, []want{got(s.Results[0])}, cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if tot := s.Totals[0].OOMKills; tot != 1 {
		t.Errorf("total OOM kills = %d, want 1", tot)
	}
}

// A crash the OOM killer caused, on evidence (detail.oom_killed: the
// kernel's log named it, or its cgroup counted a kill), is an OOM kill of
// its target too; a crash merely suspected is not.
func TestCrashOOMKilled(t *testing.T) {
	data := gen(t, []step{{"svc", "started", -2 * day, 0}})
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i, d := range []map[string]any{
		{"noticed": "pidfd", "signal": "SIGKILL", "oom_suspected": true, "oom_confidence": "high", "oom_killed": true,
			"history": []map[string]any{{"ts": "2026-01-07T20:00:00Z", "rss_bytes": 1}}},
		{"noticed": "pidfd", "signal": "SIGKILL", "oom_suspected": true, "oom_confidence": "medium"},
	} {
		ts := at.Add(-time.Duration(3+i) * h)
		enc.Encode(event.Event{Header: event.NewHeader(event.KindEvent, "sre-detect", "h", ts), ID: fmt.Sprint("c", i), Type: "crash",
			Severity: event.SevCritical, Target: "svc", Msg: "svc was killed by SIGKILL", Detail: d})
	}
	s := snapshot(t, append(data, b.Bytes()...), "24h")
	if r := s.Results[0]; r.OOMKills != 1 || r.Crashes != 2 {
		t.Errorf("24h: %d OOM kills, %d crashes; want 1 and 2", r.OOMKills, r.Crashes)
	}
	if tot := s.Totals[0].OOMKills; tot != 1 {
		t.Errorf("total OOM kills = %d, want 1", tot)
	}
}

// TestDowntime: the intervals the dashboard draws are the incidents a
// window counts: an answered crash as recorded, an unanswered one until
// the sighting that ended it, an open one until the end asked for.
func TestDowntime(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339Nano) }
	lines := strings.Join([]string{
		`{"v":1,"kind":"event","ts":"` + ts(-5*time.Hour) + `","id":"c1","type":"crash","severity":"critical","target":"api","msg":"m"}`,
		`{"v":1,"kind":"event","ts":"` + ts(-5*time.Hour+90*time.Second) + `","id":"r1","type":"recovered","severity":"info","target":"api","msg":"m","detail":{"crash_id":"c1","down_since":"` + ts(-5*time.Hour) + `","downtime_s":90}}`,
		`{"v":1,"kind":"event","ts":"` + ts(-3*time.Hour) + `","id":"c2","type":"crash","severity":"critical","target":"api","msg":"m"}`,
		`{"v":1,"kind":"event","ts":"` + ts(-2*time.Hour) + `","id":"s2","type":"started","severity":"info","target":"api","msg":"m"}`,
		`{"v":1,"kind":"event","ts":"` + ts(-time.Hour) + `","id":"c3","type":"crash","severity":"critical","target":"api","msg":"m"}`,
	}, "\n") + "\n"
	agg := score.New([]score.Window{{Label: "24h", Dur: 24 * time.Hour}}, time.Time{})
	if _, err := score.ReadArchive(context.Background(), strings.NewReader(lines), agg, nil); err != nil {
		t.Fatal(err)
	}
	got := agg.Downtime("api", at.Add(-24*time.Hour), at)
	want := []score.Interval{
		{Start: at.Add(-5 * time.Hour), End: at.Add(-5*time.Hour + 90*time.Second)},
		{Start: at.Add(-3 * time.Hour), End: at.Add(-2 * time.Hour)},
		{Start: at.Add(-time.Hour), End: at, Open: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Downtime (-want +got):\n%s", diff)
	}
	if got := agg.Downtime("api", at.Add(-90*time.Minute), at); len(got) != 1 || !got[0].Open {
		t.Errorf("the last 90 minutes: %+v; want the open crash only", got)
	}
	if got := agg.Downtime("nobody", at.Add(-time.Hour), at); got != nil {
		t.Errorf("an unknown target: %+v", got)
	}
	first, last := agg.Seen("api")
	if !first.Equal(at.Add(-5*time.Hour)) || !last.Equal(at.Add(-time.Hour)) || len(agg.Targets()) != 1 {
		t.Errorf("Seen %v %v, Targets %v", first, last, agg.Targets())
	}
	// The scores agree: the window's downtime is the intervals' sum.
	for _, r := range agg.Snapshot(at).Results {
		if r.DowntimeS != 90+3600+3600 {
			t.Errorf("window downtime %v; want %v", r.DowntimeS, 90+3600+3600)
		}
	}
}
