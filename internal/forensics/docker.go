package forensics

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dockerCollector tells a container's story from the Docker Engine API on
// its unix socket: name, image, state, restarts, OOMKilled, exit code and
// the last lines of its log. Plain net/http: one GET each, no SDK.
type dockerCollector struct {
	socket      string
	client      *http.Client
	tail        int   // log lines asked for and shown
	maxLogBytes int64 // bytes of log read
	maxLine     int   // bytes of one log line shown
}

var _ Collector = (*dockerCollector)(nil)

// NewDockerCollector returns the "Docker container" collector, which asks
// the daemon listening on socketPath (see DockerSocket).
func NewDockerCollector(socketPath string) Collector {
	c := &dockerCollector{socket: socketPath, tail: 50, maxLogBytes: 1 << 20, maxLine: 1024}
	c.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.socket)
		},
		DisableKeepAlives:     true, // one report now and then: hold no idle connection
		ResponseHeaderTimeout: 5 * time.Second,
	}}
	return c
}

// DockerSocket returns the unix socket named by DOCKER_HOST's value, or
// Docker's default when it is empty. Only unix sockets are asked: a TCP
// daemon needs TLS settings this tool does not take.
func DockerSocket(dockerHost string) (string, error) {
	switch {
	case dockerHost == "":
		return "/var/run/docker.sock", nil
	case strings.HasPrefix(dockerHost, "unix://"):
		if p := strings.TrimPrefix(dockerHost, "unix://"); p != "" {
			return p, nil
		}
	}
	return "", fmt.Errorf("DOCKER_HOST %q: only unix:// sockets are supported", dockerHost)
}

// dockerAPI is the Engine API version asked for: 20.10's, which every
// daemon since answers, except those that dropped it (29 wants 1.44), for
// which the unversioned path is used.
const dockerAPI = "/v1.41"

var containerIDRe = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

func (c *dockerCollector) Collect(ctx context.Context, inc *Incident) (Section, error) {
	p := inc.Process
	if p == nil || p.ContainerID == "" {
		return Section{}, ErrNotApplicable
	}
	if p.Runtime != "" && p.Runtime != "docker" {
		return Section{}, ErrNotApplicable // containerd, podman, CRI-O: not Docker's to tell
	}
	s := Section{Title: "Docker container"}
	id := p.ContainerID
	if !containerIDRe.MatchString(id) {
		s.Note("docker: container id %q is not 12 to 64 hex digits: not asked", truncate(id, 80))
		return s, nil
	}
	s.Add("Container ID", id)
	if c.socket == "" {
		s.Note("docker: no Docker socket configured")
		return s, nil
	}
	if _, err := os.Stat(c.socket); errors.Is(err, fs.ErrNotExist) {
		s.Note("docker: socket %s absent (no Docker daemon on this host, or DOCKER_HOST names another)", c.socket)
		return s, nil
	}
	var info containerInfo
	for {
		body, status, err := c.get(ctx, "/containers/"+id+"/json", 4<<20)
		if err != nil {
			s.Note("docker: %s", c.why(err))
			return s, ctx.Err()
		}
		switch status {
		case http.StatusOK:
		case http.StatusNotFound:
			s.Note("docker: no such container on %s (removed since, e.g. run with --rm, or another daemon's)", c.socket)
			return s, nil
		default:
			s.Note("docker: inspect: HTTP %d: %s", status, apiMessage(body))
			return s, nil
		}
		if info, err = parseInspect(body); err != nil {
			s.Note("docker: inspect: %v", err)
			return s, nil
		}
		// The kernel tells us of a death before dockerd has reaped it: when
		// the container still shows the dead process as running, ask again
		// for a moment, so the report has the exit code and OOMKilled.
		if !info.State.Running || info.State.Pid != p.PID || inc.Event == nil || inc.Event.Type != "crash" {
			break
		}
		select {
		case <-ctx.Done():
			s.Note("docker: the daemon still showed the dead process as running when time ran out")
			info.fields(&s)
			return s, nil
		case <-time.After(25 * time.Millisecond):
		}
	}
	info.fields(&s)

	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}, "tail": {strconv.Itoa(c.tail)}}
	body, status, err := c.get(ctx, "/containers/"+id+"/logs?"+q.Encode(), c.maxLogBytes)
	switch {
	case err != nil:
		s.Note("docker: logs: %s", c.why(err))
	case status != http.StatusOK:
		// A logging driver without read support (syslog, gelf…) says so here.
		s.Note("docker: logs: HTTP %d: %s", status, apiMessage(body))
	default:
		lines := dockerLogLines(body, info.Config.Tty, c.tail, c.maxLine)
		s.Addf("Log lines", "%d (the last %d asked for, %s)", len(lines), c.tail, map[bool]string{true: "TTY", false: "stdout and stderr"}[info.Config.Tty])
		if int64(len(body)) >= c.maxLogBytes {
			s.Note("docker: logs: stopped after %s", humanBytes(uint64(c.maxLogBytes)))
		}
		s.Lines = append(s.Lines, lines...)
	}
	return s, ctx.Err()
}

// get asks the daemon, first with dockerAPI, then unversioned when the
// daemon says that version is too old; it reads at most max bytes.
func (c *dockerCollector) get(ctx context.Context, path string, max int64) ([]byte, int, error) {
	body, status, err := c.get1(ctx, dockerAPI+path, max)
	if err == nil && status == http.StatusBadRequest && bytes.Contains(bytes.ToLower(body), []byte("too old")) {
		return c.get1(ctx, path, max)
	}
	return body, status, err
}

func (c *dockerCollector) get1(ctx context.Context, path string, max int64) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max))
	if err != nil && ctx.Err() == nil && len(body) > 0 {
		err = nil // a log cut short still has its lines
	}
	return body, resp.StatusCode, err
}

// why says what a failed request means for the reader.
func (c *dockerCollector) why(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused (the daemon is not running)", c.socket)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("permission denied on %s (the user is not in the docker group)", c.socket)
	case errors.Is(err, syscall.ENOENT):
		return fmt.Sprintf("socket %s absent (no Docker daemon on this host)", c.socket)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Sprintf("no answer from %s in time", c.socket)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// apiMessage returns the daemon's {"message": "…"} or the body itself.
func apiMessage(body []byte) string {
	var m struct{ Message string }
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return truncate(m.Message, 300)
	}
	return truncate(strings.TrimSpace(string(body)), 300)
}

// containerInfo is the part of GET /containers/{id}/json a report shows.
type containerInfo struct {
	ID           string `json:"Id"`
	Name         string
	Image        string
	RestartCount int
	State        struct {
		Status     string
		Running    bool
		Paused     bool
		Restarting bool
		OOMKilled  bool
		Dead       bool
		Pid        int
		ExitCode   int
		Error      string
		StartedAt  string
		FinishedAt string
		Health     *struct {
			Status        string
			FailingStreak int
		}
	}
	Config struct {
		Image  string
		Tty    bool
		Labels map[string]string
	}
	HostConfig struct {
		Memory        int64
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
	}
}

// parseInspect parses the daemon's inspect answer.
func parseInspect(b []byte) (containerInfo, error) {
	var ci containerInfo
	if err := json.Unmarshal(b, &ci); err != nil {
		return ci, fmt.Errorf("parse inspect: %w", err)
	}
	if ci.ID == "" {
		return ci, errors.New("parse inspect: no Id")
	}
	return ci, nil
}

func (ci containerInfo) fields(s *Section) {
	s.Add("Container", strings.TrimPrefix(ci.Name, "/"))
	img := ci.Config.Image
	if id := strings.TrimPrefix(ci.Image, "sha256:"); id != "" && id != img {
		img += " (" + shortID(id) + ")"
	}
	s.Add("Image", img)
	state := ci.State.Status
	if ci.State.Running && ci.State.Pid > 0 {
		state += fmt.Sprintf(" (pid %d)", ci.State.Pid)
	}
	s.Add("State", state)
	if !ci.State.Running {
		s.Add("Exit code", exitMeaning(ci.State.ExitCode))
	}
	s.Add("OOMKilled", strconv.FormatBool(ci.State.OOMKilled))
	rp := ci.HostConfig.RestartPolicy.Name
	if rp == "" {
		rp = "no"
	}
	if rp == "on-failure" && ci.HostConfig.RestartPolicy.MaximumRetryCount > 0 {
		rp += ":" + strconv.Itoa(ci.HostConfig.RestartPolicy.MaximumRetryCount)
	}
	s.Addf("Restart count", "%d (restart policy %s)", ci.RestartCount, rp)
	if t := dockerTime(ci.State.StartedAt); t != "" {
		s.Add("Started", t)
	}
	if t := dockerTime(ci.State.FinishedAt); t != "" && !ci.State.Running {
		s.Add("Finished", t)
	}
	if ci.State.Error != "" {
		s.Add("Error", truncate(ci.State.Error, 300))
	}
	if ci.State.Health != nil {
		s.Addf("Health", "%s (failing streak %d)", ci.State.Health.Status, ci.State.Health.FailingStreak)
	}
	if ci.HostConfig.Memory > 0 {
		s.Add("Memory limit", humanBytes(uint64(ci.HostConfig.Memory)))
	}
	if p, svc := ci.Config.Labels["com.docker.compose.project"], ci.Config.Labels["com.docker.compose.service"]; p != "" || svc != "" {
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

// logFrame is one frame of a non-TTY log stream.
type logFrame struct {
	stream byte // 1 stdout, 2 stderr (0 stdin)
	data   []byte
}

// demuxLogs splits the Engine API's multiplexed log stream: frames of an
// 8-byte header (stream, 0, 0, 0, big-endian uint32 size) and the payload.
// A stream that does not start with a valid header is not multiplexed (a
// TTY container's): ok is false. A last frame cut short by our read limit
// keeps what came; bytes after an invalid header are dropped.
func demuxLogs(b []byte) (frames []logFrame, ok bool) {
	for len(b) >= 8 {
		stream := b[0]
		if stream > 2 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
			break
		}
		n := uint64(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
		n = min(n, uint64(len(b)))
		frames = append(frames, logFrame{stream: stream, data: b[:n]})
		b = b[n:]
	}
	return frames, len(frames) > 0
}

// dockerLogLines turns a log answer into at most max lines, the last ones,
// each cut to maxLine bytes: "TIME [stderr] text" (stdout unmarked). Lines
// split across frames are joined per stream.
func dockerLogLines(body []byte, tty bool, max, maxLine int) []string {
	var out []string
	push := func(stream byte, line []byte) {
		line = bytes.TrimRight(line, "\r")
		ts, text := splitDockerTime(string(line))
		if stream == 2 {
			text = "[stderr] " + text
		}
		if ts != "" {
			text = ts + " " + text
		}
		out = append(out, truncate(text, maxLine))
		if len(out) > 2*max { // keep memory bounded; cut to the last max below
			out = append(out[:0], out[len(out)-max:]...)
		}
	}
	frames, ok := demuxLogs(body)
	if tty || !ok {
		frames = []logFrame{{stream: 1, data: body}}
	}
	var pending [3][]byte // partial line per stream
	for _, f := range frames {
		data := f.data
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending[f.stream] = append(pending[f.stream], data...)
				if len(pending[f.stream]) > maxLine+64 {
					pending[f.stream] = pending[f.stream][:maxLine+64]
				}
				break
			}
			line := data[:i]
			if len(pending[f.stream]) > 0 {
				line = append(pending[f.stream], line...)
				pending[f.stream] = nil
			}
			push(f.stream, line)
			data = data[i+1:]
		}
	}
	for st, p := range pending {
		if len(p) > 0 {
			push(byte(st), p)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
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
