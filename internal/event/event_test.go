package event_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

var (
	ts0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cest = time.FixedZone("CEST", 2*60*60)
)

// equateTime compares record timestamps by instant; event.Time's promoted
// Equal takes a time.Time, so cmp would not find it on its own.
var equateTime = cmp.Comparer(func(a, b event.Time) bool { return a.Equal(b.Time) })

func TestTimeMarshal(t *testing.T) {
	tests := []struct {
		name string
		t    event.Time
		want string
	}{
		{"whole seconds keep nine fraction digits", event.At(ts0), `"2026-01-02T03:04:05.000000000Z"`},
		{"nanoseconds", event.At(ts0.Add(7)), `"2026-01-02T03:04:05.000000007Z"`},
		{"milliseconds are not trimmed", event.At(ts0.Add(120 * time.Millisecond)), `"2026-01-02T03:04:05.120000000Z"`},
		{"non-UTC input is converted by At", event.At(time.Date(2026, 1, 2, 5, 4, 5, 123456789, cest)), `"2026-01-02T03:04:05.123456789Z"`},
		{"non-UTC input is converted without At", event.Time{Time: time.Date(2026, 1, 2, 5, 4, 5, 0, cest)}, `"2026-01-02T03:04:05.000000000Z"`},
		{"local time across midnight", event.Time{Time: time.Date(2026, 1, 1, 0, 30, 0, 0, cest)}, `"2025-12-31T22:30:00.000000000Z"`},
		{"zero", event.Time{}, `"0001-01-01T00:00:00.000000000Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("MarshalJSON (-want +got):\n%s", diff)
			}
			if len(b) != len(`"2006-01-02T15:04:05.000000000Z"`) {
				t.Errorf("MarshalJSON %s: %d bytes, not fixed width", b, len(b))
			}
		})
	}
}

func TestTimeSortsAsText(t *testing.T) {
	// Fixed width is what makes `sort` on the text agree with time order;
	// RFC3339Nano would trim .100000000 to .1 and sort it after .05.
	times := []time.Time{
		ts0.Add(100 * time.Millisecond),
		ts0.Add(50 * time.Millisecond),
		ts0,
		ts0.Add(time.Second),
		ts0.Add(999999999),
		time.Date(2026, 1, 2, 4, 4, 5, 0, cest), // 02:04:05Z: earliest
	}
	var text []string
	for _, tm := range times {
		b, err := json.Marshal(event.At(tm))
		if err != nil {
			t.Fatal(err)
		}
		text = append(text, string(b))
	}
	byText := slices.Clone(text)
	sort.Strings(byText)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var byTime []string
	for _, tm := range times {
		b, _ := json.Marshal(event.At(tm))
		byTime = append(byTime, string(b))
	}
	if diff := cmp.Diff(byTime, byText); diff != "" {
		t.Errorf("text order differs from time order (-time +text):\n%s", diff)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	for _, in := range []time.Time{
		ts0,
		ts0.Add(1),
		time.Date(2026, 7, 1, 23, 59, 59, 999999999, cest),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Now(), // carries a monotonic reading, which must not matter
	} {
		b, err := json.Marshal(event.At(in))
		if err != nil {
			t.Fatal(err)
		}
		var out event.Time
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if !out.Equal(in) {
			t.Errorf("%s round-tripped to %v, want %v", b, out.Time, in)
		}
		if out.Location() != time.UTC {
			t.Errorf("%s unmarshalled in %v, want UTC", b, out.Location())
		}
	}
}

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"fixed width", `"2026-01-02T03:04:05.000000000Z"`, ts0, false},
		{"no fraction", `"2026-01-02T03:04:05Z"`, ts0, false},
		{"short fraction", `"2026-01-02T03:04:05.5Z"`, ts0.Add(500 * time.Millisecond), false},
		{"offset becomes UTC", `"2026-01-02T05:04:05+02:00"`, ts0, false},
		{"not RFC 3339", `"2026-01-02 03:04:05"`, time.Time{}, true},
		{"date only", `"2026-01-02"`, time.Time{}, true},
		{"number", `1767323045`, time.Time{}, true},
		{"empty string", `""`, time.Time{}, true},
		{"lone quote", `"`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got event.Time
			err := got.UnmarshalJSON([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("UnmarshalJSON(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && (!got.Equal(tt.want) || got.Location() != time.UTC) {
				t.Errorf("UnmarshalJSON(%s) = %v, want %v in UTC", tt.in, got.Time, tt.want)
			}
		})
	}
}

func TestTimeUnmarshalNull(t *testing.T) {
	// encoding/json's convention: null leaves the value alone. Validate, not
	// the decoder, then says that a record without ts is invalid.
	var h event.Header
	if err := json.Unmarshal([]byte(`{"v":1,"kind":"notice","ts":null,"src":"sre-x"}`), &h); err != nil {
		t.Fatalf("Unmarshal with ts null: %v", err)
	}
	if !h.TS.IsZero() {
		t.Errorf("ts null gave %v, want zero", h.TS.Time)
	}
	if err := h.Validate(); !errors.Is(err, event.ErrInvalid) {
		t.Errorf("Validate with ts null = %v, want ErrInvalid", err)
	}
}

func TestNewHeader(t *testing.T) {
	got := event.NewHeader(event.KindSample, "sre-sample", "web1", time.Date(2026, 1, 2, 5, 4, 5, 0, cest))
	want := event.Header{V: event.Version, Kind: "sample", TS: event.At(ts0), Host: "web1", Src: "sre-sample"}
	if diff := cmp.Diff(want, got, equateTime); diff != "" {
		t.Errorf("NewHeader (-want +got):\n%s", diff)
	}
	if got.TS.Location() != time.UTC {
		t.Errorf("NewHeader ts in %v, want UTC", got.TS.Location())
	}
}

func TestIdentity(t *testing.T) {
	p := &event.Process{PID: 4242, StartTicks: 987654}
	if got, want := p.ID(), (event.Identity{PID: 4242, StartTicks: 987654}); got != want {
		t.Errorf("ID() = %v, want %v", got, want)
	}
	if got, want := p.ID().String(), "4242@987654"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// A reused PID is another process.
	if (&event.Process{PID: 4242, StartTicks: 1}).ID() == p.ID() {
		t.Error("same PID with another start time compares equal")
	}
}

// checkValidate runs one Validate table row: want is "" for a valid record,
// else a fragment of the message.
func checkValidate(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate() = nil, want an error about %q", want)
	}
	if !errors.Is(err, event.ErrInvalid) {
		t.Errorf("Validate() = %v, does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Validate() = %q, want it to mention %q", err, want)
	}
}

func TestHeaderValidate(t *testing.T) {
	good := func() event.Header { return event.NewHeader(event.KindNotice, "sre-detect", "web1", ts0) }
	tests := []struct {
		name   string
		mutate func(*event.Header)
		want   string
	}{
		{"good", func(*event.Header) {}, ""},
		{"empty host is allowed", func(h *event.Header) { h.Host = "" }, ""},
		{"every kind", func(h *event.Header) { h.Kind = event.KindSummary }, ""},
		{"v zero", func(h *event.Header) { h.V = 0 }, "v 0"},
		{"v negative", func(h *event.Header) { h.V = -1 }, "v -1"},
		{"v newer", func(h *event.Header) { h.V = event.Version + 1 }, "newer"},
		{"kind empty", func(h *event.Header) { h.Kind = "" }, "kind"},
		{"kind unknown", func(h *event.Header) { h.Kind = "metric" }, `kind "metric"`},
		{"kind wrong case", func(h *event.Header) { h.Kind = "Sample" }, `kind "Sample"`},
		{"ts zero", func(h *event.Header) { h.TS = event.Time{} }, "ts"},
		{"src empty", func(h *event.Header) { h.Src = "" }, "src"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good()
			tt.mutate(&h)
			checkValidate(t, h.Validate(), tt.want)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func upSample() event.Sample {
	return event.Sample{
		Header: event.NewHeader(event.KindSample, "sre-sample", "web1", ts0),
		Target: "nginx",
		Seq:    7,
		Up:     true,
		Process: &event.Process{
			PID: 4242, PPID: 1, Start: event.At(ts0.Add(-time.Hour)), StartTicks: 987654,
			Name: "nginx", State: "S", RSSBytes: 1 << 20, VMSBytes: 1 << 24, Threads: 4,
		},
	}
}

func TestSampleValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*event.Sample)
		want   string
	}{
		{"up with process", func(*event.Sample) {}, ""},
		{"down with exit and process", func(s *event.Sample) {
			s.Up = false
			s.Exit = &event.Exit{PID: 4242, Noticed: event.NoticedPidfd}
		}, ""},
		{"down with exit only", func(s *event.Sample) {
			s.Up, s.Process = false, nil
			s.Exit = &event.Exit{PID: 4242, Noticed: event.NoticedGone}
		}, ""},
		{"down, nothing matched", func(s *event.Sample) { s.Up, s.Process = false, nil }, ""},
		{"bad header", func(s *event.Sample) { s.V = 2 }, "v 2"},
		{"kind event", func(s *event.Sample) { s.Kind = event.KindEvent }, `kind "event": want sample`},
		{"no target", func(s *event.Sample) { s.Target = "" }, "target"},
		{"up without process", func(s *event.Sample) { s.Process = nil }, "without process"},
		{"up with exit", func(s *event.Sample) { s.Exit = &event.Exit{PID: 4242, Noticed: event.NoticedWait} }, "with exit"},
		{"exit pid differs", func(s *event.Sample) {
			s.Up = false
			s.Exit = &event.Exit{PID: 99, Noticed: event.NoticedZombie}
		}, "exit.pid 99 differs from process.pid 4242"},
		{"process pid zero", func(s *event.Sample) { s.Process.PID = 0 }, "process.pid 0"},
		{"process pid negative", func(s *event.Sample) { s.Process.PID = -5 }, "process.pid -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := upSample()
			tt.mutate(&s)
			checkValidate(t, s.Validate(), tt.want)
		})
	}
}

func TestEventValidate(t *testing.T) {
	good := func() event.Event {
		return event.Event{
			Header: event.NewHeader(event.KindEvent, "sre-detect", "web1", ts0),
			ID:     "01JGZ3K5M0000000000000000", Type: "crash", Severity: event.SevCritical,
			Target: "nginx", Msg: "nginx (pid 4242) was killed by SIGKILL.",
		}
	}
	tests := []struct {
		name   string
		mutate func(*event.Event)
		want   string
	}{
		{"good", func(*event.Event) {}, ""},
		{"warning", func(e *event.Event) { e.Severity = event.SevWarning }, ""},
		{"info", func(e *event.Event) { e.Severity = event.SevInfo }, ""},
		{"bad header", func(e *event.Event) { e.Src = "" }, "src"},
		{"kind sample", func(e *event.Event) { e.Kind = event.KindSample }, `kind "sample": want event`},
		{"no id", func(e *event.Event) { e.ID = "" }, "id"},
		{"no type", func(e *event.Event) { e.Type = "" }, "type"},
		{"no severity", func(e *event.Event) { e.Severity = "" }, "severity"},
		{"unknown severity", func(e *event.Event) { e.Severity = "fatal" }, `severity "fatal"`},
		{"severity wrong case", func(e *event.Event) { e.Severity = "Critical" }, `severity "Critical"`},
		{"no target", func(e *event.Event) { e.Target = "" }, "target"},
		{"no msg", func(e *event.Event) { e.Msg = "" }, "msg"},
		{"blank msg", func(e *event.Event) { e.Msg = " \t\n" }, "msg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			tt.mutate(&e)
			checkValidate(t, e.Validate(), tt.want)
		})
	}
}

func TestActionValidate(t *testing.T) {
	good := func() event.Action {
		return event.Action{
			Header: event.NewHeader(event.KindAction, "sre-heal", "web1", ts0),
			Rule:   "restart-nginx", Action: "restart", EventID: "01JGZ3K5M0000000000000000",
			DryRun: true, Attempt: 1, MaxAttempts: 3, Result: event.ResultPlanned,
		}
	}
	tests := []struct {
		name   string
		mutate func(*event.Action)
		want   string
	}{
		{"good", func(*event.Action) {}, ""},
		{"ok", func(a *event.Action) { a.Result = event.ResultOK }, ""},
		{"failed", func(a *event.Action) { a.Result, a.Error = event.ResultFailed, "exit status 1" }, ""},
		{"skipped", func(a *event.Action) { a.Result = event.ResultSkipped }, ""},
		{"gave up", func(a *event.Action) { a.Result = event.ResultGaveUp }, ""},
		{"bad header", func(a *event.Action) { a.TS = event.Time{} }, "ts"},
		{"kind event", func(a *event.Action) { a.Kind = event.KindEvent }, `kind "event": want action`},
		{"no result", func(a *event.Action) { a.Result = "" }, `result ""`},
		{"unknown result", func(a *event.Action) { a.Result = "done" }, `result "done"`},
		{"no rule", func(a *event.Action) { a.Rule = "" }, "rule"},
		{"no action", func(a *event.Action) { a.Action = "" }, "action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good()
			tt.mutate(&a)
			checkValidate(t, a.Validate(), tt.want)
		})
	}
}

// Fully populated records: every field set, so that a field the schema does
// not know fails TestFullRecordsMatchSchema. TestFullRecordsAreFull keeps
// them full when a field is added to a struct.
func fullProcess() *event.Process {
	return &event.Process{
		PID: 4242, PPID: 1, Start: event.At(ts0.Add(-time.Hour)), StartTicks: 987654,
		Name: "nginx", Exe: "/usr/sbin/nginx", Args: []string{"nginx", "-g", "daemon off;"},
		User: "www-data", UID: ptr(33), State: "R", Exiting: true, CPUPct: ptr(12.5), CPUTimeS: 81.25,
		RSSBytes: 52428800, VMSBytes: 209715200, Threads: 4, FDs: ptr(37), FDsLimit: ptr(uint64(1024)),
		Cgroup:            "/system.slice/docker-0123456789abcdef.scope",
		ContainerID:       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Runtime:           "docker",
		PodUID:            "6f1d9c2e-0000-4000-8000-000000000000",
		CgroupMemMaxBytes: ptr(uint64(1 << 30)), CgroupOOM: ptr(uint64(2)), CgroupOOMKills: ptr(uint64(1)),
	}
}

func fullSystem() *event.System {
	return &event.System{
		MemTotalBytes: ptr(uint64(8 << 30)), MemAvailableBytes: ptr(uint64(3 << 30)),
		SwapTotalBytes: ptr(uint64(2 << 30)), SwapUsedBytes: ptr(uint64(1 << 20)),
		Load1: ptr(0.5), Load5: ptr(0.75), Load15: ptr(1.25),
		Disk:            []event.Disk{{Path: "/", TotalBytes: 100 << 30, UsedBytes: 60 << 30, FreeBytes: 40 << 30, UsedPct: 60}},
		PSIMemSomeAvg10: ptr(0.12), PSIMemFullAvg10: ptr(0.01), OOMKills: ptr(uint64(3)),
	}
}

func fullRecords() []struct {
	name string
	rec  any
} {
	detail := map[string]any{"signal": "SIGKILL", "rss_bytes": 52428800.0, "nested": map[string]any{"a": "b"}}
	return []struct {
		name string
		rec  any
	}{
		{"sample", &event.Sample{
			Header: event.NewHeader(event.KindSample, "sre-sample", "web1", ts0),
			Target: "nginx", Seq: 42, Up: false, Matches: 1,
			Process: fullProcess(), System: fullSystem(),
			Container: &event.Container{
				ID: "0991c5b74a5116d52e45bf1f709d59a3092db172b64ea23bc788ca8f2746f106", Name: "web",
				Image: "nginx:1.27", ComposeProject: "shop", ComposeService: "web", State: "exited",
				Health: "unhealthy", HealthOutput: "curl: (7) Failed to connect", RestartCount: 2,
				StartedAt: ptr(event.At(ts0.Add(-time.Hour))), MemoryLimitBytes: ptr(uint64(16 << 20)),
				ExitCode: ptr(137), OOMKilled: ptr(true),
			},
			Pod: &event.Pod{
				Namespace: "shop", Name: "web-7d9f8b6c5-x2x4q", UID: "5b0d1f0c-6f1e-4a57-9a51-2f4c8e1d9b10",
				Owner: &event.PodOwner{Kind: "Deployment", Name: "web", ReplicaSet: "web-7d9f8b6c5"},
				Node:  "edge-1", Phase: "Running", Reason: "Evicted", Message: "The node was low on resource: memory.",
				Ready: true, Deleting: true, ResourceVersion: "48213",
				Containers: []event.PodContainer{{
					Name: "app", Ready: true, RestartCount: 3,
					State: event.PodContainerState{Status: event.PodWaiting, Reason: "CrashLoopBackOff",
						Message: "back-off 40s restarting failed container", ExitCode: ptr(1), Signal: 9,
						StartedAt: ptr(event.At(ts0.Add(-time.Minute))), FinishedAt: ptr(event.At(ts0))},
					LastState: &event.PodContainerState{Status: event.PodTerminated, Reason: "OOMKilled",
						Message: "killed", ExitCode: ptr(137), Signal: 9,
						StartedAt: ptr(event.At(ts0.Add(-time.Hour))), FinishedAt: ptr(event.At(ts0.Add(-time.Minute)))},
				}},
			},
			Exit: &event.Exit{
				PID: 4242, Noticed: event.NoticedPidfd, Code: ptr(0), Signal: "SIGKILL", SignalNum: 9,
				CoreDump: true, UptimeS: 3600.5, OOMKilled: ptr(true),
				OOMKernelMsg: "Out of memory: Killed process 4242 (nginx) total-vm:2000kB",
			},
			Unavailable: map[string]string{"process.fds": "permission denied"},
		}},
		{"event", &event.Event{
			Header: event.NewHeader(event.KindEvent, "sre-detect", "web1", ts0),
			ID:     "01JGZ3K5M0000000000000000", Type: "crash", Severity: event.SevCritical,
			Target: "nginx", Msg: "nginx (pid 4242) was killed by SIGKILL.",
			Process: fullProcess(), System: fullSystem(), Detail: detail,
			Report: "sre_reports/20260102T030405Z_nginx_crash_01JGZ3K5.txt",
		}},
		{"action", &event.Action{
			Header: event.NewHeader(event.KindAction, "sre-heal", "web1", ts0),
			Rule:   "restart-nginx", Action: "restart", EventID: "01JGZ3K5M0000000000000000", Target: "nginx",
			DryRun: true, Attempt: 2, MaxAttempts: 3, DelayS: 1.5,
			Argv: []string{"/usr/bin/systemctl", "restart", "nginx.service"}, PID: 4242,
			Result: event.ResultFailed, Error: "exit status 1",
			Evidence: []string{"sre_reports/20261127T034109Z_api_restart_container_1_abc_logs.log"},
		}},
		{"score", &event.Score{
			Header: event.NewHeader(event.KindScore, "sre-score", "web1", ts0),
			Target: "nginx", Window: "24h", Crashes: 2, Restarts: 2, OOMKills: 1,
			UptimeS: 86000, DowntimeS: 400, MTBFS: ptr(43000.0), MTTRS: ptr(200.0),
			Availability: ptr(0.99537), Score: 87.5, Explain: map[string]any{"crashes": -10.0, "mttr": -2.5},
		}},
		{"summary", &event.Summary{
			Header: event.NewHeader(event.KindSummary, "sre-detect", "web1", ts0),
			Target: "nginx", From: event.At(ts0.Add(-time.Hour)), To: event.At(ts0), Samples: 3600,
			CPUPct:  &event.Stat{Min: 0.1, Avg: 2.5, Max: 80},
			RSS:     &event.Stat{Min: 50 << 20, Avg: 52 << 20, Max: 60 << 20},
			Threads: &event.Stat{Min: 4, Avg: 4.2, Max: 6},
			FDs:     &event.Stat{Min: 30, Avg: 35.5, Max: 40},
			Slope:   -12.75,
		}},
		{"notice", &event.Notice{
			Header: event.NewHeader(event.KindNotice, "sre-report", "web1", ts0),
			Code:   "skipped_lines", Msg: "3 lines skipped (bad_json=3) of 1000",
			Detail: map[string]any{"bad_json": 3.0},
		}},
	}
}

// zeroFields lists the fields of v (a struct, or pointer to one) left at
// their zero value, recursing into nested structs, pointers and slices.
func zeroFields(path string, v reflect.Value, out *[]string) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			*out = append(*out, path)
			return
		}
		v = v.Elem()
		if v.Kind() != reflect.Struct {
			return // a set pointer is a present field, even to a zero
		}
	}
	if v.Type() == reflect.TypeFor[event.Time]() {
		if v.Interface().(event.Time).IsZero() {
			*out = append(*out, path)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			zeroFields(path+"."+f.Name, v.Field(i), out)
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			*out = append(*out, path)
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				zeroFields(path+"[]", v.Index(i), out)
			}
		}
	default:
		if v.IsZero() {
			*out = append(*out, path)
		}
	}
}

func TestFullRecordsAreFull(t *testing.T) {
	// Up is false on purpose: a down sample is the one that may carry exit.
	allowedZero := map[string]bool{"sample.Up": true}
	for _, r := range fullRecords() {
		var zero []string
		zeroFields(r.name, reflect.ValueOf(r.rec), &zero)
		for _, z := range zero {
			if !allowedZero[z] {
				t.Errorf("%s is not set: set it in fullRecords so the schema test covers it", z)
			}
		}
	}
}

func TestFullRecordsMatchSchema(t *testing.T) {
	for _, r := range fullRecords() {
		t.Run(r.name, func(t *testing.T) {
			line, err := json.Marshal(r.rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := eventtest.ValidateLine(line); err != nil {
				t.Errorf("schema rejects a full %s: %v\n%s", r.name, err, line)
			}
			if v, ok := r.rec.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
			// Decoding gives back the same record: every tag reads as it writes.
			back := reflect.New(reflect.TypeOf(r.rec).Elem())
			if err := json.Unmarshal(line, back.Interface()); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(r.rec, back.Interface(), equateTime); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMinimalRecordsMatchSchema(t *testing.T) {
	// The other end: only what is always written. Absent fields stay absent.
	h := func(kind, src string) event.Header { return event.NewHeader(kind, src, "", ts0) }
	for _, rec := range []any{
		&event.Sample{Header: h(event.KindSample, "sre-sample"), Target: "nginx"},
		&event.Sample{Header: h(event.KindSample, "sre-sample"), Target: "nginx", Up: true,
			Process: &event.Process{PID: 1, State: "R"}},
		&event.Event{Header: h(event.KindEvent, "sre-detect"), ID: "1", Type: "absent", Severity: event.SevInfo, Target: "x", Msg: "x is absent."},
		&event.Action{Header: h(event.KindAction, "sre-heal"), Rule: "r", Action: "a", Result: event.ResultPlanned},
		&event.Score{Header: h(event.KindScore, "sre-score"), Target: "x", Window: "1h"},
		&event.Summary{Header: h(event.KindSummary, "sre-detect"), Target: "x", From: event.At(ts0), To: event.At(ts0)},
		&event.Notice{Header: h(event.KindNotice, "sre-detect"), Code: "upstream_lost", Msg: "stdin closed."},
	} {
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := eventtest.ValidateLine(line); err != nil {
			t.Errorf("schema rejects %s: %v", line, err)
		}
	}
}

// sampleJSON returns a valid up sample with process, system and exit-free,
// as a generic map for the schema tests to break.
func sampleJSON(t *testing.T) map[string]any {
	t.Helper()
	s := upSample()
	s.Process = fullProcess()
	s.System = fullSystem()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSchemaRejects(t *testing.T) {
	obj := func(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"unknown field in sample", func(m map[string]any) { m["color"] = "red" }},
		{"unknown field in process", func(m map[string]any) { obj(m, "process")["nice"] = 0 }},
		{"unknown field in system", func(m map[string]any) { obj(m, "system")["load99"] = 1 }},
		{"unknown field in exit", func(m map[string]any) {
			m["up"] = false
			m["exit"] = map[string]any{"pid": 4242, "noticed": "gone", "uptime_s": 1, "why": "?"}
		}},
		{"unknown field in disk", func(m map[string]any) {
			obj(m, "system")["disk"].([]any)[0].(map[string]any)["inodes"] = 5
		}},
		{"ts without nanoseconds", func(m map[string]any) { m["ts"] = "2026-01-02T03:04:05Z" }},
		{"ts with milliseconds", func(m map[string]any) { m["ts"] = "2026-01-02T03:04:05.000Z" }},
		{"ts with offset", func(m map[string]any) { m["ts"] = "2026-01-02T03:04:05.000000000+00:00" }},
		{"ts not a time", func(m map[string]any) { m["ts"] = "yesterday" }},
		{"ts a number", func(m map[string]any) { m["ts"] = 1767323045 }},
		{"process start without nanoseconds", func(m map[string]any) { obj(m, "process")["start"] = "2026-01-02T02:04:05Z" }},
		{"up without process", func(m map[string]any) { delete(m, "process") }},
		{"up with exit", func(m map[string]any) {
			m["exit"] = map[string]any{"pid": 4242, "noticed": "gone", "uptime_s": 1}
		}},
		{"exit noticed unknown", func(m map[string]any) {
			m["up"] = false
			m["exit"] = map[string]any{"pid": 4242, "noticed": "psychic", "uptime_s": 1}
		}},
		{"v 2", func(m map[string]any) { m["v"] = 2 }},
		{"v missing", func(m map[string]any) { delete(m, "v") }},
		{"kind unknown", func(m map[string]any) { m["kind"] = "metric" }},
		{"kind of another record", func(m map[string]any) { m["kind"] = "event" }},
		{"host missing", func(m map[string]any) { delete(m, "host") }},
		{"src not a tool", func(m map[string]any) { m["src"] = "detect" }},
		{"empty target", func(m map[string]any) { m["target"] = "" }},
		{"negative seq", func(m map[string]any) { m["seq"] = -1 }},
		{"pid zero", func(m map[string]any) { obj(m, "process")["pid"] = 0 }},
		{"negative rss", func(m map[string]any) { obj(m, "process")["rss_bytes"] = -1 }},
		{"fractional threads", func(m map[string]any) { obj(m, "process")["threads"] = 1.5 }},
		{"state too long", func(m map[string]any) { obj(m, "process")["state"] = "sleeping" }},
		{"container id not hex", func(m map[string]any) { obj(m, "process")["container_id"] = "nginx" }},
		{"unavailable reason empty", func(m map[string]any) { m["unavailable"] = map[string]any{"process.fds": ""} }},
	}
	base, err := json.Marshal(sampleJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := eventtest.ValidateLine(base); err != nil {
		t.Fatalf("the unbroken sample is rejected: %v\n%s", err, base)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleJSON(t)
			tt.mutate(m)
			line, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := eventtest.ValidateLine(line); err == nil {
				t.Errorf("schema accepts %s", line)
			}
		})
	}
}

func TestValidateStream(t *testing.T) {
	var lines []string
	for _, r := range fullRecords() {
		b, err := json.Marshal(r.rec)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	stream := strings.Join(lines, "\n") + "\n\n"
	n, err := eventtest.ValidateStream([]byte(stream))
	if err != nil || n != len(lines) {
		t.Errorf("ValidateStream = %d, %v; want %d, nil", n, err, len(lines))
	}
	bad := stream + `{"v":1,"kind":"notice"}` + "\n"
	n, err = eventtest.ValidateStream([]byte(bad))
	if err == nil || n != len(lines) || !strings.Contains(err.Error(), "line 8") {
		t.Errorf("ValidateStream with a bad line 8 = %d, %v", n, err)
	}
	if _, err := eventtest.ValidateStream([]byte("{not json\n")); err == nil {
		t.Error("ValidateStream accepts a line that is not JSON")
	}
}

func TestSchemaEmbedded(t *testing.T) {
	b, err := event.SchemaFS.ReadFile(event.SchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			Kind struct {
				Enum []string `json:"enum"`
			} `json:"kind"`
		} `json:"properties"`
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Every kind the Go code knows is a kind the schema knows, and has a def.
	kinds := []string{event.KindSample, event.KindEvent, event.KindAction, event.KindScore, event.KindSummary, event.KindNotice}
	if diff := cmp.Diff(kinds, doc.Properties.Kind.Enum); diff != "" {
		t.Errorf("schema kinds (-go +schema):\n%s", diff)
	}
	for _, k := range kinds {
		if _, ok := doc.Defs[k]; !ok {
			t.Errorf("schema has no $defs/%s", k)
		}
	}
	if _, err := eventtest.Schema(); err != nil {
		t.Errorf("schema does not compile: %v", err)
	}
}

// TestSchemaNamesEveryField checks the JSON Schema against the types, both
// ways: each object of the schema has exactly the keys its Go type writes,
// and requires exactly those written always (no omitempty). With
// TestFullRecordsMatchSchema this makes the schema a second, checked
// spelling of the types, never a third definition of the format.
func TestSchemaNamesEveryField(t *testing.T) {
	raw, err := event.SchemaFS.ReadFile(event.SchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for def, typ := range map[string]reflect.Type{
		"sample": reflect.TypeFor[event.Sample](), "process": reflect.TypeFor[event.Process](),
		"system": reflect.TypeFor[event.System](), "exit": reflect.TypeFor[event.Exit](),
		"container": reflect.TypeFor[event.Container](),
		"event":     reflect.TypeFor[event.Event](), "action": reflect.TypeFor[event.Action](),
		"score": reflect.TypeFor[event.Score](), "summary": reflect.TypeFor[event.Summary](),
		"notice": reflect.TypeFor[event.Notice](), "stat": reflect.TypeFor[event.Stat](),
	} {
		d, ok := schema.Defs[def]
		if !ok {
			t.Errorf("schema has no $defs.%s", def)
			continue
		}
		keys, required := map[string]bool{}, map[string]bool{}
		tagKeys(typ, keys, required)
		for k := range keys {
			if _, ok := d.Properties[k]; !ok {
				t.Errorf("%s.%s: written by %v, not in the schema", def, k, typ)
			}
		}
		for k := range d.Properties {
			if !keys[k] {
				t.Errorf("%s.%s: in the schema, written by no field of %v", def, k, typ)
			}
		}
		inSchema := map[string]bool{}
		for _, k := range d.Required {
			inSchema[k] = true
			if !required[k] {
				t.Errorf("%s.%s: required by the schema, but %v may leave it out", def, k, typ)
			}
		}
		for k := range required {
			if !inSchema[k] {
				t.Errorf("%s.%s: always written by %v, not required by the schema", def, k, typ)
			}
		}
	}
}

// tagKeys collects the JSON keys of a struct type (embedded structs
// inline) and those without omitempty.
func tagKeys(typ reflect.Type, keys, required map[string]bool) {
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			tagKeys(f.Type, keys, required)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys[name] = true
		if !strings.Contains(opts, "omitempty") {
			required[name] = true
		}
	}
}
