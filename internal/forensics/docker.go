package forensics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/localsre/sre-agent/internal/docker"
)

// DockerAPI is what the Docker collector asks of the daemon: the
// project's one client, internal/docker, answers it.
type DockerAPI interface {
	Inspect(ctx context.Context, nameOrID string) (docker.Container, error)
	Logs(ctx context.Context, id string, o docker.LogOptions) (docker.Logs, error)
	SocketPath() string
	Host() string
	Why(err error) string
}

var _ DockerAPI = (*docker.Client)(nil)

// dockerCollector tells a container's story from the Docker Engine API:
// name, image, state, restarts, OOMKilled, exit code and the last lines
// of its log.
type dockerCollector struct {
	api         DockerAPI
	tail        int   // log lines asked for and shown
	maxLogBytes int64 // bytes of log read
	maxLine     int   // bytes of one log line shown
}

var _ Collector = (*dockerCollector)(nil)

// NewDockerCollector returns the "Docker container" collector, which asks
// the daemon through api; nil says no daemon is configured.
func NewDockerCollector(api DockerAPI, tail int) Collector {
	if tail < 1 {
		tail = DefaultContainerLogLines
	}
	return &dockerCollector{api: api, tail: tail, maxLogBytes: 1 << 20, maxLine: 1024}
}

// DefaultContainerLogLines is how many of a container's last log lines a
// report keeps unless told.
const DefaultContainerLogLines = 100

// ContainerOf is the Docker container an incident is about: the one its
// process ran in, or, for a container that sre-sample watched as a target,
// the one its event names (detail.container_id). "" when none.
func ContainerOf(inc *Incident) string {
	if p := inc.Process; p != nil && p.ContainerID != "" && (p.Runtime == "" || p.Runtime == "docker") {
		return p.ContainerID
	}
	if inc.Event != nil {
		if id, ok := inc.Event.Detail["container_id"].(string); ok {
			return id
		}
	}
	return ""
}

var containerIDRe = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

func (c *dockerCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	// A process of containerd, podman or CRI-O is not Docker's to tell.
	id := ContainerOf(inc)
	if id == "" {
		return Section{}, ErrNotApplicable
	}
	s := Section{Title: "Docker container"}
	if !containerIDRe.MatchString(id) {
		s.Note("docker: container id %q is not 12 to 64 hex digits: not asked", truncate(id, 80))
		return s, nil
	}
	s.Add("Container ID", id)
	if c.api == nil {
		s.Note("docker: no Docker socket configured")
		return s, nil
	}
	if sock := c.api.SocketPath(); sock != "" {
		if _, err := os.Stat(sock); errors.Is(err, fs.ErrNotExist) {
			s.Note("docker: socket %s absent (no Docker daemon on this host, or DOCKER_HOST names another)", sock)
			return s, nil
		}
	}
	var ct docker.Container
	for {
		var err error
		ct, err = c.api.Inspect(ctx, id)
		switch {
		case docker.IsNotFound(err):
			s.Note("docker: inspect and logs not read: no such container on %s (removed since, e.g. run with --rm, or another daemon's)", c.where())
			return s, nil
		case err != nil && (docker.IsUnreachable(err) || ctx.Err() != nil):
			s.Note("docker: %s", c.api.Why(err))
			return s, ctx.Err()
		case err != nil:
			s.Note("docker: inspect: %s", c.api.Why(err))
			return s, ctx.Err()
		}
		// The kernel tells us of a death before dockerd has reaped it: when
		// the container still shows the dead process as running, ask again
		// for a moment, so the report has the exit code and OOMKilled.
		st := ct.State
		if st == nil || !st.Running || inc.Process == nil || st.Pid != inc.Process.PID || inc.Event == nil || inc.Event.Type != "crash" {
			break
		}
		select {
		case <-ctx.Done():
			s.Note("docker: the daemon still showed the dead process as running when time ran out")
			inspectFields(&ct.InspectResponse, &s)
			return s, nil
		case <-time.After(25 * time.Millisecond):
		}
	}
	inspectFields(&ct.InspectResponse, &s)

	tty := ct.Config != nil && ct.Config.Tty
	logs, err := c.api.Logs(ctx, id, docker.LogOptions{Tail: c.tail, MaxBytes: c.maxLogBytes, TTY: tty})
	if err != nil {
		// A logging driver without read support (none, syslog, gelf…)
		// says so here; a stream that went bad keeps the lines before.
		s.Note("docker: logs: %s", c.api.Why(err))
	}
	if err == nil || len(logs.Lines) > 0 {
		lines := dockerLogLines(logs.Lines, c.tail, c.maxLine)
		s.Addf("Log lines", "%d (the last %d asked for, %s)", len(lines), c.tail, map[bool]string{true: "TTY", false: "stdout and stderr"}[tty])
		if logs.Cut {
			s.Note("docker: logs: stopped after %s", humanBytes(uint64(c.maxLogBytes)))
		}
		s.Lines = append(s.Lines, lines...)
	}
	return s, ctx.Err()
}

// where names the daemon: its socket, or its address.
func (c *dockerCollector) where() string {
	if p := c.api.SocketPath(); p != "" {
		return p
	}
	return c.api.Host()
}

// inspectFields adds what a report shows of an inspect answer; a field
// the daemon left out is shown empty, never a crash.
func inspectFields(ci *container.InspectResponse, s *Section) {
	var (
		st  container.State
		cfg container.Config
		hc  container.HostConfig
	)
	if ci.State != nil {
		st = *ci.State
	}
	if ci.Config != nil {
		cfg = *ci.Config
	}
	if ci.HostConfig != nil {
		hc = *ci.HostConfig
	}
	s.Add("Container", strings.TrimPrefix(ci.Name, "/"))
	img := cfg.Image
	if id := strings.TrimPrefix(ci.Image, "sha256:"); id != "" && id != img {
		img += " (" + shortID(id) + ")"
	}
	s.Add("Image", img)
	state := string(st.Status)
	if st.Running && st.Pid > 0 {
		state += fmt.Sprintf(" (pid %d)", st.Pid)
	}
	s.Add("State", state)
	if !st.Running {
		s.Add("Exit code", exitMeaning(st.ExitCode))
	}
	s.Add("OOMKilled", strconv.FormatBool(st.OOMKilled))
	rp := string(hc.RestartPolicy.Name)
	if rp == "" {
		rp = "no"
	}
	if rp == "on-failure" && hc.RestartPolicy.MaximumRetryCount > 0 {
		rp += ":" + strconv.Itoa(hc.RestartPolicy.MaximumRetryCount)
	}
	s.Addf("Restart count", "%d (restart policy %s)", ci.RestartCount, rp)
	if t := dockerTime(st.StartedAt); t != "" {
		s.Add("Started", t)
	}
	if t := dockerTime(st.FinishedAt); t != "" && !st.Running {
		s.Add("Finished", t)
	}
	if st.Error != "" {
		s.Add("Error", truncate(st.Error, 300))
	}
	if st.Health != nil {
		s.Addf("Health", "%s (failing streak %d)", st.Health.Status, st.Health.FailingStreak)
		if n := len(st.Health.Log); n > 0 {
			h := st.Health.Log[n-1]
			s.Addf("Last health check", "exit %d: %s", h.ExitCode, truncate(strings.TrimSpace(h.Output), 300))
		}
	}
	if hc.Memory > 0 {
		s.Add("Memory limit", humanBytes(uint64(hc.Memory)))
	}
	if hc.NanoCPUs > 0 {
		s.Addf("CPU limit", "%g CPUs", float64(hc.NanoCPUs)/1e9)
	}
	for i, m := range ci.Mounts {
		if i == 8 {
			s.Addf("Mounts", "… and %d more", len(ci.Mounts)-i)
			break
		}
		mode := "ro"
		if m.RW {
			mode = "rw"
		}
		s.Addf("Mount", "%s -> %s (%s, %s)", truncate(m.Source, 120), truncate(m.Destination, 120), m.Type, mode)
	}
	if p, svc := cfg.Labels["com.docker.compose.project"], cfg.Labels["com.docker.compose.service"]; p != "" || svc != "" {
		s.Addf("Compose", "project %s, service %s", p, svc)
	}
}

// exitMeaning explains an exit code: 137 is 128+9, killed by SIGKILL
// (docker kill, or the OOM killer).
func exitMeaning(code int) string {
	if code > 128 && code <= 128+64 {
		name := unix.SignalName(syscall.Signal(code - 128))
		if name == "" {
			name = "signal " + strconv.Itoa(code-128)
		}
		return fmt.Sprintf("%d (killed by %s)", code, name)
	}
	return strconv.Itoa(code)
}

// dockerTime shortens the daemon's timestamps; the zero time is "never".
func dockerTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// dockerLogLines shows at most max lines, the last ones, each cut to
// maxLine bytes: "TIME [stderr] text" (stdout unmarked).
func dockerLogLines(lines []docker.LogLine, max, maxLine int) []string {
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	var out []string
	for _, l := range lines {
		ts, text := splitDockerTime(l.Text)
		if l.Stream == "stderr" {
			text = "[stderr] " + text
		}
		if ts != "" {
			text = ts + " " + text
		}
		out = append(out, truncate(text, maxLine))
	}
	return out
}

// splitDockerTime splits the RFC 3339 time that timestamps=1 puts before
// each line, shortened to milliseconds.
func splitDockerTime(line string) (ts, text string) {
	first, rest, ok := strings.Cut(line, " ")
	if !ok {
		first, rest = line, ""
	}
	if len(first) < 20 || first[4] != '-' {
		return "", line
	}
	t, err := time.Parse(time.RFC3339Nano, first)
	if err != nil {
		return "", line
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z"), rest
}
