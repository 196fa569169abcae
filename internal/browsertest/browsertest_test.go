package browsertest

import (
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// pages are the test server's pages, by path: each a small document that
// does one thing the harness must see (or must not report).
var pages = map[string]string{
	// A clean page: a script, a style, a same-origin fetch, a data: image.
	"/clean": `<!doctype html><html><head><title>clean</title>
<meta name="viewport" content="width=device-width">
<style>body{font:16px sans-serif;margin:0} header{background:#234;color:#fff;padding:24px}
td{border:1px solid #999;padding:6px 8px} table{border-collapse:collapse;width:100%} svg{width:100%;height:300px}</style></head>
<body><header><h1>Clean page</h1></header>
<table><tr><td>target</td><td>state</td><td>since</td><td>restarts</td><td>score</td></tr>
<tr><td>web-1</td><td>up</td><td>02:10 UTC</td><td>3</td><td>0.98</td></tr>
<tr><td>db-1</td><td>down</td><td>02:11 UTC</td><td>1</td><td>0.71</td></tr></table>
<svg viewBox="0 0 100 30" preserveAspectRatio="none"><polyline fill="none" stroke="#c33" stroke-width="0.5"
 points="0,25 10,20 20,22 30,10 40,15 50,5 60,12 70,8 80,18 90,3 100,9"/>
<rect x="0" y="27" width="100" height="3" fill="#3a3"/></svg>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<p id="fetched"></p><p id="out"></p>
<script>console.log("hello"); console.warn("a warning is fine");
document.getElementById("out").textContent = "script ran";
fetch("/data").then(r => r.text()).then(s => document.getElementById("fetched").textContent = s);</script>
</body></html>`,
	"/data":  `fetched ok`,
	"/error": `<!doctype html><p>x</p><script>console.error("boom-17", {code: 7});</script>`,
	"/throw": `<!doctype html><p>x</p><script>function f() { throw new Error("kaboom-17"); } f();</script>`,
	"/alert": `<!doctype html><script>alert("xss-17");</script><p id="after">after the alert</p>`,
	"/leak": `<!doctype html><p>x</p><img src="http://example.invalid/x.png">
<script>fetch("http://10.255.255.1/y").catch(() => {});</script>`,
	"/late": `<!doctype html><p>waiting</p><script>setTimeout(() => {
const p = document.createElement("p"); p.id = "late"; p.textContent = "arrived late"; document.body.append(p);
}, 1000);</script>`,
	"/first":  `<!doctype html><h1>first</h1><p><a id="next" href="/second">next</a></p>`,
	"/second": `<!doctype html><h1>second page</h1>`,
	"/blank":  `<!doctype html><html><body></body></html>`,
	"/scheme": `<!doctype html><style>body{background:#fff} @media (prefers-color-scheme: dark){body{background:#000}}</style><p>x</p>`,
	"/media": `<!doctype html><meta name="viewport" content="width=device-width">
<p id="m"></p><script>document.getElementById("m").textContent =
innerWidth + " " + matchMedia("(pointer: coarse)").matches;</script>`,
}

// server serves pages on 127.0.0.1; /csp comes with a policy that
// forbids its inline script.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for path, body := range pages {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		})
	}
	mux.HandleFunc("/csp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
		fmt.Fprint(w, `<!doctype html><p>x</p><script>document.title = "inline ran";</script>`)
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// hasProblem reports whether one of the page's problems contains all of
// parts.
func hasProblem(p *Page, parts ...string) bool {
	return slices.ContainsFunc(p.Problems(), func(s string) bool {
		for _, part := range parts {
			if !strings.Contains(s, part) {
				return false
			}
		}
		return true
	})
}

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func TestBrowser(t *testing.T) {
	b := Start(t)
	ts := server(t)
	open := func(t *testing.T, path string) *Page {
		return b.Open(t, ts.URL+path, 1280, 900, false)
	}

	t.Run("clean page", func(t *testing.T) {
		p := open(t, "/clean")
		p.WaitVisible(t, "#fetched:not(:empty)", Timeout)
		if got := p.Text(t, "#out"); got != "script ran" {
			t.Errorf("#out = %q, want the script's text", got)
		}
		if got := p.Text(t, "#fetched"); got != "fetched ok" {
			t.Errorf("#fetched = %q", got)
		}
		if reqs := p.Requests(); !slices.Contains(reqs, ts.URL+"/data") {
			t.Errorf("requests %q lack the page's fetch of /data", reqs)
		}
		if probs := p.Problems(); len(probs) != 0 {
			t.Errorf("a clean page has problems: %q", probs)
		}
		r := &recorder{TB: t}
		p.CheckClean(r)
		if f := r.failures(); f != "" {
			t.Errorf("CheckClean failed a clean page: %s", f)
		}
	})

	t.Run("console error", func(t *testing.T) {
		p := open(t, "/error")
		if !hasProblem(p, "console.error", "boom-17") {
			t.Errorf("problems %q lack the console error", p.Problems())
		}
		r := &recorder{TB: t}
		p.CheckClean(r)
		if f := r.failures(); !strings.Contains(f, "boom-17") {
			t.Errorf("CheckClean said %q, want the console error", f)
		}
	})

	t.Run("uncaught exception", func(t *testing.T) {
		p := open(t, "/throw")
		if !hasProblem(p, "exception", "kaboom-17") {
			t.Errorf("problems %q lack the exception", p.Problems())
		}
	})

	t.Run("dialog", func(t *testing.T) {
		begin := time.Now()
		p := open(t, "/alert")
		if got := p.Text(t, "#after"); got != "after the alert" {
			t.Errorf("#after = %q: the page did not go on after its alert", got)
		}
		if !hasProblem(p, "dialog alert", "xss-17") {
			t.Errorf("problems %q lack the dialog", p.Problems())
		}
		t.Logf("the page with an alert loaded in %v", time.Since(begin).Round(time.Millisecond))
	})

	t.Run("requests off 127.0.0.1", func(t *testing.T) {
		p := open(t, "/leak")
		// The fetch is not part of the load; wait for its record.
		deadline := time.Now().Add(Timeout)
		for !hasProblem(p, "leaves 127.0.0.1", "http://10.255.255.1/y") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		for _, u := range []string{"http://example.invalid/x.png", "http://10.255.255.1/y"} {
			if !hasProblem(p, "request leaves 127.0.0.1", u) {
				t.Errorf("problems %q lack the request to %s", p.Problems(), u)
			}
		}
		// The browser tried them through its proxy, which kept them here.
		if esc := p.Escapes(); !slices.ContainsFunc(esc, func(s string) bool {
			return strings.Contains(s, "example.invalid")
		}) {
			t.Errorf("the tab's proxy saw %q, not the image's request", esc)
		}
		r := &recorder{TB: t}
		p.CheckClean(r)
		if f := r.failures(); !strings.Contains(f, "example.invalid") {
			t.Errorf("CheckClean said %q, want the request to example.invalid", f)
		}
	})

	t.Run("content security policy violation", func(t *testing.T) {
		p := open(t, "/csp")
		if title := Eval[string](t, p, "document.title"); title == "inline ran" {
			t.Fatal("the inline script ran despite the policy")
		}
		if !hasProblem(p, "Content Security Policy") {
			t.Errorf("problems %q lack the policy violation", p.Problems())
		}
	})

	t.Run("an element that comes late", func(t *testing.T) {
		p := open(t, "/late")
		n := p.Navigations()
		if n != 1 {
			t.Errorf("%d navigations after Open, want 1", n)
		}
		p.WaitVisible(t, "#late", Timeout)
		// Asked without a wait: WaitVisible returned only once it was there.
		if !Eval[bool](t, p, `document.querySelector("#late") !== null`) {
			t.Fatal("WaitVisible returned before #late was there")
		}
		if got := p.Text(t, "#late"); got != "arrived late" {
			t.Errorf("#late = %q", got)
		}
		if got := p.Navigations(); got != n {
			t.Errorf("%d navigations after the wait, want %d: the page reloaded", got, n)
		}
		p.CheckClean(t)
	})

	t.Run("click a link", func(t *testing.T) {
		p := open(t, "/first")
		if u := p.ClickNav(t, "#next"); u != ts.URL+"/second" {
			t.Errorf("the click led to %s", u)
		}
		if got := p.Text(t, "h1"); got != "second page" {
			t.Errorf("h1 after the click = %q", got)
		}
		if got := p.Navigations(); got != 2 {
			t.Errorf("%d navigations, want 2", got)
		}
		p.CheckClean(t)
	})

	t.Run("JavaScript off", func(t *testing.T) {
		p := b.OpenWith(t, ts.URL+"/clean", Options{Width: 800, Height: 600, NoScript: true})
		if got := p.Text(t, "h1"); got != "Clean page" {
			t.Errorf("h1 = %q", got)
		}
		// The page's script would have filled #out and fetched /data.
		if got := Eval[string](t, p, `document.getElementById("out").textContent`); got != "" {
			t.Errorf("#out = %q: the page's script ran", got)
		}
		if reqs := p.Requests(); slices.Contains(reqs, ts.URL+"/data") {
			t.Errorf("requests %q: the page's script fetched /data", reqs)
		}
		p.Navigate(t, ts.URL+"/late") // still off on the next page
		if got := Eval[bool](t, p, `document.scripts.length == 1 && !document.querySelector("#late")`); !got {
			t.Error("the second page has no script, or its script ran")
		}
		p.CheckClean(t)
	})

	t.Run("dark and light", func(t *testing.T) {
		for _, tc := range []struct {
			dark bool
			want string
		}{{false, "rgb(255, 255, 255)"}, {true, "rgb(0, 0, 0)"}} {
			o := Desktop
			o.Dark = tc.dark
			p := b.OpenWith(t, ts.URL+"/scheme", o)
			if got := Eval[string](t, p, `getComputedStyle(document.body).backgroundColor`); got != tc.want {
				t.Errorf("dark %v: the background is %s, want %s", tc.dark, got, tc.want)
			}
		}
	})

	t.Run("screenshots", func(t *testing.T) {
		for _, tc := range []struct {
			name          string
			o             Options
			pixelW, media string
		}{
			{"desktop", Desktop, "1280", "1280 false"},
			{"phone", Phone, "780", "390 true"},
		} {
			p := b.OpenWith(t, ts.URL+"/media", tc.o)
			if got := p.Text(t, "#m"); got != tc.media {
				t.Errorf("%s: width and coarse pointer %q, want %q", tc.name, got, tc.media)
			}
			p.Navigate(t, ts.URL+"/clean")
			p.WaitVisible(t, "#fetched:not(:empty)", Timeout)
			path := p.Screenshot(t, tc.name)
			if err := CheckRegionsFile(path); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if got := pngWidth(t, path); fmt.Sprint(got) != tc.pixelW {
				t.Errorf("%s: the screenshot is %d px wide, want %s", tc.name, got, tc.pixelW)
			}
			p.CheckClean(t)
		}
		p := open(t, "/blank")
		path := p.Screenshot(t, "blank")
		if err := CheckRegionsFile(path); err == nil || !strings.Contains(err.Error(), "one flat colour") {
			t.Errorf("CheckRegions of a blank page: %v, want one flat colour", err)
		}
		if dir := os.Getenv(ArtifactEnv); dir != "" && filepath.Dir(path) != filepath.Clean(dir) {
			t.Errorf("the screenshot is at %s, not in %s=%s", path, ArtifactEnv, dir)
		}
	})
}

func pngWidth(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Width
}

// stopper is a testing.TB whose Skip and Fatal record the message and end
// the goroutine, as the real ones do.
type stopper struct {
	testing.TB
	skipped, fatal string
}

func (s *stopper) Skip(args ...any) { s.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (s *stopper) Fatal(args ...any) {
	s.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestStartWithoutChromium(t *testing.T) {
	t.Setenv(ExecEnv, filepath.Join(t.TempDir(), "no-chromium"))
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		s := &stopper{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(s)
			t.Errorf("CI=%q: Start went on without Chromium", ci)
		}()
		<-done
		got := s.skipped
		if ci == "true" {
			got = s.fatal
		}
		if !strings.Contains(got, "no Chromium") || !strings.Contains(got, "apt-get install") {
			t.Errorf("CI=%q: skipped %q, failed %q; want the one saying no Chromium and how to install it", ci, s.skipped, s.fatal)
		}
	}
}

func TestLeaves(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080/x":      false,
		"ws://127.0.0.1:1/events":      false,
		"data:image/png;base64,AAAA":   false,
		"blob:http://127.0.0.1:80/abc": false,
		"about:blank":                  false,
		"http://localhost:8080/":       true,
		"http://127.0.0.2/":            true,
		"https://example.com/":         true,
		"http://10.255.255.1/":         true,
		"http://[::1]:80/":             true,
		"ftp://127.0.0.1/":             true,
		"chrome-extension://x/y":       true,
		"http://127.0.0.1.evil.test/":  true,
		"%zz":                          true,
	} {
		if got := Leaves(u); got != want {
			t.Errorf("Leaves(%q) = %v, want %v", u, got, want)
		}
	}
}
