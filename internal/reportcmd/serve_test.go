package reportcmd

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
)

// Every bad flag of serve: exit 2 and one line naming it, before
// anything is bound.
func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	write := func(name, content string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("a-file", "", 0o644)
	open := write("open-token", "0123456789abcdef0123\n", 0o644)
	empty := write("empty-token", "", 0o600)
	short := write("short-token", "secret\n", 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"argument", []string{"now"}, `serve: unexpected argument "now"`},
		{"empty dir", []string{"--dir", ""}, "--dir: empty"},
		{"dir is a file", []string{"--dir", file}, "--dir " + file + ": not a directory"},
		{"listen without port", []string{"--listen", "127.0.0.1"}, `--listen "127.0.0.1": want HOST:PORT such as 127.0.0.1:9479`},
		{"listen every interface", []string{"--listen", "0.0.0.0:9479"}, `--listen "0.0.0.0:9479": not a loopback address; give --allow-remote`},
		{"listen port only", []string{"--listen", ":9479"}, `--listen ":9479": not a loopback address`},
		{"listen remote", []string{"--listen", "192.0.2.10:9479"}, `--listen "192.0.2.10:9479": not a loopback address; give --allow-remote to serve it`},
		{"allow-remote every interface", []string{"--listen", "0.0.0.0:9479", "--allow-remote"}, "--allow-remote needs an explicit IP address, not every interface"},
		{"allow-remote ::", []string{"--listen", "[::]:9479", "--allow-remote"}, "--allow-remote needs an explicit IP address"},
		{"allow-remote port only", []string{"--listen", ":9479", "--allow-remote"}, "--allow-remote needs an explicit IP address"},
		{"allow-remote name", []string{"--listen", "example.com:9479", "--allow-remote"}, "--allow-remote needs an explicit IP address"},
		{"allow-host URL", []string{"--allow-host", "http://sre.example"}, `--allow-host "http://sre.example": want a host name or IP address`},
		{"allow-host port", []string{"--allow-host", "sre.example:443"}, `--allow-host "sre.example:443"`},
		{"allow-host path", []string{"--allow-host", "sre.example/x"}, `--allow-host "sre.example/x"`},
		{"allow-host empty", []string{"--allow-host", ""}, `--allow-host ""`},
		{"allow-host wildcard", []string{"--allow-host", "*.example"}, `--allow-host "*.example"`},
		{"token file missing", []string{"--token-file", filepath.Join(dir, "nope")}, "--token-file " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"token file open", []string{"--token-file", open}, "--token-file " + open + ": permissions 0644 are too open"},
		{"token file empty", []string{"--token-file", empty}, "--token-file " + empty + ": no token on its first line"},
		{"token file short", []string{"--token-file", short}, "--token-file " + short + ": the token is 6 bytes, want at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, "", append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)...)
			if code != cli.ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q, want one line with %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

// A port in use: exit 1, one line.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, _, errOut := run(t, nil, "", "serve", "--dir", t.TempDir(), "--listen", addr)
	want := "sre-report: --listen " + addr + ": address already in use\n"
	if code != cli.ExitFailure || errOut != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// served is a `sre-report serve` running through Run.
type served struct {
	url    string // http://127.0.0.1:PORT/
	stderr *syncBuf
	cancel context.CancelFunc
	done   chan error
}

var servingLine = regexp.MustCompile(`sre-report: serving the dashboard of (.*) on (http://\S+/) \(read-only\)\n`)

// startServe runs serve with args until the test ends (or stop), and
// waits for its serving line.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stderr: &syncBuf{}, cancel: cancel, done: make(chan error, 1)}
	std := cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: s.stderr, Getenv: func(string) string { return "" }, Now: time.Now}
	go func() { s.done <- Run(ctx, std, append([]string{"serve"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(ceiling):
			t.Error("serve still running after its context ended")
		}
	})
	for deadline := time.Now().Add(ceiling); ; time.Sleep(10 * time.Millisecond) {
		if m := servingLine.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[2]
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve ended: %v\n%s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no serving line after %v:\n%s", ceiling, s.stderr)
		}
	}
}

// ceiling is the longest a test waits for what it expects: each wait ends
// as soon as the event happens.
const ceiling = 15 * time.Second

func (s *served) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(ceiling):
		t.Fatalf("serve did not stop within %v of its context's end", ceiling)
		return nil
	}
}

// get sends method path with Host host (the server's own when "") and
// optional headers, and returns the status and answer headers.
func get(t *testing.T, method, url, host string, header ...string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: ceiling}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// serve answers the pages read-only, to its own Host only, and stops
// cleanly (nil: exit 0) when its context ends.
func TestServeRuns(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "--dir", dir, "--listen", "127.0.0.1:0")
	if m := servingLine.FindStringSubmatch(s.stderr.String()); m[1] != dir || !strings.HasPrefix(m[2], "http://127.0.0.1:") {
		t.Errorf("serving line %q", m[0])
	}
	code, h := get(t, "GET", s.url, "")
	if code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /: %d %v", code, h)
	}
	if code, h := get(t, "POST", s.url, ""); code != 405 || h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", code, h.Get("Allow"))
	}
	if code, _ := get(t, "GET", s.url, "evil.example"); code != 403 {
		t.Errorf("Host evil.example: %d, want 403", code)
	}
	if code, _ := get(t, "GET", s.url, "localhost"); code != 200 {
		t.Errorf("Host localhost: %d, want 200", code)
	}
	if code, _ := get(t, "GET", s.url+"report/..%2f..%2fetc%2fpasswd", ""); code != 404 {
		t.Errorf("traversal: %d, want 404", code)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("serve after its context ended: %v, want nil", err)
	}
	if strings.Contains(s.stderr.String(), "warning") || strings.Contains(s.stderr.String(), "does not exist") {
		t.Errorf("stderr:\n%s", s.stderr)
	}
}

// A directory that does not exist yet is served (empty), and said once.
func TestServeMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	s := startServe(t, "--dir", dir, "--listen", "127.0.0.1:0")
	if code, _ := get(t, "GET", s.url, ""); code != 200 {
		t.Errorf("GET /: %d, want 200", code)
	}
	want := "sre-report: " + dir + " does not exist yet; the dashboard shows its incidents once sre-report writes there\n"
	if n := strings.Count(s.stderr.String(), want); n != 1 {
		t.Errorf("said %d times that the directory is missing, want once:\n%s", n, s.stderr)
	}
}

func TestServeToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	const token = "0123456789abcdef-token"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--dir", dir, "--listen", "127.0.0.1:0", "--token-file", tokenFile)
	if code, h := get(t, "GET", s.url, ""); code != 401 || h.Get("WWW-Authenticate") != `Basic realm="sre-agent"` {
		t.Errorf("no token: %d %v", code, h)
	}
	if code, _ := get(t, "GET", s.url, "", "Authorization", "Bearer "+token); code != 200 {
		t.Errorf("bearer token: %d, want 200", code)
	}
	if code, _ := get(t, "GET", s.url, "", "Authorization", "Bearer "+token+"x"); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
}

// --allow-host names a Host answered besides the server's own.
func TestServeAllowHost(t *testing.T) {
	s := startServe(t, "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--allow-host", "sre.example.internal")
	if code, _ := get(t, "GET", s.url, "sre.example.internal"); code != 200 {
		t.Errorf("allowed host: %d, want 200", code)
	}
	if code, _ := get(t, "GET", s.url, "other.example.internal"); code != 403 {
		t.Errorf("other host: %d, want 403", code)
	}
}

// Bound to a non-loopback address with --allow-remote, serve warns that
// the network can reach it, once, and answers that address as its Host.
func TestServeRemoteWarning(t *testing.T) {
	ip := nonLoopbackIP(t)
	for _, withToken := range []bool{false, true} {
		args := []string{"--dir", t.TempDir(), "--listen", net.JoinHostPort(ip, "0"), "--allow-remote"}
		want := "without a token: whoever reaches it reads every report; give --token-file"
		if withToken {
			f := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(f, []byte("0123456789abcdef-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--token-file", f)
			want = "its token crosses it in clear text: put TLS in front, or listen on 127.0.0.1 and use ssh -L"
		}
		s := startServe(t, args...)
		line := "sre-report: warning: the dashboard on " + s.url + " is reachable from the network"
		if strings.Count(s.stderr.String(), line) != 1 || !strings.Contains(s.stderr.String(), want) {
			t.Errorf("token %v: stderr:\n%s\nwant once %q … %q", withToken, s.stderr, line, want)
		}
		if code, _ := get(t, "GET", s.url, "", "Authorization", "Bearer 0123456789abcdef-token"); code != 200 {
			t.Errorf("token %v: GET with the bound address as Host: %d", withToken, code)
		}
		s.stop(t)
	}
}

// nonLoopbackIP is an IPv4 address of this machine that is not loopback;
// the test is skipped on a machine with none (no network to warn about).
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return ""
}
