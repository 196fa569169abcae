package docker

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"

	"github.com/localsre/sre-agent/internal/event"
)

func TestRecord(t *testing.T) {
	started := time.Date(2026, 12, 6, 22, 44, 56, 895653054, time.UTC)
	u := func(n uint64) *uint64 { return &n }
	at := func(t time.Time) *event.Time { e := event.At(t); return &e }
	tests := []struct {
		name string
		in   container.InspectResponse
		want event.Container
	}{{
		name: "running, compose labels, memory limit, health starting",
		in: container.InspectResponse{
			ID: "0991c5b74a51", Name: "/shop-web-1", RestartCount: 2,
			Config: &container.Config{Image: "nginx:1.27", Labels: map[string]string{
				LabelComposeProject: "shop", LabelComposeService: "web", "other": "x"}},
			HostConfig: &container.HostConfig{Resources: container.Resources{Memory: 16 << 20}},
			State: &container.State{Status: "running", Running: true, Pid: 42,
				StartedAt: "2026-12-06T22:44:56.895653054Z", FinishedAt: "0001-01-01T00:00:00Z",
				Health: &container.Health{Status: "starting"}},
		},
		want: event.Container{ID: "0991c5b74a51", Name: "shop-web-1", Image: "nginx:1.27", ComposeProject: "shop",
			ComposeService: "web", State: "running", Health: "starting", RestartCount: 2,
			StartedAt: at(started), MemoryLimitBytes: u(16 << 20)},
	}, {
		name: "unhealthy: the last check's output, trimmed",
		in: container.InspectResponse{
			ID: "0991c5b74a51", Name: "/web",
			State: &container.State{Status: "running", Running: true, Pid: 42, StartedAt: "2026-12-06T22:44:56.895653054Z",
				Health: &container.Health{Status: "unhealthy", Log: []*container.HealthcheckResult{
					{Output: "old\n"}, {ExitCode: 1, Output: "  curl: (7) refused\n"}}}},
		},
		want: event.Container{ID: "0991c5b74a51", Name: "web", State: "running", Health: "unhealthy",
			HealthOutput: "curl: (7) refused", StartedAt: at(started)},
	}, {
		name: "never started, no limit, no health check, no config",
		in: container.InspectResponse{
			ID: "0991c5b74a51", Name: "/web", HostConfig: &container.HostConfig{},
			State: &container.State{Status: "created", StartedAt: "0001-01-01T00:00:00Z", Health: &container.Health{Status: "none"}},
		},
		want: event.Container{ID: "0991c5b74a51", Name: "web", State: "created"},
	}, {
		name: "no state at all",
		in:   container.InspectResponse{ID: "0991c5b74a51", Name: "/web"},
		want: event.Container{ID: "0991c5b74a51", Name: "web"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := Container{InspectResponse: tt.in}
			if d := cmp.Diff(tt.want, ct.Record()); d != "" {
				t.Errorf("Record (-want +got):\n%s", d)
			}
		})
	}
}

func TestRecordHealthOutputBounded(t *testing.T) {
	long := strings.Repeat("é", maxHealthOutput) // 2 bytes each
	ct := Container{InspectResponse: container.InspectResponse{ID: "0991c5b74a51", Name: "/web",
		State: &container.State{Status: "running", Health: &container.Health{Status: "unhealthy",
			Log: []*container.HealthcheckResult{{Output: long}}}}}}
	got := ct.Record().HealthOutput
	if len(got) > maxHealthOutput || !strings.HasPrefix(long, got) || len(got) < maxHealthOutput-1 {
		t.Errorf("health output of %d bytes, want at most %d, cut between runes", len(got), maxHealthOutput)
	}
}

func TestRunning(t *testing.T) {
	for _, tt := range []struct {
		st   *container.State
		want bool
	}{
		{nil, false},
		{&container.State{Status: "running", Running: true, Pid: 42}, true},
		{&container.State{Status: "paused", Running: true, Paused: true, Pid: 42}, true},
		{&container.State{Status: "restarting", Restarting: true}, false},
		{&container.State{Status: "running", Running: true}, false}, // no pid: nothing to sample
	} {
		ct := Container{InspectResponse: container.InspectResponse{State: tt.st}}
		if got := ct.Running(); got != tt.want {
			t.Errorf("Running(%+v) = %t, want %t", tt.st, got, tt.want)
		}
	}
}

func TestLabels(t *testing.T) {
	for _, tt := range []struct {
		sel, err string
	}{
		{"com.docker.compose.project=shop", ""},
		{"sre.watch", ""},
		{"k=", ""},
		{"k=a=b", ""},
		{"", "no KEY"},
		{"=shop", "no KEY"},
		{"a b=c", "space in KEY"},
		{"a=b\nc", "control character"},
	} {
		err := CheckLabel(tt.sel)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("CheckLabel(%q) = %v, want %q", tt.sel, err, tt.err)
		}
	}
	labels := map[string]string{"app": "shop", "tier": "", "x": "a=b"}
	for _, tt := range []struct {
		sel  string
		want bool
	}{
		{"app", true}, {"app=shop", true}, {"app=web", false}, {"app=", false},
		{"tier", true}, {"tier=", true}, {"tier=x", false}, {"x=a=b", true}, {"none", false},
	} {
		if got := HasLabel(labels, tt.sel); got != tt.want {
			t.Errorf("HasLabel(%q) = %t, want %t", tt.sel, got, tt.want)
		}
	}
}
