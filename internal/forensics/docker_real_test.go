package forensics

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/docker"
	"github.com/localsre/sre-agent/internal/docker/dockertest"
	"github.com/localsre/sre-agent/internal/event"
)

// cgroupContainerRe is internal/sampler's form of a container id in a
// cgroup path (docker's cgroupfs /docker/ID, systemd's docker-ID.scope,
// containerd, CRI-O, podman).
var cgroupContainerRe = regexp.MustCompile(`(?:^|/)(docker-|libpod-|libpod-conmon-|cri-containerd-|crio-|crio-conmon-)?([0-9a-f]{64})(?:\.scope)?(?:/|$)`)

// containerOf reads /proc/PID/cgroup (v1, v2 or hybrid) and returns the
// container id in it, from the memory controller's line when there is one.
func containerOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if m := cgroupContainerRe.FindStringSubmatch(parts[2]); m != nil {
			if id == "" || strings.Contains(","+parts[1]+",", ",memory,") {
				id = m[2]
			}
		}
	}
	if id == "" {
		t.Fatalf("no container id in /proc/%d/cgroup:\n%s", pid, b)
	}
	t.Logf("/proc/%d/cgroup:\n%s", pid, b)
	return id
}

// realDocker returns the project's client for the daemon on DOCKER_HOST
// and its address, or skips (fails under CI) when none answers.
func realDocker(t *testing.T) (*docker.Client, string) {
	t.Helper()
	api := dockertest.Client(t)
	return api, api.Host()
}

// TestDockerCollectorRealDaemon runs a container on a real dockerd, kills
// its process with SIGKILL as the OOM killer would, and checks the section
// the collector writes from the Engine API: name, image, state, exit code
// 137 and the container's log lines.
func TestDockerCollectorRealDaemon(t *testing.T) {
	api, _ := realDocker(t)
	name := fmt.Sprintf("sre-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() {
		if out, err := dockertest.CLI("rm", "-f", name); err != nil {
			t.Logf("docker rm -f %s: %v: %s", name, err, out)
		}
	})
	id, err := dockertest.CLI("run", "-d", "--name", name, dockertest.Image, "sh", "-c",
		"echo hello-from-container; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done")
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, id)
	}
	out, err := dockertest.CLI("inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		t.Fatalf("docker inspect: %v: %s", err, out)
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		t.Fatalf("container pid %q", out)
	}
	// The id as the sampler finds it: from the host's view of the process.
	cgID := containerOf(t, pid)
	if cgID != id {
		t.Fatalf("cgroup names container %s, docker run said %s", cgID, id)
	}
	inc := &Incident{Target: "sh", Process: &event.Process{PID: pid, Name: "sh", ContainerID: cgID, Runtime: "docker"}}
	c := NewDockerCollector(api, 0)

	// Alive: wait for a few lines, and see it running.
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs, _ := dockertest.CLI("logs", name)
		if strings.Contains(logs, "line 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 'line 2' in the container's log after 10 s: %q", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := c.Collect(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fieldValue(s, "State"), fmt.Sprintf("running (pid %d)", pid); got != want {
		t.Errorf("state before the kill = %q, want %q; section:\n%s", got, want, render(s))
	}

	// Killed: SIGKILL to the host pid, then wait for the daemon to see it.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline = time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, _ := dockertest.CLI("inspect", "-f", "{{.State.Status}}", name)
		if st == "exited" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %q 10 s after SIGKILL", st)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // the report's default
	defer cancel()
	start := time.Now()
	s, err = c.Collect(ctx, inc)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("section in %v:\n%s", took, render(s))
	for key, want := range map[string]string{
		"Container ID": id,
		"Container":    name,
		"State":        "exited",
		"Exit code":    "137 (killed by SIGKILL)",
		"OOMKilled":    "false",
	} {
		if got := fieldValue(s, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := fieldValue(s, "Image"); !strings.HasPrefix(got, dockertest.Image+" (") {
		t.Errorf("Image = %q, want %s (its id)", got, dockertest.Image)
	}
	if !findLine(s.Lines, " hello-from-container") || !findLine(s.Lines, " line 2") {
		t.Errorf("log lines lack hello-from-container or line 2: %q", s.Lines)
	}
	if len(s.Lines) > 50 {
		t.Errorf("%d log lines, want at most 50", len(s.Lines))
	}
	if len(s.Notes) != 0 {
		t.Errorf("notes = %q, want none", s.Notes)
	}
	// The time it took is logged above; bench/report_latency.sh measures
	// the context report's speed, which a loaded test machine would not.
}

// TestDockerCollectorGoneContainer: a container run with --rm is gone by
// the time the report asks; the section says what could not be read and
// why. A container whose log driver keeps nothing (--log-driver none)
// gives its inspect and says why there are no lines.
func TestDockerCollectorGoneContainer(t *testing.T) {
	api, _ := realDocker(t)
	c := NewDockerCollector(api, 0)
	id, err := dockertest.CLI("run", "-d", "--rm", dockertest.Image, "sh", "-c", "echo bye; exit 3")
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, id)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := dockertest.CLI("inspect", id); err != nil {
			break // removed
		}
		if time.Now().After(deadline) {
			t.Fatalf("--rm container %s still there after 20 s", id)
		}
	}
	s, err := c.Collect(context.Background(), dockerIncident(id, "docker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("section:\n%s", render(s))
	want := "docker: inspect and logs not read: no such container on " + api.SocketPath() + " (removed since, e.g. run with --rm, or another daemon's)"
	if len(s.Notes) != 1 || s.Notes[0] != want || fieldValue(s, "Container ID") != id {
		t.Errorf("notes %q, want [%q]", s.Notes, want)
	}

	name := fmt.Sprintf("sre-nolog-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() { dockertest.CLI("rm", "-f", name) })
	id, err = dockertest.CLI("run", "-d", "--name", name, "--log-driver", "none", dockertest.Image, "sh", "-c", "echo unseen; exit 4")
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, id)
	}
	if out, err := dockertest.CLI("wait", name); err != nil || out != "4" {
		t.Fatalf("docker wait: %v: %s", err, out)
	}
	s, err = c.Collect(context.Background(), dockerIncident(id, "docker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("section:\n%s", render(s))
	if fieldValue(s, "Exit code") != "4" || len(s.Lines) != 0 || len(s.Notes) != 1 ||
		!strings.HasPrefix(s.Notes[0], "docker: logs: ") || !strings.Contains(s.Notes[0], "logging driver") {
		t.Errorf("exit code %q, lines %q, notes %q: want 4, none, the logging driver told", fieldValue(s, "Exit code"), s.Lines, s.Notes)
	}
}
