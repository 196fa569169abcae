package forensics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// inspectExited is GET /v1.41/containers/ID/json from Docker 20.10 for a
// container whose process was killed with SIGKILL (fields trimmed).
const inspectExited = `{"Id":"9fb261eab0f68238e6d13782af39c6ec2fbb79488fa3dc1c0f8dd1f35b2103bb","Created":"2026-11-27T04:03:54.675836511Z","Path":"sh","Args":["-c","echo hello-from-container; echo oops >&2; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"],"State":{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":137,"Error":"","StartedAt":"2026-11-27T04:03:54.925192668Z","FinishedAt":"2026-11-27T04:03:55.468898795Z"},"Image":"sha256:82257acf9c80f91bfb41ec81ad8b4e07ff937c3ac7790d956ed1a821784e2f14","Name":"/sre-cap","RestartCount":0,"Driver":"overlay2","HostConfig":{"Memory":0,"RestartPolicy":{"Name":"no","MaximumRetryCount":0}},"Config":{"Hostname":"9fb261eab0f6","Tty":false,"Image":"sre-busybox:local","Labels":{}}}`

// inspectOOM is a running, restarting compose service that was OOM-killed.
const inspectOOM = `{"Id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Name":"/shop-api-1","Image":"sha256:aaaabbbbccccdddd","RestartCount":3,
"State":{"Status":"running","Running":true,"OOMKilled":true,"Pid":4242,"ExitCode":0,"Error":"","StartedAt":"2025-11-27T03:59:00.5Z","FinishedAt":"2025-11-27T03:58:59.1Z","Health":{"Status":"unhealthy","FailingStreak":4}},
"Config":{"Image":"shop/api:1.2","Tty":false,"Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"api"}},
"HostConfig":{"Memory":268435456,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":5}}}`

func TestParseInspectFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Field
	}{
		{
			name: "exited by SIGKILL",
			in:   inspectExited,
			want: []Field{
				{"Container", "sre-cap"},
				{"Image", "sre-busybox:local (82257acf9c80)"},
				{"State", "exited"},
				{"Exit code", "137 (killed by SIGKILL)"},
				{"OOMKilled", "false"},
				{"Restart count", "0 (restart policy no)"},
				{"Started", "2026-11-27T04:03:54.925Z"},
				{"Finished", "2026-11-27T04:03:55.468Z"},
			},
		},
		{
			name: "OOM-killed and restarted",
			in:   inspectOOM,
			want: []Field{
				{"Container", "shop-api-1"},
				{"Image", "shop/api:1.2 (aaaabbbbcccc)"},
				{"State", "running (pid 4242)"},
				{"OOMKilled", "true"},
				{"Restart count", "3 (restart policy on-failure:5)"},
				{"Started", "2025-11-27T03:59:00.500Z"},
				{"Health", "unhealthy (failing streak 4)"},
				{"Memory limit", "256.0 MiB"},
				{"Compose", "project shop, service api"},
			},
		},
		{
			name: "bare minimum",
			in:   `{"Id":"ab","State":{"Status":"created","FinishedAt":"0001-01-01T00:00:00Z","ExitCode":1}}`,
			want: []Field{
				{"Container", ""}, {"Image", ""}, {"State", "created"}, {"Exit code", "1"},
				{"OOMKilled", "false"}, {"Restart count", "0 (restart policy no)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ci, err := parseInspect([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var s Section
			ci.fields(&s)
			if diff := cmp.Diff(tt.want, s.Fields); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestParseInspectErrors(t *testing.T) {
	for _, in := range []string{"", "null", "{}", `{"Id":`, "[1]", `{"Id":5}`} {
		if _, err := parseInspect([]byte(in)); err == nil {
			t.Errorf("parseInspect(%q): no error", in)
		}
	}
}

// frame builds one frame of the multiplexed log stream.
func frame(stream byte, s string) string {
	n := len(s)
	return string([]byte{stream, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) + s
}

func TestDemuxLogs(t *testing.T) {
	// The bytes Docker 20.10 sent for tail=2&timestamps=1.
	real := "\x01\x00\x00\x00\x00\x00\x00&2026-11-27T04:03:55.126600073Z line 2\n" +
		"\x01\x00\x00\x00\x00\x00\x00&2026-11-27T04:03:55.228323870Z line 3\n"
	tests := []struct {
		name   string
		in     string
		want   []logFrame
		wantOK bool
	}{
		{"real", real, []logFrame{
			{1, []byte("2026-11-27T04:03:55.126600073Z line 2\n")},
			{1, []byte("2026-11-27T04:03:55.228323870Z line 3\n")},
		}, true},
		{"stderr and empty frame", frame(2, "oops\n") + frame(1, ""), []logFrame{{2, []byte("oops\n")}, {1, []byte{}}}, true},
		{"cut last frame", frame(1, "abc\n")[:10], []logFrame{{1, []byte("ab")}}, true},
		{"garbage after a frame", frame(1, "a\n") + "\x09junkjunk", []logFrame{{1, []byte("a\n")}}, true},
		{"tty text", "2026-11-27T04:03:55Z hello\n", nil, false},
		{"short", "\x01\x00\x00", nil, false},
		{"empty", "", nil, false},
		{"huge size", "\x01\x00\x00\x00\xff\xff\xff\xffxy", []logFrame{{1, []byte("xy")}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := demuxLogs([]byte(tt.in))
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(logFrame{})); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestDockerLogLines(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name string
		in   string
		tty  bool
		max  int
		cut  int // maxLine, when not 100
		want []string
	}{
		{
			name: "stdout and stderr",
			in: frame(1, "2026-11-27T04:03:54.925192668Z hello-from-container\n") +
				frame(2, "2026-11-27T04:03:54.925500000Z oops\n") + frame(1, "2026-11-27T04:03:55.1Z line 0\n"),
			max: 10,
			want: []string{
				"2026-11-27T04:03:54.925Z hello-from-container",
				"2026-11-27T04:03:54.925Z [stderr] oops",
				"2026-11-27T04:03:55.100Z line 0",
			},
		},
		{
			name: "a line split across frames, interleaved with stderr",
			in:   frame(1, "2026-11-27T04:03:55Z par") + frame(2, "2026-11-27T04:03:55Z e\n") + frame(1, "tial\n"),
			max:  10,
			want: []string{"2026-11-27T04:03:55.000Z [stderr] e", "2026-11-27T04:03:55.000Z partial"},
		},
		{
			name: "only the last max lines",
			in:   frame(1, "a\nb\nc\nd\n"),
			max:  2,
			want: []string{"c", "d"},
		},
		{
			name: "tty: raw text, CRLF, no final newline",
			in:   "2026-11-27T04:03:55Z one\r\n2026-11-27T04:03:56Z two",
			tty:  true, max: 10,
			want: []string{"2026-11-27T04:03:55.000Z one", "2026-11-27T04:03:56.000Z two"},
		},
		{
			name: "not multiplexed though not tty: shown raw",
			in:   "plain line\n",
			max:  10,
			want: []string{"plain line"},
		},
		{
			name: "long line cut",
			in:   frame(1, long+"\n"),
			max:  10, cut: 16,
			want: []string{strings.Repeat("x", 16) + "…"},
		},
		{name: "empty", in: "", max: 10, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxLine := 100
			if tt.cut > 0 {
				maxLine = tt.cut
			}
			got := dockerLogLines([]byte(tt.in), tt.tty, tt.max, maxLine)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestExitMeaning(t *testing.T) {
	for code, want := range map[int]string{
		0: "0", 1: "1", 128: "128", 137: "137 (killed by SIGKILL)",
		143: "143 (killed by SIGTERM)", 190: "190 (killed by signal 62)", 255: "255", -1: "-1",
	} {
		if got := exitMeaning(code); got != want {
			t.Errorf("exitMeaning(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestDockerSocket(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		err      bool
	}{
		{"", "/var/run/docker.sock", false},
		{"unix:///tmp/d/docker.sock", "/tmp/d/docker.sock", false},
		{"unix://", "", true},
		{"tcp://127.0.0.1:2375", "", true},
		{"ssh://me@host", "", true},
	} {
		got, err := DockerSocket(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("DockerSocket(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func dockerIncident(id, runtime string) *Incident {
	return &Incident{Process: &event.Process{PID: 1, Name: "x", ContainerID: id, Runtime: runtime}}
}

const someID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDockerCollectorNotApplicable(t *testing.T) {
	c := NewDockerCollector("/nonexistent.sock")
	for _, inc := range []*Incident{
		{},
		{Process: &event.Process{PID: 1}},
		dockerIncident(someID, "containerd"),
		dockerIncident(someID, "podman"),
		dockerIncident(someID, "kubepods"),
	} {
		if _, err := c.Collect(context.Background(), inc); !errors.Is(err, ErrNotApplicable) {
			t.Errorf("Collect(%+v) err = %v, want ErrNotApplicable", inc.Process, err)
		}
	}
}

// TestDockerCollectorWithoutDaemon checks the notes for each way the
// daemon can be out of reach, each with a real socket file or its absence.
func TestDockerCollectorWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on: connect gets ECONNREFUSED.
	dead := filepath.Join(dir, "dead.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: dead, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		name, socket, id, runtime string
		want                      []string
	}{
		{"absent", filepath.Join(dir, "none.sock"), someID, "docker", []string{"docker: socket " + dir + "/none.sock absent (no Docker daemon on this host, or DOCKER_HOST names another)"}},
		{"refused", dead, someID, "", []string{"docker: connection to " + dead + " refused (the daemon is not running)"}},
		{"none configured", "", someID, "docker", []string{"docker: no Docker socket configured"}},
		{"bad id", dead, "../../v1.41/info?", "docker", []string{`docker: container id "../../v1.41/info?" is not 12 to 64 hex digits: not asked`}},
		{"upper-case id", dead, strings.ToUpper(someID), "docker", []string{`docker: container id "` + strings.ToUpper(someID) + `" is not 12 to 64 hex digits: not asked`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewDockerCollector(tt.socket).Collect(context.Background(), dockerIncident(tt.id, tt.runtime))
			if err != nil {
				t.Fatal(err)
			}
			if s.Title != "Docker container" {
				t.Errorf("title = %q", s.Title)
			}
			if diff := cmp.Diff(tt.want, s.Notes); diff != "" {
				t.Errorf("notes -want +got:\n%s", diff)
			}
		})
	}
}

func TestDockerWhy(t *testing.T) {
	c := &dockerCollector{socket: "/var/run/docker.sock"}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)}, "permission denied on /var/run/docker.sock (the user is not in the docker group)"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection to /var/run/docker.sock refused (the daemon is not running)"},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "no answer from /var/run/docker.sock in time"},
	} {
		if got := c.why(tt.err); got != tt.want {
			t.Errorf("why(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestDockerCollectorNewerDaemon serves the answers of a daemon that
// refuses API 1.41 (Docker 29 wants 1.44 or newer), a version that cannot
// run here, from a small server on a unix socket; the collector must fall
// back to the unversioned paths. Also checks the 404 note.
func TestDockerCollectorNewerDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1.41/"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"}`)
		case r.URL.Path == "/containers/"+someID+"/json":
			fmt.Fprint(w, strings.Replace(inspectExited, "9fb261eab0f6", "0123456789ab", 1))
		case r.URL.Path == "/containers/"+someID+"/logs":
			if got := r.URL.Query().Get("tail"); got != "50" {
				t.Errorf("tail = %q, want 50", got)
			}
			fmt.Fprint(w, frame(1, "2026-11-27T04:03:55Z last words\n"))
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No such container"}`)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	s, err := NewDockerCollector(sock).Collect(context.Background(), dockerIncident(someID, "docker"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldValue(s, "Exit code"); got != "137 (killed by SIGKILL)" {
		t.Errorf("exit code = %q (notes %q)", got, s.Notes)
	}
	if diff := cmp.Diff([]string{"2026-11-27T04:03:55.000Z last words"}, s.Lines); diff != "" {
		t.Errorf("lines -want +got:\n%s", diff)
	}
	wantPaths := []string{
		"/v1.41/containers/" + someID + "/json", "/containers/" + someID + "/json",
		"/v1.41/containers/" + someID + "/logs", "/containers/" + someID + "/logs",
	}
	mu.Lock()
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("paths -want +got:\n%s", diff)
	}
	mu.Unlock()

	other := strings.Repeat("f", 64)
	s, err = NewDockerCollector(sock).Collect(context.Background(), dockerIncident(other, "docker"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "no such container") {
		t.Errorf("notes = %q, want no such container", s.Notes)
	}
}

func FuzzDemuxLogs(f *testing.F) {
	f.Add([]byte(frame(1, "2026-11-27T04:03:55.1Z a\n")+frame(2, "b")), false)
	f.Add([]byte("raw\r\ntext"), true)
	f.Add([]byte("\x02\x00\x00\x00\xff\xff\xff\xff"), false)
	f.Fuzz(func(t *testing.T, b []byte, tty bool) {
		frames, _ := demuxLogs(b)
		total := 0
		for _, fr := range frames {
			if fr.stream > 2 {
				t.Fatalf("stream %d", fr.stream)
			}
			total += len(fr.data) + 8
		}
		if total > len(b)+8 {
			t.Fatalf("frames hold %d bytes of %d", total, len(b))
		}
		lines := dockerLogLines(b, tty, 5, 32)
		if len(lines) > 5 {
			t.Fatalf("%d lines, max 5", len(lines))
		}
		for _, l := range lines {
			if len(l) > 32+len("…") {
				t.Fatalf("line of %d bytes, max 32", len(l))
			}
		}
	})
}
