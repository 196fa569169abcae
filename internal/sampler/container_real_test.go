package sampler

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/docker/dockertest"
	"github.com/localsre/sre-agent/internal/event"
)

// realDocker returns the project's client for the daemon on DOCKER_HOST
// (scripts/dockerd-test.sh), or skips; in CI (CI=true) it fails instead.
func realDocker(t *testing.T) *docker.Client {
	t.Helper()
	c := dockertest.Client(t)
	t.Cleanup(func() { c.Close() })
	return c
}

// samples runs a sampler of cfg and gathers its samples, decoded.
type samples struct {
	mu  sync.Mutex
	got []event.Sample
}

func (s *samples) emit(smp *event.Sample) error {
	line, err := smp.AppendJSON(nil)
	if err != nil {
		return err
	}
	var back event.Sample
	if err := json.Unmarshal(line, &back); err != nil {
		return err
	}
	s.mu.Lock()
	s.got = append(s.got, back)
	s.mu.Unlock()
	return nil
}

// wait returns the first sample that ok accepts, waiting up to 30 s.
func (s *samples) wait(t *testing.T, what string, ok func(*event.Sample) bool) event.Sample {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		for i := range s.got {
			if ok(&s.got[i]) {
				smp := s.got[i]
				s.mu.Unlock()
				return smp
			}
		}
		n := len(s.got)
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s (%d samples)", what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A container's start and death are sampled when the daemon tells them,
// not at a tick: with an hour between ticks, only its events can bring
// them. The container does not exist yet when sampling starts.
func TestContainerEventsRealDaemon(t *testing.T) {
	c := realDocker(t)
	name := fmt.Sprintf("sre-sampler-%d", os.Getpid())
	exec.Command("docker", "rm", "-f", name).Run()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })

	var got samples
	var warns sync.Map
	s, err := New(Config{
		Interval: time.Hour, Host: "h", Self: os.Getpid(), Docker: c,
		Targets: []Target{{Label: name, Kind: ByContainer, Container: name}},
		Warnf:   func(f string, a ...any) { warns.Store(fmt.Sprintf(f, a...), true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, got.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	first := got.wait(t, "first sample", func(*event.Sample) bool { return true })
	if first.Up || first.Unavailable["container"] != "no such container: "+name {
		t.Errorf("first sample: up %t, unavailable %v; want down, no such container", first.Up, first.Unavailable)
	}

	id := dockertest.MustCLI(t, "run", "-d", "--name", name, "--memory", "64m", "sre-busybox:local", "sh", "-c",
		"while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 3")
	up := got.wait(t, "up sample", func(s *event.Sample) bool { return s.Up })
	pid, _ := json.Marshal(dockertest.MustCLI(t, "inspect", "-f", "{{.State.Pid}}", name))
	if up.Target != name || up.Process == nil || fmt.Sprint(up.Process.PID) != strings.Trim(string(pid), `"`) {
		t.Errorf("up sample of %q, process %+v; want %s's main process %s", up.Target, up.Process, name, pid)
	}
	ct := up.Container
	if ct == nil || ct.ID != id || ct.Name != name || ct.Image != "sre-busybox:local" || ct.State != "running" ||
		ct.MemoryLimitBytes == nil || *ct.MemoryLimitBytes != 64<<20 || ct.StartedAt == nil || ct.ExitCode != nil {
		t.Errorf("up sample's container %+v", ct)
	}

	dockertest.MustCLI(t, "exec", "-d", name, "sh", "-c", "echo > /tmp/go")
	end := got.wait(t, "exit sample", func(s *event.Sample) bool { return s.Exit != nil })
	x := end.Exit
	if end.Up || x.Noticed != event.NoticedDockerEvent || x.Code == nil || *x.Code != 3 || x.PID != up.Process.PID ||
		x.OOMKilled == nil || *x.OOMKilled || x.UptimeS <= 0 {
		t.Errorf("exit %+v (up %t); want pid %d, docker_event, code 3, not OOM killed", x, end.Up, up.Process.PID)
	}
	if end.Container == nil || end.Container.State != "exited" || end.Container.ExitCode == nil || *end.Container.ExitCode != 3 {
		t.Errorf("exit sample's container %+v", end.Container)
	}
	if end.Process == nil || end.Process.PID != up.Process.PID {
		t.Errorf("exit sample's process %+v: want the last reading of pid %d", end.Process, up.Process.PID)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	exits := 0
	for _, s := range got.got {
		if s.Exit != nil {
			exits++
		}
	}
	if exits != 1 {
		t.Errorf("%d exit samples, want 1", exits)
	}
}

// countingDocker counts the daemon's inspects.
type countingDocker struct {
	*docker.Client
	inspects atomic.Int64
}

func (c *countingDocker) Inspect(ctx context.Context, ref string) (docker.Container, error) {
	c.inspects.Add(1)
	return c.Client.Inspect(ctx, ref)
}

// A running container is sampled every tick from /proc, as any process;
// the daemon is asked at its events (and at start), not at every tick.
func TestContainerTickReadsProcOnly(t *testing.T) {
	c := &countingDocker{Client: realDocker(t)}
	name := dockertest.Run(t, "sre-sampler-tick", nil, "exec sleep 1000")
	dockertest.WaitState(t, name, "running")
	var got samples
	s, err := New(Config{
		Interval: 10 * time.Millisecond, Host: "h", Self: os.Getpid(), Docker: c,
		Targets: []Target{{Label: name, Kind: ByContainer, Container: name}},
		Warnf:   func(string, ...any) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, got.emit) }()
	ups := func() int {
		got.mu.Lock()
		defer got.mu.Unlock()
		n := 0
		for _, smp := range got.got {
			if smp.Up && smp.Container != nil && smp.Container.Name == name {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for ups() < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := ups(); n < 40 {
		t.Fatalf("%d up samples in 60 s, want 40", n)
	}
	// At start, and once when its first up sample is taken: a few, not one
	// per tick.
	if n := c.inspects.Load(); n > 5 {
		t.Errorf("%d inspects for %d ticks of a running container: the daemon is asked every tick", n, ups())
	}
}

// A pause and an unpause of a running container reach its samples at
// once (ticks an hour apart: only the daemon's events can bring them),
// since its ticks no longer ask the daemon.
func TestContainerPauseFromEvents(t *testing.T) {
	c := realDocker(t)
	name := dockertest.Run(t, "sre-sampler-pause", nil, "exec sleep 1000")
	dockertest.WaitState(t, name, "running")
	var got samples
	s, err := New(Config{
		Interval: time.Hour, Host: "h", Self: os.Getpid(), Docker: c,
		Targets: []Target{{Label: name, Kind: ByContainer, Container: name}},
		Warnf:   func(string, ...any) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, got.emit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	got.wait(t, "up sample", func(s *event.Sample) bool { return s.Up })
	dockertest.MustCLI(t, "pause", name)
	got.wait(t, "a paused sample", func(s *event.Sample) bool { return s.Container != nil && s.Container.State == "paused" })
	dockertest.MustCLI(t, "unpause", name)
	got.wait(t, "a running sample after the pause", func(s *event.Sample) bool {
		return s.Container != nil && s.Container.State == "running" && s.Seq > 2
	})
}
