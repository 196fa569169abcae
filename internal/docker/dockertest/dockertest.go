// Package dockertest is the tests' way to a real Docker daemon: the
// private one scripts/dockerd-test.sh starts, named by DOCKER_HOST, with
// its local busybox image. A test that needs one and finds none skips,
// saying how to start one; under CI (CI=true), which starts one, it fails.
package dockertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/docker"
)

// Image is the image scripts/dockerd-test.sh imports.
const Image = "sre-busybox:local"

// NeedDaemon skips the test, saying why and how to start a daemon; under
// CI it fails instead.
func NeedDaemon(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + `; start one with: eval "$(scripts/dockerd-test.sh)"`
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Client returns the project's client for the daemon on DOCKER_HOST once
// it answers and has Image; else NeedDaemon.
func Client(t testing.TB) *docker.Client {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" {
		NeedDaemon(t, "DOCKER_HOST is not set")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		NeedDaemon(t, "no docker CLI on PATH")
	}
	c, err := docker.New(docker.EnvFrom(os.Getenv))
	if err != nil {
		NeedDaemon(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		NeedDaemon(t, "the daemon on %s does not answer: %v", c.Host(), err)
	}
	if out, err := CLI("image", "inspect", "--format", "{{.Id}}", Image); err != nil {
		NeedDaemon(t, "no image %s: %v: %s", Image, err, out)
	}
	return c
}

// CLI runs the docker CLI against DOCKER_HOST, for at most 30 s, and
// returns its output, trimmed.
func CLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// MustCLI is CLI, failing the test on an error.
func MustCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := CLI(args...)
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// Run starts a busybox container that runs script (sh -c), named prefix
// and a suffix of its own, removed when the test ends; it returns the name.
func Run(t testing.TB, prefix string, runArgs []string, script string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000_000)
	t.Cleanup(func() { _, _ = CLI("rm", "-f", name) })
	args := append([]string{"run", "-d", "--name", name}, runArgs...)
	MustCLI(t, append(args, Image, "sh", "-c", script)...)
	return name
}

// Inspect returns docker inspect -f format of name.
func Inspect(t testing.TB, name, format string) string {
	t.Helper()
	return MustCLI(t, "inspect", "-f", format, name)
}

// WaitState waits, up to 30 s, for the container's State.Status to be want.
func WaitState(t testing.TB, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := Inspect(t, name, "{{.State.Status}}")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %s, not %s, after 30 s", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
