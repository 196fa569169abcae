package scorecmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/score/promtest"
)

// The command refuses a non-loopback listener with exit 2 before binding.
func TestListenRefusesRemote(t *testing.T) {
	arch := writeFile(t, "events.ndjson", archive(t))
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:9478", arch},
		{"--listen", ":9478", arch},
		{"--listen", "0.0.0.0:9478", "--allow-remote", arch},
		{"--listen", "127.0.0.1:0", "-"},
		{"--listen", "127.0.0.1:0", "--textfile", "x.prom", arch},
	} {
		if r := run(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
}

func TestGuard(t *testing.T) {
	h := guard(cli.HostAllowed("127.0.0.1"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	tests := []struct {
		method, host string
		code         int
	}{
		{"GET", "127.0.0.1:9478", 200},
		{"HEAD", "127.0.0.1:9478", 200},
		{"GET", "localhost:9478", 200},
		{"GET", "[::1]:9478", 200},
		{"POST", "127.0.0.1:9478", 405},
		{"PUT", "127.0.0.1:9478", 405},
		{"DELETE", "127.0.0.1:9478", 405},
		{"GET", "evil.example:9478", 421},
		{"GET", "192.0.2.1", 421},
		{"GET", "", 421},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://x/metrics", nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Errorf("status %d, want %d", rec.Code, tt.code)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			if tt.code == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
		})
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

var servingRE = regexp.MustCompile(`serving (http://\S+)/metrics`)

// exporter runs sre-score --listen on a free loopback port and returns its
// base URL; it stops when the test ends.
func exporter(t *testing.T, files ...string) string {
	t.Helper()
	base, _ := exporterStderr(t, files...)
	return base
}

// exporterStderr is exporter, also returning what it says on stderr.
func exporterStderr(t *testing.T, files ...string) (string, *syncBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errb := &syncBuf{}
	std := cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: errb, Getenv: func(string) string { return "" },
		Now: func() time.Time { return at }}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, std, append([]string{"--listen", "127.0.0.1:0"}, files...)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("exporter: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := servingRE.FindStringSubmatch(errb.String()); m != nil {
			return m[1], errb
		}
		select {
		case err := <-done:
			t.Fatalf("exporter exited: %v\n%s", err, errb.String())
		default:
		}
	}
	t.Fatalf("exporter did not start:\n%s", errb.String())
	return "", nil
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
	return string(body)
}

func crashes(t *testing.T, text, target string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^sre_crashes_total\{target="` + regexp.QuoteMeta(target) + `"\} (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

func crashLine(ts time.Time, id, target string) string {
	return fmt.Sprintf(`{"v":1,"kind":"event","ts":"%s","host":"h","src":"sre-detect","id":"%s","type":"crash","severity":"critical","target":"%s","msg":"crash"}`+"\n",
		ts.Format(time.RFC3339Nano), id, target)
}

// The exporter follows the archive: appended lines count at the next
// scrape, a half-written line waits for its newline, a truncated (rotated)
// archive is read again from the start. Each scrape passes promtool.
func TestExporterFollows(t *testing.T) {
	arch := writeFile(t, "events.ndjson", archive(t))
	base := exporter(t, arch)
	text := scrape(t, base)
	checkMetrics(t, []byte(text))
	if got := crashes(t, text, "flaky"); got != "10" {
		t.Fatalf("sre_crashes_total{flaky} = %q, want 10\n%s", got, text)
	}
	appendTo := func(s string) {
		f, err := os.OpenFile(arch, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	line := crashLine(at.Add(-time.Minute), "new1", "flaky")
	appendTo(line)
	if got := crashes(t, scrape(t, base), "flaky"); got != "11" {
		t.Errorf("after one appended crash: %q, want 11", got)
	}
	line2 := crashLine(at.Add(-30*time.Second), "new2", "flaky")
	appendTo(line2[:40])
	if got := crashes(t, scrape(t, base), "flaky"); got != "11" {
		t.Errorf("with a half-written line: %q, want 11", got)
	}
	appendTo(line2[40:])
	if got := crashes(t, scrape(t, base), "flaky"); got != "12" {
		t.Errorf("once the line is whole: %q, want 12", got)
	}
	// rotation: a new, shorter archive in its place
	if err := os.WriteFile(arch+".new", []byte(crashLine(at.Add(-time.Minute), "r1", "other")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(arch+".new", arch); err != nil {
		t.Fatal(err)
	}
	text = scrape(t, base)
	if got := crashes(t, text, "flaky"); got != "" {
		t.Errorf("after rotation flaky still has %q crashes", got)
	}
	if got := crashes(t, text, "other"); got != "1" {
		t.Errorf("after rotation other = %q, want 1", got)
	}
	// truncation in place
	if err := os.WriteFile(arch, []byte(crashLine(at.Add(-time.Minute), "t1", "third")), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := crashes(t, scrape(t, base), "third"); got != "1" {
		t.Errorf("after truncation third = %q, want 1", got)
	}
}

// Over real HTTP: POST is 405, a foreign Host is 421, / answers, other
// paths 404.
func TestExporterHTTP(t *testing.T) {
	base := exporter(t, writeFile(t, "events.ndjson", archive(t)))
	resp, err := http.Post(base+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s, want 405", resp.Status)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Host = "attacker.example"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %s, want 421", resp.Status)
	}
	for path, code := range map[string]int{"/": 200, "/debug/pprof/": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, code)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A real Prometheus server scrapes the exporter and its query API returns
// sre_crashes_total for the target.
func TestRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus not installed (Debian package prometheus); CI must have it")
		}
		t.Skip("prometheus not installed (apt-get install prometheus)")
	}
	base := exporter(t, writeFile(t, "events.ndjson", archive(t)))
	u, _ := url.Parse(base)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sre\n    static_configs:\n      - targets: ['%s']\n", u.Host)), 0o644)
	web := freePort(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web)
	var logs syncBuf
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	series, err := promtest.Query(web, `sre_crashes_total{target="flaky"}`, 60*time.Second)
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, logs.String())
	}
	if len(series) != 1 {
		t.Fatalf("%d series, want 1: %+v", len(series), series)
	}
	if v := series[0].Value; v != "10" {
		t.Fatalf("sre_crashes_total{flaky} = %v, want 10", v)
	}
	if j := series[0].Metric["job"]; j != "sre" {
		t.Errorf("job label %q", j)
	}
}

// metric returns the value of the series whose text (name and labels) is
// series, or "" when the scrape has none.
func metric(text, series string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// The exporter says when its archive cannot be read — once, and again
// only when that changes — and exposes the archive's health and its own
// build: missing at start, then written, then replaced by something that
// cannot be read (a directory: unreadable to root too), then back. Every
// scrape answers and passes promtool.
func TestExporterArchiveHealth(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "events.ndjson")
	base, errb := exporterStderr(t, arch)
	up := `sre_archive_up{archive="` + arch + `"}`
	read := `sre_archive_last_read_timestamp_seconds{archive="` + arch + `"}`
	badJSON := `sre_archive_lines_skipped_total{archive="` + arch + `",reason="bad_json"}`
	says := func(what string) int { return strings.Count(errb.String(), what) }
	check := func(step, wantUp, wantRead string, wantBroken, wantBack int) string {
		t.Helper()
		text := scrape(t, base)
		checkMetrics(t, []byte(text))
		if got := metric(text, up); got != wantUp {
			t.Errorf("%s: %s = %q, want %q\n%s", step, up, got, wantUp, text)
		}
		if got := metric(text, read); got != wantRead {
			t.Errorf("%s: %s = %q, want %q", step, read, got, wantRead)
		}
		if !regexp.MustCompile(`(?m)^sre_build_info\{goversion="go[^"]+",revision="[^"]+",version="[^"]+"\} 1$`).MatchString(text) {
			t.Errorf("%s: no sre_build_info\n%s", step, text)
		}
		if got := says("cannot be read"); got != wantBroken {
			t.Errorf("%s: said %d times that the archive cannot be read, want %d:\n%s", step, got, wantBroken, errb.String())
		}
		if got := says("readable again"); got != wantBack {
			t.Errorf("%s: said %d times that it is readable again, want %d:\n%s", step, got, wantBack, errb.String())
		}
		return text
	}
	readAt := fmt.Sprint(float64(at.UnixNano()) / 1e9)

	check("missing", "0", "", 1, 0)
	check("still missing", "0", "", 1, 0)
	if !strings.Contains(errb.String(), "no such file or directory") {
		t.Errorf("the message does not say why:\n%s", errb.String())
	}

	if err := os.WriteFile(arch, append(archive(t), "not json\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	text := check("written", "1", readAt, 1, 1)
	if got := crashes(t, text, "flaky"); got != "10" {
		t.Errorf("written: sre_crashes_total{flaky} = %q, want 10", got)
	}
	if got := metric(text, badJSON); got != "1" {
		t.Errorf("written: %s = %q, want 1", badJSON, got)
	}
	check("still readable", "1", readAt, 1, 1)

	// Broken again: what was read is still served, with up 0.
	if err := os.Rename(arch, arch+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	text = check("a directory", "0", readAt, 2, 1)
	if got := crashes(t, text, "flaky"); got != "10" {
		t.Errorf("a directory: sre_crashes_total{flaky} = %q, want the 10 read before", got)
	}
	check("still a directory", "0", readAt, 2, 1)

	if err := os.Remove(arch); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(arch+".old", arch); err != nil {
		t.Fatal(err)
	}
	check("back", "1", readAt, 2, 2)
}

// A file without read permission is unreadable to anyone but root, which
// reads any file: scripts/test-nonroot.sh runs this as nobody.
func TestExporterArchiveNoPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a file of any mode; TestExporterArchiveHealth covers root with a directory, and scripts/test-nonroot.sh runs this test as nobody")
	}
	arch := writeFile(t, "events.ndjson", archive(t))
	if err := os.Chmod(arch, 0); err != nil {
		t.Fatal(err)
	}
	base, errb := exporterStderr(t, arch)
	up := `sre_archive_up{archive="` + arch + `"}`
	for range 2 {
		text := scrape(t, base)
		checkMetrics(t, []byte(text))
		if got := metric(text, up); got != "0" {
			t.Errorf("%s = %q, want 0", up, got)
		}
	}
	if n := strings.Count(errb.String(), "cannot be read"); n != 1 || !strings.Contains(errb.String(), "permission denied") {
		t.Errorf("stderr says it %d times, want once with the reason:\n%s", n, errb.String())
	}
	if err := os.Chmod(arch, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := metric(scrape(t, base), up); got != "1" {
		t.Errorf("after chmod 644: %s = %q, want 1", up, got)
	}
	if n := strings.Count(errb.String(), "readable again"); n != 1 {
		t.Errorf("stderr says it is readable again %d times, want 1:\n%s", n, errb.String())
	}
}
