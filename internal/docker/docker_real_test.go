package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// realImage is the image scripts/dockerd-test.sh imports.
const realImage = "sre-busybox:local"

// needDaemon skips a test that needs a real Docker daemon, saying why; in
// CI (CI=true) it fails instead, because CI starts one and must not skip.
func needDaemon(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + `; start one with: eval "$(scripts/dockerd-test.sh)"`
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// realClient returns a client for the daemon on DOCKER_HOST, or skips.
func realClient(t *testing.T) *Client {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		needDaemon(t, "DOCKER_HOST is not set")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		needDaemon(t, "no docker CLI on PATH")
	}
	c, err := New(EnvFrom(os.Getenv))
	if err != nil {
		needDaemon(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		needDaemon(t, "the daemon on %s does not answer: %v", host, err)
	}
	if out, err := dockerCLI(t, host, "image", "inspect", "--format", "{{.Id}}", realImage); err != nil {
		needDaemon(t, "no image %s: %v: %s", realImage, err, out)
	}
	return c
}

// dockerCLI runs the docker CLI against host with a timeout.
func dockerCLI(t *testing.T, host string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustCLI(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := dockerCLI(t, host, args...)
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000_000)
}

// waitFor polls cond every 20 ms up to a generous ceiling.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientRealDaemon: inspect, logs of both streams with timestamps, a
// restart, stop and start, and a container that does not exist.
func TestClientRealDaemon(t *testing.T) {
	c := realClient(t)
	host := c.Host()
	ctx := context.Background()
	name := uniqueName("sre-docker")
	t.Cleanup(func() { dockerCLI(t, host, "rm", "-f", name) })
	mustCLI(t, host, "run", "-d", "--name", name, realImage, "sh", "-c",
		"echo hello-out; echo hello-err >&2; echo last-line; exit 3")
	var ct Container
	waitFor(t, "exit", func() bool {
		var err error
		ct, err = c.Inspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return ct.State != nil && ct.State.Status == "exited"
	})
	if ct.State.ExitCode != 3 || ct.Name() != name || ct.RestartPolicy() != "no" || len(ct.Raw) == 0 {
		t.Errorf("inspect: exit %d name %q policy %q raw %d bytes", ct.State.ExitCode, ct.Name(), ct.RestartPolicy(), len(ct.Raw))
	}
	if v := c.APIVersion(); v == "" || v == "1.57" {
		t.Logf("API version %q (the daemon's is negotiated)", v)
	}
	logs, err := c.Logs(ctx, name, LogOptions{Tail: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range logs.Lines {
		ts, text, _ := strings.Cut(l.Text, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("line %q: no timestamp: %v", l.Text, err)
		}
		got = append(got, l.Stream+" "+text)
	}
	// stdout and stderr are separate pipes: their relative order is not
	// Docker's to keep, so only the stdout lines' order is checked.
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "stderr hello-err") || !strings.Contains(joined, "stdout hello-out\nstdout last-line") &&
		!strings.Contains(joined, "stdout hello-out\nstderr hello-err\nstdout last-line") {
		t.Errorf("log lines %q", got)
	}
	if logs, err := c.Logs(ctx, name, LogOptions{Tail: 1}); err != nil || len(logs.Lines) != 1 {
		t.Errorf("tail 1: %v, %+v", err, logs)
	}
	if logs, err := c.Logs(ctx, name, LogOptions{Tail: 10, MaxBytes: 40}); err != nil || !logs.Cut {
		t.Errorf("max 40 bytes: %v, cut %v", err, logs.Cut)
	}

	started := ct.State.StartedAt
	if err := c.Restart(ctx, name, StopTimeout(1)); err != nil {
		t.Fatal(err)
	}
	ct2, err := c.Inspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if ct2.State.StartedAt == started {
		t.Errorf("StartedAt %s unchanged by the restart", started)
	}
	if err := c.Stop(ctx, name, StopTimeout(0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inspect(ctx, name+"-absent"); !IsNotFound(err) {
		t.Errorf("inspect of an absent container: %v, want not found", err)
	}
	if err := c.Restart(ctx, name+"-absent", nil); !IsNotFound(err) {
		t.Errorf("restart of an absent container: %v, want not found", err)
	}
}

// privateDaemon starts a daemon of its own with scripts/dockerd-test.sh in
// a fresh directory (so stopping it disturbs no other test) and returns
// its host and the functions that stop and start it again.
func privateDaemon(t *testing.T, extraArgs ...string) (host string, stop, start func()) {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" {
		needDaemon(t, "DOCKER_HOST is not set (the tests' daemon shows dockerd runs here)")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		needDaemon(t, "no dockerd on PATH")
	}
	script, err := filepath.Abs("../../scripts/dockerd-test.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "sre-follow-")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Env = append(os.Environ(), "SRE_DOCKERD_ARGS="+strings.Join(extraArgs, " "))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			needDaemon(t, "%s %s: %v: %s", script, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	line := run(dir)
	host, ok := strings.CutPrefix(line, "export DOCKER_HOST=")
	if !ok {
		t.Fatalf("dockerd-test.sh printed %q", line)
	}
	t.Cleanup(func() {
		run("stop", dir)
		os.RemoveAll(dir)
	})
	return host, func() { run("stop", dir) }, func() { run(dir) }
}

// runToEnd runs script in a new container and waits for its end.
func runToEnd(t *testing.T, host, name, script string) {
	t.Helper()
	mustCLI(t, host, "run", "-d", "--name", name, realImage, "sh", "-c", script)
	mustCLI(t, host, "wait", name)
}

type seen struct {
	mu     sync.Mutex
	events []string
	gone   []string
	back   int
}

func (s *seen) snapshot() ([]string, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...), len(s.gone), s.back
}

// TestFollowerDaemonRestart stops and starts a private dockerd under a
// follower: it says once that the daemon went and once that it came back,
// and delivers every event exactly once, those of a container that ran and
// died after the daemon came back but before the follower reconnected
// included (they come from the daemon's buffer through since).
func TestFollowerDaemonRestart(t *testing.T) {
	host, stop, start := privateDaemon(t)
	c, err := New(Env{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	release := make(chan struct{})
	f := &Follower{
		Client: c,
		Gone: func(err error) {
			s.mu.Lock()
			s.gone = append(s.gone, err.Error())
			s.mu.Unlock()
		},
		Back: func(time.Duration) { s.mu.Lock(); s.back++; s.mu.Unlock() },
		// Reconnection waits for the test, so that the second container's
		// whole life falls between the daemon's return and the follower's.
		Wait: func(ctx context.Context, n int) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case <-time.After(50 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(e Event) error {
			code, _ := e.ExitCode()
			s.mu.Lock()
			s.events = append(s.events, fmt.Sprintf("%s %s %d", e.Action, e.Name, code))
			s.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	// The follower is subscribed once an event reaches it: run containers
	// until one does (the first may die before the subscription).
	var names []string
	waitFor(t, "first event", func() bool {
		n := uniqueName("a")
		names = append(names, n)
		runToEnd(t, host, n, "exit 3")
		ev, _, _ := s.snapshot()
		return len(ev) > 0
	})
	a := names[len(names)-1]
	waitFor(t, "die of "+a, func() bool {
		ev, _, _ := s.snapshot()
		return len(ev) > 0 && ev[len(ev)-1] == "die "+a+" 3"
	})
	before, _, _ := s.snapshot()

	stop()
	waitFor(t, "gone", func() bool { _, g, _ := s.snapshot(); return g == 1 })
	start()
	runToEnd(t, host, "b-"+a, "exit 4")
	close(release)
	waitFor(t, "back", func() bool { _, _, b := s.snapshot(); return b == 1 })
	runToEnd(t, host, "c-"+a, "exit 5")
	waitFor(t, "die of c", func() bool {
		ev, _, _ := s.snapshot()
		return len(ev) > 0 && ev[len(ev)-1] == "die c-"+a+" 5"
	})
	ev, gone, back := s.snapshot()
	want := append(before, "start b-"+a+" 0", "die b-"+a+" 4", "start c-"+a+" 0", "die c-"+a+" 5")
	if strings.Join(ev, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
	if gone != 1 || back != 1 {
		t.Errorf("gone told %d times, back %d; want once each (%q)", gone, back, s.gone)
	}
	t.Logf("gone: %q", s.gone)
}
