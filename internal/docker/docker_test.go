package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/events"
)

func TestNewHosts(t *testing.T) {
	for _, tt := range []struct {
		host, want, socket string
		err                bool
	}{
		{"", DefaultHost, "/var/run/docker.sock", false},
		{"unix:///tmp/d/docker.sock", "unix:///tmp/d/docker.sock", "/tmp/d/docker.sock", false},
		{"tcp://127.0.0.1:2376", "tcp://127.0.0.1:2376", "", false},
		{"bogus", "", "", true},
		{"unix://", "", "", true},
	} {
		c, err := New(Env{Host: tt.host})
		if (err != nil) != tt.err {
			t.Errorf("New(%q): error %v, want error %v", tt.host, err, tt.err)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "DOCKER_HOST") {
				t.Errorf("New(%q): error %q does not name DOCKER_HOST", tt.host, err)
			}
			continue
		}
		if c.Host() != tt.want || c.SocketPath() != tt.socket {
			t.Errorf("New(%q): host %q socket %q, want %q %q", tt.host, c.Host(), c.SocketPath(), tt.want, tt.socket)
		}
	}
}

func TestEnvFrom(t *testing.T) {
	env := map[string]string{"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/c", "DOCKER_TLS_VERIFY": "1", "DOCKER_API_VERSION": "1.41"}
	got := EnvFrom(func(k string) string { return env[k] })
	want := Env{Host: "tcp://h:2376", CertPath: "/c", TLSVerify: true, APIVersion: "1.41"}
	if got != want {
		t.Errorf("EnvFrom = %+v, want %+v", got, want)
	}
}

// A DOCKER_CERT_PATH without the three files is refused at once, naming it.
func TestNewCertPathMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Env{Host: "tcp://127.0.0.1:2376", CertPath: dir, TLSVerify: true})
	if err == nil || !strings.Contains(err.Error(), "DOCKER_CERT_PATH "+dir) {
		t.Errorf("err = %v, want one naming DOCKER_CERT_PATH %s", err, dir)
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"web": true, "shop-api-1": true, "a": true, "0123abcd": true, "x_y.z": true,
		"": false, "-x": false, "--rm": false, ".hidden": false, "_x": false, "a/b": false,
		"../v1.41/info": false, "a b": false, "a?b": false, "web\n": false, "/web": false,
		strings.Repeat("a", 256): false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCall(t *testing.T) {
	for _, tt := range []struct {
		op   string
		t    *int
		want string
	}{
		{"restart", StopTimeout(10), "POST /containers/web/restart?t=10"},
		{"stop", StopTimeout(0), "POST /containers/web/stop?t=0"},
		{"stop", nil, "POST /containers/web/stop"},
		{"start", StopTimeout(10), "POST /containers/web/start"},
	} {
		if got := Call(tt.op, "web", tt.t); got != tt.want {
			t.Errorf("Call(%s) = %q, want %q", tt.op, got, tt.want)
		}
	}
}

// A name that is not a container name never reaches a URL.
func TestBadRefNotAsked(t *testing.T) {
	c, err := New(Env{Host: "unix:///nonexistent/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, err := range []error{
		func() error { _, err := c.Inspect(ctx, "../../info"); return err }(),
		func() error { _, err := c.Logs(ctx, "-x", LogOptions{}); return err }(),
		c.Restart(ctx, "--rm", nil), c.Stop(ctx, "a b", nil), c.Start(ctx, ""),
	} {
		if err == nil || !strings.Contains(err.Error(), "not a container name or id") {
			t.Errorf("err = %v, want not a container name", err)
		}
	}
}

// frame builds one frame of the multiplexed log stream.
func frame(stream byte, s string) string {
	n := len(s)
	return string([]byte{stream, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) + s
}

func TestParseLogs(t *testing.T) {
	out := func(s string) LogLine { return LogLine{"stdout", s} }
	errl := func(s string) LogLine { return LogLine{"stderr", s} }
	tests := []struct {
		name    string
		in      string
		tty     bool
		want    []LogLine
		wantErr bool
	}{
		{
			name: "bytes Docker 20.10 sent for tail=2&timestamps=1",
			in: "\x01\x00\x00\x00\x00\x00\x00&2026-11-27T04:03:55.126600073Z line 2\n" +
				"\x01\x00\x00\x00\x00\x00\x00&2026-11-27T04:03:55.228323870Z line 3\n",
			want: []LogLine{out("2026-11-27T04:03:55.126600073Z line 2"), out("2026-11-27T04:03:55.228323870Z line 3")},
		},
		{
			name: "stdout and stderr in order",
			in:   frame(1, "T1 hello\n") + frame(2, "T2 oops\n") + frame(1, "T3 line 0\n"),
			want: []LogLine{out("T1 hello"), errl("T2 oops"), out("T3 line 0")},
		},
		{
			name: "a line split across frames, interleaved with stderr",
			in:   frame(1, "T par") + frame(2, "T e\n") + frame(1, "tial\n"),
			want: []LogLine{errl("T e"), out("T partial")},
		},
		{name: "empty frame", in: frame(2, "oops\n") + frame(1, ""), want: []LogLine{errl("oops")}},
		{name: "cut last frame keeps its bytes", in: frame(1, "abc\n")[:10], want: []LogLine{out("ab")}},
		{name: "huge size claimed", in: "\x01\x00\x00\x00\xff\xff\xff\xffxy", want: []LogLine{out("xy")}},
		{name: "tty: raw text, CRLF, no final newline", in: "T one\r\nT two", tty: true, want: []LogLine{out("T one"), out("T two")}},
		{name: "not multiplexed though not tty: raw", in: "plain line\n", want: []LogLine{out("plain line")}},
		{name: "garbage after a frame", in: frame(1, "a\n") + "\x09junkjunk", want: []LogLine{out("a")}, wantErr: true},
		{name: "daemon error in the stream", in: frame(1, "a\n") + frame(3, "boom"), want: []LogLine{out("a")}, wantErr: true},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogs([]byte(tt.in), tt.tty)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadAnswer) {
				t.Errorf("err = %v, want ErrBadAnswer", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func FuzzParseLogs(f *testing.F) {
	f.Add([]byte(frame(1, "2026-11-27T04:03:55.1Z a\n")+frame(2, "b")), false)
	f.Add([]byte("raw\r\ntext"), true)
	f.Add([]byte("\x02\x00\x00\x00\xff\xff\xff\xff"), false)
	f.Fuzz(func(t *testing.T, b []byte, tty bool) {
		lines, _ := ParseLogs(b, tty)
		total := 0
		for _, l := range lines {
			if l.Stream != "stdout" && l.Stream != "stderr" {
				t.Fatalf("stream %q", l.Stream)
			}
			total += len(l.Text)
		}
		if total > len(b) {
			t.Fatalf("lines hold %d bytes of %d", total, len(b))
		}
	})
}

func TestWhy(t *testing.T) {
	c, err := New(Env{Host: "unix:///var/run/docker.sock"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: syscall.EACCES}, "permission denied on /var/run/docker.sock (the user is not in the docker group)"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection to /var/run/docker.sock refused (the daemon is not running)"},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "no answer from /var/run/docker.sock in time"},
	} {
		if got := c.Why(tt.err); got != tt.want {
			t.Errorf("Why(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestNegotiatesNewerDaemon serves, from a small server on a unix socket,
// what a daemon newer than any that runs here answers (Docker 29 refuses
// API versions below 1.44): the client must ask in the version the daemon
// announces, not a fixed one. A fake, because no such daemon can run on
// this machine; the real daemon's negotiation is in docker_real_test.go.
func TestNegotiatesNewerDaemon(t *testing.T) {
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
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Api-Version", "1.52")
		switch {
		case r.URL.Path == "/_ping":
			fmt.Fprint(w, "OK")
		case r.URL.Path == "/v1.52/containers/web/json":
			fmt.Fprint(w, `{"Id":"0123456789ab","Name":"/web","State":{"Status":"exited","ExitCode":3}}`)
		case strings.HasPrefix(r.URL.Path, "/v1.52/"):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No such container: web2"}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"client version is too old. Minimum supported API version is 1.44"}`)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c, err := New(Env{Host: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := c.Inspect(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Name() != "web" || ct.State == nil || ct.State.ExitCode != 3 || c.APIVersion() != "1.52" {
		t.Errorf("inspect: name %q state %+v version %s", ct.Name(), ct.State, c.APIVersion())
	}
	if _, err := c.Inspect(context.Background(), "web2"); !IsNotFound(err) {
		t.Errorf("inspect web2: %v, want not found", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"HEAD /_ping", "GET /v1.52/containers/web/json", "GET /v1.52/containers/web2/json"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("requests -want +got:\n%s", diff)
	}
}

// The daemon replays every event at or after since: a follower that
// reconnects skips those it delivered, and only those.
func TestFollowerFresh(t *testing.T) {
	msg := func(action, id string, nano int64) events.Message {
		return events.Message{Action: events.Action(action), Actor: events.Actor{ID: id, Attributes: map[string]string{"name": "n" + id}}, TimeNano: nano}
	}
	f := &Follower{lastNano: 100}
	var got []string
	for _, m := range []events.Message{
		msg("die", "a", 99),    // before since: dropped
		msg("start", "a", 100), // at since: new
		msg("die", "a", 200),
		msg("start", "b", 200), // same nanosecond, another event
		// reconnect: since=200 replays both at 200, then new ones
		msg("die", "a", 200), msg("start", "b", 200),
		msg("die", "b", 200), // at 200 but not seen: new
		msg("die", "b", 300),
	} {
		if ev, ok := f.fresh(m); ok {
			got = append(got, fmt.Sprintf("%s %s %d", ev.Action, ev.Name, ev.TimeNano))
		}
	}
	want := []string{"start na 100", "die na 200", "start nb 200", "die nb 200", "die nb 300"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	if s := nanoString(1765000000123456789); s != "1765000000.123456789" {
		t.Errorf("nanoString = %q", s)
	}
}
