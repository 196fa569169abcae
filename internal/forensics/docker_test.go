package forensics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"

	"github.com/localsre/sre-agent/internal/docker"
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

// parseInspect decodes an inspect answer as the client does.
func parseInspect(b []byte) (container.InspectResponse, error) {
	var ci container.InspectResponse
	if err := json.Unmarshal(b, &ci); err != nil {
		return ci, err
	}
	if ci.ID == "" {
		return ci, errors.New("no Id")
	}
	return ci, nil
}

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
			inspectFields(&ci, &s)
			if diff := cmp.Diff(tt.want, s.Fields); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

// frame builds one frame of the multiplexed log stream.
func frame(stream byte, s string) string {
	n := len(s)
	return string([]byte{stream, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) + s
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
			lines, err := docker.ParseLogs([]byte(tt.in), tt.tty)
			if err != nil {
				t.Fatal(err)
			}
			got := dockerLogLines(lines, tt.max, maxLine)
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

// unixClient is the project's Docker client for the daemon on socket.
func unixClient(t *testing.T, socket string) *docker.Client {
	t.Helper()
	c, err := docker.New(docker.Env{Host: "unix://" + socket})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dockerIncident(id, runtime string) *Incident {
	return &Incident{Process: &event.Process{PID: 1, Name: "x", ContainerID: id, Runtime: runtime}}
}

const someID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDockerCollectorNotApplicable(t *testing.T) {
	c := NewDockerCollector(unixClient(t, "/nonexistent.sock"), 0)
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
			var api DockerAPI
			if tt.socket != "" {
				api = unixClient(t, tt.socket)
			}
			s, err := NewDockerCollector(api, 0).Collect(context.Background(), dockerIncident(tt.id, tt.runtime))
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

// TestDockerCollectorBadAnswers serves, from a small server on a unix
// socket, answers a real daemon does not give: an inspect answer that is
// not the API's JSON, and a log stream that goes bad after a frame. A
// fake, because these are exactly what a real dockerd cannot be made to
// send; each must give a note in the section, never a crash. The real
// daemon's answers, a removed container and a log driver without reads
// included, are in docker_real_test.go.
func TestDockerCollectorBadAnswers(t *testing.T) {
	inspect := map[string]string{
		strings.Repeat("1", 64): "",
		strings.Repeat("2", 64): "null",
		strings.Repeat("3", 64): "{}",
		strings.Repeat("4", 64): `{"Id":`,
		strings.Repeat("5", 64): "[1]",
		strings.Repeat("6", 64): `{"Id":5}`,
		strings.Repeat("7", 64): `{"Id":"` + strings.Repeat("7", 64) + `"}`, // no State, Config, HostConfig
		strings.Repeat("8", 64): `{"Id":"` + strings.Repeat("8", 64) + `","State":{"Status":"exited","ExitCode":3}}`,
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		parts := strings.Split(r.URL.Path, "/") // "", v1.41, containers, ID, json|logs
		switch {
		case r.URL.Path == "/_ping":
			fmt.Fprint(w, "OK")
		case len(parts) == 5 && parts[4] == "json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, inspect[parts[3]])
		case len(parts) == 5 && parts[4] == "logs":
			fmt.Fprint(w, frame(1, "2026-11-27T04:03:55Z last words\n")+"\x09junk after the frame")
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := NewDockerCollector(unixClient(t, sock), 0)
	for id, body := range inspect {
		t.Run(body, func(t *testing.T) {
			s, err := c.Collect(context.Background(), dockerIncident(id, "docker"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("section:\n%s", render(s))
			if id[0] < '7' {
				if len(s.Notes) != 1 || !strings.HasPrefix(s.Notes[0], "docker: inspect: ") {
					t.Errorf("notes = %q, want one inspect note", s.Notes)
				}
				return
			}
			if id[0] == '8' && fieldValue(s, "Exit code") != "3" {
				t.Errorf("exit code = %q", fieldValue(s, "Exit code"))
			}
			if diff := cmp.Diff([]string{"2026-11-27T04:03:55.000Z last words"}, s.Lines); diff != "" {
				t.Errorf("lines -want +got:\n%s", diff)
			}
			if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "docker: logs: ") || !strings.Contains(s.Notes[0], "bad answer") {
				t.Errorf("notes = %q, want the bad log stream told", s.Notes)
			}
		})
	}
}

func FuzzDockerLogLines(f *testing.F) {
	f.Add([]byte(frame(1, "2026-11-27T04:03:55.1Z a\n")+frame(2, "b")), false)
	f.Add([]byte("raw\r\ntext"), true)
	f.Add([]byte("\x02\x00\x00\x00\xff\xff\xff\xff"), false)
	f.Fuzz(func(t *testing.T, b []byte, tty bool) {
		parsed, _ := docker.ParseLogs(b, tty)
		lines := dockerLogLines(parsed, 5, 32)
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
