package sreagent_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/browsertest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "copy the dashboard test's desktop screenshot to docs/dashboard.png")

// buildTools builds every sre-* command into a temporary directory.
func buildTools(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "./cmd/...").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// background starts cmd in its own process group, killed at the end.
func background(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
}

// serve starts `sre-report serve` on a free loopback port and returns its
// address, read from the line it prints once it listens.
func serve(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "sre-report"), "serve", "--dir", dir, "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	background(t, cmd)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/ \(read-only\)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			} else {
				t.Logf("sre-report serve: %s", sc.Text())
			}
		}
	}()
	select {
	case addr := <-found:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("sre-report serve did not say where it listens within 30 s")
	}
	return ""
}

// TestDashboardInBrowser: a page opened on the dashboard before anything
// happened shows, without a reload, the target a watch starts on, then its
// crash: the incident in the list and the down interval on the timeline.
// The timeline's mark opens the report. On a phone the page fits the
// screen; with JavaScript off it shows the same. No page logs an error,
// opens a dialog or asks anything of another host.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tools and drives a browser")
	}
	b := browsertest.Start(t)
	bin := buildTools(t)
	work := t.TempDir()
	dir := filepath.Join(work, "reports")
	addr := serve(t, bin, dir) // before the directory exists
	base := "http://" + addr

	p := b.OpenWith(t, base+"/", browsertest.Desktop)
	if got := p.Text(t, "main"); !strings.Contains(got, "No target in the archive yet") {
		t.Errorf("an empty directory's page: %q", got)
	}
	loads := p.Navigations()

	// A service to watch: a copy of sleep with a name of its own.
	victim := filepath.Join(work, "dash-victim")
	if b, err := os.ReadFile("/bin/sleep"); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(victim, b, 0o755); err != nil {
		t.Fatal(err)
	}
	svc := exec.Command(victim, "600")
	background(t, svc)
	watch := exec.Command("sh", "-c", "sre-sample --interval 200ms dash-victim | sre-detect --summary 1s | sre-report --dir "+dir)
	watch.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	watch.Dir = work
	var watchErr syncBuffer // written by the chain while the test may read it
	watch.Stderr = &watchErr
	background(t, watch)

	p.WaitVisible(t, `li.target[data-target="dash-victim"]`, browsertest.Timeout)
	// Summaries come each second: let two reach the archive, so the trend
	// graphs have lines to draw, before the crash.
	waitArchive(t, dir, func(recs []map[string]any) bool {
		n := 0
		for _, r := range recs {
			if r["kind"] == "summary" {
				n++
			}
		}
		return n >= 2
	})
	svc.Process.Signal(syscall.SIGKILL)
	p.WaitVisible(t, `#incidents tr.sev-critical a.incident-link`, browsertest.Timeout)
	p.WaitVisible(t, `#timeline rect.down`, browsertest.Timeout)
	if n := p.Navigations(); n != loads {
		t.Errorf("the page loaded %d times more: new events must come without a reload", n-loads)
	}
	var crashID string
	waitArchive(t, dir, func(recs []map[string]any) bool {
		for _, r := range recs {
			if r["type"] == "crash" && r["report"] != nil {
				crashID, _ = r["id"].(string)
			}
		}
		return crashID != ""
	})
	if got := p.Text(t, "#incidents tr.sev-critical"); !strings.Contains(got, "crash") || !strings.Contains(got, "dash-victim") {
		t.Errorf("the incident row: %q", got)
	}
	from := browsertest.Eval[string](t, p, `document.querySelector("#timeline rect.down").dataset.from`)
	if from == "" {
		t.Error("the down interval has no start")
	}
	// Reachable from the keyboard: the mark on the timeline takes focus.
	if !browsertest.Eval[bool](t, p, `(() => { const a = document.querySelector("#timeline a.mark.crit"); a.focus(); return document.activeElement === a })()`) {
		t.Error("the timeline's incident mark cannot take the keyboard's focus")
	}
	shot := p.Screenshot(t, "desktop")
	if err := browsertest.CheckRegionsFile(shot); err != nil {
		t.Errorf("desktop screenshot: %v", err)
	}
	p.CheckClean(t)

	// The timeline's mark opens the incident: the report in full, verified.
	url := p.ClickNav(t, `#timeline a.mark.crit`)
	if !strings.Contains(url, "/incident?id=") {
		t.Errorf("the mark led to %s", url)
	}
	// The incident page is the new document once its report shows: a
	// loaded machine may still be reading it when the URL has changed.
	p.WaitVisible(t, "#report", browsertest.Timeout)
	if got := p.Text(t, "#report"); !strings.Contains(got, "SRE INCIDENT REPORT") || !strings.Contains(got, "Event-ID:        "+crashID) {
		t.Errorf("the report shown: %.200q", got)
	}
	if got := p.Text(t, "#chain"); !strings.HasPrefix(got, "verified") {
		t.Errorf("chain status: %q", got)
	}
	p.Navigate(t, base+"/target?name=dash-victim&w=1h")
	p.WaitVisible(t, "figure.chart polyline", browsertest.Timeout)
	p.CheckClean(t)

	// A phone: the page fits its width.
	ph := b.OpenWith(t, base+"/", browsertest.Phone)
	ph.WaitVisible(t, `#incidents tr.sev-critical`, browsertest.Timeout)
	if !browsertest.Eval[bool](t, ph, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Errorf("the page is wider than a phone: %v > %v", browsertest.Eval[float64](t, ph, `document.documentElement.scrollWidth`),
			browsertest.Eval[float64](t, ph, `window.innerWidth`))
	}
	if err := browsertest.CheckRegionsFile(ph.Screenshot(t, "phone")); err != nil {
		t.Errorf("phone screenshot: %v", err)
	}
	ph.CheckClean(t)

	// Dark when the system is.
	dk := b.OpenWith(t, base+"/", browsertest.Options{Width: 1280, Height: 900, Dark: true})
	light := browsertest.Eval[string](t, p, `getComputedStyle(document.body).backgroundColor`)
	if dark := browsertest.Eval[string](t, dk, `getComputedStyle(document.body).backgroundColor`); dark == light || dark != "rgb(15, 18, 22)" {
		t.Errorf("dark scheme background %q (light %q)", dark, light)
	}
	dk.Screenshot(t, "dark")
	dk.CheckClean(t)

	// JavaScript off: the same incident, rendered by the server.
	ns := b.OpenWith(t, base+"/incidents", browsertest.Options{Width: 1280, Height: 900, NoScript: true})
	if got := ns.Text(t, "#incidents"); !strings.Contains(got, "dash-victim") || !strings.Contains(got, "crash") {
		t.Errorf("with JavaScript off: %q", got)
	}
	ns.CheckClean(t)
	if t.Failed() {
		t.Logf("watch stderr:\n%s", watchErr.String())
	}
}

// TestDashboardScreenshot makes docs/dashboard.png (go test -run
// TestDashboardScreenshot -update-screenshot .): the overview of a week of
// bench/dashboard_gen.go's archive, then a target's trends, one above the
// other. Commit it when it changes meaningfully.
func TestDashboardScreenshot(t *testing.T) {
	if !*updateScreenshot {
		t.Skip("only with -update-screenshot")
	}
	b := browsertest.Start(t)
	bin := buildTools(t)
	dir := filepath.Join(t.TempDir(), "reports")
	if out, err := exec.Command("go", "run", "bench/dashboard_gen.go", dir, "6000", "120").CombinedOutput(); err != nil {
		t.Fatalf("dashboard_gen: %v\n%s", err, out)
	}
	base := "http://" + serve(t, bin, dir)
	p := b.OpenWith(t, base+"/?w=7d", browsertest.Options{Width: 1100, Height: 760})
	p.WaitVisible(t, "#timeline rect.down", browsertest.Timeout)
	shot := p.Screenshot(t, "overview")
	if err := browsertest.CheckRegionsFile(shot); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("docs/dashboard.png", data, 0o644); err != nil {
		t.Fatal(err)
	}
	p.CheckClean(t)
}

// waitArchive waits until ok holds of the archive's records.
func waitArchive(t *testing.T, dir string, ok func([]map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(browsertest.Timeout)
	for {
		var recs []map[string]any
		if b, err := os.ReadFile(filepath.Join(dir, "events.ndjson")); err == nil {
			for _, l := range bytes.Split(b, []byte("\n")) {
				var r map[string]any
				if json.Unmarshal(l, &r) == nil {
					recs = append(recs, r)
				}
			}
		}
		if ok(recs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the archive did not get there within %v (%d records)", browsertest.Timeout, len(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostile are names, messages and log lines a page must show as text.
var hostile = []string{
	`<script>alert("target")</script>`,
	`"><img src=x onerror=alert("img")>`,
	`javascript:alert("url")`,
	"\x1b[31mred\x1b[0m \x1b]0;title\x07",
	"bad \xff\xfe utf8",
	`</pre><svg onload=alert("svg")>`,
}

// TestDashboardHostileNames: events whose target, message, detail and
// report log carry markup, script URLs, terminal escapes and invalid
// UTF-8, written by the real sre-report, are shown on every page without
// any of it running: no dialog, no script error, no request elsewhere.
func TestDashboardHostileNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tools and drives a browser")
	}
	b := browsertest.Start(t)
	bin := buildTools(t)
	work := t.TempDir()
	dir := filepath.Join(work, "reports")
	logf := filepath.Join(work, "app.log")
	os.WriteFile(logf, []byte(strings.Join(hostile, "\n")+"\n"), 0o644)
	var in bytes.Buffer
	now := time.Now().UTC()
	for i, h := range hostile {
		ts := now.Add(time.Duration(i-len(hostile)) * time.Minute).Format(time.RFC3339Nano)
		// Written by hand: JSON cannot carry invalid UTF-8 through
		// encoding/json, and a line in the stream may have it anyway.
		fmt.Fprintf(&in, `{"v":1,"kind":"event","ts":%q,"src":"sre-detect","host":"h","id":"e%d","type":"crash","severity":"critical","target":"%s","msg":"msg %s","detail":{"note":"%s"}}`+"\n",
			ts, i, jsonInner(h), jsonInner(h), jsonInner(h))
	}
	cmd := exec.Command(filepath.Join(bin, "sre-report"), "--dir", dir, "--log", logf)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("sre-report: %v\n%s", err, stderr.String())
	}
	addr := serve(t, bin, dir)
	base := "http://" + addr
	pages := []string{"/", "/incidents?severity=all", "/incidents?q=" + "%3Cscript%3E"}
	for i := range hostile {
		pages = append(pages, fmt.Sprintf("/incident?id=e%d", i))
	}
	pages = append(pages, "/target?name="+urlEscape(hostile[0]))
	p := b.OpenWith(t, base+"/", browsertest.Desktop)
	for _, pg := range pages {
		p.Navigate(t, base+pg)
		if got := browsertest.Eval[int](t, p, `document.querySelectorAll("main script, main img, main svg [onload], main [onerror]").length`); got != 0 {
			t.Errorf("%s: %d injected elements in the page", pg, got)
		}
	}
	if got := p.Text(t, "main"); !strings.Contains(got, `<script>alert("target")</script>`) {
		t.Errorf("the hostile target is not shown as text on its page: %.300q", got)
	}
	p.Navigate(t, base+"/incident?id=e0")
	if got := p.Text(t, "#report"); !strings.Contains(got, `</pre><svg onload=alert("svg")>`) || strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("the report's log lines are not shown as text: %.400q", got)
	}
	p.CheckClean(t)

	// Requests a read-only server refuses, through the real binary.
	for _, c := range []struct {
		method, path, host string
		want               int
	}{
		{"POST", "/", "", http.StatusMethodNotAllowed},
		{"DELETE", "/incident?id=e0", "", http.StatusMethodNotAllowed},
		{"GET", "/", "evil.example", http.StatusForbidden},
		{"GET", "/report?name=..%2f..%2fetc%2fpasswd", "", http.StatusNotFound},
		{"GET", "/static/..%2f..%2fdashboard.go", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s (Host %q): %d, want %d", c.method, c.path, c.host, resp.StatusCode, c.want)
		}
	}
}

// jsonInner is s as the inside of a JSON string, its invalid bytes kept.
func jsonInner(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}
